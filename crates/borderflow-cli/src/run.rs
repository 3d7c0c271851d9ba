//! `borderflow run`: one scheduled run — ingest → classify → publish for one period.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use borderflow_pipeline::{Period, Pipeline, RunReport, run};
use borderflow_privacy::NoiseSource;

/// Arguments of `borderflow run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// The reference period: a year (2025), a month (2025-07), previous_year or
    /// previous_month. Default: the pipeline's `period`.
    #[arg(long)]
    period: Option<String>,
    /// Input files, directories or glob patterns, read besides the pipeline's (repeatable).
    #[arg(long = "input", value_name = "GLOB")]
    inputs: Vec<String>,
    /// Test mode: draw the noise from this fixed seed. The release is marked NOT FOR
    /// PUBLICATION in its manifest, its report and the ledger.
    #[arg(long, value_name = "SEED")]
    test_seed: Option<u64>,
    /// Override a pipeline setting, e.g. --set privacy.k=20 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// The noise source: the operating system's, or a test seed.
pub fn noise(test_seed: Option<u64>) -> Result<NoiseSource> {
    Ok(match test_seed {
        Some(seed) => NoiseSource::seeded_for_tests(seed),
        None => NoiseSource::from_os().context("no entropy from the operating system")?,
    })
}

/// The period of a run: `--period`, else the pipeline's `period`.
pub fn period_of(pipeline: &Pipeline, given: Option<&str>, file: &Path) -> Result<Period> {
    let Some(text) = given.or(pipeline.period.as_deref()) else {
        bail!(
            "no period: give --period 2025|2025-07|previous_year|previous_month, or set period in {}",
            file.display()
        );
    };
    Ok(Period::resolve(text, chrono::Utc::now().date_naive())?)
}

/// Runs the pipeline and prints what happened.
pub fn run(args: Args) -> Result<()> {
    let pipeline = Pipeline::load(&args.pipeline, &args.sets)?;
    let period = period_of(&pipeline, args.period.as_deref(), &args.pipeline)?;
    let r = run::run(&pipeline, period, &args.inputs, noise(args.test_seed)?)?;
    print_run(&r);
    Ok(())
}

/// Prints a run's stages, one line each.
pub fn print_run(r: &RunReport) {
    if let Some(i) = &r.ingest {
        let t = &i.totals;
        println!(
            "ingest:   {} rows read, {} accepted, {} quarantined; {} SIM-days in {:.1} s",
            t.read,
            t.accepted,
            t.quarantined_total(),
            i.presence_rows,
            i.seconds
        );
    }
    if let Some(c) = &r.classify {
        println!(
            "classify: {} SIMs over {} to {} in {:.1} s",
            c.sims, c.lookback_first, c.lookback_last, c.seconds
        );
    }
    let p = &r.publish;
    if p.settled != (0, 0) {
        println!(
            "settled an interrupted run: {} release(s) committed, {} aborted (budget returned)",
            p.settled.0, p.settled.1
        );
    }
    if p.new {
        println!("publish:  {}", p.dir.display());
        for c in &p.cells {
            println!(
                "  {:<11} {:>7} cells published, {:>7} suppressed (below k)",
                c.table, c.published, c.suppressed
            );
        }
    } else {
        println!(
            "already published: {} (returned as it is; nothing re-noised, nothing spent)",
            p.dir.display()
        );
    }
}
