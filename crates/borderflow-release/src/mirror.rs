//! Mirror statistics: two countries' releases of one period side by side (docs/partnerships.md,
//! "Mirror statistics"). The office of country A measures its residents going to B (frontier
//! workers out, seasonal and temporary stays out, emigrants); the office of B measures the
//! same people arriving from A (frontier workers in, seasonal and temporary stays in,
//! residents with a foreign SIM). Each corridor A→B is laid out as A measured it beside B's
//! inbound from A, and the same for B→A, with both margins, the difference and whether it is
//! larger than the noise of both sides explains.
//!
//! Only published cells are compared: a cell withheld on either side says nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use borderflow_core::Category;
use borderflow_privacy::accountant::Z_95;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::report::esc;
use crate::table::{ALL_PARTNERS, CATEGORIES, PERSONS, TableSchema, Unit};

impl borderflow_core::FailureKind for MirrorError {
    fn failure(&self) -> borderflow_core::Failure {
        match self {
            MirrorError::Release { .. } | MirrorError::Mismatch(_) => {
                borderflow_core::Failure::Input
            }
            MirrorError::Write(_) => borderflow_core::Failure::State,
        }
    }
}

/// Why two releases cannot be mirrored. The message names the release and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A release directory cannot be read.
    #[error("{dir}: {message}")]
    Release {
        /// The release directory.
        dir: String,
        /// What is wrong.
        message: String,
    },
    /// The two releases do not describe one corridor of one period.
    #[error("{0}")]
    Mismatch(String),
    /// The page could not be written.
    #[error(transparent)]
    Write(#[from] borderflow_core::PathError),
}

/// The categories that describe the same people from the two ends of a corridor: the origin
/// country's outbound category and the destination country's inbound one.
pub const MIRRORED: [(Category, Category); 4] = [
    (Category::FrontierOut, Category::FrontierIn),
    (Category::SeasonalOut, Category::SeasonalIn),
    (Category::TemporaryOut, Category::TemporaryIn),
    (Category::Emigrant, Category::ResidentForeignSim),
];

/// One side's published cell: its noisy value and σ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    /// The noisy value.
    pub value: i64,
    /// Its noise's standard deviation.
    pub noise_sd: f64,
}

/// One corridor and category, as both countries measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorRow {
    /// Origin country (whose residents go).
    pub origin: String,
    /// Destination country.
    pub destination: String,
    /// The origin's outbound category.
    pub outbound: Category,
    /// The destination's inbound category.
    pub inbound: Category,
    /// The origin's cell, when published.
    pub origin_side: Option<Side>,
    /// The destination's cell, when published.
    pub destination_side: Option<Side>,
}

impl MirrorRow {
    /// Origin minus destination, when both are published.
    pub fn difference(&self) -> Option<i64> {
        Some(self.origin_side?.value - self.destination_side?.value)
    }

    /// The 95% margin of the difference: 1.96 · √(σ_A² + σ_B²).
    pub fn margin_95(&self) -> Option<f64> {
        let (a, b) = (self.origin_side?, self.destination_side?);
        Some(Z_95 * (a.noise_sd.powi(2) + b.noise_sd.powi(2)).sqrt())
    }

    /// Whether the two sides differ by more than their noise explains.
    pub fn beyond_noise(&self) -> Option<bool> {
        Some(self.difference()?.unsigned_abs() as f64 > self.margin_95()?)
    }
}

/// A release as the mirror reads it: its country, period and published category cells.
#[derive(Debug, Clone)]
pub struct MirroredRelease {
    /// Measuring country.
    pub country: String,
    /// Period.
    pub period: String,
    /// Published cells by (category, partner), in SIMs.
    pub cells: BTreeMap<(Category, String), Side>,
    /// The same in persons, when the release estimated persons (the `persons` table of a
    /// partnership's combined release): the value rounded, σ its standard error (noise and
    /// factors).
    pub persons: Option<BTreeMap<(Category, String), Side>>,
}

