//! The pipeline on an Apache DataFusion Ballista cluster of the workspace's own binaries: a
//! `borderflow-executor scheduler` and two `borderflow-executor executor` processes on
//! loopback, free ports. Ingest (validation and pseudonymisation on the executors, the
//! presence reduction), classification (the facts written by the executors) and tabulation
//! run on the cluster: the presence store, the quarantine, the row accounting and the facts
//! equal the local engine's row for row, and the release equals it byte for byte (a test
//! store: the same true counts draw the same noise). An executor killed mid-run either leaves
//! a run that completes with the same facts or one that fails with nothing published and
//! nothing spent; an executor without the store's key refuses to ingest.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{borderflow, ok, stderr};

/// A free port on loopback (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    let until = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and executors, killed when dropped.
struct Cluster {
    scheduler_port: u16,
    executors: Vec<Child>,
    scheduler: Child,
}

impl Cluster {
    /// A scheduler and `executors` executors, each holding `key` (a key file) if given.
    fn start(dir: &Path, executors: usize, key: Option<&Path>) -> Self {
        let bin = env!("CARGO_BIN_EXE_borderflow-executor");
        let log = |name: &str| std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let scheduler_port = free_port();
        let scheduler = Command::new(bin)
            .args([
                "scheduler",
                "--port",
                &scheduler_port.to_string(),
                // A lost executor is given up within seconds, not Ballista's 3 minutes.
                "--executor-timeout-seconds",
                "6",
                "--expire-dead-executor-interval-seconds",
                "2",
            ])
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log("scheduler"))
            .spawn()
            .unwrap();
        wait_for(scheduler_port);
        let executors = (0..executors)
            .map(|i| {
                let (flight, grpc) = (free_port(), free_port());
                let work = dir.join(format!("executor-{i}"));
                std::fs::create_dir_all(&work).unwrap();
                let mut command = Command::new(bin);
                command
                    .env("RUST_LOG", "debug")
                    .env_remove("BORDERFLOW_KEY")
                    .args([
                        "executor",
                        "--scheduler",
                        &format!("df://127.0.0.1:{scheduler_port}"),
                        "--flight-port",
                        &flight.to_string(),
                        "--grpc-port",
                        &grpc.to_string(),
                        "--concurrent-tasks",
                        "2",
                        "--heartbeat-interval-seconds",
                        "2",
                        "--work-dir",
                        work.to_str().unwrap(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(log(&format!("executor-{i}")));
                if let Some(key) = key {
                    command.arg("--key-file").arg(key);
                }
                let child = command.spawn().unwrap();
                wait_for(flight);
                child
            })
            .collect();
        // Executors register with their first heartbeat.
        std::thread::sleep(Duration::from_secs(2));
        Cluster {
            scheduler_port,
            executors,
            scheduler,
        }
    }

    fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.scheduler_port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A generated world under `d/world` and a key at `d/key`.
fn world_and_key(d: &Path, subscribers: u32, seed: u64) {
    ok(&borderflow(&[
        "generate",
        "--out",
        d.join("world").to_str().unwrap(),
        "--subscribers",
        &subscribers.to_string(),
        "--seed",
        &seed.to_string(),
    ]));
    ok(&borderflow(&["keygen", d.join("key").to_str().unwrap()]));
}

/// One root with a key, a pipeline file and the world's events.
fn root(dir: &Path, name: &str, events: &[PathBuf], key: &Path) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(key, root.join("key")).unwrap();
    std::fs::write(
        root.join("pipeline.toml"),
        format!(
            r#"
dataset = "cluster"
measuring_country = "KEN"
operator_plmns = ["63902"]
state_dir = "state"
release_dir = "release"
[key]
file = "key"
[input]
paths = {events:?}
"#
        ),
    )
    .unwrap();
    root
}

fn run(root: &Path, sets: &[String]) -> std::process::Output {
    let pipeline = root.join("pipeline.toml");
    let mut args = vec![
        "run".to_string(),
        pipeline.to_str().unwrap().to_string(),
        "--period".into(),
        "2025".into(),
        "--test-seed".into(),
        "3".into(),
    ];
    for s in sets {
        args.extend(["--set".to_string(), s.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    borderflow(&args)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Rows of every Parquet file under `dir`, each as text with its directory's name (a date
/// partition) in front, sorted: what two engines must agree on whatever their files' bytes.
fn parquet_rows(dir: &Path) -> Vec<String> {
    use arrow::util::display::array_value_to_string;
    let mut rows = Vec::new();
    for file in files_under(dir) {
        if file.extension().is_none_or(|x| x != "parquet") {
            continue;
        }
        let partition = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            std::fs::File::open(&file).unwrap(),
            8192,
        )
        .unwrap();
        // A date partition's name is part of its rows; a run's directory name is not.
        let partition = if partition.starts_with("local_date=") {
            partition
        } else {
            String::new()
        };
        for batch in reader {
            let batch = batch.unwrap();
            for i in 0..batch.num_rows() {
                let mut row = partition.clone();
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    let value = array_value_to_string(column, i).unwrap();
                    row.push_str(&format!(" {}={value}", field.name()));
                }
                rows.push(row);
            }
        }
    }
    rows.sort();
    rows
}

/// The row accounting of a root's ingest runs (`state/ingest/*.json`): per file, rows read,
/// accepted and quarantined by reason, presence rows written, and each input's size and
/// SHA-256 (taken by the executors on a cluster).
fn ingest_accounting(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in files_under(&root.join("state/ingest")) {
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        out.push(format!(
            "files={} totals={} presence_rows={} inputs={}",
            report["files"], report["totals"], report["presence_rows"], report["inputs"]
        ));
    }
    out.sort();
    out
}

fn ballista(cluster: &Cluster) -> Vec<String> {
    vec![
        "engine.kind=\"ballista\"".to_string(),
        format!("engine.scheduler=\"{}\"", cluster.url()),
        // More partitions than one executor's slots: both executors get tasks.
        "engine.target_partitions=6".to_string(),
    ]
}

#[test]
fn a_release_on_the_cluster_equals_the_local_one_and_a_lost_executor_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    world_and_key(d, 800, 21);
    // The world's events (a Parquet file split into shares by row groups), and a small CSV
    // of rows the quarantine keeps: a bad time, an unknown network, and one good row.
    let extra = d.join("world/late.csv");
    std::fs::write(
        &extra,
        "subscriber_id,event_time,home_plmn,serving_plmn,cell_id,event_type,counterpart_number\n\
         639020000000001,yesterday,63902,63902,C1,data,\n\
         639020000000002,2025-03-01T10:00:00Z,12345,63902,C1,data,\n\
         639020000000003,2025-03-01T10:00:00Z,63902,63902,C1,data,\n",
    )
    .unwrap();
    let events = vec![d.join("world/events.parquet"), extra];
    let cluster = Cluster::start(d, 2, Some(&d.join("key")));

    let local = root(d, "local", &events, &d.join("key"));
    ok(&run(&local, &[]));
    let remote = root(d, "remote", &events, &d.join("key"));
    let out = ok(&run(&remote, &ballista(&cluster)));
    assert!(out.contains("publish:"), "{out}");

    // Ingest on the executors: the same presence rows, date by date, the same quarantined
    // rows with their files and row numbers, the same accounting of every row.
    let presence = |r: &Path| parquet_rows(&r.join("state/presence"));
    let (lp, rp) = (presence(&local), presence(&remote));
    assert!(lp.len() > 100_000, "{} presence rows", lp.len());
    assert!(lp == rp, "the presence stores differ between the engines");
    let quarantine = |r: &Path| parquet_rows(&r.join("state/quarantine"));
    let (lq, rq) = (quarantine(&local), quarantine(&remote));
    assert_eq!(lq.len(), 2, "{lq:?}");
    assert_eq!(lq, rq);
    assert_eq!(ingest_accounting(&local), ingest_accounting(&remote));
    for r in [&local, &remote] {
        // One delivery: one file per date, named by the delivery as the store names it.
        let names: std::collections::BTreeSet<_> = files_under(&r.join("state/presence"))
            .iter()
            .filter(|f| f.extension().is_some_and(|x| x == "parquet"))
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let name = names.first().unwrap();
        assert!(
            name.starts_with("part-2") && name.ends_with(".parquet"),
            "{name}"
        );
    }

    // The per-SIM facts, row for row: written by the executors on the cluster (no SIM's
    // facts reach the driver), by the driver locally.
    let facts = |r: &Path| parquet_rows(&r.join("state/classified/2025"));
    let (lf, rf) = (facts(&local), facts(&remote));
    assert!(lf.len() > 800, "{} facts rows", lf.len());
    assert!(lf == rf, "the facts differ between the engines");
    let names = |r: &Path| {
        files(&r.join("state/classified/2025"))
            .into_iter()
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&local), names(&remote));
    // Every table of the release, byte for byte: the same true counts (the test seed draws
    // the same noise from them), cell for cell.
    let release = |r: &Path| files(&r.join("release/cluster/2025"));
    let (lr, rr) = (release(&local), release(&remote));
    assert_eq!(lr.len(), rr.len());
    let mut compared = 0;
    for ((ln, lb), (rn, rb)) in lr.iter().zip(&rr) {
        assert_eq!(ln, rn);
        if ln.ends_with(".csv") || ln.ends_with(".parquet") {
            assert!(lb == rb, "{ln} differs between the engines");
            compared += 1;
        }
    }
    assert_eq!(
        compared, 12,
        "categories, crossings, totals, corridors × 3 formats"
    );

    // Nothing the cluster logged or wrote holds the key (in any spelling) or a raw id: the
    // key never travels in a plan, a task or a session option, and rows are pseudonymised
    // before any executor sees them. The processes log at debug level, plans included.
    let key = std::fs::read(d.join("key")).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut needles = vec![
        key.clone(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ];
    let truth = std::fs::read_to_string(d.join("world/truth.csv")).unwrap();
    needles.extend(
        truth
            .lines()
            .skip(1)
            .take(200)
            .map(|l| l.split(',').next().unwrap().as_bytes().to_vec()),
    );
    let mut by_length: std::collections::BTreeMap<usize, std::collections::HashSet<&[u8]>> =
        Default::default();
    for n in &needles {
        by_length.entry(n.len()).or_default().insert(n.as_slice());
    }
    let mut scanned = 0;
    for file in files_under(d) {
        let name = file.file_name().unwrap().to_string_lossy();
        let ours = name.ends_with(".log")
            || file.starts_with(d.join("executor-0"))
            || file.starts_with(d.join("executor-1"));
        if !ours {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        scanned += bytes.len();
        for (len, set) in &by_length {
            assert!(
                !bytes.windows(*len).any(|w| set.contains(w)),
                "{} holds the key or a raw id",
                file.display()
            );
        }
    }
    assert!(scanned > 0, "the cluster wrote nothing to scan");

    // The cluster, not the driver, wrote the facts and tabulated them: the scheduler planned
    // a Parquet sink for ingest's presence files and three for classification (the per-SIM
    // rows, then each facts file from them), and a job running the tabulation aggregate.
    let scheduler_log = std::fs::read_to_string(d.join("scheduler.log")).unwrap();
    let sinks = scheduler_log.matches("DataSinkExec").count();
    assert!(sinks >= 4, "the scheduler planned {sinks} file sinks");
    for planned in ["/per-sim/", "borderflow_tabulate"] {
        assert!(
            scheduler_log.contains(planned),
            "the scheduler planned no job with {planned}"
        );
    }

    // An executor killed mid-run: Ballista retries its tasks on the other, or the run fails
    // whole — then with nothing published and no budget spent.
    let killed = root(d, "killed", &events, &d.join("key"));
    let mut cluster = cluster;
    let sets = ballista(&cluster);
    // Each executor's shuffle files so far: a new one is the run's first job (ingest)
    // reaching it, and that executor is killed at once, mid-job.
    let shuffle = |i: usize| {
        let mut v = files_under(&d.join(format!("executor-{i}")));
        v.sort();
        v
    };
    let before = [shuffle(0), shuffle(1)];
    let run_thread = {
        let killed = killed.clone();
        std::thread::spawn(move || run(&killed, &sets))
    };
    let until = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        if let Some(i) = (0..2).find(|i| shuffle(*i) != before[*i]) {
            break i;
        }
        assert!(
            Instant::now() < until && !run_thread.is_finished(),
            "the run never reached an executor"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut victim = cluster.executors.remove(victim);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let out = run_thread.join().unwrap();
    let release_dir = killed.join("release/cluster/2025");
    eprintln!(
        "an executor killed mid-run: the run {}",
        if out.status.success() {
            "completed on the other executor".to_string()
        } else {
            format!("failed: {}", stderr(&out).trim())
        }
    );
    if out.status.success() {
        assert!(
            facts(&killed) == lf,
            "a run that survived a lost executor concluded other facts"
        );
        assert_eq!(
            release(&killed)
                .iter()
                .filter(|(n, _)| n.ends_with(".csv"))
                .collect::<Vec<_>>(),
            lr.iter()
                .filter(|(n, _)| n.ends_with(".csv"))
                .collect::<Vec<_>>()
        );
    } else {
        let err = stderr(&out);
        assert!(!release_dir.exists(), "a failed run published: {err}");
        let budget = ok(&borderflow(&[
            "budget",
            killed.join("pipeline.toml").to_str().unwrap(),
            "--json",
        ]));
        let budget: serde_json::Value = serde_json::from_str(&budget).unwrap();
        assert!(
            budget["releases"].as_array().unwrap().is_empty(),
            "a failed run spent budget: {budget}"
        );
        assert!(
            !err.contains("panicked"),
            "a lost executor is an error, not a crash: {err}"
        );
    }
}

/// An executor holds its own key and refuses to ingest with any other: the plan carries only
/// the store's key fingerprint. Started with another key, or with none, it fails the run on
/// one line naming the fault (exit status 2, a setting to fix) and nothing reaches the store.
#[test]
fn an_executor_without_the_stores_key_refuses_to_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    world_and_key(d, 60, 5);
    ok(&borderflow(&[
        "keygen",
        d.join("other.key").to_str().unwrap(),
    ]));
    let r = root(d, "r", &[d.join("world/events.parquet")], &d.join("key"));
    let pipeline = r.join("pipeline.toml");
    for (key, refusal) in [
        (Some(d.join("other.key")), "is not the store's"),
        (None, "this executor holds no pseudonymisation key"),
    ] {
        let cluster = Cluster::start(d, 1, key.as_deref());
        let mut args = vec!["ingest".to_string(), pipeline.display().to_string()];
        for s in ballista(&cluster) {
            args.extend(["--set".to_string(), s]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = borderflow(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        // The executor's own words, not Ballista's wrapping of them.
        assert!(
            err.starts_with("error: ingest on the cluster failed, nothing was written to the store: this executor"),
            "{err}"
        );
        assert!(err.contains(refusal), "{err}");
        assert!(
            !err.contains("DataFusionError") && !err.contains("<<"),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        let presence = r.join("state/presence");
        let dates = std::fs::read_dir(&presence)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0);
        assert_eq!(dates, 0, "a refused ingest wrote to the store");
        assert!(files_under(&r.join("state/quarantine")).is_empty());
        assert!(files_under(&r.join("state/ingest")).is_empty());
        drop(cluster);
    }
}

/// The engine switch refuses what cannot work, naming the key, before anything is written:
/// a cluster without a scheduler, a scheduler without the cluster, an address that is not
/// `df://host:port`, and a scheduler nobody runs.
#[test]
fn the_engine_switch_refuses_what_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    world_and_key(d, 50, 2);
    let r = root(d, "r", &[d.join("world/events.parquet")], &d.join("key"));
    let pipeline = r.join("pipeline.toml");
    let validate = |sets: &[&str]| {
        let mut args = vec!["validate", pipeline.to_str().unwrap()];
        for s in sets {
            args.extend(["--set", s]);
        }
        borderflow(&args)
    };
    let closed = free_port();
    let closed_url = format!("engine.scheduler=\"df://127.0.0.1:{closed}\"");
    for (sets, message) in [
        (
            vec!["engine.kind=\"ballista\""],
            "engine.kind = \"ballista\" needs engine.scheduler = \"df://host:port\"".to_string(),
        ),
        (
            vec!["engine.scheduler=\"df://127.0.0.1:50050\""],
            "engine.scheduler is set but engine.kind is \"local\"".to_string(),
        ),
        (
            vec![
                "engine.kind=\"ballista\"",
                "engine.scheduler=\"127.0.0.1:50050\"",
            ],
            "engine.scheduler \"127.0.0.1:50050\" is not df://host:port".to_string(),
        ),
        (
            vec!["engine.kind=\"ballista\"", closed_url.as_str()],
            format!("nothing answers at df://127.0.0.1:{closed}"),
        ),
    ] {
        let o = validate(&sets);
        assert_eq!(o.status.code(), Some(2), "{sets:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&message), "{sets:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert!(!r.join("state").exists(), "validate wrote the state");
    let out = ok(&validate(&[]));
    assert!(out.contains("engine    local: "), "{out}");
}

/// A process that cannot start says why on one line and exits non-zero: an executor asked to
/// bind to a name rather than an IP address.
#[test]
fn a_cluster_process_that_cannot_start_says_why_in_one_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_borderflow-executor"))
        .args([
            "executor",
            "--bind-host",
            "not-an-ip",
            "--scheduler",
            "df://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let last = err.trim_end().lines().last().unwrap_or("");
    assert!(last.starts_with("error: executor: "), "{err}");
    assert!(last.contains("invalid"), "{err}");
}
