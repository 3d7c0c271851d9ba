//! Unattended operation through the `borderflow` binary (docs/operations.md):
//!
//! - **Bad input, every class.** Each case breaks one thing — the pipeline file, the key, an
//!   input file, the state — in a copy of an established store (one release already out), runs
//!   the next period, and checks the one-line message (naming the file, row, column or key),
//!   the exit status a scheduler acts on, and that the state, ledger and releases are exactly
//!   as they were.
//! - **Exit statuses and the JSON summary line**, which a scheduler and a log collector read.

use crate::common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use crate::common::{borderflow, copy_tree, failed_with, listing, ok, one_line_error};
use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

mod deliveries;

/// An established test store: a generated world's events as CSV, CSV.gz and Parquet, a key,
/// a pipeline, and the release of 2025-11 already published from them.
struct Store {
    root: PathBuf,
}

/// Settings small enough for several monthly releases to fit a year's budget.
const PIPELINE: &str = r#"
dataset = "ops"
measuring_country = "KEN"
operator_plmns = ["63902"]
state_dir = "state"
release_dir = "release"

[key]
file = "key"

[input]
paths = ["data/events.csv"]

[privacy]
annual_rho = 0.25
k = 16
[privacy.categories]
rho = 0.01
[privacy.crossings]
rho = 0.01
[privacy.totals]
rho = 0.01
[privacy.quality]
rho = 0.001
[privacy.daily]
rho = 0.001
"#;

/// The established store, made once per test binary.
fn established() -> &'static Path {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    let (_, store) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let gen_dir = dir.path().join("gen");
        ok(&borderflow(&[
            "generate",
            "--out",
            gen_dir.to_str().unwrap(),
            "--subscribers",
            "150",
            "--seed",
            "21",
            "--format",
            "both",
        ]));
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::copy(gen_dir.join("events.csv"), root.join("data/events.csv")).unwrap();
        std::fs::copy(
            gen_dir.join("events.parquet"),
            root.join("data/events.parquet"),
        )
        .unwrap();
        std::fs::write(root.join("p.toml"), PIPELINE).unwrap();
        ok(&borderflow(&["keygen", root.join("key").to_str().unwrap()]));
        ok(&run_in(&root, &["--period", "2025-11"]));
        (dir, Store { root })
    });
    &store.root
}

/// `borderflow run p.toml --test-seed 7 ARGS` in `root`.
fn run_in(root: &Path, args: &[&str]) -> Output {
    command_in(root, "run", args, &[])
}

/// `borderflow COMMAND p.toml ARGS` in `root` (paths in the pipeline are relative to it),
/// with environment `env`; `run` and `publish` get the test seed.
fn command_in(root: &Path, command: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_borderflow"));
    c.current_dir(root).arg(command).arg("p.toml");
    if command == "run" || command == "publish" {
        c.args(["--test-seed", "7"]);
    }
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

/// A copy of the established store to break.
fn copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    copy_tree(established(), &root);
    (dir, root)
}

/// The ledger's rows, table by table, read from a copy (opening a SQLite file in WAL mode
/// may fold its journal into it, which changes its bytes but not what it holds).
fn ledger_rows(state: &Path) -> Vec<u8> {
    let copy = tempfile::tempdir().unwrap();
    for name in ["ledger.sqlite", "ledger.sqlite-wal"] {
        if state.join(name).exists() {
            std::fs::copy(state.join(name), copy.path().join(name)).unwrap();
        }
    }
    let Ok(conn) = rusqlite::Connection::open(copy.path().join("ledger.sqlite")) else {
        return std::fs::read(state.join("ledger.sqlite")).unwrap_or_default();
    };
    let mut out = String::new();
    for table in ["store", "budgets", "releases", "charges", "draws"] {
        let Ok(mut stmt) = conn.prepare(&format!("SELECT * FROM {table} ORDER BY rowid")) else {
            return std::fs::read(state.join("ledger.sqlite")).unwrap_or_default();
        };
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..columns)
                    .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        for row in rows {
            out.push_str(&format!("{table}: {}\n", row.unwrap().join(" | ")));
        }
    }
    out.into_bytes()
}

