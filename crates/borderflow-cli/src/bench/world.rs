//! The bench's generated world, made once and kept, and copies of its events in another row
//! order.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use borderflow_pseudo::PseudonymKey;
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};

/// The bench's pseudonymisation key: fixed and public, 32 bytes. The bench's outputs hold
/// pseudonyms (the presence rows and the facts), so with a key drawn afresh for each bench
/// directory their digest differed from machine to machine, and a digest published with the
/// figures (`--expect-digest`) could be checked nowhere else. The bench only ever reads the
/// worlds it generates; a public key is for synthetic SIMs, never for an operator's file.
const BENCH_KEY: [u8; 32] = *b"borderflow bench: synthetic only";

/// Writes the bench's key ([`BENCH_KEY`]) as `dir/bench.key`, replacing a key drawn at random
/// by an earlier version of the bench, and returns its path.
pub(super) fn bench_key(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("bench.key");
    if std::fs::read(&path).ok().as_deref() == Some(&BENCH_KEY[..]) {
        return Ok(path);
    }
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| path.display().to_string())?;
    }
    PseudonymKey::from_bytes(BENCH_KEY).write_new(&path)?;
    Ok(path)
}

/// The file format of a generated world's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    /// `events.csv`.
    Csv,
    /// `events.parquet`.
    Parquet,
}

/// The events file of the world of `subscribers` SIMs under `dir` (`world-N/events.*`),
/// generated with the default scenario unless it is there already.
pub(super) fn events_file(dir: &Path, subscribers: u32, format: Format) -> Result<PathBuf> {
    let name = match format {
        Format::Csv => "events.csv",
        Format::Parquet => "events.parquet",
    };
    let world = dir.join(format!("world-{subscribers}"));
    let file = world.join(name);
    if !file.exists() {
        let scenario = Scenario {
            subscribers,
            ..Scenario::default()
        };
        let formats = OutputFormats {
            csv: format == Format::Csv,
            parquet: format == Format::Parquet,
        };
        if world.exists() {
            std::fs::remove_dir_all(&world)?;
        }
        let started = Instant::now();
        let s = generate(&scenario, &RefData::embedded(), &world, formats)
            .context("generating the world")?;
        println!(
            "generated {} events in {:.1} s",
            s.events,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(file)
}

/// A copy of `file` named `{prefix}-{name}` beside it, its rows ordered by the SQL expression
/// `order_by` (`event_time`, `random()`); made once and kept. DataFusion sorts it under a
/// 2 GiB memory limit, spilling beyond; CSV columns are kept as the text they were.
pub(super) fn sorted_copy(
    file: &Path,
    prefix: &str,
    order_by: &str,
    format: Format,
) -> Result<PathBuf> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};

    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("events");
    let sorted = file.with_file_name(format!("{prefix}-{name}"));
    if sorted.exists() {
        return Ok(sorted);
    }
    let started = Instant::now();
    let tmp = file.with_file_name(format!(".{prefix}-{name}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let env = RuntimeEnvBuilder::new()
            .with_memory_pool(std::sync::Arc::new(FairSpillPool::new(2 << 30)))
            .build_arc()?;
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), env);
        let path = file.display().to_string();
        use borderflow_core::schema::event;
        let text: Vec<Field> = [
            event::SUBSCRIBER_ID,
            event::EVENT_TIME,
            event::HOME_PLMN,
            event::SERVING_PLMN,
            event::CELL_ID,
            event::EVENT_TYPE,
            event::COUNTERPART_NUMBER,
        ]
        .iter()
        .map(|c| Field::new(*c, DataType::Utf8, true))
        .collect();
        let schema = Schema::new(text);
        match format {
            Format::Parquet => {
                ctx.register_parquet("events", &path, ParquetReadOptions::default())
                    .await?
            }
            Format::Csv => {
                ctx.register_csv("events", &path, CsvReadOptions::new().schema(&schema))
                    .await?
            }
        }
        let df = ctx
            .sql(&format!("SELECT * FROM events ORDER BY {order_by}"))
            .await?;
        let options = DataFrameWriteOptions::new().with_single_file_output(true);
        let out = tmp.display().to_string();
        match format {
            Format::Parquet => df.write_parquet(&out, options, None).await?,
            Format::Csv => df.write_csv(&out, options, None).await?,
        };
        Ok::<_, datafusion::error::DataFusionError>(())
    })?;
    std::fs::rename(&tmp, &sorted)?;
    println!(
        "sorted by {order_by} into {} in {:.1} s",
        sorted.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(sorted)
}
