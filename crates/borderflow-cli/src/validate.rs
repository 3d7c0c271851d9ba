//! `borderflow validate`: every check a run makes before it writes anything, and what the
//! state directory holds — for an operator to try a pipeline before scheduling it. `--json`
//! prints one JSON object instead ([`Validation`] when the checks pass; `ok`, `failure`,
//! `exit_code` and `reason` when one fails, with the same exit status).

use std::path::PathBuf;

use anyhow::Result;
use borderflow_core::StateLayout;
use borderflow_pipeline::{Pipeline, StateLock, ingest, publish};
use borderflow_presence::PresenceStore;
use borderflow_privacy::{Ledger, LedgerError};
use serde::Serialize;

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
    /// Print one JSON object instead of text (on failure too, with the same exit status).
    #[arg(long)]
    json: bool,
}

/// What `validate` found, when every check passed.
#[derive(Debug, Default, Serialize)]
pub struct Validation {
    /// Always true here (a failed check gives `ok: false` and the reason instead).
    pub ok: bool,
    /// The pipeline file.
    pub pipeline: String,
    /// Its dataset.
    pub dataset: String,
    /// Its measuring country (alpha-3).
    pub measuring_country: String,
    /// The engine classification runs on: `local` or `ballista` (its scheduler answered).
    pub engine: String,
    /// The input profile, when one is set.
    pub profile: Option<String>,
    /// How each canonical column is read, resolved (`key = expression`, TOML).
    pub mapping: Vec<String>,
    /// How event times are read.
    pub time_format: String,
    /// Input files a run would read.
    pub input_files: usize,
    /// Their size in bytes.
    pub input_bytes: u64,
    /// The key's fingerprint (never the key).
    pub key_fingerprint: String,
    /// Dates in the presence store (0 when there is none yet).
    pub store_dates: usize,
    /// Its first and last date.
    pub store_first: Option<String>,
    /// Its last date.
    pub store_last: Option<String>,
    /// ρ spent and budget per data year in the ledger.
    pub budget: Vec<YearSpent>,
    /// The period a run would release, as given, when there is one.
    pub period: Option<String>,
    /// What that release would charge per data year.
    pub cost: Vec<YearCost>,
}

/// ρ spent of a data year's budget.
#[derive(Debug, Serialize)]
pub struct YearSpent {
    /// The calendar year.
    pub year: i32,
    /// ρ spent.
    pub spent_rho: f64,
    /// Its budget.
    pub budget_rho: f64,
}

/// What a release would charge one data year.
#[derive(Debug, Serialize)]
pub struct YearCost {
    /// The calendar year.
    pub year: i32,
    /// ρ charged (0 when the period is already published).
    pub rho: f64,
    /// ρ left in that year before the release.
    pub left_rho: f64,
}

