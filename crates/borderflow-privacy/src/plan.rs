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
//! | `totals` | one to its category's total and to at most one direction's | 2 |
//! | `quality` | 1 to SIMs seen, ≤ 1 to too sparse and to open spells, ≤ the window's days to SIM-days (each cell scaled by its bound) | 4 |
//! | `daily` | one to SIMs seen on each day it was seen, in at most one calendar year's days | min(look-back days, 366) |
//!
//! Over a window of two calendar years, the count tables' Δ² doubles (replace-one, [`Span`]);
//! `quality` and `daily` bound each cell's change already, so theirs stay.
//!
//! A table's noise is set by its cost ρ, by σ, or by a 95% margin of error; the plan holds the
//! exact ρ that follows, and σ = Δ/√(2ρ) with it.

use borderflow_core::{Noised, QualityTotals, TableId};
use serde::{Deserialize, Serialize};

use crate::accountant::{Z_95_DEN, Z_95_NUM, margin_of_error_95, rho_for, sigma2_for};
use crate::sampler::{Ratio, SamplerError};

/// Smallest noisy value published unless the pipeline says otherwise (FlowKit and the UN
/// handbook: counts of 15 or fewer are suppressed).
pub const DEFAULT_K: u32 = 16;

/// ρ of a table whose noise is not set.
pub const DEFAULT_TABLE_RHO: &str = "0.1";

/// ρ of the `quality` totals when the pipeline does not set it.
pub const QUALITY_RHO: &str = "0.005";

/// ρ of the `daily` series of SIMs seen when the pipeline does not set it: σ ≈ 191 SIMs per day
/// over a 365-day look-back.
pub const DAILY_RHO: &str = "0.005";

/// ρ of the headline `totals` when the pipeline does not set it: σ = 5 on a one-year window,
/// a 95% margin of ±9.8 SIMs before combination with the cell sums.
pub const TOTALS_RHO: &str = "0.04";

/// The `[privacy]` section of a pipeline (docs/design.md §7; docs/privacy.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Budget per calendar year of data, in ρ (zCDP), for the whole store; fixed in the ledger
    /// at the year's first release.
    pub annual_rho: f64,
    /// δ at which ε is shown.
    pub delta: f64,
    /// Smallest noisy value published; below it a cell is suppressed.
    pub k: u32,
    /// The noise of the `categories` table (`[privacy.categories]`).
    pub categories: TableNoise,
    /// The noise of the `crossings` table (`[privacy.crossings]`).
    pub crossings: TableNoise,
    /// The noise of the headline totals per category and flow direction
    /// (`[privacy.totals]`); default ρ = 0.04.
    pub totals: TableNoise,
    /// The noise of the release's quality totals in quality.json (SIMs seen, too sparse to
    /// classify, on open spells, SIM-days observed), `[privacy.quality]`; default ρ = 0.005.
    pub quality: TableNoise,
    /// The noise of the daily series of SIMs seen over the look-back in quality.json, from
    /// which days without data are read (`[privacy.daily]`); default ρ = 0.005.
    pub daily: TableNoise,
    /// Expected true-zero cells a table may publish by noise alone; sets the threshold τ.
    pub phantom_rate: f64,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            annual_rho: 0.25,
            delta: 1e-9,
            k: DEFAULT_K,
            categories: TableNoise::default(),
            crossings: TableNoise::default(),
            totals: TableNoise::default(),
            quality: TableNoise::default(),
            daily: TableNoise::default(),
            phantom_rate: DEFAULT_PHANTOM_RATE,
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
        self.totals.check("totals")?;
        self.quality.check("quality")?;
        self.daily.check("daily")?;
        if !(self.phantom_rate.is_finite() && self.phantom_rate > 0.0 && self.phantom_rate < 1000.0)
        {
            return Err(format!(
                "privacy.phantom_rate = {} must lie in (0, 1000)",
                self.phantom_rate
            ));
        }
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
            // ρ below 1e-9 would ask for noise beyond what a 64-bit count can carry; above
            // 100 it would spend the largest annual budget at once.
            let (lo, hi) = if key == "rho" {
                (1e-9, 100.0)
            } else {
                (1e-3, 1e6)
            };
            if let Some(v) = v
                && !(v.is_finite() && (lo..=hi).contains(&v))
            {
                // Written as the user would: 1e-300, not three hundred zeros.
                let shown = if v != 0.0 && (v.abs() < 1e-4 || v.abs() > 1e7) {
                    format!("{v:e}")
                } else {
                    format!("{v}")
                };
                return Err(format!(
                    "privacy.{table}.{key} = {shown} must lie in [{lo}, {hi}]"
                ));
            }
        }
        Ok(())
    }
}

