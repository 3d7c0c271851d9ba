//! The run reports the stages leave in the state directory, as types that are written and
//! read back: an ingest run's report (`ingest/<run_id>.json`) and a classify run's
//! (`classified/<period>/summary.json`). The publish stage builds the operator manifest from
//! them; a renamed field is a compile error here, not a silent zero in a manifest.
//!
//! Counts in these reports are exact and stay operator-side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use borderflow_classify::Rules;
use borderflow_core::schema::facts::SUMMARY_FILE;
use borderflow_core::{PathError, StateLayout, WithPath, write_file_atomic};
use borderflow_ingest::FileCounts;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A run report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be read or written.
    #[error(transparent)]
    Io(#[from] PathError),
    /// The file is not a report of this version.
    #[error("{}: not a run report: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ReportError> {
    let bytes = std::fs::read(path).with_path(path)?;
    serde_json::from_slice(&bytes).map_err(|source| ReportError::Format {
        path: path.to_path_buf(),
        source,
    })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ReportError> {
    Ok(write_file_atomic(
        path,
        &serde_json::to_vec_pretty(value).expect("a report serialises"),
    )?)
}

/// What an ingest run did, as recorded in `state/ingest/<run_id>.json` for the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestReport {
    /// Identifier of the run (UTC start time).
    pub run_id: String,
    /// The dataset.
    pub dataset: String,
    /// Fingerprint of the key the pseudonyms were made with.
    pub key_fingerprint: String,
    /// The period the run was for, if any.
    pub period: Option<String>,
    /// The functional local dates the run accepted, first and last: the look-back of its
    /// period, or up to the day it ran when it had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// The delivery this run added to the store (its files' name in each date,
    /// `part-<delivery>.parquet`), when it added rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// Input files not read, and why: their content is in the store already (for every date
    /// of the window it holds rows on), or is another file's of this run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
    /// Rows per input file: read = accepted + quarantined by reason.
    pub files: BTreeMap<String, FileCounts>,
    /// Size and SHA-256 of each input file, for the release manifest.
    pub inputs: BTreeMap<String, InputDigest>,
    /// The sum over files.
    pub totals: FileCounts,
    /// Presence rows (SIM-days) written.
    pub presence_rows: u64,
    /// Bytes of events the presence reduction spilled to disk (0 when the memory limit was
    /// never reached).
    pub spilled_bytes: u64,
    /// Dates this run added rows to (beside what other deliveries gave them).
    pub dates_written: Vec<NaiveDate>,
    /// Dates removed by retention (older than the look-back of the run's period).
    pub dates_removed: Vec<NaiveDate>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl IngestReport {
    /// Writes the report as `ingest/<run_id>.json` of `state`.
    pub fn write(&self, state: &StateLayout) -> Result<(), ReportError> {
        write_json(&state.ingest_report(&self.run_id), self)
    }

    /// The reports of the ingest runs whose data the store holds for some date from `first`
    /// to `last`, oldest run first. A delivery adds to the dates it gives rows to, so every
    /// run whose delivery the store has committed counts; a run killed before its delivery
    /// was committed does not. (Runs of a store made before deliveries replaced whole dates:
    /// of those, a run whose dates were all written again by later ones no longer counts.)
    /// Files that are not reports (a stray file, a report of another version) fail.
    pub fn current(
        state: &StateLayout,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<IngestReport>, ReportError> {
        let dir = state.ingest_reports();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PathError::new(&dir, e).into()),
        };
        let mut runs = Vec::new();
        for entry in entries {
            let path = entry.with_path(&dir)?.path();
            let name = path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into());
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let run: IngestReport = read_json(&path)?;
            if run.dates_written.iter().any(|d| *d >= first && *d <= last) {
                runs.push(run);
            }
        }
        runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        let register = borderflow_presence::PresenceStore::existing(&state.presence())
            .and_then(|(store, _)| store.register())
            .unwrap_or_default();
        let committed = |id: &str| {
            register
                .deliveries
                .iter()
                .any(|d| d.id == id && d.state == borderflow_presence::DeliveryState::Committed)
        };
        // Newest first, each date of the older layout belongs to the last run that wrote it.
        let mut claimed = std::collections::BTreeSet::new();
        let mut current = Vec::new();
        for run in runs.into_iter().rev() {
            if let Some(id) = &run.delivery {
                if committed(id) {
                    current.push(run);
                }
                continue;
            }
            let mut owns = false;
            for d in run
                .dates_written
                .iter()
                .filter(|d| **d >= first && **d <= last)
            {
                owns |= claimed.insert(*d);
            }
            if owns {
                current.push(run);
            }
        }
        current.reverse();
        Ok(current)
    }
}

pub use borderflow_ingest::InputDigest;

/// Whether return migrants could be classified, and why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReturnMigrants {
    /// True when the store reaches back over the previous 365-day window.
    pub available: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a classify run did, as written to `state/classified/<period>/summary.json`. Counts
/// here are exact and stay operator-side; only noisy counts are ever released.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifyReport {
    /// The reference period.
    pub period: String,
    /// First day the classification read: the look-back's, or the previous window's when
    /// return migrants are measured.
    #[serde(default)]
    pub window_first: Option<NaiveDate>,
    /// First day of the look-back.
    pub lookback_first: NaiveDate,
    /// Last day of the look-back.
    pub lookback_last: NaiveDate,
    /// Days of the look-back with no presence partition in the store (no data that day).
    pub missing_days: u32,
    /// Return-migrant availability.
    pub return_migrants: ReturnMigrants,
    /// Fingerprint of the key that made the store's pseudonyms.
    pub key_fingerprint: String,
    /// SIMs with presence in the look-back.
    pub sims: u64,
    /// Of which not classifiable.
    pub insufficient: u64,
    /// The not classifiable by reason ([`borderflow_core::Unclassified`] codes).
    #[serde(default)]
    pub unclassified: BTreeMap<String, u64>,
    /// SIMs whose category rests on a spell still open at the period's end.
    pub open_spells: u64,
    /// SIMs per category.
    pub categories: BTreeMap<String, u64>,
    /// (SIM, directed pair) crossings recorded.
    pub crossing_pairs: u64,
    /// Events per day of the period (all SIMs; a data-quality indicator of the record flow).
    pub events_per_day: BTreeMap<NaiveDate, u64>,
    /// Distinct SIMs seen on each day of the look-back, zeros included.
    #[serde(default)]
    pub sims_per_day: BTreeMap<NaiveDate, u64>,
    /// The thresholds used.
    pub rules: Rules,
    /// Where the facts are.
    pub dir: PathBuf,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl ClassifyReport {
    /// Writes the report as `summary.json` in the facts directory `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        write_json(&dir.join(SUMMARY_FILE), self)
    }

    /// Reads the report of the facts in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ReportError> {
        read_json(&dir.join(SUMMARY_FILE))
    }
}

impl borderflow_core::FailureKind for ReportError {
    /// A run report is state an earlier stage wrote.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::State
    }
}
