//! `borderflow export` (at an operator) and `borderflow combine` (at the statistics office):
//! a data-sharing partnership's two ends (docs/partnerships.md).

use std::path::PathBuf;

use anyhow::Result;
use borderflow_pipeline::partnership::{self, Partnership};
use borderflow_pipeline::{Period, Pipeline};

/// Arguments of `borderflow export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The pipeline file (TOML) whose published release is exported.
    pipeline: PathBuf,
    /// The published period to export (`2025`, `2025-07`).
    #[arg(long)]
    period: String,
    /// Where to write the export: a directory (created; an earlier export there is
    /// replaced), or one archive to deliver when the name ends in `.tar.gz`, `.tgz` or `.tar`.
    #[arg(long, value_name = "DIR|ARCHIVE")]
    out: PathBuf,
    /// The operator's name as the partnership file gives it (default: the dataset's).
    #[arg(long)]
    operator: Option<String>,
    /// Override a pipeline setting (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Runs `borderflow export`.
pub fn export(args: ExportArgs) -> Result<()> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    let period: Period = args.period.parse()?;
    let operator = args.operator.unwrap_or_else(|| p.dataset.clone());
    let dir = partnership::export(&p, period, &operator, &args.out)?;
    println!(
        "exported {} {} as operator {operator} into {}: every noisy cell with its σ, for the statistics office only (not for publication as it is)",
        p.dataset,
        period,
        dir.display()
    );
    Ok(())
}

/// Arguments of `borderflow combine`.
#[derive(Debug, clap::Args)]
pub struct CombineArgs {
    /// The partnership file (TOML): the operators, where their exports are, the publication
    /// rule.
    partnership: PathBuf,
    /// The period to combine; every export must be of it (default: the exports' own, which
    /// must agree).
    #[arg(long)]
    period: Option<String>,
    /// Only read and check the exports (digests, and that they can be combined); write
    /// nothing. Exit 0 when a combine would go ahead.
    #[arg(long)]
    check: bool,
}

/// Runs `borderflow combine`.
pub fn combine(args: CombineArgs) -> Result<()> {
    let p = Partnership::load(&args.partnership)?;
    if let Some(text) = &args.period {
        text.parse::<Period>()?;
    }
    if args.check {
        let period = partnership::check_exports(&p, args.period.as_deref())?;
        println!(
            "{} exports of {period} present, intact and combinable; nothing written",
            p.operators.len()
        );
        return Ok(());
    }
    let r = partnership::combine(&p, args.period.as_deref())?;
    let s = &r.statement;
    println!(
        "combined {} operators into {} ({} {})",
        s.contributions.len(),
        r.dir.display(),
        s.dataset,
        s.period
    );
    for c in &s.contributions {
        println!(
            "  {:<16} ρ {:.4}  σ categories {:.2}  export {}",
            c.operator,
            c.rho,
            c.sigma.get("categories").copied().unwrap_or(f64::NAN),
            &c.export_sha256.get(..16).unwrap_or("")
        );
    }
    for (table, (published, suppressed)) in &r.cells {
        println!("  {table:<12} {published:>7} cells published, {suppressed:>7} suppressed");
    }
    println!("privacy: {}", s.privacy.statement);
    Ok(())
}