/// How a release's window sits on calendar years. The unit of privacy is one SIM's data in one
/// calendar year: removing it from a window inside one year removes the SIM from the tables
/// (add/remove), but from a window over several years the SIM may stay, counted elsewhere
/// (replace-one), so each count-table's sensitivity doubles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The window reads one calendar year.
    OneYear,
    /// The window reads two or more calendar years.
    SeveralYears,
}

impl Span {
    /// The span of a window reading `years` calendar years.
    pub fn of_years(years: usize) -> Self {
        if years > 1 {
            Span::SeveralYears
        } else {
            Span::OneYear
        }
    }

    /// The factor on a count table's Δ²: 1 for add/remove, 2 for replace-one.
    pub fn factor(self) -> u32 {
        match self {
            Span::OneYear => 1,
            Span::SeveralYears => 2,
        }
    }
}

/// One noised table of a release: its cost, sensitivity and threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    /// Which table.
    pub name: TableId,
    /// Its exact cost per release, charged to every data year the window reads.
    pub rho: Ratio,
    /// Its squared L2 sensitivity Δ² under the unit of privacy: how much one SIM-year can
    /// move the table (cells scaled by [`TablePlan::scales`] first).
    pub delta_sq: u32,
    /// Smallest noisy value published (k of the pipeline; 1 for the quality totals).
    pub k: u32,
    /// The cells of the table's public domain.
    pub cells: usize,
    /// The bound on one SIM's contribution to each cell, when not 1: cell i gets noise of
    /// standard deviation `scales[i]`·σ (the `quality` table's SIM-days).
    pub scales: Vec<u64>,
    /// Expected true-zero cells the threshold lets through per table.
    pub phantom_rate: f64,
    /// The threshold on the plan's noisy values: [`TablePlan::threshold_for`] its σ.
    pub threshold: i64,
}

impl TablePlan {
    fn new(name: TableId, rho: Ratio, delta_sq: u32, k: u32, cells: usize, rate: f64) -> Self {
        let mut t = TablePlan {
            name,
            rho,
            delta_sq,
            k,
            cells,
            scales: Vec::new(),
            phantom_rate: rate,
            threshold: i64::from(k),
        };
        t.threshold = t.threshold_for(t.sigma());
        t
    }

    /// The threshold for this table's cells at noise σ (the plan's, or that of reused noisy
    /// values): max(k, τ) over its domain, or 1 for a table that is not thresholded (k = 1).
    pub fn threshold_for(&self, sigma: f64) -> i64 {
        if self.k <= 1 {
            return 1;
        }
        Threshold {
            k: self.k,
            phantom_rate: self.phantom_rate,
            cells: self.cells,
        }
        .at(sigma)
    }

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

    /// Expected number of true-zero cells published by noise alone, were every cell zero.
    pub fn expected_phantoms(&self) -> f64 {
        expected_phantoms(self.sigma(), self.cells, self.threshold)
    }
}

/// Phantom cells per table the threshold allows unless the pipeline says otherwise.
pub const DEFAULT_PHANTOM_RATE: f64 = 0.5;

/// The rule that decides which noisy cells are published: a value ≥ max(k, τ), with τ the
/// smallest integer such that a table of `cells` true-zero cells publishes at most
/// `phantom_rate` of them on average by noise alone. τ depends only on public parameters (σ,
/// the domain's size), so it costs nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The disclosure-control floor (k = 16 by default).
    pub k: u32,
    /// Expected true-zero cells published per table.
    pub phantom_rate: f64,
    /// The table's domain size.
    pub cells: usize,
}

impl Threshold {
    /// max(k, τ) for cells of noise σ.
    pub fn at(&self, sigma: f64) -> i64 {
        i64::from(self.k).max(phantom_threshold(sigma, self.cells, self.phantom_rate))
    }
}

/// P(Z ≥ t) for Z the discrete Gaussian of scale σ (floating point: the threshold is a public
/// parameter, not part of the mechanism).
pub fn tail(sigma: f64, t: i64) -> f64 {
    match GaussianTail::new(sigma) {
        Some(g) => g.at(t),
        None => degenerate_tail(t),
    }
}

/// The tail of a noise-free "Gaussian": all of its mass at zero.
fn degenerate_tail(t: i64) -> f64 {
    if t <= 0 { 1.0 } else { 0.0 }
}

/// The discrete Gaussian's weights exp(−z² / 2σ²) on −40σ…40σ, computed once for the many
/// tails a threshold search asks for (each tail is then a sum, in the same order as ever).
struct GaussianTail {
    reach: i64,
    weights: Vec<f64>,
    total: f64,
}

