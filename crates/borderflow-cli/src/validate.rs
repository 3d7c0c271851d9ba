//! `borderflow validate`: every check a run makes before it writes anything, and what the
//! state directory holds — for an operator to try a pipeline before scheduling it.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_pipeline::{Pipeline, ingest};
use borderflow_presence::PresenceStore;
use borderflow_privacy::Ledger;

/// Arguments of `borderflow validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Input files, directories or glob patterns a run would read besides the pipeline's.
    #[arg(long = "input", value_name = "GLOB")]
    inputs: Vec<String>,
    /// Override a pipeline setting, e.g. --set privacy.k=20 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Checks the pipeline, its inputs, key and state; prints what a run would start from.
pub fn run(args: Args) -> Result<()> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    println!(
        "pipeline  {}: dataset {}, measuring country {}, operator PLMNs {}",
        args.pipeline.display(),
        p.dataset,
        p.measuring_country,
        p.operator_plmns.join(", ")
    );
    let checked = ingest::preflight(&p, &args.inputs)?;
    let bytes: u64 = checked.files.iter().map(|f| f.size).sum();
    println!(
        "inputs    {} file(s), {:.1} MiB, every mapped column present",
        checked.files.len(),
        bytes as f64 / 1048576.0
    );
    println!(
        "key       fingerprint {} (loaded; never printed)",
        checked.key.fingerprint()
    );
    let layout = StateLayout::new(&p.state_dir);
    let store = layout.presence();
    match PresenceStore::existing(&store) {
        Ok((s, _)) => {
            let dates = s.dates()?;
            match (dates.first(), dates.last()) {
                (Some(a), Some(b)) => {
                    println!("store     {} dates, {a} to {b}, same key", dates.len())
                }
                _ => println!("store     empty"),
            }
        }
        Err(_) => println!("store     none yet: the first run creates it"),
    }
    let ledger = layout.ledger();
    if ledger.exists() {
        let l = Ledger::open_existing(&ledger)?;
        for (year, budget) in l.budgets()? {
            println!(
                "budget    data year {year}: ρ {:.4} of {:.4} spent",
                l.spent(year)?.to_f64(),
                budget.to_f64()
            );
        }
    } else {
        println!(
            "budget    no release yet (ρ {} a year)",
            p.privacy.annual_rho
        );
    }
    match &p.period {
        Some(period) => println!(
            "period    {} → {}",
            period,
            crate::run::period_of(&p, None, &args.pipeline)?
        ),
        None => println!("period    none set: `run` needs --period"),
    }
    println!("ok: a run can start");
    Ok(())
}
