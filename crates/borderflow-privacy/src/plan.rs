//! What a release spends and how much noise each table gets: the pipeline's `[privacy]`
//! settings ([`PrivacyConfig`]) and the [`ReleasePlan`] drawn from them.
//!
//! A release noises three tables. Each SIM's contribution is bounded by construction, and the
//! bound is the table's squared L2 sensitivity Δ²:
//!
//! | table | what one SIM adds | Δ² |
//! |---|---|---|
//! | `categories` | one to exactly one (category × partner) cell | 1 |
//! | `crossings` | one to each of at most `max_crossing_pairs` (from × to) cells | `max_crossing_pairs` |
//! | `quality` | one to "SIMs seen" and to at most one of "too sparse", "on open spells" | 2 |
//!
//! A table's noise is set by its cost ρ, by σ, or by a 95% margin of error; the plan holds the
//! exact ρ that follows, and σ = Δ/√(2ρ) with it.

use serde::{Deserialize, Serialize};

use crate::accountant::{Z_95_DEN, Z_95_NUM, margin_of_error_95, rho_for, sigma2_for};
use crate::sampler::{Ratio, SamplerError};

/// Smallest noisy value published unless the pipeline says otherwise (FlowKit and the UN
/// handbook: counts of 15 or fewer are suppressed).
pub const DEFAULT_K: u32 = 16;

/// ρ of a table whose noise is not set.
pub const DEFAULT_TABLE_RHO: &str = "0.1";

/// ρ of the `quality` totals when the pipeline does not set it.
pub const QUALITY_RHO: &str = "0.01";

/// The `[privacy]` section of a pipeline (DESIGN §7; docs/privacy.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Budget per dataset and calendar year, in ρ (zCDP); fixed in the ledger once used.
    pub annual_rho: f64,
    /// δ at which ε is shown.
    pub delta: f64,
    /// Smallest noisy value published; below it a cell is suppressed.
    pub k: u32,
    /// The noise of the `categories` table (`[privacy.categories]`).
    pub categories: TableNoise,
    /// The noise of the `crossings` table (`[privacy.crossings]`).
    pub crossings: TableNoise,
    /// The noise of the release's SIM totals in quality.json and the manifest (SIMs seen, too
    /// sparse to classify, on open spells), `[privacy.quality]`; default ρ = 0.01.
    pub quality: TableNoise,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            annual_rho: 0.25,
            delta: 1e-9,
            k: DEFAULT_K,
            categories: TableNoise::default(),
            crossings: TableNoise::default(),
            quality: TableNoise::default(),
        }
    }
}

impl PrivacyConfig {
    /// An exact rational for a ρ given as a decimal in the pipeline file.
    pub fn exact(value: f64) -> Ratio {
        // The shortest decimal that reads back as `value` is what the user wrote.
        Ratio::from_decimal(&format!("{value}")).expect("a finite non-negative decimal")
    }

    /// Checks the values make sense; the message names the key at fault.
    pub fn check(&self) -> Result<(), String> {
        if !(self.annual_rho.is_finite() && self.annual_rho > 0.0 && self.annual_rho <= 100.0) {
            return Err(format!(
                "privacy.annual_rho = {} must lie in (0, 100]",
                self.annual_rho
            ));
        }
        self.categories.check("categories")?;
        self.crossings.check("crossings")?;
        self.quality.check("quality")?;
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(format!("privacy.delta = {} must lie in (0, 1)", self.delta));
        }
        if self.k == 0 {
            return Err("privacy.k must be at least 1".into());
        }
        Ok(())
    }
}

/// How much noise one table gets, set in one of three equivalent ways: its cost ρ, the
/// standard deviation σ of the noise on each cell, or the half-width of a cell's 95% margin of
/// error (1.96 σ). With none set, ρ = [`DEFAULT_TABLE_RHO`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableNoise {
    /// ρ spent on the table in one release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// Target standard deviation of each cell's noise, in subscribers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// Target half-width of each cell's 95% margin of error, in subscribers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_of_error: Option<f64>,
}

impl TableNoise {
    /// ρ of a table whose noise is not set.
    pub const DEFAULT_RHO: &'static str = DEFAULT_TABLE_RHO;

    /// The exact ρ this setting costs for a table of squared L2 sensitivity `delta_sq`:
    /// ρ as written, or Δ²/(2σ²) with σ as written or σ = margin/1.96 = margin·25/49.
    pub fn rho(&self, delta_sq: u32) -> Ratio {
        self.rho_or(delta_sq, Self::DEFAULT_RHO)
    }

    /// As [`TableNoise::rho`], with `default` (a decimal) when nothing is set.
    pub fn rho_or(&self, delta_sq: u32, default: &str) -> Ratio {
        let decimal = PrivacyConfig::exact;
        let from_sigma = |sigma: Ratio| {
            let sigma2 = Ratio::new(sigma.num() * sigma.num(), sigma.den() * sigma.den())
                .expect("a checked positive σ");
            rho_for(&sigma2, delta_sq).expect("a checked positive σ")
        };
        match (self.rho, self.sigma, self.margin_of_error) {
            (Some(rho), _, _) => decimal(rho),
            (_, Some(sigma), _) => from_sigma(decimal(sigma)),
            (_, _, Some(moe)) => {
                let moe = decimal(moe);
                from_sigma(
                    Ratio::new(moe.num() * Z_95_DEN, moe.den() * Z_95_NUM)
                        .expect("a checked margin"),
                )
            }
            _ => Ratio::from_decimal(default).expect("a decimal"),
        }
    }

