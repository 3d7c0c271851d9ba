//! The classification plans. Both read the presence store's rows for a window, summed over
//! counterpart countries, and apply the same rules ([`classify`]) to each SIM's rows:
//!
//! - [`ClassifyPlan::Sorted`] (the local engine): DataFusion sorts the rows by SIM and day
//!   (spilling to disk under its memory limit) and [`classify_store`] folds them SIM by SIM
//!   in this process; each SIM's rules see only its own few hundred rows, so memory stays
//!   flat however many SIMs there are.
//! - [`ClassifyPlan::Grouped`] (a cluster): one grouped query whose aggregate
//!   ([`crate::aggregate`]) runs the rules where the rows are, and [`write_grouped`] has the
//!   engine write the facts files itself, so nothing per SIM streams back to the driver.

use std::collections::VecDeque;
use std::path::Path;

use borderflow_core::CountryCode;
use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::error::DataFusionError;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;

use crate::aggregate::{CLASSIFY_SIM, CROSSINGS, ClassifyParams, params_sql};
use crate::classify::{SimFacts, classify};
use crate::row::{BadRow, PresenceRow, country};
use crate::rules::Rules;
use crate::sim::{CountryDay, SimDays, Window};

/// Why classification over the store failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The query engine failed (reading the store, spilling, …). The engine's message is part
    /// of this one, not a separate source, so an error chain says it once.
    #[error("classification query: {0}")]
    Engine(DataFusionError),
    /// A column of the query came back in a type that cannot be read.
    #[error("classification query: {0}")]
    Arrow(datafusion::arrow::error::ArrowError),
    /// A row of the store does not hold what ingest writes.
    #[error("presence store row for {field}: {message}")]
    BadRow {
        /// The column at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The consumer of the facts failed (writing them out); it keeps its cause and its
    /// failure class, so a facts file that cannot be written mid-stream is the state's fault
    /// as it is at the end.
    #[error("{source}")]
    Sink {
        /// What the consumer said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// Its failure class.
        failure: borderflow_core::Failure,
    },
}

impl From<DataFusionError> for PlanError {
    fn from(e: DataFusionError) -> Self {
        PlanError::Engine(e)
    }
}

impl From<datafusion::arrow::error::ArrowError> for PlanError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        PlanError::Arrow(e)
    }
}

/// The column of [`window_sql`] holding the day's index in the window (0 = its first day).
const DAY: &str = "day";

/// The SQL that reads the window's presence rows as [`CountryDay`]s, SIM by SIM, from a
/// table named `presence` of [`borderflow_core::schema::presence_schema`] partitioned by
/// `local_date`.
pub fn window_sql(first: NaiveDate, last: NaiveDate) -> String {
    use borderflow_core::schema::presence::*;
    format!(
        "{} ORDER BY {PSEUDONYM}, {DAY}, {COUNTRY}",
        window_rows_sql(first, last)
    )
}

/// [`window_sql`] in no order: one row per SIM, country and day of the window.
fn window_rows_sql(first: NaiveDate, last: NaiveDate) -> String {
    use borderflow_core::schema::presence::*;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let first_day = (first - epoch).num_days();
    format!(
        "SELECT {PSEUDONYM},
                {SIM_COUNTRY},
                {COUNTRY},
                CAST(sum({EVENTS}) AS INT) AS {EVENTS},
                CAST(sum({NIGHT_EVENTS}) AS INT) AS {NIGHT_EVENTS},
                CAST(sum({WEEKDAY_DAY_EVENTS}) AS INT) AS {WEEKDAY_DAY_EVENTS},
                CAST(min({FIRST_MINUTE}) AS INT) AS {FIRST_MINUTE},
                CAST(max({LAST_MINUTE}) AS INT) AS {LAST_MINUTE},
                CAST({LOCAL_DATE} AS INT) - {first_day} AS {DAY}
         FROM presence
         WHERE {LOCAL_DATE} BETWEEN DATE '{first}' AND DATE '{last}'
         GROUP BY {PSEUDONYM}, {SIM_COUNTRY}, {COUNTRY}, {LOCAL_DATE}"
    )
}

