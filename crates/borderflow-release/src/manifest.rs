//! The JSON documents of a release, as types written and read back: `manifest.json` (what was
//! released, under which rules, at what privacy cost) and `quality.json` (indicators of the
//! data's quality), both public; and the [`OperatorManifest`], kept under the state directory,
//! holding everything exact (rows, quarantine, digests of inputs and facts, timings). Readers —
//! `borderflow`'s own summary, the report, tests, an NSO's scripts — read these types, never
//! JSON paths by string.
//!
//! The public documents hold only noisy counts, values computed from noisy counts, and public
//! parameters (docs/design.md §7): nothing in them changes with one SIM except through noise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the manifest, the last file written into a release.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the quality indicators.
pub const QUALITY_FILE: &str = "quality.json";
/// File name of the report.
pub const REPORT_FILE: &str = "report.html";
/// The version of the layout of `manifest.json` and `quality.json`. Raised whenever a field
/// is removed or changes meaning (adding a field keeps it); each document says which it
/// follows in `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// File name of the JSON Schema of `manifest.json`, shipped in every release.
pub const MANIFEST_SCHEMA_FILE: &str = "manifest.schema.json";
/// File name of the JSON Schema of `quality.json`, shipped in every release.
pub const QUALITY_SCHEMA_FILE: &str = "quality.schema.json";
/// The JSON Schema (draft 2020-12) of `manifest.json` at [`SCHEMA_VERSION`]. Written by
/// hand beside the types it describes (deriving it would pull a schema crate into the
/// dependency graph the engine shares); CI validates every release's manifest against it, and
/// `additionalProperties: false` makes a field added to the types without the schema fail.
pub const MANIFEST_SCHEMA: &str = include_str!("../schemas/manifest.schema.json");
/// The JSON Schema (draft 2020-12) of `quality.json` at [`SCHEMA_VERSION`].
pub const QUALITY_SCHEMA: &str = include_str!("../schemas/quality.schema.json");

fn first_schema_version() -> u32 {
    1
}

/// A noisy total with its noise's standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoisyTotal {
    /// The noisy value, never below 0.
    pub value: i64,
    /// Standard deviation of its noise.
    pub noise_sd: f64,
}

/// The software that made a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Software {
    /// `borderflow`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The commit it was built from, or `unknown`.
    pub git_commit: String,
}

impl Software {
    /// This build of borderflow.
    pub fn this() -> Self {
        Self {
            name: "borderflow".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: option_env!("BORDERFLOW_GIT_COMMIT")
                .unwrap_or("unknown")
                .into(),
        }
    }
}

/// One input file of the release's look-back and its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputManifest {
    /// The file's name (directories are the operator's business).
    pub name: String,
    /// Its size, when recorded.
    pub bytes: Option<u64>,
    /// SHA-256 of its bytes, when recorded.
    pub sha256: Option<String>,
    /// Rows read.
    pub read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows quarantined, by reason code.
    pub quarantined: BTreeMap<String, u64>,
}

/// Rows over every input: read = accepted + quarantined.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowTotals {
    /// Rows read.
    pub read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows quarantined, by reason code.
    pub quarantined: BTreeMap<String, u64>,
}

impl RowTotals {
    /// The totals of `inputs`.
    pub fn of(inputs: &[InputManifest]) -> Self {
        let mut t = RowTotals::default();
        for i in inputs {
            t.read += i.read;
            t.accepted += i.accepted;
            for (k, v) in &i.quarantined {
                *t.quarantined.entry(k.clone()).or_default() += v;
            }
        }
        t
    }
}

/// One noised table's privacy parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableManifest {
    /// ρ charged for it to each data year read, as a decimal (0 when its noisy values were
    /// reused from an identical query).
    pub rho: f64,
    /// ρ exactly, as a fraction.
    pub rho_exact: String,
    /// The release (dataset/period) whose noisy values this table reuses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
    /// Its L2 sensitivity Δ.
    pub l2_sensitivity: f64,
    /// Standard deviation of each cell's noise.
    pub sigma: f64,
    /// Half-width of each cell's 95% margin of error.
    pub margin_of_error_95: f64,
    /// The threshold on noisy values, max(k, τ).
    pub threshold: i64,
    /// Expected true-zero cells published by noise alone at that threshold.
    pub expected_phantom_cells: f64,
    /// Cells in the table.
    pub cells: usize,
    /// Of which published.
    pub published: usize,
    /// Of which suppressed.
    pub suppressed: usize,
    /// Of which not measured (return migrants without the previous window): missing, not
    /// withheld. Set by the configuration, never by the data.
    #[serde(default)]
    pub not_measured: usize,
}

