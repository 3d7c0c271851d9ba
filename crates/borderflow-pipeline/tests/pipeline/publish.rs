//! The publish stage end to end: a release under the ledger's discipline — complete or absent,
//! never noised twice, refused over budget with nothing written, charged to every data year
//! its window reads, a crash settled without refunding drawn noise, and no identifier in any
//! released byte.

use crate::common;

use std::path::{Path, PathBuf};

use borderflow_pipeline::{Period, Pipeline, PublishError, classify, ingest, publish};
use borderflow_privacy::{
    Ledger, NoiseSource, Ratio, ReleaseRequest, Reservation, Status, StoreKind, TableRequest,
};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_synth::OutputFormats;

const KEY: [u8; 32] = [3; 32];

fn setup(root: &Path, sets: &[&str]) -> (Pipeline, std::collections::BTreeSet<String>) {
    let csv = OutputFormats {
        csv: true,
        parquet: false,
    };
    common::key_and_world(root, KEY, 600, 4, csv);
    let text = r#"
        dataset = "t"
        measuring_country = "KEN"
        operator_plmns = ["63902"]
        state_dir = "state"
        release_dir = "release"
        [key]
        file = "key"
        [input]
        paths = ["world/events.csv"]
    "#;
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let p = Pipeline::parse("t.toml", text, &sets, root).unwrap();
    ingest::run(&p, None, &[]).unwrap();
    for period in ["2025", "2025-06"] {
        classify::run(&p, period.parse().unwrap()).unwrap();
    }
    let events = std::fs::read_to_string(root.join("world/events.csv")).unwrap();
    let ids: std::collections::BTreeSet<String> = events
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    (p, ids)
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

fn year() -> Period {
    "2025".parse().unwrap()
}

fn r(x: &str) -> Ratio {
    Ratio::from_decimal(x).unwrap()
}

fn ledger(root: &Path) -> Ledger {
    Ledger::open_existing(&root.join("state/ledger.sqlite")).unwrap()
}

#[test]
fn a_release_is_published_once_and_returned_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, ids) = setup(root, &[]);
    let r = publish::run(&p, year(), NoiseSource::seeded_for_tests(1)).unwrap();
    assert!(r.new);
    let names: Vec<String> = files(&r.dir)
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "categories.csv",
            "categories.parquet",
            "categories.sdmx.csv",
            "corridors.csv",
            "corridors.parquet",
            "corridors.sdmx.csv",
            "crossings.csv",
            "crossings.parquet",
            "crossings.sdmx.csv",
            "datapackage.json",
            "manifest.json",
            "manifest.schema.json",
            "quality.json",
            "quality.schema.json",
            "report.html",
            "structure.sdmx.xml",
            "totals.csv",
            "totals.parquet",
            "totals.sdmx.csv"
        ]
    );
    let manifest = std::fs::read_to_string(r.dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"for_publication\": false"),
        "{manifest}"
    );
    assert!(manifest.contains("NOT FOR PUBLICATION"), "{manifest}");
    // Every cell of the public domain, zeros included: 1 + 10·249 and 250·249 rows.
    let csv = std::fs::read_to_string(r.dir.join("categories.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 1 + 10 * 249);
    let csv = std::fs::read_to_string(r.dir.join("crossings.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 250 * 249);
    assert!(csv.lines().skip(1).all(|l| {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[4], "SIM");
        match f[5] {
            "" => f[7] == "true",
            v => v.parse::<i64>().unwrap() >= 16 && f[7] == "false",
        }
    }));

    // Re-running returns the release byte for byte, with one debit in the ledger.
    let before = files(&r.dir);
    for seed in [2, 3] {
        let again = publish::run(&p, year(), NoiseSource::seeded_for_tests(seed)).unwrap();
        assert!(!again.new);
        assert_eq!(files(&again.dir), before);
    }
    let ledger = ledger(root);
    // categories, crossings, totals, quality and daily: 0.1 + 0.1 + 0.04 + 0.005 + 0.005,
    // all from 2025.
    assert_eq!(ledger.releases().unwrap().len(), 5);
    assert_eq!(
        ledger.spent(2025).unwrap(),
        Ratio::from_decimal("0.25").unwrap()
    );
    assert_eq!(
        ledger.spent(2024).unwrap(),
        Ratio::from_decimal("0").unwrap()
    );

    // No raw id and no pseudonym (binary or hex) in any released byte.
    let mut ps = Pseudonymiser::new(&PseudonymKey::from_bytes(KEY));
    let mut needles = Vec::new();
    for id in &ids {
        let pseudonym = ps.pseudonym(id).unwrap().0;
        let hex: String = pseudonym.iter().map(|b| format!("{b:02x}")).collect();
        needles.extend([id.as_bytes().to_vec(), pseudonym.to_vec(), hex.into_bytes()]);
    }
    for (path, bytes) in &before {
        let found = common::find_any(bytes, &needles);
        assert!(found.is_none(), "{} holds an identifier", path.display());
    }
}

#[test]
fn a_release_over_budget_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, _) = setup(root, &["privacy.annual_rho=0.3"]);
    publish::run(&p, year(), NoiseSource::seeded_for_tests(1)).unwrap();
    // June's window (July 2024 – June 2025) reads two data years: 2024 has room, 2025 not.
    let month: Period = "2025-06".parse().unwrap();
    let err = publish::run(&p, month, NoiseSource::seeded_for_tests(2)).unwrap_err();
    assert!(matches!(err, PublishError::Ledger(_)));
    assert!(
        err.to_string().starts_with(
            "privacy budget exceeded for data year 2025: release t/2025-06 needs ρ = 0.25, 0.25 of ρ = 0.3 is spent, 0.05 remains"
        ),
        "{err}"
    );
    assert!(!root.join("release/t/2025-06").exists());
    let mut staged: Vec<_> = std::fs::read_dir(root.join("release/t"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    staged.sort();
    assert_eq!(
        staged,
        ["2025", "index.json"].map(std::ffi::OsString::from),
        "nothing staged; the index lists the one release"
    );
    // Refused in one transaction: nothing reserved, neither year charged.
    let ledger = ledger(root);
    assert_eq!(ledger.spent(2025).unwrap(), r("0.25"));
    assert_eq!(ledger.spent(2024).unwrap(), r("0"));
    // A second dataset name on the same store finds the same budget, not a fresh one: the
    // same year is the same query, republished from its noise at no cost; June still does
    // not fit.
    let mut other = p.clone();
    other.dataset = "another-name".into();
    assert!(
        publish::run(&other, year(), NoiseSource::seeded_for_tests(3))
            .unwrap()
            .new
    );
    assert_eq!(
        std::fs::read(root.join("release/another-name/2025/categories.csv")).unwrap(),
        std::fs::read(root.join("release/t/2025/categories.csv")).unwrap()
    );
    let err = publish::run(&other, month, NoiseSource::seeded_for_tests(3)).unwrap_err();
    assert!(err.to_string().contains("data year 2025"), "{err}");
    assert_eq!(ledger.spent(2025).unwrap(), r("0.25"));
}

#[test]
fn a_crash_after_reserving_is_settled_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, _) = setup(root, &[]);
    // A run reserved the month's categories and died before drawing any noise.
    {
        let mut ledger = Ledger::open(&root.join("state/ledger.sqlite"), StoreKind::Test).unwrap();
        let req = ReleaseRequest {
            dataset: "t",
            period: "2025-06",
            years: vec![2024, 2025],
            budget: r("0.25"),
            tables: vec![TableRequest {
                table: borderflow_core::TableId::Categories,
                query_digest: "x",
                rho: r("0.1"),
                sigma2: r("10"),
                delta_sq: 2,
                cells: 3,
            }],
            for_publication: false,
        };
        assert!(matches!(
            ledger.reserve(&req).unwrap(),
            Reservation::Reserved(_)
        ));
    }
    let r2 = publish::run(
        &p,
        "2025-06".parse().unwrap(),
        NoiseSource::seeded_for_tests(5),
    )
    .unwrap();
    assert_eq!(r2.settled, (0, 1), "no noise was drawn: aborted, returned");
    assert!(r2.new);
    let ledger = ledger(root);
    assert!(ledger.unfinished().unwrap().is_empty());
    for year in [2024, 2025] {
        assert_eq!(ledger.spent(year).unwrap(), r("0.25"));
    }
}

