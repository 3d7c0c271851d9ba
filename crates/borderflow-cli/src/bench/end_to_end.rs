//! `borderflow bench`: the whole `run` — ingest, classify, publish — against a reference job
//! on the same files, alternated, over input shapes, each process measured from outside.
//!
//! The reference is any program taking `--input GLOB --threads N --measuring-mcc MCC` and
//! printing `seconds=… rows=… cells=…` last (the DuckDB script a data engineer would write;
//! docs/performance.md). The bench checks that every shape gives the same presence rows,
//! per-SIM facts and tables, and that the reference read as many events as borderflow; it
//! fails otherwise, and with `--expect-digest` also when the outputs differ from a known run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use borderflow_pipeline::Period;

use super::outputs::OutputDigest;
use super::process::{Cost, measure, median};
use super::shapes::{FileFormat, RowOrder, Shape, materialise};
use super::world::{Format, bench_key, events_file};
use crate::run::stage;

/// Arguments of `borderflow bench` (end to end).
#[derive(Debug, clap::Args)]
pub struct EndToEndArgs {
    /// SIMs in the generated world (5,000 ≈ 5 M events; 50,000 ≈ 51 M).
    #[arg(long, default_value_t = 5_000)]
    subscribers: u32,
    /// Row orders to measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "subscriber,time,shuffled"
    )]
    orders: Vec<RowOrder>,
    /// Numbers of files the rows are cut into.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    files: Vec<usize>,
    /// Input formats.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "parquet,csv,csv.gz"
    )]
    formats: Vec<FileFormat>,
    /// Runs of each program per shape (alternated; medians are reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The reference job: a program run as `REFERENCE --input GLOB --threads N
    /// --measuring-mcc 639` that prints `seconds=… rows=… cells=…` last. Without it,
    /// borderflow is measured alone.
    #[arg(long, value_name = "PROGRAM")]
    reference: Option<PathBuf>,
    /// Threads the reference may use (borderflow uses every core).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The pipeline's memory limit in MiB (`engine.memory_limit_mb`).
    #[arg(long, default_value_t = 4096)]
    memory_limit_mb: u64,
    /// Working directory; the world and its shapes are kept there and reused.
    #[arg(long, default_value = "bench-out")]
    dir: PathBuf,
    /// Where to write the results as JSON (default: DIR/bench-N.json).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Fail unless the outputs' digest is this one (from an earlier bench's JSON): the same
    /// presence rows, facts and tables as before a change.
    #[arg(long, value_name = "HEX")]
    expect_digest: Option<String>,
}

/// The measuring country of the bench's pipeline, and its mobile country code.
const MEASURING: (&str, &str) = ("KEN", "639");
/// The period the generated world covers.
const PERIOD: &str = "2025";

/// One line of `run --log-format json`, the fields the bench reads.
#[derive(Debug, serde::Deserialize)]
struct RunLine {
    stage: String,
    seconds: Option<f64>,
    rows_read: Option<u64>,
    presence_rows: Option<u64>,
    spilled_bytes: Option<u64>,
    sims: Option<u64>,
    release: Option<PathBuf>,
}

/// One `borderflow run`, measured.
#[derive(Debug, Clone, serde::Serialize)]
struct BorderflowRun {
    #[serde(flatten)]
    cost: Cost,
    ingest_s: f64,
    classify_s: f64,
    /// Wall time outside ingest and classify: start-up, publish, exit.
    publish_s: f64,
    spilled_bytes: u64,
    #[serde(skip)]
    events: u64,
    #[serde(skip)]
    sim_days: u64,
    #[serde(skip)]
    sims: u64,
    #[serde(skip)]
    release: PathBuf,
}

/// Medians over a shape's runs, and the rates drawn from them.
#[derive(Debug, Clone, serde::Serialize)]
struct Medians {
    borderflow: Cost,
    ingest_s: f64,
    classify_s: f64,
    publish_s: f64,
    events_per_s: f64,
    sim_days_per_s: f64,
    ingest_events_per_s: f64,
    classify_sim_days_per_s: f64,
    spilled_bytes: u64,
    reference: Option<Cost>,
    /// Reference wall ÷ borderflow wall: above 1, borderflow is faster.
    speed_ratio: Option<f64>,
}

/// A shape's results.
#[derive(Debug, serde::Serialize)]
struct ShapeResult {
    name: String,
    shape: Shape,
    events: u64,
    sim_days: u64,
    sims: u64,
    median: Medians,
    borderflow: Vec<BorderflowRun>,
    reference: Vec<Cost>,
    digest: String,
}

