//! The publish stage end to end: a release under the ledger's discipline — complete or absent,
//! never noised twice, refused over budget with nothing written, a crash settled, and no
//! identifier in any released byte.

mod common;

use std::path::{Path, PathBuf};

use borderflow_pipeline::{Period, Pipeline, PublishError, classify, ingest, publish};
use borderflow_privacy::{Ledger, NoiseSource, Ratio, Request, Reservation};
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
            "manifest.json",
            "quality.json",
            "report.html"
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
        match f[4] {
            "" => f[6] == "true",
            v => v.parse::<i64>().unwrap() >= 16 && f[6] == "false",
        }
    }));

    // Re-running returns the release byte for byte, with one debit in the ledger.
    let before = files(&r.dir);
    for seed in [2, 3] {
        let again = publish::run(&p, year(), NoiseSource::seeded_for_tests(seed)).unwrap();
        assert!(!again.new);
        assert_eq!(files(&again.dir), before);
    }
    let ledger = Ledger::open(&root.join("state/ledger.sqlite")).unwrap();
    // categories, crossings and the quality totals: 0.1 + 0.1 + 0.01.
    assert_eq!(ledger.releases("t").unwrap().len(), 3);
    assert_eq!(
        ledger.spent("t", 2025).unwrap(),
        Ratio::from_decimal("0.21").unwrap()
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
    let month: Period = "2025-06".parse().unwrap();
    let err = publish::run(&p, month, NoiseSource::seeded_for_tests(2)).unwrap_err();
    assert!(matches!(err, PublishError::Ledger(_)));
    assert!(
        err.to_string().starts_with(
            "privacy budget exceeded for dataset t, 2025: this release needs ρ = 0.1, 0.21 of ρ = 0.3 is spent, 0.09 remains"
        ),
        "{err}"
    );
    assert!(!root.join("release/t/2025-06").exists());
    let staged: Vec<_> = std::fs::read_dir(root.join("release/t"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(staged, vec![std::ffi::OsString::from("2025")]);
    // The refused release's first table was reserved then returned: spent is unchanged.
    let ledger = Ledger::open(&root.join("state/ledger.sqlite")).unwrap();
    assert_eq!(
        ledger.spent("t", 2025).unwrap(),
        Ratio::from_decimal("0.21").unwrap()
    );
}

#[test]
fn a_crash_after_reserving_is_settled_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, _) = setup(root, &[]);
    // A run reserved the month's categories and died before writing anything.
    {
        let mut ledger = Ledger::open(&root.join("state/ledger.sqlite")).unwrap();
        let budget = ledger
            .budget("t", 2025, &Ratio::from_decimal("0.25").unwrap())
            .unwrap();
        let rho = Ratio::from_decimal("0.1").unwrap();
        let req = Request {
            dataset: "t",
            year: 2025,
            period: "2025-06",
            table: "categories",
            rho: &rho,
            inputs_digest: "x",
            for_publication: true,
        };
        assert!(matches!(
            ledger.reserve(&req, &budget).unwrap(),
            Reservation::Reserved(_)
        ));
    }
    let r = publish::run(
        &p,
        "2025-06".parse().unwrap(),
        NoiseSource::seeded_for_tests(5),
    )
    .unwrap();
    assert_eq!(
        r.settled,
        (0, 1),
        "nothing was published: aborted, budget returned"
    );
    assert!(r.new);
    let ledger = Ledger::open(&root.join("state/ledger.sqlite")).unwrap();
    assert!(ledger.pending("t").unwrap().is_empty());
    assert_eq!(
        ledger.spent("t", 2025).unwrap(),
        Ratio::from_decimal("0.21").unwrap()
    );
}

#[test]
fn a_release_that_fails_while_being_written_is_absent_and_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (p, _) = setup(root, &[]);
    // Something in the way of the final rename: the staged release cannot be put in place.
    let blocked = root.join("release/t/2025");
    std::fs::create_dir_all(&blocked).unwrap();
    std::fs::write(blocked.join("stray.txt"), b"not a release").unwrap();
    let err = publish::run(&p, year(), NoiseSource::seeded_for_tests(1)).unwrap_err();
    assert!(matches!(err, PublishError::Io { .. }), "{err}");
    // Nothing staged is left, nothing was put in place, the reservation was returned.
    let mut left: Vec<String> = std::fs::read_dir(root.join("release/t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["2025"]);
    assert_eq!(
        std::fs::read_dir(&blocked).unwrap().count(),
        1,
        "only the stray file"
    );
    let ledger = Ledger::open(&root.join("state/ledger.sqlite")).unwrap();
    assert!(ledger.pending("t").unwrap().is_empty());
    assert_eq!(
        ledger.spent("t", 2025).unwrap(),
        Ratio::from_decimal("0").unwrap()
    );
    // Once the way is clear the release is made, and paid for once.
    std::fs::remove_dir_all(&blocked).unwrap();
    assert!(
        publish::run(&p, year(), NoiseSource::seeded_for_tests(1))
            .unwrap()
            .new
    );
    let ledger = Ledger::open(&root.join("state/ledger.sqlite")).unwrap();
    assert_eq!(
        ledger.spent("t", 2025).unwrap(),
        Ratio::from_decimal("0.21").unwrap()
    );
}
