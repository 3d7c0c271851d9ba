//! `borderflow bench`: throughput of ingest and classify on a generated world, in records per
//! second and peak memory — how performance is measured (never by timed tests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use borderflow_pipeline::{Period, Pipeline, classify, ingest};
use borderflow_pseudo::PseudonymKey;
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};

/// Arguments of `borderflow bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// SIMs in the generated world (50,000 is about 51 M events).
    #[arg(long, default_value_t = 50_000)]
    subscribers: u32,
    /// Input format to ingest.
    #[arg(long, value_enum, default_value = "parquet")]
    format: Format,
    /// Working directory; the generated world is kept there and reused.
    #[arg(long, default_value = "bench-out")]
    dir: PathBuf,
    /// The pipeline's memory limit in MiB (`engine.memory_limit_mb`).
    #[arg(long, default_value_t = 4096)]
    memory_limit_mb: u64,
    /// Row order of the input: as generated (each SIM's events together) or by event time, as
    /// operators' hourly and daily dumps are. The time-ordered copy is made once and kept.
    #[arg(long, value_enum, default_value = "subscriber")]
    order: Order,
    /// Also ingest and classify on the Ballista cluster of this scheduler (`df://host:port`,
    /// its executors started with the bench's key, `bench-out/bench.key`), and classify in
    /// this process with the cluster's grouped plan, checking that each gives the local
    /// presence rows and facts.
    #[arg(long)]
    scheduler: Option<String>,
    /// An executor's `--work-dir`, to measure the shuffle bytes the cluster wrote
    /// (repeatable).
    #[arg(long = "executor-work-dir")]
    executor_work_dirs: Vec<PathBuf>,
}