/// The privacy section of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyManifest {
    /// The unit of privacy.
    pub unit: String,
    /// What makes two datasets neighbours, and the sensitivity that follows.
    pub neighbouring: String,
    /// The mechanism.
    pub mechanism: String,
    /// Smallest published value.
    pub k: u32,
    /// Expected true-zero cells published per table by noise alone (sets τ).
    pub phantom_rate: f64,
    /// δ at which ε is stated.
    pub delta: f64,
    /// Every calendar year of data the release's window reads: each was charged its ρ.
    pub budget_years: Vec<i32>,
    /// The budget of each data year in ρ, for the whole store.
    pub annual_rho: f64,
    /// ρ this release charged to each data year it reads (0 for reused noise).
    pub rho_of_this_release: f64,
    /// ε of this release at δ, per data year.
    pub epsilon_of_this_release: f64,
    /// Each noised table.
    pub tables: BTreeMap<String, TableManifest>,
    /// How corridors are made.
    pub corridors: String,
}

/// Cells of a released table by status: published + suppressed + not_measured = cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellCounts {
    /// Published.
    pub published: usize,
    /// Suppressed (below the threshold).
    pub suppressed: usize,
    /// Not measured: missing by configuration (return migrants without the previous
    /// window), not withheld. Releases before this count was kept read as 0.
    #[serde(default)]
    pub not_measured: usize,
}

impl CellCounts {
    /// The cells of `table`, by status.
    pub fn of(table: &crate::ReleasedTable) -> Self {
        use crate::CellStatus;
        let count = |s: CellStatus| table.cells.iter().filter(|c| c.status == s).count();
        Self {
            published: count(CellStatus::Published),
            suppressed: count(CellStatus::Suppressed),
            not_measured: count(CellStatus::NotMeasured),
        }
    }

    /// Every cell, a table of `cells` cells all published (the quality and daily tables).
    pub fn all_published(cells: usize) -> Self {
        Self {
            published: cells,
            suppressed: 0,
            not_measured: 0,
        }
    }

    /// Cells in all.
    pub fn total(&self) -> usize {
        self.published + self.suppressed + self.not_measured
    }
}

/// Whether return migrants were measured, and why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnMigrantsStatus {
    /// True when the pipeline measures them (`classify.return_migrants`): the window then
    /// reads the previous 365 days too.
    pub available: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The classification section of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationManifest {
    /// First day the window reads (the previous window's, when return migrants are measured).
    pub window_first: String,
    /// First day of the look-back.
    pub lookback_first: String,
    /// Last day of the look-back.
    pub lookback_last: String,
    /// Return-migrant availability.
    pub return_migrants: ReturnMigrantsStatus,
    /// SIMs whose category rests on a spell still open (noisy).
    pub open_spells: NoisyTotal,
    /// The classification rules used, as configured.
    pub rules: serde_json::Value,
    /// The classification's own measured error per category ([`crate::accuracy`]); absent
    /// from releases made before it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<crate::accuracy::MethodAccuracy>,
}

/// `manifest.json`: written last into a release directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version of this document's schema ([`SCHEMA_VERSION`]); a reader checks it
    /// before reading further. Releases before it was written read as version 1.
    #[serde(default = "first_schema_version")]
    pub schema_version: u32,
    /// The software.
    pub software: Software,
    /// The dataset.
    pub dataset: String,
    /// The reference period.
    pub period: String,
    /// The measuring country (alpha-3).
    pub measuring_country: String,
    /// False for a release noised from a test seed.
    pub for_publication: bool,
    /// Set on a test release: NOT FOR PUBLICATION.
    pub notice: Option<String>,
    /// SHA-256 of the configuration that decides the statistics (rules, privacy settings,
    /// column mapping), without paths, names or engine limits.
    pub config_digest: String,
    /// SHA-256 of the release's other files.
    pub outputs_digest: String,
    /// Privacy parameters and costs.
    pub privacy: PrivacyManifest,
    /// Cells per released table.
    pub cells: BTreeMap<String, CellCounts>,
    /// The classification.
    pub classification: ClassificationManifest,
    /// When it was published (RFC 3339, UTC).
    pub published_at: String,
}

/// Wall-clock seconds per stage (operator-side: timings follow the data's size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Ingest runs of the look-back, summed.
    pub ingest: f64,
    /// The classify run.
    pub classify: f64,
    /// This publish run.
    pub publish: f64,
}

/// The exact counts of a release, kept operator-side under the state directory for the audit
/// trail: never in a release, because each can change with one SIM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactCounts {
    /// SIMs seen in the window.
    pub sims_seen: u64,
    /// SIMs too sparse to classify.
    pub sims_too_sparse_to_classify: u64,
    /// SIMs on open spells.
    pub sims_on_open_spells: u64,
    /// SIM-days observed in the window.
    pub sim_days: u64,
    /// Accepted events per SIM-day.
    pub observation_density_events_per_sim_day: f64,
    /// Days of the look-back without data.
    pub lookback_days_without_data: u32,
    /// Events per day of the period.
    pub events_per_day: BTreeMap<String, u64>,
    /// SIMs seen on each day of the look-back.
    pub sims_per_day: BTreeMap<String, u64>,
    /// Share of rows quarantined.
    pub share_rows_quarantined: f64,
    /// Share of rows with an unknown PLMN.
    pub share_rows_unknown_plmn: f64,
    /// SIMs dropped from `crossings` beyond `max_crossing_pairs` or with a partner outside
    /// the code lists, instead of failing the release.
    pub dropped: BTreeMap<String, u64>,
}

