//! The budget audit an NSO's auditor would run: the shipped monthly and annual templates
//! publish two years of a world from one store — 24 monthly releases and two annual ones —
//! interleaved with a hostile sequence: the same release under another dataset name, `--set`
//! overrides raising ρ and the budget, a release that fails after its noise was drawn and is
//! run again, and a test seed on the production store. Then the ρ each data year was exposed
//! to is recomputed twice, independently: from the ledger's records (Δ²/(2σ²) over every
//! calendar year of the 365-day window each period reads) and from the public manifests
//! (`rho_of_this_release` over `budget_years`); both must agree and stay within the budget.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_pipeline::{Period, Pipeline, PublishError, classify, ingest, publish};
use borderflow_privacy::{Ledger, LedgerError, NoiseSource, Status};
use borderflow_release::Manifest;
use borderflow_synth::{OutputFormats, Scenario};
use chrono::{Datelike, Days};

/// A shipped template on the store under `root`, with `sets` applied.
fn template(root: &Path, name: &str, sets: &[&str]) -> Pipeline {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../pipelines/{name}.toml"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut all: Vec<String> = [
        "state_dir=\"state\"",
        "release_dir=\"release\"",
        "key.file=\"key\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(sets.iter().map(|s| s.to_string()));
    Pipeline::parse(name, &text, &all, root).unwrap()
}

fn publish_os(p: &Pipeline, period: Period) -> Result<bool, PublishError> {
    publish::run(p, period, NoiseSource::from_os().unwrap()).map(|r| r.new)
}

fn month(y: i32, m: u32) -> Period {
    Period::Month(y, m)
}

