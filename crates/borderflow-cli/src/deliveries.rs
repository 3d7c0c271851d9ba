//! `borderflow deliveries`: the deliveries in the presence store, and taking a wrong one out.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_pipeline::{Pipeline, deliveries};

/// Arguments of `borderflow deliveries`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Take this delivery out of the store: its file of every date, and its input contents
    /// from the register, so they are read afresh when delivered again (to correct a wrong
    /// delivery). A release already published is not changed.
    #[arg(long, value_name = "ID")]
    remove: Option<String>,
    /// Print the deliveries as JSON.
    #[arg(long)]
    json: bool,
    /// Override a pipeline setting (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Lists the deliveries, or removes one.
pub fn run(args: Args) -> Result<()> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    if let Some(id) = &args.remove {
        let dates = deliveries::remove(&p, id)?;
        println!(
            "removed delivery {id}: its rows of {} date(s){}; its files are read afresh when delivered again",
            dates.len(),
            match (dates.first(), dates.last()) {
                (Some(a), Some(b)) => format!(" ({a} to {b})"),
                _ => String::new(),
            }
        );
        return Ok(());
    }
    let listed = deliveries::list(&p)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    if listed.is_empty() {
        println!("no delivery in the store");
    }
    for l in &listed {
        let d = &l.delivery;
        let dates = match (l.dates.first(), l.dates.last()) {
            (Some(a), Some(b)) => format!("{} date(s), {a} to {b}", l.dates.len()),
            _ => "no date held".into(),
        };
        println!("{}  {:?}  {dates}", d.id, d.state);
        for f in &d.files {
            let window: Vec<String> = f
                .window
                .ranges()
                .iter()
                .map(|&(a, b)| format!("{}..{}", day(a), day(b)))
                .collect();
            println!(
                "    {}  {} bytes  sha256 {}  read for {}",
                f.name,
                f.size,
                &f.sha256[..f.sha256.len().min(16)],
                window.join(", ")
            );
        }
    }
    Ok(())
}

/// A day number as a date (the extremes as open ends).
fn day(n: i32) -> String {
    if n == i32::MIN || n == i32::MIN + 1 {
        return "…".into();
    }
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::Duration::days(i64::from(n))))
        .map_or_else(|| "…".into(), |d| d.to_string())
}
