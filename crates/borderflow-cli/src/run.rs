//! `borderflow run`: one scheduled run — ingest → classify → publish for one period.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use borderflow_pipeline::run::StageDone;
use borderflow_pipeline::{
    ClassifyReport, IngestReport, Period, Pipeline, PublishReport, RunReport, run,
};
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
    /// `text` for a terminal; `json` for a scheduler's log: one JSON object on standard output
    /// as each stage ends, then a summary line with the outcome, exit status and reason, also
    /// when the run fails (the error is still one line on standard error).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// The `stage` of each JSON line `run --log-format json` writes.
pub mod stage {
    /// The run started.
    pub const START: &str = "start";
    /// Ingest ended (`rows_read`, `presence_rows`, `spilled_bytes`, `seconds`, …).
    pub const INGEST: &str = "ingest";
    /// Classification ended (`sims`, `seconds`, …).
    pub const CLASSIFY: &str = "classify";
    /// The release was published (`release`, `new`, cells published per table).
    pub const PUBLISH: &str = "publish";
    /// The last line: outcome, exit code and reason.
    pub const SUMMARY: &str = "summary";
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
        return Err(crate::exit::usage(format!(
            "no period: give --period 2025|2025-07|previous_year|previous_month, or set period in {}",
            file.display()
        )));
    };
    Ok(Period::resolve(text, chrono::Utc::now().date_naive())?)
}

/// Runs the pipeline and prints what happened. With `--log-format json`, a line is written as
/// each stage ends and the last line is always the summary — outcome, exit status and reason —
/// also when the run fails.
pub fn run(args: Args) -> Result<()> {
    if args.log_format == LogFormat::Text {
        let (pipeline, period) = load(&args)?;
        let r = run_pipeline(&args, &pipeline, period, &mut |_| {})?;
        print_run(&r);
        return Ok(());
    }
    let log = JsonLog::new();
    let result = log.within(|| {
        let (pipeline, period) = load(&args)?;
        let (dataset, period_text) = (pipeline.dataset.as_str(), period.to_string());
        tracing::info!(
            stage = stage::START,
            dataset,
            period = period_text,
            pipeline = %args.pipeline.display(),
            version = env!("CARGO_PKG_VERSION"),
            pid = std::process::id(),
            "run started"
        );
        let r = run_pipeline(&args, &pipeline, period, &mut |done| match done {
            StageDone::Ingest(i) => log_ingest(dataset, &period_text, i),
            StageDone::Classify(c) => log_classify(dataset, &period_text, c),
        })?;
        log_publish(dataset, &period_text, &r.publish);
        Ok::<_, anyhow::Error>((pipeline.dataset.clone(), r))
    });
    log.within(|| match &result {
        Ok((dataset, r)) => tracing::info!(
            stage = stage::SUMMARY,
            dataset,
            period = %r.period,
            release = %r.publish.dir.display(),
            outcome = if r.publish.new { "published" } else { "already_published" },
            exit_code = 0,
            "{}",
            if r.publish.new { "published" } else { "already published" }
        ),
        Err(e) => {
            let failure = crate::exit::failure_of(e);
            tracing::error!(
                stage = stage::SUMMARY,
                outcome = "failed",
                exit_code = failure.exit_code(),
                failure = failure.name(),
                reason = %crate::exit::one_line(e),
                "failed"
            );
        }
    });
    result.map(|_| ())
}

/// The pipeline and the period of a run.
fn load(args: &Args) -> Result<(Pipeline, Period)> {
    let pipeline = Pipeline::load(&args.pipeline, &args.sets)?;
    let period = period_of(&pipeline, args.period.as_deref(), &args.pipeline)?;
    Ok((pipeline, period))
}

/// The pipeline's run for `args`, calling `on_stage` as each stage ends.
fn run_pipeline(
    args: &Args,
    pipeline: &Pipeline,
    period: Period,
    on_stage: &mut dyn FnMut(StageDone<'_>),
) -> Result<RunReport> {
    let noise = noise(args.test_seed)?;
    Ok(crate::progress::with_ingest_bar(
        args.log_format == LogFormat::Text,
        |progress| run::run_observed(pipeline, period, &args.inputs, noise, progress, on_stage),
    )?)
}

/// JSON lines on standard output, one per event, written as it happens.
struct JsonLog {
    dispatch: tracing::Dispatch,
}

impl JsonLog {
    fn new() -> Self {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_target(false)
            .with_writer(std::io::stdout)
            .finish();
        Self {
            dispatch: tracing::Dispatch::new(subscriber),
        }
    }

    fn within<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }
}

fn log_ingest(dataset: &str, period: &str, i: &IngestReport) {
    tracing::info!(
        stage = stage::INGEST,
        dataset,
        period,
        rows_read = i.totals.read,
        rows_accepted = i.totals.accepted,
        rows_quarantined = i.totals.quarantined_total() - i.totals.already_ingested(),
        rows_already_ingested = i.totals.already_ingested(),
        files_not_read = i.skipped.len(),
        presence_rows = i.presence_rows,
        spilled_bytes = i.spilled_bytes,
        seconds = i.seconds,
        "ingested"
    );
}

fn log_classify(dataset: &str, period: &str, c: &ClassifyReport) {
    tracing::info!(
        stage = stage::CLASSIFY,
        dataset,
        period,
        lookback_first = %c.lookback_first,
        lookback_last = %c.lookback_last,
        sims = c.sims,
        seconds = c.seconds,
        "classified"
    );
}

fn log_publish(dataset: &str, period: &str, p: &PublishReport) {
    let cells = |name: &str| p.cells.iter().find(|c| c.table == name);
    tracing::info!(
        stage = stage::PUBLISH,
        dataset,
        period,
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
}

/// Prints a run's stages, one line each.
pub fn print_run(r: &RunReport) {
    if let Some(i) = &r.ingest {
        let t = &i.totals;
        let already = match t.already_ingested() {
            0 => String::new(),
            n => format!(", {n} already in the store"),
        };
        println!(
            "ingest:   {} rows read, {} accepted, {} quarantined{already}; {} SIM-days in {:.1} s",
            t.read,
            t.accepted,
            t.quarantined_total() - t.already_ingested(),
            i.presence_rows,
            i.seconds
        );
        if !i.skipped.is_empty() {
            println!(
                "          {} file(s) not read: their content is in the store",
                i.skipped.len()
            );
        }
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
        crate::summary::print_cells(&p.cells);
    } else {
        println!(
            "already published: {} (returned as it is; nothing re-noised, nothing spent)",
            p.dir.display()
        );
    }
}
