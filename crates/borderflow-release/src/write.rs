//! Writers of a [`ReleasedTable`]: Parquet (zstd), CSV and SDMX-CSV 2.0. Each file is written
//! whole and synced to disk; the caller stages them and renames the directory into place.
//!
//! All three carry the same cells in the same order: Parquet and CSV with the columns of
//! DESIGN §8 (country codes ISO 3166-1 alpha-3, `subscribers` empty where suppressed); SDMX-CSV
//! with one column per dimension of the dataflow, `OBS_VALUE`, and the attributes `OBS_STATUS`
//! (A published, Q suppressed), `CONF_STATUS` (F free, C confidential) and `NOISE_SD`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::table::{ReleasedTable, Role, ValueKind};

/// The agency that maintains borderflow's SDMX dataflows.
pub const SDMX_AGENCY: &str = "BORDERFLOW";
/// The version of borderflow's dataflows.
pub const SDMX_VERSION: &str = "1.0.0";
/// SDMX code for "not applicable" (the partner of `resident`).
pub const SDMX_NOT_APPLICABLE: &str = "_Z";

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

/// Writes `<dir>/<name>.parquet`, `.csv` and `.sdmx.csv`.
pub fn write_all(table: &ReleasedTable, dir: &Path) -> Result<(), WriteError> {
    write_parquet(table, &dir.join(format!("{}.parquet", table.name)))?;
    write_csv(table, &dir.join(format!("{}.csv", table.name)))?;
    write_sdmx_csv(table, &dir.join(format!("{}.sdmx.csv", table.name)))
}

/// The table as one Arrow batch with the columns of [`ReleasedTable::columns`].
pub fn to_batch(table: &ReleasedTable) -> RecordBatch {
    let n = table.cells.len();
    let m = table.measuring_country.to_string();
    let mut fields = vec![
        Field::new("period", DataType::Utf8, false),
        Field::new("measuring_country", DataType::Utf8, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![table.period.as_str(); n])),
        Arc::new(StringArray::from(vec![m.as_str(); n])),
    ];
    for d in &table.dimensions {
        match d.kind {
            ValueKind::Code => {
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
        }
    }
    fields.extend([
        Field::new("subscribers", DataType::Int64, true),
        Field::new("noise_sd", DataType::Float64, false),
        Field::new("suppressed", DataType::Boolean, false),
    ]);
    columns.extend([
        Arc::new(Int64Array::from_iter(
            table.cells.iter().map(|c| c.subscribers),
        )) as ArrayRef,
        Arc::new(Float64Array::from_iter_values(
            table.cells.iter().map(|c| c.noise_sd),
        )),
        Arc::new(BooleanArray::from_iter(
            table.cells.iter().map(|c| Some(c.suppressed)),
        )),
    ]);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("columns match the schema")
}

/// Writes the table as Parquet, zstd-compressed.
pub fn write_parquet(table: &ReleasedTable, path: &Path) -> Result<(), WriteError> {
    let batch = to_batch(table);
    let f = File::create(path).map_err(|e| fail(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("borderflow {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut w =
        ArrowWriter::try_new(f, batch.schema(), Some(props)).map_err(|e| fail_pq(path, e))?;
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

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) -> Result<(), WriteError> {
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
        f.push(c.subscribers.map_or(String::new(), |v| v.to_string()));
        f.push(c.noise_sd.to_string());
        f.push(c.suppressed.to_string());
        f.join(",")
    });
    write_lines(path, std::iter::once(header).chain(rows))
}

/// An SDMX code for a value: upper case, anything but letters, digits and `_` turned into `_`
/// (`Sub-Saharan Africa` → `SUB_SAHARAN_AFRICA`).
pub fn sdmx_code(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        let c = ch.to_ascii_uppercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// SDMX frequency of a period: `A` for a year, `M` for a month.
pub fn sdmx_freq(period: &str) -> &'static str {
    if period.len() == 4 { "A" } else { "M" }
}

/// The SDMX-CSV 2.0 header of a table.
pub fn sdmx_header(table: &ReleasedTable) -> Vec<&'static str> {
    let mut h = vec!["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ", "REF_AREA"];
    h.extend(
        table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Dimension)
            .map(|d| d.sdmx),
    );
    h.extend([
        "TIME_PERIOD",
        "OBS_VALUE",
        "OBS_STATUS",
        "CONF_STATUS",
        "NOISE_SD",
    ]);
    h.extend(
        table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Attribute)
            .map(|d| d.sdmx),
    );
    h
}

/// Writes the table as SDMX-CSV 2.0 against dataflow `BORDERFLOW:<dataflow>(1.0.0)`.
pub fn write_sdmx_csv(table: &ReleasedTable, path: &Path) -> Result<(), WriteError> {
    let structure_id = format!("{SDMX_AGENCY}:{}({SDMX_VERSION})", table.dataflow);
    let m = table.measuring_country.to_string();
    let freq = sdmx_freq(&table.period);
    let code = |v: &Option<String>| match v {
        Some(v) if v.parse::<f64>().is_ok() => v.clone(),
        Some(v) => sdmx_code(v),
        None => SDMX_NOT_APPLICABLE.to_string(),
    };
    let rows = table.cells.iter().enumerate().map(|(i, c)| {
        let mut f = vec![
            "dataflow".to_string(),
            structure_id.clone(),
            "I".to_string(),
            freq.to_string(),
            m.clone(),
        ];
        for d in table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Dimension)
        {
            f.push(code(&d.values[i]));
        }
        f.push(table.period.clone());
        f.push(c.subscribers.map_or(String::new(), |v| v.to_string()));
        f.push(if c.suppressed { "Q" } else { "A" }.to_string());
        f.push(if c.suppressed { "C" } else { "F" }.to_string());
        f.push(c.noise_sd.to_string());
        for d in table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Attribute)
        {
            f.push(
                d.values[i]
                    .as_ref()
                    .map_or(String::new(), |v| code(&Some(v.clone()))),
            );
        }
        f.join(",")
    });
    write_lines(
        path,
        std::iter::once(sdmx_header(table).join(",")).chain(rows),
    )
}

impl borderflow_core::FailureKind for WriteError {
    /// The release directory cannot be written: disk full, permissions.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::State
    }
}
