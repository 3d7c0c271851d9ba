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
    /// When the release was published (RFC 3339, UTC).
    pub published_at: &'a str,
    /// The SDMX agency publishing it (the citation's author).
    pub agency: &'a str,
    /// The classification's measured accuracy per category.
    pub accuracy: &'a crate::accuracy::MethodAccuracy,
    /// Persons estimated from the noisy counts, with their factors (a partnership's combined
    /// release); `None` for counts of SIMs only.
    pub persons: Option<&'a PersonsSection>,
}

/// Persons estimated from a release's noisy counts, as the report shows them: never without
/// the factors they were estimated with.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonsSection {
    /// Each category total: persons and the 95% margin, `None` where the SIM count is
    /// withheld or not measured.
    pub totals: Vec<(Category, Option<(f64, f64)>)>,
    /// Each factor: what it is, its value and standard error, its source and vintage.
    pub factors: Vec<PersonsFactorRow>,
    /// The `persons` table the release publishes (Parquet, CSV, SDMX-CSV), every row with
    /// the factors it used.
    pub table: crate::table::ReleasedTable,
}

/// One factor of a persons estimate, as the report lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonsFactorRow {
    /// What it is (`coverage`, `SIMs per person`, `inbound coverage, UGA`).
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its standard error.
    pub standard_error: f64,
    /// Its source.
    pub source: String,
    /// Its vintage.
    pub vintage: String,
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
/// Non-residents by where they come from, frontier workers first (return migrants are
/// residents: they come home, and are in the headline table).
const FROM_ABROAD: [Category; 5] = [
    Category::FrontierIn,
    Category::SeasonalIn,
    Category::TemporaryIn,
    Category::ResidentForeignSim,
    Category::VisitorIn,
];
const PALETTE: [&str; 10] = [
    "#1b6ca8", "#e07b39", "#3a9e5c", "#c23b5b", "#7d5ba6", "#8c6d46", "#d47fb4", "#5f6b73",
    "#b5b82c", "#2bb0c4",
];
const SOUTH_SOUTH: &str = "#d2492a";
/// One colour per direction across the North–South divide, South → South first.
const DIRECTION_COLOURS: [&str; 4] = [SOUTH_SOUTH, "#e9a23b", "#1b6ca8", "#7d8a93"];
const BAR: &str = "#1b6ca8";

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn label(c: Category) -> &'static str {
    c.name()
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
            n = esc(&short(name, 40))
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
            if w > 34.0 {
                let _ = write!(
                    svg,
                    r##"<text x="{cx:.1}" y="{ty}" font-size="10" fill="#fff" text-anchor="middle">{v}</text>"##,
                    cx = x + w / 2.0,
                    ty = y + 12.0,
                    v = fmt_int(v)
                );
            }
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
        .map_or_else(|| code.to_string(), |c| c.short_name().to_string())
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
                "<tr><td>{}</td><td class=n>not measured ({})</td></tr>",
                label(*c),
                crate::NotMeasured::ReturnMigrantsOff.setting()
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