/// Reads the published cells of a category-by-partner table (`categories` in SIMs, `persons`
/// in persons) from its Parquet file: value and σ by (category, partner country). Rows with
/// no partner (`resident`) or over all partners (`_T`) are not corridors and are skipped.
fn read_partner_cells(
    path: &Path,
    unit: Unit,
) -> Result<BTreeMap<(Category, String), Side>, String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("{name}: {e}"))?;
    let mut cells = BTreeMap::new();
    for batch in reader {
        let b = batch.map_err(|e| format!("{name}: {e}"))?;
        let col = |c: &str| {
            b.column_by_name(c)
                .cloned()
                .ok_or_else(|| format!("{name} has no column {c}"))
        };
        let (cat, partner, value, sd, status) = (
            col(CATEGORIES.columns[0].name)?,
            col(CATEGORIES.columns[1].name)?,
            col(unit.value_column())?,
            col(unit.error_column())?,
            col("status")?,
        );
        let (cat, partner, status) = (
            cat.as_string::<i32>(),
            partner.as_string::<i32>(),
            status.as_string::<i32>(),
        );
        let (value, sd) = (
            value.as_primitive::<Int64Type>(),
            sd.as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            if status.value(i) != "published"
                || partner.is_null(i)
                || partner.value(i) == ALL_PARTNERS
            {
                continue;
            }
            let Ok(category) = cat.value(i).parse::<Category>() else {
                continue;
            };
            cells.insert(
                (category, partner.value(i).to_string()),
                Side {
                    value: value.value(i),
                    noise_sd: sd.value(i),
                },
            );
        }
    }
    Ok(cells)
}

impl MirroredRelease {
    /// Reads the manifest, `categories.parquet` and, when the release estimated persons,
    /// `persons.parquet` of the release in `dir`.
    pub fn read(dir: &Path) -> Result<Self, MirrorError> {
        let bad = |message: String| MirrorError::Release {
            dir: dir.display().to_string(),
            message,
        };
        let manifest = Manifest::read(dir).map_err(|e| bad(format!("{MANIFEST_FILE}: {e}")))?;
        let table = |schema: &TableSchema| dir.join(format!("{}.parquet", schema.name));
        let cells = read_partner_cells(&table(&CATEGORIES), Unit::Sim).map_err(bad)?;
        let persons = if table(&PERSONS).is_file() {
            Some(read_partner_cells(&table(&PERSONS), Unit::Person).map_err(bad)?)
        } else {
            None
        };
        Ok(Self {
            country: manifest.measuring_country,
            period: manifest.period,
            cells,
            persons,
        })
    }
}

/// The unit two releases can be mirrored in: persons when both estimate them, else SIMs.
pub fn unit_of(a: &MirroredRelease, b: &MirroredRelease) -> Unit {
    if a.persons.is_some() && b.persons.is_some() {
        Unit::Person
    } else {
        Unit::Sim
    }
}

/// The corridors A→B and B→A, category by category, in [`unit_of`] the two.
pub fn mirror(a: &MirroredRelease, b: &MirroredRelease) -> Result<Vec<MirrorRow>, MirrorError> {
    if a.period != b.period {
        return Err(MirrorError::Mismatch(format!(
            "the releases are of periods {} ({}) and {} ({}): mirror releases of one period",
            a.period, a.country, b.period, b.country
        )));
    }
    if a.country == b.country {
        return Err(MirrorError::Mismatch(format!(
            "both releases measure {}: mirror two countries' releases",
            a.country
        )));
    }
    let unit = unit_of(a, b);
    let cells = |r: &'_ MirroredRelease| -> BTreeMap<(Category, String), Side> {
        match unit {
            Unit::Person => r.persons.clone().unwrap_or_default(),
            Unit::Sim => r.cells.clone(),
        }
    };
    let (ca, cb) = (cells(a), cells(b));
    let mut rows = Vec::new();
    for ((origin, oc), (destination, dc)) in [((a, &ca), (b, &cb)), ((b, &cb), (a, &ca))] {
        for (outbound, inbound) in MIRRORED {
            rows.push(MirrorRow {
                origin: origin.country.clone(),
                destination: destination.country.clone(),
                outbound,
                inbound,
                origin_side: oc.get(&(outbound, destination.country.clone())).copied(),
                destination_side: dc.get(&(inbound, origin.country.clone())).copied(),
            });
        }
    }
    Ok(rows)
}

/// The mirror as a self-contained HTML page: the table and a chart of both sides with their
/// 95% margins, and what each side cannot see.
pub fn render_html(rows: &[MirrorRow], period: &str, unit: Unit) -> String {
    let unit_text = match unit {
        Unit::Sim => "in SIMs, each with its 95% margin of error from differential-privacy noise",
        Unit::Person => {
            "in persons, as each side's partnership estimated them with its own factors (coverage, SIMs per person; see each release's persons table and report), each with its 95% margin from the noise and those factors"
        }
    };
    let fmt_side = |s: Option<Side>| match s {
        Some(s) => format!("{} ± {:.0}", s.value, Z_95 * s.noise_sd),
        None => "withheld".to_string(),
    };
    let mut table = String::new();
    for r in rows {
        let verdict = match r.beyond_noise() {
            Some(true) => "<td class=flag>differs beyond noise</td>",
            Some(false) => "<td>within noise</td>",
            None => "<td class=muted>not comparable (withheld on a side)</td>",
        };
        table.push_str(&format!(
            "<tr><td>{} → {}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td>{verdict}</tr>\n",
            esc(&r.origin),
            esc(&r.destination),
            r.outbound.as_str(),
            r.inbound.as_str(),
            fmt_side(r.origin_side),
            fmt_side(r.destination_side),
            match (r.difference(), r.margin_95()) {
                (Some(d), Some(m)) => format!("{d:+} ± {m:.0}"),
                _ => String::new(),
            },
        ));
    }
    let chart = chart(rows);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mirror statistics {period}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse}}td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}}
