//! Ingest on a Ballista cluster (`engine.kind = "ballista"`): the same shares, validator and
//! reduction as the local engine, run as one job of the cluster.
//!
//! 1. **Map.** The driver deals the input into shares exactly as the local engine does
//!    ([`borderflow_ingest::deal_shares`]) and registers them as an
//!    [`IngestTable`](borderflow_cluster::ingest::IngestTable): one task per share, each on an
//!    executor that validates and pseudonymises its rows with its own key (the plan carries
//!    only the key's fingerprint) and writes its quarantine and accounting files.
//! 2. **Reduce.** The presence reduction is [`borderflow_presence::reduce_sql`], the
//!    definition the local reduction is tested against, written by the cluster as one Parquet
//!    file per functional date into the run's staging directory.
//!    Each task also digests the files whose beginning it reads, for the manifest, so the
//!    driver reads no input file itself.
//! 3. **Commit.** The driver, not the cluster, names each date's file as the store names a
//!    delivery's and then adds the delivery to the store, exactly as after a local run (the
//!    caller, [`crate::ingest`], does that).
//!
//! The staging directory is under the state directory, which every executor must reach at
//! the same path (shared storage, docs/scale-out.md), and so must every input file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use borderflow_cluster::ingest::{
    INGEST_TABLE, IngestTable, IngestTask, KEY_REFUSAL, PartitionReport, counts_file, task_error_in,
};
use borderflow_core::schema::presence::{LOCAL_DATE, PARTITION_PREFIX};
use borderflow_core::{PathError, WithPath};
use borderflow_ingest::{InputFile, ShareCounts, add_share_counts, deal_shares};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::error::DataFusionError;

use super::error::IngestError;
use super::staging::{Reduced, Staging};
use crate::Pipeline;
use crate::engine::worker_path;

