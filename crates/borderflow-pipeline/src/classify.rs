//! The classify stage: the presence store's look-back for one reference period → per-SIM
//! facts (category, partner, residence, crossings) under `state/classified/<period>/`.
//!
//! The facts never leave the state directory: they hold pseudonyms. What leaves is made from
//! them by the privacy stage. The stage writes into a staging directory and renames it into
//! place only when everything is written, so a crash leaves the previous facts or none.

use borderflow_core::{Failure, FailureKind, failpoint};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use borderflow_classify::codec::FactsColumns;
use borderflow_classify::plan::{GroupedOutput, PlanError, write_grouped};
use borderflow_classify::scan::{ScanLimits, StorePartition, classify_partitions};
use borderflow_classify::{SimFacts, Window};
use borderflow_core::schema::facts::{CROSSINGS_FILE, PSEUDONYM, SIMS_FILE};
use borderflow_core::schema::{facts_crossings_schema, facts_sims_schema};
use borderflow_core::{PathError, ScratchDir, StagedDir, StateLayout, WithPath};
use borderflow_presence::{PresenceStore, StoreError};
use chrono::{Datelike, Days, NaiveDate};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryBuilder, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::config::{ParquetColumnOptions, TableParquetOptions};
use datafusion::error::DataFusionError;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::engine::{Engine, worker_path};
use crate::pipeline::CLASSIFY_LOOKBACK_DAYS;
use crate::reports::{ClassifyReport, ReportError, ReturnMigrants};
use crate::{Period, Pipeline};

