//! Ingest as a map job: each share of the input (a file, or a run of a Parquet file's row
//! groups) validated and pseudonymised by one task on whichever executor runs it.
//!
//! The driver registers an [`IngestTable`] describing the run ([`IngestTask`]: the shares,
//! the column mapping, the code-list overrides, the window, the functional day and the
//! fingerprint of the store's key) and runs the presence reduction over it. The scheduler
//! plans the table's scan as an [`IngestExec`] of one partition per share. On the executor,
//! each partition reads its share with the same validator as the local engine
//! ([`borderflow_ingest::read_share`]) and emits accepted events, already pseudonymised, in
//! [`borderflow_core::accepted_schema`]: pseudonymisation happens inside the scan, before any
//! shuffle, sort or spill, so nothing downstream of it ever holds a raw id.
//!
//! **The key.** It is never in the plan. An executor holds its own ([`ExecutorKey`], loaded
//! from its key file or environment when it starts) and the plan carries only the
//! fingerprint of the store's key: an executor whose key is not the store's, or that has
//! none, refuses the task, so a cluster can never write pseudonyms of another key.
//!
//! **Side outputs.** Each partition writes its quarantined rows to
//! `<quarantine_dir>/part-<partition>.parquet` and its [`PartitionReport`] (rows read,
//! accepted and quarantined per reason, per file; and the digest of each file whose first
//! piece it read, for the manifest) to `<counts_dir>/part-<partition>.json`, each written
//! under a temporary name and renamed into place once the share is read to its end. A task
//! retried after a lost executor writes the same bytes again; a partition with no accounting
//! file was not read to its end, and the driver fails the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use borderflow_core::{CountryCode, FunctionalDay, SimRegistry, accepted_batch, accepted_schema};
use borderflow_ingest::{
    Flow, InputConfig, InputDigest, InputFile, ShareCounts, ShareError, SourceError, Validator,
    digest_file, read_cell_catalogue, read_share,
};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::{Overrides, RefData, RefDataError};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use serde::{Deserialize, Serialize};

/// The name the driver registers the ingest table under: the `events` of
/// `borderflow_presence::reduce_sql`.
pub const INGEST_TABLE: &str = "events";

/// What a partition reports once its share is read to its end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionReport {
    /// Rows read, accepted and quarantined, per file.
    pub counts: ShareCounts,
    /// Size and SHA-256 of each file whose first piece the share holds (each file is
    /// digested once, by the partition that reads its beginning).
    pub digests: BTreeMap<String, InputDigest>,
}

/// The file of a partition's report under [`IngestTask::counts_dir`].
pub fn counts_file(counts_dir: &Path, partition: usize) -> PathBuf {
    counts_dir.join(format!("part-{partition}.json"))
}

/// The file of a partition's quarantined rows under [`IngestTask::quarantine_dir`].
pub fn quarantine_file(quarantine_dir: &Path, partition: usize) -> PathBuf {
    quarantine_dir.join(format!("part-{partition}.parquet"))
}

/// Everything a task needs to read its share, and nothing secret: it travels in the plan.
/// Paths are absolute and must name the same files on every executor (shared storage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestTask {
    /// The shares, one per partition, each read front to back by one task.
    pub shares: Vec<Vec<InputFile>>,
    /// The column mapping, time format, source time zone and cell catalogue.
    pub input: InputConfig,
    /// The code-list overrides (files every executor reads).
    pub refdata: Overrides,
    /// The measuring country.
    pub measuring_country: CountryCode,
    /// Accepted functional local dates, days since 1970-01-01, both ends included.
    pub window: (i32, i32),
    /// The functional day events are dated by.
    pub day: FunctionalDay,
    /// Fingerprint of the store's key: an executor with another key refuses the task.
    pub key_fingerprint: String,
    /// Where partitions write their quarantined rows.
    pub quarantine_dir: PathBuf,
    /// Where partitions write their accounting.
    pub counts_dir: PathBuf,
}

/// The pseudonymisation key of an executor process, from its own key file or environment,
/// handed to its tasks through the executor's session configuration (an extension, which
/// Ballista neither ships nor logs; the shipped options never hold it).
#[derive(Debug)]
pub struct ExecutorKey(pub Arc<PseudonymKey>);