/// Every file under `root/state` and `root/release` with its bytes (the ledger by its rows).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(base).unwrap().display().to_string();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            if file.starts_with("ledger.sqlite-") {
                continue; // the journal, read with the ledger
            }
            if file == "ledger.sqlite" {
                out.insert(name, ledger_rows(dir));
            } else if path.is_dir() {
                out.insert(format!("{name}/"), Vec::new());
                walk(&path, base, out);
            } else {
                out.insert(name, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    for top in ["state", "release"] {
        walk(&root.join(top), root, &mut out);
    }
    out
}

/// Asserts the state and releases are as in `before`, naming what changed.
fn unchanged(root: &Path, before: &BTreeMap<String, Vec<u8>>) {
    let after = snapshot(root);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
}

/// One bad-input case: `breaks` the copy, then `command ARGS` must exit `code` with one line
/// containing every one of `says`, and leave state and releases as they were.
fn case(
    command: &str,
    args: &[&str],
    code: i32,
    says: &[&str],
    breaks: impl FnOnce(&Path),
) -> String {
    let (_dir, root) = copy();
    breaks(&root);
    let before = snapshot(&root);
    let o = command_in(&root, command, args, &[]);
    let err = failed_with(&o, code);
    for s in says {
        assert!(err.contains(s), "{s:?} not in {err}");
    }
    unchanged(&root, &before);
    // The message as docs/operations.md quotes it (`--nocapture` shows them all).
    eprintln!("status {code}: {}", err.trim_end());
    err
}

/// The next release: a period not yet published, so the whole run is tried.
const NEXT: [&str; 2] = ["--period", "2025-12"];

fn set_in_pipeline(root: &Path, from: &str, to: &str) {
    let p = root.join("p.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn use_input(root: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(root.join("data").join(name), bytes).unwrap();
    set_in_pipeline(
        root,
        r#"paths = ["data/events.csv"]"#,
        &format!(r#"paths = ["data/{name}"]"#),
    );
}

fn events_csv() -> Vec<u8> {
    std::fs::read(established().join("data/events.csv")).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// --- The pipeline file and the command line: exit status 2 ---------------------------------

#[test]
fn an_unknown_key_is_named() {
    case(
        "run",
        &NEXT,
        2,
        &["p.toml", "unknown field `thresold`"],
        |r| {
            set_in_pipeline(r, "k = 16", "k = 16\nthresold = 3");
        },
    );
}

#[test]
fn a_mistyped_value_names_its_key_and_line() {
    case(
        "run",
        &NEXT,
        2,
        &["p.toml:16", "privacy.k", "invalid type"],
        |r| {
            set_in_pipeline(r, "k = 16", r#"k = "x""#);
        },
    );
    // The same mistake in a --set names the key too.
    let (_dir, root) = copy();
    let o = command_in(
        &root,
        "run",
        &["--period", "2025-12", "--set", "privacy.k=x"],
        &[],
    );
    assert!(failed_with(&o, 2).contains("privacy.k: invalid type"));
}

#[test]
fn a_missing_key_is_named() {
    case(
        "validate",
        &[],
        2,
        &["p.toml", "missing field `dataset`"],
        |r| {
            set_in_pipeline(r, r#"dataset = "ops""#, "");
        },
    );
}

#[test]
fn a_typo_in_the_column_mapping_is_refused() {
    case(
        "validate",
        &[],
        2,
        &["input.columns.cell_idd", "no canonical column"],
        |r| {
            set_in_pipeline(
                r,
                "[privacy]",
                "[input.columns]\ncell_idd = \"cell\"\n[privacy]",
            )
        },
    );
}

#[test]
fn a_column_mapped_twice_is_refused_for_csv_and_parquet() {
    for input in ["data/events.csv", "data/events.parquet"] {
        case(
            "run",
            &NEXT,
            2,
            &["event_time and cell_id both read the column \"event_time\""],
            |r| {
                set_in_pipeline(
                    r,
                    "[privacy]",
                    "[input.columns]\ncell_id = \"event_time\"\n[privacy]",
                );
                set_in_pipeline(r, "data/events.csv", input);
            },
        );
    }
}

#[test]
fn an_unknown_measuring_country_is_refused_before_reading() {
    case("validate", &[], 2, &["measuring_country = \"XXX\""], |r| {
        set_in_pipeline(r, r#""KEN""#, r#""XXX""#);
    });
    case("run", &NEXT, 2, &["measuring_country = \"XXX\""], |r| {
        set_in_pipeline(r, r#""KEN""#, r#""XXX""#);
    });
}

#[test]
fn state_inside_the_release_tree_is_refused() {
    case(
        "run",
        &NEXT,
        2,
        &["state_dir release/state is inside release_dir"],
        |r| {
            set_in_pipeline(
                r,
                r#"state_dir = "state""#,
                r#"state_dir = "release/state""#,
            );
        },
    );
    case("run", &NEXT, 2, &["one directory"], |r| {
        set_in_pipeline(
            r,
            r#"release_dir = "release""#,
            r#"release_dir = "./state/""#,
        );
    });
}

#[test]
fn a_period_in_the_future_or_malformed_is_refused_before_any_input_is_read() {
    let err = case(
        "run",
        &["--period", "2031"],
        2,
        &["period 2031 has not ended yet"],
        |_| {},
    );
    assert!(!err.contains("presence"), "{err}");
    case(
        "run",
        &["--period", "2025-13"],
        2,
        &["period \"2025-13\" is neither a year"],
        |_| {},
    );
}

#[test]
fn a_period_before_the_stores_history_says_what_the_store_holds() {
    case(
        "classify",
        &["--period", "2019"],
        3,
        &[
            "no date from 2019-01-01 to 2019-12-31",
            "it holds 2025-01-01 to 2025-11-30",
        ],
        |_| {},
    );
}

// --- The key: exit status 2 ------------------------------------------------------------------

#[test]
fn no_key_file_says_how_to_make_one() {
    case(
        "run",
        &NEXT,
        2,
        &["key file key does not exist", "borderflow keygen"],
        |r| {
            std::fs::remove_file(r.join("key")).unwrap();
        },
    );
}

#[test]
fn a_key_others_can_read_is_refused() {
    case(
        "run",
        &NEXT,
        2,
        &["key file key is accessible to group or others", "chmod 600"],
        |r| {
            set_mode(&r.join("key"), 0o640);
        },
    );
}

#[test]
fn a_key_of_the_wrong_length_is_refused_without_echoing_it() {
    let err = case(
        "run",
        &NEXT,
        2,
        &["key file key does not hold a 32-byte key"],
        |r| {
            std::fs::write(r.join("key"), "00112233445566778899").unwrap();
            set_mode(&r.join("key"), 0o600);
        },
    );
    assert!(!err.contains("00112233"), "{err}");
}

#[test]
fn a_key_path_that_is_a_directory_is_named_as_such() {
    let err = case("run", &NEXT, 2, &["key file key is not a file"], |r| {
        std::fs::remove_file(r.join("key")).unwrap();
        std::fs::create_dir(r.join("key")).unwrap();
    });
    assert!(!err.contains("chmod"), "{err}");
}

#[test]
fn another_key_than_the_stores_is_refused() {
    case(
        "run",
        &NEXT,
        2,
        &["holds pseudonyms made with key fingerprint"],
        |r| {
            std::fs::remove_file(r.join("key")).unwrap();
            ok(&borderflow(&["keygen", r.join("key").to_str().unwrap()]));
        },
    );
}

// --- Input files: exit status 3 --------------------------------------------------------------

#[test]
fn a_missing_input_is_an_input_failure() {
    case(
        "run",
        &NEXT,
        3,
        &["data/events-2025-12.csv: no such file"],
        |r| {
            set_in_pipeline(r, "data/events.csv", "data/events-2025-12.csv");
        },
    );
}

#[test]
fn an_empty_file_is_refused() {
    case("run", &NEXT, 3, &["data/empty.csv", "empty file"], |r| {
        use_input(r, "empty.csv", b"");
    });
}

#[test]
fn a_header_only_file_is_refused() {
    let header = events_csv().split(|b| *b == b'\n').next().unwrap().to_vec();
    case(
        "run",
        &NEXT,
        3,
        &["data/header.csv", "holds no data row"],
        |r| {
            use_input(r, "header.csv", &[header, b"\n".to_vec()].concat());
        },
    );
}

#[test]
fn a_file_cut_inside_its_last_row_is_refused() {
    let mut bytes = events_csv();
    bytes.truncate(bytes.len() - 4);
    case(
        "run",
        &NEXT,
        3,
        &["data/cut.csv", "ends inside row", "cut short"],
        |r| {
            use_input(r, "cut.csv", &bytes);
        },
    );
}

#[test]
fn a_ragged_row_is_named_by_its_row_number() {
    let text = String::from_utf8(events_csv()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1001] = "x,y";
    let bytes = format!("{}\n", lines.join("\n")).into_bytes();
    case(
        "run",
        &NEXT,
        3,
        &[
            "data/ragged.csv",
            "line 1002 (data row 1001) has 2 fields where the header has 7",
        ],
        |r| use_input(r, "ragged.csv", &bytes),
    );
}

#[test]
fn a_utf16_file_is_refused() {
    let text = String::from_utf8(events_csv()).unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16().take(20_000) {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    case("run", &NEXT, 3, &["data/utf16.csv"], |r| {
        use_input(r, "utf16.csv", &bytes)
    });
}

#[test]
fn a_latin1_file_is_refused() {
    let text = String::from_utf8(events_csv()).unwrap();
    let mut bytes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        bytes.extend_from_slice(line.as_bytes());
        if i == 50 {
            bytes.extend_from_slice(b"\xe9"); // é in Latin-1, invalid UTF-8
        }
        bytes.push(b'\n');
    }
    case("run", &NEXT, 3, &["data/latin1.csv"], |r| {
        use_input(r, "latin1.csv", &bytes)
    });
}

#[test]
fn the_wrong_delimiter_says_which_one_to_set() {
    let bytes: Vec<u8> = events_csv()
        .into_iter()
        .map(|b| if b == b',' { b';' } else { b })
        .collect();
    let err = case(
        "run",
        &NEXT,
        3,
        &["data/semicolons.csv", "input.delimiter = \";\""],
        |r| use_input(r, "semicolons.csv", &bytes),
    );
    assert!(!err.contains("the file has columns the file has"), "{err}");
}

#[test]
fn a_gzip_that_ends_early_is_refused() {
    let mut bytes = gzip(&events_csv());
    bytes.truncate(bytes.len() / 2);
    case("run", &NEXT, 3, &["data/events.csv.gz"], |r| {
        use_input(r, "events.csv.gz", &bytes)
    });
}

#[test]
fn a_file_that_is_not_gzip_is_refused() {
    case(
        "run",
        &NEXT,
        3,
        &["data/events.csv.gz", "cannot read"],
        |r| use_input(r, "events.csv.gz", &events_csv()),
    );
}

#[test]
fn a_truncated_parquet_file_is_refused() {
    let bytes = std::fs::read(established().join("data/events.parquet")).unwrap();
    case("run", &NEXT, 3, &["data/cut.parquet", "cannot read"], |r| {
        use_input(r, "cut.parquet", &bytes[..bytes.len() - 100])
    });
}

/// A Parquet file of the established events whose `event_time` holds epoch milliseconds.
fn parquet_with_integer_times() -> Vec<u8> {
    let text = String::from_utf8(events_csv()).unwrap();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); 4];
    for line in text.lines().skip(1).take(5_000) {
        let f: Vec<&str> = line.split(',').collect();
        for k in 0..4 {
            cols[k].push(f[k].to_string());
        }
    }
    let millis: Vec<i64> = cols[1]
        .iter()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("subscriber_id", DataType::Utf8, false),
        Field::new("event_time", DataType::Int64, false),
        Field::new("home_plmn", DataType::Utf8, false),
        Field::new("serving_plmn", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(cols[0].clone())),
            Arc::new(Int64Array::from(millis)),
            Arc::new(StringArray::from(cols[2].clone())),
            Arc::new(StringArray::from(cols[3].clone())),
        ],
    )
    .unwrap();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

#[test]
fn a_parquet_column_of_the_wrong_type_says_which_setting_reads_it() {
    let bytes = parquet_with_integer_times();
    case(
        "run",
        &NEXT,
        3,
        &[
            "data/millis.parquet",
            "column \"event_time\" is Int64",
            "epoch_millis",
        ],
        |r| use_input(r, "millis.parquet", &bytes),
    );
    // With the setting it names, the same file is read.
    let (_dir, root) = copy();
    use_input(&root, "millis.parquet", &bytes);
    set_in_pipeline(
        &root,
        "[privacy]",
        "time_format = \"epoch_millis\"\n[privacy]",
    );
    let p = std::fs::read_to_string(root.join("p.toml")).unwrap();
    // time_format belongs to [input]: move it there.
    let p = p
        .replace("time_format = \"epoch_millis\"\n[privacy]", "[privacy]")
        .replace("[input]\n", "[input]\ntime_format = \"epoch_millis\"\n");
    std::fs::write(root.join("p.toml"), p).unwrap();
    ok(&command_in(&root, "validate", &[], &[]));
}

#[test]
fn a_file_whose_every_row_is_bad_names_the_reason() {
    let text = String::from_utf8(events_csv()).unwrap();
    let bad: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let mut f: Vec<&str> = l.split(',').collect();
                f[1] = "yesterday";
                format!("{}\n", f.join(","))
            }
        })
        .collect();
    case(
        "run",
        &NEXT,
        3,
        &[
            "data/badtimes.csv",
            "none of its",
            "bad_time",
            "nothing was written",
        ],
        |r| use_input(r, "badtimes.csv", bad.as_bytes()),
    );
}

#[test]
fn a_missing_column_lists_the_columns_the_file_has() {
    let err = case(
        "run",
        &NEXT,
        3,
        &[
            "missing column \"IMSI\"",
            "the file has columns subscriber_id,event_time",
        ],
        |r| {
            set_in_pipeline(
                r,
                "[privacy]",
                "[input.columns]\nsubscriber_id = \"IMSI\"\n[privacy]",
            )
        },
    );
    assert!(!err.contains("the file has columns the file has"), "{err}");
}

// --- The state and release directories: exit status 6 ----------------------------------------

#[test]
fn an_empty_ledger_is_never_taken_for_a_new_one() {
    case(
        "run",
        &NEXT,
        6,
        &["state/ledger.sqlite", "the file is empty", "backup"],
        |r| {
            std::fs::write(r.join("state/ledger.sqlite"), b"").unwrap();
            let _ = std::fs::remove_file(r.join("state/ledger.sqlite-wal"));
            let _ = std::fs::remove_file(r.join("state/ledger.sqlite-shm"));
        },
    );
}

#[test]
fn a_corrupt_ledger_is_refused() {
    case("run", &NEXT, 6, &["state/ledger.sqlite"], |r| {
        std::fs::write(r.join("state/ledger.sqlite"), vec![0x5a; 8192]).unwrap();
        let _ = std::fs::remove_file(r.join("state/ledger.sqlite-wal"));
        let _ = std::fs::remove_file(r.join("state/ledger.sqlite-shm"));
    });
}

#[test]
fn a_corrupt_presence_partition_is_named_by_classify_and_validate() {
    // The date's one file (a delivery's: `part-<delivery>.parquet`).
    let day = "state/presence/local_date=2025-11-10";
    let file = listing(&established().join(day)).pop().unwrap();
    let corrupt = |r: &Path| {
        std::fs::write(r.join(day).join(&file), b"not parquet").unwrap();
    };
    let named = format!("local_date=2025-11-10/{file}");
    for command in ["classify", "validate"] {
        let args: &[&str] = if command == "classify" { &NEXT } else { &[] };
        case(command, args, 6, &[&named, "is corrupt"], corrupt);
    }
}

#[test]
fn a_release_directory_that_cannot_be_made_is_a_state_failure() {
    // A file where the dataset's directory should be (the same for a read-only mount).
    let (_dir, root) = copy();
    std::fs::rename(root.join("release/ops"), root.join("release/ops-moved")).unwrap();
    std::fs::write(root.join("release/ops"), b"in the way").unwrap();
    let o = run_in(&root, &NEXT);
    let err = failed_with(&o, 6);
    assert!(err.contains("release/ops"), "{err}");
}

#[test]
fn a_full_disk_in_the_release_directory_leaves_no_staging_and_the_retry_costs_nothing_more() {
    let (_dir, root) = copy();
    let o = command_in(
        &root,
        "run",
        &NEXT,
        &[(borderflow_core::failpoint::DISK_FULL_VAR, "quality.json")],
    );
    let err = failed_with(&o, 6);
    assert!(err.contains("quality.json"), "{err}");
    let listing = common::listing(&root.join("release/ops"));
    assert_eq!(
        listing,
        vec!["2025-11".to_string(), "index.json".to_string()],
        "no staging left; the index still lists the one release"
    );
    // The noise was drawn before the write failed: it is spent and kept; the retry publishes
    // those draws and charges nothing more.
    let spent = |root: &Path| {
        let budget = ok(&command_in(root, "budget", &[], &[]));
        budget
            .lines()
            .find(|l| l.trim_start().starts_with("2025 "))
            .unwrap()
            .to_string()
    };
    let after_failure = spent(&root);
    ok(&run_in(&root, &NEXT));
    assert_eq!(spent(&root), after_failure);
    assert!(root.join("release/ops/2025-12/manifest.json").is_file());
}

#[test]
fn a_full_disk_in_the_state_directory_fails_cleanly() {
    let (_dir, root) = copy();
    let release_before = snapshot(&root)
        .into_iter()
        .filter(|(k, _)| k.starts_with("release") || k.contains("ledger"))
        .collect::<BTreeMap<_, _>>();
    let o = command_in(
        &root,
        "run",
        &NEXT,
        &[(
            borderflow_core::failpoint::DISK_FULL_VAR,
            ".staging-classify",
        )],
    );
    let err = failed_with(&o, 6);
    assert!(err.contains("summary.json"), "{err}");
    let after: BTreeMap<_, _> = snapshot(&root)
        .into_iter()
        .filter(|(k, _)| k.starts_with("release") || k.contains("ledger"))
        .collect();
    assert_eq!(release_before, after, "releases and ledger unchanged");
    ok(&run_in(&root, &NEXT));
}

// --- Other runs and the budget: exit statuses 5 and 4 ----------------------------------------

#[test]
fn a_run_while_another_holds_the_state_changes_nothing_and_exits_5() {
    let (_dir, root) = copy();
    let before = snapshot(&root);
    let lock = File::open(root.join("state/.lock")).unwrap();
    lock.try_lock().unwrap();
    for (command, args) in [("run", &NEXT[..]), ("validate", &[][..])] {
        let err = failed_with(&command_in(&root, command, args, &[]), 5);
        assert!(err.contains("another borderflow run is using"), "{err}");
    }
    drop(lock);
    unchanged(&root, &before);
}

#[test]
fn over_budget_exits_4_in_run_and_validate() {
    for command in ["validate", "run"] {
        case(
            command,
            &["--period", "2025-12", "--set", "privacy.categories.rho=0.3"],
            4,
            &["privacy budget exceeded for data year 2025"],
            |_| {},
        );
    }
}

// --- What a scheduler reads ------------------------------------------------------------------

#[test]
fn the_json_log_ends_with_a_summary_line_carrying_the_exit_status() {
    let (_dir, root) = copy();
    let lines = |o: &Output| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    };
    // Success: start, ingest, classify, publish, summary.
    let o = run_in(&root, &["--period", "2025-10", "--log-format", "json"]);
    ok(&o);
    let log = lines(&o);
    let stages: Vec<&str> = log.iter().map(|l| l["stage"].as_str().unwrap()).collect();
    assert_eq!(
        stages,
        ["start", "ingest", "classify", "publish", "summary"]
    );
    let last = log.last().unwrap();
    assert_eq!(last["outcome"], "published");
    assert_eq!(last["exit_code"], 0);
    // Again: already published, nothing read.
    let log = lines(&ok_out(run_in(
        &root,
        &["--period", "2025-10", "--log-format", "json"],
    )));
    assert_eq!(log.last().unwrap()["outcome"], "already_published");
    // A failure: the summary names the class and status, the reason is the error's line.
    let o = run_in(
        &root,
        &[
            "--period",
            "2025-12",
            "--log-format",
            "json",
            "--set",
            "privacy.categories.rho=0.3",
        ],
    );
    let err = failed_with(&o, 4);
    let last = lines(&o).pop().unwrap();
    assert_eq!(last["outcome"], "failed");
    assert_eq!(last["failure"], "budget");
    assert_eq!(last["exit_code"], 4);
    assert_eq!(
        format!("error: {}\n", last["reason"].as_str().unwrap()),
        err,
        "the summary's reason is the error line"
    );
}

fn ok_out(o: Output) -> Output {
    ok(&o);
    o
}

#[test]
fn a_retry_counts_each_input_once() {
    let (_dir, root) = copy();
    // The same file ingested again (a retry, a re-run after a failure) is read only for the
    // dates it had not been read for, and listed once.
    ok(&command_in(&root, "ingest", &[], &[]));
    ok(&run_in(&root, &NEXT));
    let operator: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("state/operator/ops/2025-12/operator-manifest.json")).unwrap(),
    )
    .unwrap();
    let inputs = operator["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    let rows = String::from_utf8(events_csv()).unwrap().lines().count() as u64 - 1;
    assert_eq!(inputs[0]["read"].as_u64(), Some(rows));
}

