//! `borderflow classify`: the presence store's look-back → per-SIM categories and crossings
//! for one reference period, kept in the state directory.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_pipeline::{Period, Pipeline, classify};

/// Arguments of `borderflow classify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// The reference period: a year (2025) or a month (2025-07). The 365-day look-back ends
    /// with it.
    #[arg(long)]
    period: Period,
    /// Override a pipeline setting, e.g. --set classify.max_gap_days=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Runs the classify stage. It prints how many SIMs were classified, never what they were
/// classified as: exact category counts are unprotected and stay in the state directory.
pub fn run(args: Args) -> Result<()> {
    let pipeline = Pipeline::load(&args.pipeline, &args.sets)?;
    let r = classify::run(&pipeline, args.period)?;
    println!(
        "classified {} SIMs for {} (look-back {} to {}) in {:.1} s",
        r.sims - r.insufficient,
        r.period,
        r.lookback_first,
        r.lookback_last,
        r.seconds
    );
    let reasons: Vec<String> = r
        .unclassified
        .iter()
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    println!(
        "  not classifiable: {}{}; open spells: {}",
        r.insufficient,
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        },
        r.open_spells
    );
    if r.missing_days > 0 {
        println!(
            "  {} days of the look-back have no presence data",
            r.missing_days
        );
    }
    if let Some(reason) = &r.return_migrants.reason {
        println!("  return migrants not classified: {reason}");
    }
    println!(
        "  facts (operator-side, never published) in {}",
        r.dir.display()
    );
    Ok(())
}