impl GaussianTail {
    fn new(sigma: f64) -> Option<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return None;
        }
        let reach = (40.0 * sigma).ceil() as i64 + 10;
        let weights: Vec<f64> = (-reach..=reach)
            .map(|z| (-((z * z) as f64) / (2.0 * sigma * sigma)).exp())
            .collect();
        let total = weights.iter().sum();
        Some(Self {
            reach,
            weights,
            total,
        })
    }

    /// P(Z ≥ t).
    fn at(&self, t: i64) -> f64 {
        let from = t.max(-self.reach) + self.reach;
        let above: f64 = usize::try_from(from)
            .ok()
            .and_then(|from| self.weights.get(from..))
            .unwrap_or_default()
            .iter()
            .sum();
        above / self.total
    }
}

/// The smallest τ ≥ 1 with `cells` · P(Z ≥ τ) ≤ `rate`.
pub fn phantom_threshold(sigma: f64, cells: usize, rate: f64) -> i64 {
    let gaussian = GaussianTail::new(sigma);
    let tail = |t: i64| match &gaussian {
        Some(g) => g.at(t),
        None => degenerate_tail(t),
    };
    let mut t = 1;
    while (cells as f64) * tail(t) > rate && t < 1_000_000_000 {
        // Grow geometrically, then settle by bisection.
        t *= 2;
    }
    let (mut lo, mut hi) = (t / 2, t);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if (cells as f64) * tail(mid) > rate {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if (cells as f64) * tail(lo.max(1)) <= rate {
        lo.max(1)
    } else {
        hi
    }
}

/// Expected true-zero cells of a table published at threshold `t`.
pub fn expected_phantoms(sigma: f64, cells: usize, t: i64) -> f64 {
    cells as f64 * tail(sigma, t)
}

/// The noised tables of one release.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePlan {
    /// Each noised table's plan.
    pub tables: Noised<TablePlan>,
    /// How the window sits on calendar years.
    pub span: Span,
}

/// The public domain's size per table, and the SIM-days bound of the quality table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainSizes {
    /// Cells of `categories` (category × partner).
    pub categories: usize,
    /// Cells of `crossings` (from × to).
    pub crossings: usize,
    /// Cells of `totals` (categories and flow directions).
    pub totals: usize,
    /// Days of the look-back: the most SIM-days one SIM adds to the quality table, and the
    /// cells of the daily series.
    pub window_days: u64,
}

/// Cells of the `quality` table: SIMs seen, too sparse to classify, on open spells, SIM-days.
pub use borderflow_core::QUALITY_CELLS;

impl ReleasePlan {
    /// The plan for `config`, with at most `max_crossing_pairs` pairs per SIM in `crossings`,
    /// for a window spanning `span`. Each SIM adds one to one `categories` cell, to at most
    /// `max_crossing_pairs` `crossings` cells, to one category total and at most one direction
    /// total; replace-one (a window over several years) doubles each Δ². The quality totals
    /// are not thresholded (k = 1): they are large by nature, and a small one is itself the
    /// quality signal; their cells are scaled (SIM-days by the window's length) so Δ² = 4.
    pub fn new(
        config: &PrivacyConfig,
        max_crossing_pairs: usize,
        span: Span,
        sizes: DomainSizes,
    ) -> Self {
        let max_pairs = u32::try_from(max_crossing_pairs).unwrap_or(u32::MAX);
        let f = span.factor();
        let rate = config.phantom_rate;
        let mut quality = TablePlan::new(
            TableId::Quality,
            config.quality.rho_or(4, QUALITY_RHO),
            QUALITY_CELLS as u32,
            1,
            QUALITY_CELLS,
            rate,
        );
        quality.scales = QualityTotals {
            sims: 1,
            too_sparse: 1,
            open_spells: 1,
            sim_days: sizes.window_days.max(1),
        }
        .cells()
        .to_vec();
        // A SIM-year is seen on at most the days of one calendar year of the look-back.
        let daily_sq = u32::try_from(sizes.window_days.clamp(1, 366)).expect("at most 366");
        let daily = TablePlan::new(
            TableId::Daily,
            config.daily.rho_or(daily_sq, DAILY_RHO),
            daily_sq,
            1,
            usize::try_from(sizes.window_days).unwrap_or(usize::MAX),
            rate,
        );
        Self {
            tables: Noised {
                categories: TablePlan::new(
                    TableId::Categories,
                    config.categories.rho(f),
                    f,
                    config.k,
                    sizes.categories,
                    rate,
                ),
                crossings: TablePlan::new(
                    TableId::Crossings,
                    config.crossings.rho(f * max_pairs),
                    f * max_pairs,
                    config.k,
                    sizes.crossings,
                    rate,
                ),
                totals: TablePlan::new(
                    TableId::Totals,
                    config.totals.rho_or(2 * f, TOTALS_RHO),
                    2 * f,
                    config.k,
                    sizes.totals,
                    rate,
                ),
                quality,
                daily,
            },
            span,
        }
    }

