//! Writers of a [`ReleasedTable`]: Parquet (zstd), CSV and SDMX-CSV 2.0. Each file is written
//! whole and synced to disk; the caller stages them and renames the directory into place.
//!
//! All three carry the same cells in the same order: Parquet and CSV with the columns of
//! docs/design.md §8 (country codes ISO 3166-1 alpha-3, `unit` — `SIM`, or `PERSON` in a
//! partnership's `persons` table —, `subscribers` empty where suppressed or not measured,
//! `noise_sd` empty where not measured, and `status`; a `persons` table has `persons` and
//! `standard_error` in their place); SDMX-CSV (in [`crate::sdmx`])
//! with one column per dimension of the dataflow, `OBS_VALUE`, and the attributes `OBS_STATUS`
//! (A published, Q suppressed, L not measured), `CONF_STATUS` (F free, C confidential),
//! `UNIT_MEASURE` and `NOISE_SD`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::table::{ReleasedTable, ValueKind};

/// A release file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file system refused.
    #[error("{}: cannot write: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet encoder failed.
    #[error("{}: cannot write: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the Parquet writer said.
        #[source]
        source: parquet::errors::ParquetError,
    },
}

fn fail(path: &Path, source: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn fail_pq(path: &Path, source: parquet::errors::ParquetError) -> WriteError {
    WriteError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

impl From<borderflow_core::PathError> for WriteError {
    fn from(e: borderflow_core::PathError) -> Self {
        fail(&e.path, e.source)
    }
}

/// The table as one Arrow batch with the columns of [`ReleasedTable::columns`].
pub fn to_batch(table: &ReleasedTable) -> RecordBatch {
    let n = table.cells.len();
    let m = table.measuring_country.to_string();
    // A year is an integer in every format (a CSV reader infers `2025` as one); a month
    // (`2025-07`) is text in every format.
    let (period_type, period): (DataType, ArrayRef) = match table.period_year() {
        Some(year) => (DataType::Int64, Arc::new(Int64Array::from(vec![year; n]))),
        None => (
            DataType::Utf8,
            Arc::new(StringArray::from(vec![table.period.as_str(); n])),
        ),
    };
    let mut fields = vec![
        Field::new("period", period_type, false),
        Field::new("measuring_country", DataType::Utf8, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![period, Arc::new(StringArray::from(vec![m.as_str(); n]))];
    for d in &table.dimensions {
        match d.kind {
            ValueKind::Code(_) => {
                fields.push(Field::new(d.column, DataType::Utf8, true));
                columns.push(Arc::new(StringArray::from_iter(
                    d.values.iter().map(|v| v.as_deref()),
                )));
            }
            ValueKind::Count => {
                fields.push(Field::new(d.column, DataType::Int64, true));
                columns.push(Arc::new(Int64Array::from_iter(d.values.iter().map(|v| {
                    v.as_deref()
                        .map(|v| v.parse::<i64>().expect("a count is written in decimal"))
                }))));
            }
            ValueKind::Decimal => {
                fields.push(Field::new(d.column, DataType::Float64, true));
                columns.push(Arc::new(Float64Array::from_iter(d.values.iter().map(
                    |v| {
                        v.as_deref()
                            .map(|v| v.parse::<f64>().expect("a quantity is written in decimal"))
                    },
                ))));
            }
        }
    }
    fields.extend([
        Field::new("unit", DataType::Utf8, false),
        Field::new(table.unit.value_column(), DataType::Int64, true),
        Field::new(table.unit.error_column(), DataType::Float64, true),
        Field::new("suppressed", DataType::Boolean, false),
        Field::new("status", DataType::Utf8, false),
    ]);
    columns.extend([
        Arc::new(StringArray::from(vec![table.unit.code(); n])) as ArrayRef,
        Arc::new(Int64Array::from_iter(
            table.cells.iter().map(|c| c.subscribers),
        )),
        Arc::new(Float64Array::from_iter(
            table.cells.iter().map(|c| c.noise_sd()),
        )),
        Arc::new(BooleanArray::from_iter(
            table.cells.iter().map(|c| Some(c.suppressed())),
        )),
        Arc::new(StringArray::from_iter_values(
            table.cells.iter().map(|c| c.status.as_str()),
        )),
    ]);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("columns match the schema")
}

/// How every Parquet file of a release (and a series) is written: zstd, and the software that
/// wrote it.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("borderflow {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Writes the table as Parquet, zstd-compressed.
pub fn write_parquet(table: &ReleasedTable, path: &Path) -> Result<(), WriteError> {
    let batch = to_batch(table);
    let f = File::create(path).map_err(|e| fail(path, e))?;
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(writer_properties()))
        .map_err(|e| fail_pq(path, e))?;
    w.write(&batch).map_err(|e| fail_pq(path, e))?;
    let f = w.into_inner().map_err(|e| fail_pq(path, e))?;
    f.sync_all().map_err(|e| fail(path, e))
}

/// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Writes `bytes` to a new file at `path` and syncs it to disk (the report, quality.json and
/// the manifest of a release go through here too).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    Ok(borderflow_core::write_file_synced(path, bytes)?)
}

pub(crate) fn write_lines(
    path: &Path,
    lines: impl Iterator<Item = String>,
) -> Result<(), WriteError> {
    let f = File::create(path).map_err(|e| fail(path, e))?;
    let mut w = BufWriter::new(f);
    for line in lines {
        w.write_all(line.as_bytes()).map_err(|e| fail(path, e))?;
        w.write_all(b"\n").map_err(|e| fail(path, e))?;
    }
    let f = w.into_inner().map_err(|e| fail(path, e.into_error()))?;
    f.sync_all().map_err(|e| fail(path, e))
}

/// Writes the table as CSV with a header row; empty fields are nulls.
pub fn write_csv(table: &ReleasedTable, path: &Path) -> Result<(), WriteError> {
    let m = table.measuring_country.to_string();
    let header = table.columns().join(",");
    let rows = table.cells.iter().enumerate().map(|(i, c)| {
        let mut f: Vec<String> = vec![field(&table.period).into(), m.clone()];
        for d in &table.dimensions {
            f.push(field(d.values[i].as_deref().unwrap_or("")).into());
        }
        f.push(table.unit.code().to_string());
        f.push(c.subscribers.map_or(String::new(), |v| v.to_string()));
        f.push(c.noise_sd().map_or(String::new(), |s| s.to_string()));
        f.push(c.suppressed().to_string());
        f.push(c.status.as_str().to_string());
        f.join(",")
    });
    write_lines(path, std::iter::once(header).chain(rows))
}

impl borderflow_core::FailureKind for WriteError {
    /// The release directory cannot be written: disk full, permissions.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::State
    }
}
