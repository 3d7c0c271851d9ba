//! `report.html`: one self-contained page (no scripts, no fonts, no network) that a
//! non-specialist can read — headline numbers, categories by partner country, the corridors
//! with South-South highlighted, crossings over time, and what noise and suppression mean.
//! Charts are inline SVG drawn here from the released tables: the page shows nothing that is
//! not in the release files.

use std::collections::BTreeMap;
use std::fmt::Write;

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::accountant::margin_of_error_95;
use borderflow_refdata::RefData;

use crate::table::ReleasedTable;

/// Published `crossings` cells of one period: (from, to, subscribers).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodCrossings {
    /// The period, `2025` or `2025-07`.
    pub period: String,
    /// Published cells only.
    pub cells: Vec<(String, String, i64)>,
}

/// What the report is drawn from.
#[derive(Debug)]
pub struct ReportInput<'a> {
    /// Dataset name.
    pub dataset: &'a str,
    /// The release's period.
    pub period: &'a str,
    /// The measuring country.
    pub measuring_country: CountryCode,
    /// False for test releases (seeded noise).
    pub for_publication: bool,
    /// Threshold k.
    pub k: u32,
    /// ρ of this release and its ε at `delta`.
    pub rho: f64,
    /// ε of this release at `delta`.
    pub epsilon: f64,
    /// The calendar years of data the release was charged to.
    pub budget_years: &'a [i32],
    /// Expected true-zero cells per table published by noise alone.
    pub phantom_rate: f64,
    /// The thresholds max(k, τ) of `categories` and `crossings`.
    pub thresholds: (i64, i64),
    /// δ at which ε is shown.
    pub delta: f64,
    /// The three released tables.
    pub categories: &'a ReleasedTable,
    /// The combined headline totals.
    pub totals: &'a ReleasedTable,
    /// See above.
    pub crossings: &'a ReleasedTable,
    /// See above.
    pub corridors: &'a ReleasedTable,
    /// Published crossings of every period of the dataset released so far, this one included,
    /// oldest first.
    pub crossings_history: &'a [PeriodCrossings],
    /// Share of SIMs too sparse to classify (a quality indicator, not per person).
    pub share_too_sparse: f64,
    /// False when the store holds less than 24 months: return migrants were not measured.
    pub return_migrants_measured: bool,
    /// Country names.
    pub refdata: &'a RefData,
}

const INBOUND: [Category; 6] = [
    Category::ResidentForeignSim,
    Category::FrontierIn,
    Category::SeasonalIn,
    Category::TemporaryIn,
    Category::VisitorIn,
    Category::ReturnMigrant,
];
const OUTBOUND: [Category; 4] = [
    Category::FrontierOut,
    Category::SeasonalOut,
    Category::TemporaryOut,
    Category::Emigrant,
];
const PALETTE: [&str; 10] = [
    "#1b6ca8", "#e07b39", "#3a9e5c", "#c23b5b", "#7d5ba6", "#8c6d46", "#d47fb4", "#5f6b73",
    "#b5b82c", "#2bb0c4",
];
const SOUTH_SOUTH: &str = "#d2492a";
const OTHER_FLOW: &str = "#9aa5ad";

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn label(c: Category) -> &'static str {
    match c {
        Category::Resident => "Residents",
        Category::ResidentForeignSim => "Residents with a foreign SIM",
        Category::FrontierIn => "Frontier workers in",
        Category::SeasonalIn => "Seasonal stays in",
        Category::TemporaryIn => "Temporary stays in",
        Category::VisitorIn => "Visitors",
        Category::FrontierOut => "Frontier workers out",
        Category::SeasonalOut => "Seasonal stays abroad",
        Category::TemporaryOut => "Temporary stays abroad",
        Category::Emigrant => "Emigrants",
        Category::ReturnMigrant => "Return migrants",
    }
}

fn fmt_int(v: i64) -> String {
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0 { format!("−{out}") } else { out }
}

/// A value with its 95% margin of error, or "suppressed".
fn estimate(v: Option<i64>, sd: f64) -> String {
    match v {
        Some(v) => format!(
            "{} ± {}",
            fmt_int(v),
            fmt_int(margin_of_error_95(sd).round() as i64)
        ),
        None => "suppressed".into(),
    }
}

/// One bar segment: series index and value.
type Segment = (usize, i64);

