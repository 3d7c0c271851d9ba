//! `borderflow bench stages`: throughput of ingest and classify inside one process on a
//! generated world, in records per second and peak memory, and the same stages on a Ballista
//! cluster checked row for row against the local engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use borderflow_pipeline::{Period, Pipeline, classify, ingest};

use super::outputs::{facts_rows, presence_rows};
use super::world::{Format, bench_key, events_file, sorted_copy};

/// Arguments of `borderflow bench stages`.
#[derive(Debug, clap::Args)]
pub struct StagesArgs {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Order {
    Subscriber,
    Time,
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

/// Generates (or reuses) the world, then times ingest and classify on a fresh state.
pub fn run(args: StagesArgs) -> Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;
    let mut input = events_file(&dir, args.subscribers, args.format)?;
    if args.order == Order::Time {
        input = sorted_copy(&input, "by-time", "event_time", args.format)?;
    }
    let state = dir.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state)?;
    }
    bench_key(&dir)?;
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
    let period: Period = "2025".parse()?;
    let c = classify::run(&pipeline, period)?;
    let csecs = started.elapsed().as_secs_f64();
    let classify_peak = peak_mib();

    let local_facts = facts_rows(&pipeline.state_dir, period)?;
    let mut other_plans = Vec::new();
    let mut cluster_ingest = None;
    if let Some(url) = &args.scheduler {
        let started = Instant::now();
        let g = classify::run_with(&pipeline, period, classify::ClassifyPlan::Grouped)?;
        let gsecs = started.elapsed().as_secs_f64();
        let same = facts_rows(&pipeline.state_dir, period)? == local_facts;
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
        let b = classify::run(&cluster, period)?;
        let bsecs = started.elapsed().as_secs_f64();
        let stages = new_stages(&args.executor_work_dirs, &stages_before);
        for ((job, stage), bytes) in &stages {
            println!(
                "shuffle   classify job {job} stage {stage}: {:.1} MiB written",
                *bytes as f64 / 1048576.0
            );
        }
        let same = facts_rows(&cluster.state_dir, period)? == local_facts;
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
