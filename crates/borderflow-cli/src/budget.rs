//! `borderflow budget`: the privacy budget of the pipeline's dataset — per calendar year
//! spent and remaining, in ρ and as (ε, δ) — and every release the ledger holds.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_pipeline::Pipeline;
use borderflow_privacy::Ledger;
use borderflow_privacy::ReleasePlan;
use borderflow_privacy::accountant::{epsilon, margin_of_error_95};

/// Arguments of `borderflow budget`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Override a pipeline setting, e.g. --set privacy.delta=1e-10 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Prints the budget and the releases.
pub fn run(args: Args) -> Result<()> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    let privacy = &p.privacy;
    let delta = privacy.delta;
    println!(
        "dataset {}: budget per calendar year ρ = {} (ε = {:.3} at δ = {delta:e}); k = {}",
        p.dataset,
        privacy.annual_rho,
        epsilon(privacy.annual_rho, delta),
        privacy.k
    );
    for t in &ReleasePlan::new(&p.privacy, p.classify.max_crossing_pairs).tables {
        let sigma = t.sigma();
        println!(
            "  each release's {:<10} ρ = {:<8} noise σ = {sigma:.2}, 95% margin of error ±{:.1}",
            t.name,
            t.rho.to_f64(),
            margin_of_error_95(sigma)
        );
    }
    let path = StateLayout::new(&p.state_dir).ledger();
    if !path.exists() {
        println!(
            "no release yet: the ledger {} does not exist",
            path.display()
        );
        return Ok(());
    }
    let ledger = Ledger::open(&path)?;
    let budgets = ledger.budgets(&p.dataset)?;
    if budgets.is_empty() {
        println!("no release of this dataset yet");
        return Ok(());
    }
    println!(
        "{:<6} {:>10} {:>10} {:>12} {:>10} {:>12}",
        "year", "budget ρ", "spent ρ", "remaining ρ", "spent ε", "remaining ε"
    );
    for (year, budget) in &budgets {
        let spent = ledger.spent(&p.dataset, *year)?;
        let remaining = budget.checked_sub(&spent).map_or(0.0, |r| r.to_f64());
        let (b, s) = (budget.to_f64(), spent.to_f64());
        println!(
            "{year:<6} {b:>10.4} {s:>10.4} {remaining:>12.4} {:>10.3} {:>12.3}",
            epsilon(s, delta),
            // ε of what is left, were it all spent at once (ε does not subtract).
            epsilon(remaining, delta)
        );
    }
    println!("releases:");
    for r in ledger.releases(&p.dataset)? {
        println!(
            "  #{:<4} {:<8} {:<11} ρ = {:<8} {:<9}{}",
            r.id,
            r.period,
            r.table,
            r.rho.to_f64(),
            r.status,
            if r.for_publication {
                ""
            } else {
                "  NOT FOR PUBLICATION (test seed)"
            }
        );
    }
    Ok(())
}
