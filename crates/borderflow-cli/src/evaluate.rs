//! `borderflow evaluate`: the classification's accuracy on a world whose truth is known.

use std::path::PathBuf;

use anyhow::{Context, Result};
use borderflow_core::CountryCode;
use borderflow_pipeline::evaluate::{World, evaluate};
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};
use chrono::NaiveDate;

/// Arguments of `borderflow evaluate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A scenario file (TOML), generated into the work directory first; or a directory holding
    /// `events.parquet|csv` and `truth.parquet|csv` (and `scenario.toml`, as `borderflow
    /// generate` writes, unless --measuring-country, --operator-plmn and --last-day are given).
    world: PathBuf,
    /// Scratch directory for the generated world, the key and the state (default: a new
    /// temporary directory, removed afterwards).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Number of SIMs (overrides a scenario file's).
    #[arg(long)]
    subscribers: Option<u32>,
    /// Seed (overrides a scenario file's).
    #[arg(long)]
    seed: Option<u64>,
    /// The measuring country of pilot data (alpha-3).
    #[arg(long)]
    measuring_country: Option<CountryCode>,
    /// The operator's PLMN of pilot data.
    #[arg(long)]
    operator_plmn: Option<String>,
    /// The last local date of pilot data: the reference period is the 365 days ending with it.
    #[arg(long)]
    last_day: Option<NaiveDate>,
    /// Also write each SIM's truth beside its classification to this CSV file (pseudonyms
    /// only), to find which SIMs a category loses and look them up in the work directory's
    /// state.
    #[arg(long, value_name = "FILE")]
    per_sim: Option<PathBuf>,
    /// Also write the classification's recall and precision per category in this world as an
    /// accuracy file: named as a pipeline's `accuracy_file`, its releases state these figures
    /// (from the office's own pilot data) instead of the validation suite's.
    #[arg(long, value_name = "FILE")]
    accuracy_json: Option<PathBuf>,
}

/// Generates (if need be), classifies and prints the confusion matrix.
pub fn run(args: Args) -> Result<()> {
    let temp;
    let work = match &args.work {
        // Absolute: the scratch pipeline resolves its paths against its own directory.
        Some(w) => std::path::absolute(w)
            .with_context(|| format!("resolving the work directory {}", w.display()))?,
        None => {
            temp = tempfile::tempdir().context("creating a scratch directory")?;
            temp.path().to_path_buf()
        }
    };
    let world = if args.world.is_file() {
        let mut scenario = Scenario::from_file(&args.world)?;
        if let Some(n) = args.subscribers {
            scenario.subscribers = n;
        }
        if let Some(s) = args.seed {
            scenario.seed = s;
        }
        let dir = work.join("world");
        let formats = OutputFormats {
            csv: false,
            parquet: true,
        };
        eprintln!(
            "generating {} SIMs over {} days ...",
            scenario.subscribers, scenario.days
        );
        generate(&scenario, &RefData::embedded(), &dir, formats)
            .with_context(|| format!("generating into {}", dir.display()))?;
        World::generated(
            &dir,
            scenario.measuring_country,
            &scenario.operator_plmn,
            scenario.start,
            scenario.days,
        )
    } else if args.world.is_dir() {
        let dir = &args.world;
        match (args.measuring_country, &args.operator_plmn, args.last_day) {
            (Some(m), Some(plmn), Some(last)) => {
                let mut w = World::generated(dir, m, plmn, last, 1);
                w.last_day = last;
                w.days = 365;
                w
            }
            _ => {
                let s = Scenario::from_file(&dir.join("scenario.toml")).context(
                    "a world directory needs its scenario.toml, or --measuring-country, --operator-plmn and --last-day",
                )?;
                World::generated(dir, s.measuring_country, &s.operator_plmn, s.start, s.days)
            }
        }
    } else {
        return Err(crate::exit::usage(format!(
            "{}: no such scenario file or world directory",
            args.world.display()
        )));
    };
    let started = std::time::Instant::now();
    let eval = evaluate(&world, &work.join("evaluation"))?;
    println!(
        "reference period {} ({:.1} s)\n{}",
        eval.period,
        started.elapsed().as_secs_f64(),
        eval.render()
    );
    if let Some(path) = &args.per_sim {
        borderflow_core::write_file_atomic(path, eval.per_sim_csv().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.accuracy_json {
        let source = format!(
            "borderflow {} evaluated on {} (reference period {})",
            env!("CARGO_PKG_VERSION"),
            args.world.file_name().map_or_else(
                || args.world.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            ),
            eval.period
        );
        let accuracy =
            borderflow_release::accuracy::MethodAccuracy::of_worlds(&source, [eval.scores()]);
        borderflow_core::write_file_atomic(path, accuracy.to_json().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
