//! The `borderflow` binary as a user calls it: exit status, one-line errors, files written.

use std::os::unix::fs::PermissionsExt;

use crate::common;

use crate::common::{borderflow, listing, ok, one_line_error, stderr};

#[test]
fn generate_writes_a_reproducible_world() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        let o = borderflow(&[
            "generate",
            "--out",
            dir.to_str().unwrap(),
            "--subscribers",
            "200",
            "--days",
            "365",
            "--seed",
            "7",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.starts_with("generated 200 SIMs, "), "{out}");
    }
    assert_eq!(
        listing(&a),
        [
            "events.csv",
            "events.parquet",
            "scenario.toml",
            "truth.csv",
            "truth.parquet"
        ]
    );
    for f in listing(&a) {
        assert!(
            std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(),
            "{f}"
        );
    }
    let truth = std::fs::read_to_string(a.join("truth.csv")).unwrap();
    assert_eq!(
        truth.lines().next().unwrap(),
        "subscriber_id,persona,category,partner_country,sim_country,residence_country,nights_in_m,effects"
    );
    assert_eq!(truth.lines().count(), 201);
    let events = std::fs::read_to_string(a.join("events.csv")).unwrap();
    assert_eq!(
        events.lines().next().unwrap(),
        "subscriber_id,event_time,home_plmn,serving_plmn,cell_id,event_type,counterpart_number"
    );
    // The resolved scenario reproduces the world.
    let c = tmp.path().join("c");
    let o = borderflow(&[
        "generate",
        "--out",
        c.to_str().unwrap(),
        "--scenario",
        a.join("scenario.toml").to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(c.join("events.csv")).unwrap(),
        events.as_bytes()
    );
    assert!(!c.join("events.parquet").exists());
}

#[test]
fn a_bad_scenario_fails_in_one_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("s.toml");
    std::fs::write(&scenario, "subscribers = 100\ndays = \"a year\"\n").unwrap();
    let out = tmp.path().join("out");
    let o = borderflow(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    let err = one_line_error(&o);
    assert!(err.contains(&format!("{}:2:", scenario.display())), "{err}");
    assert!(!out.exists() || listing(&out).is_empty());

    std::fs::create_dir(&out).unwrap();
    let o = borderflow(&["generate", "--out", out.to_str().unwrap(), "--days", "30"]);
    let err = one_line_error(&o);
    assert!(err.contains("days = 30 must be between 365"), "{err}");
    assert!(listing(&out).is_empty(), "{:?}", listing(&out));

    let o = borderflow(&[
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--scenario",
        "/nonexistent.toml",
    ]);
    assert!(one_line_error(&o).contains("/nonexistent.toml"));
}

#[test]
fn print_scenario_shows_the_commented_template() {
    let o = borderflow(&["generate", "--print-scenario"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("measuring_country = \"KEN\""));
    assert!(text.contains("# Share of SIMs per persona"));
}

#[test]
fn keygen_makes_an_owner_only_key_and_never_overwrites_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("pseudonym.key");
    let o = borderflow(&["keygen", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let bytes = std::fs::read(&key).unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("fingerprint "), "{out}");
    // The key itself is never printed, in any form.
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!out.contains(&hex[..12]));

    let o = borderflow(&["keygen", key.to_str().unwrap()]);
    let err = one_line_error(&o);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), bytes);

    // The README's first step names a directory that does not exist yet: it is made, owner
    // only.
    let nested = tmp.path().join("keys/operator/pseudonym.key");
    ok(&borderflow(&["keygen", nested.to_str().unwrap()]));
    let dir_mode = std::fs::metadata(nested.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(&nested).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A directory that cannot be made is named.
    std::fs::write(tmp.path().join("file"), b"").unwrap();
    let o = borderflow(&["keygen", tmp.path().join("file/key").to_str().unwrap()]);
    assert!(one_line_error(&o).contains("file/key"));
}

