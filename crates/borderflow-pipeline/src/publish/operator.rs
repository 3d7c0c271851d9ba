//! What a release leaves operator-side, under the state directory and never published:
//! every noisy value — suppressed ones too — under `state/noisy/<dataset>/<period>/` (new
//! roll-ups can be drawn from them later at no cost), and the operator manifest with every
//! exact count of the release, the inputs read and how their rows were counted.

use std::path::{Path, PathBuf};

use borderflow_core::{Noised, PathError, StateLayout, write_file_atomic};
use borderflow_ingest::Reason;
use borderflow_release::KeptNoisy;
use borderflow_release::manifest::{
    ExactCounts, InputManifest, OPERATOR_MANIFEST_FILE, OperatorManifest, RowTotals, Timings,
};
use borderflow_release::write::write_parquet;

use super::classified::ClassifiedPeriod;
use super::error::PublishError;
use crate::reports::IngestReport;
use crate::{Period, Pipeline};

/// Where the noisy values of a release are kept, operator-side.
pub fn noisy_dir(p: &Pipeline, period: Period) -> PathBuf {
    StateLayout::new(&p.state_dir).noisy(&p.dataset, &period.to_string())
}

/// The operator-side record that goes with a release: what [`keep`] writes.
pub(super) struct OperatorSide<'a> {
    /// Every noisy value of `categories` and `crossings`.
    pub kept: &'a KeptNoisy,
    /// Each noised table's ledger id.
    pub ledger_ids: &'a Noised<i64>,
    /// When the publish stage started.
    pub started: std::time::Instant,
}

/// Writes the noisy values and the operator manifest of the release of `period`.
pub(super) fn keep(
    p: &Pipeline,
    period: Period,
    classified: &ClassifiedPeriod,
    side: OperatorSide<'_>,
) -> Result<(), PublishError> {
    let dir = noisy_dir(p, period);
    std::fs::create_dir_all(&dir).map_err(|e| PathError::new(&dir, e))?;
    for t in [&side.kept.categories, &side.kept.crossings] {
        write_parquet(t, &dir.join(format!("{}.parquet", t.name)))?;
    }
    let runs = &classified.runs;
    let inputs = inputs_of(runs);
    let rows = RowTotals::of(&inputs);
    let presence_rows: u64 = runs.iter().map(|r| r.presence_rows).sum();
    let share = |n: u64| {
        if rows.read > 0 {
            n as f64 / rows.read as f64
        } else {
            0.0
        }
    };
    let summary = &classified.summary;
    let facts = &classified.facts;
    let period_text = period.to_string();
    let operator = OperatorManifest {
        dataset: p.dataset.clone(),
        period: period_text.clone(),
        key_fingerprint: summary.key_fingerprint.clone(),
        exact: ExactCounts {
            sims_seen: facts.sims,
            sims_too_sparse_to_classify: facts.tables.unclassified,
            sims_on_open_spells: facts.open_spells,
            sim_days: facts.sim_days,
            observation_density_events_per_sim_day: if presence_rows > 0 {
                rows.accepted as f64 / presence_rows as f64
            } else {
                0.0
            },
            lookback_days_without_data: summary.missing_days,
            sims_per_day: summary
                .sims_per_day
                .iter()
                .map(|(d, n)| (d.to_string(), *n))
                .collect(),
            events_per_day: summary
                .events_per_day
                .iter()
                .map(|(d, n)| (d.to_string(), *n))
                .collect(),
            share_rows_quarantined: share(rows.quarantined.values().sum()),
            share_rows_unknown_plmn: share(
                rows.quarantined
                    .get(Reason::UnknownPlmn.code())
                    .copied()
                    .unwrap_or(0),
            ),
            dropped: facts.dropped.clone(),
        },
        inputs,
        rows,
        facts_digest: classified.facts_digest.clone(),
        query_digests: classified
            .query_digests
            .iter()
            .map(|(t, d)| (t.name().to_string(), d.clone()))
            .collect(),
        ledger_ids: side
            .ledger_ids
            .iter()
            .map(|(t, id)| (t.name().to_string(), *id))
            .collect(),
        timings_seconds: Timings {
            ingest: runs.iter().map(|r| r.seconds).sum(),
            classify: summary.seconds,
            publish: side.started.elapsed().as_secs_f64(),
        },
    };
    let path = StateLayout::new(&p.state_dir)
        .operator(&p.dataset, &period_text)
        .join(OPERATOR_MANIFEST_FILE);
    write_file_atomic(&path, &operator.to_bytes())?;
    Ok(())
}

/// The input files of the ingest runs in `runs` (oldest first), one entry per content, with
/// its row counts. A content read in several runs (a monthly run, then the next month's for
/// the dates it had not been read for) is one entry: its rows as the latest read counted
/// them, the rows each read accepted added up (each read took other dates), and as
/// quarantined what the latest read quarantined less the rows earlier reads accepted (those
/// it counted as `already_ingested`), so read = accepted + quarantined still holds.
fn inputs_of(runs: &[IngestReport]) -> Vec<InputManifest> {
    let mut inputs: Vec<InputManifest> = Vec::new();
    for run in runs {
        for (path, counts) in &run.files {
            let digest = run.inputs.get(path);
            let entry = InputManifest {
                name: Path::new(path)
                    .file_name()
                    .map_or(path.clone(), |n| n.to_string_lossy().into_owned()),
                bytes: digest.map(|d| d.bytes),
                sha256: digest.map(|d| d.sha256.clone()),
                read: counts.read,
                accepted: counts.accepted,
                quarantined: counts
                    .quarantined
                    .iter()
                    .map(|(r, n)| (r.code().to_string(), *n))
                    .collect(),
            };
            let earlier = inputs
                .iter()
                .position(|i| i.sha256.is_some() && i.sha256 == entry.sha256);
            match earlier {
                None => inputs.push(entry),
                Some(k) => {
                    let before = inputs[k].accepted;
                    let mut merged = entry;
                    merged.accepted += before;
                    let already = Reason::AlreadyIngested.code();
                    let taken_before = merged.quarantined.remove(already).unwrap_or(0);
                    // Rows earlier reads took but did not accept (duplicates) stay
                    // quarantined, under their own reason.
                    let duplicates = taken_before.saturating_sub(before);
                    if duplicates > 0 {
                        *merged
                            .quarantined
                            .entry(Reason::Duplicate.code().to_string())
                            .or_default() += duplicates;
                    }
                    inputs[k] = merged;
                }
            }
        }
    }
    inputs
}