#[test]
fn a_release_that_fails_while_being_written_keeps_its_cost_and_its_noise() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, _) = setup(root, &[]);
    // Something in the way of the final rename: the staged release cannot be put in place.
    let blocked = root.join("release/t/2025");
    std::fs::create_dir_all(&blocked).unwrap();
    std::fs::write(blocked.join("stray.txt"), b"not a release").unwrap();
    let err = publish::run(&p, year(), NoiseSource::seeded_for_tests(1)).unwrap_err();
    assert!(matches!(err, PublishError::Io { .. }), "{err}");
    // Nothing staged is left, nothing was put in place; the noise was drawn, so its cost
    // stays spent and its values are kept.
    let mut left: Vec<String> = std::fs::read_dir(root.join("release/t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["2025"]);
    assert_eq!(std::fs::read_dir(&blocked).unwrap().count(), 1);
    let held = ledger(root);
    let unfinished = held.unfinished().unwrap();
    assert_eq!(unfinished.len(), 5);
    assert!(unfinished.iter().all(|t| t.status == Status::Sampled));
    assert_eq!(held.spent(2025).unwrap(), r("0.25"));
    let categories = unfinished.iter().find(|t| t.table == "categories").unwrap();
    let draws = held.draws(categories.id).unwrap().unwrap();
    // Once the way is clear the release is made from the same draws, paid for once, even
    // with another seed.
    std::fs::remove_dir_all(&blocked).unwrap();
    let made = publish::run(&p, year(), NoiseSource::seeded_for_tests(99)).unwrap();
    assert!(made.new);
    let held = ledger(root);
    assert_eq!(held.spent(2025).unwrap(), r("0.25"));
    assert_eq!(held.releases().unwrap().len(), 5);
    let csv = std::fs::read_to_string(made.dir.join("categories.csv")).unwrap();
    let published: Vec<i64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap_or(i64::MIN))
        .collect();
    for (v, d) in published.iter().zip(&draws) {
        assert!(*v == i64::MIN || v == d, "published {v}, drawn {d}");
    }
}