/// Why a task could not read its share. Messages name files, rows and fingerprints, never a
/// value read from a file or the key.
///
/// Ballista returns a failed task's error to the driver as its `Debug` text, so `Debug` is the
/// message itself between [`TASK_ERROR_OPEN`] and [`TASK_ERROR_CLOSE`]: the driver finds it
/// there ([`task_error_in`]) and reports it as it would a local failure.
#[derive(thiserror::Error)]
pub enum IngestTaskError {
    /// The executor was started without a key.
    #[error(
        "this executor holds no pseudonymisation key: start it with --key-file (or BORDERFLOW_KEY) naming the store's key"
    )]
    NoKey,
    /// The executor's key is not the store's.
    #[error(
        "this executor's pseudonymisation key (fingerprint {executor}) is not the store's ({store}): start it with the store's key"
    )]
    WrongKey {
        /// The executor's key's fingerprint.
        executor: String,
        /// The store's.
        store: String,
    },
    /// The code lists or their overrides would not load on the executor.
    #[error(transparent)]
    RefData(#[from] RefDataError),
    /// An input, the cell catalogue or the quarantine failed.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// `input.source_time_zone` names no IANA time zone.
    #[error("input.source_time_zone: unknown IANA time zone {0:?}")]
    SourceTimeZone(String),
    /// The partition asked for is not in the plan.
    #[error("ingest partition {0} is not in the plan")]
    NoSuchPartition(usize),
    /// A side output could not be written or moved into place.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
}

/// What opens an [`IngestTaskError`]'s text in the error a cluster returns.
pub const TASK_ERROR_OPEN: &str = "<<";
/// What closes it.
pub const TASK_ERROR_CLOSE: &str = ">>";

impl std::fmt::Debug for IngestTaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{TASK_ERROR_OPEN}{self}{TASK_ERROR_CLOSE}")
    }
}

/// The text of the [`IngestTaskError`] inside `message`, an error a cluster returned, if it
/// holds one.
pub fn task_error_in(message: &str) -> Option<&str> {
    let start = message.find(TASK_ERROR_OPEN)? + TASK_ERROR_OPEN.len();
    let len = message[start..].find(TASK_ERROR_CLOSE)?;
    Some(&message[start..start + len])
}

impl From<SourceError> for IngestTaskError {
    fn from(e: SourceError) -> Self {
        IngestTaskError::Share(ShareError::Source(e))
    }
}

/// The words every key refusal of [`IngestTaskError`] contains, so a driver that gets the
/// refusal back as text from the cluster can tell it from other failures.
pub const KEY_REFUSAL: &str = "pseudonymisation key";

fn external(e: IngestTaskError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The table the driver registers: scanning it runs [`IngestExec`].
#[derive(Debug, Clone)]
pub struct IngestTable {
    task: Arc<IngestTask>,
}

impl IngestTable {
    /// The table of `task`.
    pub fn new(task: IngestTask) -> Self {
        Self {
            task: Arc::new(task),
        }
    }

    /// What it reads.
    pub fn task(&self) -> &IngestTask {
        &self.task
    }
}

#[async_trait]
impl TableProvider for IngestTable {
    fn schema(&self) -> SchemaRef {
        accepted_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(IngestExec::new(
            Arc::clone(&self.task),
            projection.cloned(),
        )?))
    }
}

/// The scan of an [`IngestTable`]: one partition per share, each emitting the share's
/// accepted, pseudonymised events.
#[derive(Debug)]
pub struct IngestExec {
    task: Arc<IngestTask>,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl IngestExec {
    /// The scan of `task`, emitting the columns `projection` picks from
    /// [`accepted_schema`] (all of them when `None`).
    pub fn new(task: Arc<IngestTask>, projection: Option<Vec<usize>>) -> Result<Self> {
        let schema = match &projection {
            Some(p) => Arc::new(accepted_schema().project(p)?),
            None => accepted_schema(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(task.shares.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            task,
            projection,
            properties: Arc::new(properties),
        })
    }

    /// What it reads.
    pub fn task(&self) -> &IngestTask {
        &self.task
    }

    /// The columns of [`accepted_schema`] it emits.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }
}

impl DisplayAs for IngestExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "IngestExec: shares={}, key_fingerprint={}",
            self.task.shares.len(),
            self.task.key_fingerprint
        )
    }
}

