//! Attacks on the privacy guarantee through the `borderflow` binary (docs/privacy.md):
//!
//! - **One SIM apart.** Worlds W and W′ that differ in one SIM's records — all of them, or part
//!   of them — are published from fresh test stores with the same test seed, so the noise is
//!   the same draw for draw; then every public byte is compared. A difference may sit only in
//!   a noised value or in a value computed from noised values: an exact count that moves with
//!   one SIM fails the test.
//! - **Kill at each step.** The run is aborted (as by `kill -9`) at each step between reserve
//!   and commit; after the next run the ledger shows the release's cost once, one set of
//!   noisy values per table, nothing left staged, and the published values are those drawn.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{borderflow, csv_rows, ok, parquet_rows};
use borderflow_privacy::{Ledger, Ratio, Status};

/// Writes a generated world's events (canonical columns) to `dir/gen`, returns its CSV text.
fn generated(dir: &Path, subscribers: &str, seed: &str) -> String {
    let out = dir.join("gen");
    ok(&borderflow(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--subscribers",
        subscribers,
        "--seed",
        seed,
        "--format",
        "csv",
    ]));
    std::fs::read_to_string(out.join("events.csv")).unwrap()
}

/// A fresh store under `root` holding `events`: its pipeline file (defaults of the privacy
/// plan, k = 16), a copy of `key`, and the events.
fn store(root: &Path, events: &str, key: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/events.csv"), events).unwrap();
    let key_copy = root.join("pseudonym.key");
    std::fs::copy(key, &key_copy).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let pipeline = root.join("p.toml");
    std::fs::write(
        &pipeline,
        "dataset = \"t\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
         state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"pseudonym.key\"\n\
         [input]\npaths = [\"data/events.csv\"]\n",
    )
    .unwrap();
    pipeline
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("shared.key");
    ok(&borderflow(&["keygen", key.to_str().unwrap()]));
    key
}

fn run(pipeline: &Path, seed: &str) -> std::process::Output {
    borderflow(&[
        "run",
        pipeline.to_str().unwrap(),
        "--period",
        "2025",
        "--test-seed",
        seed,
    ])
}

/// The events without some rows of subscriber `id`: all of them, or every row after its
/// first `keep`.
fn without(events: &str, id: &str, keep: usize) -> String {
    let mut seen = 0;
    let mut out = String::new();
    for (i, line) in events.lines().enumerate() {
        if i > 0 && line.split(',').next() == Some(id) {
            seen += 1;
            if seen > keep {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(seen > keep, "{id} has {seen} rows");
    out
}

/// Columns of the released tables whose values come from the noise.
const NOISED_COLUMNS: [&str; 6] = [
    "subscribers",
    "suppressed",
    "status",
    "OBS_VALUE",
    "OBS_STATUS",
    "CONF_STATUS",
];

/// JSON fields (dotted paths, `*` for any key) holding noisy values or values computed from
/// them and nothing else.
const NOISED_FIELDS: [&str; 15] = [
    "outputs_digest",
    "published_at",
    "cells.*.published",
    "cells.*.suppressed",
    "privacy.tables.*.published",
    "privacy.tables.*.suppressed",
    "classification.open_spells.value",
    "sims_seen.value",
    "sims_too_sparse_to_classify.value",
    "share_too_sparse_to_classify",
    "sims_on_open_spells.value",
    "sim_days_observed.value",
    "observation_density_days_seen_per_sim_day",
    "sims_seen_per_day.*",
    "days_indistinguishable_from_no_data",
];

fn matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), path.split('.').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

/// The leaves of `a` and `b` that differ, by dotted path; a key in one only is a difference.
fn json_differences(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => json_differences(u, v, &path, out),
                    _ => out.push(format!("{path} (present in one only)")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                json_differences(u, v, &format!("{at}.{i}"), out);
            }
        }
        _ if a != b => out.push(at.to_string()),
        _ => {}
    }
}

