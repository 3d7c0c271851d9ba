//! Protect: the one step that turns a release's noisy values into what may be published
//! (docs/design.md §7).
//!
//! Its input is the noisy values the ledger holds for each noised table — drawn for this
//! release, or reused from an identical query — never an exact count: the draws are kept by
//! the ledger before anything is derived from them, so everything here is post-processing and
//! costs no privacy. In one place it
//!
//! 1. thresholds every noisy cell at max(k, τ) for its table's noise (τ bounds the true-zero
//!    cells published by noise alone);
//! 2. sets each cell's status once — published, suppressed, or not measured (a category the
//!    window cannot observe carries no value in any table that lists it);
//! 3. combines the headline totals (each total noised directly, weighed with the sum of its
//!    cells) and rolls the categories up into corridors;
//! 4. states each table's privacy parameters as the manifest gives them.
//!
//! What comes out, [`ProtectedRelease`], is all a release's files are rendered from
//! ([`render`](mod@crate::render)); the noisy values of suppressed cells go apart, to be kept operator-side
//! ([`KeptNoisy`]).

use std::collections::BTreeMap;

use borderflow_core::{Category, CountryCode, Noised, QUALITY_CELLS, QualityTotals, TableId};
use borderflow_privacy::accountant::{Z_95, margin_of_error_95};
use borderflow_privacy::plan::expected_phantoms;
use borderflow_privacy::{ProtectedCell, Ratio, ReleasePlan, Threshold, threshold};
use borderflow_refdata::RefData;
use chrono::NaiveDate;

use crate::manifest::{CellCounts, NoisyTotal, TableManifest};
use crate::table::ReleasedTable;
use crate::tabulate::Domain;
use crate::totals;

/// The noisy values of one table, as the ledger holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisyTable {
    /// One per cell of the table's domain, in the domain's order.
    pub noisy: Vec<i64>,
    /// Their noise's σ² (the plan's, or the reused release's, never larger).
    pub sigma2: Ratio,
    /// `dataset/period` of the release whose values these are, when reused (then nothing is
    /// charged for the table).
    pub reused_from: Option<String>,
}

/// Why a category is not measured by a release: missing by configuration, not withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMeasured {
    /// `classify.return_migrants = false`: the window does not read the previous year, so
    /// nobody can be seen coming back.
    ReturnMigrantsOff,
}

impl NotMeasured {
    /// The category it leaves without a value.
    pub fn category(self) -> Category {
        match self {
            NotMeasured::ReturnMigrantsOff => Category::ReturnMigrant,
        }
    }

    /// The setting that leaves it unmeasured, as the pipeline file spells it.
    pub fn setting(self) -> &'static str {
        match self {
            NotMeasured::ReturnMigrantsOff => "classify.return_migrants = false",
        }
    }

    /// The reason, as the manifest and the classify summary give it.
    pub fn reason(self) -> String {
        format!("not measured: {}", self.setting())
    }
}

/// What a release is cut over, besides its noisy values: all public.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseFrame<'a> {
    /// The public domain of `categories` and `crossings`.
    pub domain: &'a Domain,
    /// The code lists (corridors group partners by them).
    pub refdata: &'a RefData,
    /// The measuring country M.
    pub measuring_country: CountryCode,
    /// The reference period (`2025`, `2025-07`).
    pub period: &'a str,
    /// The days of the look-back, one per cell of the `daily` table.
    pub days: &'a [NaiveDate],
    /// A category the release does not measure, if any.
    pub not_measured: Option<NotMeasured>,
}

/// SIMs seen per day, noisy: the daily series of `quality.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySeen {
    /// Each day's noisy count, never below 0.
    pub per_day: BTreeMap<String, i64>,
    /// The noise's standard deviation on each day.
    pub noise_sd: f64,
    /// Days whose noisy count is within the noise of zero (below 1.96 σ): no data, as far as
    /// can be told.
    pub indistinguishable_from_no_data: usize,
}