/// Why the cluster failed a job, as one line: Ballista returns a task's error as text, and an
/// ingest task's own error is picked out of it.
pub(crate) fn cluster_error(e: DataFusionError) -> IngestError {
    let text = e.to_string();
    let message = task_error_in(&text)
        .unwrap_or(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    IngestError::Cluster {
        key_refused: message.contains(KEY_REFUSAL),
        message,
    }
}

/// Reads, pseudonymises and reduces `files` on the cluster of `p.engine`, into the presence
/// partitions, quarantine files and accounting of `at`.
pub(crate) fn reduce_on_cluster(
    p: &Pipeline,
    files: &[InputFile],
    fingerprint: &str,
    at: &Staging<'_>,
) -> Result<Reduced, IngestError> {
    let files = files
        .iter()
        .map(|f| {
            Ok(InputFile {
                path: worker_path(&f.path)?,
                ..f.clone()
            })
        })
        .collect::<Result<Vec<_>, IngestError>>()?;
    let borderflow_ingest::Dealt {
        shares,
        pieces: expected_shares,
    } = deal_shares(&files, crate::engine::partitions(&p.engine))?;
    let counts_dir = at.dir.join("counts");
    std::fs::create_dir_all(&counts_dir).with_path(&counts_dir)?;
    let mut input = p.input.clone();
    input.paths = Vec::new(); // the shares name the files
    if let Some(c) = &input.cell_catalogue {
        input.cell_catalogue = Some(worker_path(Path::new(c))?.display().to_string());
    }
    let mut refdata = p.refdata.clone();
    for path in [
        &mut refdata.countries,
        &mut refdata.plmn,
        &mut refdata.calling_codes,
        &mut refdata.income_groups,
        &mut refdata.hdi_groups,
        &mut refdata.time_zones,
    ]
    .into_iter()
    .flatten()
    {
        *path = worker_path(path)?;
    }
    let share_count = shares.len();
    let task = IngestTask {
        shares,
        input,
        refdata,
        measuring_country: p.measuring_country,
        window: at.window,
        day: p.classify.day,
        key_fingerprint: fingerprint.to_string(),
        quarantine_dir: worker_path(at.quarantine)?,
        counts_dir: worker_path(&counts_dir)?,
    };
    let written = worker_path(&at.dir.join("written"))?;
    let (runtime, ctx) = crate::engine::Engine::of(&p.engine).session(at.dir)?;
    let rows = runtime.block_on(async {
        {
            // One file per date: the store holds one file per partition.
            let state = ctx.state_ref();
            let mut state = state.write();
            state
                .config_mut()
                .options_mut()
                .set(
                    "datafusion.execution.soft_max_rows_per_output_file",
                    &usize::MAX.to_string(),
                )
                .map_err(cluster_error)?;
        }
        ctx.register_table(INGEST_TABLE, Arc::new(IngestTable::new(task)))
            .map_err(cluster_error)?;
        let df = ctx
            .sql(&borderflow_presence::reduce_sql(&p.classify.day))
            .await
            .map_err(cluster_error)?;
        let options = DataFrameWriteOptions::new().with_partition_by(vec![LOCAL_DATE.to_string()]);
        let out = df
            .write_parquet(&format!("{}/", written.display()), options, None)
            .await
            .map_err(cluster_error)?;
        Ok::<_, IngestError>(
            out.iter()
                .filter_map(|b| b.column(0).as_primitive_opt::<UInt64Type>())
                .flat_map(|c| (0..c.len()).map(move |i| c.value(i)))
                .sum::<u64>(),
        )
    })?;
    drop(ctx);
    drop(runtime);
    commit_names(&written, at.presence, &at.part_file)?;
    remove_temporaries(at.quarantine)?;

    // Each share's accounting and digests, as its task wrote them; a share without them was
    // not read to its end, and the caller's reconciliation says so by file.
    let mut counts = ShareCounts::new();
    let mut digests = BTreeMap::new();
    for partition in 0..share_count {
        let path = counts_file(&counts_dir, partition);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let report: PartitionReport = serde_json::from_slice(&bytes)
                    .map_err(|e| IngestError::Engine(format!("{}: {e}", path.display())))?;
                add_share_counts(&mut counts, &report.counts);
                digests.extend(report.digests);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PathError::new(&path, e).into()),
        }
    }
    Ok(Reduced {
        counts,
        expected_shares,
        presence_rows: rows,
        spilled_bytes: 0,
        digests: Some(digests),
    })
}

/// Removes what attempts of a task that did not finish left in `dir` (an executor lost while
/// writing a quarantine file leaves it under its temporary name): only finished files are
/// committed with the run.
fn remove_temporaries(dir: &Path) -> Result<(), IngestError> {
    for entry in std::fs::read_dir(dir).with_path(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if borderflow_core::is_atomic_temp(&name) {
            let path = entry.path();
            std::fs::remove_file(&path).with_path(&path)?;
        }
    }
    Ok(())
}

/// Moves each date's file the cluster wrote (`local_date=D/<write id>_0.parquet`) to the
/// store's layout under `presence` (`local_date=D/<part_file>`, the delivery's file). A date
/// with more than one file is an engine defect, never silently merged.
fn commit_names(written: &Path, presence: &Path, part_file: &str) -> Result<(), IngestError> {
    let Ok(entries) = std::fs::read_dir(written) else {
        return Ok(()); // no event accepted: no date written
    };
    for entry in entries {
        let entry = entry.with_path(written)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PARTITION_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_path(&dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        let file = match (files.pop(), files.is_empty()) {
            (Some(file), true) => file,
            _ => {
                return Err(IngestError::Engine(format!(
                    "{}: the cluster wrote other than one file for the date",
                    dir.display()
                )));
            }
        };
        let to_dir = presence.join(&name);
        std::fs::create_dir_all(&to_dir).with_path(&to_dir)?;
        let to = to_dir.join(part_file);
        std::fs::rename(&file, &to).with_path(&to)?;
    }
    Ok(())
}
