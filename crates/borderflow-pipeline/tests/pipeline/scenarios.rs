//! The classification against ground truth on every scenario of the suite in `scenarios/`,
//! with the same default rules: recall and precision of at least 0.95 for every category with
//! at least 50 classified true SIMs, and a total variation distance of the category shares of
//! at most 0.02. The exceptions are listed in [`SHORTFALLS`], each with the floor it must not
//! fall below (and to be removed once it meets the bound); docs/methodology.md reports the
//! figures. The suite's ranges per category are what releases publish as the method's own
//! error (`crates/borderflow-release/validation.json`): the test fails when that file no longer
//! says what the rules do (`BORDERFLOW_WRITE_VALIDATION=1` rewrites it).

use std::path::{Path, PathBuf};

use borderflow_core::Category;
use borderflow_pipeline::evaluate::{Evaluation, World, evaluate};
use borderflow_refdata::RefData;
use borderflow_release::accuracy::MethodAccuracy;
use borderflow_synth::{OutputFormats, Scenario, generate};

/// Recall and precision asked of every category with enough SIMs.
const MIN_SCORE: f64 = 0.95;
/// SIMs a category needs in a scenario for its scores to be asserted.
const MIN_SIMS: u64 = 50;
/// Largest total variation distance of the category shares.
const MAX_TVD: f64 = 0.02;

/// Scores known to fall short of [`MIN_SCORE`], as measured: (scenario, category, metric,
/// floor, why). What each is (docs/methodology.md, "Accuracy"):
const SHORTFALLS: [(&str, &str, &str, f64, Why); 4] = [
    ("data-only", "frontier_out", "recall", 0.92, Why::DarkAbroad),
    (
        "dim-roaming",
        "frontier_out",
        "recall",
        0.92,
        Why::DarkAbroad,
    ),
    (
        "spillover",
        "frontier_out",
        "recall",
        0.92,
        Why::SpilloverCommute,
    ),
    (
        "spillover",
        "emigrant",
        "precision",
        0.92,
        Why::SpilloverCommute,
    ),
];

/// Why a score falls short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Outbound movers whose phones are dark abroad (data-only phones with data roaming off; a
    /// local SIM at work): no crossing on record, they read as residents. Checked: the recall
    /// among the SIMs the records show crossing meets [`MIN_SCORE`].
    DarkAbroad,
    /// Own SIMs that commute into the very country whose network reaches them at home, at
    /// night too: the spillover cannot be told from the commute on the same network.
    SpilloverCommute,
}

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

fn check(name: &str, e: &Evaluation) -> Vec<String> {
    let mut failures = Vec::new();
    for c in Category::ALL {
        let c = c.as_str();
        if e.truly_classified(c) < MIN_SIMS {
            continue;
        }
        for (metric, value) in [("recall", e.recall(c)), ("precision", e.precision(c))] {
            let value = value.unwrap_or(0.0);
            let known = SHORTFALLS
                .iter()
                .find(|k| k.0 == name && k.1 == c && k.2 == metric);
            match known {
                Some(_) if value >= MIN_SCORE => failures.push(format!(
                    "{name}: {c} {metric} {value:.3} now meets {MIN_SCORE:.2}: remove it from SHORTFALLS"
                )),
                Some(k) if value < k.3 => failures.push(format!(
                    "{name}: {c} {metric} {value:.3} < its recorded floor {:.2}",
                    k.3
                )),
                Some(k) if k.4 == Why::DarkAbroad => {
                    let seen = e.recall_of_crossing(c).unwrap_or(0.0);
                    if seen < MIN_SCORE {
                        failures.push(format!(
                            "{name}: {c} recall {seen:.3} among the SIMs seen crossing < {MIN_SCORE:.2}: not only phones dark abroad"
                        ));
                    }
                }
                Some(_) => {}
                None if value < MIN_SCORE => {
                    failures.push(format!("{name}: {c} {metric} {value:.3} < {MIN_SCORE:.2}"))
                }
                None => {}
            }
        }
    }
    if e.tvd() > MAX_TVD {
        failures.push(format!("{name}: tvd {:.4} > {MAX_TVD}", e.tvd()));
    }
    failures
}

#[test]
fn every_scenario_of_the_suite_is_classified_within_its_bounds() {
    let files = suite();
    assert!(files.len() >= 13, "the suite has {} scenarios", files.len());
    let rd = RefData::embedded();
    let mut failures = Vec::new();
    let mut scores = Vec::new();
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
        scores.push(e.scores());
    }
    let measured = MethodAccuracy::of_worlds(
        &format!(
            "borderflow {} validation suite: {} synthetic worlds (scenarios/)",
            env!("CARGO_PKG_VERSION"),
            files.len()
        ),
        scores,
    );
    if measured != MethodAccuracy::suite() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../borderflow-release/validation.json");
        if std::env::var_os("BORDERFLOW_WRITE_VALIDATION").is_some() {
            std::fs::write(&path, measured.to_json()).unwrap();
        } else {
            failures.push(format!(
                "{} no longer says what the rules do; rerun with BORDERFLOW_WRITE_VALIDATION=1 to write:\n{}",
                path.display(),
                measured.to_json()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
