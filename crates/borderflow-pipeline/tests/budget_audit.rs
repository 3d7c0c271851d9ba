//! The budget audit an NSO's auditor would run: drive the shipped monthly and annual templates
//! over two years on one store — 24 monthly releases, two annual ones, a second dataset name,
//! `--set` overrides raising ρ, a run killed after sampling and retried, a test seed on the
//! production store — then recompute, independently from the ledger's records (Δ², σ², the
//! window each period reads), the ρ every data year was exposed to, and check it against the
//! configured budget.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_pipeline::publish::years_read;
use borderflow_pipeline::{Period, Pipeline};
use borderflow_privacy::{
    DomainSizes, Ledger, LedgerError, PrivacyConfig, ReleasePlan, ReleaseRequest, Reservation,
    Span, Status, StoreKind, TableRequest,
};
use chrono::Days;

fn template(name: &str, sets: &[&str]) -> Pipeline {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../pipelines/{name}.toml"));
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Pipeline::load(&path, &sets).unwrap()
}

const SIZES: DomainSizes = DomainSizes {
    categories: 2491,
    crossings: 62250,
    totals: 13,
    window_days: 365,
};

/// What the publish stage reserves for `period` of `p` (its window: the 365-day look-back).
fn reserve(l: &mut Ledger, p: &Pipeline, period: Period) -> Result<Vec<i64>, LedgerError> {
    let last = period.last();
    let years = years_read(last - Days::new(364), last);
    let plan = ReleasePlan::new(
        &p.privacy,
        p.classify.max_crossing_pairs,
        Span::of_years(years.len()),
        SIZES,
    );
    let text = period.to_string();
    // The query: a December and its year ask the same of every table but crossings.
    let digests: Vec<String> = plan
        .tables
        .iter()
        .map(|t| match (t.name, period) {
            ("crossings", _) => format!("{}@{text}", t.name),
            (_, Period::Month(y, 12)) => format!("{}@{y}", t.name),
            _ => format!("{}@{text}", t.name),
        })
        .collect();
    let tables = plan
        .tables
        .iter()
        .zip(&digests)
        .map(|(t, d)| TableRequest {
            table: t.name,
            query_digest: d,
            rho: t.rho.clone(),
            sigma2: t.sigma2().unwrap(),
            delta_sq: t.delta_sq,
            cells: 3,
        })
        .collect();
    let req = ReleaseRequest {
        dataset: &p.dataset,
        period: &text,
        years,
        budget: PrivacyConfig::exact(p.privacy.annual_rho),
        tables,
        for_publication: true,
    };
    match l.reserve(&req)? {
        Reservation::AlreadyPublished(_) => Ok(Vec::new()),
        Reservation::Reserved(t) => Ok(t
            .iter()
            .map(|t| {
                if t.draws.is_none() {
                    l.mark_sampled(&[t.id]).unwrap();
                    l.store_draws(t.id, &[1, 2, 3]).unwrap();
                }
                t.id
            })
            .collect()),
    }
}

fn publish(l: &mut Ledger, p: &Pipeline, period: Period) -> Result<(), LedgerError> {
    let ids = reserve(l, p, period)?;
    if !ids.is_empty() {
        l.commit(&ids, "outputs").unwrap();
    }
    Ok(())
}

#[test]
fn two_years_of_the_shipped_templates_and_a_hostile_operator_stay_within_each_years_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let mut l = Ledger::open(&path, StoreKind::Production).unwrap();
    let monthly = template("monthly", &[]);
    let annual = template("annual", &[]);
    let mut refused = 0;
    // Cron on the first of each month from February 2025 to January 2027: last month's
    // release, and in January last year's annual one.
    for i in 0..24 {
        let (y, m) = (2025 + i / 12, (i % 12 + 1) as u32);
        publish(&mut l, &monthly, Period::Month(y, m)).unwrap();
        if m == 12 {
            publish(&mut l, &annual, Period::Year(y)).unwrap();
        }
    }
    // Hostile: the same annual under another dataset name (reuses, costs nothing), a raised ρ
    // through --set (refused: no year has room), a month re-run after a crash between
    // sampling and writing (resumed, not recharged), and a test seed on this store.
    let renamed = template("annual", &["dataset=fresh-budget-please"]);
    publish(&mut l, &renamed, Period::Year(2025)).unwrap();
    let greedy = template("monthly", &["privacy.categories.rho=0.2", "dataset=greedy"]);
    for m in 1..=12 {
        match publish(&mut l, &greedy, Period::Month(2026, m)) {
            Err(LedgerError::OverBudget { .. }) => refused += 1,
            other => panic!("a raised ρ must not find budget: {other:?}"),
        }
    }
    let crashed = template("monthly", &["dataset=crashy"]);
    let ids = reserve(&mut l, &crashed, Period::Month(2025, 6));
    assert!(matches!(ids, Err(LedgerError::OverBudget { .. })) || ids.is_ok());
    if let Ok(ids) = ids {
        // Killed after sampling: the next run resumes the same ids.
        let again = reserve(&mut l, &crashed, Period::Month(2025, 6)).unwrap();
        assert_eq!(again, ids);
    }
    assert!(Ledger::open(&path, StoreKind::Test).is_err());
    assert_eq!(refused, 12);

    // The audit, from the records alone: every live table's cost is Δ²/(2σ²) unless its values
    // were reused, charged to every calendar year of the 365-day window ending with its period.
    let mut exposure: BTreeMap<i32, f64> = BTreeMap::new();
    for r in l.releases().unwrap() {
        if r.status == Status::Aborted || r.reused_from.is_some() {
            continue;
        }
        let period: Period = r.period.parse().unwrap();
        let last = period.last();
        let years = years_read(last - Days::new(364), last);
        assert_eq!(r.years, years, "release #{} charged {:?}", r.id, r.years);
        let rho = f64::from(r.delta_sq) / (2.0 * r.sigma2.to_f64());
        assert!(
            (rho - r.rho.to_f64()).abs() < 1e-12,
            "#{}: {rho} vs {}",
            r.id,
            r.rho.to_f64()
        );
        for y in years {
            *exposure.entry(y).or_default() += rho;
        }
    }
    for (year, rho) in &exposure {
        assert!(
            *rho <= 0.25 + 1e-12,
            "data year {year} exposed to ρ = {rho}"
        );
        assert!(
            (l.spent(*year).unwrap().to_f64() - rho).abs() < 1e-9,
            "{year}"
        );
    }
    // 2025 is read by all 12 of its months, 11 of 2026's, and its annual release.
    assert!(
        (exposure[&2025] - (23.0 * 0.0058 + 0.115)).abs() < 1e-9,
        "{exposure:?}"
    );
    assert_eq!(
        l.budgets()
            .unwrap()
            .into_iter()
            .map(|(y, _)| y)
            .collect::<Vec<_>>(),
        vec![2024, 2025, 2026]
    );
}