#[test]
fn help_documents_the_exit_statuses() {
    for args in [&["--help"][..], &["run", "--help"], &["validate", "--help"]] {
        let help = ok(&borderflow(args));
        for line in [
            "Exit status:",
            "2  configuration",
            "3  input",
            "4  over budget",
            "5  busy",
            "6  state",
        ] {
            assert!(help.contains(line), "{args:?}: {line:?} not in {help}");
        }
    }
}

#[test]
fn validate_json_reports_the_checks_as_data_and_fails_with_the_same_status() {
    let (_dir, root) = copy();
    let o = command_in(&root, "validate", &["--json", "--period", "2025-12"], &[]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["measuring_country"], "KEN");
    assert_eq!(v["input_files"], 1);
    assert_eq!(v["period"], "2025-12");
    // The store holds every day of the look-back of 2025-11, ingested in setup (December's
    // rows were outside its window).
    assert_eq!(v["store_first"], "2025-01-01");
    assert_eq!(v["store_last"], "2025-11-30");
    let cost = v["cost"].as_array().unwrap();
    assert!(!cost.is_empty());
    assert!(cost.iter().all(|c| c["rho"].as_f64().unwrap() > 0.0));
    assert_eq!(v["key_fingerprint"].as_str().unwrap().len(), 16);
    // A failed check: the same exit status, and the reason as data.
    set_in_pipeline(
        &root,
        r#"measuring_country = "KEN""#,
        r#"measuring_country = "XXX""#,
    );
    let o = command_in(&root, "validate", &["--json"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"], "config");
    assert_eq!(v["exit_code"], 2);
    assert!(v["reason"].as_str().unwrap().contains("XXX"), "{v}");
}

#[test]
fn series_stacks_every_published_period_and_the_index_lists_them() {
    let (_tmp, root) = copy();
    ok(&run_in(&root, &NEXT));
    let dataset = root.join("release/ops");
    // The index lists both releases, oldest first.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dataset.join("index.json")).unwrap()).unwrap();
    let periods: Vec<&str> = index["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, ["2025-11", "2025-12"]);
    assert_eq!(index["releases"][0]["path"], "2025-11");
    assert_eq!(index["releases"][1]["for_publication"], false);

    // Parquet: both periods' rows, each with its own period, noise_sd and status.
    let out = command_in(
        &root,
        "series",
        &["--table", "totals", "--out", "totals.parquet"],
        &[],
    );
    let said = ok(&out);
    assert!(
        said.contains("from 2 period(s): 2025-11, 2025-12"),
        "{said}"
    );
    let rows = common::parquet_rows(&root.join("totals.parquet"));
    let one = common::parquet_rows(&dataset.join("2025-11/totals.parquet"));
    let two = common::parquet_rows(&dataset.join("2025-12/totals.parquet"));
    assert_eq!(rows.len(), one.len() + two.len());
    assert_eq!(rows[..one.len()], one[..]);
    assert_eq!(rows[one.len()..], two[..]);
    assert!(
        rows.iter()
            .all(|r| !r["noise_sd"].is_empty() || r["status"] == "not_measured")
    );

    // CSV and SDMX-CSV: one header, then every period's rows.
    ok(&command_in(
        &root,
        "series",
        &["--table", "corridors", "--format", "csv", "--out", "c.csv"],
        &[],
    ));
    let csv = std::fs::read_to_string(root.join("c.csv")).unwrap();
    let part = |p: &str| std::fs::read_to_string(dataset.join(p).join("corridors.csv")).unwrap();
    let (a, b) = (part("2025-11"), part("2025-12"));
    assert_eq!(
        csv.lines().count(),
        a.lines().count() + b.lines().count() - 1
    );
    assert_eq!(csv.lines().next(), a.lines().next());
    ok(&command_in(
        &root,
        "series",
        &[
            "--table",
            "categories",
            "--format",
            "sdmx",
            "--out",
            "s.csv",
        ],
        &[],
    ));
    let sdmx = std::fs::read_to_string(root.join("s.csv")).unwrap();
    assert!(sdmx.starts_with("STRUCTURE,STRUCTURE_ID,ACTION,"));
    assert!(sdmx.contains(",2025-11,") && sdmx.contains(",2025-12,"));

    // Never overwriting, and a dataset with no release says so.
    let again = command_in(
        &root,
        "series",
        &["--table", "totals", "--out", "totals.parquet"],
        &[],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(one_line_error(&again).contains("totals.parquet: already exists"));
    let none = command_in(
        &root,
        "series",
        &["--out", "x.parquet", "--set", "dataset=\"other\""],
        &[],
    );
    assert_eq!(none.status.code(), Some(6));
    assert!(
        one_line_error(&none).contains("no published release holds categories"),
        "{}",
        one_line_error(&none)
    );
}