/// A release once protected: every value in it is noisy and published, or withheld, or not
/// measured. Rendering reads nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectedRelease {
    /// SIMs per category and partner.
    pub categories: ReleasedTable,
    /// SIMs per crossing.
    pub crossings: ReleasedTable,
    /// The combined headline totals.
    pub totals: ReleasedTable,
    /// `categories` rolled up by partner group.
    pub corridors: ReleasedTable,
    /// The quality totals, noisy, never below 0.
    pub quality: QualityTotals<NoisyTotal>,
    /// SIMs seen per day.
    pub daily: DailySeen,
    /// Each noised table's privacy parameters, with its cells by status.
    pub noise: Noised<TableManifest>,
    /// ρ charged by the release to each data year it reads (0 for reused tables).
    pub rho_charged: f64,
    /// A category not measured, if any.
    pub not_measured: Option<NotMeasured>,
}

impl ProtectedRelease {
    /// The four published tables, in the order a release lists them.
    pub fn tables(&self) -> [&ReleasedTable; 4] {
        [
            &self.categories,
            &self.crossings,
            &self.totals,
            &self.corridors,
        ]
    }

    /// The threshold max(k, τ) a table was published at.
    pub fn threshold(&self, table: TableId) -> Option<i64> {
        self.noise.get(table).map(|t| t.threshold)
    }
}

/// Every noisy value of `categories` and `crossings`, suppressed ones included, as tables
/// (nothing withheld): kept operator-side so that roll-ups can later be drawn from them at no
/// cost. Never written to a release.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptNoisy {
    /// `categories`, every cell with its noisy value.
    pub categories: ReleasedTable,
    /// `crossings`, every cell with its noisy value.
    pub crossings: ReleasedTable,
}

/// Protects a release: thresholds, statuses, combined totals, corridors and each table's
/// parameters, from the noisy values `draws` under `plan` (module docs).
pub fn protect(
    plan: &ReleasePlan,
    draws: &Noised<NoisyTable>,
    frame: &ReleaseFrame<'_>,
) -> (ProtectedRelease, KeptNoisy) {
    let cells = draws.map(|id, d| {
        let t = plan.tables.get(id).expect("a noised table");
        threshold(
            &d.noisy,
            &d.sigma2,
            &t.scales,
            t.threshold_for(d.sigma2.to_f64().sqrt()),
        )
    });
    let Noised {
        categories: mut cat,
        crossings: cross,
        totals: direct,
        quality,
        daily,
    } = cells;
    let not_measured = frame.not_measured.map(NotMeasured::category);
    if let Some(category) = not_measured {
        // Zero by construction, not by measurement: no sum (totals, corridors) includes it.
        for (cell, c) in frame.domain.categories.iter().zip(cat.iter_mut()) {
            if cell.category == category {
                *c = ProtectedCell {
                    subscribers: None,
                    suppressed: true,
                    noisy: 0,
                    ..*c
                };
            }
        }
    }
    let (m, period) = (frame.measuring_country, frame.period);
    let k = plan.tables.categories.k;
    let phantom_rate = plan.tables.categories.phantom_rate;
    let combined = totals::combine(
        frame.domain,
        &cat,
        &direct,
        &Threshold {
            k,
            phantom_rate,
            cells: plan.tables.totals.cells,
        },
        not_measured,
    );
    let mut categories = ReleasedTable::categories(frame.domain, &cat, m, period);
    let crossings = ReleasedTable::crossings(frame.domain, &cross, m, period);
    let mut totals = ReleasedTable::totals(&combined, m, period);
    let mut corridors = crate::corridors(
        frame.domain,
        &cat,
        k,
        phantom_rate,
        frame.refdata,
        m,
        period,
    );
    if let Some(category) = not_measured {
        for t in [&mut categories, &mut totals, &mut corridors] {
            t.mark_not_measured(category);
        }
    }
    let counts = Noised {
        categories: CellCounts::of(&categories),
        crossings: CellCounts::of(&crossings),
        totals: CellCounts::of(&totals),
        quality: CellCounts::all_published(QUALITY_CELLS),
        daily: CellCounts::all_published(frame.days.len()),
    };
    let noise = draws.map(|id, d| {
        let t = plan.tables.get(id).expect("a noised table");
        table_manifest(t, d, *counts.get(id).expect("a noised table"))
    });
    // Summed in the manifest's order (by name), as every release before this one was.
    let mut by_name = TableId::NOISED;
    by_name.sort_by_key(|t| t.name());
    let rho_charged = by_name
        .iter()
        .map(|id| noise.get(*id).expect("a noised table").rho)
        .sum();
    let release = ProtectedRelease {
        categories,
        crossings,
        totals,
        corridors,
        quality: QualityTotals::from_cells(std::array::from_fn(|i| NoisyTotal {
            value: quality[i].noisy.max(0),
            noise_sd: quality[i].noise_sd,
        })),
        daily: daily_seen(frame.days, &daily, &draws.daily.sigma2),
        noise,
        rho_charged,
        not_measured: frame.not_measured,
    };
    let unsuppressed = |cells: &[ProtectedCell]| -> Vec<ProtectedCell> {
        cells
            .iter()
            .map(|c| ProtectedCell {
                subscribers: Some(c.noisy),
                suppressed: false,
                ..*c
            })
            .collect()
    };
    let kept = KeptNoisy {
        categories: ReleasedTable::categories(frame.domain, &unsuppressed(&cat), m, period),
        crossings: ReleasedTable::crossings(frame.domain, &unsuppressed(&cross), m, period),
    };
    (release, kept)
}

