//! A soak run (docs/operations.md, "A soak run"), ignored by default because it takes minutes:
//!
//! ```sh
//! cargo test --workspace --test soak -- --ignored --nocapture
//! ```
//!
//! Two years of monthly releases and the two annual ones — 26 scheduled runs over a generated
//! world of 2024 and 2025, with the shipped templates' budgets — first run cleanly, then again
//! from scratch with runs killed at random instants and runs started while another holds the
//! state directory. Both sequences must end with the same releases (test seed; the publication
//! time aside) and the same budget spent per data year.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{borderflow, ok};

const SCENARIO: &str = r#"
start = "2024-01-01"
days = 731
subscribers = 200
seed = 41
"#;

/// A pipeline of the store, with the shipped templates' privacy settings.
fn pipeline(dataset: &str, rho: [f64; 5]) -> String {
    format!(
        r#"
dataset = "{dataset}"
measuring_country = "KEN"
operator_plmns = ["63902"]
state_dir = "state"
release_dir = "release"
[key]
file = "key"
[input]
paths = ["data/*.csv"]
[privacy]
annual_rho = 0.25
k = 16
[privacy.categories]
rho = {}
[privacy.crossings]
rho = {}
[privacy.totals]
rho = {}
[privacy.quality]
rho = {}
[privacy.daily]
rho = {}
"#,
        rho[0], rho[1], rho[2], rho[3], rho[4]
    )
}

/// The schedule: each month of 2024, the year 2024, each month of 2025, the year 2025.
fn schedule() -> Vec<(&'static str, String)> {
    let mut runs = Vec::new();
    for year in [2024, 2025] {
        for month in 1..=12 {
            runs.push(("monthly.toml", format!("{year}-{month:02}")));
        }
        runs.push(("annual.toml", year.to_string()));
    }
    runs
}

/// Splits the world's events into one file per month (by the UTC month of the event), as an
/// operator delivers them.
fn monthly_files(world: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let text = std::fs::read_to_string(world.join("events.csv")).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let mut months: BTreeMap<String, String> = BTreeMap::new();
    for line in body.lines() {
        let time = line.split(',').nth(1).unwrap();
        months
            .entry(time[..7].to_string())
            .or_insert_with(|| format!("{header}\n"))
            .push_str(&format!("{line}\n"));
    }
    for (month, text) in months {
        std::fs::write(out.join(format!("{month}.csv")), text).unwrap();
    }
}

/// Delivers the month's file before its run (an annual run reads what is there).
fn deliver(root: &Path, months: &Path, period: &str) {
    let file = months.join(format!("{period}.csv"));
    if file.exists() {
        std::fs::copy(&file, root.join("data").join(format!("{period}.csv"))).unwrap();
    }
}

fn store(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::copy(dir.join("key"), root.join("key")).unwrap();
    std::fs::write(
        root.join("monthly.toml"),
        pipeline("monthly", [0.002, 0.002, 0.0015, 0.0002, 0.0001]),
    )
    .unwrap();
    std::fs::write(
        root.join("annual.toml"),
        pipeline("annual", [0.03, 0.03, 0.05, 0.003, 0.002]),
    )
    .unwrap();
    root
}

fn command(root: &Path, file: &str, period: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_borderflow"));
    c.current_dir(root)
        .args(["run", file, "--period", period, "--test-seed", "3"]);
    c
}

/// Every release file, manifests without their publication time, reports aside.
fn releases(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for dataset in ["monthly", "annual"] {
        let Ok(periods) = std::fs::read_dir(root.join("release").join(dataset)) else {
            continue;
        };
        for period in periods {
            let period = period.unwrap().path();
            for file in std::fs::read_dir(&period).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name == "report.html" {
                    continue;
                }
                let mut bytes = std::fs::read(&path).unwrap();
                if name == "manifest.json" {
                    let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    m.as_object_mut().unwrap().remove("published_at");
                    bytes = serde_json::to_vec(&m).unwrap();
                }
                out.insert(
                    path.strip_prefix(root).unwrap().display().to_string(),
                    bytes,
                );
            }
        }
    }
    out
}

/// Spent per data year, from `borderflow budget`.
fn spent(root: &Path) -> Vec<String> {
    let out = ok(&borderflow(&[
        "budget",
        root.join("monthly.toml").to_str().unwrap(),
    ]));
    out.lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("2024 ") || t.starts_with("2025 ")
        })
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "a soak run of minutes: cargo test --test soak -- --ignored"]
fn two_years_of_scheduled_runs_with_kills_and_overlaps_end_as_the_clean_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    std::fs::write(dir.path().join("scenario.toml"), SCENARIO).unwrap();
    ok(&borderflow(&[
        "generate",
        "--out",
        world.to_str().unwrap(),
        "--scenario",
        dir.path().join("scenario.toml").to_str().unwrap(),
        "--format",
        "csv",
    ]));
    ok(&borderflow(&[
        "keygen",
        dir.path().join("key").to_str().unwrap(),
    ]));
    let months = dir.path().join("months");
    monthly_files(&world, &months);

    // The clean sequence, timing each run.
    let clean = store(dir.path(), "clean");
    let started = Instant::now();
    let mut seconds = Vec::new();
    for (file, period) in schedule() {
        deliver(&clean, &months, &period);
        let t = Instant::now();
        let o = command(&clean, file, &period).output().unwrap();
        ok(&o);
        seconds.push(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "clean: {} runs in {:.0} s",
        seconds.len(),
        started.elapsed().as_secs_f64()
    );

    // The same schedule with a killed run before some steps and two runs started at once
    // before others; then the scheduled run, as a timer's next firing would.
    let rough = store(dir.path(), "rough");
    let (mut kills, mut overlaps, mut busy) = (0, 0, 0);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for (i, (file, period)) in schedule().into_iter().enumerate() {
        deliver(&rough, &months, &period);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 3 {
            0 => {
                let delay = Duration::from_secs_f64(seconds[i] * ((x >> 8) % 1000) as f64 / 1000.0);
                let mut child = command(&rough, file, &period).spawn().unwrap();
                std::thread::sleep(delay);
                if child.try_wait().unwrap().is_none() {
                    child.kill().unwrap();
                    kills += 1;
                }
                child.wait().unwrap();
            }
            1 => {
                let a = command(&rough, file, &period).spawn().unwrap();
                let b = command(&rough, file, &period).spawn().unwrap();
                for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
                    match o.status.code() {
                        Some(0) => {}
                        Some(5) => busy += 1,
                        other => panic!(
                            "{period}: an overlapping run ended with {other:?}: {}",
                            String::from_utf8_lossy(&o.stderr)
                        ),
                    }
                }
                overlaps += 1;
            }
            _ => {}
        }
        ok(&command(&rough, file, &period).output().unwrap());
    }
    eprintln!(
        "rough: {kills} runs killed mid-run, {overlaps} overlapping starts ({busy} refused as busy)"
    );

    let (a, b) = (releases(&clean), releases(&rough));
    assert_eq!(a.len(), b.len());
    assert_eq!(a.len(), 26 * 14, "26 releases of 14 files (reports aside)");
    for (name, bytes) in &a {
        assert!(b.get(name) == Some(bytes), "{name} differs");
    }
    assert_eq!(spent(&clean), spent(&rough));
    eprintln!("spent per data year: {:?}", spent(&clean));
}
