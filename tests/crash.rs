//! A run killed at any instant (docs/operations.md, "Crash at any instant"):
//!
//! - **At each step.** A failpoint aborts the process — as `kill -9` would — at each step of
//!   ingest (read, reduced, quarantine moved, the first day swapped in, every day swapped in,
//!   report written), classification (facts staged, committed) and publication (reserved,
//!   sampled, drawn, staged, renamed).
//! - **At random instants.** The run is killed with SIGKILL after delays spread over a whole
//!   run's duration.
//!
//! After each, a plain re-run must give the release of an uninterrupted run byte for byte
//! (test seed; the publication time aside), the budget charged once, no staging directory
//! left in the state or release tree, and a store whose every partition reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{borderflow, copy_tree, ok};

const PIPELINE: &str = r#"
dataset = "crash"
measuring_country = "KEN"
operator_plmns = ["63902"]
state_dir = "state"
release_dir = "release"

[key]
file = "key"

[input]
paths = ["data/events.csv"]

[privacy]
annual_rho = 0.25
k = 16
[privacy.categories]
rho = 0.01
[privacy.crossings]
rho = 0.01
[privacy.totals]
rho = 0.01
[privacy.quality]
rho = 0.001
[privacy.daily]
rho = 0.001
"#;

const PERIOD: &str = "2025-12";

/// Every failpoint of a run, in the order a run reaches them.
const KILL_POINTS: [&str; 13] = [
    "ingest:read",
    "ingest:reduced",
    "ingest:quarantined",
    "ingest:swapping",
    "ingest:swapped",
    "ingest:reported",
    "classify:staged",
    "classify:committed",
    "publish:reserved",
    "publish:sampled",
    "publish:drawn",
    "publish:staged",
    "publish:renamed",
];

/// The world every case starts from (data, key, pipeline; no state), and the outcome of an
/// uninterrupted run on it.
struct Base {
    _dir: tempfile::TempDir,
    root: PathBuf,
    release: BTreeMap<String, Vec<u8>>,
    budget: String,
    seconds: f64,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("base");
        let generated = dir.path().join("gen");
        ok(&borderflow(&[
            "generate",
            "--out",
            generated.to_str().unwrap(),
            "--subscribers",
            "150",
            "--seed",
            "31",
            "--format",
            "csv",
        ]));
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::copy(generated.join("events.csv"), root.join("data/events.csv")).unwrap();
        std::fs::write(root.join("p.toml"), PIPELINE).unwrap();
        ok(&borderflow(&["keygen", root.join("key").to_str().unwrap()]));
        let clean = copy_of(&root, dir.path(), "clean");
        let started = Instant::now();
        ok(&run(&clean, &[]));
        let seconds = started.elapsed().as_secs_f64();
        Base {
            release: release_files(&clean),
            budget: charged(&clean),
            seconds,
            root,
            _dir: dir,
        }
    })
}

fn copy_of(from: &Path, into: &Path, name: &str) -> PathBuf {
    let to = into.join(name);
    copy_tree(from, &to);
    to
}

