//! Real deliveries and operator mistakes against the presence store and the ledger
//! (docs/operations.md, "Deliveries" and "One state directory, one store"): files cut at UTC
//! month ends or any instant add up to the store one whole delivery makes; a future-dated row
//! moves neither the window nor retention; a missing, empty or foreign ledger and another
//! country's pipeline are refused before anything is written; the same content under another
//! name is read once; the state is owner-only and the release world-readable.

use super::*;

/// Every presence row of the store in `state`, merged over its delivery files: (pseudonym,
/// date, SIM country, country, counterpart) → [events, night, weekday daytime, first, last].
fn merged_presence(state: &Path) -> BTreeMap<String, [i64; 5]> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    let mut out: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    let store = state.join("presence");
    for date in std::fs::read_dir(&store).unwrap() {
        let date = date.unwrap().path();
        let Some(day) = date
            .file_name()
            .unwrap()
            .to_string_lossy()
            .strip_prefix("local_date=")
            .map(String::from)
        else {
            continue;
        };
        for file in std::fs::read_dir(&date).unwrap() {
            let file = file.unwrap().path();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                File::open(&file).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap();
            for batch in reader {
                let b = batch.unwrap();
                let text = |name: &str, i: usize| {
                    let c = b.column_by_name(name).unwrap();
                    let c = arrow::compute::cast(c, &DataType::Utf8).unwrap();
                    let c = c.as_string::<i32>();
                    if c.is_null(i) {
                        String::new()
                    } else {
                        c.value(i).to_string()
                    }
                };
                let int = |name: &str, i: usize| {
                    let c = b.column_by_name(name).unwrap();
                    arrow::compute::cast(c, &DataType::Int64)
                        .unwrap()
                        .as_primitive::<Int64Type>()
                        .value(i)
                };
                let pseudonym = b.column_by_name("pseudonym").unwrap();
                let pseudonym = pseudonym.as_fixed_size_binary();
                for i in 0..b.num_rows() {
                    let key = format!(
                        "{}|{day}|{}|{}|{}",
                        hex(pseudonym.value(i)),
                        text("sim_country", i),
                        text("country", i),
                        text("counterpart_country", i)
                    );
                    let v = [
                        int("events", i),
                        int("night_events", i),
                        int("weekday_day_events", i),
                        int("first_minute", i),
                        int("last_minute", i),
                    ];
                    out.entry(key)
                        .and_modify(|m| {
                            m[0] += v[0];
                            m[1] += v[1];
                            m[2] += v[2];
                            m[3] = m[3].min(v[3]);
                            m[4] = m[4].max(v[4]);
                        })
                        .or_insert(v);
                }
            }
        }
    }
    out
}