/// The bench's JSON.
#[derive(Debug, serde::Serialize)]
struct Report {
    version: &'static str,
    cores: usize,
    subscribers: u32,
    runs: usize,
    memory_limit_mb: u64,
    reference: Option<PathBuf>,
    reference_threads: usize,
    digest: String,
    shapes: Vec<ShapeResult>,
}

/// The pipeline file of the bench for `shape`.
fn pipeline_file(dir: &Path, world: &Path, shape: Shape, memory_limit_mb: u64) -> Result<PathBuf> {
    let file = dir.join(format!("e2e-{}.toml", shape.name()));
    let text = format!(
        "dataset = \"bench\"\nmeasuring_country = \"{}\"\noperator_plmns = [\"63902\"]\n\
         state_dir = \"state-e2e\"\nrelease_dir = \"release-e2e\"\n[key]\nfile = \"bench.key\"\n\
         [input]\npaths = [{:?}]\n[engine]\nmemory_limit_mb = {memory_limit_mb}\n",
        MEASURING.0,
        shape.dir(world).display().to_string(),
    );
    std::fs::write(&file, text).with_context(|| file.display().to_string())?;
    Ok(file)
}

/// Where the bench moves the state and release directories of the runs before, removed once
/// the bench is done.
///
/// They are moved, not deleted: ext4 hands out the inodes of files deleted in the last minutes
/// only after searching past them, so deleting a run's 365 date directories and files just
/// before the next run made that run's own directories and files slow to create — 0.5 s of a
/// 1.9 s run at 5.15 M events, a cost of the bench, not of borderflow, which a scheduled run
/// on a kept state directory never meets (docs/performance.md).
const SET_ASIDE: &str = "set-aside";

/// Moves `dir/name`, where it exists, into [`SET_ASIDE`] under a name no earlier run took.
fn set_aside(dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(());
    }
    let aside = dir.join(SET_ASIDE);
    std::fs::create_dir_all(&aside).with_context(|| aside.display().to_string())?;
    let taken = std::fs::read_dir(&aside)
        .with_context(|| aside.display().to_string())?
        .count();
    let to = aside.join(format!("{name}-{taken}"));
    std::fs::rename(&path, &to).with_context(|| format!("{} → {}", path.display(), to.display()))
}

/// Removes what [`set_aside`] kept, once no run is left to measure.
fn remove_set_aside(dir: &Path) -> Result<()> {
    let aside = dir.join(SET_ASIDE);
    if aside.exists() {
        std::fs::remove_dir_all(&aside).with_context(|| aside.display().to_string())?;
    }
    Ok(())
}

/// One `borderflow run` of `pipeline` on a fresh state, drawing its noise from a test seed so
/// that equal exact tables give equal released tables.
fn borderflow_run(dir: &Path, pipeline: &Path) -> Result<BorderflowRun> {
    for fresh in ["state-e2e", "release-e2e"] {
        set_aside(dir, fresh)?;
    }
    let exe = std::env::current_exe().context("cannot find the borderflow binary")?;
    let mut args: Vec<OsString> = vec!["run".into(), pipeline.into()];
    args.extend(
        [
            "--period",
            PERIOD,
            "--test-seed",
            "1",
            "--log-format",
            "json",
        ]
        .map(Into::into),
    );
    let finished = measure(&exe, &args, "borderflow run")?;
    let mut run = BorderflowRun {
        cost: finished.cost,
        ingest_s: 0.0,
        classify_s: 0.0,
        publish_s: 0.0,
        spilled_bytes: 0,
        events: 0,
        sim_days: 0,
        sims: 0,
        release: PathBuf::new(),
    };
    for line in finished.stdout.lines() {
        let Ok(line) = serde_json::from_str::<RunLine>(line) else {
            continue;
        };
        match line.stage.as_str() {
            stage::INGEST => {
                run.ingest_s = line.seconds.unwrap_or(0.0);
                run.events = line.rows_read.unwrap_or(0);
                run.sim_days = line.presence_rows.unwrap_or(0);
                run.spilled_bytes = line.spilled_bytes.unwrap_or(0);
            }
            stage::CLASSIFY => {
                run.classify_s = line.seconds.unwrap_or(0.0);
                run.sims = line.sims.unwrap_or(0);
            }
            stage::PUBLISH => run.release = line.release.unwrap_or_default(),
            _ => {}
        }
    }
    if run.release.as_os_str().is_empty() {
        bail!("borderflow run wrote no publish line");
    }
    run.publish_s = (run.cost.wall_s - run.ingest_s - run.classify_s).max(0.0);
    Ok(run)
}

