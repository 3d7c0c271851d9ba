//! The classify stage end to end on a generated world: the confusion matrix against ground
//! truth, what it writes (only inside the state directory, never a raw id), and its errors.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use borderflow_core::Category;
use borderflow_pipeline::{ClassifyError, Period, Pipeline, classify, ingest};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::RefData;
use borderflow_synth::{OutputFormats, Scenario, generate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};

const KEY: [u8; 32] = [9; 32];

fn pipeline(root: &Path, input: &str) -> Pipeline {
    pipeline_with(root, input, &[])
}

fn pipeline_with(root: &Path, input: &str, sets: &[&str]) -> Pipeline {
    let text = format!(
        r#"
        dataset = "test"
        measuring_country = "KEN"
        operator_plmns = ["63902"]
        state_dir = "state"
        release_dir = "release"
        [key]
        file = "key"
        [input]
        paths = [{input:?}]
        "#
    );
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Pipeline::parse("test.toml", &text, &sets, root).unwrap()
}

fn read(path: &Path) -> Vec<RecordBatch> {
    crate::common::read_parquet(path)
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = b.column_by_name(name).unwrap().as_string::<i32>();
    (0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A generated world of `subscribers` SIMs (Parquet events) under `root`, ingested into the
/// store of the default test pipeline.
fn ingested_world(root: &Path, subscribers: u32, seed: u64) -> Pipeline {
    let parquet = OutputFormats {
        csv: false,
        parquet: true,
    };
    common::key_and_world(root, KEY, subscribers, seed, parquet);
    let p = pipeline(root, "world/events.parquet");
    ingest::run(&p, None, &[]).unwrap();
    p
}

/// On the default world (5,000 SIMs, 365 days): per-category recall and precision at least
/// 0.90 over the SIMs with enough data to classify (the scenario suite's bound, tests/
/// scenarios.rs), and category totals within a total variation distance of 0.03 of the truth.
#[test]
fn classification_matches_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = ingested_world(root, 5000, 7);
    let before: Vec<PathBuf> = files_under(root)
        .into_iter()
        .filter(|f| !f.starts_with(root.join("state")))
        .collect();
    let report = classify::run(&p, "2025".parse::<Period>().unwrap()).unwrap();
    let after: Vec<PathBuf> = files_under(root)
        .into_iter()
        .filter(|f| !f.starts_with(root.join("state")))
        .collect();
    assert_eq!(before, after, "classify wrote outside the state directory");

    // Ground truth by pseudonym.
    let mut ps = Pseudonymiser::new(&PseudonymKey::from_bytes(KEY));
    let mut truth: HashMap<[u8; 16], (String, Option<String>)> = HashMap::new();
    let mut raw_ids = Vec::new();
    for b in read(&root.join("world/truth.parquet")) {
        let ids = strings(&b, "subscriber_id");
        let cats = strings(&b, "category");
        let partners = strings(&b, "partner_country");
        for ((id, cat), partner) in ids.into_iter().zip(cats).zip(partners) {
            let id = id.unwrap();
            truth.insert(ps.pseudonym(&id).unwrap().0, (cat.unwrap(), partner));
            raw_ids.push(id);
        }
    }

    let facts_dir = root.join("state/classified/2025");
    let mut matrix: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut insufficient: BTreeMap<String, u64> = BTreeMap::new();
    let (mut partner_right, mut right) = (0u64, 0u64);
    let mut sims = 0u64;
    for b in read(&facts_dir.join("sims.parquet")) {
        let pseudonyms = b
            .column_by_name("pseudonym")
            .unwrap()
            .as_fixed_size_binary();
        let cats = strings(&b, "category");
        let partners = strings(&b, "partner_country");
        for i in 0..b.num_rows() {
            sims += 1;
            let key: [u8; 16] = pseudonyms.value(i).try_into().unwrap();
            let (true_cat, true_partner) = &truth[&key];
            match &cats[i] {
                None => *insufficient.entry(true_cat.clone()).or_default() += 1,
                Some(c) => {
                    *matrix.entry((true_cat.clone(), c.clone())).or_default() += 1;
                    if c == true_cat {
                        right += 1;
                        partner_right += u64::from(partners[i] == *true_partner);
                    }
                }
            }
        }
    }
    assert_eq!(sims, report.sims);

    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let count = |t: &str, c: &str| *matrix.get(&(t.to_string(), c.to_string())).unwrap_or(&0);
    println!(
        "truth \\ classified   {}   insufficient",
        names
            .iter()
            .map(|n| format!("{:>7.7}", n))
            .collect::<String>()
    );
    for t in &names {
        println!(
            "{t:<20} {}   {:>6}",
            names
                .iter()
                .map(|c| format!("{:>7}", count(t, c)))
                .collect::<String>(),
            insufficient.get(*t).unwrap_or(&0)
        );
    }
    let classified: u64 = matrix.values().sum();
    let mut tvd = 0.0;
    for c in &names {
        let true_n: u64 = names.iter().map(|k| count(c, k)).sum();
        let class_n: u64 = names.iter().map(|t| count(t, c)).sum();
        tvd += (true_n as f64 - class_n as f64).abs() / classified as f64 / 2.0;
        if true_n == 0 {
            assert_eq!(class_n, 0, "{c}: classified but none in the world");
            continue;
        }
        let recall = count(c, c) as f64 / true_n as f64;
        let precision = count(c, c) as f64 / class_n.max(1) as f64;
        println!("{c:<20} recall {recall:.3} precision {precision:.3} (n = {true_n})");
        assert!(recall >= 0.90, "{c}: recall {recall:.3}");
        assert!(precision >= 0.90, "{c}: precision {precision:.3}");
    }
    let share_insufficient = insufficient.values().sum::<u64>() as f64 / sims as f64;
    println!(
        "total variation distance {tvd:.4}; too sparse to classify {:.1}%; partner right {:.4}",
        100.0 * share_insufficient,
        partner_right as f64 / right as f64
    );
    assert!(tvd <= 0.03, "total variation distance {tvd:.4}");
    // About the share of sparse SIMs in the world (15%), not more.
    assert!(share_insufficient < 0.2, "{share_insufficient}");
    assert!(partner_right as f64 / right as f64 >= 0.99);
    assert!(!report.return_migrants.available);
    assert_eq!(report.insufficient, insufficient.values().sum::<u64>());

    // Nothing the stage wrote holds a raw id: neither its bytes nor any decoded value.
    let needles: Vec<Vec<u8>> = raw_ids.iter().map(|id| id.as_bytes().to_vec()).collect();
    let files = files_under(&facts_dir);
    assert!(files.iter().any(|f| f.ends_with("sims.parquet")));
    for f in files {
        let bytes = common::bytes_and_decoded_values(&f);
        assert!(
            common::find_any(&bytes, &needles).is_none(),
            "{} holds a raw id",
            f.display()
        );
    }
}

#[test]
fn classify_without_a_store_or_data_for_the_period_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    PseudonymKey::from_bytes(KEY)
        .write_new(&root.join("key"))
        .unwrap();
    let p = pipeline(root, "events.csv");
    let err = classify::run(&p, "2025".parse().unwrap()).unwrap_err();
    assert!(
        err.to_string().starts_with("no presence store at ")
            && err.to_string().ends_with("run `borderflow ingest` first"),
        "{err}"
    );

    std::fs::write(
        root.join("events.csv"),
        "subscriber_id,event_time,home_plmn,serving_plmn\n\
         A1,2025-03-01T20:00:00Z,63902,63902\n",
    )
    .unwrap();
    ingest::run(&p, None, &[]).unwrap();
    let err = classify::run(&p, "2023".parse().unwrap()).unwrap_err();
    assert!(matches!(err, ClassifyError::NoPresence { .. }));
    assert_eq!(
        err.to_string(),
        "the presence store holds no date from 2023-01-01 to 2023-12-31 (the look-back of period 2023); it holds 2025-03-01 to 2025-03-01: give the files of that period, or release a period they cover"
    );
    assert!(!root.join("state/classified").exists());

    // A month's look-back is the 365 days ending with it.
    let r = classify::run(&p, "2025-03".parse().unwrap()).unwrap();
    assert_eq!(r.lookback_first.to_string(), "2024-04-01");
    assert_eq!(r.lookback_last.to_string(), "2025-03-31");
    assert_eq!(r.sims, 1);
    assert_eq!(r.missing_days, 364);
    assert!(root.join("state/classified/2025-03/sims.parquet").exists());
    assert!(root.join("state/classified/2025-03/summary.json").exists());
}