#[test]
fn refdata_lookup_resolves_plmns_numbers_and_countries() {
    let o = borderflow(&[
        "refdata",
        "lookup",
        "63902",
        "64101",
        "90103",
        "+12425550100",
        "+800123456",
        "KEN",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "63902\tplmn\tKEN\tKenya");
    assert_eq!(lines[1], "64101\tplmn\tUGA\tUganda");
    assert_eq!(lines[2], "90103\tplmn\tunknown (non-geographic or shared)");
    assert_eq!(lines[3], "+12425550100\tnumber\tBHS\tBahamas");
    assert!(
        lines[4].starts_with("+800123456\tnumber\tunknown"),
        "{}",
        lines[4]
    );
    assert_eq!(
        lines[5],
        "KEN\tcountry\tKenya\tAfrica / Sub-Saharan Africa / Eastern Africa\tincome LMC (WB FY2026)\t\
         hdi medium (HDR 2025)\tun_m49=South wb_income=South undp_hdi=South\ttz Africa/Nairobi"
    );
}

#[test]
fn refdata_overrides_apply_and_bad_ones_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("plmn.csv");
    std::fs::write(&good, "mcc,mnc,alpha3\n639,99,UGA\n").unwrap();
    let o = borderflow(&[
        "refdata",
        "lookup",
        "--plmn",
        good.to_str().unwrap(),
        "63999",
        "63902",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "63999\tplmn\tUGA\tUganda\n63902\tplmn\tKEN\tKenya\n"
    );

    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        "alpha3,income_group,vintage\nKEN,LMC,WB\nUGA,poor,WB\n",
    )
    .unwrap();
    let o = borderflow(&["refdata", "check", "--income-groups", bad.to_str().unwrap()]);
    let err = one_line_error(&o);
    assert_eq!(
        err,
        format!(
            "error: {}:3: unknown income_group \"poor\"\n",
            bad.display()
        )
    );

    let o = borderflow(&["refdata", "lookup", "6390"]);
    assert!(one_line_error(&o).contains("malformed PLMN \"6390\""));
}