/// A release states the classification's measured accuracy beside its noise: the validation
/// suite's by default, an office's pilot figures when the pipeline names them, and a file that
/// is not one is refused before the ledger is asked, with nothing spent or written.
#[test]
fn a_release_states_the_methods_accuracy_from_the_suite_or_the_offices_pilot() {
    use borderflow_release::accuracy::{MethodAccuracy, WorldScore};
    use borderflow_release::manifest::Manifest;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, _) = setup(root, &["privacy.annual_rho=1"]);
    let manifest = |dir: &Path| -> Manifest {
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
    };
    let r = publish::run(&p, year(), NoiseSource::seeded_for_tests(1)).unwrap();
    let suite = MethodAccuracy::suite();
    assert_eq!(
        manifest(&r.dir).classification.accuracy,
        Some(suite.clone())
    );
    let report = std::fs::read_to_string(r.dir.join("report.html")).unwrap();
    assert!(report.contains("The classification's own error"));
    assert!(
        report.contains(&suite.source),
        "the report names its source"
    );

    // An office's pilot evaluation, named in the pipeline, replaces the suite's figures.
    let pilot = MethodAccuracy::of_worlds(
        "pilot survey match, 2025",
        [vec![WorldScore {
            category: "frontier_in",
            classified: 212,
            recall: 0.9433,
            precision: 0.9711,
        }]],
    );
    std::fs::write(root.join("pilot.json"), pilot.to_json()).unwrap();
    let mut with_pilot = p.clone();
    with_pilot.accuracy_file = Some(root.join("pilot.json"));
    let month: Period = "2025-06".parse().unwrap();
    let r = publish::run(&with_pilot, month, NoiseSource::seeded_for_tests(1)).unwrap();
    let stated = manifest(&r.dir).classification.accuracy.unwrap();
    assert_eq!(stated, pilot);
    assert_eq!(stated.categories["frontier_in"].recall, [0.943, 0.943]);
    let report = std::fs::read_to_string(r.dir.join("report.html")).unwrap();
    assert!(report.contains("pilot survey match, 2025") && report.contains("0.94"));

    // Not an accuracy file: refused by name, before the ledger; nothing spent or written.
    std::fs::write(root.join("bad.json"), "{\"source\": 3}").unwrap();
    let mut bad = p.clone();
    bad.accuracy_file = Some(root.join("bad.json"));
    bad.release_dir = root.join("other-release");
    classify::run(&p, "2025-05".parse().unwrap()).unwrap();
    let spent = ledger(root).releases().unwrap().len();
    let err = publish::run(
        &bad,
        "2025-05".parse().unwrap(),
        NoiseSource::seeded_for_tests(1),
    )
    .unwrap_err();
    assert!(matches!(err, PublishError::Accuracy(_)), "{err}");
    assert!(err.to_string().contains("bad.json"), "{err}");
    assert_eq!(ledger(root).releases().unwrap().len(), spent);
    assert!(
        !root
            .join("other-release")
            .join("t")
            .join("2025-05")
            .exists()
    );
}
