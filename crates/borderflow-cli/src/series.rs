//! `borderflow series`: one table of a pipeline's dataset stacked over every published period
//! (Parquet, CSV or SDMX-CSV), each row with its period, value, noise_sd and status — the
//! time series a statistician would otherwise assemble from release folders by hand.

use std::path::PathBuf;

use anyhow::{Result, bail};
use borderflow_pipeline::{Period, Pipeline};
use borderflow_release::TABLES;
use borderflow_release::series::{SeriesFormat, write_series};

/// Arguments of `borderflow series`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline file (TOML): its release directory and dataset.
    pipeline: PathBuf,
    /// The table: categories, crossings, totals or corridors.
    #[arg(long, default_value = "categories", value_parser = ["categories", "crossings", "totals", "corridors"])]
    table: String,
    /// parquet, csv or sdmx (SDMX-CSV 2.0).
    #[arg(long, default_value = "parquet", value_parser = ["parquet", "csv", "sdmx"])]
    format: String,
    /// Where to write it (never overwriting).
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
    /// Override a pipeline setting (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Runs `borderflow series`.
pub fn run(args: Args) -> Result<()> {
    let p = Pipeline::load(&args.pipeline, &args.sets)?;
    if args.out.exists() {
        bail!(
            "{}: already exists; remove it or choose another --out",
            args.out.display()
        );
    }
    debug_assert!(TABLES.iter().any(|t| t.name == args.table));
    let format = match args.format.as_str() {
        "csv" => SeriesFormat::Csv,
        "sdmx" => SeriesFormat::Sdmx,
        _ => SeriesFormat::Parquet,
    };
    let dataset_dir = p.release_dir.join(&p.dataset);
    let series = write_series(
        &dataset_dir,
        &args.table,
        format,
        |n| n.parse::<Period>().is_ok(),
        &args.out,
    )?;
    // A series is stacked from publications: it is as public as they are.
    borderflow_core::make_public(&args.out)?;
    println!(
        "wrote {}: {} {} rows from {} period(s): {}",
        args.out.display(),
        series.rows,
        args.table,
        series.periods.len(),
        series.periods.join(", ")
    );
    Ok(())
}