/// Every difference between the public files of two releases that is not in a noised value;
/// and how many noised values differ.
fn exact_differences(a: &Path, b: &Path) -> (Vec<String>, usize) {
    let names = common::listing(a);
    assert_eq!(names, common::listing(b), "the same files");
    let (mut exact, mut noised) = (Vec::new(), 0);
    for name in &names {
        let (pa, pb) = (a.join(name), b.join(name));
        let tables = if name.ends_with(".csv") {
            Some((csv_rows(&pa).1, csv_rows(&pb).1))
        } else if name.ends_with(".parquet") {
            Some((parquet_rows(&pa), parquet_rows(&pb)))
        } else {
            None
        };
        if let Some((ra, rb)) = tables {
            if ra.len() != rb.len() {
                exact.push(format!("{name}: {} rows against {}", ra.len(), rb.len()));
                continue;
            }
            for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
                for (col, v) in x {
                    if y.get(col) == Some(v) {
                        continue;
                    }
                    if NOISED_COLUMNS.contains(&col.as_str()) {
                        noised += 1;
                    } else {
                        exact.push(format!("{name} row {i} column {col}"));
                    }
                }
            }
        } else if name.ends_with(".json") {
            let read = |p: &Path| -> serde_json::Value {
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
            };
            let mut diffs = Vec::new();
            json_differences(&read(&pa), &read(&pb), "", &mut diffs);
            for d in diffs {
                if NOISED_FIELDS.iter().any(|f| matches(f, &d)) {
                    noised += 1;
                } else {
                    exact.push(format!("{name}: {d}"));
                }
            }
        } else {
            // The report is rendered from the released tables and public parameters only: with
            // its numbers masked, the two pages are the same page.
            let masked = |p: &Path| -> String {
                std::fs::read_to_string(p)
                    .unwrap()
                    .chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .collect()
            };
            if masked(&pa) != masked(&pb) {
                exact.push(format!("{name}: differs beyond its numbers"));
            }
        }
    }
    (exact, noised)
}

#[test]
fn worlds_one_sim_apart_differ_only_in_noised_values() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let events = generated(root, "300", "21");
    let key = keygen(root);
    // The SIM with the most rows: a resident seen every day.
    let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
    for line in events.lines().skip(1) {
        *rows.entry(line.split(',').next().unwrap()).or_default() += 1;
    }
    let (id, _) = rows.iter().max_by_key(|(_, n)| **n).unwrap();
    let worlds = [
        ("w", events.clone()),
        ("removed", without(&events, id, 0)),
        ("thinned", without(&events, id, 3)),
    ];
    let mut releases = Vec::new();
    for (name, text) in &worlds {
        let p = store(&root.join(name), text, &key);
        ok(&run(&p, "7"));
        releases.push(root.join(name).join("release/t/2025"));
    }
    for other in &releases[1..] {
        let (exact, noised) = exact_differences(&releases[0], other);
        assert!(
            exact.is_empty(),
            "exact values that move with one SIM in {}: {exact:#?}",
            other.display()
        );
        assert!(noised > 0, "the SIM changed nothing at all: a vacuous test");
    }
}