    /// Checks at most one way is set and its value is positive; the message names
    /// `privacy.<table>.<key>`.
    pub fn check(&self, table: &str) -> Result<(), String> {
        let set = [
            ("rho", self.rho),
            ("sigma", self.sigma),
            ("margin_of_error", self.margin_of_error),
        ];
        let given: Vec<&str> = set
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect();
        if given.len() > 1 {
            return Err(format!(
                "privacy.{table}: set one of rho, sigma and margin_of_error, not {}",
                given.join(" and ")
            ));
        }
        for (key, v) in set {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0 && v <= 1e6)
            {
                return Err(format!("privacy.{table}.{key} = {v} must be above 0"));
            }
        }
        Ok(())
    }
}

/// One noised table of a release: its cost, sensitivity and threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    /// The table's name (`categories`, `crossings`, `quality`).
    pub name: &'static str,
    /// Its exact cost per release.
    pub rho: Ratio,
    /// Its squared L2 sensitivity Δ²: how much one SIM can move the table.
    pub delta_sq: u32,
    /// Smallest noisy value published.
    pub k: u32,
}

impl TablePlan {
    /// The variance parameter of each cell's discrete Gaussian, σ² = Δ²/(2ρ), exact.
    pub fn sigma2(&self) -> Result<Ratio, SamplerError> {
        sigma2_for(&self.rho, self.delta_sq)
    }

    /// The standard deviation of each cell's noise, σ = Δ/√(2ρ).
    pub fn sigma(&self) -> f64 {
        self.sigma2().map_or(f64::INFINITY, |s2| s2.to_f64().sqrt())
    }

    /// Half-width of a cell's 95% margin of error.
    pub fn margin_of_error_95(&self) -> f64 {
        margin_of_error_95(self.sigma())
    }

    /// The L2 sensitivity Δ.
    pub fn l2_sensitivity(&self) -> f64 {
        f64::from(self.delta_sq).sqrt()
    }
}

/// The noised tables of one release, in the order they are noised.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePlan {
    /// `categories`, `crossings`, `quality`.
    pub tables: [TablePlan; 3],
}

/// Name of the categories table.
pub const CATEGORIES: &str = "categories";
/// Name of the crossings table.
pub const CROSSINGS: &str = "crossings";
/// Name of the quality totals.
pub const QUALITY: &str = "quality";

impl ReleasePlan {
    /// The plan for `config`, with at most `max_crossing_pairs` pairs per SIM in `crossings`.
    /// The quality totals are not thresholded (k = 1): they are large by nature, and a small
    /// one is itself the quality signal.
    pub fn new(config: &PrivacyConfig, max_crossing_pairs: usize) -> Self {
        let max_pairs = u32::try_from(max_crossing_pairs).unwrap_or(u32::MAX);
        Self {
            tables: [
                TablePlan {
                    name: CATEGORIES,
                    rho: config.categories.rho(1),
                    delta_sq: 1,
                    k: config.k,
                },
                TablePlan {
                    name: CROSSINGS,
                    rho: config.crossings.rho(max_pairs),
                    delta_sq: max_pairs,
                    k: config.k,
                },
                TablePlan {
                    name: QUALITY,
                    rho: config.quality.rho_or(2, QUALITY_RHO),
                    delta_sq: 2,
                    k: 1,
                },
            ],
        }
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> &TablePlan {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .expect("every released table is planned")
    }

    /// The release's total cost, exact.
    pub fn rho(&self) -> Ratio {
        self.tables
            .iter()
            .fold(Ratio::new(0u32, 1u32).expect("zero"), |a, t| a.add(&t.rho))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(rho: Option<f64>, sigma: Option<f64>, moe: Option<f64>) -> TableNoise {
        TableNoise {
            rho,
            sigma,
            margin_of_error: moe,
        }
    }

    #[test]
    fn a_tables_noise_is_set_by_rho_sigma_or_margin_of_error_exactly() {
        let r = |s: &str| Ratio::from_fraction(s).unwrap();
        assert_eq!(noise(None, None, None).rho(1), r("1/10"));
        assert_eq!(noise(Some(0.05), None, None).rho(4), r("1/20"));
        // ρ = Δ²/(2σ²): σ = 2 with Δ² = 1 → 1/8; σ = 5 with Δ² = 4 → 4/50.
        assert_eq!(noise(None, Some(2.0), None).rho(1), r("1/8"));
        assert_eq!(noise(None, Some(5.0), None).rho(4), r("2/25"));
        // A margin of ±3.92 is σ = 3.92/1.96 = 2.
        assert_eq!(noise(None, None, Some(3.92)).rho(1), r("1/8"));
        assert_eq!(
            noise(Some(0.1), Some(2.0), None).check("crossings"),
            Err(
                "privacy.crossings: set one of rho, sigma and margin_of_error, not rho and sigma"
                    .into()
            )
        );
        assert_eq!(
            noise(None, None, Some(-1.0)).check("categories"),
            Err("privacy.categories.margin_of_error = -1 must be above 0".into())
        );
    }

    #[test]
    fn the_default_plan_costs_what_the_docs_say() {
        let plan = ReleasePlan::new(&PrivacyConfig::default(), 4);
        let [c, x, q] = &plan.tables;
        assert_eq!((c.delta_sq, x.delta_sq, q.delta_sq), (1, 4, 2));
        assert_eq!((c.k, x.k, q.k), (16, 16, 1));
        assert_eq!(plan.rho(), Ratio::from_decimal("0.21").unwrap());
        // σ = Δ/√(2ρ): √(1/0.2) = 2.236…, √(4/0.2) = 4.472…
        assert!((c.sigma() - 5f64.sqrt()).abs() < 1e-12);
        assert!((x.sigma() - 20f64.sqrt()).abs() < 1e-12);
        assert!((c.margin_of_error_95() - 1.96 * 5f64.sqrt()).abs() < 1e-12);
    }
}