/// How the engine classifies: the same rules and facts either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassifyPlan {
    /// Every presence row of the window sorted by SIM and day ([`window_sql`]), streamed to
    /// this process and folded SIM by SIM ([`classify_store`]): flat memory on one machine
    /// (the local engine's).
    Sorted,
    /// One grouped query ([`grouped_sql`]) whose aggregate runs the rules where the rows
    /// are, and whose facts the engine writes itself ([`write_grouped`]): on a cluster, no
    /// presence row and no SIM's facts reach the driver.
    Grouped,
}

/// Classifies every SIM with presence rows in the window that starts on `first` (history
/// included) by the sorted plan, passing each SIM's pseudonym and facts to `sink`, in
/// pseudonym order. Returns the SIMs classified.
pub async fn classify_store<E>(
    ctx: &SessionContext,
    store_dir: &Path,
    m: CountryCode,
    first: NaiveDate,
    window: Window,
    rules: &Rules,
    mut sink: impl FnMut(&[u8; 16], &SimFacts) -> Result<(), E>,
) -> Result<u64, PlanError>
where
    E: borderflow_core::FailureKind + std::error::Error + Send + Sync + 'static,
{
    register_store(ctx, store_dir).await?;
    let last = first + chrono::Days::new(window.len() as u64 - 1);
    let mut stream = ctx
        .sql(&window_sql(first, last))
        .await?
        .execute_stream()
        .await?;
    // SIMs are gathered into tasks of SIMS_PER_TASK and classified on the blocking pool while
    // this task reads on; results reach `sink` task by task, so in pseudonym order.
    let rules = std::sync::Arc::new(rules.clone());
    let mut in_flight: VecDeque<ClassifyTask> = VecDeque::new();
    let mut task: Vec<([u8; 16], SimDays)> = Vec::with_capacity(SIMS_PER_TASK);
    let mut current: Option<([u8; 16], SimDays)> = None;
    let mut sims = 0u64;
    let mut deliver = |facts: Vec<([u8; 16], SimFacts)>| -> Result<(), PlanError> {
        for (p, f) in &facts {
            sims += 1;
            sink(p, f).map_err(|e| PlanError::Sink {
                failure: e.failure(),
                source: Box::new(e),
            })?;
        }
        Ok(())
    };
    let spawn = |task: Vec<([u8; 16], SimDays)>| -> ClassifyTask {
        let rules = std::sync::Arc::clone(&rules);
        tokio::task::spawn_blocking(move || {
            task.iter()
                .map(|(p, sim)| (*p, classify(sim, m, window, &rules)))
                .collect()
        })
    };
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let cols = Columns::of(&batch)?;
        for i in 0..batch.num_rows() {
            let pseudonym: [u8; 16] =
                cols.pseudonym
                    .value(i)
                    .try_into()
                    .map_err(|_| PlanError::BadRow {
                        field: "pseudonym",
                        message: "not 16 bytes".into(),
                    })?;
            let row = cols.row(i, window)?;
            match &mut current {
                Some((p, sim)) if *p == pseudonym => sim.rows.push(row),
                _ => {
                    let sim = SimDays {
                        sim_country: country(cols.sim_country.value(i), "sim_country")?,
                        rows: vec![row],
                    };
                    if let Some(done) = current.replace((pseudonym, sim)) {
                        task.push(done);
                    }
                }
            }
        }
        if task.len() >= SIMS_PER_TASK {
            in_flight.push_back(spawn(std::mem::take(&mut task)));
            while in_flight.len() > TASKS_IN_FLIGHT {
                if let Some(oldest) = in_flight.pop_front() {
                    deliver(joined(oldest).await)?;
                }
            }
        }
    }
    task.extend(current.take());
    in_flight.push_back(spawn(task));
    while let Some(oldest) = in_flight.pop_front() {
        deliver(joined(oldest).await)?;
    }
    Ok(sims)
}

/// SIMs classified by one task of [`classify_store`]: enough that handing them to another
/// thread costs nothing next to their rules.
const SIMS_PER_TASK: usize = 1024;

/// Tasks of [`classify_store`] running while it reads on: one per core besides the reader's
/// share, bounded so memory holds a few thousand SIMs' rows at most.
const TASKS_IN_FLIGHT: usize = 4;

/// One task of [`classify_store`]: its SIMs' pseudonyms and facts, in order.
type ClassifyTask = tokio::task::JoinHandle<Vec<([u8; 16], SimFacts)>>;