#[test]
fn two_years_of_the_shipped_templates_and_a_hostile_operator_stay_within_each_years_budget() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    borderflow_pseudo::PseudonymKey::from_bytes([9; 32])
        .write_new(&root.join("key"))
        .unwrap();
    let scenario = Scenario {
        subscribers: 120,
        seed: 3,
        days: 730,
        start: "2025-01-01".parse().unwrap(),
        ..Scenario::default()
    };
    borderflow_synth::generate(
        &scenario,
        &borderflow_refdata::RefData::embedded(),
        &root.join("world"),
        OutputFormats {
            csv: false,
            parquet: true,
        },
    )
    .unwrap();
    // The operator's feed, ingested into the store the templates share (canonical columns).
    let feed = Pipeline::parse(
        "feed.toml",
        "dataset = \"feed\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
         state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"key\"\n\
         [input]\npaths = [\"world/events.parquet\"]\n[presence]\nlookback_days = 730\n",
        &[],
        root,
    )
    .unwrap();
    ingest::run(&feed, None, &[]).unwrap();
    let monthly = template(root, "monthly", &[]);
    let annual = template(root, "annual", &[]);

    // Cron, on the first of each month from February 2025 to January 2027: last month's
    // release, and each January last year's annual release.
    for i in 0..24 {
        let period = month(2025 + i / 12, (i % 12 + 1) as u32);
        classify::run(&monthly, period).unwrap();
        if period == month(2025, 6) {
            // A failure after the noise was drawn (the release's place is taken): the cost
            // stays spent, and the next run publishes the same draws without a new charge.
            let blocked = root.join("release/ken-operator-monthly/2025-06");
            std::fs::create_dir_all(&blocked).unwrap();
            std::fs::write(blocked.join("stray"), b"x").unwrap();
            assert!(matches!(
                publish_os(&monthly, period),
                Err(PublishError::Io(_))
            ));
            std::fs::remove_dir_all(&blocked).unwrap();
        }
        assert!(publish_os(&monthly, period).unwrap(), "{period}");
        if let Period::Month(y, 12) = period {
            classify::run(&annual, Period::Year(y)).unwrap();
            assert!(publish_os(&annual, Period::Year(y)).unwrap());
        }
    }
    // The same annual release under another name: the same query, its noise reused, free.
    let renamed = template(root, "annual", &["dataset=\"fresh-budget-please\""]);
    assert!(publish_os(&renamed, Period::Year(2025)).unwrap());
    // A raised ρ finds no budget in any year, whatever the dataset name.
    let greedy = template(
        root,
        "monthly",
        &["privacy.categories.rho=0.2", "dataset=\"greedy\""],
    );
    for m in [1, 6, 11] {
        let err = publish_os(&greedy, month(2026, m)).unwrap_err();
        assert!(
            matches!(err, PublishError::Ledger(LedgerError::OverBudget { .. })),
            "{err}"
        );
    }
    // A raised budget is refused: a data year's budget is fixed at its first release.
    let richer = template(
        root,
        "monthly",
        &["privacy.annual_rho=1", "dataset=\"rich\""],
    );
    let err = publish_os(&richer, month(2026, 3)).unwrap_err();
    assert!(
        matches!(err, PublishError::Ledger(LedgerError::BudgetChanged { .. })),
        "{err}"
    );
    // A test seed on the production store is refused before anything is drawn.
    let err = publish::run(&monthly, month(2026, 2), NoiseSource::seeded_for_tests(1)).unwrap_err();
    assert!(
        matches!(err, PublishError::Ledger(LedgerError::StoreKind(_))),
        "{err}"
    );

    // The audit, first from the ledger's records alone.
    let ledger = Ledger::open_existing(&root.join("state/ledger.sqlite")).unwrap();
    let mut from_records: BTreeMap<i32, f64> = BTreeMap::new();
    for r in ledger.releases().unwrap() {
        if r.status == Status::Aborted || r.reused_from.is_some() {
            continue;
        }
        let period: Period = r.period.parse().unwrap();
        let last = period.last();
        let years: Vec<i32> = ((last - Days::new(364)).year()..=last.year()).collect();
        assert_eq!(
            r.years, years,
            "#{} {} charged {:?}",
            r.id, r.period, r.years
        );
        let rho = f64::from(r.delta_sq) / (2.0 * r.sigma2.to_f64());
        assert!((rho - r.rho.to_f64()).abs() < 1e-12, "#{}", r.id);
        for y in years {
            *from_records.entry(y).or_default() += rho;
        }
    }
    // Then from what was published: each manifest's ρ over the years it says it read.
    let mut from_manifests: BTreeMap<i32, f64> = BTreeMap::new();
    let mut releases = 0;
    for dataset in std::fs::read_dir(root.join("release")).unwrap() {
        for release in std::fs::read_dir(dataset.unwrap().path()).unwrap() {
            let path = release.unwrap().path();
            if !path.is_dir() {
                // The dataset's index.json beside its releases.
                continue;
            }
            let m = Manifest::read(&path).unwrap();
            releases += 1;
            for y in &m.privacy.budget_years {
                *from_manifests.entry(*y).or_default() += m.privacy.rho_of_this_release;
            }
        }
    }
    assert_eq!(releases, 24 + 2 + 1);
    assert_eq!(
        from_records.keys().collect::<Vec<_>>(),
        from_manifests.keys().collect::<Vec<_>>()
    );
    for (year, rho) in &from_records {
        assert!(
            *rho <= 0.25 + 1e-12,
            "data year {year} exposed to ρ = {rho}"
        );
        assert!(
            (from_manifests[year] - rho).abs() < 1e-9,
            "{year}: manifests say {}",
            from_manifests[year]
        );
        assert!(
            (ledger.spent(*year).unwrap().to_f64() - rho).abs() < 1e-9,
            "{year}"
        );
    }
    // 2025 is read by its 12 months, by 2026's January to November, and by its annual release.
    assert!(
        (from_records[&2025] - (23.0 * 0.0058 + 0.115)).abs() < 1e-9,
        "{from_records:?}"
    );
    assert!(
        (from_records[&2024] - 11.0 * 0.0058).abs() < 1e-9,
        "{from_records:?}"
    );
}