/// Two years of a world with return migrants (10%, residents 45%) under `root`, ingested
/// into the store of a pipeline that keeps and measures them, with `sets` besides.
fn two_years_ingested(root: &Path, subscribers: u32, seed: u64, sets: &[&str]) -> Pipeline {
    PseudonymKey::from_bytes(KEY)
        .write_new(&root.join("key"))
        .unwrap();
    let mut scenario = Scenario {
        subscribers,
        seed,
        days: 730,
        start: "2024-01-01".parse().unwrap(),
        ..Scenario::default()
    };
    scenario
        .personas
        .insert(borderflow_synth::Persona::Resident, 0.45);
    scenario
        .personas
        .insert(borderflow_synth::Persona::ReturnMigrant, 0.10);
    let parquet = OutputFormats {
        csv: false,
        parquet: true,
    };
    generate(
        &scenario,
        &RefData::embedded(),
        &root.join("world"),
        parquet,
    )
    .unwrap();
    let mut all = vec![
        "presence.lookback_days=730",
        "classify.return_migrants=true",
    ];
    all.extend_from_slice(sets);
    let p = pipeline_with(root, "world/events.parquet", &all);
    ingest::run(&p, None, &[]).unwrap();
    p
}

/// Two years of store: return migrants (abroad most of the year before, home now) are found,
/// with the country they came back from.
#[test]
fn return_migrants_with_two_years_of_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = two_years_ingested(root, 400, 5, &[]);
    let report = classify::run(&p, "2025".parse().unwrap()).unwrap();
    assert!(
        report.return_migrants.available,
        "{:?}",
        report.return_migrants
    );

    let mut ps = Pseudonymiser::new(&PseudonymKey::from_bytes(KEY));
    let mut truth: HashMap<[u8; 16], (String, Option<String>)> = HashMap::new();
    for b in read(&root.join("world/truth.parquet")) {
        let ids = strings(&b, "subscriber_id");
        let cats = strings(&b, "category");
        let partners = strings(&b, "partner_country");
        for ((id, cat), partner) in ids.into_iter().zip(cats).zip(partners) {
            truth.insert(
                ps.pseudonym(&id.unwrap()).unwrap().0,
                (cat.unwrap(), partner),
            );
        }
    }
    let (mut true_returns, mut found, mut claimed) = (0, 0, 0);
    for b in read(&root.join("state/classified/2025/sims.parquet")) {
        let pseudonyms = b
            .column_by_name("pseudonym")
            .unwrap()
            .as_fixed_size_binary();
        let cats = strings(&b, "category");
        let partners = strings(&b, "partner_country");
        for i in 0..b.num_rows() {
            let key: [u8; 16] = pseudonyms.value(i).try_into().unwrap();
            let (t, tp) = &truth[&key];
            let Some(c) = &cats[i] else { continue };
            true_returns += u32::from(t == "return_migrant");
            claimed += u32::from(c == "return_migrant");
            if t == "return_migrant" && c == t {
                found += 1;
                assert_eq!(&partners[i], tp);
            }
        }
    }
    println!("return migrants: {found} of {true_returns} found, {claimed} claimed");
    assert!(true_returns >= 30, "{true_returns}");
    // A return migrant's year abroad is seen through roaming only, and through its silence at
    // home; 32 of 32 here (docs/methodology.md, Accuracy).
    assert!(f64::from(found) >= 0.90 * f64::from(true_returns));
    assert!(f64::from(found) >= 0.95 * f64::from(claimed));
}