/// The facts of a finished task; a panic in the rules is raised again here, as it would have
/// been had they run on this thread.
async fn joined(task: ClassifyTask) -> Vec<([u8; 16], SimFacts)> {
    match task.await {
        Ok(facts) => facts,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a classification task was cancelled: {e}"),
    }
}

/// The SQL that classifies every SIM of the window where its rows are: [`window_sql`]'s
/// rows grouped by pseudonym into [`crate::aggregate::CLASSIFY_SIM`], one row of facts per
/// SIM, in pseudonym order (the order [`classify_store`] gives). The function must be
/// registered in the session ([`crate::aggregate::classify_sim`]).
pub fn grouped_sql(params: &ClassifyParams, first: NaiveDate, last: NaiveDate) -> String {
    use borderflow_core::schema::presence::PSEUDONYM;
    format!(
        "{} ORDER BY {PSEUDONYM}",
        grouped_rows_sql(params, first, last)
    )
}

/// [`grouped_sql`] in no order.
fn grouped_rows_sql(params: &ClassifyParams, first: NaiveDate, last: NaiveDate) -> String {
    use borderflow_core::schema::presence::*;
    let rows = window_rows_sql(first, last);
    format!(
        "SELECT {PSEUDONYM},
                {CLASSIFY_SIM}({params}, {SIM_COUNTRY}, {COUNTRY}, {EVENTS}, {NIGHT_EVENTS},
                    {WEEKDAY_DAY_EVENTS}, {FIRST_MINUTE}, {LAST_MINUTE}, {DAY}) AS {FACTS}
         FROM ({rows}) AS window_rows
         GROUP BY {PSEUDONYM}",
        params = params_sql(params),
    )
}

/// The column of [`grouped_sql`] holding each SIM's facts.
pub const FACTS: &str = "facts";

/// The table [`write_grouped`] registers the per-SIM rows under, for the two files' queries.
const PER_SIM_TABLE: &str = "classified_per_sim";

/// The column of [`crossings_sql`]'s inner query holding one crossing pair.
const CROSSING: &str = "crossing";

/// An Arrow type spelled for `arrow_cast`, so each column is written in exactly the facts
/// schema's type (a string read back from Parquet would otherwise be a view).
fn arrow_cast(expr: &str, to: &DataType) -> String {
    format!("arrow_cast({expr}, '{to}')")
}

/// The columns of `schema` (a facts file's), each in exactly its type: the pseudonym as it
/// is, every other column the field of that name in the struct column `from`.
fn facts_columns(schema: &datafusion::arrow::datatypes::Schema, from: &str) -> String {
    use borderflow_core::schema::facts::PSEUDONYM;
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let value = if f.name() == PSEUDONYM {
                PSEUDONYM.to_string()
            } else {
                format!("{from}['{}']", f.name())
            };
            format!("{} AS {}", arrow_cast(&value, f.data_type()), f.name())
        })
        .collect();
    columns.join(", ")
}

/// The SQL that makes `sims.parquet`'s rows, in the facts schema's columns and types and in
/// pseudonym order, from the per-SIM rows of [`grouped_sql`] registered as the table
/// `PER_SIM_TABLE`.
fn sims_sql() -> String {
    use borderflow_core::schema::facts::PSEUDONYM;
    let columns = facts_columns(&borderflow_core::schema::facts_sims_schema(), FACTS);
    format!("SELECT {columns} FROM {PER_SIM_TABLE} ORDER BY {PSEUDONYM}")
}

/// The SQL that makes `crossings.parquet`'s rows (one per SIM and pair, in the facts
/// schema's columns and types, in pseudonym and pair order) from the per-SIM rows.
fn crossings_sql() -> String {
    use borderflow_core::schema::facts::{FROM_COUNTRY, PSEUDONYM, TO_COUNTRY};
    let columns = facts_columns(&borderflow_core::schema::facts_crossings_schema(), CROSSING);
    format!(
        "SELECT {columns} FROM (
             SELECT {PSEUDONYM}, unnest({FACTS}['{CROSSINGS}']) AS {CROSSING}
             FROM {PER_SIM_TABLE}
         ) AS pairs
         ORDER BY {PSEUDONYM}, {FROM_COUNTRY}, {TO_COUNTRY}"
    )
}

