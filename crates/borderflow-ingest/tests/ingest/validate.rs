//! Bad rows are quarantined with a reason and row number, good rows get exact local-time facts,
//! every row is accounted for, and nothing identifying reaches either output.

use std::io::Write;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, UInt8Type, UInt16Type};
use arrow::util::display::array_value_to_string;
use borderflow_core::{SimRegistry, accepted_batch};
use borderflow_ingest::{FileCounts, InputConfig, Reason, TimeFormat, Validator, discover};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::RefData;

const HEADER: &str = "IMSI,TS,HPLMN,VPLMN,CELL,TYPE,B_NUMBER\n";

/// The column mapping of these tests' files (`TYPE` and `B_NUMBER` optional: a file without
/// them reads as one without event types or counterparts).
pub(crate) fn cfg(paths: Vec<String>) -> InputConfig {
    toml::from_str::<InputConfig>(
        r#"
        paths = []
        [columns]
        subscriber_id = "IMSI"
        event_time = "TS"
        home_plmn = "HPLMN"
        serving_plmn = "VPLMN"
        cell_id = "CELL"
        event_type = "TYPE"
        counterpart_number = "B_NUMBER"
        "#,
    )
    .map(|c| InputConfig { paths, ..c })
    .unwrap()
}

/// Reads every file and validates it with a fixed key over calendar 2025 (UTC).
fn ingest(cfg: &InputConfig) -> (Vec<RecordBatch>, Vec<RecordBatch>, FileCounts) {
    let rd = RefData::embedded();
    // Functional local dates 2025-01-01 to 2025-12-31 (days since 1970-01-01).
    let window = (20_089, 20_453);
    let key = PseudonymKey::from_bytes([9; 32]);
    let sims = SimRegistry::new();
    let mut v = Validator::new(
        &rd,
        "KEN".parse().unwrap(),
        window,
        cfg.time_format.clone(),
        chrono_tz::UTC,
        Pseudonymiser::new(&key),
        &sims,
    );
    let (mut acc, mut q, mut counts) = (Vec::new(), Vec::new(), FileCounts::default());
    for f in discover(&cfg.paths).unwrap() {
        let mut r = f.open(cfg).unwrap();
        while let Some(b) = r.next_batch() {
            let out = v.validate(r.name(), &b.unwrap()).unwrap();
            counts.add(&out.counts);
            acc.extend(out.accepted);
            q.push(out.quarantine);
        }
    }
    (vec![accepted_batch(&acc, &sims.snapshot())], q, counts)
}

fn col(batches: &[RecordBatch], name: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(name).unwrap().clone();
            (0..c.len()).map(move |i| {
                if c.is_null(i) {
                    String::new()
                } else {
                    array_value_to_string(&c, i).unwrap()
                }
            })
        })
        .collect()
}

fn write(dir: &std::path::Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    p.display().to_string()
}

