//! What a run wrote, reduced to row hashes that compare equal exactly when two runs wrote the
//! same presence rows, per-SIM facts and tables — whatever the files' bytes and row order.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use borderflow_pipeline::{Period, classify};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader;

/// A deterministic hasher (the standard one with its fixed keys).
fn hasher() -> std::collections::hash_map::DefaultHasher {
    std::collections::hash_map::DefaultHasher::new()
}

/// The facts of a classify run of `period` under `state`, row by row.
pub(super) fn facts_rows(state: &Path, period: Period) -> Result<Vec<u64>> {
    let dir = classify::facts_dir(state, period);
    Ok(classify::facts_rows(&dir)?)
}

/// Each presence row of the store under `state`, as a hash of its date and values, sorted.
pub(super) fn presence_rows(state: &Path) -> Result<Vec<u64>> {
    let store = state.join("presence");
    let mut out = Vec::new();
    let mut dates: Vec<PathBuf> = std::fs::read_dir(&store)
        .with_context(|| store.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dates.sort();
    for date in dates {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&date)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|x| x == "parquet"));
        files.sort();
        for file in files {
            let open = std::fs::File::open(&file).with_context(|| file.display().to_string())?;
            for batch in ParquetRecordBatchReader::try_new(open, 65536)? {
                let batch = batch?;
                for i in 0..batch.num_rows() {
                    let mut h = hasher();
                    date.file_name().hash(&mut h);
                    for column in batch.columns() {
                        array_value_to_string(column, i)?.hash(&mut h);
                    }
                    out.push(h.finish());
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The CSV of each released table (`categories.csv`, …) under `release`, line by line, sorted.
/// A run drawn from a test seed gives the same lines exactly when its exact tables are equal.
pub(super) fn table_rows(release: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for table in borderflow_release::table::TABLES {
        let file = release.join(format!("{}.csv", table.name));
        let text = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
        for line in text.lines() {
            let mut h = hasher();
            table.name.hash(&mut h);
            line.hash(&mut h);
            out.push(h.finish());
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// One digest of a run's outputs: its presence rows, facts and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutputDigest {
    /// Presence rows (SIM-days).
    pub presence: u64,
    /// Per-SIM facts.
    pub facts: u64,
    /// Released tables (from a test seed).
    pub tables: u64,
}

impl OutputDigest {
    /// The digest of the run that wrote `state` and published `release` for `period`.
    pub(super) fn of(state: &Path, release: &Path, period: Period) -> Result<Self> {
        let fold = |rows: Vec<u64>| {
            let mut h = hasher();
            rows.hash(&mut h);
            h.finish()
        };
        Ok(Self {
            presence: fold(presence_rows(state)?),
            facts: fold(facts_rows(state, period)?),
            tables: fold(table_rows(release)?),
        })
    }

    /// The digest as 48 hex digits, for the bench's JSON.
    pub(super) fn hex(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}",
            self.presence, self.facts, self.tables
        )
    }
}
