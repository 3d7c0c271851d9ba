//! The ingest scan a cluster runs, run here in one process: what a task emits, writes and
//! refuses, and what its plan carries across the cluster (Ballista's own codecs around ours).

use std::path::Path;
use std::sync::Arc;

use borderflow_cluster::codec::{LogicalCodec, PhysicalCodec};
use borderflow_cluster::ingest::{
    ExecutorKey, INGEST_TABLE, IngestExec, IngestTable, IngestTask, PartitionReport, counts_file,
    quarantine_file,
};
use borderflow_core::FunctionalDay;
use borderflow_ingest::{InputConfig, Reason, discover};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

const HEADER: &str = "IMSI,TS,HPLMN,VPLMN,CELL,TYPE,B_NUMBER\n";
const ROWS: [&str; 5] = [
    "639021111111111,2025-03-01T10:00:00Z,63902,63902,C1,call_out,+256772000001",
    "639021111111112,yesterday,63902,63902,C1,data,",
    "639021111111113,2025-03-02T10:00:00Z,63902,63902,C1,data,",
    "639021111111114,2025-03-01T10:00:00Z,12345,63902,C1,data,",
    "641011111111118,2025-03-01T10:00:00+03:00,64101,63902,C2,sms_in,+254700000000",
];

fn input() -> InputConfig {
    toml::from_str(
        r#"
        paths = []
        [columns]
        subscriber_id = "IMSI"
        event_time = "TS"
        home_plmn = "HPLMN"
        serving_plmn = "VPLMN"
        cell_id = "CELL"
        event_type = "TYPE"
        counterpart_number = "B_NUMBER"
        "#,
    )
    .unwrap()
}

fn key() -> PseudonymKey {
    PseudonymKey::from_bytes([7; 32])
}

/// A task of two shares, one CSV file each (the second a copy of the first), under `dir`.
fn task(dir: &Path) -> IngestTask {
    let body = format!("{HEADER}{}\n", ROWS.join("\n"));
    for name in ["a.csv", "b.csv"] {
        std::fs::write(dir.join(name), &body).unwrap();
    }
    let files = discover(&[dir.join("*.csv").display().to_string()]).unwrap();
    for sub in ["quarantine", "counts"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    IngestTask {
        shares: files.into_iter().map(|f| vec![f]).collect(),
        input: input(),
        refdata: Default::default(),
        measuring_country: "KEN".parse().unwrap(),
        // Functional local dates of 2025.
        window: (20_089, 20_453),
        day: FunctionalDay::default(),
        key_fingerprint: key().fingerprint().to_string(),
        quarantine_dir: dir.join("quarantine"),
        counts_dir: dir.join("counts"),
    }
}

fn session(key: Option<PseudonymKey>) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(2);
    let config = match key {
        Some(k) => config.with_extension(Arc::new(ExecutorKey(Arc::new(k)))),
        None => config,
    };
    SessionContext::new_with_config(config)
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name(name).unwrap().clone();
            (0..c.len()).map(move |i| {
                if c.is_null(i) {
                    String::new()
                } else {
                    array_value_to_string(&c, i).unwrap()
                }
            })
        })
        .collect();
    out.sort();
    out
}

fn run(
    ctx: &SessionContext,
    task: IngestTask,
    sql: &str,
) -> datafusion::error::Result<Vec<RecordBatch>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        ctx.register_table(INGEST_TABLE, Arc::new(IngestTable::new(task)))?;
        ctx.sql(sql).await?.collect().await
    })
}

#[test]
fn each_task_pseudonymises_its_share_and_accounts_for_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let task = task(dir.path());
    let ctx = session(Some(key()));
    let batches = run(
        &ctx,
        task.clone(),
        &format!("SELECT pseudonym, sim_country, serving_country, local_date FROM {INGEST_TABLE}"),
    )
    .unwrap();
    // Three rows accepted per file, pseudonymised with the executor's key.
    let mut p = Pseudonymiser::new(&key());
    let mut expected: Vec<String> = ["639021111111111", "639021111111113", "641011111111118"]
        .iter()
        .flat_map(|id| {
            let hex: String = p
                .pseudonym(id)
                .unwrap()
                .0
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            [hex.clone(), hex]
        })
        .collect();
    expected.sort();
    assert_eq!(strings(&batches, "pseudonym"), expected);
    assert_eq!(
        strings(&batches, "sim_country"),
        ["KEN", "KEN", "KEN", "KEN", "UGA", "UGA"]
    );
    assert_eq!(
        strings(&batches, "local_date"),
        [
            "2025-03-01",
            "2025-03-01",
            "2025-03-01",
            "2025-03-01",
            "2025-03-02",
            "2025-03-02"
        ]
    );

    // Each partition wrote its accounting and its quarantine, by file and row.
    for (partition, share) in task.shares.iter().enumerate() {
        let name = share[0].path.display().to_string();
        let report: PartitionReport = serde_json::from_slice(
            &std::fs::read(counts_file(&task.counts_dir, partition)).unwrap(),
        )
        .unwrap();
        // The file's digest for the manifest, taken by the task that read its beginning.
        assert_eq!(
            report.digests[&name],
            borderflow_ingest::digest_file(&share[0].path).unwrap()
        );
        assert_eq!(
            report.digests[&name].bytes,
            std::fs::metadata(&share[0].path).unwrap().len()
        );
        let counts = report.counts;
        let f = &counts[&name];
        assert_eq!((f.counts.read, f.counts.accepted, f.shares), (5, 3, 1));
        assert_eq!(f.counts.quarantined[&Reason::BadTime], 1);
        assert_eq!(f.counts.quarantined[&Reason::UnknownPlmn], 1);
        let q = std::fs::File::open(quarantine_file(&task.quarantine_dir, partition)).unwrap();
        let q: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(q, 1024)
                .unwrap()
                .map(Result::unwrap)
                .collect();
        assert_eq!(strings(&q, "row"), ["2", "4"]);
        assert_eq!(strings(&q, "reason"), ["bad_time", "unknown_plmn"]);
        assert_eq!(strings(&q, "file"), [name.clone(), name]);
    }
    // No temporary file is left behind.
    for sub in ["quarantine", "counts"] {
        for e in std::fs::read_dir(dir.path().join(sub)).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.ends_with(".tmp"), "{n}");
        }
    }
}