/// A horizontal stacked bar chart: one row per label, segments coloured by series.
fn bar_chart(
    title: &str,
    rows: &[(String, Vec<Segment>)],
    series: &[(String, &str)],
    unit: &str,
) -> String {
    let (left, width, row_h, top) = (250.0, 420.0, 22.0, 28.0);
    let max = rows
        .iter()
        .map(|(_, s)| s.iter().map(|x| x.1.max(0)).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let legend_rows = series.len().div_ceil(2);
    let height = top + rows.len() as f64 * row_h + 30.0 + legend_rows as f64 * 18.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 720 {height}" width="720" height="{height}" aria-label="{t}"><text x="0" y="16" font-size="14" font-weight="bold">{t}</text>"##,
        t = esc(title)
    );
    for (i, (name, segs)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{ty}" font-size="12" text-anchor="end">{n}</text>"##,
            x = left - 6.0,
            ty = y + 14.0,
            n = esc(&short(name, 38))
        );
        let mut x = left;
        let mut total = 0;
        for &(s, v) in segs {
            if v <= 0 {
                continue;
            }
            let w = v as f64 / max * width;
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="16" fill="{c}"><title>{n}: {v} {unit}</title></rect>"##,
                c = series[s].1,
                n = esc(&series[s].0),
                v = fmt_int(v)
            );
            x += w;
            total += v;
        }
        let _ = write!(
            svg,
            r##"<text x="{tx:.1}" y="{ty}" font-size="11" fill="#333">{v}</text>"##,
            tx = x + 4.0,
            ty = y + 13.0,
            v = fmt_int(total)
        );
    }
    let ly = top + rows.len() as f64 * row_h + 14.0;
    for (i, (name, colour)) in series.iter().enumerate() {
        let (lx, lyy) = (
            left - 40.0 + (i % 2) as f64 * 240.0,
            ly + (i / 2) as f64 * 18.0,
        );
        let _ = write!(
            svg,
            r##"<rect x="{lx}" y="{ry}" width="10" height="10" fill="{colour}"/><text x="{tx}" y="{lyy}" font-size="11">{n}</text>"##,
            ry = lyy - 9.0,
            tx = lx + 14.0,
            n = esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `name` cut to `max` characters with an ellipsis.
fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let cut: String = name.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn country_name(rd: &RefData, code: &str) -> String {
    code.parse::<CountryCode>()
        .ok()
        .and_then(|c| rd.countries.get(c))
        .map_or_else(|| code.to_string(), |c| c.name.clone())
}

/// Column values of a table as strings (empty for null).
fn column<'t>(t: &'t ReleasedTable, name: &str) -> Vec<&'t str> {
    t.dimension(name)
        .map(|d| {
            d.values
                .iter()
                .map(|v| v.as_deref().unwrap_or(""))
                .collect()
        })
        .unwrap_or_default()
}

