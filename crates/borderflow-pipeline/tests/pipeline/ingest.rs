//! The ingest stage end to end: a generated world and hand-built SIMs into the presence store,
//! every row accounted for, nothing identifying written anywhere, nothing half-written on
//! failure, and no mixing of keys.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use borderflow_pipeline::{Pipeline, ingest};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("data")).unwrap();
        PseudonymKey::from_bytes([5; 32])
            .write_new(&root.join("key"))
            .unwrap();
        Self { _dir: dir, root }
    }

    fn pipeline(&self, inputs: &[&str], sets: &[&str]) -> Pipeline {
        let text = format!(
            r#"
            dataset = "test"
            measuring_country = "KEN"
            operator_plmns = ["63902"]
            state_dir = "state"
            release_dir = "release"
            [key]
            file = "key"
            [input]
            paths = [{}]
            [input.columns]
            subscriber_id = "IMSI"
            event_time = "TS"
            home_plmn = "HOME"
            serving_plmn = "VISITED"
            counterpart_number = "B_NUMBER"
            "#,
            inputs
                .iter()
                .map(|i| format!("{i:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Pipeline::parse("test.toml", &text, &sets, &self.root).unwrap()
    }

    fn write(&self, name: &str, body: &str) {
        std::fs::write(self.root.join("data").join(name), body).unwrap();
    }

    /// Every file under the state directory, with its bytes.
    fn state_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(p: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(p).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.join("state"), &mut out);
        out.sort();
        out
    }
}

/// A generated world with the operator's column names.
fn world(f: &Fixture, subscribers: u32) -> (Vec<String>, Vec<String>) {
    let out = f.root.join("world");
    let s = Scenario {
        subscribers,
        seed: 21,
        ..Scenario::default()
    };
    generate(
        &s,
        &RefData::embedded(),
        &out,
        OutputFormats {
            csv: true,
            parquet: false,
        },
    )
    .unwrap();
    let events = std::fs::read_to_string(out.join("events.csv")).unwrap();
    let mut lines = events.lines();
    assert_eq!(
        lines.next().unwrap(),
        "subscriber_id,event_time,home_plmn,serving_plmn,cell_id,event_type,counterpart_number"
    );
    let body: Vec<&str> = lines.collect();
    f.write(
        "events.csv",
        &format!(
            "IMSI,TS,HOME,VISITED,cell_id,event_type,B_NUMBER\n{}\n",
            body.join("\n")
        ),
    );
    let ids: Vec<String> = body
        .iter()
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let numbers: Vec<String> = body
        .iter()
        .filter_map(|l| {
            l.rsplit(',')
                .next()
                .filter(|n| !n.is_empty())
                .map(|n| n.trim_start_matches('+').to_string())
        })
        .collect();
    (ids, numbers)
}

/// Rows of a query over the presence store of `p`, as text.
fn presence(p: &Pipeline, sql: &str) -> Vec<Vec<String>> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(query(&p.state_dir.join("presence"), sql))
}

async fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    let options = ParquetReadOptions::default()
        .table_partition_cols(vec![("local_date".to_string(), DataType::Date32)]);
    ctx.register_parquet("presence", &format!("{}/", dir.display()), options)
        .await
        .unwrap();
    let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |r| {
                b.columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(r) {
                            String::new()
                        } else {
                            array_value_to_string(c, r).unwrap()
                        }
                    })
                    .collect()
            })
        })
        .collect()
}