#[test]
fn each_bad_row_gets_its_reason_and_row_number() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "639021111111111,2025-03-01T10:00:00Z,63902,63902,C1,call_out,+256772000001", // ok
        ",2025-03-01T10:00:00Z,63902,63902,C1,data,",                                 // empty id
        "639021111111112,yesterday,63902,63902,C1,data,",                             // bad time
        "639021111111113,2024-12-31T23:59:59Z,63902,63902,C1,data,",                  // outside
        "639021111111114,2025-03-01T10:00:00Z,6390,63902,C1,data,",                   // malformed
        "639021111111115,2025-03-01T10:00:00Z,12345,63902,C1,data,",                  // unknown
        "641011111111116,2025-03-01T10:00:00Z,64101,64101,,data,", // foreign/foreign
        "639021111111117,2025-03-01T10:00:00Z,639021111111117,63902,C1,data,", // id in PLMN column
        "641011111111118,2025-03-01T10:00:00+03:00,64101,63902,C2,sms_in,+254700000000", // ok
        "641011111111118,2025-03-01T07:00:00Z,64101,63902,C2,sms_in,+254700000000", // same event
    ];
    let path = write(
        dir.path(),
        "cdr.csv",
        &format!("{HEADER}{}\n", rows.join("\n")),
    );
    let (acc, q, counts) = ingest(&cfg(vec![path.clone()]));
    assert_eq!(counts.read, 10);
    assert_eq!(counts.accepted, 2);
    assert!(counts.reconciles());
    assert_eq!(
        col(&q, "reason"),
        [
            "empty_id",
            "bad_time",
            "outside_window",
            "malformed_plmn",
            "unknown_plmn",
            "foreign_on_foreign",
            "malformed_plmn",
            "duplicate"
        ]
    );
    assert_eq!(col(&q, "row"), ["2", "3", "4", "5", "6", "7", "8", "10"]);
    assert_eq!(col(&q, "file"), vec![path.clone(); 8]);
    // Shape-checked copies: the id that sat in the PLMN column is not carried over.
    assert_eq!(
        col(&q, "home_plmn"),
        ["63902", "63902", "63902", "", "12345", "64101", "", "64101"]
    );
    assert_eq!(counts.quarantined[&Reason::MalformedPlmn], 2);
    // Countries resolved, counterpart number reduced to its country.
    assert_eq!(col(&acc, "sim_country"), ["KEN", "UGA"]);
    assert_eq!(col(&acc, "serving_country"), ["KEN", "KEN"]);
    assert_eq!(col(&acc, "counterpart_country"), ["UGA", "KEN"]);
    // Only what daily presence needs travels on: no time, event type or cell.
    assert_eq!(
        acc[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        [
            "pseudonym",
            "sim_country",
            "serving_country",
            "local_date",
            "fday_minute",
            "weekday",
            "counterpart_country"
        ]
    );

    // No raw id and no counterpart number in anything either output holds.
    let everything: String = [
        "pseudonym",
        "sim_country",
        "serving_country",
        "counterpart_country",
    ]
    .iter()
    .flat_map(|c| col(&acc, c))
    .chain(
        [
            "file",
            "row",
            "reason",
            "event_time",
            "home_plmn",
            "serving_plmn",
            "event_type",
        ]
        .iter()
        .flat_map(|c| col(&q, c)),
    )
    .collect::<Vec<_>>()
    .join("|");
    for raw in [
        "63902111111111",
        "64101111111111",
        "256772000001",
        "254700000000",
    ] {
        assert!(!everything.contains(raw), "{raw} leaked");
    }
}

/// A PLMN padded past 12 bytes is read like its trimmed text, every time: its string view points
/// into its batch, so the same view in the next batch can be another text. Here the last row of
/// the first batch and the first row of the second hold the file's only long PLMN texts, the
/// same length and first bytes, each at the start of its batch's text: a valid one, then a
/// malformed one.
#[test]
fn padded_plmns_are_read_as_their_text_in_every_batch() {
    let dir = tempfile::tempdir().unwrap();
    let rows = borderflow_ingest::source::BATCH_ROWS;
    let mut body = String::from(HEADER);
    for r in 0..=rows {
        let home = match r {
            _ if r == rows - 1 => "   63902      ",
            _ if r == rows => "   6390x      ",
            _ if r % 2 == 0 => "63902",
            _ => " 64101 ",
        };
        body.push_str(&format!(
            "6390{r:011},2025-03-01T10:00:00Z,{home},63902,C1,data,\n"
        ));
    }
    let path = write(dir.path(), "cdr.csv", &body);
    let (acc, q, counts) = ingest(&cfg(vec![path]));
    assert_eq!(counts.read, rows as u64 + 1);
    assert_eq!(counts.accepted, rows as u64);
    assert_eq!(col(&q, "reason"), ["malformed_plmn"]);
    assert_eq!(col(&q, "row"), [(rows + 1).to_string()]);
    let countries = col(&acc, "sim_country");
    // Even rows and the padded one Kenyan, the other odd rows Ugandan.
    assert_eq!(
        countries.iter().filter(|c| *c == "KEN").count(),
        rows / 2 + 1
    );
    assert_eq!(
        countries.iter().filter(|c| *c == "UGA").count(),
        rows / 2 - 1
    );
}

