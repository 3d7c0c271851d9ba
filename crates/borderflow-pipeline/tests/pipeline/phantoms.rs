//! The phantom-rate attack on the threshold: at the monthly template's settings (a window over
//! two years, the smallest ρ the shipped templates use), tables whose every cell is truly zero
//! are noised over and over from a fixed test seed, and the cells published by noise alone
//! are counted. With the threshold max(k, τ) they stay at the configured rate per table; with
//! k alone, as before, most of a release would be phantoms.

use std::path::Path;

use borderflow_core::TableId;
use borderflow_pipeline::Pipeline;
use borderflow_privacy::{DomainSizes, NoiseSource, ReleasePlan, Span, draw};
use borderflow_refdata::RefData;
use borderflow_release::{Domain, TOTAL_CELLS};

#[test]
fn true_zero_cells_are_published_at_the_configured_rate_not_by_the_thousand() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/monthly.toml");
    let p = Pipeline::load(&path, &[]).unwrap();
    let rd = RefData::embedded();
    let countries: Vec<_> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(p.measuring_country, &countries);
    let plan = ReleasePlan::new(
        &p.privacy,
        p.classify.max_crossing_pairs,
        Span::SeveralYears,
        DomainSizes {
            categories: domain.categories.len(),
            crossings: domain.crossings.len(),
            totals: TOTAL_CELLS,
            window_days: 365,
        },
    );
    let mut noise = NoiseSource::seeded_for_tests(2026);
    for (name, releases) in [(TableId::Categories, 40), (TableId::Crossings, 30)] {
        let t = plan.table(name).unwrap();
        let zeros = vec![0u64; t.cells];
        let sigma2 = t.sigma2().unwrap();
        let (mut phantoms, mut above_k) = (0usize, 0usize);
        for _ in 0..releases {
            let noisy = draw(&zeros, &sigma2, &[], &mut noise).unwrap();
            phantoms += noisy.iter().filter(|v| **v >= t.threshold).count();
            above_k += noisy.iter().filter(|v| **v >= i64::from(t.k)).count();
        }
        let expected = t.expected_phantoms() * releases as f64;
        assert!(t.expected_phantoms() <= p.privacy.phantom_rate, "{name}");
        // Poisson counts: within five standard deviations of what the rule promises.
        assert!(
            (phantoms as f64) <= expected + 5.0 * expected.sqrt() + 1.0,
            "{name}: {phantoms} phantoms in {releases} releases, {expected:.1} expected"
        );
        // k alone lets a quarter to a third of the empty cells through in every release.
        assert!(
            above_k > releases * t.cells / 5,
            "{name}: {above_k} above k = {}",
            t.k
        );
        eprintln!(
            "{name}: threshold {}, {phantoms} phantoms in {releases} releases ({expected:.1} expected); k alone: {above_k}",
            t.threshold
        );
    }
}
