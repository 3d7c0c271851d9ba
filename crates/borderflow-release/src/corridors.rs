//! The `corridors` table: roll-ups of `categories` by the partner country's M49 region and
//! sub-region, World Bank income group, and side of the North–South divide under each of the
//! three Global-South definitions, with the direction of the flow relative to the measuring
//! country (docs/design.md §7, §8).
//!
//! A corridor's value is the sum of the **noisy** values of all its cells — suppressed ones
//! included — so it is unbiased (summing only published cells would drop every small partner
//! country, exactly the South-South neighbours the table is for). Its noise standard deviation
//! is √(Σ σ²) = σ√n. Sums of noisy values are post-processing: they cost no budget. A corridor
//! is published only when its sum reaches max(k, τ), with τ from its own σ√n and the table's
//! size so that corridors with no one in them are published by noise alone at most at the
//! pipeline's phantom rate (with 249 cells and σ ≈ 2.24, noise alone exceeds k = 16 a third of
//! the time).

use std::collections::BTreeMap;

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::{ProtectedCell, Threshold};
use borderflow_refdata::{GlobalSouth, RefData, South};

use crate::table::{CORRIDORS, Cell, CellStatus, ReleasedTable};
use crate::tabulate::Domain;

/// Label of partner countries a grouping does not classify.
pub const UNCLASSIFIED: &str = "unclassified";

/// The groupings of `corridors`, in the order the table lists them. `all` has one group,
/// `world`: the category's total over every partner country.
pub const GROUPINGS: [&str; 7] = [
    "all",
    "m49_region",
    "m49_sub_region",
    "wb_income",
    "south_un_m49",
    "south_wb_income",
    "south_undp_hdi",
];

/// Whether people in `category` move from the partner country into M (immigrants, visitors,
/// returning nationals) rather than from M to the partner country.
pub const fn flows_into_m(category: Category) -> bool {
    !matches!(
        category,
        Category::FrontierOut | Category::SeasonalOut | Category::TemporaryOut | Category::Emigrant
    )
}

fn south_definition(grouping: &str) -> Option<GlobalSouth> {
    match grouping {
        "south_un_m49" => Some(GlobalSouth::UnRegions),
        "south_wb_income" => Some(GlobalSouth::WorldBankLmic),
        "south_undp_hdi" => Some(GlobalSouth::UndpHdi),
        _ => None,
    }
}

/// The group of `country` under `grouping`.
pub fn group_of(rd: &RefData, grouping: &str, country: CountryCode) -> String {
    let known = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let group = match grouping {
        "all" => Some("world".to_string()),
        "m49_region" => rd.countries.get(country).and_then(|c| known(&c.region)),
        "m49_sub_region" => rd.countries.get(country).and_then(|c| known(&c.sub_region)),
        "wb_income" => rd
            .income_groups
            .of(country)
            .map(|(g, _)| g.code().to_string()),
        g => south_definition(g)
            .and_then(|d| rd.global_south(country, d))
            .map(|s| s.to_string()),
    };
    group.unwrap_or_else(|| UNCLASSIFIED.to_string())
}

/// The direction of a flow between M and a partner group: `south_to_north` and so on under
/// a Global-South grouping (origin first), empty otherwise or where a side is unknown.
fn direction(
    rd: &RefData,
    grouping: &str,
    m: CountryCode,
    category: Category,
    group: &str,
) -> Option<String> {
    let def = south_definition(grouping)?;
    let m_side = rd.global_south(m, def)?;
    let partner = match group {
        "South" => South::South,
        "North" => South::North,
        _ => return None,
    };
    let (from, to) = if flows_into_m(category) {
        (partner, m_side)
    } else {
        (m_side, partner)
    };
    Some(format!("{from}_to_{to}").to_lowercase())
}

/// Rolls the protected `categories` cells (in `domain` order) up into corridors.
pub fn corridors(
    domain: &Domain,
    protected: &[ProtectedCell],
    k: u32,
    phantom_rate: f64,
    rd: &RefData,
    m: CountryCode,
    period: &str,
) -> ReleasedTable {
    assert_eq!(
        domain.categories.len(),
        protected.len(),
        "one protected cell per domain cell"
    );
    // (category, grouping index, group) → (noisy sum, variance, cells)
    let mut sums: BTreeMap<(usize, usize, String), (i64, f64, usize)> = BTreeMap::new();
    let cat_index = |c: Category| Category::ALL.iter().position(|x| *x == c).expect("listed");
    for (cell, p) in domain.categories.iter().zip(protected) {
        let Some(partner) = cell.partner else {
            continue;
        };
        for (gi, grouping) in GROUPINGS.iter().enumerate() {
            let e = sums
                .entry((
                    cat_index(cell.category),
                    gi,
                    group_of(rd, grouping, partner),
                ))
                .or_default();
            e.0 += p.noisy;
            e.1 += p.noise_sd * p.noise_sd;
            e.2 += 1;
        }
    }
    let threshold = Threshold {
        k,
        phantom_rate,
        cells: sums.len(),
    };
    let mut category = Vec::new();
    let mut grouping = Vec::new();
    let mut group = Vec::new();
    let mut flow = Vec::new();
    let mut dir = Vec::new();
    let mut cells_in = Vec::new();
    let mut cells = Vec::new();
    for ((ci, gi, g), (sum, var, n)) in sums {
        let c = Category::ALL[ci];
        category.push(Some(c.as_str().to_string()));
        grouping.push(Some(GROUPINGS[gi].to_string()));
        flow.push(Some(
            if flows_into_m(c) {
                "inbound"
            } else {
                "outbound"
            }
            .to_string(),
        ));
        dir.push(direction(rd, GROUPINGS[gi], m, c, &g));
        group.push(Some(g));
        cells_in.push(Some(n.to_string()));
        // Below k, or not distinguishable from zero: a sum of many cells carries noise of
        // σ√n, which alone would clear k for a third of empty corridors.
        let noise_sd = var.sqrt();
        let suppressed = sum < threshold.at(noise_sd);
        cells.push(Cell {
            subscribers: (!suppressed).then_some(sum),
            noise_sd,
            status: if suppressed {
                CellStatus::Suppressed
            } else {
                CellStatus::Published
            },
        });
    }
    ReleasedTable::of(
        &CORRIDORS,
        period,
        m,
        vec![category, grouping, group, flow, dir, cells_in],
        cells,
    )
}