#[test]
fn the_presence_reduction_runs_over_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = session(Some(key()));
    let batches = run(
        &ctx,
        task(dir.path()),
        &borderflow_presence::reduce_sql(&FunctionalDay::default()),
    )
    .unwrap();
    // One presence row per SIM and date: each file's three events are three SIM-days, and
    // the second file's copies add to the same rows.
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
    assert_eq!(strings(&batches, "events"), ["2", "2", "2"]);
}

#[test]
fn an_executor_without_the_stores_key_refuses_and_says_which_key() {
    let dir = tempfile::tempdir().unwrap();
    let task = task(dir.path());
    let sql = format!("SELECT count(*) FROM {INGEST_TABLE}");
    let err = run(&session(None), task.clone(), &sql)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("this executor holds no pseudonymisation key"),
        "{err}"
    );
    let other = PseudonymKey::from_bytes([8; 32]);
    let other_fingerprint = other.fingerprint().to_string();
    let err = run(&session(Some(other)), task.clone(), &sql)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "this executor's pseudonymisation key (fingerprint {other_fingerprint}) is not the store's ({})",
            task.key_fingerprint
        )),
        "{err}"
    );
    // Refused before a row was read: no accounting, no quarantine.
    assert_eq!(std::fs::read_dir(&task.counts_dir).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&task.quarantine_dir).unwrap().count(), 0);
}

#[test]
fn the_scan_crosses_the_cluster_as_its_task_and_never_with_the_key() {
    use datafusion_proto::bytes::{
        logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };
    let dir = tempfile::tempdir().unwrap();
    let task = task(dir.path());
    let ctx = SessionContext::new();
    let secret = [7u8; 32];
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let holds_no_key = |bytes: &[u8]| {
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        // The plan names the key by its fingerprint only.
        contains(task.key_fingerprint.as_bytes())
            && !contains(&secret)
            && !contains(hex.as_bytes())
            && !contains(hex.to_uppercase().as_bytes())
    };

    // The scheduler's stage, as executors receive it.
    let exec: Arc<dyn ExecutionPlan> =
        Arc::new(IngestExec::new(Arc::new(task.clone()), Some(vec![0, 3])).unwrap());
    let bytes =
        physical_plan_to_bytes_with_extension_codec(Arc::clone(&exec), &PhysicalCodec::default())
            .unwrap();
    assert!(holds_no_key(&bytes));
    let back = physical_plan_from_bytes_with_extension_codec(
        &bytes,
        &ctx.task_ctx(),
        &PhysicalCodec::default(),
    )
    .unwrap();
    let back = back.downcast_ref::<IngestExec>().expect("an ingest scan");
    assert_eq!(back.task(), &task);
    assert_eq!(back.projection(), Some(&[0, 3][..]));
    assert_eq!(back.schema(), exec.schema());
    // An executor with Ballista's codec alone cannot run it.
    let stock = ballista_core::serde::BallistaPhysicalExtensionCodec::default();
    assert!(
        physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &stock).is_err()
    );

    // The driver's plan, as the scheduler receives it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let plan = rt.block_on(async {
        ctx.register_table(INGEST_TABLE, Arc::new(IngestTable::new(task.clone())))
            .unwrap();
        ctx.sql(&format!("SELECT pseudonym FROM {INGEST_TABLE}"))
            .await
            .unwrap()
            .into_optimized_plan()
            .unwrap()
    });
    let bytes =
        logical_plan_to_bytes_with_extension_codec(&plan, &LogicalCodec::default()).unwrap();
    assert!(holds_no_key(&bytes));
    let back = logical_plan_from_bytes_with_extension_codec(
        &bytes,
        &ctx.task_ctx(),
        &LogicalCodec::default(),
    )
    .unwrap();
    assert_eq!(format!("{back}"), format!("{plan}"));
}
