//! `borderflow ingest`: operator files into the pseudonymised daily presence store.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_ingest::Reason;
use borderflow_pipeline::{Period, Pipeline, ingest};

/// Arguments of `borderflow ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// More input files, directories or glob patterns, on top of the pipeline's.
    #[arg(long = "input", value_name = "GLOB")]
    inputs: Vec<String>,
    /// The period the data are for: a year (2025), a month (2025-07), previous_year or
    /// previous_month (default: the pipeline's `period`). Only events whose functional local
    /// date lies in its look-back (presence.lookback_days ending with its last day) are taken,
    /// others are quarantined as outside_window, and retention removes older dates. Without
    /// a period, dates up to today are taken and nothing is removed.
    #[arg(long)]
    period: Option<String>,
    /// Override a pipeline setting, e.g. --set engine.memory_limit_mb=2048 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Runs the ingest stage and prints its accounting.
pub fn run(args: Args) -> Result<()> {
    let pipeline = Pipeline::load(&args.pipeline, &args.sets)?;
    let period = match args.period.as_deref().or(pipeline.period.as_deref()) {
        Some(text) => Some(Period::resolve(text, chrono::Utc::now().date_naive())?),
        None => None,
    };
    let r = crate::progress::with_ingest_bar(true, |progress| {
        ingest::run_with_progress(&pipeline, period, &args.inputs, progress)
    })?;
    let t = &r.totals;
    println!(
        "ingested {} files: {} rows read, {} accepted, {} quarantined{}; {} presence rows into {} dates in {:.1} s ({:.0} rows/s)",
        r.files.len(),
        t.read,
        t.accepted,
        t.quarantined_total() - t.already_ingested(),
        match t.already_ingested() {
            0 => String::new(),
            n => format!(", {n} already in the store"),
        },
        r.presence_rows,
        r.dates_written.len(),
        r.seconds,
        t.read as f64 / r.seconds.max(1e-9)
    );
    for (reason, n) in &t.quarantined {
        if *reason != Reason::AlreadyIngested {
            println!("  quarantined {reason:<20} {n:>12}");
        }
    }
    for (file, why) in &r.skipped {
        println!("  not read: {file}: {why}");
    }
    if let Some((first, last)) = r.window {
        println!("  accepted dates {first} to {last}");
    }
    if !r.dates_removed.is_empty() {
        println!(
            "  retention removed {} dates before {} (the look-back of the period)",
            r.dates_removed.len(),
            r.window.map_or(String::new(), |w| w.0.to_string())
        );
    }
    println!(
        "  run report {}",
        StateLayout::new(&pipeline.state_dir)
            .ingest_report(&r.run_id)
            .display()
    );
    Ok(())
}
