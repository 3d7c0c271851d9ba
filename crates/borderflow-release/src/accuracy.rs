//! The classification's own error, published beside the noise.
//!
//! Noise margins say how far a released count may be from the exact count of classified SIMs;
//! they say nothing of whether the SIMs were classified right. That second error is measured
//! against ground truth: by default on the validation suite of the version that made the
//! release (the synthetic worlds of `scenarios/`, [`MethodAccuracy::suite`]), as the range of
//! each category's recall and precision across the worlds where it has enough SIMs. A
//! statistics office that has evaluated the rules on its own pilot data (`borderflow evaluate
//! --accuracy-json`) names that file as the pipeline's `accuracy_file` instead, and the release
//! carries its figures and says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The validation suite's figures, as measured by the suite test when this version was built
/// (the test fails when they no longer match what the rules do).
const SUITE: &str = include_str!("../validation.json");

/// SIMs a category needs in a world for its scores to count.
pub const MIN_SIMS: u64 = 50;

/// Measured accuracy of the classification, per category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodAccuracy {
    /// Where the figures come from: the validation suite of this version, or an office's
    /// pilot evaluation.
    pub source: String,
    /// The worlds evaluated.
    pub worlds: u32,
    /// SIMs a category needed in a world to be scored there.
    pub min_sims: u64,
    /// Per category code: the range of its recall and precision across the worlds.
    pub categories: BTreeMap<String, CategoryAccuracy>,
}

/// One category's recall and precision, lowest and highest across the worlds that score it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryAccuracy {
    /// Worlds with at least [`MethodAccuracy::min_sims`] classified SIMs of the category.
    pub worlds: u32,
    /// Share of its classified SIMs put in it: `[lowest, highest]`.
    pub recall: [f64; 2],
    /// Share of the SIMs put in it that belong there: `[lowest, highest]`.
    pub precision: [f64; 2],
}

/// One world's scores of one category, as an evaluation gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldScore<'a> {
    /// The category code.
    pub category: &'a str,
    /// SIMs truly of the category that were classified at all.
    pub classified: u64,
    /// Recall.
    pub recall: f64,
    /// Precision (0 when nothing was put in the category).
    pub precision: f64,
}

/// Why an accuracy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccuracyError {
    /// It cannot be read.
    #[error("{}: cannot read the accuracy file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not an accuracy file.
    #[error("{}: not an accuracy file (borderflow evaluate --accuracy-json writes one): {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

impl borderflow_core::FailureKind for AccuracyError {
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::Config
    }
}

/// Three decimals: what a reader compares, and what keeps the suite's file stable.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl MethodAccuracy {
    /// The validation suite's figures for this version.
    pub fn suite() -> Self {
        serde_json::from_str(SUITE).expect("validation.json is an accuracy file")
    }

    /// The figures of `worlds` evaluations (each a list of category scores), categories
    /// scored where they have at least [`MIN_SIMS`] classified SIMs.
    pub fn of_worlds<'a>(
        source: &str,
        worlds: impl IntoIterator<Item = Vec<WorldScore<'a>>>,
    ) -> Self {
        let mut categories: BTreeMap<String, CategoryAccuracy> = BTreeMap::new();
        let mut n = 0;
        for world in worlds {
            n += 1;
            for s in world.into_iter().filter(|s| s.classified >= MIN_SIMS) {
                let (r, p) = (round3(s.recall), round3(s.precision));
                categories
                    .entry(s.category.to_string())
                    .and_modify(|c| {
                        c.worlds += 1;
                        c.recall = [c.recall[0].min(r), c.recall[1].max(r)];
                        c.precision = [c.precision[0].min(p), c.precision[1].max(p)];
                    })
                    .or_insert(CategoryAccuracy {
                        worlds: 1,
                        recall: [r, r],
                        precision: [p, p],
                    });
            }
        }
        MethodAccuracy {
            source: source.to_string(),
            worlds: n,
            min_sims: MIN_SIMS,
            categories,
        }
    }

    /// Reads an accuracy file (`borderflow evaluate --accuracy-json`).
    pub fn read(path: &Path) -> Result<Self, AccuracyError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccuracyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| AccuracyError::Format {
            path: path.to_path_buf(),
            source,
        })
    }

    /// As pretty JSON, the form of `validation.json` and of `--accuracy-json`.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("accuracy serialises");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_taken_over_the_worlds_that_score_a_category() {
        let w = |c: &'static str, n, r, p| WorldScore {
            category: c,
            classified: n,
            recall: r,
            precision: p,
        };
        let a = MethodAccuracy::of_worlds(
            "test",
            vec![
                vec![w("resident", 900, 0.99, 0.98), w("emigrant", 40, 0.5, 0.5)],
                vec![
                    w("resident", 800, 0.9714, 0.9996),
                    w("emigrant", 60, 0.95, 0.9),
                ],
            ],
        );
        assert_eq!(a.worlds, 2);
        let r = a.categories["resident"];
        assert_eq!(
            (r.worlds, r.recall, r.precision),
            (2, [0.971, 0.99], [0.98, 1.0])
        );
        // The world with 40 emigrants does not score them.
        let e = a.categories["emigrant"];
        assert_eq!(
            (e.worlds, e.recall, e.precision),
            (1, [0.95, 0.95], [0.9, 0.9])
        );
        let back: MethodAccuracy = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn the_suite_file_covers_every_category_it_scores() {
        let s = MethodAccuracy::suite();
        assert!(s.worlds >= 13, "{}", s.worlds);
        for (c, a) in &s.categories {
            assert!(c.parse::<borderflow_core::Category>().is_ok(), "{c}");
            assert!(a.recall[0] <= a.recall[1] && a.precision[0] <= a.precision[1]);
        }
    }
}