/// A table's privacy parameters: what it charged (nothing when reused), its noise, its
/// threshold and the phantom cells that threshold lets through, and its cells by status.
fn table_manifest(
    t: &borderflow_privacy::TablePlan,
    d: &NoisyTable,
    counts: CellCounts,
) -> TableManifest {
    let sigma = d.sigma2.to_f64().sqrt();
    let threshold = t.threshold_for(sigma);
    let charged = if d.reused_from.is_some() {
        Ratio::new(0u32, 1u32).expect("zero")
    } else {
        t.rho.clone()
    };
    TableManifest {
        rho: charged.to_f64(),
        rho_exact: charged.to_fraction(),
        reused_from: d.reused_from.clone(),
        l2_sensitivity: t.l2_sensitivity(),
        sigma,
        margin_of_error_95: margin_of_error_95(sigma),
        threshold,
        expected_phantom_cells: if t.k > 1 {
            expected_phantoms(sigma, t.cells, threshold)
        } else {
            0.0
        },
        cells: counts.total(),
        published: counts.published,
        suppressed: counts.suppressed,
        not_measured: counts.not_measured,
    }
}

/// The daily series of SIMs seen from its protected cells, one per day of `days`.
fn daily_seen(days: &[NaiveDate], cells: &[ProtectedCell], sigma2: &Ratio) -> DailySeen {
    let noise_sd = sigma2.to_f64().sqrt();
    DailySeen {
        per_day: days
            .iter()
            .zip(cells)
            .map(|(d, c)| (d.to_string(), c.noisy.max(0)))
            .collect(),
        noise_sd,
        indistinguishable_from_no_data: cells
            .iter()
            .filter(|c| (c.noisy as f64) < Z_95 * noise_sd)
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CellStatus;
    use borderflow_privacy::{DomainSizes, PrivacyConfig, Span};

    fn ratio(s: &str) -> Ratio {
        Ratio::from_fraction(s).unwrap()
    }

    /// A release of KEN with one partner, UGA, from hand-picked noisy values.
    fn release(
        not_measured: Option<NotMeasured>,
        reuse_crossings: bool,
    ) -> (ProtectedRelease, KeptNoisy, Domain) {
        let (ken, uga) = ("KEN".parse().unwrap(), "UGA".parse().unwrap());
        let domain = Domain::new(ken, &[ken, uga]);
        let days: Vec<NaiveDate> = (1..=3)
            .map(|d| NaiveDate::from_ymd_opt(2025, 12, d).unwrap())
            .collect();
        let plan = ReleasePlan::new(
            &PrivacyConfig::default(),
            4,
            Span::OneYear,
            DomainSizes {
                categories: domain.categories.len(),
                crossings: domain.crossings.len(),
                totals: crate::TOTAL_CELLS,
                window_days: days.len() as u64,
            },
        );
        // Every categories cell at 100 but the first partner cell, at 3 (below k = 16).
        let mut categories = vec![100; domain.categories.len()];
        categories[1] = 3;
        let sigma2 = |id: TableId| plan.tables.get(id).unwrap().sigma2().unwrap();
        let table = |id, noisy: Vec<i64>| NoisyTable {
            noisy,
            sigma2: sigma2(id),
            reused_from: None,
        };
        let mut crossings = table(TableId::Crossings, vec![40, 2]);
        if reuse_crossings {
            crossings.reused_from = Some("other/2025".into());
        }
        let draws = Noised {
            categories: table(TableId::Categories, categories),
            crossings,
            totals: table(TableId::Totals, vec![100; crate::TOTAL_CELLS]),
            quality: table(TableId::Quality, vec![1000, -5, 30, 300_000]),
            daily: table(TableId::Daily, vec![900, 0, 950]),
        };
        let frame = ReleaseFrame {
            domain: &domain,
            refdata: &RefData::embedded(),
            measuring_country: ken,
            period: "2025",
            days: &days,
            not_measured,
        };
        let (r, k) = protect(&plan, &draws, &frame);
        (r, k, domain)
    }

    #[test]
    fn cells_below_the_threshold_are_withheld_and_kept_only_operator_side() {
        let (r, kept, domain) = release(None, false);
        assert_eq!(r.categories.cells.len(), domain.categories.len());
        let withheld = &r.categories.cells[1];
        assert_eq!(
            (withheld.subscribers, withheld.status),
            (None, CellStatus::Suppressed)
        );
        let shown = &r.categories.cells[0];
        assert_eq!(
            (shown.subscribers, shown.status),
            (Some(100), CellStatus::Published)
        );
        assert_eq!(r.threshold(TableId::Categories), Some(16));
        // The operator side keeps the withheld value; the release never holds it.
        assert_eq!(kept.categories.cells[1].subscribers, Some(3));
        assert_eq!(
            r.crossings
                .cells
                .iter()
                .map(|c| c.subscribers)
                .collect::<Vec<_>>(),
            [Some(40), None]
        );
        // Quality totals never fall below 0; every table of the default plan is charged.
        assert_eq!(r.quality.too_sparse.value, 0);
        assert_eq!(r.quality.sims.value, 1000);
        assert_eq!(r.daily.per_day["2025-12-02"], 0);
        assert_eq!(r.daily.indistinguishable_from_no_data, 1);
        assert!((r.rho_charged - 0.25).abs() < 1e-12, "{}", r.rho_charged);
        assert_eq!(
            r.noise.categories.published + r.noise.categories.suppressed,
            11
        );
        assert_eq!(r.not_measured, None);
    }

    #[test]
    fn a_category_not_measured_has_no_value_in_any_table_and_in_no_sum() {
        let (r, kept, _) = release(Some(NotMeasured::ReturnMigrantsOff), false);
        let rm = Category::ReturnMigrant.as_str();
        for t in [&r.categories, &r.totals, &r.corridors] {
            let d = &t.dimensions[0];
            let mut found = 0;
            for (v, c) in d.values.iter().zip(&t.cells) {
                if v.as_deref() == Some(rm) {
                    found += 1;
                    assert_eq!(c.status, CellStatus::NotMeasured, "{}", t.name);
                    assert_eq!(c.subscribers, None, "{}", t.name);
                    assert_eq!(c.noise_sd(), None, "{}", t.name);
                } else {
                    assert_ne!(c.status, CellStatus::NotMeasured, "{}", t.name);
                }
            }
            assert!(found > 0, "{} lists return migrants", t.name);
        }
        // Not measured is zero by construction in what the operator keeps.
        let d = &kept.categories.dimensions[0];
        for (v, c) in d.values.iter().zip(&kept.categories.cells) {
            if v.as_deref() == Some(rm) {
                assert_eq!(c.subscribers, Some(0));
            }
        }
        assert_eq!(r.noise.categories.not_measured, 1);
        assert_eq!(
            r.not_measured.map(NotMeasured::reason).as_deref(),
            Some("not measured: classify.return_migrants = false")
        );
    }

    #[test]
    fn a_table_whose_noise_is_reused_charges_nothing() {
        let (r, _, _) = release(None, true);
        assert_eq!(r.noise.crossings.rho, 0.0);
        assert_eq!(r.noise.crossings.rho_exact, "0/1");
        assert_eq!(r.noise.crossings.reused_from.as_deref(), Some("other/2025"));
        assert!((r.rho_charged - 0.15).abs() < 1e-12, "{}", r.rho_charged);
        assert_eq!(ratio("1/10").to_f64(), r.noise.categories.rho);
    }
}
