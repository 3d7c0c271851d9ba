//! `borderflow budget`: the privacy budget of the pipeline's store — per calendar year of
//! data, spent and remaining in ρ and as (ε, δ), and what each release took from it — and
//! what each release of this pipeline would cost. `--json` prints the same as one JSON
//! object ([`BudgetReport`]) for a monitoring job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_pipeline::Pipeline;
use borderflow_privacy::accountant::{epsilon, margin_of_error_95};
use borderflow_privacy::{DomainSizes, Ledger, ReleasePlan, Span, StoreKind};
use borderflow_refdata::RefData;
use borderflow_release::{Domain, TOTAL_CELLS};
use serde::Serialize;

/// Arguments of `borderflow budget`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Override a pipeline setting, e.g. --set privacy.delta=1e-10 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print one JSON object instead of text (its fields: docs/operations.md, Monitoring).
    #[arg(long)]
    json: bool,
}

/// Everything `budget` shows, as data.
#[derive(Debug, Serialize)]
pub struct BudgetReport {
    /// The state directory whose ledger holds the budget.
    pub store: String,
    /// The budget of each calendar year of data, in ρ (zCDP).
    pub annual_rho: f64,
    /// The same as ε at `delta`.
    pub annual_epsilon: f64,
    /// The δ of every ε shown.
    pub delta: f64,
    /// The dataset the plans are for.
    pub dataset: String,
    /// What one release of the dataset costs, per kind of window.
    pub plans: Vec<PlanCost>,
    /// The ledger file.
    pub ledger: String,
    /// Whether the ledger exists (false: no release yet, `years` and `releases` empty).
    pub ledger_exists: bool,
    /// Whether the store is a test store (fixed seed, nothing for publication).
    pub test_store: bool,
    /// Spent and remaining per calendar year of data.
    pub years: Vec<YearBudget>,
    /// Every release in the ledger, oldest first.
    pub releases: Vec<ReleaseCharge>,
}

/// The cost of one release on one kind of window.
#[derive(Debug, Serialize)]
pub struct PlanCost {
    /// `one_year` (a window inside one calendar year, add/remove) or `several_years` (a
    /// window over two, replace-one).
    pub window: &'static str,
    /// ρ charged to every data year the window reads.
    pub rho: f64,
    /// Per table.
    pub tables: Vec<TableCost>,
}

/// One table's share of a release's cost.
#[derive(Debug, Serialize)]
pub struct TableCost {
    /// The table.
    pub table: String,
    /// Its ρ.
    pub rho: f64,
    /// Its squared L2 sensitivity.
    pub delta_sq: u32,
    /// The noise standard deviation of each cell.
    pub sigma: f64,
    /// The 95% margin of error of each cell (±).
    pub margin_of_error_95: f64,
    /// The smallest noisy count published.
    pub threshold: i64,
}

/// One calendar year of data's budget.
#[derive(Debug, Serialize)]
pub struct YearBudget {
    /// The calendar year.
    pub year: i32,
    /// Its budget in ρ.
    pub budget_rho: f64,
    /// ρ spent.
    pub spent_rho: f64,
    /// ρ remaining (spent + remaining = budget).
    pub remaining_rho: f64,
    /// ε of what was spent, at `delta`.
    pub spent_epsilon: f64,
    /// ε of what remains, were it spent at once (ε does not subtract).
    pub remaining_epsilon: f64,
}

/// One release and what it took from each data year.
#[derive(Debug, Serialize)]
pub struct ReleaseCharge {
    /// Its number in the ledger.
    pub id: i64,
    /// The dataset.
    pub dataset: String,
    /// The reference period.
    pub period: String,
    /// The table.
    pub table: String,
    /// Where it stands (reserved, sampled, published, …).
    pub status: String,
    /// Whether its noise came from the OS (false: test seed, not for publication).
    pub for_publication: bool,
    /// The release whose noise it reuses, when it took nothing.
    pub reused_from: Option<i64>,
    /// ρ charged per data year.
    pub charges: Vec<YearCharge>,
}

/// ρ charged to one data year.
#[derive(Debug, Serialize)]
pub struct YearCharge {
    /// The calendar year.
    pub year: i32,
    /// ρ charged.
    pub rho: f64,
}

