//! Time series across releases: one table of a dataset stacked over every published period,
//! oldest first, each row keeping its period, value, `noise_sd` and status — so a reader gets
//! the series in one file instead of joining release folders by hand — and the dataset's
//! `index.json`, the list of its releases a reader can partition on.
//!
//! Only complete releases are read: a directory whose name is not a period (a staging
//! directory, anything else) and a directory without its manifest are left out. Periods are
//! stacked as published; nothing is re-noised, so the series costs no budget.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::write::{WriteError, write_file, write_lines, writer_properties};

/// File name of a dataset's index of releases, beside its period directories.
pub const INDEX_FILE: &str = "index.json";

/// A series could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// No complete release of the dataset holds the table.
    #[error("{}: no published release holds {table}", dir.display())]
    Empty {
        /// The dataset's release directory.
        dir: PathBuf,
        /// The table asked for.
        table: String,
    },
    /// A release's file could not be read.
    #[error("{}: cannot read: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Two releases' tables have different columns (written by versions of borderflow with
    /// different release formats).
    #[error("{}: columns {found:?} differ from the earlier periods' {expected:?}", path.display())]
    Columns {
        /// The file that differs.
        path: PathBuf,
        /// Its columns.
        found: Vec<String>,
        /// The earlier periods' columns.
        expected: Vec<String>,
    },
    /// The series could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl borderflow_core::FailureKind for SeriesError {
    fn failure(&self) -> borderflow_core::Failure {
        match self {
            SeriesError::Write(e) => e.failure(),
            _ => borderflow_core::Failure::State,
        }
    }
}

/// One release of a dataset, as the index lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexEntry {
    /// The period, `2025` or `2025-07`: also the directory's name.
    pub period: String,
    /// The directory, relative to the dataset's.
    pub path: String,
    /// When it was published.
    pub published_at: String,
    /// False for a test release.
    pub for_publication: bool,
    /// ρ this release charged.
    pub rho: f64,
    /// The software version that wrote it.
    pub software_version: String,
}

/// The complete releases in `dataset_dir`, oldest period first. `is_period` tells a period
/// directory's name from anything else beside it.
pub fn releases(
    dataset_dir: &Path,
    is_period: impl Fn(&str) -> bool,
) -> Result<Vec<IndexEntry>, SeriesError> {
    let read_err = |e: std::io::Error| SeriesError::Read {
        path: dataset_dir.to_path_buf(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dataset_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(read_err(e)),
    };
    for entry in entries {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if name.starts_with('.') || !is_period(&name) || !dir.join(MANIFEST_FILE).is_file() {
            continue;
        }
        let m = Manifest::read(&dir).map_err(|e| SeriesError::Read {
            path: dir.join(MANIFEST_FILE),
            message: e.to_string(),
        })?;
        out.push(IndexEntry {
            path: name.clone(),
            period: name,
            published_at: m.published_at,
            for_publication: m.for_publication,
            rho: m.privacy.rho_of_this_release,
            software_version: m.software.version,
        });
    }
    out.sort_by(|a, b| a.period.cmp(&b.period));
    Ok(out)
}

/// Writes `<dataset_dir>/index.json`: every complete release, oldest first. Rewritten whole
/// (to a temporary name, then renamed) after each publication; derived from the directories,
/// so an index left stale by a run killed just after its release was committed is made whole
/// by the next publication (`borderflow series` reads the directories, never the index).
pub fn write_index(
    dataset_dir: &Path,
    dataset: &str,
    is_period: impl Fn(&str) -> bool,
) -> Result<Vec<IndexEntry>, SeriesError> {
    let entries = releases(dataset_dir, is_period)?;
    let doc = serde_json::json!({
        "dataset": dataset,
        "releases": entries,
    });
    let target = dataset_dir.join(INDEX_FILE);
    let tmp = borderflow_core::atomic_temp(&target);
    write_file(&tmp, format!("{doc:#}\n").as_bytes())?;
    borderflow_core::make_public(&tmp).map_err(|e| {
        SeriesError::Write(WriteError::Io {
            path: e.path,
            source: e.source,
        })
    })?;
    std::fs::rename(&tmp, &target).map_err(|e| {
        SeriesError::Write(WriteError::Io {
            path: target.clone(),
            source: e,
        })
    })?;
    Ok(entries)
}

/// The format of a series file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesFormat {
    /// One Parquet file (zstd).
    Parquet,
    /// CSV with one header row.
    Csv,
    /// SDMX-CSV 2.0 with one header row: the releases' observations, period after period.
    Sdmx,
}