#[test]
fn a_world_into_the_store_without_a_trace_of_raw_ids() {
    let f = Fixture::new();
    let (ids, numbers) = world(&f, 150);
    // A few bad rows among the good ones.
    f.write(
        "bad-rows.csv",
        "IMSI,TS,HOME,VISITED,B_NUMBER\n\
         639029999999991,2025-05-01T10:00:00Z,63902,99999,\n\
         ,2025-05-01T10:00:00Z,63902,63902,\n\
         639029999999992,2026-01-01T10:00:00Z,63902,63902,+256772999999\n",
    );
    let p = f.pipeline(&["data/*.csv"], &[]);
    let r = ingest::run(&p, Some("2025".parse().unwrap()), &[]).unwrap();
    assert_eq!(r.files.len(), 2);
    assert_eq!(r.totals.read, ids.len() as u64 + 3);
    assert_eq!(r.totals.accepted, ids.len() as u64);
    assert!(r.totals.reconciles());
    let q: Vec<(String, u64)> = r
        .totals
        .quarantined
        .iter()
        .map(|(k, v)| (k.code().to_string(), *v))
        .collect();
    assert_eq!(
        q,
        [
            ("empty_id".into(), 1),
            ("outside_window".into(), 1),
            ("unknown_plmn".into(), 1)
        ]
    );
    assert!(r.dates_written.len() >= 360, "{}", r.dates_written.len());

    // Invariant 1: no raw id or counterpart number in any byte the ingest wrote, compressed
    // or not: raw bytes are searched, and so is every decoded Parquet value.
    let files = f.state_files();
    let mut text = String::new();
    for (path, _) in &files {
        text.push_str(&String::from_utf8_lossy(&common::bytes_and_decoded_values(
            path,
        )));
    }
    let mut probes: Vec<&String> = ids
        .iter()
        .step_by(97)
        .chain(numbers.iter().step_by(97))
        .collect();
    let extra = [
        "639029999999991".to_string(),
        "639029999999992".to_string(),
        "256772999999".to_string(),
    ];
    probes.extend(extra.iter());
    assert!(probes.len() > 50);
    for raw in probes {
        assert!(
            !text.contains(raw.as_str()),
            "{raw} found in the state directory"
        );
    }
    // The run report, quarantine and store are there.
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("/state/ingest/"))
    );
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("/state/quarantine/"))
    );
}

