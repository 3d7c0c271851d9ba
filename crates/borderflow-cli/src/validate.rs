//! `borderflow validate`: every check a run makes before it writes anything, and what the
//! state directory holds — for an operator to try a pipeline before scheduling it.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_pipeline::{Pipeline, StateLock, ingest, publish};
use borderflow_presence::PresenceStore;
use borderflow_privacy::{Ledger, LedgerError};

/// Arguments of `borderflow validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Input files, directories or glob patterns a run would read besides the pipeline's.
    #[arg(long = "input", value_name = "GLOB")]
    inputs: Vec<String>,
    /// The period a run would release (default: the pipeline's `period`): its cost is checked
    /// against what is left of the budget.
    #[arg(long)]
    period: Option<String>,
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
        "inputs    {} file(s), {:.1} MiB, every required column present",
        checked.files.len(),
        bytes as f64 / 1048576.0
    );
    println!(
        "key       fingerprint {} (loaded; never printed)",
        checked.key.fingerprint()
    );
    let layout = StateLayout::new(&p.state_dir);
    // A run would stop at once if another holds the state; so does validate (taking the lock
    // only where the state exists, so that validate writes nothing).
    let _lock = if p.state_dir.is_dir() {
        Some(StateLock::acquire(&p.state_dir)?)
    } else {
        None
    };
    let store = layout.presence();
    if store.exists() {
        let (s, _) = PresenceStore::existing(&store)?;
        // Every partition's footer is read: a corrupt file is named now, not mid-run.
        let dates = s.check_partitions()?;
        match (dates.first(), dates.last()) {
            (Some(a), Some(b)) => println!(
                "store     {} dates, {a} to {b}, same key, every partition readable",
                dates.len()
            ),
            _ => println!("store     empty"),
        }
    } else {
        println!("store     none yet: the first run creates it");
    }
    let ledger_path = layout.ledger();
    let ledger = if ledger_path.exists() {
        let l = Ledger::open_existing(&ledger_path)?;
        for (year, budget) in l.budgets()? {
            println!(
                "budget    data year {year}: ρ {:.4} of {:.4} spent",
                l.spent(year)?.to_f64(),
                budget.to_f64()
            );
        }
        Some(l)
    } else {
        println!(
            "budget    no release yet (ρ {} a year)",
            p.privacy.annual_rho
        );
        None
    };
    let period = match args.period.as_deref().or(p.period.as_deref()) {
        Some(text) => {
            let period = crate::run::period_of(&p, Some(text), &args.pipeline)?;
            println!("period    {text} → {period}");
            Some(period)
        }
        None => {
            println!("period    none set: `run` needs --period");
            None
        }
    };
    if let Some(period) = period {
        let (years, rho) = match &ledger {
            Some(l) if !publish::published(&p, period) => publish::precheck_budget(&p, period, l)?,
            _ => publish::planned_cost(&p, period)?,
        };
        for year in years {
            let left = match &ledger {
                Some(l) => {
                    let budget = l
                        .budgets()?
                        .into_iter()
                        .find(|(y, _)| *y == year)
                        .map_or(p.privacy.annual_rho, |(_, b)| b.to_f64());
                    budget - l.spent(year)?.to_f64()
                }
                None => p.privacy.annual_rho,
            };
            if ledger.is_none() && rho > left * (1.0 + 1e-12) {
                return Err(anyhow::Error::new(LedgerError::OverBudget {
                    dataset: p.dataset.clone(),
                    period: period.to_string(),
                    year,
                    requested: rho,
                    spent: 0.0,
                    budget: left,
                    remaining: left,
                }));
            }
            println!(
                "cost      release {period} charges ρ {rho:.4} to data year {year} ({left:.4} left){}",
                if publish::published(&p, period) {
                    "; already published, so nothing"
                } else {
                    ""
                }
            );
        }
    }
    println!("ok: a run can start");
    Ok(())
}
