//! `borderflow publish`: a classified period → protected tables in the release directory,
//! paid for from the privacy budget in the ledger.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_pipeline::{Period, Pipeline, publish};

/// Arguments of `borderflow publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// The reference period, classified before with `borderflow classify`.
    #[arg(long)]
    period: Period,
    /// Test mode: draw the noise from this fixed seed. The release is marked NOT FOR
    /// PUBLICATION in its manifest and in the ledger.
    #[arg(long, value_name = "SEED")]
    test_seed: Option<u64>,
    /// Override a pipeline setting, e.g. --set privacy.k=20 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Publishes the period, or reports the release already there.
pub fn run(args: Args) -> Result<()> {
    let pipeline = Pipeline::load(&args.pipeline, &args.sets)?;
    let r = publish::run(&pipeline, args.period, crate::run::noise(args.test_seed)?)?;
    if r.settled != (0, 0) {
        println!(
            "settled an interrupted run: {} release(s) committed, {} aborted (budget returned)",
            r.settled.0, r.settled.1
        );
    }
    if !r.new {
        println!(
            "already published: {} (returned as it is; nothing re-noised, nothing spent)",
            r.dir.display()
        );
        return Ok(());
    }
    println!("published {}", r.dir.display());
    crate::summary::print_cells(&r.cells);
    if args.test_seed.is_some() {
        println!("  NOT FOR PUBLICATION: noise from a fixed test seed");
    }
    Ok(())
}