#[test]
fn days_without_data_show_through_the_noise_and_their_exact_count_stays_operator_side() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let events = generated(root, "300", "13");
    // The feed lost 1–11 March (UTC): functional days 1–10 March hold nothing, 11 March
    // only its last hour.
    let lost = |line: &str| {
        line.split(',').nth(1).is_some_and(|t| {
            t.starts_with("2025-03-0") || t.starts_with("2025-03-10") || t.starts_with("2025-03-11")
        })
    };
    let kept: String = events
        .lines()
        .filter(|l| !lost(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let p = store(&root.join("gap"), &kept, &keygen(root));
    // σ of a day's count √(365 / 2ρ) ≈ 19 at ρ = 0.5: this world's ~150 SIMs a day stand out.
    ok(&borderflow(&[
        "run",
        p.to_str().unwrap(),
        "--period",
        "2025",
        "--test-seed",
        "3",
        "--set",
        "privacy.daily.rho=0.5",
        "--set",
        "privacy.annual_rho=1",
    ]));
    let read = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let quality = read(root.join("gap/release/t/2025/quality.json"));
    let noisy_gap = quality["days_indistinguishable_from_no_data"]
        .as_u64()
        .unwrap();
    assert!((10..=11).contains(&noisy_gap), "{noisy_gap} days");
    let per_day = quality["sims_seen_per_day"].as_object().unwrap();
    assert_eq!(per_day.len(), 365);
    assert!(
        per_day["2025-06-01"].as_i64().unwrap() > 60,
        "{}",
        per_day["2025-06-01"]
    );
    let operator = read(root.join("gap/state/operator/t/2025/operator-manifest.json"));
    assert_eq!(operator["exact"]["lookback_days_without_data"], 10);
    assert_eq!(operator["exact"]["sims_per_day"]["2025-03-05"], 0);
}

/// The points between reserve and commit where a run can die.
const STEPS: [&str; 5] = [
    "publish:reserved",
    "publish:sampled",
    "publish:drawn",
    "publish:staged",
    "publish:renamed",
];

#[test]
fn a_run_killed_at_each_step_costs_once_and_noises_once() {
    let dir = tempfile::tempdir().unwrap();
    let events = generated(dir.path(), "150", "4");
    let key = keygen(dir.path());
    for step in STEPS {
        let root = dir.path().join(step.replace(':', "-"));
        let p = store(&root, &events, &key);
        let killed = std::process::Command::new(env!("CARGO_BIN_EXE_borderflow"))
            .args([
                "run",
                p.to_str().unwrap(),
                "--period",
                "2025",
                "--test-seed",
                "1",
            ])
            .env(borderflow_core::failpoint::FAILPOINT_VAR, step)
            .output()
            .unwrap();
        assert!(!killed.status.success(), "{step}: the run was not killed");
        let ledger_path = root.join("state/ledger.sqlite");
        let drawn_before: BTreeMap<String, Vec<i64>> = {
            let l = Ledger::open_existing(&ledger_path).unwrap();
            l.unfinished()
                .unwrap()
                .into_iter()
                .filter_map(|r| Some((r.table.clone(), l.draws(r.id).unwrap()?)))
                .collect()
        };
        // The retry uses another seed: whatever was drawn before must be what is published.
        ok(&run(&p, "2"));
        let l = Ledger::open_existing(&ledger_path).unwrap();
        let live: Vec<_> = l
            .releases()
            .unwrap()
            .into_iter()
            .filter(|r| r.status != Status::Aborted)
            .collect();
        assert_eq!(live.len(), 5, "{step}: one live row per table");
        assert!(live.iter().all(|r| r.status == Status::Published), "{step}");
        assert_eq!(
            l.spent(2025).unwrap(),
            Ratio::from_decimal("0.25").unwrap(),
            "{step}: the cost once"
        );
        let aborted = l.releases().unwrap().len() - live.len();
        assert_eq!(
            aborted,
            if step == "publish:reserved" { 5 } else { 0 },
            "{step}"
        );
        for r in &live {
            let draws = l.draws(r.id).unwrap().expect("one set of noisy values");
            if let Some(before) = drawn_before.get(&r.table) {
                assert_eq!(&draws, before, "{step}: {} noised again", r.table);
            }
        }
        let released = root.join("release/t/2025");
        let categories = csv_rows(&released.join("categories.csv")).1;
        let draws = l
            .draws(live.iter().find(|r| r.table == "categories").unwrap().id)
            .unwrap()
            .unwrap();
        for (row, d) in categories.iter().zip(&draws) {
            if row["status"] == "published" {
                assert_eq!(row["subscribers"], d.to_string(), "{step}");
            }
        }
        assert_eq!(
            common::listing(&root.join("release/t")),
            ["2025", "index.json"],
            "{step}: nothing left staged"
        );
    }
}