/// One run of the reference job on `shape`; returns its cost and the events it read.
fn reference_run(
    program: &Path,
    world: &Path,
    shape: Shape,
    threads: usize,
) -> Result<(Cost, u64)> {
    let args: Vec<OsString> = vec![
        "--input".into(),
        shape.glob(world).into(),
        "--threads".into(),
        threads.to_string().into(),
        "--measuring-mcc".into(),
        MEASURING.1.into(),
    ];
    let finished = measure(
        program,
        &args,
        &format!("the reference {}", program.display()),
    )?;
    let rows = finished
        .stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("rows=")))
        .and_then(|n| n.parse().ok())
        .with_context(|| {
            format!(
                "the reference {} printed no `rows=N` on its last line",
                program.display()
            )
        })?;
    Ok((finished.cost, rows))
}

fn medians(runs: &[BorderflowRun], reference: &[Cost]) -> Medians {
    let of = |f: &dyn Fn(&BorderflowRun) -> f64| median(runs.iter().map(f).collect());
    let cost_of = |costs: Vec<Cost>| Cost {
        wall_s: median(costs.iter().map(|c| c.wall_s).collect()),
        cpu_s: median(costs.iter().map(|c| c.cpu_s).collect()),
        peak_mib: median(costs.iter().map(|c| c.peak_mib).collect()),
    };
    let borderflow = cost_of(runs.iter().map(|r| r.cost).collect());
    let (ingest_s, classify_s) = (of(&|r| r.ingest_s), of(&|r| r.classify_s));
    let (events, sim_days) = runs.first().map_or((0, 0), |r| (r.events, r.sim_days));
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let reference = (!reference.is_empty()).then(|| cost_of(reference.to_vec()));
    Medians {
        borderflow,
        ingest_s,
        classify_s,
        publish_s: of(&|r| r.publish_s),
        events_per_s: rate(events, borderflow.wall_s),
        sim_days_per_s: rate(sim_days, borderflow.wall_s),
        ingest_events_per_s: rate(events, ingest_s),
        classify_sim_days_per_s: rate(sim_days, classify_s),
        spilled_bytes: runs.iter().map(|r| r.spilled_bytes).max().unwrap_or(0),
        speed_ratio: reference.map(|r| r.wall_s / borderflow.wall_s),
        reference,
    }
}

fn print_header(reference: bool) {
    print!(
        "{:<22} {:>10} {:>8} {:>7} {:>8} {:>7} {:>8} {:>7} {:>10} {:>10}",
        "shape",
        "events",
        "wall s",
        "cpu s",
        "peak MiB",
        "ingest",
        "classify",
        "publish",
        "events/s",
        "SIM-days/s"
    );
    if reference {
        print!(
            " | {:>8} {:>7} {:>8} {:>6}",
            "ref s", "cpu s", "peak MiB", "speed"
        );
    }
    println!();
}

fn print_row(r: &ShapeResult) {
    let m = &r.median;
    print!(
        "{:<22} {:>10} {:>8.2} {:>7.2} {:>8.0} {:>7.2} {:>8.2} {:>7.2} {:>10.0} {:>10.0}",
        r.name,
        r.events,
        m.borderflow.wall_s,
        m.borderflow.cpu_s,
        m.borderflow.peak_mib,
        m.ingest_s,
        m.classify_s,
        m.publish_s,
        m.events_per_s,
        m.sim_days_per_s
    );
    if let (Some(c), Some(ratio)) = (m.reference, m.speed_ratio) {
        print!(
            " | {:>8.2} {:>7.2} {:>8.0} {:>5.2}×",
            c.wall_s, c.cpu_s, c.peak_mib, ratio
        );
    }
    println!();
}

