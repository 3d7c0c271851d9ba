//! From SIMs to persons: documented post-processing of a combined release's **noisy** counts,
//! never of exact ones (docs/partnerships.md, "Persons").
//!
//! A combined count N of SIMs of the partnership's operators is a count of persons once
//! divided by the share of the relevant SIMs those operators hold (coverage c: of the
//! country's SIMs for residents' categories, of foreign SIMs roaming in the country, by home
//! country, for the inbound ones) and by the SIMs a person holds among them (m):
//! P = N / (c · m). Each factor is given in the partnership file with its source, vintage and
//! standard error. The margin of error carries the noise and the factors' uncertainty by the
//! delta method, with the noise's variance kept additive so that small counts keep their
//! noise: Var(P) ≈ σ_N² / (c·m)² + P² · ((se_c / c)² + (se_m / m)²). The tests check its
//! 95% intervals cover the truth in about 95% of simulated draws.

use std::collections::BTreeMap;

use borderflow_core::{Category, CountryCode, Side, TableId};
use borderflow_privacy::accountant::Z_95;
use borderflow_release::report::{PersonsFactorRow, PersonsSection};
use borderflow_release::{
    ALL_PARTNERS, CATEGORIES, Cell, CellStatus, PERSONS, ReleasedTable, TOTALS,
};
use serde::{Deserialize, Serialize};

/// One factor of the expansion, as an office states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    /// Its value.
    pub value: f64,
    /// Its standard error (0 for a factor taken as known).
    pub standard_error: f64,
    /// Where it comes from (the regulator's sector statistics, a household survey).
    pub source: String,
    /// Its vintage (`2025-Q4`).
    pub vintage: String,
}

/// The factors that turn the partnership's SIM counts into persons: `[persons]` of the
/// partnership file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonsFactors {
    /// Share of the measuring country's SIMs held by the partnership's operators.
    pub coverage: Factor,
    /// Share of foreign SIMs roaming in the country carried by the partnership's operators,
    /// by home country (alpha-3); countries not listed take `inbound_coverage_default`.
    #[serde(default)]
    pub inbound_coverage: BTreeMap<String, Factor>,
    /// The share for home countries not listed (default: `coverage`).
    #[serde(default)]
    pub inbound_coverage_default: Option<Factor>,
    /// SIMs a resident holds among the partnership's operators (a person with SIMs at two
    /// operators is counted at both).
    pub sims_per_person: Factor,
    /// SIMs a foreign visitor holds among them (default exactly 1: one roaming SIM).
    #[serde(default)]
    pub inbound_sims_per_person: Option<Factor>,
    /// The measuring country's population (persons), the reference for rates per 1,000.
    #[serde(default)]
    pub population: Option<Factor>,
}

impl PersonsFactors {
    /// Checks every factor: shares in (0, 1], SIMs per person at least 1, standard errors
    /// not negative, a source and vintage named. The message names the key.
    pub fn check(&self) -> Result<(), String> {
        let mut all: Vec<(String, &Factor, bool)> = vec![
            ("persons.coverage".into(), &self.coverage, true),
            (
                "persons.sims_per_person".into(),
                &self.sims_per_person,
                false,
            ),
        ];
        for (c, f) in &self.inbound_coverage {
            all.push((format!("persons.inbound_coverage.{c}"), f, true));
        }
        if let Some(f) = &self.inbound_coverage_default {
            all.push(("persons.inbound_coverage_default".into(), f, true));
        }
        if let Some(f) = &self.inbound_sims_per_person {
            all.push(("persons.inbound_sims_per_person".into(), f, false));
        }
        if let Some(f) = &self.population {
            all.push(("persons.population".into(), f, false));
        }
        for (key, f, share) in all {
            let ok = if share {
                f.value > 0.0 && f.value <= 1.0
            } else {
                f.value >= 1.0 && f.value.is_finite()
            };
            if !ok {
                return Err(format!(
                    "{key}.value = {} must be {}",
                    f.value,
                    if share {
                        "a share in (0, 1]"
                    } else {
                        "at least 1"
                    }
                ));
            }
            if !(f.standard_error >= 0.0 && f.standard_error.is_finite()) {
                return Err(format!("{key}.standard_error must be 0 or more"));
            }
            if f.source.trim().is_empty() || f.vintage.trim().is_empty() {
                return Err(format!("{key}: name its source and vintage"));
            }
        }
        Ok(())
    }