/// Checks the pipeline, its inputs, key and state; prints what a run would start from.
pub fn run(args: Args) -> Result<()> {
    if !args.json {
        return check(&args, &mut |line| println!("{line}")).map(|_| ());
    }
    match check(&args, &mut |_| {}) {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        Err(e) => {
            let failure = crate::exit::failure_of(&e);
            let report = serde_json::json!({
                "ok": false,
                "failure": failure.name(),
                "exit_code": failure.exit_code(),
                "reason": crate::exit::one_line(&e),
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Err(e)
        }
    }
}

/// Runs every check, saying each finding through `say`, and returns them as data.
fn check(args: &Args, say: &mut dyn FnMut(String)) -> Result<Validation> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    let mut v = Validation {
        pipeline: args.pipeline.display().to_string(),
        dataset: p.dataset.clone(),
        measuring_country: p.measuring_country.to_string(),
        ..Validation::default()
    };
    say(format!(
        "pipeline  {}: dataset {}, measuring country {}, operator PLMNs {}",
        args.pipeline.display(),
        p.dataset,
        p.measuring_country,
        p.operator_plmns.join(", ")
    ));
    let engine = borderflow_pipeline::engine::Engine::of(&p.engine);
    say(format!(
        "engine    {}",
        engine.check(std::time::Duration::from_secs(5))?
    ));
    v.engine = engine.name().to_string();
    v.profile = p.input.profile.map(|pr| pr.name().to_string());
    v.mapping = p.input.describe_mapping();
    v.time_format = match &p.input.time_format {
        borderflow_ingest::TimeFormat::Pattern(f) => format!("pattern {f:?}"),
        other => serde_json::to_value(other)?
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    say(format!(
        "mapping   {}time format {}, naive times in {}",
        v.profile
            .as_ref()
            .map_or(String::new(), |pr| format!("profile {pr}; ")),
        v.time_format,
        p.input.source_time_zone.as_deref().unwrap_or("UTC")
    ));
    for line in &v.mapping {
        say(format!("          {line}"));
    }
    let checked = ingest::preflight(&p, &args.inputs)?;
    let bytes: u64 = checked.files.iter().map(|f| f.size).sum();
    v.input_files = checked.files.len();
    v.input_bytes = bytes;
    v.key_fingerprint = checked.key.fingerprint().to_string();
    say(format!(
        "inputs    {} file(s), {:.1} MiB, every required column present",
        checked.files.len(),
        bytes as f64 / 1048576.0
    ));
    say(format!(
        "key       fingerprint {} (loaded; never printed)",
        checked.key.fingerprint()
    ));
    let layout = StateLayout::new(&p.state_dir);
    // A run would stop at once if another holds the state; so does validate (taking the lock
    // only where the state exists, so that validate writes nothing).
    let _lock = if p.state_dir.is_dir() {
        Some(StateLock::acquire(&p.state_dir)?)
    } else {
        None
    };
    let store = layout.presence();
    if let Some((s, _)) = PresenceStore::existing_if_any(&store)? {
        // Every partition's footer is read: a corrupt file is named now, not mid-run.
        let dates = s.check_partitions()?;
        v.store_dates = dates.len();
        v.store_first = dates.first().map(|d| d.to_string());
        v.store_last = dates.last().map(|d| d.to_string());
        match (dates.first(), dates.last()) {
            (Some(a), Some(b)) => say(format!(
                "store     {} dates, {a} to {b}, same key, every partition readable",
                dates.len()
            )),
            _ => say("store     empty".to_string()),
        }
    } else {
        say("store     none yet: the first run creates it".to_string());
    }
    let ledger_path = layout.ledger();
    let ledger = if ledger_path.exists() {
        let l = Ledger::open_existing(&ledger_path)?;
        for (year, budget) in l.budgets()? {
            let spent = l.spent(year)?.to_f64();
            say(format!(
                "budget    data year {year}: ρ {spent:.4} of {:.4} spent",
                budget.to_f64()
            ));
            v.budget.push(YearSpent {
                year,
                spent_rho: spent,
                budget_rho: budget.to_f64(),
            });
        }
        Some(l)
    } else {
        say(format!(
            "budget    no release yet (ρ {} a year)",
            p.privacy.annual_rho
        ));
        None
    };
    let period = match args.period.as_deref().or(p.period.as_deref()) {
        Some(text) => {
            let period = crate::run::period_of(&p, Some(text), &args.pipeline)?;
            say(format!("period    {text} → {period}"));
            v.period = Some(text.to_string());
            Some(period)
        }
        None => {
            say("period    none set: `run` needs --period".to_string());
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
            let published = publish::published(&p, period);
            say(format!(
                "cost      release {period} charges ρ {rho:.4} to data year {year} ({left:.4} left){}",
                if published {
                    "; already published, so nothing"
                } else {
                    ""
                }
            ));
            v.cost.push(YearCost {
                year,
                rho: if published { 0.0 } else { rho },
                left_rho: left,
            });
        }
    }
    say("ok: a run can start".to_string());
    v.ok = true;
    Ok(v)
}