    /// The plan of a noised table; `None` for [`TableId::Corridors`], which is never noised.
    pub fn table(&self, id: TableId) -> Option<&TablePlan> {
        self.tables.get(id)
    }

    /// Every noised table's plan, in the order they are noised.
    pub fn iter(&self) -> impl Iterator<Item = &TablePlan> {
        self.tables.iter().map(|(_, t)| t)
    }

    /// The release's total cost per data year read, exact.
    pub fn rho(&self) -> Ratio {
        self.iter()
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
            Err("privacy.categories.margin_of_error = -1 must lie in [0.001, 1000000]".into())
        );
    }

    #[test]
    fn the_default_plan_costs_what_the_docs_say() {
        let sizes = DomainSizes {
            categories: 11 * 249,
            crossings: 250 * 249,
            totals: 13,
            window_days: 365,
        };
        let plan = ReleasePlan::new(&PrivacyConfig::default(), 4, Span::OneYear, sizes);
        let Noised {
            categories: c,
            crossings: x,
            totals: t,
            quality: q,
            daily: d,
        } = &plan.tables;
        assert_eq!(
            (c.delta_sq, x.delta_sq, t.delta_sq, q.delta_sq, d.delta_sq),
            (1, 4, 2, 4, 365)
        );
        assert_eq!((c.k, x.k, t.k, q.k, d.k), (16, 16, 16, 1, 1));
        // σ of a day's SIMs: √(365 / 0.01) ≈ 191.
        assert!((d.sigma() - 36500f64.sqrt()).abs() < 1e-9);
        assert_eq!(plan.rho(), Ratio::from_decimal("0.25").unwrap());
        assert_eq!(q.scales, [1, 1, 1, 365]);
        // A window over two years: replace-one doubles each count table's Δ², same ρ.
        let two = ReleasePlan::new(&PrivacyConfig::default(), 4, Span::SeveralYears, sizes);
        let Noised {
            categories: c2,
            crossings: x2,
            totals: t2,
            quality: q2,
            daily: d2,
        } = &two.tables;
        assert_eq!(
            (
                c2.delta_sq,
                x2.delta_sq,
                t2.delta_sq,
                q2.delta_sq,
                d2.delta_sq
            ),
            (2, 8, 4, 4, 365)
        );
        assert_eq!(two.rho(), plan.rho());
        // τ: crossings at σ = √20 over 62,250 cells need 20 to keep phantoms ≤ 0.5.
        assert_eq!(x.threshold, 20);
        assert!(x.expected_phantoms() <= 0.5);
        assert!(expected_phantoms(x.sigma(), x.cells, x.threshold - 1) > 0.5);
        assert_eq!(c.threshold, 16);
        // σ = Δ/√(2ρ): √(1/0.2) = 2.236…, √(4/0.2) = 4.472…
        assert!((c.sigma() - 5f64.sqrt()).abs() < 1e-12);
        assert!((x.sigma() - 20f64.sqrt()).abs() < 1e-12);
        assert!((c.margin_of_error_95() - 1.96 * 5f64.sqrt()).abs() < 1e-12);
    }

    /// The tail as it was first written: every weight computed again for each t.
    fn tail_by_definition(sigma: f64, t: i64) -> f64 {
        let reach = (40.0 * sigma).ceil() as i64 + 10;
        let w = |z: i64| (-((z * z) as f64) / (2.0 * sigma * sigma)).exp();
        let total: f64 = (-reach..=reach).map(w).sum();
        let above: f64 = (t.max(-reach)..=reach).map(w).sum();
        above / total
    }

    #[test]
    fn tails_from_weights_computed_once_are_the_tails_by_definition_to_the_bit() {
        for sigma in [0.3, 1.0, 2.0, 7.5, 191.04973] {
            let g = GaussianTail::new(sigma).unwrap();
            for t in [
                -100_000, -3, 0, 1, 2, 5, 17, 64, 400, 7_650, 7_651, 1_000_000,
            ] {
                assert_eq!(
                    g.at(t).to_bits(),
                    tail_by_definition(sigma, t).to_bits(),
                    "σ = {sigma}, t = {t}"
                );
            }
        }
        // No noise: all the mass at zero.
        assert_eq!((tail(0.0, 0), tail(0.0, 1)), (1.0, 0.0));
        // 62,250 cells at σ = 2 publish at most half a phantom on average from τ = 10 on.
        assert_eq!(phantom_threshold(2.0, 62_250, 0.5), 10);
        assert!(62_250.0 * tail_by_definition(2.0, 9) > 0.5);
        assert!(62_250.0 * tail_by_definition(2.0, 10) <= 0.5);
    }
}