#[test]
fn a_small_memory_limit_spills_and_changes_no_presence_row() {
    let f = Fixture::new();
    world(&f, 150);
    let all = "SELECT * FROM presence ORDER BY local_date, pseudonym, country, counterpart_country";
    let roomy = f.pipeline(&["data/*.csv"], &["engine.target_partitions=2"]);
    let r = ingest::run(&roomy, None, &[]).unwrap();
    assert_eq!(r.spilled_bytes, 0);
    // 1 MiB: half of it for events, which a year of 150 SIMs exceeds several times over.
    let tight = f.pipeline(
        &["data/*.csv"],
        &[
            "engine.target_partitions=2",
            "engine.memory_limit_mb=1",
            "state_dir=\"state-tight\"",
        ],
    );
    let progress = ingest::Progress::default();
    let t = ingest::run_with_progress(&tight, None, &[], &progress).unwrap();
    assert!(t.spilled_bytes > 1 << 20, "{}", t.spilled_bytes);
    // The progress counters end where a progress bar ends: every byte and row read.
    let input_bytes: u64 = t.inputs.values().map(|i| i.bytes).sum();
    assert_eq!(progress.bytes_total.load(Ordering::Relaxed), input_bytes);
    assert_eq!(progress.bytes_read.load(Ordering::Relaxed), input_bytes);
    assert_eq!(progress.rows.load(Ordering::Relaxed), t.totals.read);
    assert!(progress.writing.load(Ordering::Relaxed));
    assert_eq!(t.presence_rows, r.presence_rows);
    assert_eq!(presence(&tight, all), presence(&roomy, all));
    // Nothing of the spill is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(f.root.join("state-tight"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn hand_built_sims_have_exact_presence_facts() {
    let f = Fixture::new();
    // SIM A (Kenyan): Monday 3 March 2025, an evening call to Uganda in Kenya (20:00 local),
    // then at 03:30 local on Tuesday (still Monday's functional day) a data session, then a
    // weekday-daytime roaming event in Uganda on Tuesday (10:00 local, UTC+3).
    // SIM B (Ugandan) on the operator's network on Saturday 8 March at 12:00 local.
    f.write(
        "hand.csv",
        "IMSI,TS,HOME,VISITED,B_NUMBER\n\
         639020000000001,2025-03-03T17:00:00Z,63902,63902,+256772000001\n\
         639020000000001,2025-03-04T00:30:00Z,63902,63902,\n\
         639020000000001,2025-03-04T07:00:00Z,63902,64101,\n\
         641010000000002,2025-03-08T09:00:00Z,64101,63902,+256772000002\n",
    );
    let p = f.pipeline(&["data/hand.csv"], &["engine.target_partitions=1"]);
    let r = ingest::run(&p, Some("2025-03".parse().unwrap()), &[]).unwrap();
    assert_eq!(r.totals.accepted, 4);
    assert_eq!(r.presence_rows, 4);
    let rows = presence(&p, "SELECT CAST(local_date AS VARCHAR) AS d, sim_country, country, counterpart_country, events,
                night_events, weekday_day_events, first_minute, last_minute
         FROM presence ORDER BY d, sim_country, counterpart_country NULLS LAST");
    let want = [
        [
            "2025-03-03",
            "KEN",
            "KEN",
            "UGA",
            "1",
            "1",
            "0",
            "960",
            "960",
        ],
        [
            "2025-03-03",
            "KEN",
            "KEN",
            "",
            "1",
            "1",
            "0",
            "1410",
            "1410",
        ],
        ["2025-03-04", "KEN", "UGA", "", "1", "0", "1", "360", "360"],
        [
            "2025-03-08",
            "UGA",
            "KEN",
            "UGA",
            "1",
            "0",
            "0",
            "480",
            "480",
        ],
    ];
    assert_eq!(rows, want.map(|r| r.map(String::from).to_vec()).to_vec());
    // Pseudonyms are the keyed HMAC of the id: the store links to the key, not to the id.
    let pseudo = presence(
        &p,
        "SELECT DISTINCT pseudonym FROM presence WHERE sim_country = 'UGA'",
    );
    let mut ps = Pseudonymiser::new(&PseudonymKey::from_bytes([5; 32]));
    let want: String = ps
        .pseudonym("641010000000002")
        .unwrap()
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(pseudo, [[want]]);
}

/// One valid event, on 3 March 2025.
const ONE_GOOD_ROW: &str =
    "IMSI,TS,HOME,VISITED,B_NUMBER\n639020000000001,2025-03-03T17:00:00Z,63902,63902,\n";

#[test]
fn a_store_directory_a_killed_first_run_left_empty_is_made_by_the_next_run() {
    let f = Fixture::new();
    f.write("good.csv", ONE_GOOD_ROW);
    let p = f.pipeline(&["data/good.csv"], &[]);
    // A first run killed between making the store's directory and writing its description.
    std::fs::create_dir_all(p.state_dir.join("presence")).unwrap();
    let r = ingest::run(&p, None, &[]).unwrap();
    assert_eq!((r.totals.read, r.totals.accepted), (1, 1));
    assert_eq!(r.dates_written.len(), 1);
}

#[test]
fn a_failing_run_leaves_the_state_as_it_was() {
    let f = Fixture::new();
    f.write("good.csv", ONE_GOOD_ROW);
    let p = f.pipeline(&["data/good.csv"], &[]);
    ingest::run(&p, None, &[]).unwrap();
    let before = f.state_files();

    // A truncated gzip file among the inputs: the run fails naming it; nothing changes.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"IMSI,TS,HOME,VISITED,B_NUMBER\n").unwrap();
    std::io::Write::write_all(
        &mut gz,
        "639020000000003,2025-03-03T17:00:00Z,63902,63902,\n"
            .repeat(5000)
            .as_bytes(),
    )
    .unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(f.root.join("data/cut.csv.gz"), &bytes[..bytes.len() / 2]).unwrap();
    let p = f.pipeline(&["data/good.csv", "data/cut.csv.gz"], &[]);
    let err = ingest::run(&p, None, &[]).unwrap_err().to_string();
    assert!(err.contains("cut.csv.gz: cannot read"), "{err}");
    assert_eq!(f.state_files(), before);

    // A file with the wrong header fails before anything is read.
    f.write("wrong.csv", "msisdn,when\n1,2\n");
    let p = f.pipeline(&["data/good.csv", "data/wrong.csv"], &[]);
    let err = ingest::run(&p, None, &[]).unwrap_err().to_string();
    assert!(err.contains("wrong.csv: missing column \"IMSI\""), "{err}");
    assert_eq!(f.state_files(), before);

    // Another key: refused, store untouched.
    PseudonymKey::from_bytes([6; 32])
        .write_new(&f.root.join("other.key"))
        .unwrap();
    let p = f.pipeline(&["data/good.csv"], &["key.file=\"other.key\""]);
    let err = ingest::run(&p, None, &[]).unwrap_err().to_string();
    assert!(err.contains("refusing to mix pseudonyms"), "{err}");
    assert_eq!(f.state_files(), before);
    // The key never appears in an error.
    assert!(!err.contains("0505050505"));
}

#[test]
fn a_later_delivery_adds_to_the_days_it_shares_and_the_same_content_adds_nothing() {
    let f = Fixture::new();
    f.write("a.csv", "IMSI,TS,HOME,VISITED,B_NUMBER\n639020000000001,2025-03-03T10:00:00Z,63902,63902,\n639020000000002,2025-03-04T10:00:00Z,63902,63902,\n");
    let p = f.pipeline(&["data/a.csv"], &[]);
    let first = ingest::run(&p, None, &[]).unwrap();
    assert_eq!(first.dates_written.len(), 2);
    // A later file with more of 4 March (a file cut at another instant, a late file).
    f.write("b.csv", "IMSI,TS,HOME,VISITED,B_NUMBER\n639020000000003,2025-03-04T11:00:00Z,63902,63902,\n639020000000004,2025-03-04T12:00:00Z,63902,63902,\n");
    let p = f.pipeline(&["data/b.csv"], &[]);
    let second = ingest::run(&p, None, &[]).unwrap();
    assert_eq!(second.dates_written, ["2025-03-04".parse().unwrap()]);
    let count = |p| {
        presence(
            p,
            "SELECT CAST(local_date AS VARCHAR), count(*) FROM presence GROUP BY 1 ORDER BY 1",
        )
    };
    let want = [["2025-03-03", "1"], ["2025-03-04", "3"]].map(|r| r.map(String::from).to_vec());
    assert_eq!(count(&p), want);
    // Both files again, one under a new name: nothing is read, nothing added.
    f.write(
        "a-again.csv",
        &std::fs::read_to_string(f.root.join("data/a.csv")).unwrap(),
    );
    let p = f.pipeline(&["data/a-again.csv", "data/b.csv"], &[]);
    let third = ingest::run(&p, None, &[]).unwrap();
    assert_eq!(third.totals.read, 0);
    assert_eq!(third.skipped.len(), 2, "{:?}", third.skipped);
    assert!(third.dates_written.is_empty());
    assert_eq!(count(&p), want);
}

#[test]
fn a_parquet_file_split_by_row_groups_keeps_its_row_numbers() {
    use std::sync::Arc;

    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let f = Fixture::new();
    // 10 rows in row groups of 3, read by two threads: five rows each, so the second row group
    // is cut after its second row. The bad rows (an empty id) are row 6, the first of the
    // second share, in the middle of the cut group, and row 8, in the third group.
    let ids: Vec<String> = (0..10)
        .map(|i| {
            if i == 5 || i == 7 {
                String::new()
            } else {
                format!("63902000000{i:04}")
            }
        })
        .collect();
    let times: Vec<String> = (0..10)
        .map(|i| format!("2025-03-{:02}T10:00:00Z", i + 1))
        .collect();
    let schema = Arc::new(Schema::new(
        ["IMSI", "TS", "HOME", "VISITED", "B_NUMBER"]
            .map(|n| Field::new(n, DataType::Utf8, true))
            .to_vec(),
    ));
    let col = |v: Vec<&str>| Arc::new(StringArray::from(v)) as _;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            col(ids.iter().map(String::as_str).collect()),
            col(times.iter().map(String::as_str).collect()),
            col(vec!["63902"; 10]),
            col(vec!["63902"; 10]),
            col(vec!["+256772000001"; 10]),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(3))
        .build();
    let file = std::fs::File::create(f.root.join("data/groups.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let p = f.pipeline(&["data/groups.parquet"], &["engine.target_partitions=2"]);
    let r = ingest::run(&p, None, &[]).unwrap();
    let name = f.root.join("data/groups.parquet").display().to_string();
    assert_eq!(r.files.keys().collect::<Vec<_>>(), [&name]);
    assert_eq!((r.totals.read, r.totals.accepted), (10, 8));
    assert_eq!(r.dates_written.len(), 8);
    // The quarantined rows keep their row numbers in the whole file.
    let q = std::fs::read_dir(p.state_dir.join("quarantine"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut rows = Vec::new();
    for part in std::fs::read_dir(q).unwrap() {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            std::fs::File::open(part.unwrap().path()).unwrap(),
            64,
        )
        .unwrap();
        for b in reader {
            let b = b.unwrap();
            let c = b.column_by_name("row").unwrap();
            rows.extend((0..c.len()).map(|i| array_value_to_string(c, i).unwrap()));
        }
    }
    rows.sort();
    assert_eq!(rows, ["6", "8"]);
}

#[test]
fn a_cell_catalogue_sets_local_time_per_cell() {
    let f = Fixture::new();
    // 22:00 UTC on Monday 3 March: 01:00 Tuesday in Kenya (UTC+3), minute 1260 of Monday's
    // functional day; on a cell the catalogue puts in UTC+5:30 it is 03:30, minute 1410.
    f.write("cells.csv", "cell_id,time_zone\nC9,Asia/Kolkata\n");
    f.write(
        "cdr.csv",
        "IMSI,TS,HOME,VISITED,cell_id,B_NUMBER\n\
         639020000000001,2025-03-03T22:00:00Z,63902,63902,C9,\n\
         639020000000002,2025-03-03T22:00:00Z,63902,63902,C1,\n",
    );
    let p = f.pipeline(
        &["data/cdr.csv"],
        &["input.cell_catalogue=\"data/cells.csv\""],
    );
    ingest::run(&p, None, &[]).unwrap();
    let rows = presence(
        &p,
        "SELECT CAST(local_date AS VARCHAR) AS d, first_minute FROM presence ORDER BY first_minute",
    );
    assert_eq!(
        rows,
        [["2025-03-03", "1260"], ["2025-03-03", "1410"]].map(|r| r.map(String::from).to_vec())
    );

    // A malformed catalogue fails the run before anything is written, naming file and line.
    f.write(
        "bad-cells.csv",
        "cell_id,time_zone\nC1,Africa/Nairobi\nC2,Mars/Olympus\n",
    );
    let p = f.pipeline(
        &["data/cdr.csv"],
        &["input.cell_catalogue=\"data/bad-cells.csv\""],
    );
    let err = ingest::run(&p, None, &[]).unwrap_err().to_string();
    assert!(
        err.contains("bad-cells.csv:3: cannot read: unknown IANA time zone \"Mars/Olympus\""),
        "{err}"
    );
}

#[test]
fn a_second_concurrent_run_is_refused_without_changing_anything() {
    let f = Fixture::new();
    f.write(
        "a.csv",
        "IMSI,TS,HOME,VISITED,B_NUMBER\n639020000000001,2025-03-03T10:00:00Z,63902,63902,\n",
    );
    let p = f.pipeline(&["data/a.csv"], &[]);
    let held = borderflow_pipeline::StateLock::acquire(&p.state_dir).unwrap();
    let err = ingest::run(&p, None, &[]).unwrap_err().to_string();
    assert!(err.contains("another borderflow run is using"), "{err}");
    assert!(!p.state_dir.join("presence").exists());
    drop(held);
    // A crashed run's staging directory is cleared by the next run.
    let leftover = p.state_dir.join(".staging-ingest-crashed/presence");
    std::fs::create_dir_all(&leftover).unwrap();
    ingest::run(&p, None, &[]).unwrap();
    assert!(p.state_dir.join("presence").exists());
    assert!(!p.state_dir.join(".staging-ingest-crashed").exists());
}