/// Why a classify run failed. Nothing changed in the state directory.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The presence store is missing or unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another run holds the state directory.
    #[error(transparent)]
    Lock(#[from] crate::LockError),
    /// The store holds no day of the period's look-back.
    #[error(
        "the presence store holds no date from {first} to {last} (the look-back of period {period}); {held}: give the files of that period, or release a period they cover"
    )]
    NoPresence {
        /// The period.
        period: String,
        /// First day of its look-back.
        first: NaiveDate,
        /// Last day of its look-back.
        last: NaiveDate,
        /// The dates the store holds, in words.
        held: String,
    },
    /// The store holds days of the look-back but none of the period itself: its statistics
    /// would be last year's, labelled as this period's.
    #[error(
        "the presence store holds no date of period {period} itself (it holds {held}): give the files of that period, or release a period they cover"
    )]
    NoDataInPeriod {
        /// The period.
        period: String,
        /// The dates the store holds, in words.
        held: String,
    },
    /// The state directory is another store's, or its ledger is missing.
    #[error(transparent)]
    Binding(#[from] crate::BindingError),
    /// The engine failed or a stored row is malformed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A file-system operation on the state directory failed.
    #[error(transparent)]
    Io(#[from] PathError),
    /// A facts file could not be written.
    #[error("{}: {source}", path.display())]
    Facts {
        /// The facts file.
        path: PathBuf,
        /// What the Parquet writer said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The run report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The engine could not be started (a local runtime, or a cluster session).
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

fn facts_error(path: &Path, source: parquet::errors::ParquetError) -> ClassifyError {
    ClassifyError::Facts {
        path: path.to_path_buf(),
        source,
    }
}

/// What [`per_day`] counts each day.
enum Daily {
    /// Events.
    Events,
    /// Distinct SIMs seen.
    Sims,
}

/// Events or SIMs per day from `first` to `last` in the presence store (registered as
/// `presence` by the plan); days without a row are absent.
async fn per_day(
    ctx: &datafusion::prelude::SessionContext,
    what: Daily,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<BTreeMap<NaiveDate, u64>, ClassifyError> {
    use borderflow_core::schema::presence::{EVENTS, LOCAL_DATE, PSEUDONYM};
    let value = match what {
        Daily::Events => format!("sum({EVENTS})"),
        Daily::Sims => format!("count(DISTINCT {PSEUDONYM})"),
    };
    let sql = format!(
        "SELECT CAST({LOCAL_DATE} AS INT) AS day, CAST({value} AS BIGINT) AS n
         FROM presence WHERE {LOCAL_DATE} BETWEEN DATE '{first}' AND DATE '{last}'
         GROUP BY {LOCAL_DATE}"
    );
    let engine = |e: DataFusionError| ClassifyError::from(PlanError::Engine(e));
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(engine)?
        .collect()
        .await
        .map_err(engine)?;
    let mut out = BTreeMap::new();
    for b in batches {
        let days = b
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        let events = b
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            let day = NaiveDate::from_epoch_days(days.value(i));
            if let Some(day) = day {
                out.insert(day, u64::try_from(events.value(i)).unwrap_or(0));
            }
        }
    }
    Ok(out)
}

/// The directory of a period's facts under the state directory.
pub fn facts_dir(state_dir: &Path, period: Period) -> PathBuf {
    StateLayout::new(state_dir).facts(&period.to_string())
}

/// Each row of the facts in `dir` (both files) as a hash of its file, its columns' names and
/// types and its values, sorted: two runs concluded the same facts exactly when these are
/// equal, whatever their files' bytes, row groups and row order (how the tests and
/// `borderflow bench` compare the plans and the engines).
pub fn facts_rows(dir: &Path) -> Result<Vec<u64>, ClassifyError> {
    use datafusion::arrow::util::display::array_value_to_string;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    for name in [SIMS_FILE, CROSSINGS_FILE] {
        let path = dir.join(name);
        let file = File::open(&path).with_path(&path)?;
        let reader =
            ParquetRecordBatchReader::try_new(file, BATCH).map_err(|e| facts_error(&path, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| facts_error(&path, e.into()))?;
            for i in 0..batch.num_rows() {
                // Deterministic: the standard hasher with its fixed keys.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                name.hash(&mut h);
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    field.name().hash(&mut h);
                    field.data_type().to_string().hash(&mut h);
                    array_value_to_string(column, i)
                        .map_err(|e| facts_error(&path, e.into()))?
                        .hash(&mut h);
                }
                out.push(h.finish());
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

pub use borderflow_classify::plan::ClassifyPlan;

/// Classifies every SIM in the store for `period` into `state/classified/<period>/`,
/// replacing facts an earlier run wrote for it, with the plan of the pipeline's engine.
pub fn run(p: &Pipeline, period: Period) -> Result<ClassifyReport, ClassifyError> {
    run_with(p, period, Engine::of(&p.engine).classify_plan())
}

/// [`run`] with the plan given: a grouped plan on the local engine runs the cluster's
/// aggregate in this process (how tests and `borderflow bench` compare the two).
pub fn run_with(
    p: &Pipeline,
    period: Period,
    plan: ClassifyPlan,
) -> Result<ClassifyReport, ClassifyError> {
    let started = Instant::now();
    crate::binding::check(p)?;
    let lock = crate::StateLock::for_run(&p.state_dir)?;
    let layout = StateLayout::new(&p.state_dir);
    lock.clear_leftovers(&layout)?;
    crate::binding::check(p)?;
    let (store, key_fingerprint) = PresenceStore::existing(&layout.presence())?;
    // A delivery killed before it was committed is not read: its files go first.
    store.roll_back()?;
    // Every partition's footer is read first, so a corrupt one is named by its file.
    let dates = store.check_partitions()?;
    let last = period.last();
    let lookback = CLASSIFY_LOOKBACK_DAYS as u64;
    let first = last - Days::new(lookback - 1);
    let held = dates.iter().filter(|d| **d >= first && **d <= last).count() as u32;
    if held == 0 {
        return Err(ClassifyError::NoPresence {
            period: period.to_string(),
            first,
            last,
            held: match (dates.first(), dates.last()) {
                (Some(a), Some(b)) => format!("it holds {a} to {b}"),
                _ => "it is empty".into(),
            },
        });
    }
    let own = dates
        .iter()
        .filter(|d| **d >= period.first() && **d <= last)
        .count();
    if own == 0 {
        return Err(ClassifyError::NoDataInPeriod {
            period: period.to_string(),
            held: match (dates.first(), dates.last()) {
                (Some(a), Some(b)) => format!("{a} to {b}"),
                _ => "nothing".into(),
            },
        });
    }
    let history_first = first - Days::new(lookback);
    let return_migrants = if p.classify.return_migrants {
        let missing = dates.first().is_none_or(|d| *d > history_first);
        ReturnMigrants {
            available: true,
            reason: missing.then(|| {
                format!(
                    "measured as configured; the store begins on {}, after {history_first} (24 months before the period's end): return migrants are undercounted",
                    dates.first().map_or("-".into(), |d| d.to_string())
                )
            }),
        }
    } else {
        ReturnMigrants {
            available: false,
            reason: Some(borderflow_release::NotMeasured::ReturnMigrantsOff.reason()),
        }
    };
    let history = if return_migrants.available {
        lookback
    } else {
        0
    };
    let window_first = first - Days::new(history);
    let window = Window {
        history: history as u16,
        lookback: lookback as u16,
        period: ((last - period.first()).num_days() + 1) as u16,
        first_weekday: window_first.weekday().num_days_from_monday() as u8,
    };

    let dir = facts_dir(&p.state_dir, period);
    let run = std::process::id().to_string();
    let staged = StagedDir::create_at(layout.staging("classify", &run), &dir)?;
    let staging = staged.path();
    let result = (|| {
        let (sims, tally, events, seen) = match plan {
            ClassifyPlan::Scan => {
                let partitions = dates
                    .iter()
                    .filter(|d| **d >= window_first && **d <= last)
                    .map(|d| {
                        Ok(StorePartition {
                            date: *d,
                            files: store.date_files(*d)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let limits = ScanLimits {
                    threads: crate::engine::partitions(&p.engine),
                    // Half the limit for the gathered rows; the rest for reading, the facts
                    // and the writers.
                    memory_bytes: p.engine.memory_limit_mb.saturating_mul(1 << 20) / 2,
                };
                let mut out = FactsWriter::create(staging)?;
                let sink = |pseudonym: &[u8; 16], facts: &SimFacts| out.push(pseudonym, facts);
                let scanned = classify_partitions(
                    &partitions,
                    p.measuring_country,
                    window_first,
                    window,
                    &p.classify,
                    limits,
                    sink,
                )?;
                let within = |counts: BTreeMap<NaiveDate, u64>, from: NaiveDate| {
                    counts
                        .into_iter()
                        .filter(|(d, _)| *d >= from && *d <= last)
                        .collect::<BTreeMap<_, _>>()
                };
                (
                    scanned.sims,
                    out.finish()?,
                    within(scanned.events_per_day, period.first()),
                    within(scanned.sims_per_day, first),
                )
            }
            ClassifyPlan::Grouped => {
                // The engine's spill files and per-SIM rows (pseudonyms) stay in the state.
                let spill = ScratchDir::create(layout.staging("classify-spill", &run))?;
                let (runtime, ctx) = Engine::of(&p.engine).session(spill.path())?;
                // The engine's workers write the facts, at paths they can find.
                let staging = worker_path(staging)?;
                let out = GroupedOutput {
                    per_sim_dir: worker_path(&spill.path().join("per-sim"))?,
                    sims: staging.join(SIMS_FILE),
                    crossings: staging.join(CROSSINGS_FILE),
                };
                runtime.block_on(write_grouped(
                    &ctx,
                    &worker_path(store.dir())?,
                    p.measuring_country,
                    window_first,
                    window,
                    &p.classify,
                    &out,
                    facts_parquet_options(),
                ))?;
                let tally = runtime.block_on(tally_written(&ctx, &staging))?;
                let events =
                    runtime.block_on(per_day(&ctx, Daily::Events, period.first(), last))?;
                let seen = runtime.block_on(per_day(&ctx, Daily::Sims, first, last))?;
                (tally.0, tally.1, events, seen)
            }
        };
        Ok::<_, ClassifyError>((sims, tally, events, seen))
    })();
    let (sims, tally, events_per_day, seen) = result?;
    // Every day of the look-back, zeros included: the public domain of the daily series.
    let sims_per_day = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| (d, seen.get(&d).copied().unwrap_or(0)))
        .collect();
    let report = ClassifyReport {
        period: period.to_string(),
        window_first: Some(window_first),
        lookback_first: first,
        lookback_last: last,
        missing_days: lookback as u32 - held,
        return_migrants,
        key_fingerprint,
        sims,
        insufficient: tally.insufficient,
        unclassified: tally.unclassified,
        open_spells: tally.open_spells,
        categories: tally.categories,
        crossing_pairs: tally.crossing_pairs,
        events_per_day,
        sims_per_day,
        rules: p.classify.clone(),
        dir: dir.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    report.write(staging)?;
    failpoint::hit("classify:staged");
    // The staged facts replace the old ones whole: a reader sees the old facts or the new.
    staged.commit()?;
    failpoint::hit("classify:committed");
    Ok(report)
}

/// The zstd level of the facts files, whichever engine writes them.
const FACTS_ZSTD_LEVEL: i32 = 1;

/// The facts files' Parquet settings for an engine's writer: those [`FactsWriter`] uses.
fn facts_parquet_options() -> TableParquetOptions {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some(format!("zstd({FACTS_ZSTD_LEVEL})"));
    options.column_specific_options.insert(
        PSEUDONYM.to_string(),
        ParquetColumnOptions {
            dictionary_enabled: Some(false),
            ..Default::default()
        },
    );
    options
}

/// The report's tallies of the facts an engine wrote in `dir`, counted by the engine (a
/// cluster's executors): only the counts reach this process. Returns the SIMs classified and
/// the tallies; facts holding a SIM more than once are refused
/// ([`crate::engine::EngineError::Repeated`]).
pub async fn tally_written(
    ctx: &datafusion::prelude::SessionContext,
    dir: &Path,
) -> Result<(u64, Tally), ClassifyError> {
    use borderflow_core::schema::facts::{CATEGORY, OPEN_SPELL, UNCLASSIFIED_REASON};
    const SIMS: &str = "written_facts_sims";
    const CROSSINGS: &str = "written_facts_crossings";
    let engine = |e: DataFusionError| ClassifyError::from(PlanError::Engine(e));
    for (table, file) in [(SIMS, SIMS_FILE), (CROSSINGS, CROSSINGS_FILE)] {
        let path = dir.join(file);
        ctx.deregister_table(table).map_err(engine)?;
        ctx.register_parquet(
            table,
            &path.display().to_string(),
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await
        .map_err(engine)?;
    }
    let query = |sql: String| async move {
        ctx.sql(&sql)
            .await
            .map_err(engine)?
            .collect()
            .await
            .map_err(engine)
    };
    let by_category = query(format!(
        "SELECT CAST({CATEGORY} AS VARCHAR), CAST(count(*) AS BIGINT),
                CAST(sum(CASE WHEN {OPEN_SPELL} THEN 1 ELSE 0 END) AS BIGINT),
                CAST({UNCLASSIFIED_REASON} AS VARCHAR)
         FROM {SIMS} GROUP BY {CATEGORY}, {UNCLASSIFIED_REASON}"
    ))
    .await?;
    let pairs = query(format!("SELECT CAST(count(*) AS BIGINT) FROM {CROSSINGS}")).await?;
    // A task that wrote its per-SIM rows and was lost before it said so is run again: its
    // rows would then be written twice. Such facts are refused here, not published from.
    let repeated = query(format!(
        "SELECT CAST(count(*) - count(DISTINCT {PSEUDONYM}) AS BIGINT) FROM {SIMS}"
    ))
    .await?;
    for table in [SIMS, CROSSINGS] {
        ctx.deregister_table(table).map_err(engine)?;
    }
    let count = |a: &ArrayRef, i: usize| u64::try_from(a.as_primitive::<Int64Type>().value(i));
    let mut sims = 0u64;
    let mut tally = Tally::default();
    for b in &by_category {
        let category = cast(b.column(0), &DataType::Utf8).map_err(|e| engine(e.into()))?;
        let category = category.as_string::<i32>();
        let reason = cast(b.column(3), &DataType::Utf8).map_err(|e| engine(e.into()))?;
        let reason = reason.as_string::<i32>();
        for i in 0..b.num_rows() {
            let n = count(b.column(1), i).unwrap_or(0);
            if category.is_null(i) {
                tally.insufficient += n;
                if !reason.is_null(i) {
                    *tally
                        .unclassified
                        .entry(reason.value(i).to_string())
                        .or_default() += n;
                }
            } else {
                *tally
                    .categories
                    .entry(category.value(i).to_string())
                    .or_default() += n;
            }
            sims += n;
            tally.open_spells += count(b.column(2), i).unwrap_or(0);
        }
    }
    for b in &pairs {
        for i in 0..b.num_rows() {
            tally.crossing_pairs += count(b.column(0), i).unwrap_or(0);
        }
    }
    let repeated: u64 = repeated
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(|i| count(b.column(0), i).unwrap_or(0)))
        .sum();
    if repeated > 0 {
        return Err(ClassifyError::Engine(
            crate::engine::EngineError::Repeated {
                path: dir.join(SIMS_FILE),
                repeated,
            },
        ));
    }
    Ok((sims, tally))
}

/// What the run report counts of a period's facts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// SIMs not classifiable.
    pub insufficient: u64,
    /// The not classifiable by reason.
    pub unclassified: BTreeMap<String, u64>,
    /// SIMs whose last spell is still open.
    pub open_spells: u64,
    /// SIMs by category.
    pub categories: BTreeMap<String, u64>,
    /// Crossing pairs, all SIMs together.
    pub crossing_pairs: u64,
}

/// Writes facts in batches of [`BATCH`] SIMs to `sims.parquet` and `crossings.parquet`.
struct FactsWriter {
    sims: (ArrowWriter<File>, PathBuf),
    crossings: (ArrowWriter<File>, PathBuf),
    pending: Vec<([u8; 16], SimFacts)>,
    tally: Tally,
}

const BATCH: usize = 8192;

impl FactsWriter {
    fn create(dir: &Path) -> Result<Self, ClassifyError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(FACTS_ZSTD_LEVEL).expect("a valid level"),
            ))
            .set_column_dictionary_enabled(PSEUDONYM.into(), false)
            .build();
        let open = |name: &str, schema: SchemaRef| {
            let path = dir.join(name);
            let f = File::create(&path).with_path(&path)?;
            let w = ArrowWriter::try_new(f, schema, Some(props.clone()))
                .map_err(|e| facts_error(&path, e))?;
            Ok::<_, ClassifyError>((w, path))
        };
        Ok(Self {
            sims: open(SIMS_FILE, facts_sims_schema())?,
            crossings: open(CROSSINGS_FILE, facts_crossings_schema())?,
            pending: Vec::with_capacity(BATCH),
            tally: Tally::default(),
        })
    }

    fn push(&mut self, pseudonym: &[u8; 16], facts: &SimFacts) -> Result<(), ClassifyError> {
        let t = &mut self.tally;
        match facts.category {
            Some(c) => *t.categories.entry(c.as_str().to_string()).or_default() += 1,
            None => {
                t.insufficient += 1;
                if let Some(r) = facts.unclassified {
                    *t.unclassified.entry(r.as_str().to_string()).or_default() += 1;
                }
            }
        }
        t.open_spells += u64::from(facts.open_spell);
        t.crossing_pairs += facts.crossings.len() as u64;
        self.pending.push((*pseudonym, facts.clone()));
        if self.pending.len() == BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ClassifyError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let n = self.pending.len();
        let mut pseudonym = FixedSizeBinaryBuilder::with_capacity(n, 16);
        let mut facts = FactsColumns::default();
        let mut x_pseudonym = FixedSizeBinaryBuilder::new(16);
        let mut x_from = StringBuilder::new();
        let mut x_to = StringBuilder::new();
        for (p, f) in &self.pending {
            pseudonym.append_value(p).expect("16 bytes");
            facts.push(f);
            for (a, b) in &f.crossings {
                x_pseudonym.append_value(p).expect("16 bytes");
                x_from.append_value(a.as_str());
                x_to.append_value(b.as_str());
            }
        }
        // Every column by its name in the schema (the codec's, and the pseudonym here).
        let schema = facts_sims_schema();
        let mut pseudonym = Some(Arc::new(pseudonym.finish()) as ArrayRef);
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                PSEUDONYM => pseudonym.take().expect("one pseudonym column"),
                name => facts.take(name).expect("a column of the facts"),
            })
            .collect();
        let sims = RecordBatch::try_new(schema, columns).expect("sims batch matches its schema");
        let crossings = RecordBatch::try_new(
            facts_crossings_schema(),
            vec![
                Arc::new(x_pseudonym.finish()) as ArrayRef,
                Arc::new(x_from.finish()),
                Arc::new(x_to.finish()),
            ],
        )
        .expect("crossings batch matches its schema");
        for ((w, path), batch) in [(&mut self.sims, &sims), (&mut self.crossings, &crossings)] {
            w.write(batch).map_err(|e| facts_error(path, e))?;
        }
        self.pending.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Tally, ClassifyError> {
        self.flush()?;
        for (w, path) in [self.sims, self.crossings] {
            w.close().map_err(|e| facts_error(&path, e))?;
        }
        Ok(self.tally)
    }
}

impl FailureKind for ClassifyError {
    fn failure(&self) -> Failure {
        match self {
            ClassifyError::Store(e) => e.failure(),
            ClassifyError::Lock(e) => e.failure(),
            // The inputs given hold no day of the period: the wrong files, or none yet.
            ClassifyError::NoPresence { .. } | ClassifyError::NoDataInPeriod { .. } => {
                Failure::Input
            }
            ClassifyError::Binding(e) => e.failure(),
            ClassifyError::Plan(e) => e.failure(),
            ClassifyError::Io(e) => e.failure(),
            ClassifyError::Facts { .. } => Failure::State,
            ClassifyError::Report(e) => e.failure(),
            ClassifyError::Engine(e) => e.failure(),
        }
    }
}
