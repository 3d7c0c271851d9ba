//! The headline totals: SIMs per category and per flow direction (inbound, outbound).
//!
//! A category's total summed from its ~249 noisy partner cells carries noise of σ√249; so the
//! totals are noised directly as a small table of their own (each SIM adds one to its
//! category's total and one to at most one direction's), then combined with the cell sums by
//! inverse-variance weighting — post-processing of noisy values, at no cost. A direction's
//! total is combined the same way with the sum of its categories' combined totals.

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::{ProtectedCell, Threshold};

use crate::table::{Cell, ReleasedTable, TOTALS};
use crate::tabulate::Domain;

/// A direction of flow across M's border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Non-residents present in M.
    Inbound,
    /// Residents of M present abroad (and emigrants).
    Outbound,
}

impl Flow {
    /// Both directions, in the order of the table.
    pub const ALL: [Flow; 2] = [Flow::Inbound, Flow::Outbound];

    /// The code in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Inbound => "inbound",
            Flow::Outbound => "outbound",
        }
    }

    /// The direction of a category, if it is a flow.
    pub fn of(c: Category) -> Option<Flow> {
        match c {
            Category::FrontierIn
            | Category::SeasonalIn
            | Category::TemporaryIn
            | Category::VisitorIn => Some(Flow::Inbound),
            Category::FrontierOut
            | Category::SeasonalOut
            | Category::TemporaryOut
            | Category::Emigrant => Some(Flow::Outbound),
            _ => None,
        }
    }
}

/// Cells of the totals table: every category, then every direction.
pub const TOTAL_CELLS: usize = Category::ALL.len() + Flow::ALL.len();

/// The exact totals from the exact `categories` counts over `domain`.
pub fn exact_totals(domain: &Domain, categories: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; TOTAL_CELLS];
    for (cell, n) in domain.categories.iter().zip(categories) {
        out[category_index(cell.category)] += n;
        if let Some(f) = Flow::of(cell.category) {
            out[flow_index(f)] += n;
        }
    }
    out
}

fn category_index(c: Category) -> usize {
    Category::ALL.iter().position(|x| *x == c).expect("listed")
}

fn flow_index(f: Flow) -> usize {
    Category::ALL.len() + Flow::ALL.iter().position(|x| *x == f).expect("listed")
}

/// Inverse-variance combination of two unbiased noisy estimates.
fn combine_two(a: f64, var_a: f64, b: f64, var_b: f64) -> (f64, f64) {
    let (wa, wb) = (1.0 / var_a, 1.0 / var_b);
    ((a * wa + b * wb) / (wa + wb), 1.0 / (wa + wb))
}

/// The combined totals: each category's direct noisy total with the sum of its noisy cells
/// (`cells` over `domain`, suppressed ones' noisy values included), each direction's with the
/// sum of its categories. Published at `threshold`; a category in `not_measured` (and a
/// direction holding it) carries no value.
pub fn combine(
    domain: &Domain,
    cells: &[ProtectedCell],
    direct: &[ProtectedCell],
    threshold: &Threshold,
    not_measured: Option<Category>,
) -> Vec<ProtectedCell> {
    let mut sums = vec![(0f64, 0f64); Category::ALL.len()];
    for (cell, p) in domain.categories.iter().zip(cells) {
        let s = &mut sums[category_index(cell.category)];
        s.0 += p.noisy as f64;
        s.1 += p.noise_sd * p.noise_sd;
    }
    let mut estimates: Vec<(f64, f64)> = Category::ALL
        .iter()
        .map(|&c| {
            let d = &direct[category_index(c)];
            let (s, v) = sums[category_index(c)];
            combine_two(d.noisy as f64, d.noise_sd * d.noise_sd, s, v)
        })
        .collect();
    for f in Flow::ALL {
        let (s, v) = Category::ALL
            .iter()
            .filter(|c| Flow::of(**c) == Some(f))
            .map(|c| estimates[category_index(*c)])
            .fold((0.0, 0.0), |a, e| (a.0 + e.0, a.1 + e.1));
        let d = &direct[flow_index(f)];
        estimates.push(combine_two(d.noisy as f64, d.noise_sd * d.noise_sd, s, v));
    }
    let unmeasured = |i: usize| match not_measured {
        None => false,
        Some(c) => i == category_index(c) || Flow::of(c).is_some_and(|f| i == flow_index(f)),
    };
    estimates
        .into_iter()
        .enumerate()
        .map(|(i, (value, var))| {
            let sd = var.sqrt();
            let noisy = value.round() as i64;
            let suppressed = unmeasured(i) || noisy < threshold.at(sd);
            ProtectedCell {
                subscribers: (!suppressed).then_some(noisy),
                noise_sd: sd,
                suppressed,
                noisy: if unmeasured(i) { 0 } else { noisy },
            }
        })
        .collect()
}

impl ReleasedTable {
    /// The `totals` table of combined totals.
    pub fn totals(protected: &[ProtectedCell], m: CountryCode, period: &str) -> Self {
        assert_eq!(protected.len(), TOTAL_CELLS, "one cell per total");
        let names = Category::ALL
            .iter()
            .map(|c| Some(c.as_str().to_string()))
            .chain(Flow::ALL.iter().map(|f| Some(f.as_str().to_string())))
            .collect();
        ReleasedTable::of(
            &TOTALS,
            period,
            m,
            vec![names],
            protected.iter().map(Cell::from).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_variance_weighting_tightens_and_stays_unbiased() {
        let (v, var) = combine_two(100.0, 25.0, 130.0, 1245.0);
        assert!((var - 1.0 / (1.0 / 25.0 + 1.0 / 1245.0)).abs() < 1e-9);
        assert!(v > 100.0 && v < 101.0, "{v}");
        assert!(var < 25.0);
    }
}