#[test]
fn refdata_export_writes_the_embedded_tables_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("codes");
    let o = borderflow(&["refdata", "export", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        listing(&dir),
        [
            "countries.csv",
            "e164.csv",
            "hdi_groups.csv",
            "income_groups.csv",
            "plmn.csv",
            "timezones.csv"
        ]
    );
    // An exported table is a valid override of itself.
    let o = borderflow(&[
        "refdata",
        "check",
        "--plmn",
        dir.join("plmn.csv").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = borderflow(&["refdata", "export", dir.to_str().unwrap()]);
    assert!(one_line_error(&o).contains("refusing to overwrite"));
}

#[test]
fn ingest_runs_a_pipeline_and_refuses_bad_keys_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let o = borderflow(&[
        "generate",
        "--out",
        root.join("data").to_str().unwrap(),
        "--subscribers",
        "60",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pipeline = root.join("p.toml");
    std::fs::write(
        &pipeline,
        "dataset = \"t\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
         state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"k\"\n\
         [input]\npaths = [\"data/events.csv\"]\n",
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();

    // No key yet: one line naming the key file and how to make one; nothing written.
    let err = one_line_error(&borderflow(&["ingest", p]));
    assert!(
        err.contains("does not exist") && err.contains("borderflow keygen"),
        "{err}"
    );
    assert!(!root.join("state").exists());

    assert!(
        borderflow(&["keygen", root.join("k").to_str().unwrap()])
            .status
            .success()
    );
    std::fs::set_permissions(root.join("k"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = one_line_error(&borderflow(&["ingest", p]));
    assert!(err.contains("accessible to group or others"), "{err}");
    std::fs::set_permissions(root.join("k"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let o = borderflow(&["ingest", p, "--period", "2025"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("ingested 1 files: "), "{out}");
    assert!(out.contains(" 0 quarantined"), "{out}");
    assert!(root.join("state/presence/local_date=2025-06-30").is_dir());

    // A malformed argument is a usage error (exit 2) whose first line names it.
    let o = borderflow(&["ingest", p, "--period", "2025-13"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).lines().next().unwrap().contains("2025-13"),
        "{}",
        stderr(&o)
    );
    let err = one_line_error(&borderflow(&["ingest", p, "--set", "nonsense"]));
    assert!(err.contains("--set nonsense"), "{err}");

    // Classify: how many SIMs, never what they were classified as (unprotected counts).
    let o = borderflow(&["classify", p, "--period", "2025"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("classified ")
            && out.contains("for 2025 (look-back 2025-01-01 to 2025-12-31)"),
        "{out}"
    );
    assert!(out.contains("return migrants not classified: "), "{out}");
    for category in ["resident", "visitor_in", "emigrant", "frontier"] {
        assert!(!out.contains(category), "{out}");
    }
    assert!(root.join("state/classified/2025/sims.parquet").is_file());
    assert!(
        root.join("state/classified/2025/crossings.parquet")
            .is_file()
    );
    // Bad thresholds and periods without data fail in one line, naming the key or the dates.
    let err = one_line_error(&borderflow(&[
        "classify",
        p,
        "--period",
        "2025",
        "--set",
        "classify.temporary_min_nights=200",
    ]));
    assert!(
        err.contains("classify.temporary_min_nights: must be below residence_nights"),
        "{err}"
    );
    let err = one_line_error(&borderflow(&["classify", p, "--period", "2019"]));
    assert!(
        err.contains("holds no date from 2019-01-01 to 2019-12-31"),
        "{err}"
    );
}

#[test]
fn budget_shows_spent_and_remaining_in_rho_and_epsilon() {
    use borderflow_privacy::{Ledger, Ratio, ReleaseRequest, Reservation, StoreKind, TableRequest};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let pipeline = root.join("p.toml");
    std::fs::write(
        &pipeline,
        "dataset = \"t\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
         state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"k\"\n\
         [input]\npaths = [\"data/events.csv\"]\n",
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();
    let o = borderflow(&["budget", p]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.lines().next().unwrap().ends_with(
            "state: budget per calendar year of data ρ = 0.25 (ε = 4.437 at δ = 1e-9), whatever the dataset; unit: one SIM's data in one calendar year"
        ),
        "{out}"
    );
    // The default plan: categories Δ² = 1 in one year, 2 over two (replace-one).
    assert!(
        out.contains(
            "categories ρ = 0.1      Δ² = 1  σ =    2.24, 95% margin ±4.4     published from 16"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "categories ρ = 0.1      Δ² = 2  σ =    3.16, 95% margin ±6.2     published from 16"
        ),
        "{out}"
    );
    assert!(out.contains("no release yet"), "{out}");
    let j: serde_json::Value =
        serde_json::from_slice(&borderflow(&["budget", p, "--json"]).stdout).unwrap();
    assert_eq!(j["ledger_exists"], false);
    assert_eq!(j["years"], serde_json::json!([]));

    std::fs::create_dir_all(root.join("state")).unwrap();
    let mut ledger = Ledger::open(&root.join("state/ledger.sqlite"), StoreKind::Test).unwrap();
    // A monthly release of January 2025 reads Feb 2024 – Jan 2025: charged to both years.
    let req = ReleaseRequest {
        dataset: "t",
        period: "2025-01",
        years: vec![2024, 2025],
        budget: Ratio::from_decimal("0.25").unwrap(),
        tables: vec![TableRequest {
            table: borderflow_core::TableId::Categories,
            query_digest: "q",
            rho: Ratio::from_decimal("0.1").unwrap(),
            sigma2: Ratio::from_decimal("10").unwrap(),
            delta_sq: 2,
            cells: 3,
        }],
        for_publication: false,
    };
    let Reservation::Reserved(tables) = ledger.reserve(&req).unwrap() else {
        panic!()
    };
    let ids: Vec<i64> = tables.iter().map(|t| t.id).collect();
    ledger.mark_sampled(&ids).unwrap();
    ledger.store_draws(ids[0], &[1, 2, 3]).unwrap();
    ledger.commit(&ids, "o").unwrap();
    let out = String::from_utf8(borderflow(&["budget", p]).stdout).unwrap();
    assert!(out.contains("TEST STORE"), "{out}");
    for year in ["2024", "2025"] {
        assert!(
            out.contains(&format!("{year}          0.2500     0.1000       0.1500")),
            "{out}"
        );
    }
    assert!(
        out.contains("t                        2025-01  categories published 2024: 0.1, 2025: 0.1  NOT FOR PUBLICATION (test seed)"),
        "{out}"
    );
    // The same as one JSON object, for a monitoring job.
    let o = borderflow(&["budget", p, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["annual_rho"], 0.25);
    assert_eq!(j["test_store"], true);
    assert_eq!(j["plans"][0]["window"], "one_year");
    assert_eq!(j["plans"][0]["tables"][0]["table"], "categories");
    assert_eq!(j["plans"][0]["tables"][0]["delta_sq"], 1);
    assert_eq!(j["plans"][0]["tables"][0]["threshold"], 16);
    assert_eq!(j["plans"][1]["tables"][0]["delta_sq"], 2);
    let years = j["years"].as_array().unwrap();
    assert_eq!(years.len(), 2);
    for (y, year) in years.iter().zip([2024, 2025]) {
        assert_eq!(y["year"], year);
        assert_eq!(y["budget_rho"], 0.25);
        assert_eq!(y["spent_rho"], 0.1);
        assert_eq!(y["remaining_rho"], 0.15);
    }
    let release = &j["releases"][0];
    assert_eq!(release["period"], "2025-01");
    assert_eq!(release["status"], "published");
    assert_eq!(release["for_publication"], false);
    assert_eq!(
        release["charges"],
        serde_json::json!([{"year": 2024, "rho": 0.1}, {"year": 2025, "rho": 0.1}])
    );
    let err = one_line_error(&borderflow(&["budget", p, "--set", "privacy.delta=2"]));
    assert!(
        err.contains("privacy.delta = 2 must lie in (0, 1)"),
        "{err}"
    );
}

#[test]
fn bench_stages_reports_throughput_and_memory_of_ingest_and_classify() {
    let dir = tempfile::tempdir().unwrap();
    let out = borderflow(&[
        "bench",
        "stages",
        "--subscribers",
        "200",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |stage: &str| {
        text.lines()
            .find(|l| l.starts_with(stage))
            .unwrap_or_else(|| panic!("no {stage} line in {text}"))
            .to_string()
    };
    assert!(line("ingest").contains(" events/s  peak "), "{text}");
    assert!(line("classify").contains(" SIM-days/s  peak "), "{text}");
    assert!(line("input").contains("events.parquet"), "{text}");
    // The world is kept and reused: a second run does not generate again.
    let again = borderflow(&[
        "bench",
        "stages",
        "--subscribers",
        "200",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stdout).contains("generated"));
    // The same world as CSV in event-time order: the order of rows changes nothing in the
    // presence rows.
    let sim_days = |text: &str| -> String {
        let l = text.lines().find(|l| l.starts_with("ingest")).unwrap();
        l[l.find('(').unwrap() + 1..l.find(" SIM-days").unwrap()].to_string()
    };
    let by_time = borderflow(&[
        "bench",
        "stages",
        "--subscribers",
        "200",
        "--format",
        "csv",
        "--order",
        "time",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(by_time.status.success(), "{}", stderr(&by_time));
    let by_time = String::from_utf8_lossy(&by_time.stdout);
    assert!(by_time.contains("sorted by event_time"), "{by_time}");
    assert!(
        line("input").contains("subscriber order")
            && by_time.contains("by-time-events.csv")
            && by_time.contains("time order"),
        "{by_time}"
    );
    assert_eq!(sim_days(&by_time), sim_days(&text));
}

/// A reference job for the bench's tests: counts the rows of the CSV files it is given, as a
/// reference must (`rows=N` last), plus `extra` rows.
fn counting_reference(dir: &std::path::Path, extra: u64) -> std::path::PathBuf {
    let script = dir.join(format!("reference-{extra}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# --input GLOB --threads N --measuring-mcc MCC\n\
             [ \"$3\" = --threads ] && [ \"$5\" = --measuring-mcc ] && [ \"$6\" = 639 ] || exit 2\n\
             n=$(for f in $2; do gzip -dcf \"$f\" | tail -n +2; done | wc -l)\n\
             echo \"seconds=0.01 rows=$((n + {extra})) cells=1\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn bench_runs_the_whole_job_against_a_reference_over_input_shapes_with_equal_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let reference = counting_reference(dir.path(), 0);
    let json = dir.path().join("bench.json");
    let bench_with = |reference: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--subscribers",
            "60",
            "--dir",
            dir.path().to_str().unwrap(),
            "--reference",
            reference.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        borderflow(&args)
    };
    let bench = |extra: &[&str]| bench_with(&reference, extra);
    // One shape, one run: rows by time, cut into three CSV files.
    let one_shape = |reference: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "--orders",
            "time",
            "--files",
            "3",
            "--formats",
            "csv",
            "--runs",
            "1",
        ];
        args.extend_from_slice(extra);
        bench_with(reference, &args)
    };
    let out = bench(&[
        "--orders",
        "subscriber,shuffled",
        "--files",
        "1,2",
        "--formats",
        "csv.gz,csv",
        "--runs",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // The world's events, counted in the generated world's own file.
    let world = dir.path().join("world-60");
    let events = csv_data_rows(&world.join("shapes/subscriber-1-csv/part-0000.csv"));
    // Each shape is a row of the table, with the events read and the speed ratio.
    for name in [
        "subscriber-1-csv.gz",
        "subscriber-1-csv",
        "subscriber-2-csv.gz",
        "shuffled-2-csv",
    ] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name} in {text}"));
        assert!(
            row.contains(&format!(" {events} ")) && row.ends_with('×'),
            "{row}"
        );
    }
    let parts = std::fs::read_dir(world.join("shapes/shuffled-2-csv.gz"))
        .unwrap()
        .count();
    assert_eq!(parts, 2);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let shapes = report["shapes"].as_array().unwrap();
    assert_eq!(shapes.len(), 8);
    let digest = report["digest"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 48);
    for shape in shapes {
        // Every shape gives the same presence rows, facts and tables; each program ran twice.
        assert_eq!(shape["digest"], report["digest"]);
        assert_eq!(shape["events"].as_u64(), Some(events));
        assert_eq!(shape["borderflow"].as_array().unwrap().len(), 2);
        assert_eq!(shape["reference"].as_array().unwrap().len(), 2);
        let m = &shape["median"];
        let wall = m["borderflow"]["wall_s"].as_f64().unwrap();
        let ratio = m["speed_ratio"].as_f64().unwrap();
        let reference_wall = m["reference"]["wall_s"].as_f64().unwrap();
        assert!((ratio - reference_wall / wall).abs() < 1e-9, "{m}");
        assert!(m["borderflow"]["peak_mib"].as_f64().unwrap() > 0.0);
        assert!(m["ingest_s"].as_f64().unwrap() > 0.0 && m["classify_s"].as_f64().unwrap() > 0.0);
    }
    // The same outputs as a known digest pass; others fail, naming both digests.
    let again = one_shape(&reference, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    let expected = one_shape(&reference, &["--expect-digest", &digest]);
    assert!(expected.status.success(), "{}", stderr(&expected));
    // The bench's key is fixed, so its digest is the same in any directory, on any machine:
    // a digest published with the figures can be checked elsewhere. A key an earlier bench
    // drew at random is replaced.
    let elsewhere = tempfile::tempdir().unwrap();
    let stale = elsewhere.path().join("bench.key");
    std::fs::write(&stale, [7u8; 32]).unwrap();
    std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = borderflow(&[
        "bench",
        "--subscribers",
        "60",
        "--dir",
        elsewhere.path().to_str().unwrap(),
        "--reference",
        reference.to_str().unwrap(),
        "--orders",
        "subscriber",
        "--files",
        "1",
        "--formats",
        "csv",
        "--runs",
        "1",
        "--expect-digest",
        &digest,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let wrong = one_shape(&reference, &["--expect-digest", "0000"]);
    assert!(!wrong.status.success());
    let err = one_line_error(&wrong);
    assert!(
        err.contains(&format!("digest {digest}, expected 0000")),
        "{err}"
    );
    // A program that fails is named with its exit code and its own last line on standard
    // error (not the raw wait status of the process that measured it).
    let failing = dir.path().join("failing.sh");
    std::fs::write(
        &failing,
        "#!/bin/sh\necho 'its temporary directory is full' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = one_shape(&failing, &[]);
    let err = one_line_error(&out);
    assert!(
        err.contains(&format!(
            "the reference {} failed (exit code 3): its temporary directory is full",
            failing.display()
        )),
        "{err}"
    );
    // A reference that read other events than borderflow is not compared with it.
    let out = one_shape(&counting_reference(dir.path(), 1), &[]);
    assert!(!out.status.success());
    let err = one_line_error(&out);
    assert!(
        err.contains(&format!(
            "shape time-3-csv: the reference read {} events, borderflow {events}",
            events + 1
        )),
        "{err}"
    );
}

/// The data rows of a CSV file (all but the header).
fn csv_data_rows(file: &std::path::Path) -> u64 {
    std::fs::read_to_string(file).unwrap().lines().count() as u64 - 1
}

#[test]
fn evaluate_prints_the_confusion_matrix_of_a_scenario_and_of_a_world_directory() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(&scenario, "subscribers = 300\nseed = 5\n").unwrap();
    let work = dir.path().join("work");
    let o = borderflow(&[
        "evaluate",
        scenario.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("reference period 2025"), "{out}");
    assert!(out.contains("recall") && out.contains("precision") && out.contains("coverage"));
    assert!(out.contains("SIMs 300 "), "{out}");
    assert!(out.contains("total variation distance"), "{out}");
    // The generated world, read back as a world directory, with a work directory given
    // relative to where the command runs, and the accuracy file an office names in its
    // pipeline written from it.
    let accuracy = dir.path().join("accuracy.json");
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_borderflow"))
        .current_dir(dir.path())
        .args([
            "evaluate",
            work.join("world").to_str().unwrap(),
            "--work",
            "again",
            "--accuracy-json",
            "accuracy.json",
        ])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("SIMs 300 "));
    assert!(dir.path().join("again/evaluation/state").is_dir());
    let accuracy: borderflow_release::accuracy::MethodAccuracy =
        serde_json::from_str(&std::fs::read_to_string(&accuracy).unwrap()).unwrap();
    assert_eq!(accuracy.worlds, 1);
    assert!(accuracy.source.contains("world"), "{}", accuracy.source);
    // 300 SIMs: only residents reach the 50 classified SIMs a category needs to be scored.
    assert!(accuracy.categories.contains_key("resident"), "{accuracy:?}");
    // Neither a file nor a directory: one line, status 1.
    let err = one_line_error(&borderflow(&["evaluate", "/no/such/world"]));
    assert!(
        err.contains("no such scenario file or world directory"),
        "{err}"
    );
}

#[test]
fn completions_cover_every_subcommand_and_option() {
    let o = borderflow(&["completions", "bash"]);
    ok(&o);
    let script = String::from_utf8(o.stdout).unwrap();
    for word in [
        "run",
        "validate",
        "budget",
        "evaluate",
        "--per-sim",
        "--log-format",
    ] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish"] {
        let o = borderflow(&["completions", shell]);
        ok(&o);
        assert!(String::from_utf8(o.stdout).unwrap().contains("evaluate"));
    }
    let o = borderflow(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn man_writes_a_page_for_the_program_and_each_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    ok(&borderflow(&["man", dir.to_str().unwrap()]));
    let pages = listing(&dir);
    for page in [
        "borderflow.1",
        "borderflow-run.1",
        "borderflow-validate.1",
        "borderflow-man.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} not in {pages:?}");
    }
    let run = std::fs::read_to_string(dir.join("borderflow-run.1")).unwrap();
    assert!(
        run.starts_with(".ie") || run.contains(".TH"),
        "not a roff page"
    );
    assert!(run.contains("borderflow\\-run"), "{run}");
    // The exit statuses `--help` shows are in the page too.
    assert!(run.contains("over budget"), "{run}");
}

#[test]
fn evaluate_per_sim_writes_each_sims_truth_beside_its_class_by_pseudonym_only() {
    let tmp = tempfile::tempdir().unwrap();
    let per_sim = tmp.path().join("per-sim.csv");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/baseline.toml");
    let o = borderflow(&[
        "evaluate",
        scenario,
        "--subscribers",
        "300",
        "--work",
        tmp.path().join("work").to_str().unwrap(),
        "--per-sim",
        per_sim.to_str().unwrap(),
    ]);
    ok(&o);
    let (header, rows) = common::csv_rows(&per_sim);
    assert_eq!(
        header,
        [
            "pseudonym",
            "true_category",
            "true_partner",
            "category",
            "partner",
            "group",
            "unclassified_reason"
        ]
    );
    // One row per SIM the records show: the matrix's SIMs less the unseen.
    let out = String::from_utf8(o.stdout).unwrap();
    let seen: usize = out
        .split("(seen ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rows.len(), seen, "{out}");
    for r in &rows {
        // A pseudonym is 16 bytes in hex, never a subscriber id of the world.
        assert_eq!(r["pseudonym"].len(), 32);
        assert!(r["pseudonym"].chars().all(|c| c.is_ascii_hexdigit()));
        assert!(
            r["category"].parse::<borderflow_core::Category>().is_ok()
                || r["category"] == "unclassified"
        );
        // A SIM not classified says why; a classified one has no reason.
        if r["category"] == "unclassified" {
            assert!(
                r["unclassified_reason"]
                    .parse::<borderflow_core::Unclassified>()
                    .is_ok(),
                "{r:?}"
            );
        } else {
            assert_eq!(r["unclassified_reason"], "");
        }
    }
    let truth = std::fs::read_to_string(tmp.path().join("work/world/truth.csv")).unwrap();
    let first_id = truth.lines().nth(1).unwrap().split(',').next().unwrap();
    assert!(
        !std::fs::read_to_string(&per_sim)
            .unwrap()
            .contains(first_id)
    );
}

/// A MultiMNO lake generated with its faults, read through the profile: `validate` prints the
/// resolved mapping, `run` publishes with every faulty row quarantined, and mistakes in a
/// mapping fail in one line naming the key, file and column.
#[test]
fn a_multimno_lake_reads_through_its_profile_and_mapping_mistakes_fail_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let world = root.join("world");
    let out = ok(&borderflow(&[
        "generate",
        "--out",
        world.to_str().unwrap(),
        "--subscribers",
        "60",
        "--seed",
        "3",
        "--layout",
        "multimno-bronze",
    ]));
    assert!(out.contains("day folders)"), "{out}");
    ok(&borderflow(&["keygen", root.join("key").to_str().unwrap()]));
    let pipeline = |columns: &str| {
        let text = format!(
            "dataset = \"mm\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
             state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"key\"\n\
             [input]\npaths = [\"world/mno_events\"]\nprofile = \"multimno-bronze\"\n\
             [input.columns]\n{columns}\n"
        );
        let path = root.join("p.toml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let p = pipeline("");
    let shown = ok(&borderflow(&["validate", &p]));
    for line in [
        "mapping   profile multimno-bronze; time format iso8601, naive times in UTC",
        "          subscriber_id = { hex = \"user_id\" }",
        "          home_plmn = { concat = [\"mcc\", \"mnc\"] }",
        "          serving_plmn = { column = \"plmn\", default = \"63902\" }",
    ] {
        assert!(shown.lines().any(|l| l == line), "{line:?} not in\n{shown}");
    }
    let run = ok(&borderflow(&["run", &p, "--period", "2025"]));
    assert!(run.contains(" quarantined"), "{run}");

    // A key overrides the profile's, and a wrong form is refused before any file is read.
    let err = one_line_error(&borderflow(&[
        "validate",
        &pipeline("subscriber_id = { value = \"1\" }"),
    ]));
    assert!(err.contains("input.columns.subscriber_id"), "{err}");
    let err = one_line_error(&borderflow(&[
        "validate",
        &pipeline("subscriber_id = \"user_id\""),
    ]));
    assert!(err.contains("\"user_id\"") && err.contains("hex"), "{err}");
    assert!(err.contains("part-00000.parquet"), "{err}");
}

/// A partnership from the binary alone: a country of two operators generated, each run and
/// exported on its own, combined at the office into persons with the privacy statement; a
/// mirror of two releases of one country is refused in one line.
#[test]
fn two_operators_are_exported_and_combined_into_persons_from_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let world = root.join("world");
    let out = ok(&borderflow(&[
        "generate",
        "--out",
        world.to_str().unwrap(),
        "--subscribers",
        "300",
        "--seed",
        "8",
        "--operators",
        "63902=0.6,63903=0.4",
        "--second-sim-share",
        "0.2",
    ]));
    assert!(out.starts_with("generated 300 persons ("), "{out}");
    let mut operators = String::new();
    for plmn in ["63902", "63903"] {
        let key = root.join(format!("key-{plmn}"));
        ok(&borderflow(&["keygen", key.to_str().unwrap()]));
        let pipeline = root.join(format!("p-{plmn}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                "dataset = \"op-{plmn}\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"{plmn}\"]\n\
                 state_dir = \"state-{plmn}\"\nrelease_dir = \"release-{plmn}\"\n\
                 [key]\nfile = \"key-{plmn}\"\n[input]\npaths = [\"world/{plmn}/events.parquet\"]\n"
            ),
        )
        .unwrap();
        let p = pipeline.to_str().unwrap();
        ok(&borderflow(&["run", p, "--period", "2025"]));
        // One operator delivers a directory, the other one archive.
        let packed = if plmn == "63903" { ".tar.gz" } else { "" };
        let export = root.join("exports/2025").join(format!("{plmn}{packed}"));
        let said = ok(&borderflow(&[
            "export",
            p,
            "--period",
            "2025",
            "--operator",
            &format!("op-{plmn}"),
            "--out",
            export.to_str().unwrap(),
        ]));
        assert!(said.contains("for the statistics office only"), "{said}");
        assert_eq!(export.is_file(), !packed.is_empty(), "{said}");
        operators.push_str(&format!(
            "[[operator]]\nname = \"op-{plmn}\"\nexport = \"exports/{{period}}/{plmn}{packed}\"\n"
        ));
    }
    let file = root.join("partnership.toml");
    std::fs::write(
        &file,
        format!(
            "dataset = \"ken\"\nmeasuring_country = \"KEN\"\nrelease_dir = \"national\"\n[persons]\n\
             coverage = {{ value = 1.0, standard_error = 0.0, source = \"both operators\", vintage = \"2025\" }}\n\
             sims_per_person = {{ value = 1.2, standard_error = 0.02, source = \"survey\", vintage = \"2025\" }}\n\
             {operators}"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    // The export paths name the period: combine needs it.
    let err = one_line_error(&borderflow(&["combine", f]));
    assert!(err.contains("--period"), "{err}");
    let said = ok(&borderflow(&["combine", f, "--period", "2025", "--check"]));
    assert_eq!(
        said.trim(),
        "2 exports of 2025 present, intact and combinable; nothing written"
    );
    assert!(!root.join("national").exists());
    let said = ok(&borderflow(&["combine", f, "--period", "2025"]));
    assert!(said.starts_with("combined 2 operators into "), "{said}");
    assert!(said.contains("at all 2 operators, ρ = "), "{said}");
    let release = root.join("national/ken/2025");
    for file in [
        "persons.csv",
        "persons.parquet",
        "persons.sdmx.csv",
        "partnership.json",
        "report.html",
        "categories.sdmx.csv",
    ] {
        assert!(release.join(file).is_file(), "{file}");
    }
    // Combined once; two releases of one country are no mirror.
    let err = one_line_error(&borderflow(&["combine", f, "--period", "2025"]));
    assert!(err.contains("written once"), "{err}");
    let page = root.join("mirror.html");
    let err = one_line_error(&borderflow(&[
        "mirror",
        release.to_str().unwrap(),
        root.join("release-63902/op-63902/2025").to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]));
    assert!(err.contains("both releases measure KEN"), "{err}");
    assert!(!page.exists());
}