/// Where [`write_grouped`]'s engine writes: a directory for the per-SIM rows between its
/// jobs (scratch, removed by the caller), and the two facts files.
#[derive(Debug, Clone)]
pub struct GroupedOutput {
    /// The per-SIM rows of the grouped query, as the engine's files.
    pub per_sim_dir: std::path::PathBuf,
    /// `sims.parquet`.
    pub sims: std::path::PathBuf,
    /// `crossings.parquet`.
    pub crossings: std::path::PathBuf,
}

/// Classifies every SIM of the window that starts on `first` (history included) by the
/// grouped plan and has the engine write the facts files itself: on a cluster, executors
/// run the rules where the rows are and write the files, so neither a presence row nor a
/// SIM's facts reach this process. The paths must be ones the engine's workers can write
/// (shared storage on a cluster). `options` are the facts files' Parquet settings.
#[allow(clippy::too_many_arguments)] // the window's full description, each named
pub async fn write_grouped(
    ctx: &SessionContext,
    store_dir: &Path,
    m: CountryCode,
    first: NaiveDate,
    window: Window,
    rules: &Rules,
    out: &GroupedOutput,
    options: TableParquetOptions,
) -> Result<(), PlanError> {
    register_store(ctx, store_dir).await?;
    if datafusion::execution::FunctionRegistry::udaf(ctx, CLASSIFY_SIM).is_err() {
        ctx.register_udaf(crate::aggregate::classify_sim());
    }
    let last = first + chrono::Days::new(window.len() as u64 - 1);
    let params = ClassifyParams {
        measuring_country: m.as_str().to_string(),
        window,
        rules: rules.clone(),
    };
    // 1. The rules where the rows are; one file per partition of per-SIM rows.
    let per_sim_dir = format!("{}/", out.per_sim_dir.display());
    ctx.sql(&grouped_rows_sql(&params, first, last))
        .await?
        .write_parquet(&per_sim_dir, DataFrameWriteOptions::new(), None)
        .await?;
    // 2. The two facts files, each one file in pseudonym order.
    ctx.deregister_table(PER_SIM_TABLE)?;
    ctx.register_parquet(PER_SIM_TABLE, &per_sim_dir, ParquetReadOptions::default())
        .await?;
    for (sql, path) in [(sims_sql(), &out.sims), (crossings_sql(), &out.crossings)] {
        ctx.sql(&sql)
            .await?
            .write_parquet(
                &path.display().to_string(),
                DataFrameWriteOptions::new().with_single_file_output(true),
                Some(options.clone()),
            )
            .await?;
    }
    ctx.deregister_table(PER_SIM_TABLE)?;
    Ok(())
}

/// Registers the store as the table `presence`, partitioned by `local_date`.
async fn register_store(ctx: &SessionContext, store_dir: &Path) -> Result<(), PlanError> {
    let options = ParquetReadOptions::default().table_partition_cols(vec![(
        borderflow_core::schema::presence::LOCAL_DATE.to_string(),
        DataType::Date32,
    )]);
    ctx.register_parquet("presence", &format!("{}/", store_dir.display()), options)
        .await?;
    Ok(())
}

/// The columns of one batch of [`window_sql`], cast to the types read here (the store's
/// strings may come back as views).
struct Columns {
    pseudonym: FixedSizeBinaryArray,
    sim_country: StringArray,
    country: StringArray,
    events: Int32Array,
    night_events: Int32Array,
    weekday_day_events: Int32Array,
    first_minute: Int32Array,
    last_minute: Int32Array,
    day: Int32Array,
}

