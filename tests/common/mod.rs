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

/// Where `doc` departs from the JSON Schema `schema` in the keywords borderflow's schemas use
/// (`$ref` within the document, `const`, `type`, `required`, `properties`,
/// `additionalProperties`, `items`, `minimum`): the structure of a document, so a field the
/// types gain without the schema, or lose, fails here. Patterns and formats are left to the
/// full validator CI runs (Python `jsonschema`). Sorted, whatever the order of keys.
pub fn schema_departures(doc: &serde_json::Value, schema: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    check_node(doc, schema, schema, "$", &mut out);
    out.sort();
    out
}

fn check_node(
    doc: &serde_json::Value,
    node: &serde_json::Value,
    root: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .expect("a local $ref")
            .split('/')
            .fold(root, |n, key| &n[key]);
        assert!(!target.is_null(), "{at}: $ref {r} resolves to nothing");
        return check_node(doc, target, root, at, out);
    }
    if let Some(c) = node.get("const")
        && c != doc
    {
        out.push(format!("{at}: {doc} is not the constant {c}"));
    }
    if let Some(t) = node.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("{at}: type {t}"),
        };
        let fits = |ty: &str| match ty {
            "object" => doc.is_object(),
            "array" => doc.is_array(),
            "string" => doc.is_string(),
            "boolean" => doc.is_boolean(),
            "null" => doc.is_null(),
            "integer" => doc.is_i64() || doc.is_u64(),
            "number" => doc.is_number(),
            _ => panic!("{at}: unknown type {ty}"),
        };
        if !types.iter().any(|ty| fits(ty)) {
            out.push(format!("{at}: {doc} is not {types:?}"));
        }
    }
    if let (Some(min), Some(x)) = (node.get("minimum").and_then(Value::as_f64), doc.as_f64())
        && x < min
    {
        out.push(format!("{at}: {x} is below {min}"));
    }
    if let Some(items) = node.get("items")
        && let Some(a) = doc.as_array()
    {
        for (i, v) in a.iter().enumerate() {
            check_node(v, items, root, &format!("{at}[{i}]"), out);
        }
    }
    let Some(obj) = doc.as_object() else { return };
    for key in node
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = key.as_str().expect("a required key");
        if !obj.contains_key(key) {
            out.push(format!("{at}: required {key} is missing"));
        }
    }
    let properties = node.get("properties").and_then(Value::as_object);
    for (key, value) in obj {
        let at = format!("{at}.{key}");
        match (
            properties.and_then(|p| p.get(key)),
            node.get("additionalProperties"),
        ) {
            (Some(sub), _) => check_node(value, sub, root, &at, out),
            (None, Some(Value::Bool(false))) => out.push(format!("{at}: not in the schema")),
            (None, Some(sub)) if sub.is_object() => check_node(value, sub, root, &at, out),
            (None, _) => {}
        }
    }
}