/// Asserts two stores' merged rows are equal, naming the first rows that differ.
fn same_rows(got: &BTreeMap<String, [i64; 5]>, want: &BTreeMap<String, [i64; 5]>) {
    let differ: Vec<String> = want
        .keys()
        .chain(got.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .take(6)
        .map(|k| {
            format!(
                "{k}: {:?} where the whole delivery has {:?}",
                got.get(k),
                want.get(k)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} rows against {}: {differ:#?}",
        got.len(),
        want.len()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dates the store in `state` holds.
fn store_dates(state: &Path) -> Vec<String> {
    listing(&state.join("presence"))
        .into_iter()
        .filter_map(|n| n.strip_prefix("local_date=").map(String::from))
        .collect()
}

/// The established world's events: the header and the data rows.
fn event_rows() -> (String, Vec<String>) {
    let text = String::from_utf8(events_csv()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    (header, lines.map(String::from).collect())
}

/// The column of `event_time` in the header.
fn time_column(header: &str) -> usize {
    header.split(',').position(|c| c == "event_time").unwrap()
}

/// A fresh store beside a copy of the established data: pipeline, key and `files` (name →
/// CSV text) under `data/`, read by `data/*.csv`; nothing ingested yet.
fn fresh(files: &[(String, String)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(
        root.join("p.toml"),
        PIPELINE.replace(
            r#"paths = ["data/events.csv"]"#,
            r#"paths = ["data/*.csv"]"#,
        ),
    )
    .unwrap();
    std::fs::copy(established().join("key"), root.join("key")).unwrap();
    for (name, text) in files {
        std::fs::write(root.join("data").join(name), text).unwrap();
    }
    (dir, root)
}

/// Every release file of `period` but the manifest, report and quality (which name the input
/// files and count their rows), by name.
fn release_tables(root: &Path, period: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = root.join("release/ops").join(period);
    listing(&dir)
        .into_iter()
        .filter(|n| {
            ![
                "manifest.json",
                "report.html",
                "quality.json",
                "structure.sdmx.xml",
            ]
            .contains(&n.as_str())
        })
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// Events of `rows` whose UTC event time starts with one of `months` (`2025-05`).
fn in_months(header: &str, rows: &[String], months: &[&str]) -> String {
    let t = time_column(header);
    let mut out = format!("{header}\n");
    for r in rows {
        let time = r.split(',').nth(t).unwrap();
        if months.iter().any(|m| time.starts_with(m)) {
            out.push_str(r);
            out.push('\n');
        }
    }
    out
}

#[test]
fn monthly_files_cut_at_utc_midnight_add_to_the_day_they_share() {
    let (header, rows) = event_rows();
    let months: Vec<String> = (1..=12).map(|m| format!("2025-{m:02}")).collect();
    // January to June in one file, released for June.
    let half: Vec<&str> = months[..6].iter().map(String::as_str).collect();
    let (_a, whole) = fresh(&[("events.csv".into(), in_months(&header, &rows, &half))]);
    ok(&run_in(&whole, &["--period", "2025-06"]));
    // The same events as the operator delivers them: one file per UTC month, January to May
    // for May's release, then June's file for June's. Kenya is UTC+3 and the functional day
    // starts at 04:00: June's file holds the first hour of local 31 May.
    let first: Vec<(String, String)> = months[..5]
        .iter()
        .map(|m| (format!("events-{m}.csv"), in_months(&header, &rows, &[m])))
        .collect();
    let (_b, monthly) = fresh(&first);
    ok(&run_in(&monthly, &["--period", "2025-05"]));
    let may_31 = |state: &Path| {
        merged_presence(state)
            .into_iter()
            .filter(|(k, _)| k.contains("|2025-05-31|"))
            .map(|(_, v)| v[0])
            .sum::<i64>()
    };
    let before = may_31(&monthly.join("state"));
    // The delivered files are archived away, as operators do: June's run sees June's file.
    for (name, _) in &first {
        std::fs::remove_file(monthly.join("data").join(name)).unwrap();
    }
    std::fs::write(
        monthly.join("data/events-2025-06.csv"),
        in_months(&header, &rows, &["2025-06"]),
    )
    .unwrap();
    ok(&run_in(&monthly, &["--period", "2025-06"]));
    let after = may_31(&monthly.join("state"));
    // June's file added its hours to 31 May, and replaced nothing.
    assert!(
        after > before,
        "31 May: {before} events before June's file, {after} after"
    );
    // Every day up to June's end is the whole delivery's, row for row.
    let upto_june = |state: &Path| {
        merged_presence(state)
            .into_iter()
            .filter(|(k, _)| k.split('|').nth(1).unwrap() <= "2025-06-30")
            .collect::<BTreeMap<_, _>>()
    };
    let want = upto_june(&whole.join("state"));
    assert!(want.len() > 1000, "{}", want.len());
    same_rows(&upto_june(&monthly.join("state")), &want);
    // And so is June's release, table for table.
    let (got, want) = (
        release_tables(&monthly, "2025-06"),
        release_tables(&whole, "2025-06"),
    );
    let differ: Vec<&String> = want
        .keys()
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(differ.is_empty(), "{differ:?}");
}

fn events_csv_text() -> String {
    String::from_utf8(events_csv()).unwrap()
}

/// A small deterministic generator (SplitMix64), so each case of the property is reproducible
/// from its seed.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn a_world_cut_at_random_instants_and_delivered_in_any_order_makes_the_whole_store_and_release() {
    let (header, rows) = event_rows();
    let t = time_column(&header);
    let (_w, whole) = fresh(&[("events.csv".into(), events_csv_text())]);
    ok(&run_in(&whole, &["--period", "2025"]));
    let want_store = merged_presence(&whole.join("state"));
    let want_release = release_tables(&whole, "2025");
    for seed in [1u64, 2, 3] {
        let mut draws = Draws(seed);
        // Cut instants: every UTC month end, and random instants (any second of the year).
        let mut cuts: Vec<String> = (2..=12)
            .map(|m| format!("2025-{m:02}-01T00:00:00Z"))
            .collect();
        for _ in 0..6 {
            let day = 1 + draws.below(28);
            let month = 1 + draws.below(12);
            let (h, mi, s) = (draws.below(24), draws.below(60), draws.below(60));
            cuts.push(format!("2025-{month:02}-{day:02}T{h:02}:{mi:02}:{s:02}Z"));
        }
        cuts.sort();
        cuts.dedup();
        let mut pieces: Vec<String> = vec![format!("{header}\n"); cuts.len() + 1];
        for r in &rows {
            let time = r.split(',').nth(t).unwrap();
            let i = cuts.partition_point(|c| c.as_str() <= time);
            pieces[i].push_str(r);
            pieces[i].push('\n');
        }
        // Delivered over three ingest runs in a random order; some pieces delivered again
        // in a later run under another name, one twice within a run.
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, draws.below(i + 1));
        }
        let (_d, cut) = fresh(&[]);
        let deliveries = [&order[..order.len() / 3], &order[order.len() / 3..]];
        for (run, part) in deliveries.iter().enumerate() {
            for (k, &i) in part.iter().enumerate() {
                let name = format!("piece-{run}-{k}.csv");
                std::fs::write(cut.join("data").join(name), &pieces[i]).unwrap();
            }
            if run == 1 {
                // The first run's pieces again under new names, and one twice in this run.
                for (k, &i) in deliveries[0].iter().enumerate() {
                    let name = format!("again-{k}.csv");
                    std::fs::write(cut.join("data").join(name), &pieces[i]).unwrap();
                }
                std::fs::write(cut.join("data/twice.csv"), &pieces[part[0]]).unwrap();
            }
            ok(&command_in(&cut, "ingest", &[], &[]));
        }
        ok(&run_in(&cut, &["--period", "2025"]));
        same_rows(&merged_presence(&cut.join("state")), &want_store);
        assert!(
            release_tables(&cut, "2025") == want_release,
            "seed {seed}: the release differs from the whole delivery's"
        );
    }
}

#[test]
fn a_future_dated_row_is_quarantined_and_deletes_no_day() {
    let (_dir, root) = copy();
    let dates_before = store_dates(&root.join("state"));
    let (header, rows) = event_rows();
    let t = time_column(&header);
    // A late file beside the established one: one row dated 2099, one in March 2026.
    let mut text = format!("{header}\n");
    for when in ["2099-06-01T10:00:00Z", "2026-03-01T10:00:00Z"] {
        let mut fields: Vec<String> = rows[0].split(',').map(String::from).collect();
        fields[t] = when.into();
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    std::fs::write(root.join("data/late.csv"), &text).unwrap();
    set_in_pipeline(
        &root,
        r#"paths = ["data/events.csv"]"#,
        r#"paths = ["data/events.csv", "data/late.csv"]"#,
    );
    ok(&run_in(&root, &NEXT));
    let dates_after = store_dates(&root.join("state"));
    // Every date held before is still held; December was added; nothing after 2025.
    for d in &dates_before {
        assert!(dates_after.contains(d), "{d} was removed");
    }
    assert_eq!(dates_after.last().map(String::as_str), Some("2025-12-31"));
    assert!(
        !dates_after
            .iter()
            .any(|d| d.starts_with("2026") || d.starts_with("2099"))
    );
    // The two rows are quarantined as outside the window in the run's report.
    let reports = root.join("state/ingest");
    let newest = listing(&reports).into_iter().max().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join(newest)).unwrap()).unwrap();
    assert_eq!(
        report["files"]["data/late.csv"]["quarantined"]["outside_window"], 2,
        "{report}"
    );
    assert_eq!(report["window"][1], "2025-12-31");
}

#[test]
fn a_deleted_or_empty_ledger_beside_a_store_is_refused_not_recreated() {
    case(
        "run",
        &NEXT,
        6,
        &[
            "ledger.sqlite",
            "there is no ledger",
            "restore the ledger from a backup",
        ],
        |r| std::fs::remove_file(r.join("state/ledger.sqlite")).unwrap(),
    );
    case(
        "run",
        &NEXT,
        6,
        &["the file is empty", "restore the ledger from a backup"],
        |r| std::fs::write(r.join("state/ledger.sqlite"), b"").unwrap(),
    );
    // The release of a period already out is not re-published on a fresh budget either.
    case(
        "run",
        &["--period", "2025-11"],
        6,
        &["restore the ledger from a backup"],
        |r| std::fs::remove_file(r.join("state/ledger.sqlite")).unwrap(),
    );
    // Nor with the whole state directory gone while the releases are there.
    case(
        "run",
        &NEXT,
        6,
        &[
            "release/ops holds releases",
            "restore the ledger from a backup",
        ],
        |r| std::fs::remove_dir_all(r.join("state")).unwrap(),
    );
    // And `publish` alone refuses it too.
    case(
        "publish",
        &["--period", "2025-11"],
        6,
        &["restore the ledger from a backup"],
        |r| std::fs::remove_file(r.join("state/ledger.sqlite")).unwrap(),
    );
}

#[test]
fn another_stores_ledger_is_refused() {
    case(
        "run",
        &NEXT,
        6,
        &[
            "was accounted in the ledger",
            "restore the store's own ledger",
        ],
        |r| {
            let conn = rusqlite::Connection::open(r.join("state/ledger.sqlite")).unwrap();
            conn.execute("UPDATE store SET created = '1'", []).unwrap();
        },
    );
}

#[test]
fn another_measuring_country_or_operator_on_the_same_state_is_refused() {
    case(
        "run",
        &NEXT,
        2,
        &[
            "holds the measuring country KEN",
            "names the measuring country UGA",
        ],
        |r| {
            set_in_pipeline(r, r#""KEN""#, r#""UGA""#);
            set_in_pipeline(r, r#"["63902"]"#, r#"["64101"]"#);
        },
    );
    case(
        "ingest",
        &[],
        2,
        &[
            "operator networks [63902]",
            "operator networks [63902, 63903]",
        ],
        |r| set_in_pipeline(r, r#"["63902"]"#, r#"["63902", "63903"]"#),
    );
}

#[test]
fn the_same_content_under_another_name_is_read_once() {
    let (_a, once) = copy();
    ok(&run_in(&once, &NEXT));
    let (_b, twice) = copy();
    std::fs::copy(
        twice.join("data/events.csv"),
        twice.join("data/events-again.csv"),
    )
    .unwrap();
    set_in_pipeline(
        &twice,
        r#"paths = ["data/events.csv"]"#,
        r#"paths = ["data/events.csv", "data/events-again.csv"]"#,
    );
    let out = ok(&run_in(&twice, &NEXT));
    assert_eq!(
        merged_presence(&twice.join("state")),
        merged_presence(&once.join("state")),
        "{out}"
    );
    assert_eq!(
        release_tables(&twice, "2025-12"),
        release_tables(&once, "2025-12")
    );
    // Delivered again later, it adds nothing: the run reads nothing of it.
    let (_c, later) = copy();
    ok(&run_in(&later, &NEXT));
    let before = merged_presence(&later.join("state"));
    std::fs::copy(
        later.join("data/events.csv"),
        later.join("data/redelivered.csv"),
    )
    .unwrap();
    let o = command_in(&later, "ingest", &["--input", "data/redelivered.csv"], &[]);
    let said = ok(&o);
    assert!(said.contains("already in the presence store"), "{said}");
    assert_eq!(merged_presence(&later.join("state")), before);
}

#[test]
fn a_period_without_data_of_its_own_is_not_published() {
    let (_dir, root) = copy();
    let ledger_before = ledger_rows(&root.join("state"));
    let o = run_in(&root, &["--period", "2026-11"]);
    let err = failed_with(&o, 3);
    assert!(err.contains("no date of period 2026-11 itself"), "{err}");
    assert!(!root.join("release/ops/2026-11").exists());
    assert_eq!(ledger_rows(&root.join("state")), ledger_before);
}

#[test]
fn a_deleted_release_directory_is_found_before_anything_is_read() {
    case(
        "run",
        &["--period", "2025-11"],
        6,
        &["was published", "its directory is gone"],
        |r| std::fs::remove_dir_all(r.join("release/ops/2025-11")).unwrap(),
    );
}

#[test]
fn settings_out_of_range_are_refused_before_anything_is_written() {
    let cases: [(&str, &str); 10] = [
        (
            "classify.max_crossing_pairs=100000",
            "classify.max_crossing_pairs: must be between 1 and 32",
        ),
        (
            "classify.border_guard_minutes=100000",
            "classify.border_guard_minutes: must be at most 1440",
        ),
        (
            "engine.memory_limit_mb=0",
            "engine.memory_limit_mb = 0 must lie in",
        ),
        (
            "engine.target_partitions=100000",
            "engine.target_partitions = 100000 must lie in",
        ),
        (
            "presence.lookback_days=100000000",
            "presence.lookback_days = 100000000 must lie in",
        ),
        (
            "privacy.categories.rho=1e-300",
            "privacy.categories.rho = 1e-300 must lie in",
        ),
        (
            "privacy.categories.rho=1e300",
            "rho = 1e300 must lie in [0.000000001, 100]",
        ),
        ("operator_plmns=[]", "operator_plmns is empty"),
        ("operator_plmns=[\"ABCDE\"]", "\"ABCDE\" is not a PLMN"),
        (
            "privacy.annual_rho=0.3",
            "the ledger holds a budget of ρ = 0.25",
        ),
    ];
    for (set, says) in cases {
        let mut args = NEXT.to_vec();
        args.extend(["--set", set]);
        case("run", &args, 2, &[says], |_| {});
    }
}

#[test]
fn concurrent_first_runs_on_a_fresh_state_directory_exit_busy_never_state() {
    let (header, rows) = event_rows();
    let november = in_months(&header, &rows, &["2025-10", "2025-11"]);
    // Several trials: the race is in the first instants of a new state directory.
    for trial in 0..4 {
        let (_d, root) = fresh(&[("events.csv".into(), november.clone())]);
        let children: Vec<_> = (0..6)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_borderflow"))
                    .current_dir(&root)
                    .args(["run", "p.toml", "--test-seed", "7", "--period", "2025-11"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outcomes: Vec<(Option<i32>, String)> = children
            .into_iter()
            .map(|c| {
                let o = c.wait_with_output().unwrap();
                (
                    o.status.code(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            })
            .collect();
        assert!(
            outcomes.iter().all(|(c, _)| matches!(c, Some(0) | Some(5))),
            "trial {trial}: {outcomes:?}"
        );
        assert!(
            outcomes.iter().any(|(c, _)| *c == Some(0)),
            "trial {trial}: {outcomes:?}"
        );
        // Whoever won, the release is there once, and a later run returns it as it is.
        let said = ok(&run_in(&root, &["--period", "2025-11"]));
        assert!(said.contains("already published"), "{said}");
    }
}

#[test]
fn the_state_is_owner_only_and_the_release_readable_by_everyone() {
    use std::os::unix::fs::PermissionsExt;
    let (header, rows) = event_rows();
    let (_d, root) = fresh(&[(
        "events.csv".into(),
        in_months(&header, &rows, &["2025-11", "2025-12"]),
    )]);
    ok(&run_in(&root, &NEXT));
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode() & 0o777;
            out.push((p.clone(), mode));
            if p.is_dir() {
                walk(&p, out);
            }
        }
    }
    let state_mode = std::fs::metadata(root.join("state"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(state_mode, 0o700);
    let mut state = Vec::new();
    walk(&root.join("state"), &mut state);
    let open: Vec<_> = state.iter().filter(|(_, m)| m & 0o077 != 0).collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
    let mut release = Vec::new();
    walk(&root.join("release/ops/2025-12"), &mut release);
    assert!(!release.is_empty());
    for (p, m) in &release {
        let want = if p.is_dir() { 0o755 } else { 0o644 };
        assert_eq!(*m, want, "{}", p.display());
    }
}

#[test]
fn a_store_whose_description_is_gone_is_refused_by_every_command() {
    for (command, args) in [
        ("run", &NEXT[..]),
        ("ingest", &[][..]),
        ("classify", &NEXT[..]),
    ] {
        case(
            command,
            args,
            6,
            &["store.json: missing", "restore store.json from a backup"],
            |r| std::fs::remove_file(r.join("state/presence/store.json")).unwrap(),
        );
    }
}

#[test]
fn a_file_with_carriage_returns_alone_reads_as_its_lf_twin() {
    let (header, rows) = event_rows();
    let lf = in_months(&header, &rows, &["2025-11", "2025-12"]);
    let (_a, unix) = fresh(&[("events.csv".into(), lf.clone())]);
    ok(&command_in(&unix, "ingest", &[], &[]));
    let (_b, mac) = fresh(&[("events.csv".into(), lf.replace('\n', "\r"))]);
    ok(&command_in(&mac, "ingest", &[], &[]));
    same_rows(
        &merged_presence(&mac.join("state")),
        &merged_presence(&unix.join("state")),
    );
}

#[test]
fn a_parquet_file_without_the_mapped_columns_names_its_own() {
    case(
        "run",
        &NEXT,
        3,
        &[
            "missing column \"IMSI\"",
            "the file has columns subscriber_id,event_time",
        ],
        |r| {
            set_in_pipeline(r, "data/events.csv", "data/events.parquet");
            set_in_pipeline(
                r,
                "[privacy]",
                "[input.columns]\nsubscriber_id = \"IMSI\"\n[privacy]",
            )
        },
    );
}

#[test]
fn return_migrants_with_too_short_a_lookback_are_refused() {
    case(
        "run",
        &[
            "--period",
            "2025-12",
            "--set",
            "classify.return_migrants=true",
        ],
        2,
        &["presence.lookback_days = 365 keeps too little for classify.return_migrants"],
        |_| {},
    );
}

#[test]
fn a_wrong_delivery_is_taken_out_and_its_correction_read_afresh() {
    let (_a, right) = copy();
    ok(&command_in(&right, "ingest", &["--period", "2025-12"], &[]));
    // December delivered with a wrong extra file (December's rows a second time, cut apart).
    let (_b, wrong) = copy();
    let (header, rows) = event_rows();
    std::fs::write(
        wrong.join("data/december-again.csv"),
        in_months(&header, &rows, &["2025-12"]),
    )
    .unwrap();
    ok(&command_in(
        &wrong,
        "ingest",
        &["--period", "2025-12", "--input", "data/december-again.csv"],
        &[],
    ));
    assert_ne!(
        merged_presence(&wrong.join("state")),
        merged_presence(&right.join("state"))
    );
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&command_in(&wrong, "deliveries", &["--json"], &[]))).unwrap();
    let last = listed.as_array().unwrap().last().unwrap();
    assert_eq!(last["state"], "committed");
    assert_eq!(last["files"].as_array().unwrap().len(), 2, "{last}");
    let id = last["id"].as_str().unwrap();
    let said = ok(&command_in(&wrong, "deliveries", &["--remove", id], &[]));
    assert!(said.contains("removed delivery"), "{said}");
    // An unknown id is a mistake of the command line, and changes nothing.
    let o = command_in(&wrong, "deliveries", &["--remove", id], &[]);
    assert!(failed_with(&o, 2).contains("holds no delivery"));
    // December delivered again, right: the store is the right one's, row for row.
    ok(&command_in(&wrong, "ingest", &["--period", "2025-12"], &[]));
    same_rows(
        &merged_presence(&wrong.join("state")),
        &merged_presence(&right.join("state")),
    );
}