/// Runs borderflow and the reference on every shape, `args.runs` times each, alternated; fails
/// when a shape's outputs differ from the first's or the reference read other events.
fn measure_shapes(
    args: &EndToEndArgs,
    dir: &Path,
    world: &Path,
    shapes: &[Shape],
    reference: Option<&Path>,
    period: Period,
) -> Result<Vec<ShapeResult>> {
    let mut results: Vec<ShapeResult> = Vec::new();
    for &shape in shapes {
        let pipeline = pipeline_file(dir, world, shape, args.memory_limit_mb)?;
        let mut runs = Vec::new();
        let mut costs = Vec::new();
        for round in 0..args.runs {
            // Alternate which program goes first, so neither always finds the caches warm.
            let reference_first = round % 2 == 1;
            let reference_round = |costs: &mut Vec<Cost>, events: u64| -> Result<()> {
                if let Some(program) = reference {
                    let (cost, rows) = reference_run(program, world, shape, args.threads)?;
                    if events != 0 && rows != events {
                        bail!(
                            "shape {}: the reference read {rows} events, borderflow {events}",
                            shape.name()
                        );
                    }
                    costs.push(cost);
                }
                Ok(())
            };
            let known = runs.first().map_or(0, |r: &BorderflowRun| r.events);
            if reference_first {
                reference_round(&mut costs, known)?;
            }
            let run = borderflow_run(dir, &pipeline)?;
            let events = run.events;
            runs.push(run);
            if !reference_first {
                reference_round(&mut costs, events)?;
            }
        }
        let last = runs.last().context("no run")?;
        let digest = OutputDigest::of(&dir.join("state-e2e"), &last.release, period)?;
        if let Some(first) = results.first()
            && first.digest != digest.hex()
        {
            bail!(
                "shape {} gave other outputs than shape {} (digest {} against {}): the order \
                 or cut of the input changed the presence rows, facts or tables",
                shape.name(),
                first.name,
                digest.hex(),
                first.digest
            );
        }
        let result = ShapeResult {
            name: shape.name(),
            shape,
            events: last.events,
            sim_days: last.sim_days,
            sims: last.sims,
            median: medians(&runs, &costs),
            borderflow: runs,
            reference: costs,
            digest: digest.hex(),
        };
        print_row(&result);
        results.push(result);
    }
    Ok(results)
}

/// Measures every shape and prints the table; fails when a shape's outputs differ.
pub fn run(args: EndToEndArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.canonicalize()?;
    let events = events_file(&dir, args.subscribers, Format::Parquet)?;
    let world = events.parent().context("the world has no folder")?;
    bench_key(&dir)?;
    let period: Period = PERIOD.parse()?;
    let reference = match &args.reference {
        Some(p) => Some(
            p.canonicalize()
                .with_context(|| format!("no reference program at {}", p.display()))?,
        ),
        None => None,
    };
    let mut shapes = Vec::new();
    for &order in &args.orders {
        for &files in &args.files {
            for &format in &args.formats {
                shapes.push(Shape {
                    order,
                    files: files.max(1),
                    format,
                });
            }
        }
    }
    for &shape in &shapes {
        materialise(&events, shape)?;
    }
    println!(
        "{} cores; memory limit {} MiB; {} run(s) of each program per shape, alternated{}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.memory_limit_mb,
        args.runs,
        reference.as_ref().map_or(String::new(), |r| format!(
            "; reference {} with {} threads",
            r.display(),
            args.threads
        ))
    );
    print_header(reference.is_some());
    // What an interrupted bench left set aside goes now, before any run is measured.
    remove_set_aside(&dir)?;
    let results = measure_shapes(&args, &dir, world, &shapes, reference.as_deref(), period);
    remove_set_aside(&dir)?;
    let results = results?;
    let digest = results.first().map_or(String::new(), |r| r.digest.clone());
    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        subscribers: args.subscribers,
        runs: args.runs,
        memory_limit_mb: args.memory_limit_mb,
        reference,
        reference_threads: args.threads,
        digest: digest.clone(),
        shapes: results,
    };
    let json = args
        .json
        .unwrap_or_else(|| dir.join(format!("bench-{}.json", args.subscribers)));
    std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| json.display().to_string())?;
    println!(
        "outputs digest {digest} (presence rows, facts, tables); results in {}",
        json.display()
    );
    if let Some(expected) = &args.expect_digest
        && *expected != digest
    {
        bail!("the outputs differ from the expected ones (digest {digest}, expected {expected})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{SET_ASIDE, remove_set_aside, set_aside};

    #[test]
    fn each_runs_state_is_kept_aside_until_the_bench_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        for run in ["first", "second"] {
            let state = dir.join("state-e2e");
            std::fs::create_dir_all(state.join("presence")).unwrap();
            std::fs::write(state.join("presence/run"), run).unwrap();
            set_aside(dir, "state-e2e").unwrap();
            // The next run finds the name free; nothing was deleted.
            assert!(!state.exists());
        }
        let kept = |n: usize| {
            std::fs::read_to_string(
                dir.join(SET_ASIDE)
                    .join(format!("state-e2e-{n}/presence/run")),
            )
            .unwrap()
        };
        assert_eq!((kept(0).as_str(), kept(1).as_str()), ("first", "second"));
        // A directory no run made is left alone.
        set_aside(dir, "release-e2e").unwrap();
        remove_set_aside(dir).unwrap();
        assert!(!dir.join(SET_ASIDE).exists());
    }
}