/// A category's published cells by partner country, largest first: (partner code, value,
/// noise sd).
fn partners_of(input: &ReportInput, category: Category) -> Vec<(String, i64, f64)> {
    let t = input.categories;
    let (cat, partner) = (column(t, "category"), column(t, "partner_country"));
    let mut rows: Vec<(String, i64, f64)> = t
        .cells
        .iter()
        .enumerate()
        .filter(|(i, _)| cat[*i] == category.as_str() && !partner[*i].is_empty())
        .filter_map(|(i, c)| {
            c.subscribers
                .map(|v| (partner[i].to_string(), v, c.noise_sd))
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

/// A horizontal bar per partner with its value written beside it and a 95% interval bar.
fn interval_chart(title: &str, rows: &[(String, i64, f64)], colour: &str) -> String {
    let (left, width, row_h, top) = (190.0, 400.0, 22.0, 26.0);
    let max = rows
        .iter()
        .map(|r| r.1 as f64 + margin_of_error_95(r.2))
        .fold(1.0, f64::max);
    let height = top + rows.len() as f64 * row_h + 6.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 720 {height}" width="720" height="{height}" aria-label="{t}"><text x="0" y="16" font-size="13" font-weight="bold">{t}</text>"##,
        t = esc(title)
    );
    for (i, (name, v, sd)) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let m = margin_of_error_95(*sd);
        let x = |value: f64| left + value.clamp(0.0, max) / max * width;
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end">{n}</text><rect x="{left}" y="{y:.1}" width="{w:.1}" height="14" fill="{colour}" opacity="0.85"><title>{n}: {v} ± {mm} SIMs</title></rect><line x1="{x0:.1}" x2="{x1:.1}" y1="{cy:.1}" y2="{cy:.1}" stroke="#1d2429" stroke-width="1.5"/><line x1="{x0:.1}" x2="{x0:.1}" y1="{ya:.1}" y2="{yb:.1}" stroke="#1d2429"/><line x1="{x1:.1}" x2="{x1:.1}" y1="{ya:.1}" y2="{yb:.1}" stroke="#1d2429"/><text x="{tx:.1}" y="{ty}" font-size="11" fill="#333">{v} ± {mm}</text>"##,
            lx = left - 6.0,
            ty = y + 12.0,
            n = esc(&short(name, 28)),
            w = x(*v as f64) - left,
            x0 = x(*v as f64 - m),
            x1 = x(*v as f64 + m),
            cy = y + 7.0,
            ya = y + 3.0,
            yb = y + 11.0,
            tx = x(*v as f64 + m) + 6.0,
            v = fmt_int(*v),
            mm = fmt_int(m.round() as i64),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Per category of `which`, its top partner countries with values and 95% intervals.
fn by_partner(input: &ReportInput, which: &[Category]) -> String {
    let mut out = String::new();
    for (n, c) in which.iter().enumerate() {
        let rows: Vec<(String, i64, f64)> = partners_of(input, *c)
            .into_iter()
            .take(5)
            .map(|(p, v, sd)| (country_name(input.refdata, &p), v, sd))
            .collect();
        if rows.is_empty() {
            let _ = write!(
                out,
                "<p class=empty>{}: no partner country reached the threshold.</p>",
                esc(label(*c))
            );
            continue;
        }
        let colour = if n == 0 { SOUTH_SOUTH } else { BAR };
        out.push_str(&interval_chart(
            &format!("{} — top partner countries", label(*c)),
            &rows,
            colour,
        ));
    }
    out
}

/// The noisy sum of published corridors under the UN M49 South definition, per (category,
/// direction): (value, variance).
fn south_corridors(input: &ReportInput) -> BTreeMap<(String, String), (i64, f64)> {
    let cor = input.corridors;
    let (cat, grouping, dir) = (
        column(cor, "category"),
        column(cor, "grouping"),
        column(cor, "direction"),
    );
    let mut by: BTreeMap<(String, String), (i64, f64)> = BTreeMap::new();
    for (i, c) in cor.cells.iter().enumerate() {
        if grouping[i] != "south_un_m49" || dir[i].is_empty() {
            continue;
        }
        if let Some(v) = c.subscribers {
            let e = by
                .entry((cat[i].to_string(), dir[i].to_string()))
                .or_default();
            e.0 += v;
            e.1 += c.noise_sd * c.noise_sd;
        }
    }
    by
}

/// The categories of cross-border labour mobility (ICLS 2018 proxies): the South-South share
/// is stated over these, visitors and return migrants aside.
const LABOUR_MOBILITY: [Category; 8] = [
    Category::ResidentForeignSim,
    Category::FrontierIn,
    Category::SeasonalIn,
    Category::TemporaryIn,
    Category::FrontierOut,
    Category::SeasonalOut,
    Category::TemporaryOut,
    Category::Emigrant,
];

/// The South-South share of labour mobility with its 95% margin (delta method on the noisy
/// sums), or `None` when no such corridor was published.
fn south_south_share(input: &ReportInput) -> Option<(f64, f64)> {
    let by = south_corridors(input);
    let (mut ss, mut var_ss, mut other, mut var_other) = (0f64, 0f64, 0f64, 0f64);
    for ((cat, dir), (v, var)) in &by {
        if !LABOUR_MOBILITY.iter().any(|c| c.as_str() == cat) {
            continue;
        }
        if dir == "south_to_south" {
            ss += *v as f64;
            var_ss += var;
        } else {
            other += *v as f64;
            var_other += var;
        }
    }
    let total = ss + other;
    if total <= 0.0 {
        return None;
    }
    let share = (ss / total).clamp(0.0, 1.0);
    let var = (other * other * var_ss + ss * ss * var_other) / total.powi(4);
    Some((share, margin_of_error_95(var.sqrt())))
}

/// The page's first paragraph: frontier workers in and out with their main partners, and the
/// South-South share.
fn at_a_glance(input: &ReportInput, m_name: &str) -> String {
    let t = input.totals;
    let names = column(t, "total");
    let total = |c: Category| {
        names
            .iter()
            .position(|n| *n == c.as_str())
            .map(|i| t.cells[i])
            .and_then(|cell| cell.subscribers.map(|v| (v, cell.noise_sd)))
    };
    let partners = |c: Category| {
        let top: Vec<String> = partners_of(input, c)
            .into_iter()
            .take(3)
            .map(|(p, _, _)| esc(&country_name(input.refdata, &p)))
            .collect();
        if top.is_empty() {
            String::new()
        } else {
            format!(
                ", mostly {} {}",
                if c == Category::FrontierIn {
                    "from"
                } else {
                    "to"
                },
                top.join(", ")
            )
        }
    };
    let frontier = |c: Category, verb: &str| match total(c) {
        Some((v, sd)) => format!(
            "<b>{} ± {}</b> SIMs of frontier workers {verb}{}",
            fmt_int(v),
            fmt_int(margin_of_error_95(sd).round() as i64),
            partners(c)
        ),
        None => format!("too few frontier workers {verb} to publish"),
    };
    let lead = " Of SIMs in cross-border labour mobility (frontier, seasonal and temporary stays, residents with a foreign SIM, emigrants),";
    let share = match south_south_share(input) {
        Some((p, _)) if p >= 1.0 => format!(
            "{lead} <b>all</b> of those in published corridors move between two countries of the Global South (UN M49 definition): no corridor with the North reached the publication threshold."
        ),
        Some((p, m)) => format!(
            "{lead} <b>{:.1}% ± {:.1} points</b> move between two countries of the Global South (UN M49 definition; published corridors).",
            100.0 * p,
            100.0 * m
        ),
        None => String::new(),
    };
    format!(
        "<p class=glance>In {period}, {inn}; {out}.{share}</p>",
        period = esc(input.period),
        inn = frontier(
            Category::FrontierIn,
            &format!("commuting into {}", esc(m_name))
        ),
        out = frontier(Category::FrontierOut, "living here and commuting abroad"),
    )
}

fn corridor_chart(input: &ReportInput) -> String {
    let by = south_corridors(input);
    let directions = [
        "south_to_south",
        "south_to_north",
        "north_to_south",
        "north_to_north",
    ];
    let series: Vec<(String, &str)> = directions
        .iter()
        .zip(DIRECTION_COLOURS)
        .map(|(d, colour)| {
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
            .filter_map(|(s, d)| {
                by.get(&(c.as_str().to_string(), d.to_string()))
                    .map(|v| (s, v.0))
            })
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
    let suppressed = |t: &ReleasedTable| t.cells.iter().filter(|c| c.suppressed()).count();
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
svg{{max-width:100%;height:auto;font-family:inherit;display:block;margin:.4em 0}}
.glance{{font-size:1.12em;background:#f3f6f8;border-left:4px solid {ss};padding:.7em 1em}} .cite{{font-size:.92em;color:#333}}
</style></head><body>
{banner}
<h1>Cross-border mobility — {name} ({m}), {period}</h1>
<p class=sub>Dataset <b>{dataset}</b> · released {published} · borderflow {version}. Counts are SIM cards, not people, classified from the operator's records; every number has been protected with differential privacy, and ± gives its 95% margin of error.</p>
{glance}
<h2>Headline numbers</h2>
{headline}
{persons}<h2>Where people come from</h2>
<p>Non-residents present in {name}, by the country of their SIM's home network; bars show the 95% interval.</p>
{inbound}
<h2>Where residents go</h2>
{outbound}
<h2>Corridors: South-South and the rest</h2>
<p>Each bar sums the noisy counts of every partner country on one side of the North–South divide (UN M49 regions), one colour per direction, <span style="color:{ss}">South → South</span> first. The corridors file also has the World Bank and UNDP definitions, regions and income groups.</p>
{corridors}
<h2>Crossings over time</h2>
{crossings}
<h2>Noise and suppression</h2>
<p>To protect every person, random noise was added to every cell before release (an exact discrete Gaussian, differential privacy at ρ = {rho} for this release, that is ε = {eps:.2} at δ = {delta:e}, charged to each calendar year of data it reads: {years}). The unit protected is one SIM's data in one calendar year: whether or not any one SIM's records of a year are in the data changes what is published only within the noise. A cell's noise has a standard deviation of about {sd_cat:.1} SIMs in <code>categories</code> and {sd_cross:.1} in <code>crossings</code>: a published 100 means “between about {lo} and {hi}” (95%). Sums such as corridors add up the noise of their cells: their margin is given with each one, and a sum is shown only when it clears the threshold for its own noise.</p>
<p>Cells whose noisy value is below the larger of k = {k} and a threshold τ set from the noise and the table's size (so that, on average, fewer than {phantoms} empty cells per table are published by noise alone: {tau_cat} for <code>categories</code>, {tau_cross} for <code>crossings</code>) are suppressed — shown as empty, with OBS_STATUS Q in SDMX — in {sc} of {nc} <code>categories</code> cells and {sx} of {nx} <code>crossings</code> cells. Every cell of every country pair is listed, zeros included, so that the presence of a row reveals nothing.</p>
<p>{sparse:.1}% of SIMs could not be classified (seen too rarely, or silent too long to tell a stay from a residence) and are counted nowhere.</p>
<h2>The classification's own error</h2>
{accuracy}
<h2 id="methodology">Methodology</h2>
<p>Categories follow the ILO's 20th ICLS (2018) guidelines on international labour migration statistics and the UN's definitions of usual residence (183 nights) and short-term stays; frontier workers commute at least two days a week for 13 weeks, or sleep at the workplace and go home every week for 13 weeks (UN 1990 Convention art. 2(2)(a): "daily or at least once a week"); SIMs whose records cannot tell their category are counted as not classifiable, never guessed. The full rules, their sources and what phones cannot show are in the methodology document shipped with borderflow (<code>docs/methodology.md</code>); privacy in <code>docs/privacy.md</code>. Beside this page: <a href="manifest.json">manifest.json</a> (software version, configuration digest, privacy parameters), <a href="quality.json">quality.json</a> (both with their JSON Schemas, <a href="manifest.schema.json">manifest.schema.json</a> and <a href="quality.schema.json">quality.schema.json</a>), <a href="datapackage.json">datapackage.json</a> (column types) and <a href="structure.sdmx.xml">structure.sdmx.xml</a> (SDMX structures).</p>
<h2>Citation</h2>
<p class=cite>{agency} ({year}). <i>Cross-border mobility statistics from mobile network data: {name}, {period}</i> (dataset {dataset}, released {published}). Produced with borderflow {version}; differentially private, ρ = {rho}.</p>
</body></html>
"##,
        period = esc(input.period),
        dataset = esc(input.dataset),
        name = esc(&name),
        headline = headline(input),
        inbound = by_partner(input, &FROM_ABROAD),
        outbound = by_partner(input, &OUTBOUND),
        glance = at_a_glance(input, &name),
        version = env!("CARGO_PKG_VERSION"),
        published = esc(input.published_at.get(..10).unwrap_or(input.published_at)),
        agency = esc(input.agency),
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
        year = esc(input.published_at.get(..4).unwrap_or(input.published_at)),
        tau_cat = input.thresholds.0,
        tau_cross = input.thresholds.1,
        sc = fmt_int(suppressed(input.categories) as i64),
        nc = fmt_int(input.categories.cells.len() as i64),
        sx = fmt_int(suppressed(input.crossings) as i64),
        nx = fmt_int(input.crossings.cells.len() as i64),
        sparse = 100.0 * input.share_too_sparse,
        accuracy = accuracy_table(input.accuracy),
        persons = input.persons.map(persons_section).unwrap_or_default(),
    )
}

/// The persons estimated from the SIM counts, with every factor used.
fn persons_section(p: &PersonsSection) -> String {
    let mut rows = String::new();
    for (c, e) in &p.totals {
        let value = match e {
            Some((persons, margin)) => format!(
                "<td class=n>{}</td><td class=n>± {}</td>",
                fmt_int(persons.round() as i64),
                fmt_int(margin.round() as i64)
            ),
            None => "<td class=empty colspan=2>withheld</td>".into(),
        };
        rows.push_str(&format!("<tr><td>{}</td>{value}</tr>\n", esc(label(*c))));
    }
    let mut factors = String::new();
    for f in &p.factors {
        factors.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&f.name),
            f.value,
            f.standard_error,
            esc(&f.source),
            esc(&f.vintage)
        ));
    }
    format!(
        "<h2>Persons (estimated)</h2>\n<p>Persons are estimated from the noisy SIM counts above as SIMs ÷ (coverage × SIMs per person), with the factors below; the margin carries both the noise and the factors' standard errors (delta method). Persons whose SIMs could not be classified are in no category.</p>\n<table><tr><th>category</th><th class=n>persons</th><th class=n>95% margin</th></tr>\n{rows}</table>\n<table><tr><th>factor</th><th class=n>value</th><th class=n>standard error</th><th>source</th><th>vintage</th></tr>\n{factors}</table>\n"
    )
}

/// The method's measured recall and precision per category, as ranges over the worlds
/// evaluated: the second source of error, beside the noise.
fn accuracy_table(a: &crate::accuracy::MethodAccuracy) -> String {
    let range = |r: [f64; 2]| {
        if r[0] == r[1] {
            format!("{:.2}", r[0])
        } else {
            format!("{:.2}–{:.2}", r[0], r[1])
        }
    };
    let mut rows = String::new();
    for c in borderflow_core::Category::ALL {
        let Some(x) = a.categories.get(c.as_str()) else {
            continue;
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
            label(c),
            range(x.recall),
            range(x.precision),
            x.worlds
        ));
    }
    format!(
        "<p>The noise margins above say how far a count may be from the exact count of SIMs classified; they do not say whether the SIMs were classified right. That was measured against ground truth ({source}): recall is the share of a category's SIMs put in it, precision the share of the SIMs put in it that belong there, lowest–highest over the worlds with at least {min} of its SIMs classified.</p>\n<table><tr><th>category</th><th class=n>recall</th><th class=n>precision</th><th class=n>worlds</th></tr>\n{rows}</table>",
        source = esc(&a.source),
        min = a.min_sims,
    )
}