.flag{{color:#b3261e;font-weight:600}}.muted{{color:#888}}</style></head><body>
<h1>Mirror statistics, {period}</h1>
<p>Each corridor as the country of origin measured its residents going (outbound categories)
beside the country of destination's count of the same people arriving (inbound categories),
{unit_text}. A difference
larger than 1.96·√(σ₁² + σ₂²) is more than the noise of both releases explains.</p>
<table><tr><th>corridor</th><th>categories (origin / destination)</th><th>origin's count</th>
<th>destination's count</th><th>difference</th><th></th></tr>
{table}</table>
{chart}
<h2>Why the two sides need not agree</h2>
<ul>
<li>Each side sees only its own operators' SIMs: the origin counts its subscribers seen abroad
through roaming records; the destination counts foreign SIMs on its networks. A person who
takes a local SIM at destination is an inbound SIM no more; phones with roaming off, or dark
abroad, are invisible to the origin.</li>
<li>Coverage differs: a release of one operator counts that operator's SIMs only; combined
releases count their partnership's operators.</li>
<li>The categories are proxies cut by nights and rhythms on each side's own records; a stay near
a threshold (30, 90, 183 nights) may fall on different sides of it.</li>
<li>Emigrants are compared with residents holding a foreign SIM: emigrants who switch to a
local SIM are invisible at destination.</li>
</ul>
</body></html>
"#
    )
}

