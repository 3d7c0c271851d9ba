//! The classification against ground truth on every scenario of the suite in `scenarios/`,
//! with the same default rules: recall and precision of at least 0.90 for every category with
//! at least 50 true SIMs, and a total variation distance of the category shares of at most
//! 0.03. Where a scenario does not reach that yet, the shortfall is listed in [`SHORTFALLS`]
//! with the floor it is held to, so that it cannot get worse unnoticed; docs/methodology.md
//! reports the figures.

use std::path::{Path, PathBuf};

use borderflow_core::Category;
use borderflow_pipeline::evaluate::{Evaluation, World, evaluate};
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};

/// Recall and precision asked of every category with enough SIMs.
const MIN_SCORE: f64 = 0.90;
/// SIMs a category needs in a scenario for its scores to be asserted.
const MIN_SIMS: u64 = 50;
/// Largest total variation distance of the category shares.
const MAX_TVD: f64 = 0.03;

/// Known shortfalls: (scenario, category or "tvd", metric, floor). Each is a limit of what the
/// records show or of the rules today, explained in docs/methodology.md.
const SHORTFALLS: &[(&str, &str, &str, f64)] = &[
    // Own SIMs barely visible abroad: stays abroad and emigration rest on few sightings.
    ("dim-roaming", "seasonal_in", "recall", 0.87),
    ("dim-roaming", "seasonal_out", "recall", 0.76),
    ("dim-roaming", "seasonal_out", "precision", 0.67),
    ("dim-roaming", "temporary_out", "recall", 0.76),
    ("dim-roaming", "temporary_out", "precision", 0.84),
    ("dim-roaming", "emigrant", "recall", 0.66),
    ("dim-roaming", "tvd", "tvd", 0.048),
    // One to three events on an active day: stays break into pieces, sparse outbound
    // commuters fall short of the weekly pattern.
    ("low-activity", "frontier_out", "recall", 0.78),
    ("low-activity", "seasonal_in", "recall", 0.80),
    ("low-activity", "seasonal_in", "precision", 0.81),
    ("low-activity", "seasonal_out", "precision", 0.66),
    ("low-activity", "temporary_in", "recall", 0.81),
    ("low-activity", "temporary_out", "recall", 0.72),
    ("low-activity", "temporary_out", "precision", 0.87),
    ("low-activity", "tvd", "tvd", 0.041),
    // Temporary stays abroad seen on too few nights to join into one spell read as seasonal.
    ("market-traders", "seasonal_in", "recall", 0.87),
    ("market-traders", "seasonal_in", "precision", 0.87),
    ("market-traders", "seasonal_out", "precision", 0.85),
    ("early-commuters", "seasonal_out", "precision", 0.86),
    ("two-years", "seasonal_out", "precision", 0.87),
    ("two-years", "temporary_out", "recall", 0.86),
];

fn suite() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn floor(scenario: &str, what: &str, metric: &str) -> f64 {
    SHORTFALLS
        .iter()
        .find(|(s, w, m, _)| *s == scenario && *w == what && *m == metric)
        .map_or(if metric == "tvd" { MAX_TVD } else { MIN_SCORE }, |f| f.3)
}

fn check(name: &str, e: &Evaluation) -> Vec<String> {
    let mut failures = Vec::new();
    for c in Category::ALL {
        let c = c.as_str();
        if e.truly_classified(c) < MIN_SIMS {
            continue;
        }
        for (metric, value) in [("recall", e.recall(c)), ("precision", e.precision(c))] {
            let value = value.unwrap_or(0.0);
            let floor = floor(name, c, metric);
            if value < floor {
                failures.push(format!("{name}: {c} {metric} {value:.3} < {floor:.2}"));
            }
        }
    }
    let limit = floor(name, "tvd", "tvd");
    if e.tvd() > limit {
        failures.push(format!("{name}: tvd {:.4} > {limit}", e.tvd()));
    }
    failures
}

#[test]
fn every_scenario_of_the_suite_is_classified_within_its_bounds() {
    let files = suite();
    assert!(files.len() >= 8, "the suite has {} scenarios", files.len());
    let rd = RefData::embedded();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let scenario = Scenario::from_file(file).unwrap();
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("world");
        let formats = OutputFormats {
            csv: false,
            parquet: true,
        };
        generate(&scenario, &rd, &dir, formats).unwrap();
        let world = World::generated(
            &dir,
            scenario.measuring_country,
            &scenario.operator_plmn,
            scenario.start,
            scenario.days,
        );
        let e = evaluate(&world, &work.path().join("evaluation")).unwrap();
        println!("== {name}\n{}", e.render());
        failures.extend(check(&name, &e));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_listed_shortfall_names_a_scenario_of_the_suite() {
    let names: Vec<String> = suite()
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for (s, what, metric, floor) in SHORTFALLS {
        assert!(names.iter().any(|n| n == s), "{s}");
        assert!(*what == "tvd" || what.parse::<Category>().is_ok(), "{what}");
        assert!(["recall", "precision", "tvd"].contains(metric));
        assert!(*floor > 0.0 && *floor <= 1.0);
    }
}
