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
    /// `text` for a terminal; `json` for a scheduler's log: one JSON object per stage on
    /// standard output (errors stay one line on standard error).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// How `run` reports its stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for a person.
    Text,
    /// JSON lines for a log collector.
    Json,
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
    let noise = noise(args.test_seed)?;
    let r = crate::progress::with_ingest_bar(args.log_format == LogFormat::Text, |progress| {
        run::run_with_progress(&pipeline, period, &args.inputs, noise, progress)
    })?;
    match args.log_format {
        LogFormat::Text => print_run(&r),
        LogFormat::Json => log_run(&pipeline.dataset, &r),
    }
    Ok(())
}

/// Logs a run's stages as JSON lines (tracing events with their fields).
fn log_run(dataset: &str, r: &RunReport) {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stdout)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let period = r.period.to_string();
        if let Some(i) = &r.ingest {
            tracing::info!(
                dataset,
                period,
                stage = "ingest",
                rows_read = i.totals.read,
                rows_accepted = i.totals.accepted,
                rows_quarantined = i.totals.quarantined_total(),
                presence_rows = i.presence_rows,
                seconds = i.seconds,
                "ingested"
            );
        }
        if let Some(c) = &r.classify {
            tracing::info!(
                dataset,
                period,
                stage = "classify",
                lookback_first = %c.lookback_first,
                lookback_last = %c.lookback_last,
                seconds = c.seconds,
                "classified"
            );
        }
        let p = &r.publish;
        let cells = |name: &str| p.cells.iter().find(|c| c.table == name);
        tracing::info!(
            dataset,
            period,
            stage = "publish",
            release = %p.dir.display(),
            new = p.new,
            settled_committed = p.settled.0,
            settled_aborted = p.settled.1,
            categories_published = cells("categories").map(|c| c.published),
            crossings_published = cells("crossings").map(|c| c.published),
            corridors_published = cells("corridors").map(|c| c.published),
            "{}",
            if p.new { "published" } else { "already published" }
        );
    });
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
                "  {:<11} {:>7} cells published, {:>7} suppressed (below max(k, τ))",
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