/// Bytes under `dir`, recursively.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => bytes_under(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Shuffle bytes under executors' work directories, by job and stage
/// (`<work dir>/<job>/<stage>/<partition>/…`, Ballista's layout), summed over executors.
fn shuffle_by_stage(work_dirs: &[PathBuf]) -> BTreeMap<(String, String), u64> {
    let children = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|r| {
                r.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let name = |p: &Path| {
        p.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    };
    let mut out = BTreeMap::new();
    for dir in work_dirs {
        for job in children(dir) {
            for stage in children(&job) {
                *out.entry((name(&job), name(&stage))).or_default() += bytes_under(&stage);
            }
        }
    }
    out
}

/// The stages of `work_dirs` not in `before`, with their shuffle bytes.
fn new_stages(
    work_dirs: &[PathBuf],
    before: &BTreeMap<(String, String), u64>,
) -> Vec<((String, String), u64)> {
    shuffle_by_stage(work_dirs)
        .into_iter()
        .filter(|(k, _)| !before.contains_key(k))
        .collect()
}

/// The facts of a classify run, row by row, to compare plans and engines.
fn facts_rows(pipeline: &Pipeline) -> Result<Vec<u64>> {
    let dir = classify::facts_dir(&pipeline.state_dir, "2025".parse()?);
    Ok(classify::facts_rows(&dir)?)
}

/// Each presence row of the store under `state`, as a hash of its date and values, sorted: two
/// stores hold the same rows exactly when these are equal, whatever their files' bytes and row
/// order.
fn presence_rows(state: &Path) -> Result<Vec<u64>> {
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader;
    use std::hash::{Hash, Hasher};
    let store = state.join("presence");
    let mut out = Vec::new();
    let mut dates: Vec<PathBuf> = std::fs::read_dir(&store)
        .with_context(|| store.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dates.sort();
    // A date holds one file per delivery; a bench delivers once, so rows are compared as
    // written.
    let files = dates.into_iter().map(|date| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&date)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|x| x == "parquet"));
        files.sort();
        (date, files)
    });
    for (date, file) in files.flat_map(|(d, fs)| fs.into_iter().map(move |f| (d.clone(), f))) {
        let open = std::fs::File::open(&file).with_context(|| file.display().to_string())?;
        for batch in ParquetRecordBatchReader::try_new(open, 65536)? {
            let batch = batch?;
            for i in 0..batch.num_rows() {
                // Deterministic: the standard hasher with its fixed keys.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                date.file_name().hash(&mut h);
                for column in batch.columns() {
                    array_value_to_string(column, i)?.hash(&mut h);
                }
                out.push(h.finish());
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Order {
    Subscriber,
    Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Csv,
    Parquet,
}

/// Peak resident memory since the last reset, in MiB (Linux), and a reset.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn reset_peak() {
    // Writing 5 to clear_refs resets the peak resident set size (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn world(dir: &Path, subscribers: u32, format: Format) -> Result<PathBuf> {
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

/// A copy of `file` with its rows in event-time order (made once, beside it). DataFusion sorts
/// it under a 2 GiB memory limit; CSV columns are kept as the text they were.
fn time_ordered(file: &Path, format: Format) -> Result<PathBuf> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};

    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("events");
    let sorted = file.with_file_name(format!("by-time-{name}"));
    if sorted.exists() {
        return Ok(sorted);
    }
    let started = Instant::now();
    let tmp = file.with_file_name(format!(".by-time-{name}"));
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
        let df = ctx.sql("SELECT * FROM events ORDER BY event_time").await?;
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
        "sorted by event time into {} in {:.1} s",
        sorted.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(sorted)
}

/// Generates (or reuses) the world, then times ingest and classify on a fresh state.
pub fn run(args: Args) -> Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;
    let mut input = world(&dir, args.subscribers, args.format)?;
    if args.order == Order::Time {
        input = time_ordered(&input, args.format)?;
    }
    let state = dir.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state)?;
    }
    let key = dir.join("bench.key");
    if !key.exists() {
        PseudonymKey::generate()?.write_new(&key)?;
    }
    let text = format!(
        "dataset = \"bench\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
         state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"bench.key\"\n\
         [input]\npaths = [{:?}]\n[engine]\nmemory_limit_mb = {}\n",
        input.display().to_string(),
        args.memory_limit_mb
    );
    let pipeline = Pipeline::parse("bench.toml", &text, &[], &dir)?;
    let bytes = std::fs::metadata(&input)?.len();

    // Memory the allocator still holds from generating or sorting the world would count in
    // the ingest's peak: hand it back first.
    // SAFETY: a plain call into the allocator; no allocation of ours is in flight.
    unsafe { libmimalloc_sys::mi_collect(true) };
    reset_peak();
    let started = Instant::now();
    let r = ingest::run(&pipeline, None, &[])?;
    let secs = started.elapsed().as_secs_f64();
    let ingest_peak = peak_mib();
    reset_peak();
    let started = Instant::now();
    let c = classify::run(&pipeline, "2025".parse::<Period>()?)?;
    let csecs = started.elapsed().as_secs_f64();
    let classify_peak = peak_mib();

    let local_facts = facts_rows(&pipeline)?;
    let mut other_plans = Vec::new();
    let mut cluster_ingest = None;
    if let Some(url) = &args.scheduler {
        let started = Instant::now();
        let g = classify::run_with(&pipeline, "2025".parse()?, classify::ClassifyPlan::Grouped)?;
        let gsecs = started.elapsed().as_secs_f64();
        let same = facts_rows(&pipeline)? == local_facts;
        other_plans.push((
            "grouped, this process".to_string(),
            gsecs,
            g.sims,
            None,
            same,
        ));
        // The cluster ingests into a state of its own, then classifies it.
        let sets = [
            "engine.kind=\"ballista\"".to_string(),
            format!("engine.scheduler={url:?}"),
            "state_dir=\"state-cluster\"".to_string(),
        ];
        let cluster = Pipeline::parse("bench.toml", &text, &sets, &dir)?;
        if cluster.state_dir.exists() {
            std::fs::remove_dir_all(&cluster.state_dir)?;
        }
        let stages_before = shuffle_by_stage(&args.executor_work_dirs);
        let started = Instant::now();
        let ci = ingest::run(&cluster, None, &[])?;
        let cisecs = started.elapsed().as_secs_f64();
        let ingest_stages = new_stages(&args.executor_work_dirs, &stages_before);
        let same_presence =
            presence_rows(&cluster.state_dir)? == presence_rows(&pipeline.state_dir)?;
        cluster_ingest = Some((cisecs, ci.presence_rows, ingest_stages, same_presence));
        let stages_before = shuffle_by_stage(&args.executor_work_dirs);
        let started = Instant::now();
        let b = classify::run(&cluster, "2025".parse()?)?;
        let bsecs = started.elapsed().as_secs_f64();
        let stages = new_stages(&args.executor_work_dirs, &stages_before);
        for ((job, stage), bytes) in &stages {
            println!(
                "shuffle   classify job {job} stage {stage}: {:.1} MiB written",
                *bytes as f64 / 1048576.0
            );
        }
        let same = facts_rows(&cluster)? == local_facts;
        let shuffled = (!args.executor_work_dirs.is_empty())
            .then(|| stages.iter().map(|(_, b)| b).sum::<u64>());
        other_plans.push((format!("ballista, {url}"), bsecs, b.sims, shuffled, same));
    }

    let mib = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0} MiB"));
    println!(
        "input     {} ({:.0} MiB, {} events, {} order), memory limit {} MiB, {} cores",
        input.display(),
        bytes as f64 / 1048576.0,
        r.totals.read,
        match args.order {
            Order::Subscriber => "subscriber",
            Order::Time => "time",
        },
        args.memory_limit_mb,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "ingest    {secs:>7.1} s  {:>10.0} events/s  peak {}  ({} SIM-days, {:.0} MiB spilled)",
        r.totals.read as f64 / secs,
        mib(ingest_peak),
        r.presence_rows,
        r.spilled_bytes as f64 / 1048576.0
    );
    if let Some((secs, rows, stages, same)) = cluster_ingest {
        for ((job, stage), bytes) in &stages {
            println!(
                "shuffle   ingest job {job} stage {stage}: {:.1} MiB written",
                *bytes as f64 / 1048576.0
            );
        }
        println!(
            "ingest    {secs:>7.1} s  {:>10.0} events/s  (ballista: {rows} SIM-days, {:.1} MiB shuffled; presence rows {})",
            r.totals.read as f64 / secs,
            stages.iter().map(|(_, b)| *b).sum::<u64>() as f64 / 1048576.0,
            if same {
                "equal to the local engine's"
            } else {
                "DIFFER from the local engine's"
            }
        );
        if !same {
            anyhow::bail!("the cluster's ingest wrote other presence rows than the local engine");
        }
    }
    println!(
        "classify  {csecs:>7.1} s  {:>10.0} SIM-days/s  peak {}  ({} SIMs)",
        r.presence_rows as f64 / csecs,
        mib(classify_peak),
        c.sims
    );
    for (plan, secs, sims, shuffled, same) in other_plans {
        let shuffle = shuffled.map_or(String::new(), |b| {
            format!(", {:.1} MiB shuffled", b as f64 / 1048576.0)
        });
        println!(
            "classify  {secs:>7.1} s  {:>10.0} SIM-days/s  ({plan}: {sims} SIMs{shuffle}; facts {})",
            r.presence_rows as f64 / secs,
            if same {
                "equal to the local engine's"
            } else {
                "DIFFER from the local engine's"
            }
        );
        if !same {
            anyhow::bail!("the {plan} plan concluded other facts than the local engine");
        }
    }
    Ok(())
}
