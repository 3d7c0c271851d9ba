//! Fixtures shared by the end-to-end tests of the `borderflow` binary: running it, and
//! reading what it printed and wrote.

#![allow(dead_code)] // each test file uses its own share of the fixtures

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Runs the binary with `args`.
pub fn borderflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_borderflow"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// What the binary wrote on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run succeeded; its standard output.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The run failed with one line `error: …` on standard error and a failure's exit status (1
/// to 6, never a panic's 101); that line.
pub fn one_line_error(o: &Output) -> String {
    let code = o.status.code();
    assert!(
        matches!(code, Some(1..=6)),
        "status {code:?}; stdout: {}; stderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    err
}

/// The run failed with exit status `code` (2 configuration, 3 input, 4 over budget, 5 busy,
/// 6 state, 1 internal) and one line `error: …`; that line.
pub fn failed_with(o: &Output, code: i32) -> String {
    let err = one_line_error(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    err
}

/// Copies the directory tree `from` to `to` (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A table as text rows keyed by column, from Parquet (nulls as empty text).
pub fn parquet_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for b in reader {
        let b: RecordBatch = b.unwrap();
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                let v = if col.is_null(i) {
                    String::new()
                } else {
                    match f.data_type() {
                        DataType::Utf8 => col.as_string::<i32>().value(i).to_string(),
                        DataType::Int64 => col
                            .as_primitive::<arrow::datatypes::Int64Type>()
                            .value(i)
                            .to_string(),
                        DataType::Float64 => col
                            .as_primitive::<arrow::datatypes::Float64Type>()
                            .value(i)
                            .to_string(),
                        DataType::Boolean => col.as_boolean().value(i).to_string(),
                        t => panic!("unexpected column type {t}"),
                    }
                };
                row.insert(f.name().clone(), v);
            }
            rows.push(row);
        }
    }
    rows
}

/// A CSV file as its header and text rows keyed by column.
pub fn csv_rows(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}
