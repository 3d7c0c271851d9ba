//! `borderflow demo`: the whole product on a synthetic world, with nothing but the binary —
//! generate a world, make a key, write the demo pipeline, and run ingest → classify →
//! protect → publish into `./demo-out`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use borderflow_pipeline::{Pipeline, run};
use borderflow_pseudo::PseudonymKey;
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};

/// The demo pipeline, as shipped in `pipelines/demo.toml`.
const DEMO_PIPELINE: &str = include_str!("../../../pipelines/demo.toml");
/// Marks a directory as the demo's own, so a second demo may replace it.
const MARKER: &str = ".borderflow-demo";

/// Arguments of `borderflow demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the world, the operator-side state and the release. An earlier demo
    /// there is replaced; any other non-empty directory is refused.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// SIMs in the synthetic world.
    #[arg(long, default_value_t = 10_000)]
    subscribers: u32,
    /// Seed of the synthetic world (the noise always comes from the operating system).
    #[arg(long, default_value_t = 2025)]
    seed: u64,
}

fn prepare(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_none();
        if out.join(MARKER).exists() {
            std::fs::remove_dir_all(out)
                .with_context(|| format!("cannot remove the earlier demo in {}", out.display()))?;
        } else if !empty {
            return Err(crate::exit::usage(format!(
                "{} exists and is not a borderflow demo: choose another --out",
                out.display()
            )));
        }
    }
    // The demo's directory holds its state (owner-only) beside its release (for everyone).
    borderflow_core::create_public_dir_all(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join(MARKER), b"written by borderflow demo\n")
        .with_context(|| format!("cannot write in {}", out.display()))?;
    Ok(())
}

/// Runs the demo and prints a summary and the report's path.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let out = &args.out;
    prepare(out)?;
    let scenario = Scenario {
        subscribers: args.subscribers,
        seed: args.seed,
        ..Scenario::default()
    };
    // Generating takes a few seconds: say so before, not only after.
    println!(
        "world:    generating {} SIMs of one operator in {} ({} days from {}) …",
        scenario.subscribers, scenario.measuring_country, scenario.days, scenario.start
    );
    let world = generate(
        &scenario,
        &RefData::embedded(),
        &out.join("world"),
        OutputFormats {
            csv: false,
            parquet: true,
        },
    )
    .context("generating the synthetic world")?;
    println!(
        "world:    {} SIMs, {} events in {:.1} s",
        world.subscribers,
        world.events,
        started.elapsed().as_secs_f64()
    );
    PseudonymKey::generate()?.write_new(&out.join("demo.key"))?;
    let pipeline_file = out.join("demo.toml");
    std::fs::write(&pipeline_file, DEMO_PIPELINE)
        .with_context(|| format!("cannot write {}", pipeline_file.display()))?;
    let pipeline = Pipeline::load(&pipeline_file, &[])?;
    let period = crate::run::period_of(&pipeline, None, &pipeline_file)?;
    let noise = crate::run::noise(None)?;
    let r = crate::progress::with_ingest_bar(true, |progress| {
        run::run_with_progress(&pipeline, period, &[], noise, progress)
    })?;
    crate::run::print_run(&r);
    println!();
    crate::summary::print(&r.publish.dir)?;
    println!();
    println!("report:   {}", r.publish.dir.join("report.html").display());
    println!(
        "done in {:.1} s. Budget: borderflow budget {}",
        started.elapsed().as_secs_f64(),
        pipeline_file.display()
    );
    Ok(())
}