/// Paired horizontal bars with 95% whiskers, one pair per comparable row.
fn chart(rows: &[MirrorRow]) -> String {
    let comparable: Vec<&MirrorRow> = rows.iter().filter(|r| r.difference().is_some()).collect();
    if comparable.is_empty() {
        return "<p class=muted>No corridor is published on both sides.</p>".into();
    }
    let max = comparable
        .iter()
        .flat_map(|r| [r.origin_side, r.destination_side])
        .flatten()
        .map(|s| s.value as f64 + Z_95 * s.noise_sd)
        .fold(1.0, f64::max);
    let (label_w, bar_w, row_h) = (260.0, 420.0, 34.0);
    let x = |v: f64| label_w + (v.max(0.0) / max) * bar_w;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"Both sides of each corridor\">\n",
        label_w + bar_w + 20.0,
        comparable.len() as f64 * row_h + 30.0
    );
    for (i, r) in comparable.iter().enumerate() {
        let y = 10.0 + i as f64 * row_h;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{} → {} {}</text>\n",
            y + 15.0,
            esc(&r.origin),
            esc(&r.destination),
            r.outbound.as_str().trim_end_matches("_out")
        ));
        for (k, (side, colour)) in [(r.origin_side, "#1b6ca8"), (r.destination_side, "#e9a23b")]
            .into_iter()
            .enumerate()
        {
            let s = side.expect("comparable");
            let yy = y + k as f64 * 12.0;
            let m = Z_95 * s.noise_sd;
            svg.push_str(&format!(
                "<rect x=\"{label_w}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{colour}\"/>\
                 <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\"/>\n",
                x(s.value as f64) - label_w,
                x(s.value as f64 - m),
                x(s.value as f64 + m),
                yy + 5.0,
                yy + 5.0
            ));
        }
    }
    svg.push_str(&format!(
        "<text x=\"{label_w}\" y=\"{:.1}\" font-size=\"11\" fill=\"#1b6ca8\">origin's count</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#e9a23b\">destination's count</text></svg>\n",
        comparable.len() as f64 * row_h + 24.0,
        label_w + 120.0,
        comparable.len() as f64 * row_h + 24.0
    ));
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(country: &str, cells: &[(Category, &str, i64)]) -> MirroredRelease {
        MirroredRelease {
            country: country.into(),
            period: "2025".into(),
            cells: cells
                .iter()
                .map(|(c, p, v)| {
                    (
                        (*c, p.to_string()),
                        Side {
                            value: *v,
                            noise_sd: 3.0,
                        },
                    )
                })
                .collect(),
            persons: None,
        }
    }

    #[test]
    fn a_corridor_one_side_drops_is_flagged_and_consistent_ones_are_not() {
        let ken = release(
            "KEN",
            &[
                (Category::FrontierOut, "UGA", 400),
                (Category::SeasonalOut, "UGA", 120),
                (Category::FrontierIn, "UGA", 300),
            ],
        );
        let uga = release(
            "UGA",
            &[
                (Category::FrontierIn, "KEN", 395), // consistent: within 1.96·√18 ≈ 8.3
                (Category::SeasonalIn, "KEN", 60),  // half of it dropped
                (Category::FrontierOut, "KEN", 306), // consistent the other way
            ],
        );
        let rows = mirror(&ken, &uga).unwrap();
        assert_eq!(rows.len(), 8);
        let find = |o: &str, c: Category| {
            rows.iter()
                .find(|r| r.origin == o && r.outbound == c)
                .unwrap()
        };
        let frontier = find("KEN", Category::FrontierOut);
        assert_eq!(frontier.difference(), Some(5));
        assert_eq!(frontier.beyond_noise(), Some(false));
        assert_eq!(
            find("KEN", Category::SeasonalOut).beyond_noise(),
            Some(true)
        );
        assert_eq!(
            find("UGA", Category::FrontierOut).beyond_noise(),
            Some(false)
        );
        assert_eq!(find("KEN", Category::Emigrant).beyond_noise(), None);
        assert_eq!(unit_of(&ken, &uga), Unit::Sim);
        let html = render_html(&rows, "2025", Unit::Sim);
        assert_eq!(html.matches("differs beyond noise").count(), 1);
        assert!(html.contains("<svg") && html.contains("KEN → UGA"));

        let other = MirroredRelease {
            period: "2024".into(),
            ..uga.clone()
        };
        assert!(
            mirror(&ken, &other)
                .unwrap_err()
                .to_string()
                .contains("periods")
        );
        assert!(
            mirror(&ken, &ken)
                .unwrap_err()
                .to_string()
                .contains("both releases measure KEN")
        );
    }

    #[test]
    fn both_sides_in_persons_are_mirrored_in_persons_read_from_their_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("persons.parquet");
        let text = |v: &[Option<&str>]| v.iter().map(|x| x.map(str::to_string)).collect();
        let cell = |v: Option<i64>, status| crate::table::Cell {
            subscribers: v,
            noise_sd: 10.0,
            status,
        };
        let mut columns = vec![
            text(&[
                Some("frontier_out"),
                Some("frontier_out"),
                Some("seasonal_out"),
            ]),
            text(&[Some(ALL_PARTNERS), Some("UGA"), Some("UGA")]),
        ];
        columns.extend((2..PERSONS.columns.len()).map(|_| vec![None; 3]));
        let table = crate::table::ReleasedTable::of(
            &PERSONS,
            "2025",
            "KEN".parse().unwrap(),
            columns,
            vec![
                cell(Some(500), crate::table::CellStatus::Published),
                cell(Some(455), crate::table::CellStatus::Published),
                cell(None, crate::table::CellStatus::Suppressed),
            ],
        );
        crate::write::write_parquet(&table, &path).unwrap();
        let persons = read_partner_cells(&path, Unit::Person).unwrap();
        assert_eq!(
            persons.len(),
            1,
            "the total over all partners is no corridor"
        );
        let side = persons[&(Category::FrontierOut, "UGA".to_string())];
        assert_eq!(side.value, 455);
        assert!((side.noise_sd - 10.0).abs() < 1e-9);

        let mut ken = release("KEN", &[(Category::FrontierOut, "UGA", 500)]);
        ken.persons = Some(persons);
        let mut uga = release("UGA", &[(Category::FrontierIn, "KEN", 200)]);
        // In SIMs the two sides differ (the origin's subscribers carry two SIMs more often);
        // in persons they agree.
        assert_eq!(mirror(&ken, &uga).unwrap()[0].beyond_noise(), Some(true));
        uga.persons = Some(BTreeMap::from([(
            (Category::FrontierIn, "KEN".to_string()),
            Side {
                value: 470,
                noise_sd: 12.0,
            },
        )]));
        assert_eq!(unit_of(&ken, &uga), Unit::Person);
        let rows = mirror(&ken, &uga).unwrap();
        assert_eq!(rows[0].difference(), Some(-15));
        assert_eq!(rows[0].beyond_noise(), Some(false));
        assert!(render_html(&rows, "2025", Unit::Person).contains("in persons"));
    }
}