impl Columns {
    fn of(batch: &RecordBatch) -> Result<Self, PlanError> {
        use borderflow_core::schema::presence::*;
        let typed = |name: &'static str, to: &DataType| -> Result<ArrayRef, PlanError> {
            let column = batch.column_by_name(name).ok_or(PlanError::BadRow {
                field: name,
                message: "missing from the query's output".into(),
            })?;
            Ok(cast(column, to)?)
        };
        let string = |name| -> Result<StringArray, PlanError> {
            Ok(typed(name, &DataType::Utf8)?.as_string::<i32>().clone())
        };
        let int = |name| -> Result<Int32Array, PlanError> {
            Ok(typed(name, &DataType::Int32)?
                .as_primitive::<Int32Type>()
                .clone())
        };
        Ok(Self {
            pseudonym: typed(PSEUDONYM, &DataType::FixedSizeBinary(16))?
                .as_fixed_size_binary()
                .clone(),
            sim_country: string(SIM_COUNTRY)?,
            country: string(COUNTRY)?,
            events: int(EVENTS)?,
            night_events: int(NIGHT_EVENTS)?,
            weekday_day_events: int(WEEKDAY_DAY_EVENTS)?,
            first_minute: int(FIRST_MINUTE)?,
            last_minute: int(LAST_MINUTE)?,
            day: int(DAY)?,
        })
    }

    fn row(&self, i: usize, window: Window) -> Result<CountryDay, PlanError> {
        let v = |a: &Int32Array| if a.is_null(i) { -1 } else { a.value(i) };
        let row = PresenceRow {
            country: self.country.value(i),
            events: v(&self.events),
            night_events: v(&self.night_events),
            weekday_day_events: v(&self.weekday_day_events),
            first_minute: v(&self.first_minute),
            last_minute: v(&self.last_minute),
            day: v(&self.day),
        };
        Ok(row.check(window)?)
    }
}

impl From<BadRow> for PlanError {
    fn from(e: BadRow) -> Self {
        PlanError::BadRow {
            field: e.field,
            message: e.message,
        }
    }
}

impl borderflow_core::FailureKind for PlanError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            // A presence file that does not read is the state's fault; the engine's own
            // errors (out of memory, a spill that failed) too.
            PlanError::Engine(_) | PlanError::Arrow(_) | PlanError::BadRow { .. } => Failure::State,
            PlanError::Sink { failure, .. } => *failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borderflow_core::schema::presence_schema;
    use borderflow_core::{Failure, FailureKind};
    use datafusion::arrow::array::UInt16Array;
    use datafusion::parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    /// A facts consumer that fails as a full disk does, on its second SIM.
    #[derive(Debug, thiserror::Error)]
    #[error("facts file: no space left on device")]
    struct DiskFull;

    impl FailureKind for DiskFull {
        fn failure(&self) -> Failure {
            Failure::State
        }
    }

    /// A presence store of one day with three SIMs of Kenya, at home.
    fn store(dir: &Path) {
        let day = dir.join("local_date=2025-01-01");
        std::fs::create_dir_all(&day).unwrap();
        let n = 3;
        let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        let ints = |v: i32| Arc::new(Int32Array::from(vec![v; n])) as ArrayRef;
        let minutes = |v: u16| Arc::new(UInt16Array::from(vec![v; n])) as ArrayRef;
        let ids: Vec<[u8; 16]> = (0..n as u8).map(|i| [i; 16]).collect();
        let batch = RecordBatch::try_new(
            presence_schema(),
            vec![
                Arc::new(FixedSizeBinaryArray::try_from_iter(ids.into_iter()).unwrap()),
                text("KEN"),
                text("KEN"),
                Arc::new(StringArray::from(vec![None::<&str>; n])),
                ints(5),
                ints(2),
                ints(1),
                minutes(100),
                minutes(1200),
            ],
        )
        .unwrap();
        let file = std::fs::File::create(day.join("part-0.parquet")).unwrap();
        let mut w = ArrowWriter::try_new(file, presence_schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn a_facts_consumer_failing_mid_stream_keeps_its_cause_and_its_failure_class() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let ctx = SessionContext::new();
        let window = Window {
            history: 0,
            lookback: 1,
            period: 1,
            first_weekday: 2,
        };
        let mut taken = 0;
        let err = runtime
            .block_on(classify_store(
                &ctx,
                dir.path(),
                "KEN".parse().unwrap(),
                NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                window,
                &Rules::default(),
                |_, _| {
                    taken += 1;
                    if taken == 2 { Err(DiskFull) } else { Ok(()) }
                },
            ))
            .unwrap_err();
        // The state's failure (exit 6), as when the same file fails at the end; not internal.
        assert_eq!(err.failure(), Failure::State);
        assert_eq!(err.to_string(), "facts file: no space left on device");
        let source = std::error::Error::source(&err).expect("the consumer's error is kept");
        assert!(source.downcast_ref::<DiskFull>().is_some());
        assert_eq!(taken, 2, "nothing is consumed after the failure");
    }
}
