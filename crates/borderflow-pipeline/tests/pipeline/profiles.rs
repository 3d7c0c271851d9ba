//! The input profiles end to end: the same generated world as MultiMNO bronze partitions
//! and as a FlowKit calls export, each read through its profile with no conversion, gives
//! exactly the quarantine counts its injected faults call for and the same presence rows and
//! classified facts as the world in the canonical schema (ids hashed upstream map to their
//! own pseudonyms; nothing else differs).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use borderflow_ingest::{FileCounts, Reason};
use borderflow_pipeline::{Period, Pipeline, classify, ingest};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_synth::layouts::{
    Faults, Injected, upstream_hash, write_flowkit_calls, write_multimno_bronze,
};
use borderflow_synth::{OutputFormats, Scenario, generate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;

const KEY: [u8; 32] = [4; 32];

/// A world of `subscribers` SIMs under `root/world` (Parquet events) and the key.
fn world(root: &Path, subscribers: u32) -> Scenario {
    PseudonymKey::from_bytes(KEY)
        .write_new(&root.join("key"))
        .unwrap();
    let scenario = Scenario {
        subscribers,
        seed: 17,
        ..Scenario::default()
    };
    generate(
        &scenario,
        &borderflow_refdata::RefData::embedded(),
        &root.join("world"),
        OutputFormats {
            csv: false,
            parquet: true,
        },
    )
    .unwrap();
    scenario
}

/// A pipeline named `name` (its own state) reading `input`, with `input_extra` TOML lines.
fn pipeline(root: &Path, name: &str, input: &str, input_extra: &str) -> Pipeline {
    let text = format!(
        r#"
        dataset = "test"
        measuring_country = "KEN"
        operator_plmns = ["63902"]
        state_dir = "state-{name}"
        release_dir = "release-{name}"
        [key]
        file = "key"
        [input]
        paths = [{input:?}]
        {input_extra}
        "#
    );
    Pipeline::parse("test.toml", &text, &[], root).unwrap()
}

/// The quarantine of `base` with `injected`'s faulty rows added under their reasons.
fn expected(base: &FileCounts, injected: &Injected) -> FileCounts {
    let mut want = base.clone();
    want.read += injected.total() - injected.rows;
    for (reason, n) in [
        (Reason::EmptyId, injected.null_ids),
        (Reason::BadTime, injected.null_times + injected.bad_times),
        (Reason::Duplicate, injected.duplicates),
        (Reason::MalformedPlmn, injected.garbage),
    ] {
        if n > 0 {
            *want.quarantined.entry(reason).or_default() += n;
        }
    }
    want.dates = None;
    want
}

/// Each raw id's pseudonym when read as it is, keyed by its pseudonym when read as the
/// hex of its upstream SHA-256.
fn upstream_to_raw(root: &Path) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut ps = Pseudonymiser::new(&PseudonymKey::from_bytes(KEY));
    let mut map = HashMap::new();
    for b in read(&root.join("world/truth.parquet")) {
        let ids = b
            .column_by_name("subscriber_id")
            .unwrap()
            .as_string::<i32>();
        for i in 0..ids.len() {
            let raw = ids.value(i);
            let hashed: String = upstream_hash(raw)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let from = ps.pseudonym(&hashed).unwrap().0.to_vec();
            map.insert(from, ps.pseudonym(raw).unwrap().0.to_vec());
        }
    }
    map
}

fn read(path: &Path) -> Vec<RecordBatch> {
    crate::common::read_parquet(path)
}

fn parquet_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(parquet_under(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out
}

/// Every row of the Parquet files under `dir` as text, the pseudonym column translated by
/// `map` (when given) and the file's folder first, sorted.
fn rows(dir: &Path, map: Option<&HashMap<Vec<u8>, Vec<u8>>>) -> Vec<String> {
    let mut out = Vec::new();
    for f in parquet_under(dir) {
        let folder = f
            .parent()
            .unwrap()
            .strip_prefix(dir)
            .unwrap()
            .display()
            .to_string();
        for b in read(&f) {
            for r in 0..b.num_rows() {
                let mut line = folder.clone();
                for (field, c) in b.schema().fields().iter().zip(b.columns()) {
                    line.push('|');
                    if c.is_null(r) {
                        continue;
                    }
                    if field.name() == "pseudonym" {
                        let p = c.as_fixed_size_binary().value(r).to_vec();
                        let p = map.map_or(p.clone(), |m| m[&p].clone());
                        line.push_str(&format!("{p:?}"));
                    } else {
                        line.push_str(&array_value_to_string(c, r).unwrap());
                    }
                }
                out.push(line);
            }
        }
    }
    out.sort();
    out
}

/// Ingests (every date) and classifies 2025 with `p`.
fn ingest_and_classify(p: &Pipeline) -> FileCounts {
    let report = ingest::run(p, None, &[]).unwrap();
    classify::run(p, "2025".parse::<Period>().unwrap()).unwrap();
    assert!(report.totals.reconciles());
    report.totals
}

fn same_store_and_facts(root: &Path, canonical: &Pipeline, profiled: &Pipeline) {
    let map = upstream_to_raw(root);
    let presence = |p: &Pipeline, m| rows(&p.state_dir.join("presence"), m);
    let want = presence(canonical, None);
    assert!(want.len() > 1000, "{} presence rows", want.len());
    assert!(
        want == presence(profiled, Some(&map)),
        "presence rows differ"
    );
    let facts = |p: &Pipeline, m| rows(&p.state_dir.join("classified/2025"), m);
    let want = facts(canonical, None);
    assert!(!want.is_empty());
    assert!(
        want == facts(profiled, Some(&map)),
        "classified facts differ"
    );
}

#[test]
fn a_multimno_bronze_lake_reads_as_the_canonical_world_with_its_faults_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let scenario = world(root, 120);
    let (injected, files) = write_multimno_bronze(
        &root.join("world/events.parquet"),
        &root.join("lake/mno_events"),
        &scenario.operator_plmn,
        Faults::SAMPLE,
    )
    .unwrap();
    assert!(files.len() >= 365);
    assert!(injected.null_ids > 0 && injected.duplicates > 0 && injected.garbage > 0);

    // MultiMNO's bronze events carry no event type and no counterpart: the canonical world
    // is read without them (a rename to a column no file has leaves an optional one out).
    let canonical = pipeline(
        root,
        "canonical",
        "world/events.parquet",
        "[input.columns]\nevent_type = \"not_there\"\ncounterpart_number = \"nor_there\"",
    );
    let profiled = pipeline(
        root,
        "multimno",
        "lake/mno_events",
        r#"profile = "multimno-bronze""#,
    );
    let base = ingest_and_classify(&canonical);
    let mut got = ingest_and_classify(&profiled);
    got.dates = None;
    assert_eq!(got.accepted, injected.rows - base.quarantined_total());
    assert_eq!(got, expected(&base, &injected));
    same_store_and_facts(root, &canonical, &profiled);
}