#[test]
fn local_time_and_the_functional_day() {
    let dir = tempfile::tempdir().unwrap();
    // Kenya is UTC+3 all year. 00:59 UTC = 03:59 local: still the previous functional day.
    // 01:00 UTC = 04:00 local: a new functional day, minute 0. A Ugandan network (UTC+3) and a
    // British one (UTC+1 in July, BST) place roaming events in their own local time.
    let rows = [
        "639020000000001,2025-03-03T00:59:00Z,63902,63902,C1,data,",
        "639020000000001,2025-03-03T01:00:00Z,63902,63902,C1,data,",
        "639020000000001,2025-07-07T02:30:00Z,63902,23415,,data,",
        "639020000000001,2025-07-07T03:00:00Z,63902,23415,,data,",
    ];
    let path = write(
        dir.path(),
        "tz.csv",
        &format!("{HEADER}{}\n", rows.join("\n")),
    );
    let (acc, _, counts) = ingest(&cfg(vec![path]));
    assert_eq!(counts.accepted, 4);
    let b = arrow::compute::concat_batches(&acc[0].schema(), &acc).unwrap();
    let dates: Vec<String> = (0..4)
        .map(|i| {
            let d = b
                .column_by_name("local_date")
                .unwrap()
                .as_primitive::<Date32Type>()
                .value(i);
            chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        dates,
        ["2025-03-02", "2025-03-03", "2025-07-06", "2025-07-07"]
    );
    let minutes: Vec<u16> = b
        .column_by_name("fday_minute")
        .unwrap()
        .as_primitive::<UInt16Type>()
        .values()
        .to_vec();
    assert_eq!(minutes, [1439, 0, 1410, 0]);
    let weekday: Vec<u8> = b
        .column_by_name("weekday")
        .unwrap()
        .as_primitive::<UInt8Type>()
        .values()
        .to_vec();
    // 2 March 2025 was a Sunday, 3 March a Monday, 6 July a Sunday, 7 July a Monday.
    assert_eq!(weekday, [6, 0, 6, 0]);
    // Pseudonyms are 16 bytes and stable for one SIM.
    let p = b
        .column_by_name("pseudonym")
        .unwrap()
        .as_fixed_size_binary();
    assert_eq!(p.value_length(), 16);
    assert!((1..4).all(|i| p.value(i) == p.value(0)));
}

#[test]
fn epoch_and_pattern_times_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    // Epoch milliseconds, gzip-compressed.
    let body = format!("{HEADER}639020000000002,1741000000000,63902,63902,C1,data,\n");
    let gz = dir.path().join("a.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(body.as_bytes()).unwrap();
    enc.finish().unwrap();
    let mut c = cfg(vec![gz.display().to_string()]);
    c.time_format = TimeFormat::EpochMillis;
    let (acc, _, counts) = ingest(&c);
    assert_eq!(counts.accepted, 1);
    // 11:06:40 UTC is 14:06 in Nairobi: 606 minutes into the functional day of 3 March.
    assert_eq!(col(&acc, "local_date"), ["2025-03-03"]);
    assert_eq!(col(&acc, "fday_minute"), ["606"]);
    // A local-time pattern read in the source zone.
    let p = write(
        dir.path(),
        "b.csv",
        &format!("{HEADER}639020000000003,2025-03-03 11:06:40,63902,63902,C1,data,\n"),
    );
    let mut c = cfg(vec![p]);
    c.time_format = TimeFormat::Pattern("%Y-%m-%d %H:%M:%S".into());
    let (acc, _, _) = ingest(&c);
    assert_eq!(col(&acc, "local_date"), ["2025-03-03"]);
    assert_eq!(col(&acc, "fday_minute"), ["606"]);
}

#[test]
fn unreadable_files_fail_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = |paths: Vec<String>| -> String {
        let c = cfg(paths);
        match discover(&c.paths) {
            Err(e) => e.to_string(),
            Ok(files) => {
                let mut msg = String::new();
                for f in files {
                    match f.open(&c) {
                        Err(e) => return e.to_string(),
                        Ok(mut r) => {
                            while let Some(b) = r.next_batch() {
                                if let Err(e) = b {
                                    return e.to_string();
                                }
                            }
                        }
                    }
                    msg = "read fine".into();
                }
                msg
            }
        }
    };
    let wrong = write(dir.path(), "wrong.csv", "msisdn,time\n1,2\n");
    let e = err(vec![wrong.clone()]);
    assert!(
        e.starts_with(&wrong) && e.contains("missing column \"IMSI\""),
        "{e}"
    );
    // A file without its header row: the error must not echo the first row's raw id.
    let headless = write(
        dir.path(),
        "headless.csv",
        "639021234567890,2025-03-01T10:00:00Z,63902,63902,C1,data,+254712345678\n",
    );
    let e = err(vec![headless.clone()]);
    assert!(e.contains("looks like data, not a header row"), "{e}");
    assert!(
        !e.contains("639021234567890") && !e.contains("254712345678"),
        "{e}"
    );
    let empty = write(dir.path(), "empty.csv", "");
    assert!(err(vec![empty.clone()]).starts_with(&format!("{empty}: cannot read")));
    let gz = write(dir.path(), "bad.csv.gz", "this is not gzip");
    assert!(err(vec![gz.clone()]).starts_with(&format!("{gz}: cannot read")));
    let pq = write(dir.path(), "bad.parquet", "PAR1 truncated");
    assert!(err(vec![pq.clone()]).starts_with(&format!("{pq}: cannot read")));
    let ragged = write(
        dir.path(),
        "ragged.csv",
        &format!("{HEADER}1,2025-03-01T10:00:00Z,63902\n"),
    );
    assert!(err(vec![ragged.clone()]).starts_with(&format!("{ragged}: cannot read")));
    let none = dir.path().join("nothing-*.csv").display().to_string();
    assert!(err(vec![none.clone()]).contains("matches no file"));
}

