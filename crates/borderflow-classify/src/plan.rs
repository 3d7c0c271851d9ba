//! The classification plans. Both read the presence store's rows for a window, summed over
//! counterpart countries, and apply the same rules ([`crate::classify()`]) to each SIM's rows:
//!
//! - [`ClassifyPlan::Scan`] (the local engine): [`crate::scan`] reads the store's files
//!   itself, one range of pseudonyms at a time within the memory limit, and classifies each
//!   SIM's rows on every core of this process.
//! - [`ClassifyPlan::Grouped`] (a cluster): one grouped query whose aggregate
//!   ([`crate::aggregate`]) runs the rules where the rows are, and [`write_grouped`] has the
//!   engine write the facts files itself, so nothing per SIM streams back to the driver.

use std::path::Path;

use borderflow_core::CountryCode;
use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::error::DataFusionError;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::aggregate::{CLASSIFY_SIM, CROSSINGS, ClassifyParams, params_sql};
use crate::row::BadRow;
use crate::rules::Rules;
use crate::sim::Window;

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
    /// A file of the store cannot be opened or read.
    #[error("presence store file {}: {message}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the reader said.
        message: String,
    },
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

/// The column of [`window_rows_sql`] holding the day's index in the window (0 = its first day).
const DAY: &str = "day";

/// The SQL that reads the window's presence rows as [`CountryDay`](crate::CountryDay)s, in no
/// order: one row per SIM, country and day of the window, summed over counterpart countries,
/// from a table named `presence` of [`borderflow_core::schema::presence_schema`] partitioned
/// by `local_date`.
pub fn window_rows_sql(first: NaiveDate, last: NaiveDate) -> String {
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
    /// The store's files read in this process range of pseudonyms by range, each SIM's rows
    /// gathered and classified on every core ([`crate::scan::classify_partitions`]): the
    /// local engine's.
    Scan,
    /// One grouped query ([`grouped_sql`]) whose aggregate runs the rules where the rows
    /// are, and whose facts the engine writes itself ([`write_grouped`]): on a cluster, no
    /// presence row and no SIM's facts reach the driver.
    Grouped,
}

/// The SQL that classifies every SIM of the window where its rows are: [`window_rows_sql`]'s
/// rows grouped by pseudonym into [`crate::aggregate::CLASSIFY_SIM`], one row of facts per
/// SIM, in pseudonym order (the order [`crate::scan::classify_partitions`] gives). The function must be
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
            PlanError::Engine(_)
            | PlanError::Arrow(_)
            | PlanError::Read { .. }
            | PlanError::BadRow { .. } => Failure::State,
            PlanError::Sink { failure, .. } => *failure,
        }
    }
}
