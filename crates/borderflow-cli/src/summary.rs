//! A release's headline numbers, read back from its published files (nothing else is shown).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use borderflow_privacy::accountant::margin_of_error_95;
use borderflow_release::Manifest;

/// Reads `file` as CSV records keyed by header name.
fn records(file: &Path) -> Result<Vec<BTreeMap<String, String>>> {
    let mut r = csv::Reader::from_path(file).with_context(|| format!("{}", file.display()))?;
    let header = r.headers()?.clone();
    r.records()
        .map(|rec| {
            let rec = rec.with_context(|| format!("{}", file.display()))?;
            Ok(header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect())
        })
        .collect()
}

fn line(name: &str, value: &str, sd: &str) {
    let margin = sd
        .parse::<f64>()
        .map_or(String::new(), |s| format!("±{:.0}", margin_of_error_95(s)));
    let value = if value.is_empty() {
        "suppressed"
    } else {
        value
    };
    println!("  {name:<22} {value:>12} {margin:>8}");
}

/// Prints the headline totals of `totals` — each category's and each direction's, noised
/// directly and combined with the cell sums — with their 95% margins of error.
pub fn print(release: &Path) -> Result<()> {
    println!("  {:<22} {:>12} {:>8}", "total", "SIMs", "95% ±");
    let manifest = Manifest::read(release)?;
    let measured = manifest.classification.return_migrants.available;
    for r in records(&release.join("totals.csv"))? {
        if r["total"] == "return_migrant" && !measured {
            let reason = format!(
                "not measured ({})",
                borderflow_release::NotMeasured::ReturnMigrantsOff.setting()
            );
            println!("  {:<22} {:>21}", "return_migrant", reason);
        } else {
            line(&r["total"], &r["subscribers"], &r["noise_sd"]);
        }
    }
    Ok(())
}

/// Prints a release's cells by status, one line per table.
pub(crate) fn print_cells(cells: &[borderflow_pipeline::publish::TableCells]) {
    for c in cells {
        let missing = if c.not_measured > 0 {
            format!(", {} not measured", c.not_measured)
        } else {
            String::new()
        };
        println!(
            "  {:<11} {:>7} cells published, {:>7} suppressed (below max(k, τ)){missing}",
            c.table, c.published, c.suppressed
        );
    }
}