fn command(root: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_borderflow"));
    c.current_dir(root)
        .args(["run", "p.toml", "--period", PERIOD, "--test-seed", "7"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(root: &Path, env: &[(&str, &str)]) -> Output {
    command(root, env).output().unwrap()
}

/// The release's files, the manifest without its publication time.
fn release_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = root.join("release/crash").join(PERIOD);
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        if name == "manifest.json" {
            // The publication time, and the digest over files that carry it (the structure
            // message's header, the report): every file is compared below on its own.
            let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            m.as_object_mut().unwrap().remove("published_at");
            m.as_object_mut().unwrap().remove("outputs_digest");
            bytes = serde_json::to_vec(&m).unwrap();
        }
        if name == "structure.sdmx.xml" {
            let text = String::from_utf8(bytes).unwrap();
            let (head, rest) = text.split_once("<mes:Prepared>").unwrap();
            let (_, tail) = rest.split_once("</mes:Prepared>").unwrap();
            bytes = format!("{head}{tail}").into_bytes();
        }
        if name == "report.html" {
            // The report shows the publication time; its numbers are the tables'.
            continue;
        }
        files.insert(name, bytes);
    }
    files
}

/// The data year's line of `borderflow budget`: what was charged.
fn charged(root: &Path) -> String {
    let out = ok(&borderflow(&[
        "budget",
        root.join("p.toml").to_str().unwrap(),
    ]));
    out.lines()
        .find(|l| l.trim_start().starts_with("2025 "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
}

/// Paths under `dir` whose name marks a staging directory or file.
fn staging_left(dir: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return left;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".staging-") || name.ends_with(".tmp") || name.contains(".creating-") {
            left.push(path.display().to_string());
        }
        if path.is_dir() {
            left.extend(staging_left(&path));
        }
    }
    left
}

/// After an interrupted run and a plain re-run: the uninterrupted release, one charge, no
/// staging, a readable store.
fn recovered(root: &Path, what: &str) {
    let rerun = run(root, &[]);
    assert!(
        rerun.status.success(),
        "{what}: re-run failed: {}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let b = base();
    let release = release_files(root);
    assert_eq!(
        release.keys().collect::<Vec<_>>(),
        b.release.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (name, bytes) in &release {
        assert!(
            bytes == &b.release[name],
            "{what}: {name} differs from the uninterrupted run"
        );
    }
    assert_eq!(charged(root), b.budget, "{what}: charged once");
    let left = [
        staging_left(&root.join("state")),
        staging_left(&root.join("release")),
    ]
    .concat();
    assert!(left.is_empty(), "{what}: staging left: {left:?}");
    ok(&borderflow(&[
        "validate",
        root.join("p.toml").to_str().unwrap(),
        "--period",
        PERIOD,
    ]));
}

#[test]
fn a_run_killed_at_each_step_recovers_to_the_uninterrupted_release() {
    let b = base();
    let scratch = tempfile::tempdir().unwrap();
    for point in KILL_POINTS {
        let root = copy_of(&b.root, scratch.path(), &point.replace(':', "-"));
        let killed = run(
            root.as_path(),
            &[(borderflow_core::failpoint::FAILPOINT_VAR, point)],
        );
        assert_eq!(
            killed.status.code(),
            None,
            "{point}: the run was aborted there"
        );
        recovered(&root, point);
    }
}

/// A process killed while writing a file in place (a run report, a summary) leaves that
/// write's sibling temporary file in whatever directory of the state it was writing; the next
/// run removes it, at any depth, and recovers as after any other kill.
#[test]
fn a_write_killed_before_its_rename_leaves_nothing_after_the_next_run() {
    let b = base();
    let scratch = tempfile::tempdir().unwrap();
    let root = copy_of(&b.root, scratch.path(), "killed-write");
    let planted = [
        root.join("state/.ledger.sqlite.4242.tmp"),
        root.join("state/ingest/.20250101T000000Z-4242.json.4242.tmp"),
        root.join("state/classified/2025/.summary.json.4242.tmp"),
    ];
    for path in &planted {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"half a file").unwrap();
    }
    recovered(&root, "a write killed before its rename");
    for path in &planted {
        assert!(!path.exists(), "{} is still there", path.display());
    }
}

#[test]
fn a_run_killed_at_random_instants_recovers_to_the_uninterrupted_release() {
    let b = base();
    let scratch = tempfile::tempdir().unwrap();
    // Delays spread over the whole run, from a fixed sequence so a failure can be replayed.
    let runs = 10;
    let mut killed_mid_run = 0;
    for i in 0..runs {
        let root = copy_of(&b.root, scratch.path(), &format!("kill-{i}"));
        let fraction = ((i as f64 + 0.5) / runs as f64 * 0.618_034 * 7.0).fract();
        let delay = Duration::from_secs_f64(b.seconds * fraction);
        let mut child = command(&root, &[]).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed_mid_run += 1;
        }
        child.wait().unwrap();
        recovered(&root, &format!("killed after {delay:?}"));
    }
    assert!(
        killed_mid_run >= runs / 2,
        "only {killed_mid_run} runs were killed mid-run"
    );
}