/// The cluster's plan (one grouped query, the rules in an aggregate where the rows are, the
/// facts files written by the engine) and the local plan (the store's files read here range
/// of pseudonyms by range, in one range or many, the files written by this process) conclude the same facts for every SIM, row for row in
/// the facts schema's columns and types, and the same report — on two years of store, so
/// the window's history (return migrants) is in play, with the aggregate's partial states
/// merged across partitions.
#[test]
fn the_grouped_plan_gives_the_local_plans_facts_in_one_range_or_many() {
    use borderflow_pipeline::classify::{ClassifyPlan, facts_dir, facts_rows, run_with};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // More partitions than cores: a SIM's rows meet in several partial states.
    let p = two_years_ingested(root, 600, 11, &["engine.target_partitions=4"]);
    let period: Period = "2025".parse().unwrap();
    let facts = |p: &borderflow_pipeline::Pipeline, plan| {
        let r = run_with(p, period, plan).unwrap();
        let dir = facts_dir(&p.state_dir, period);
        // Nothing but the report and the two facts files is committed.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let sims = read(&dir.join("sims.parquet"));
        let schemas = (
            sims[0].schema(),
            read(&dir.join("crossings.parquet"))[0].schema(),
        );
        (
            r.sims,
            r.categories,
            r.crossing_pairs,
            r.insufficient,
            r.open_spells,
            facts_rows(&dir).unwrap(),
            names,
            schemas,
            (r.events_per_day, r.sims_per_day),
        )
    };
    let sorted = facts(&p, ClassifyPlan::Scan);
    let grouped = facts(&p, ClassifyPlan::Grouped);
    // The engine's per-SIM rows (pseudonyms) went to a scratch directory of the state, removed
    // with the stage: nothing is left beside what was committed.
    let leftovers: Vec<String> = std::fs::read_dir(&p.state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(borderflow_core::layout::STAGING_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(sorted.0 > 500, "{}", sorted.0);
    assert!(sorted.1.contains_key("return_migrant"), "{:?}", sorted.1);
    assert!(sorted.2 > 0);
    assert_eq!(sorted.0, grouped.0);
    assert_eq!(sorted.1, grouped.1);
    assert_eq!(sorted.2, grouped.2);
    assert_eq!(sorted.3, grouped.3);
    assert_eq!(sorted.4, grouped.4);
    assert_eq!(sorted.5.len() as u64, sorted.0 + sorted.2);
    assert!(sorted.5 == grouped.5, "the facts differ between the plans");
    assert_eq!(sorted.6, grouped.6);
    // The daily series the local plan counts while it reads equal the cluster's queries.
    assert!(sorted.8.0.len() > 300, "{}", sorted.8.0.len());
    assert_eq!(sorted.8, grouped.8);
    // Under a memory limit of 4 MiB the local plan reads the store in many ranges of
    // pseudonyms: the same facts and the same report.
    let mut small = p.clone();
    small.engine.memory_limit_mb = 4;
    let ranged = facts(&small, ClassifyPlan::Scan);
    assert_eq!(
        (
            &ranged.0, &ranged.1, ranged.2, ranged.3, ranged.4, &ranged.8
        ),
        (
            &sorted.0, &sorted.1, sorted.2, sorted.3, sorted.4, &sorted.8
        )
    );
    assert!(
        ranged.5 == sorted.5,
        "the facts differ between one range and many"
    );
    // The engine's files have the facts schema's types exactly, as read_facts needs them.
    let types = |s: &datafusion::arrow::datatypes::SchemaRef| {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    for (a, b) in [(&sorted.7.0, &grouped.7.0), (&sorted.7.1, &grouped.7.1)] {
        assert_eq!(types(a), types(b));
    }
    assert_eq!(
        types(&grouped.7.0),
        types(&borderflow_core::schema::facts_sims_schema())
    );
}

/// The counts an engine takes of the facts it wrote are the run report's, and facts that hold
/// a SIM twice (a task run again after it had written its rows) are refused by file, with
/// the number of repeated SIMs, rather than counted.
#[test]
fn the_engines_count_of_written_facts_is_the_reports_and_a_repeated_sim_is_refused() {
    use borderflow_pipeline::FailureKind;
    use borderflow_pipeline::classify::{ClassifyPlan, facts_dir, run_with, tally_written};
    use borderflow_pipeline::engine::EngineError;
    use parquet::arrow::ArrowWriter;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = ingested_world(root, 200, 4);
    let period: Period = "2025".parse().unwrap();
    let report = run_with(&p, period, ClassifyPlan::Scan).unwrap();
    let facts = facts_dir(&p.state_dir, period);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    let (sims, tally) = runtime.block_on(tally_written(&ctx, &facts)).unwrap();
    assert_eq!(sims, report.sims);
    assert_eq!(tally.categories, report.categories);
    assert_eq!(tally.insufficient, report.insufficient);
    assert_eq!(tally.open_spells, report.open_spells);
    assert_eq!(tally.crossing_pairs, report.crossing_pairs);

    // The same facts with the first 3 SIMs' rows written a second time.
    let repeated = root.join("repeated");
    std::fs::create_dir_all(&repeated).unwrap();
    std::fs::copy(
        facts.join("crossings.parquet"),
        repeated.join("crossings.parquet"),
    )
    .unwrap();
    let batches = read(&facts.join("sims.parquet"));
    let file = File::create(repeated.join("sims.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), None).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.write(&batches[0].slice(0, 3)).unwrap();
    w.close().unwrap();
    let err = runtime
        .block_on(tally_written(&ctx, &repeated))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClassifyError::Engine(EngineError::Repeated { repeated: 3, path })
                if path == &repeated.join("sims.parquet")
        ),
        "{err}"
    );
    assert_eq!(err.failure(), borderflow_pipeline::Failure::State);
    assert!(
        err.to_string().contains("wrote 3 SIM(s) more than once"),
        "{err}"
    );
}

/// What a cluster is sent to classify — the logical plan the driver submits, the physical
/// plan the scheduler splits into tasks, and every session option Ballista ships with each
/// task — serialised with Ballista's own codecs, holds the rules and the store's columns but
/// never the key in any spelling. An executor with borderflow's functions decodes the tasks'
/// plan; one without them (a stock Ballista executor) refuses it by the function's name.
#[test]
fn the_plan_a_cluster_is_sent_holds_no_key_and_needs_borderflows_functions() {
    use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
    use borderflow_classify::Window;
    use borderflow_classify::aggregate::{CLASSIFY_SIM, ClassifyParams, classify_sim};
    use borderflow_classify::plan::grouped_sql;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = ingested_world(root, 200, 4);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    ctx.register_udaf(classify_sim());
    let options = ParquetReadOptions::default().table_partition_cols(vec![(
        "local_date".to_string(),
        datafusion::arrow::datatypes::DataType::Date32,
    )]);
    let store = root.join("state/presence/");
    runtime
        .block_on(ctx.register_parquet("presence", store.to_str().unwrap(), options))
        .unwrap();
    let params = ClassifyParams {
        measuring_country: "KEN".into(),
        window: Window {
            history: 0,
            lookback: 365,
            period: 365,
            first_weekday: 2,
        },
        rules: p.classify.clone(),
    };
    let first = "2025-01-01".parse().unwrap();
    let last = "2025-12-31".parse().unwrap();
    let df = runtime
        .block_on(ctx.sql(&grouped_sql(&params, first, last)))
        .unwrap();
    let logical = df.logical_plan().clone();
    let physical = runtime.block_on(df.create_physical_plan()).unwrap();
    let logical_bytes = datafusion_proto::bytes::logical_plan_to_bytes_with_extension_codec(
        &logical,
        &BallistaLogicalExtensionCodec::default(),
    )
    .unwrap();
    let physical_bytes = datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(
        physical.clone(),
        &BallistaPhysicalExtensionCodec::default(),
    )
    .unwrap();
    // The options the driver's Ballista session would ship with every task.
    let session = runtime
        .block_on(borderflow_cluster::remote_session("df://127.0.0.1:1", 4))
        .unwrap();
    let options: Vec<u8> = session
        .state()
        .config()
        .options()
        .entries()
        .into_iter()
        .flat_map(|e| format!("{}={:?}\n", e.key, e.value).into_bytes())
        .collect();

    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    let needles = [
        KEY.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ];
    let holds = |bytes: &[u8], n: &[u8]| bytes.windows(n.len()).any(|w| w == n);
    for (what, bytes) in [
        ("logical plan", &logical_bytes[..]),
        ("physical plan", &physical_bytes[..]),
        ("session options", &options[..]),
    ] {
        for n in &needles {
            assert!(!holds(bytes, n), "the {what} holds the key");
        }
    }
    // The scan sees what is there: the function, the rules' literal, the store's columns.
    for (what, bytes) in [("logical", &logical_bytes), ("physical", &physical_bytes)] {
        assert!(holds(bytes, CLASSIFY_SIM.as_bytes()), "{what}");
        assert!(holds(bytes, b"\"measuring_country\":\"KEN\""), "{what}");
        assert!(holds(bytes, b"pseudonym"), "{what}");
    }
    // ...and would see a key put there: the same plan with the key's hex as a literal.
    let leaky = runtime
        .block_on(ctx.sql(&format!("SELECT '{hex}' AS k, count(*) FROM presence")))
        .unwrap();
    let leaky = runtime.block_on(leaky.create_physical_plan()).unwrap();
    let leaky = datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(
        leaky,
        &BallistaPhysicalExtensionCodec::default(),
    )
    .unwrap();
    assert!(holds(&leaky, hex.as_bytes()));

    // An executor decodes the plan with its function registry: borderflow's, or a stock one.
    let decode = |registry: ballista_core::registry::BallistaFunctionRegistry| {
        let task = datafusion::execution::TaskContext::new(
            None,
            "session".into(),
            SessionConfig::new(),
            registry.scalar_functions,
            registry.higher_order_functions,
            registry.aggregate_functions,
            registry.window_functions,
            Arc::new(datafusion::execution::runtime_env::RuntimeEnv::default()),
        );
        datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(
            &physical_bytes,
            &task,
            &BallistaPhysicalExtensionCodec::default(),
        )
    };
    assert!(decode(borderflow_cluster::function_registry()).is_ok());
    let stock = decode(ballista_core::registry::BallistaFunctionRegistry::default()).unwrap_err();
    assert!(stock.to_string().contains(CLASSIFY_SIM), "{stock}");
}

/// A store whose files were written by versions before the store's own encodings (zstd
/// level 1 for every column but the pseudonym, no dictionaries) is classified as before: the
/// same facts, row for row, as from the same rows written today.
#[test]
fn a_store_written_with_zstd_by_an_earlier_version_gives_the_same_facts() {
    use borderflow_pipeline::classify::{ClassifyPlan, facts_dir, run_with};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::metadata::SortingColumn;
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;
    let dir = tempfile::tempdir().unwrap();
    let p = ingested_world(dir.path(), 200, 5);
    let period: Period = "2025".parse().unwrap();
    let facts = |p: &Pipeline| {
        run_with(p, period, ClassifyPlan::Scan).unwrap();
        let at = facts_dir(&p.state_dir, period);
        (
            read(&at.join("sims.parquet")),
            read(&at.join("crossings.parquet")),
        )
    };
    let today = facts(&p);
    assert!(today.0.iter().map(|b| b.num_rows()).sum::<usize>() > 100);

    let earlier = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
        .set_column_compression(ColumnPath::from("pseudonym"), Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .build();
    let mut rewritten = 0;
    for date in std::fs::read_dir(p.state_dir.join("presence")).unwrap() {
        let date = date.unwrap().path();
        if !date.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&date).unwrap() {
            let path = file.unwrap().path();
            let batches = read(&path);
            let mut w = ArrowWriter::try_new(
                File::create(&path).unwrap(),
                batches[0].schema(),
                Some(earlier.clone()),
            )
            .unwrap();
            for b in &batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
            rewritten += 1;
        }
    }
    assert!(rewritten >= 365, "{rewritten} files");
    assert_eq!(facts(&p), today);
}