#[test]
fn a_flowkit_calls_export_reads_as_the_same_calls_in_the_canonical_schema() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let scenario = world(root, 120);
    std::fs::create_dir_all(root.join("flowkit")).unwrap();
    let injected = write_flowkit_calls(
        &root.join("world/events.parquet"),
        &root.join("flowkit/calls.csv"),
        &root.join("canonical.csv"),
        &scenario.operator_plmn,
        Faults {
            garbage_every: 0,
            ..Faults::SAMPLE
        },
    )
    .unwrap();
    assert!(injected.rows > 1000 && injected.null_times > 0);

    let canonical = pipeline(root, "canonical", "canonical.csv", "");
    let profiled = pipeline(
        root,
        "flowkit",
        "flowkit/calls.csv",
        r#"profile = "flowkit-calls""#,
    );
    let base = ingest_and_classify(&canonical);
    let mut got = ingest_and_classify(&profiled);
    got.dates = None;
    assert_eq!(got, expected(&base, &injected));
    same_store_and_facts(root, &canonical, &profiled);
}

/// A lake read for one month reads only that month's look-back partitions (± the margin),
/// and says how many it passed over.
#[test]
fn only_the_partitions_of_the_window_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let scenario = world(root, 20);
    let (_, files) = write_multimno_bronze(
        &root.join("world/events.parquet"),
        &root.join("lake/mno_events"),
        &scenario.operator_plmn,
        Faults::NONE,
    )
    .unwrap();
    let p = pipeline(
        root,
        "month",
        "lake/mno_events",
        "profile = \"multimno-bronze\"",
    );
    // The look-back of March 2025 is April 2024 to March 2025; the world begins in 2025.
    let r = ingest::run(&p, Some("2025-03".parse().unwrap()), &[]).unwrap();
    let date_of = |f: &PathBuf| {
        let parts = borderflow_ingest::expr::partitions_of(f);
        let n = |i: usize| parts[i].1.parse::<u32>().unwrap();
        chrono::NaiveDate::from_ymd_opt(n(0) as i32, n(1), n(2)).unwrap()
    };
    let last = chrono::NaiveDate::from_ymd_opt(2025, 4, 2).unwrap(); // the margin: 2 days
    let within = files.iter().filter(|f| date_of(f) <= last).count();
    assert!(within >= 92 && within < files.len(), "{within}");
    assert_eq!(r.files.len(), within);
    assert!(r.files.keys().all(|f| !f.contains("month=4/day=3/")));
    let skipped: Vec<&String> = r.skipped.values().collect();
    assert_eq!(
        skipped,
        [&format!(
            "{} file(s) in partition folders of dates outside the run's window, not read",
            files.len() - within
        )]
    );
    let dates: BTreeMap<_, _> = r
        .dates_written
        .iter()
        .map(|d| (d.to_string(), ()))
        .collect();
    assert_eq!(dates.keys().next().map(String::as_str), Some("2025-01-01"));
    assert_eq!(dates.keys().last().map(String::as_str), Some("2025-03-31"));
}

/// The shipped templates for MultiMNO and FlowKit read, and resolve to their profile's
/// mapping with the template's own operator network.
#[test]
fn the_profile_templates_resolve_their_mapping() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    for (name, lines) in [
        (
            "multimno",
            [
                "subscriber_id = { hex = \"user_id\" }",
                "serving_plmn = { column = \"plmn\", default = \"21407\" }",
            ],
        ),
        (
            "flowkit",
            [
                "subscriber_id = \"msisdn\"",
                "home_plmn = { value = \"62001\" }",
            ],
        ),
    ] {
        let p = Pipeline::load(&dir.join(format!("{name}.toml")), &[]).unwrap();
        let mapping = p.input.describe_mapping();
        for line in lines {
            assert!(
                mapping.iter().any(|l| l == line),
                "{name}: {line} not in {mapping:?}"
            );
        }
        assert_eq!(p.input.time_format, borderflow_ingest::TimeFormat::Iso8601);
    }
}