/// What a series holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The periods stacked, oldest first.
    pub periods: Vec<String>,
    /// Rows written.
    pub rows: usize,
}

/// Stacks `table` of every complete release in `dataset_dir` into `out`.
pub fn write_series(
    dataset_dir: &Path,
    table: &str,
    format: SeriesFormat,
    is_period: impl Fn(&str) -> bool,
    out: &Path,
) -> Result<Series, SeriesError> {
    let entries = releases(dataset_dir, is_period)?;
    let ext = match format {
        SeriesFormat::Parquet => "parquet",
        SeriesFormat::Csv => "csv",
        SeriesFormat::Sdmx => "sdmx.csv",
    };
    let files: Vec<(String, PathBuf)> = entries
        .iter()
        .map(|e| {
            (
                e.period.clone(),
                dataset_dir.join(&e.path).join(format!("{table}.{ext}")),
            )
        })
        .filter(|(_, p)| p.is_file())
        .collect();
    if files.is_empty() {
        return Err(SeriesError::Empty {
            dir: dataset_dir.to_path_buf(),
            table: table.to_string(),
        });
    }
    let periods: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let rows = match format {
        SeriesFormat::Parquet => stack_parquet(&files, out)?,
        SeriesFormat::Csv | SeriesFormat::Sdmx => stack_text(&files, out)?,
    };
    Ok(Series { periods, rows })
}

/// Concatenates text tables with one header: every file's header must be the first's.
fn stack_text(files: &[(String, PathBuf)], out: &Path) -> Result<usize, SeriesError> {
    let mut header: Option<String> = None;
    let mut lines = Vec::new();
    for (_, path) in files {
        let text = std::fs::read_to_string(path).map_err(|e| SeriesError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut it = text.lines();
        let h = it.next().unwrap_or("").to_string();
        match &header {
            None => header = Some(h),
            Some(first) if *first != h => {
                return Err(SeriesError::Columns {
                    path: path.clone(),
                    found: h.split(',').map(String::from).collect(),
                    expected: first.split(',').map(String::from).collect(),
                });
            }
            Some(_) => {}
        }
        lines.extend(it.map(String::from));
    }
    let rows = lines.len();
    write_lines(out, header.into_iter().chain(lines))?;
    Ok(rows)
}

/// Concatenates Parquet tables. `period` is an integer in annual releases and text in monthly
/// ones: a series holding both writes it as text.
fn stack_parquet(files: &[(String, PathBuf)], out: &Path) -> Result<usize, SeriesError> {
    let mut batches = Vec::new();
    for (_, path) in files {
        let read = |e: &dyn std::fmt::Display| SeriesError::Read {
            path: path.clone(),
            message: e.to_string(),
        };
        let f = File::open(path).map_err(|e| read(&e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| read(&e))?
            .build()
            .map_err(|e| read(&e))?;
        for b in reader {
            batches.push((path.clone(), b.map_err(|e| read(&e))?));
        }
    }
    let names = |b: &RecordBatch| -> Vec<String> {
        b.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    };
    let expected = names(&batches[0].1);
    for (path, b) in &batches {
        if names(b) != expected {
            return Err(SeriesError::Columns {
                path: path.clone(),
                found: names(b),
                expected,
            });
        }
    }
    let mixed = batches.iter().any(|(_, b)| {
        b.schema().field(0).data_type() != batches[0].1.schema().field(0).data_type()
    });
    let batches: Vec<RecordBatch> = batches
        .into_iter()
        .map(|(path, b)| {
            if !mixed {
                return Ok(b);
            }
            let period = cast(b.column(0), &DataType::Utf8).map_err(|e| SeriesError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let mut fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields[0] = Field::new("period", DataType::Utf8, false);
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            columns[0] = period;
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
                SeriesError::Read {
                    path,
                    message: e.to_string(),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let schema = batches[0].schema();
    let all = concat_batches(&schema, &batches).expect("the same schema");
    let pq = |e: parquet::errors::ParquetError| {
        SeriesError::Write(WriteError::Parquet {
            path: out.to_path_buf(),
            source: e,
        })
    };
    let f = File::create(out).map_err(|e| {
        SeriesError::Write(WriteError::Io {
            path: out.to_path_buf(),
            source: e,
        })
    })?;
    let mut w = ArrowWriter::try_new(f, schema, Some(writer_properties())).map_err(pq)?;
    w.write(&all).map_err(pq)?;
    w.close().map_err(pq)?;
    Ok(all.num_rows())
}