/// Prints the budget and the releases.
pub fn run(args: Args) -> Result<()> {
    let report = report(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

/// Reads the pipeline and its ledger into a [`BudgetReport`].
fn report(args: &Args) -> Result<BudgetReport> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    let privacy = &p.privacy;
    let delta = privacy.delta;
    let rd = RefData::load(&p.refdata)?;
    let countries: Vec<_> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(p.measuring_country, &countries);
    let sizes = DomainSizes {
        categories: domain.categories.len(),
        crossings: domain.crossings.len(),
        totals: TOTAL_CELLS,
        window_days: 365,
    };
    let plans = [
        (Span::OneYear, "one_year"),
        (Span::SeveralYears, "several_years"),
    ]
    .into_iter()
    .map(|(span, window)| {
        let plan = ReleasePlan::new(&p.privacy, p.classify.max_crossing_pairs, span, sizes);
        PlanCost {
            window,
            rho: plan.rho().to_f64(),
            tables: plan
                .iter()
                .map(|t| TableCost {
                    table: t.name.to_string(),
                    rho: t.rho.to_f64(),
                    delta_sq: t.delta_sq,
                    sigma: t.sigma(),
                    margin_of_error_95: margin_of_error_95(t.sigma()),
                    threshold: t.threshold,
                })
                .collect(),
        }
    })
    .collect();
    let path = StateLayout::new(&p.state_dir).ledger();
    let mut r = BudgetReport {
        store: p.state_dir.display().to_string(),
        annual_rho: privacy.annual_rho,
        annual_epsilon: epsilon(privacy.annual_rho, delta),
        delta,
        dataset: p.dataset.clone(),
        plans,
        ledger: path.display().to_string(),
        ledger_exists: false,
        test_store: false,
        years: Vec::new(),
        releases: Vec::new(),
    };
    if !path.exists() {
        return Ok(r);
    }
    let ledger = Ledger::open_existing(&path)?;
    r.ledger_exists = true;
    r.test_store = ledger.kind()? == StoreKind::Test;
    for (year, budget) in ledger.budgets()? {
        let spent = ledger.spent(year)?;
        let remaining = budget.checked_sub(&spent).map_or(0.0, |r| r.to_f64());
        let spent = spent.to_f64();
        r.years.push(YearBudget {
            year,
            budget_rho: budget.to_f64(),
            spent_rho: spent,
            remaining_rho: remaining,
            spent_epsilon: epsilon(spent, delta),
            remaining_epsilon: epsilon(remaining, delta),
        });
    }
    let mut charged: BTreeMap<i64, Vec<YearCharge>> = BTreeMap::new();
    for c in ledger.charges()? {
        charged.entry(c.release).or_default().push(YearCharge {
            year: c.year,
            rho: c.rho.to_f64(),
        });
    }
    for rel in ledger.releases()? {
        r.releases.push(ReleaseCharge {
            id: rel.id,
            dataset: rel.dataset.clone(),
            period: rel.period.clone(),
            table: rel.table.clone(),
            status: rel.status.to_string(),
            for_publication: rel.for_publication,
            reused_from: rel.reused_from,
            charges: charged.remove(&rel.id).unwrap_or_default(),
        });
    }
    Ok(r)
}

/// The report as text for a terminal.
fn print_text(r: &BudgetReport) {
    let delta = r.delta;
    println!(
        "store {}: budget per calendar year of data ρ = {} (ε = {:.3} at δ = {delta:e}), whatever the dataset; unit: one SIM's data in one calendar year",
        r.store, r.annual_rho, r.annual_epsilon,
    );
    for plan in &r.plans {
        let what = match plan.window {
            "one_year" => "a window inside one calendar year (add/remove)",
            _ => "a window over two calendar years (replace-one)",
        };
        println!(
            "each release of dataset {} on {what}: ρ = {} charged to every data year it reads",
            r.dataset, plan.rho
        );
        for t in &plan.tables {
            println!(
                "  {:<10} ρ = {:<8} Δ² = {:<2} σ = {:>7.2}, 95% margin ±{:<7.1} published from {}",
                t.table, t.rho, t.delta_sq, t.sigma, t.margin_of_error_95, t.threshold
            );
        }
    }
    if !r.ledger_exists {
        println!("no release yet: the ledger {} does not exist", r.ledger);
        return;
    }
    if r.test_store {
        println!("TEST STORE: nothing it releases is for publication");
    }
    if r.years.is_empty() {
        println!("no release yet");
        return;
    }
    println!(
        "{:<9} {:>10} {:>10} {:>12} {:>10} {:>12}",
        "data year", "budget ρ", "spent ρ", "remaining ρ", "spent ε", "remaining ε"
    );
    for y in &r.years {
        println!(
            "{:<9} {:>10.4} {:>10.4} {:>12.4} {:>10.3} {:>12.3}",
            y.year,
            y.budget_rho,
            y.spent_rho,
            y.remaining_rho,
            y.spent_epsilon,
            y.remaining_epsilon
        );
    }
    println!(
        "(ρ adds up: spent + remaining = budget. ε does not: each ε column converts its own ρ at δ = {delta:e}, and the ε of a sum is less than the sum of the ε's.)"
    );
    println!("releases (ρ charged per data year):");
    for rel in &r.releases {
        let taken = if rel.charges.is_empty() {
            match rel.reused_from {
                Some(from) => format!("nothing (reuses the noise of #{from})"),
                None => "nothing".into(),
            }
        } else {
            rel.charges
                .iter()
                .map(|c| format!("{}: {}", c.year, c.rho))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  #{:<4} {:<24} {:<8} {:<10} {:<9} {taken}{}",
            rel.id,
            rel.dataset,
            rel.period,
            rel.table,
            rel.status,
            if rel.for_publication {
                ""
            } else {
                "  NOT FOR PUBLICATION (test seed)"
            }
        );
    }
}