    /// The coverage and SIMs per person of `category` with partner `partner` (the home
    /// country of an inbound SIM).
    pub fn for_cell(&self, category: Category, partner: Option<&str>) -> (&Factor, &Factor) {
        const ONE: &Factor = &Factor {
            value: 1.0,
            standard_error: 0.0,
            source: String::new(),
            vintage: String::new(),
        };
        let foreign_sim =
            category.side() == Side::Inbound || category == Category::ResidentForeignSim;
        if !foreign_sim {
            return (&self.coverage, &self.sims_per_person);
        }
        let coverage = partner
            .and_then(|p| self.inbound_coverage.get(p))
            .or(self.inbound_coverage_default.as_ref())
            .unwrap_or(&self.coverage);
        (
            coverage,
            self.inbound_sims_per_person.as_ref().unwrap_or(ONE),
        )
    }
}

/// Persons estimated from a noisy count of SIMs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonEstimate {
    /// The estimate.
    pub persons: f64,
    /// Its standard error (noise and factors).
    pub standard_error: f64,
    /// Half-width of its 95% interval.
    pub margin_of_error_95: f64,
}

/// Persons from `sims` SIMs counted with noise of standard deviation `sims_sd`, with
/// coverage `c` and SIMs per person `m` (module docs).
pub fn estimate(sims: f64, sims_sd: f64, c: &Factor, m: &Factor) -> PersonEstimate {
    let scale = c.value * m.value;
    let persons = sims / scale;
    let rel = (c.standard_error / c.value).powi(2) + (m.standard_error / m.value).powi(2);
    let var = (sims_sd / scale).powi(2) + persons.powi(2) * rel;
    let se = var.sqrt();
    PersonEstimate {
        persons,
        standard_error: se,
        margin_of_error_95: Z_95 * se,
    }
}

/// Persons per 1,000 of `population`, with its 95% margin: the estimate's error and the
/// population's, by the delta method.
pub fn per_1000(e: &PersonEstimate, population: &Factor) -> (f64, f64) {
    let n = population.value;
    let rate = 1000.0 * e.persons / n;
    let se = 1000.0
        * ((e.standard_error / n).powi(2)
            + (e.persons * population.standard_error / (n * n)).powi(2))
        .sqrt();
    (rate, Z_95 * se)
}

/// One row of the `persons` table.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow {
    /// The table it is drawn from: `categories` (by partner) or `totals`.
    pub table: TableId,
    /// The category, or the total's code.
    pub category: String,
    /// The partner country, for `categories` rows.
    pub partner: Option<String>,
    /// The combined noisy SIM count and its σ, where published.
    pub sims: Option<(i64, f64)>,
    /// The estimate, where the SIM count is published.
    pub estimate: Option<PersonEstimate>,
    /// The σ of the SIM cell's noise in persons (σ / (c · m)): the standard error a row
    /// without an estimate states, as a suppressed SIM cell states its noise.
    pub noise_in_persons: f64,
    /// The factors used.
    pub coverage: f64,
    /// SIMs per person used.
    pub sims_per_person: f64,
    /// The SIM cell's status.
    pub status: CellStatus,
}