impl ExecutionPlan for IngestExec {
    fn name(&self) -> &str {
        "IngestExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let key = context
            .session_config()
            .get_extension::<ExecutorKey>()
            .ok_or_else(|| external(IngestTaskError::NoKey))?;
        let fingerprint = key.0.fingerprint().to_string();
        if fingerprint != self.task.key_fingerprint {
            return Err(external(IngestTaskError::WrongKey {
                executor: fingerprint,
                store: self.task.key_fingerprint.clone(),
            }));
        }
        if partition >= self.task.shares.len() {
            return Err(external(IngestTaskError::NoSuchPartition(partition)));
        }
        let task = Arc::clone(&self.task);
        let projection = self.projection.clone();
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let emit = |batch: RecordBatch| {
                let batch = match &projection {
                    Some(p) => batch.project(p)?,
                    None => batch,
                };
                // A receiver gone means the query was cancelled: stop reading.
                Ok(tx.blocking_send(Ok(batch)).is_ok())
            };
            read_partition(&task, partition, &key.0, emit)
        });
        Ok(builder.build())
    }
}

/// Reads partition `partition` of `task` with `key`, handing each batch of accepted events
/// ([`accepted_schema`]) to `emit`, which says whether to go on; then writes the partition's
/// quarantine and accounting files. When `emit` says stop (the query was cancelled), the
/// share is not read to its end and neither file is written.
pub fn read_partition(
    task: &IngestTask,
    partition: usize,
    key: &PseudonymKey,
    mut emit: impl FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let shares = task
        .shares
        .get(partition)
        .ok_or_else(|| external(IngestTaskError::NoSuchPartition(partition)))?;
    let rd = RefData::load(&task.refdata).map_err(|e| external(e.into()))?;
    let cells = match &task.input.cell_catalogue {
        Some(c) => read_cell_catalogue(Path::new(c)).map_err(|e| external(e.into()))?,
        None => Default::default(),
    };
    let source_tz = task
        .input
        .source_tz()
        .map_err(|z| external(IngestTaskError::SourceTimeZone(z)))?;
    let sims = SimRegistry::new();
    let mut validator = Validator::new(
        &rd,
        task.measuring_country,
        task.window,
        task.input.time_format.clone(),
        source_tz,
        Pseudonymiser::new(key),
        &sims,
    )
    .with_cells(cells)
    .with_day(&task.day);
    let quarantine = quarantine_file(&task.quarantine_dir, partition);
    let quarantine_tmp = borderflow_core::atomic_temp(&quarantine);
    let counts = read_share(
        &mut validator,
        &task.input,
        shares,
        &quarantine_tmp,
        |out, _, _| {
            if out.accepted.is_empty() {
                return Ok::<_, ReadFailure>(Flow::Continue);
            }
            let go_on = emit(accepted_batch(&out.accepted, &sims)).map_err(ReadFailure::Emit)?;
            Ok(if go_on { Flow::Continue } else { Flow::Stop })
        },
    );
    let counts: Option<ShareCounts> = match counts {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&quarantine_tmp);
            return Err(e.into());
        }
    };
    let Some(counts) = counts else {
        let _ = std::fs::remove_file(&quarantine_tmp);
        return Ok(());
    };
    if quarantine_tmp.exists() {
        rename(&quarantine_tmp, &quarantine)?;
    }
    let mut digests = BTreeMap::new();
    for f in shares.iter().filter(|f| f.first_row == 1) {
        let digest = digest_file(&f.path).map_err(|e| external(e.into()))?;
        digests.insert(f.path.display().to_string(), digest);
    }
    let report = PartitionReport { counts, digests };
    let path = counts_file(&task.counts_dir, partition);
    let tmp = borderflow_core::atomic_temp(&path);
    let json = serde_json::to_vec(&report).expect("a report serialises");
    std::fs::write(&tmp, json).map_err(|source| {
        external(IngestTaskError::Write {
            path: tmp.clone(),
            source,
        })
    })?;
    rename(&tmp, &path)
}

/// A failure inside [`read_share`]: the share's own, or the consumer's.
enum ReadFailure {
    Share(ShareError),
    Emit(DataFusionError),
}

impl From<ShareError> for ReadFailure {
    fn from(e: ShareError) -> Self {
        ReadFailure::Share(e)
    }
}

impl From<ReadFailure> for DataFusionError {
    fn from(e: ReadFailure) -> Self {
        match e {
            ReadFailure::Share(e) => external(IngestTaskError::Share(e)),
            ReadFailure::Emit(e) => e,
        }
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| {
        external(IngestTaskError::Write {
            path: to.to_path_buf(),
            source,
        })
    })
}