#[test]
fn every_row_gets_its_own_ids_pseudonym_however_the_ids_are_ordered() {
    // 3,000 rows (ids are looked up 1,024 rows at a time before their rows are validated):
    // short and long ids, one with spaces around it, alternating row by row in the first half
    // (as in a file sorted by time) and in runs of 100 rows in the second (sorted by
    // subscriber), so ids the cache has not seen yet meet ids it has in every lookup.
    let dir = tempfile::tempdir().unwrap();
    let ids = [
        "639021111111111",
        "639021111111112",
        "6390211111111",
        " 639021111111111 ",
        "a-subscriber-id-longer-than-fifteen-bytes-0001",
        "a-subscriber-id-longer-than-fifteen-bytes-0002",
        "639021111111113",
    ];
    let id_of = |r: usize| {
        if r < 1500 {
            ids[r % ids.len()]
        } else {
            ids[(r / 100) % ids.len()]
        }
    };
    let rows: Vec<String> = (0..3000)
        .map(|r| {
            format!(
                "{},2025-03-01T{:02}:{:02}:{:02}Z,63902,63902,C1,data,",
                id_of(r),
                r / 3600,
                r / 60 % 60,
                r % 60
            )
        })
        .collect();
    let path = write(
        dir.path(),
        "cdr.csv",
        &format!("{HEADER}{}\n", rows.join("\n")),
    );
    let (acc, _, counts) = ingest(&cfg(vec![path]));
    assert_eq!((counts.read, counts.accepted), (3000, 3000));
    let mut p = Pseudonymiser::new(&PseudonymKey::from_bytes([9; 32]));
    let got = acc[0].column(0).as_fixed_size_binary();
    for r in 0..3000 {
        let want = p.pseudonym(id_of(r)).unwrap();
        assert_eq!(got.value(r), want.0, "row {r}");
    }
    // The same id with spaces around it is the same SIM.
    assert_eq!(got.value(0), got.value(3));
}
