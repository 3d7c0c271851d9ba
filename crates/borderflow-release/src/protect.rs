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
//! ([`crate::render`]); the noisy values of suppressed cells go apart, to be kept operator-side
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

    /// The reason, as the manifest, the report and the run's summary give it.
    pub fn reason(self) -> &'static str {
        match self {
            NotMeasured::ReturnMigrantsOff => "not measured: classify.return_migrants = false",
        }
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