fn headline(input: &ReportInput) -> String {
    // The combined headline totals: noised directly and with the cell sums (totals.rs).
    let t = input.totals;
    let names = column(t, "total");
    let mut rows = String::new();
    for c in std::iter::once(&Category::Resident).chain(INBOUND.iter().chain(OUTBOUND.iter())) {
        if *c == Category::ReturnMigrant && !input.return_migrants_measured {
            let _ = write!(
                rows,
                "<tr><td>{}</td><td class=n>not measured (classify.return_migrants = false)</td></tr>",
                label(*c)
            );
            continue;
        }
        if let Some(i) = names.iter().position(|n| *n == c.as_str()) {
            let cell = t.cells[i];
            let _ = write!(
                rows,
                "<tr><td>{}</td><td class=n>{}</td></tr>",
                label(*c),
                estimate(cell.subscribers, cell.noise_sd)
            );
        }
    }
    for flow in crate::totals::Flow::ALL {
        if let Some(i) = names.iter().position(|n| *n == flow.as_str()) {
            let cell = t.cells[i];
            let _ = write!(
                rows,
                "<tr><td><b>all {}</b></td><td class=n>{}</td></tr>",
                flow.as_str(),
                estimate(cell.subscribers, cell.noise_sd)
            );
        }
    }
    format!(
        "<table class=headline><thead><tr><th>Category</th><th class=n>SIMs (± 95% margin)</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

fn by_partner(input: &ReportInput, which: &[Category], title: &str) -> String {
    let t = input.categories;
    let (cat, partner) = (column(t, "category"), column(t, "partner_country"));
    let mut per: BTreeMap<&str, Vec<Segment>> = BTreeMap::new();
    for (i, c) in t.cells.iter().enumerate() {
        let Some(v) = c.subscribers else { continue };
        if let Some(s) = which.iter().position(|x| x.as_str() == cat[i]) {
            per.entry(partner[i]).or_default().push((s, v));
        }
    }
    if per.is_empty() {
        return format!(
            "<p class=empty>{}: no cell reached the threshold k = {}.</p>",
            esc(title),
            input.k
        );
    }
    let mut rows: Vec<(String, Vec<Segment>)> = per
        .into_iter()
        .map(|(p, s)| (country_name(input.refdata, p), s))
        .collect();
    rows.sort_by_key(|(n, s)| {
        (
            std::cmp::Reverse(s.iter().map(|x| x.1).sum::<i64>()),
            n.clone(),
        )
    });
    rows.truncate(12);
    let series: Vec<(String, &str)> = which
        .iter()
        .enumerate()
        .map(|(i, c)| (label(*c).to_string(), PALETTE[i % PALETTE.len()]))
        .collect();
    bar_chart(title, &rows, &series, "SIMs")
}

fn corridor_chart(input: &ReportInput) -> String {
    let cor = input.corridors;
    let (cat, grouping, dir) = (
        column(cor, "category"),
        column(cor, "grouping"),
        column(cor, "direction"),
    );
    let mut by: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (i, c) in cor.cells.iter().enumerate() {
        if grouping[i] != "south_un_m49" || dir[i].is_empty() {
            continue;
        }
        if let Some(v) = c.subscribers {
            *by.entry((cat[i], dir[i])).or_default() += v;
        }
    }
    let directions = [
        "south_to_south",
        "south_to_north",
        "north_to_south",
        "north_to_north",
    ];
    let series: Vec<(String, &str)> = directions
        .iter()
        .map(|d| {
            let colour = if *d == "south_to_south" {
                SOUTH_SOUTH
            } else {
                OTHER_FLOW
            };
            (
                d.replace("_to_", " → ")
                    .replace("south", "South")
                    .replace("north", "North"),
                colour,
            )
        })
        .collect();
    let mut rows = Vec::new();
    for c in INBOUND.iter().chain(OUTBOUND.iter()) {
        let segs: Vec<Segment> = directions
            .iter()
            .enumerate()
            .filter_map(|(s, d)| by.get(&(c.as_str(), *d)).map(|v| (s, *v)))
            .collect();
        if !segs.is_empty() {
            rows.push((label(*c).to_string(), segs));
        }
    }
    if rows.is_empty() {
        return "<p class=empty>No corridor reached the threshold.</p>".into();
    }
    bar_chart(
        "Corridors by direction (UN M49 definition of the Global South)",
        &rows,
        &series,
        "SIMs",
    )
}

fn crossings_over_time(input: &ReportInput) -> String {
    // The pairs with most crossings over all periods, then each one's value per period.
    let mut totals: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for p in input.crossings_history {
        for (f, t, v) in &p.cells {
            *totals.entry((f.as_str(), t.as_str())).or_default() += v;
        }
    }
    let mut pairs: Vec<_> = totals.into_iter().collect();
    pairs.sort_by_key(|(pair, v)| (std::cmp::Reverse(*v), *pair));
    pairs.truncate(8);
    if pairs.is_empty() {
        return "<p class=empty>No crossing cell reached the threshold.</p>".into();
    }
    let series: Vec<(String, &str)> = input
        .crossings_history
        .iter()
        .enumerate()
        .map(|(i, p)| (p.period.clone(), PALETTE[i % PALETTE.len()]))
        .collect();
    // Grouped, not stacked: one row per pair and period.
    let mut rows = Vec::new();
    for ((f, t), _) in &pairs {
        for (s, p) in input.crossings_history.iter().enumerate() {
            let v = p
                .cells
                .iter()
                .find(|c| c.0 == *f && c.1 == *t)
                .map_or(0, |c| c.2);
            rows.push((format!("{f} → {t}, {}", p.period), vec![(s, v)]));
        }
    }
    let mut out = bar_chart(
        "SIMs crossing between two countries, by period",
        &rows,
        &series,
        "SIMs",
    );
    if input.crossings_history.len() == 1 {
        out.push_str("<p class=note>One period released so far; each new release of this dataset adds its bars here.</p>");
    }
    out
}

/// Renders the report.
pub fn render(input: &ReportInput) -> String {
    let m = input.measuring_country.to_string();
    let name = country_name(input.refdata, &m);
    let sd = |t: &ReleasedTable| t.cells.first().map_or(0.0, |c| c.noise_sd);
    let suppressed = |t: &ReleasedTable| t.cells.len() - t.published();
    let banner = if input.for_publication {
        String::new()
    } else {
        "<p class=banner>NOT FOR PUBLICATION — the noise of this release came from a fixed test seed.</p>".into()
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cross-border mobility — {name}, {period}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:780px;margin:2em auto;padding:0 1em;color:#1d2429;line-height:1.45}}
h1{{font-size:1.6em;margin-bottom:.2em}} h2{{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}}
.sub{{color:#5f6b73;margin-top:0}} .banner{{background:#c23b5b;color:#fff;padding:.6em 1em;font-weight:bold}}
table{{border-collapse:collapse;width:100%}} td,th{{padding:.25em .5em;border-bottom:1px solid #eee;text-align:left}}
.n{{text-align:right;font-variant-numeric:tabular-nums}} .empty,.note{{color:#5f6b73;font-style:italic}}
svg{{max-width:100%;height:auto;font-family:inherit}}
</style></head><body>
{banner}
<h1>Cross-border mobility — {name} ({m}), {period}</h1>
<p class=sub>Dataset <b>{dataset}</b>. Counts are SIM cards, not people, classified from the operator's records; every number has been protected with differential privacy.</p>
<h2>Headline numbers</h2>
{headline}
<h2>Where people come from</h2>
{inbound}
<h2>Where residents go</h2>
{outbound}
<h2>Corridors: South-South and the rest</h2>
<p>Each bar sums the noisy counts of every partner country on one side of the North–South divide (UN M49 regions); <span style="color:{ss}">South → South</span> is highlighted. The corridors file also has the World Bank and UNDP definitions, regions and income groups.</p>
{corridors}
<h2>Crossings over time</h2>
{crossings}
<h2>Noise and suppression</h2>
<p>To protect every person, random noise was added to every cell before release (an exact discrete Gaussian, differential privacy at ρ = {rho} for this release, that is ε = {eps:.2} at δ = {delta:e}, charged to each calendar year of data it reads: {years}). The unit protected is one SIM's data in one calendar year: whether or not any one SIM's records of a year are in the data changes what is published only within the noise. A cell's noise has a standard deviation of about {sd_cat:.1} SIMs in <code>categories</code> and {sd_cross:.1} in <code>crossings</code>: a published 100 means “between about {lo} and {hi}” (95%). Sums such as corridors add up the noise of their cells: their margin is given with each one, and a sum is shown only when it clears the threshold for its own noise.</p>
<p>Cells whose noisy value is below the larger of k = {k} and a threshold τ set from the noise and the table's size (so that, on average, fewer than {phantoms} empty cells per table are published by noise alone: {tau_cat} for <code>categories</code>, {tau_cross} for <code>crossings</code>) are suppressed — shown as empty, with OBS_STATUS Q in SDMX — in {sc} of {nc} <code>categories</code> cells and {sx} of {nx} <code>crossings</code> cells. Every cell of every country pair is listed, zeros included, so that the presence of a row reveals nothing.</p>
<p>{sparse:.1}% of SIMs were seen too rarely to classify and are counted nowhere.</p>
<h2 id="methodology">Methodology</h2>
<p>Categories follow the ILO's 20th ICLS (2018) guidelines on international labour migration statistics and the UN's definitions of usual residence (183 nights) and short-term stays; frontier workers commute at least two days a week for 13 weeks. The full rules, their sources and what phones cannot show are in the methodology document shipped with borderflow (<code>docs/methodology.md</code>); privacy in <code>docs/privacy.md</code>. The release's <code>manifest.json</code> records the software version, configuration, inputs and privacy parameters.</p>
</body></html>
"##,
        period = esc(input.period),
        dataset = esc(input.dataset),
        name = esc(&name),
        headline = headline(input),
        inbound = by_partner(input, &INBOUND, "Inbound SIMs by partner country (top 12)"),
        outbound = by_partner(
            input,
            &OUTBOUND,
            "Residents abroad by partner country (top 12)"
        ),
        corridors = corridor_chart(input),
        crossings = crossings_over_time(input),
        ss = SOUTH_SOUTH,
        rho = input.rho,
        eps = input.epsilon,
        delta = input.delta,
        sd_cat = sd(input.categories),
        sd_cross = sd(input.crossings),
        lo = (100.0 - margin_of_error_95(sd(input.categories))).round(),
        hi = (100.0 + margin_of_error_95(sd(input.categories))).round(),
        k = input.k,
        years = input
            .budget_years
            .iter()
            .map(|y| y.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        phantoms = input.phantom_rate,
        tau_cat = input.thresholds.0,
        tau_cross = input.thresholds.1,
        sc = fmt_int(suppressed(input.categories) as i64),
        nc = fmt_int(input.categories.cells.len() as i64),
        sx = fmt_int(suppressed(input.crossings) as i64),
        nx = fmt_int(input.crossings.cells.len() as i64),
        sparse = 100.0 * input.share_too_sparse,
    )
}
