//! `borderflow budget`: the privacy budget of the pipeline's store — per calendar year of
//! data, spent and remaining in ρ and as (ε, δ), and what each release took from it — and
//! what each release of this pipeline would cost.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_pipeline::Pipeline;
use borderflow_privacy::accountant::{epsilon, margin_of_error_95};
use borderflow_privacy::{DomainSizes, Ledger, ReleasePlan, Span, StoreKind};
use borderflow_refdata::RefData;
use borderflow_release::{Domain, TOTAL_CELLS};

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
        "store {}: budget per calendar year of data ρ = {} (ε = {:.3} at δ = {delta:e}), whatever the dataset; unit: one SIM's data in one calendar year",
        p.state_dir.display(),
        privacy.annual_rho,
        epsilon(privacy.annual_rho, delta),
    );
    let rd = RefData::load(&p.refdata)?;
    let countries: Vec<_> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(p.measuring_country, &countries);
    let sizes = DomainSizes {
        categories: domain.categories.len(),
        crossings: domain.crossings.len(),
        totals: TOTAL_CELLS,
        window_days: 365,
    };
    for (span, what) in [
        (
            Span::OneYear,
            "a window inside one calendar year (add/remove)",
        ),
        (
            Span::SeveralYears,
            "a window over two calendar years (replace-one)",
        ),
    ] {
        let plan = ReleasePlan::new(&p.privacy, p.classify.max_crossing_pairs, span, sizes);
        println!(
            "each release of dataset {} on {what}: ρ = {} charged to every data year it reads",
            p.dataset,
            plan.rho().to_f64()
        );
        for t in &plan.tables {
            let sigma = t.sigma();
            println!(
                "  {:<10} ρ = {:<8} Δ² = {:<2} σ = {sigma:>7.2}, 95% margin ±{:<7.1} published from {}",
                t.name,
                t.rho.to_f64(),
                t.delta_sq,
                margin_of_error_95(sigma),
                t.threshold
            );
        }
    }
    let path = StateLayout::new(&p.state_dir).ledger();
    if !path.exists() {
        println!(
            "no release yet: the ledger {} does not exist",
            path.display()
        );
        return Ok(());
    }
    let ledger = Ledger::open_existing(&path)?;
    if ledger.kind()? == StoreKind::Test {
        println!("TEST STORE: nothing it releases is for publication");
    }
    let budgets = ledger.budgets()?;
    if budgets.is_empty() {
        println!("no release yet");
        return Ok(());
    }
    println!(
        "{:<9} {:>10} {:>10} {:>12} {:>10} {:>12}",
        "data year", "budget ρ", "spent ρ", "remaining ρ", "spent ε", "remaining ε"
    );
    for (year, budget) in &budgets {
        let spent = ledger.spent(*year)?;
        let remaining = budget.checked_sub(&spent).map_or(0.0, |r| r.to_f64());
        let (b, s) = (budget.to_f64(), spent.to_f64());
        println!(
            "{year:<9} {b:>10.4} {s:>10.4} {remaining:>12.4} {:>10.3} {:>12.3}",
            epsilon(s, delta),
            // ε of what is left, were it all spent at once (ε does not subtract).
            epsilon(remaining, delta)
        );
    }
    println!(
        "(ρ adds up: spent + remaining = budget. ε does not: each ε column converts its own ρ at δ = {delta:e}, and the ε of a sum is less than the sum of the ε's.)"
    );
    let mut charged: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for c in ledger.charges()? {
        charged
            .entry(c.release)
            .or_default()
            .push(format!("{}: {}", c.year, c.rho.to_f64()));
    }
    println!("releases (ρ charged per data year):");
    for r in ledger.releases()? {
        let taken = charged.get(&r.id).map_or_else(
            || match r.reused_from {
                Some(from) => format!("nothing (reuses the noise of #{from})"),
                None => "nothing".into(),
            },
            |v| v.join(", "),
        );
        println!(
            "  #{:<4} {:<24} {:<8} {:<10} {:<9} {taken}{}",
            r.id,
            r.dataset,
            r.period,
            r.table,
            r.status.to_string(),
            if r.for_publication {
                ""
            } else {
                "  NOT FOR PUBLICATION (test seed)"
            }
        );
    }
    Ok(())
}