/// `operator-manifest.json` under `state/operator/<dataset>/<period>/`: what the public
/// manifest leaves out, for the operator's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorManifest {
    /// The dataset.
    pub dataset: String,
    /// The reference period.
    pub period: String,
    /// Fingerprint of the pseudonymisation key.
    pub key_fingerprint: String,
    /// The input files of the window.
    pub inputs: Vec<InputManifest>,
    /// Rows over every input.
    pub rows: RowTotals,
    /// SHA-256 of the classified facts.
    pub facts_digest: String,
    /// The query digest of each noised table (what the ledger matches to reuse noise).
    pub query_digests: BTreeMap<String, String>,
    /// Ledger ids of the release's tables.
    pub ledger_ids: BTreeMap<String, i64>,
    /// The exact counts.
    pub exact: ExactCounts,
    /// Seconds per stage.
    pub timings_seconds: Timings,
}

/// File name of the operator manifest.
pub const OPERATOR_MANIFEST_FILE: &str = "operator-manifest.json";

impl OperatorManifest {
    /// Reads the operator manifest in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ReadError> {
        read_json(&dir.join(OPERATOR_MANIFEST_FILE))
    }

    /// The document as the bytes written.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("an operator manifest serialises")
    }
}

/// A release's JSON document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] borderflow_core::PathError),
    /// The file is not a document of this version.
    #[error("{}: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ReadError> {
    use borderflow_core::WithPath;
    let bytes = std::fs::read(path).with_path(path)?;
    serde_json::from_slice(&bytes).map_err(|source| ReadError::Format {
        path: path.to_path_buf(),
        source,
    })
}

impl Manifest {
    /// Reads the manifest of the release in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ReadError> {
        read_json(&dir.join(MANIFEST_FILE))
    }

    /// The manifest as the bytes written.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest serialises")
    }
}

/// `quality.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The version of this document's schema ([`SCHEMA_VERSION`]).
    #[serde(default = "first_schema_version")]
    pub schema_version: u32,
    /// The reference period.
    pub period: String,
    /// The measuring country (alpha-3).
    pub measuring_country: String,
    /// What is noisy and what is not.
    pub note: String,
    /// SIMs seen in the look-back (noisy).
    pub sims_seen: NoisyTotal,
    /// SIMs too sparse to classify (noisy).
    pub sims_too_sparse_to_classify: NoisyTotal,
    /// Their share of SIMs seen (from the noisy totals).
    pub share_too_sparse_to_classify: f64,
    /// SIMs on open spells (noisy).
    pub sims_on_open_spells: NoisyTotal,
    /// SIM-days observed in the look-back (noisy; each SIM adds at most the window's days).
    pub sim_days_observed: NoisyTotal,
    /// Observation density: the share of a SIM's look-back days on which it was seen, from
    /// the noisy totals (noisy SIM-days / (noisy SIMs × days)).
    pub observation_density_days_seen_per_sim_day: f64,
    /// SIMs seen on each day of the look-back (noisy, the `daily` table; below 0 shown as 0).
    pub sims_seen_per_day: BTreeMap<String, i64>,
    /// Standard deviation of each day's noise.
    pub sims_seen_per_day_noise_sd: f64,
    /// Days of the look-back whose noisy count is below 1.96 σ: not distinguishable from a
    /// day without data.
    pub days_indistinguishable_from_no_data: usize,
}

impl Quality {
    /// Reads the quality indicators of the release in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ReadError> {
        read_json(&dir.join(QUALITY_FILE))
    }

    /// The document as the bytes written.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("quality indicators serialise")
    }
}

/// SHA-256 over the named files' names and bytes, in order: the digest of a set of files the
/// ledger records (a period's facts, a release's outputs).
pub fn digest_files(files: &[PathBuf]) -> Result<String, borderflow_core::PathError> {
    use borderflow_core::WithPath;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in files {
        let bytes = std::fs::read(f).with_path(f)?;
        h.update(f.file_name().map_or(b"" as &[u8], |n| n.as_encoded_bytes()));
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

/// The outputs digest of a release directory: its files, sorted, the manifest excluded (it
/// records the digest).
pub fn digest_release(dir: &Path) -> Result<String, borderflow_core::PathError> {
    use borderflow_core::WithPath;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_path(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != MANIFEST_FILE))
        .collect();
    files.sort();
    digest_files(&files)
}
