//! `borderflow bench`: how performance is measured — never by timed tests.
//!
//! - [`end_to_end`] (the default): the whole `run` against a reference job on the same files,
//!   over input shapes (row order, number of files, format), each process measured from
//!   outside, with a check that every shape gives the same outputs.
//! - [`stages`] (`bench stages`): ingest and classify inside one process, and on a Ballista
//!   cluster checked row for row against the local engine.
//!
//! The world is generated once and kept ([`world`]); its shapes are cut from it ([`shapes`]).

mod end_to_end;
mod outputs;
mod process;
mod shapes;
mod stages;
mod world;

use anyhow::Result;

/// Arguments of `borderflow bench`: the end-to-end comparison, or `stages`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    stages: Option<Sub>,
    #[command(flatten)]
    end_to_end: end_to_end::EndToEndArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Ingest and classify inside one process (and on a Ballista cluster): events/s,
    /// SIM-days/s, peak memory and bytes spilled per stage.
    Stages(stages::StagesArgs),
    /// Run a program and write its wall and CPU time and peak memory (used by the bench).
    #[command(hide = true)]
    Measure(process::MeasureArgs),
}

/// Runs the bench the arguments ask for.
pub fn run(args: Args) -> Result<()> {
    match args.stages {
        Some(Sub::Stages(a)) => stages::run(a),
        Some(Sub::Measure(a)) => process::run_measured(a),
        None => end_to_end::run(args.end_to_end),
    }
}