/// Persons for every cell of the combined `categories` and of the category `totals`: an
/// estimate where the SIM count is published, none where it is withheld or not measured.
pub fn persons_rows(
    categories: &ReleasedTable,
    totals: &ReleasedTable,
    f: &PersonsFactors,
) -> Vec<PersonRow> {
    let column = |t: &ReleasedTable, name: &str| {
        t.dimensions
            .iter()
            .find(|d| d.column == name)
            .map(|d| d.values.clone())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    for (table, t, cat_col, partner_col) in [
        (TableId::Totals, totals, TOTALS.columns[0].name, None),
        (
            TableId::Categories,
            categories,
            CATEGORIES.columns[0].name,
            Some(CATEGORIES.columns[1].name),
        ),
    ] {
        let cats = column(t, cat_col);
        let partners = partner_col.map(|c| column(t, c));
        for (i, cell) in t.cells.iter().enumerate() {
            let Some(Ok(category)) = cats[i].as_deref().map(str::parse::<Category>) else {
                continue; // a flow direction total, not a category
            };
            let partner = partners.as_ref().and_then(|p| p[i].clone());
            let (c, m) = f.for_cell(category, partner.as_deref());
            let sims = cell.subscribers.map(|n| (n, cell.noise_sd));
            rows.push(PersonRow {
                table,
                category: category.as_str().to_string(),
                partner,
                sims,
                estimate: sims.map(|(n, sd)| estimate(n as f64, sd, c, m)),
                noise_in_persons: cell.noise_sd / (c.value * m.value),
                coverage: c.value,
                sims_per_person: m.value,
                status: cell.status,
            });
        }
    }
    rows
}

/// What the report shows of persons: the category totals and every factor used.
pub fn persons_section(
    rows: &[PersonRow],
    f: &PersonsFactors,
    table: ReleasedTable,
) -> PersonsSection {
    let factor = |name: String, x: &Factor| PersonsFactorRow {
        name,
        value: x.value,
        standard_error: x.standard_error,
        source: x.source.clone(),
        vintage: x.vintage.clone(),
    };
    let mut factors = vec![
        factor("coverage (residents' SIMs)".into(), &f.coverage),
        factor("SIMs per person (residents)".into(), &f.sims_per_person),
    ];
    for (c, x) in &f.inbound_coverage {
        factors.push(factor(format!("inbound coverage, SIMs of {c}"), x));
    }
    if let Some(x) = &f.inbound_coverage_default {
        factors.push(factor("inbound coverage, other countries".into(), x));
    }
    if let Some(x) = &f.inbound_sims_per_person {
        factors.push(factor("SIMs per person (inbound)".into(), x));
    }
    if let Some(x) = &f.population {
        factors.push(factor("population (rates per 1,000)".into(), x));
    }
    PersonsSection {
        totals: rows
            .iter()
            .filter(|r| r.table == TableId::Totals)
            .filter_map(|r| {
                let c = r.category.parse::<Category>().ok()?;
                Some((c, r.estimate.map(|e| (e.persons, e.margin_of_error_95))))
            })
            .collect(),
        factors,
        table,
    }
}

/// The `persons` table: one row per [`PersonRow`], persons rounded to whole persons, the
/// standard error beside them and every factor on the row. Rows drawn from the category totals
/// have the partner [`ALL_PARTNERS`] (`_T`); a row whose SIM count is withheld or not measured
/// has no estimate and keeps the SIM cell's status.
pub fn persons_table(
    rows: &[PersonRow],
    population: Option<&Factor>,
    period: &str,
    measuring_country: CountryCode,
) -> ReleasedTable {
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); PERSONS.columns.len()];
    let mut cells = Vec::with_capacity(rows.len());
    for r in rows {
        let rate = r.estimate.zip(population).map(|(e, n)| per_1000(&e, n));
        let partner = match r.table {
            TableId::Totals => Some(ALL_PARTNERS.to_string()),
            _ => r.partner.clone(),
        };
        let values = [
            Some(r.category.clone()),
            partner,
            r.estimate.map(|e| format!("{:.1}", e.margin_of_error_95)),
            r.sims.map(|(n, _)| n.to_string()),
            r.sims.map(|(_, sd)| format!("{sd:.4}")),
            Some(r.coverage.to_string()),
            Some(r.sims_per_person.to_string()),
            rate.map(|(rate, _)| format!("{rate:.3}")),
            rate.map(|(_, m)| format!("{m:.3}")),
        ];
        debug_assert_eq!(values.len(), PERSONS.columns.len());
        for (column, v) in columns.iter_mut().zip(values) {
            column.push(v);
        }
        cells.push(Cell {
            subscribers: r.estimate.map(|e| e.persons.round() as i64),
            noise_sd: (r.estimate.map_or(r.noise_in_persons, |e| e.standard_error) * 10.0).round()
                / 10.0,
            status: r.status,
        });
    }
    ReleasedTable::of(&PERSONS, period, measuring_country, columns, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(value: f64, se: f64) -> Factor {
        Factor {
            value,
            standard_error: se,
            source: "test".into(),
            vintage: "2025".into(),
        }
    }

    #[test]
    fn persons_divide_by_coverage_and_sims_per_person_and_carry_both_errors() {
        let e = estimate(800.0, 4.0, &factor(0.8, 0.0), &factor(1.25, 0.0));
        assert_eq!(e.persons, 800.0);
        assert!((e.standard_error - 4.0).abs() < 1e-12);
        let e = estimate(800.0, 0.0, &factor(0.8, 0.04), &factor(1.25, 0.0));
        assert!((e.standard_error - 800.0 * 0.05).abs() < 1e-9);
        let e = estimate(0.0, 4.0, &factor(0.5, 0.1), &factor(1.0, 0.0));
        assert!(
            (e.standard_error - 8.0).abs() < 1e-12,
            "the noise stays at zero"
        );
    }

    /// The 95% intervals cover the true number of persons in about 95% of draws of the noise
    /// and of the factors' estimates around their truth.
    #[test]
    fn the_delta_method_intervals_cover_the_truth_in_95_percent_of_draws() {
        // A small deterministic generator and Box–Muller: the test needs no privacy-grade
        // randomness, only reproducible normal draws.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut normal = move || {
            let (u, v) = (uniform(), uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        for (persons, sd, (c, se_c), (m, se_m)) in [
            (1000.0, 3.9, (0.8, 0.03), (1.2, 0.04)),
            (60.0, 3.9, (0.6, 0.05), (1.1, 0.02)),
            (5000.0, 8.6, (0.9, 0.01), (1.4, 0.1)),
        ] {
            let draws = 20_000;
            let mut covered = 0;
            for _ in 0..draws {
                let n = persons * c * m + sd * normal();
                let fc = factor(c + se_c * normal(), se_c);
                let fm = factor(m + se_m * normal(), se_m);
                let e = estimate(n, sd, &fc, &fm);
                covered += usize::from((e.persons - persons).abs() <= e.margin_of_error_95);
            }
            let share = covered as f64 / draws as f64;
            assert!(
                (0.935..=0.965).contains(&share),
                "{persons}: coverage {share}"
            );
        }
    }

    #[test]
    fn rates_per_1000_carry_the_estimates_error_and_the_populations() {
        let e = estimate(5000.0, 0.0, &factor(1.0, 0.0), &factor(1.0, 0.0));
        let (rate, m) = per_1000(&e, &factor(1_000_000.0, 0.0));
        assert_eq!((rate, m), (5.0, 0.0));
        let e = estimate(5000.0, 50.0, &factor(1.0, 0.0), &factor(1.0, 0.0));
        let (_, m) = per_1000(&e, &factor(1_000_000.0, 20_000.0));
        // √(0.05² + 0.1²) = 0.1118 per 1,000, times 1.96.
        assert!(
            (m - 1.96 * (0.05f64.powi(2) + 0.1f64.powi(2)).sqrt()).abs() < 1e-9,
            "{m}"
        );
    }

    #[test]
    fn inbound_cells_take_their_home_countrys_coverage_and_one_sim() {
        let f = PersonsFactors {
            coverage: factor(0.8, 0.02),
            inbound_coverage: BTreeMap::from([("UGA".into(), factor(0.9, 0.05))]),
            inbound_coverage_default: None,
            sims_per_person: factor(1.2, 0.03),
            inbound_sims_per_person: None,
            population: None,
        };
        f.check().unwrap();
        let (c, m) = f.for_cell(Category::FrontierIn, Some("UGA"));
        assert_eq!((c.value, m.value), (0.9, 1.0));
        let (c, _) = f.for_cell(Category::VisitorIn, Some("TZA"));
        assert_eq!(c.value, 0.8);
        let (c, m) = f.for_cell(Category::FrontierOut, Some("UGA"));
        assert_eq!((c.value, m.value), (0.8, 1.2));
        let bad = PersonsFactors {
            sims_per_person: factor(0.9, 0.0),
            ..f
        };
        assert!(
            bad.check()
                .unwrap_err()
                .starts_with("persons.sims_per_person")
        );
    }
}
