//! The local classification plan: the presence store's files read directly, one range of
//! pseudonyms at a time, merged SIM by SIM in pseudonym order, summed over counterpart
//! countries, put in day order and classified on every core.
//!
//! Why not a query: the rows of one SIM only ever meet each other, and pseudonyms are keyed
//! hashes, so the leading bytes split SIMs evenly and ranges taken in order give SIMs in
//! pseudonym order. The local engine writes each store file in pseudonym order
//! ([`STORE_ORDER`](borderflow_core::schema::presence::STORE_ORDER)), so a range's rows of
//! one file are one sorted run, and the runs of a window's files are merged: no hash table
//! of SIMs, no vector per SIM growing as its rows arrive, no sort of the window. (A file in
//! another order is sorted once read, so stores written before that order was kept still
//! classify the same.) The DataFusion plan this replaces (group by SIM, country and day, then
//! sort every row of the window by SIM) held the window several times over in hash tables
//! and sort buffers; here a row costs [`BYTES_PER_ROW`] and the memory limit sets how many
//! ranges a run reads ([`ScanLimits`]), so a store larger than memory is read in several
//! passes instead of spilled.
//!
//! The per-day totals the release's daily series needs (events of each date, SIMs seen on
//! each date) are counted in the same pass ([`StoreTally`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use borderflow_core::CountryCode;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, UInt16Type};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use crate::classify::{SimFacts, classify};
use crate::plan::PlanError;
use crate::row::{BadRow, PresenceRow, country};
use crate::rules::Rules;
use crate::sim::{CountryDay, SimDays, Window};

/// One date of the presence store: its date and its files (one per delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePartition {
    /// The functional local date its rows are for.
    pub date: NaiveDate,
    /// Its Parquet files.
    pub files: Vec<PathBuf>,
}

/// What the local plan may use: its threads, and the memory the gathered rows of one range
/// may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// Threads reading files and classifying SIMs.
    pub threads: usize,
    /// Bytes of gathered rows one range may hold (the pipeline gives half its memory limit).
    pub memory_bytes: u64,
}

/// Memory one presence row takes once read: 44 bytes (its pseudonym and the row as the rules
/// read it), with headroom for the facts of the range's SIMs.
pub const BYTES_PER_ROW: u64 = 48;

/// What one pass over the store counted besides the SIMs' facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreTally {
    /// SIMs classified.
    pub sims: u64,
    /// Events of each date of the window that has any.
    pub events_per_day: BTreeMap<NaiveDate, u64>,
    /// SIMs with any row on each date of the window that has any.
    pub sims_per_day: BTreeMap<NaiveDate, u64>,
}

/// One presence row as read: its SIM's country, and the row as the rules read it.
#[derive(Debug, Clone, Copy)]
struct Gathered {
    sim_country: CountryCode,
    row: CountryDay,
}

/// A row read from a store file with its SIM's pseudonym: the unit the merge orders.
#[derive(Debug, Clone, Copy)]
struct Keyed {
    pseudonym: [u8; 16],
    gathered: Gathered,
}

impl Keyed {
    /// The pseudonym as a number that orders as its bytes do.
    fn key(&self) -> u128 {
        u128::from_be_bytes(self.pseudonym)
    }
}

/// The rows of one store file within a range, in pseudonym order: one of the runs the merge
/// takes SIMs from.
type Run = Vec<Keyed>;

/// Classifies every SIM with presence rows in `partitions` whose date lies in the window that
/// starts on `first` (history included), passing each SIM's pseudonym and facts to `sink` in
/// pseudonym order, and returns what the pass counted.
pub fn classify_partitions<E>(
    partitions: &[StorePartition],
    m: CountryCode,
    first: NaiveDate,
    window: Window,
    rules: &Rules,
    limits: ScanLimits,
    mut sink: impl FnMut(&[u8; 16], &SimFacts) -> Result<(), E>,
) -> Result<StoreTally, PlanError>
where
    E: borderflow_core::FailureKind + std::error::Error + Send + Sync + 'static,
{
    let mut files: Vec<(u16, &Path)> = partitions
        .iter()
        .filter_map(|p| {
            let day = u16::try_from((p.date - first).num_days()).ok()?;
            (usize::from(day) < window.len()).then_some((day, &p.files))
        })
        .flat_map(|(day, files)| files.iter().map(move |f| (day, f.as_path())))
        .collect();
    // Runs in day order give each SIM its rows in day order.
    files.sort_by_key(|(day, _)| *day);
    let sizes = files
        .iter()
        .map(|(_, f)| rows_in(f))
        .collect::<Result<Vec<u64>, _>>()?;
    let ranges = ranges_for(sizes.iter().sum(), limits.memory_bytes);
    let threads = limits.threads.max(1);
    let mut tally = DayTally::new(window.len());
    for range in 0..ranges {
        let lead = lead_range(range, ranges);
        let runs = read_runs(&files, &sizes, &lead, ranges, threads, window)?;
        let (classified, counted) = merge_and_classify(&runs, &lead, m, window, rules, threads)?;
        drop(runs);
        tally.add(&counted);
        for (pseudonym, facts) in classified {
            sink(&pseudonym, &facts).map_err(|e| PlanError::Sink {
                failure: e.failure(),
                source: Box::new(e),
            })?;
        }
    }
    let by_date = |counts: Vec<u64>| -> BTreeMap<NaiveDate, u64> {
        counts
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(d, n)| (first + chrono::Days::new(d as u64), n))
            .collect()
    };
    Ok(StoreTally {
        sims: tally.sims,
        events_per_day: by_date(tally.events),
        sims_per_day: by_date(tally.seen),
    })
}

/// Per window day, the events and SIMs seen, and the SIMs classified: counted by each thread
/// and added up.
#[derive(Debug, Clone, Default)]
struct DayTally {
    events: Vec<u64>,
    seen: Vec<u64>,
    sims: u64,
}

impl DayTally {
    fn new(days: usize) -> Self {
        Self {
            events: vec![0; days],
            seen: vec![0; days],
            sims: 0,
        }
    }

    fn add(&mut self, other: &Self) {
        for (a, b) in self.events.iter_mut().zip(&other.events) {
            *a += b;
        }
        for (a, b) in self.seen.iter_mut().zip(&other.seen) {
            *a += b;
        }
        self.sims += other.sims;
    }
}

/// How many pseudonym ranges `rows` gathered rows need to stay within `memory_bytes`.
fn ranges_for(rows: u64, memory_bytes: u64) -> usize {
    let need = rows.saturating_mul(BYTES_PER_ROW);
    let ranges = need.div_ceil(memory_bytes.max(1)).max(1);
    usize::try_from(ranges.min(MAX_RANGES)).unwrap_or(1)
}

/// The most ranges a run splits the pseudonyms into: one per value of their first two bytes.
const MAX_RANGES: u64 = 1 << 16;

/// The values of a pseudonym's first two bytes (big-endian) that range `i` of `n` holds:
/// consecutive ranges in order cover every pseudonym once, in pseudonym order.
fn lead_range(i: usize, n: usize) -> std::ops::Range<u32> {
    let bound = |k: usize| (k as u64 * MAX_RANGES / n as u64) as u32;
    bound(i)..bound(i + 1)
}

/// The first two bytes of a pseudonym, as [`lead_range`] reads them.
fn lead(pseudonym: &[u8; 16]) -> u32 {
    u32::from(u16::from_be_bytes([pseudonym[0], pseudonym[1]]))
}

/// Rows of one store file, from its footer.
fn rows_in(path: &Path) -> Result<u64, PlanError> {
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| read_error(path, e))?;
    Ok(u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

fn read_error(path: &Path, e: impl std::fmt::Display) -> PlanError {
    PlanError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The rows of every file of `files` whose pseudonym's first two bytes lie in `lead`, one
/// run per file in the files' order, read by `threads` threads taking files in turn.
fn read_runs(
    files: &[(u16, &Path)],
    sizes: &[u64],
    lead: &std::ops::Range<u32>,
    ranges: usize,
    threads: usize,
    window: Window,
) -> Result<Vec<Run>, PlanError> {
    let next = AtomicUsize::new(0);
    let read = || -> Result<Vec<(usize, Run)>, PlanError> {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((day, path)) = files.get(i) else {
                return Ok(out);
            };
            // The range's share of the file, with room for the unevenness of a hash.
            let expected = sizes[i] / ranges as u64 + if ranges > 1 { 1024 } else { 0 };
            out.push((i, read_file(path, *day, lead, window, expected as usize)?));
        }
    };
    let parts: Vec<Result<Vec<(usize, Run)>, PlanError>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|_| s.spawn(read)).collect();
        workers.into_iter().map(joined).collect()
    });
    let mut runs: Vec<Run> = files.iter().map(|_| Vec::new()).collect();
    for part in parts {
        for (i, run) in part? {
            runs[i] = run;
        }
    }
    Ok(runs)
}

/// A scoped thread's result; a panic in it is raised again here.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match handle.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The rows of one store file of window day `day` in range `lead`, in pseudonym order
/// (sorted here if the file was not written in the store's order).
fn read_file(
    path: &Path,
    day: u16,
    range: &std::ops::Range<u32>,
    window: Window,
    expected: usize,
) -> Result<Run, PlanError> {
    use borderflow_core::schema::presence::*;
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    let builder = countries_by_dictionary(file).map_err(|e| read_error(path, e))?;
    let wanted = [
        PSEUDONYM,
        SIM_COUNTRY,
        COUNTRY,
        EVENTS,
        NIGHT_EVENTS,
        WEEKDAY_DAY_EVENTS,
        FIRST_MINUTE,
        LAST_MINUTE,
    ];
    let mut roots = Vec::with_capacity(wanted.len());
    for name in wanted {
        roots.push(
            builder
                .schema()
                .index_of(name)
                .map_err(|e| read_error(path, e))?,
        );
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| read_error(path, e))?;
    let mut run = Run::with_capacity(expected);
    for batch in reader {
        let batch = batch.map_err(|e| read_error(path, e))?;
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
            if !range.contains(&lead(&pseudonym)) {
                continue;
            }
            let gathered = cols.row(i, day, window)?;
            run.push(Keyed {
                pseudonym,
                gathered,
            });
        }
    }
    if !run.is_sorted_by_key(Keyed::key) {
        run.sort_unstable_by_key(Keyed::key);
    }
    Ok(run)
}

/// Rows per batch read from a store file.
const BATCH_ROWS: usize = 8192;

/// A reader of a store file that gives its country columns as dictionaries, as the store
/// writes them: a file holds a few dozen distinct codes, and each is then read once per batch
/// ([`CountryColumn`]) instead of copied out and parsed at every row (which, with the copy,
/// took 44% of the samples of reading the store back at 5.15 M events).
fn countries_by_dictionary(
    file: std::fs::File,
) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>, datafusion::parquet::errors::ParquetError>
{
    use borderflow_core::schema::presence::{COUNTRY, SIM_COUNTRY};
    use datafusion::arrow::datatypes::{Field, Schema};
    let options = ArrowReaderOptions::new();
    let metadata = ArrowReaderMetadata::load(&file, options.clone())?;
    let fields: Vec<Field> = metadata
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let text = [SIM_COUNTRY, COUNTRY].contains(&f.name().as_str())
                && *f.data_type() == DataType::Utf8;
            let field = f.as_ref().clone();
            if text {
                field.with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            } else {
                field
            }
        })
        .collect();
    let schema = Schema::new_with_metadata(fields, metadata.schema().metadata().clone());
    let hinted = ArrowReaderMetadata::try_new(
        metadata.metadata().clone(),
        options.with_schema(std::sync::Arc::new(schema)),
    )?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        file, hinted,
    ))
}

/// A country column of one batch of a store file: keys into its distinct codes, each read
/// once, or (a column not read as a dictionary) text read at each row.
enum CountryColumn {
    /// Each row's key, and the code at each key (or why it is not one).
    Coded {
        keys: datafusion::arrow::array::Int32Array,
        codes: Vec<Result<CountryCode, BadRow>>,
    },
    /// Each row's text.
    Text(datafusion::arrow::array::StringArray),
}

impl CountryColumn {
    /// The column `field` of `batch`.
    fn of(batch: &RecordBatch, field: &'static str) -> Result<Self, PlanError> {
        let column = batch.column_by_name(field).ok_or(PlanError::BadRow {
            field,
            message: "missing from the store file".into(),
        })?;
        if let Some(dictionary) = column.as_dictionary_opt::<Int32Type>() {
            let values = cast(dictionary.values(), &DataType::Utf8)?;
            let codes = values
                .as_string::<i32>()
                .iter()
                .map(|v| country(v.unwrap_or(""), field))
                .collect();
            return Ok(Self::Coded {
                keys: dictionary.keys().clone(),
                codes,
            });
        }
        Ok(Self::Text(
            cast(column, &DataType::Utf8)?.as_string::<i32>().clone(),
        ))
    }

    /// The country of row `i` (read from column `field`).
    fn at(&self, i: usize, field: &'static str) -> Result<CountryCode, BadRow> {
        match self {
            Self::Coded { keys, codes } => {
                let code = (!keys.is_null(i))
                    .then(|| usize::try_from(keys.value(i)).ok())
                    .flatten()
                    .and_then(|k| codes.get(k));
                match code {
                    Some(code) => code.clone(),
                    None => country("", field),
                }
            }
            Self::Text(text) => country(text.value(i), field),
        }
    }
}

/// The columns of one batch of a store file, in the types read here.
struct Columns {
    pseudonym: datafusion::arrow::array::FixedSizeBinaryArray,
    sim_country: CountryColumn,
    country: CountryColumn,
    events: datafusion::arrow::array::Int32Array,
    night_events: datafusion::arrow::array::Int32Array,
    weekday_day_events: datafusion::arrow::array::Int32Array,
    first_minute: datafusion::arrow::array::UInt16Array,
    last_minute: datafusion::arrow::array::UInt16Array,
}

impl Columns {
    fn of(batch: &RecordBatch) -> Result<Self, PlanError> {
        use borderflow_core::schema::presence::*;
        let typed = |name: &'static str, to: &DataType| -> Result<ArrayRef, PlanError> {
            let column = batch.column_by_name(name).ok_or(PlanError::BadRow {
                field: name,
                message: "missing from the store file".into(),
            })?;
            Ok(cast(column, to)?)
        };
        let int = |name| -> Result<_, PlanError> {
            Ok(typed(name, &DataType::Int32)?
                .as_primitive::<Int32Type>()
                .clone())
        };
        let minute = |name| -> Result<_, PlanError> {
            Ok(typed(name, &DataType::UInt16)?
                .as_primitive::<UInt16Type>()
                .clone())
        };
        Ok(Self {
            pseudonym: typed(PSEUDONYM, &DataType::FixedSizeBinary(16))?
                .as_fixed_size_binary()
                .clone(),
            sim_country: CountryColumn::of(batch, SIM_COUNTRY)?,
            country: CountryColumn::of(batch, COUNTRY)?,
            events: int(EVENTS)?,
            night_events: int(NIGHT_EVENTS)?,
            weekday_day_events: int(WEEKDAY_DAY_EVENTS)?,
            first_minute: minute(FIRST_MINUTE)?,
            last_minute: minute(LAST_MINUTE)?,
        })
    }

    /// Row `i` as gathered, checked by [`PresenceRow::check`] as the cluster's aggregate
    /// checks its rows (a null count or minute read as -1, so refused), here before the rows
    /// of one day are summed.
    fn row(&self, i: usize, day: u16, window: Window) -> Result<Gathered, PlanError> {
        use borderflow_core::schema::presence::{COUNTRY, SIM_COUNTRY};
        let count = |a: &datafusion::arrow::array::Int32Array| {
            if a.is_null(i) { -1 } else { a.value(i) }
        };
        let minute = |a: &datafusion::arrow::array::UInt16Array| {
            if a.is_null(i) {
                -1
            } else {
                i32::from(a.value(i))
            }
        };
        let row = PresenceRow {
            country: self.country.at(i, COUNTRY)?,
            events: count(&self.events),
            night_events: count(&self.night_events),
            weekday_day_events: count(&self.weekday_day_events),
            first_minute: minute(&self.first_minute),
            last_minute: minute(&self.last_minute),
            day: i32::from(day),
        };
        Ok(Gathered {
            sim_country: self.sim_country.at(i, SIM_COUNTRY)?,
            row: row.check(window)?,
        })
    }
}

/// One SIM classified: its pseudonym and its facts.
type Classified = ([u8; 16], SimFacts);

/// Every SIM of `runs` (each in pseudonym order, within `range`) classified, in pseudonym
/// order, on `threads` threads, and the days they were seen on.
///
/// The range is cut into parts of consecutive pseudonyms that the threads take in turn. In a
/// part, each run is a slice found by binary search, and SIMs are taken from the runs as from
/// one merged list: the smallest pseudonym at the head of any run is the next SIM, and every
/// run whose head is that SIM hands over its rows. Pseudonyms are spread evenly, so most SIMs
/// are at the head of many runs at once and a comparison with each run's head per SIM is
/// cheaper than a heap.
fn merge_and_classify(
    runs: &[Run],
    range: &std::ops::Range<u32>,
    m: CountryCode,
    window: Window,
    rules: &Rules,
    threads: usize,
) -> Result<(Vec<Classified>, DayTally), PlanError> {
    let parts = (threads * PARTS_PER_THREAD).min(range.len()).max(1);
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<Classified>)>> = Mutex::new(Vec::new());
    let work = || -> Result<DayTally, PlanError> {
        let mut tally = DayTally::new(window.len());
        let mut rows: Vec<Gathered> = Vec::new();
        let mut sim = SimDays {
            sim_country: m,
            rows: Vec::new(),
        };
        loop {
            let part = next.fetch_add(1, Ordering::Relaxed);
            if part >= parts {
                return Ok(tally);
            }
            let span = range.end - range.start;
            let bound = |k: usize| range.start + (u64::from(span) * k as u64 / parts as u64) as u32;
            let (lo, hi) = (bound(part), bound(part + 1));
            let mut heads: Vec<&[Keyed]> = runs
                .iter()
                .map(|run| {
                    let start = run.partition_point(|k| lead(&k.pseudonym) < lo);
                    let end = start + run[start..].partition_point(|k| lead(&k.pseudonym) < hi);
                    &run[start..end]
                })
                .filter(|run| !run.is_empty())
                .collect();
            let mut out = Vec::new();
            let mut current = heads.iter().map(|run| run[0].key()).min();
            while let Some(key) = current {
                rows.clear();
                current = None;
                for run in heads.iter_mut() {
                    while let Some((head, rest)) = run.split_first()
                        && head.key() == key
                    {
                        rows.push(head.gathered);
                        *run = rest;
                    }
                    if let Some(head) = run.first() {
                        current = Some(current.map_or(head.key(), |c: u128| c.min(head.key())));
                    }
                }
                heads.retain(|run| !run.is_empty());
                sim_days(&mut rows, &mut sim, &mut tally)?;
                tally.sims += 1;
                out.push((key.to_be_bytes(), classify(&sim, m, window, rules)));
            }
            done.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((part, out));
        }
    };
    let tallies: Vec<Result<DayTally, PlanError>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        workers.into_iter().map(joined).collect()
    });
    let mut tally = DayTally::new(window.len());
    for t in tallies {
        tally.add(&t?);
    }
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_unstable_by_key(|(i, _)| *i);
    Ok((done.into_iter().flat_map(|(_, sims)| sims).collect(), tally))
}

/// Parts of a range per thread in [`merge_and_classify`]: enough that no thread waits long
/// for the last part, few enough that the binary searches cost nothing.
const PARTS_PER_THREAD: usize = 16;

/// One SIM's rows as the rules read them, into `sim`: sorted by day, country and SIM country,
/// the rows of one key (its counterpart countries', its deliveries') summed into one, the
/// SIM's country that of its first row; and its events and presence on each day counted in
/// `tally`. The rows come from runs in day order, each in the store's order, so they are
/// usually sorted already and the sort only checks them.
fn sim_days(
    rows: &mut [Gathered],
    sim: &mut SimDays,
    tally: &mut DayTally,
) -> Result<(), PlanError> {
    rows.sort_unstable_by_key(|g| (g.row.day, g.row.country, g.sim_country));
    sim.rows.clear();
    let mut last_key = None;
    let mut last_day = None;
    for g in rows.iter() {
        let key = (g.row.day, g.row.country, g.sim_country);
        match sim.rows.last_mut() {
            Some(m) if last_key == Some(key) => {
                m.events = add(m.events, g.row.events, "events")?;
                m.night_events = add(m.night_events, g.row.night_events, "night_events")?;
                m.weekday_day_events = add(
                    m.weekday_day_events,
                    g.row.weekday_day_events,
                    "weekday_day_events",
                )?;
                m.first_minute = m.first_minute.min(g.row.first_minute);
                m.last_minute = m.last_minute.max(g.row.last_minute);
            }
            _ => {
                sim.rows.push(g.row);
                last_key = Some(key);
            }
        }
        let day = usize::from(g.row.day);
        tally.events[day] += u64::from(g.row.events);
        if last_day != Some(day) {
            tally.seen[day] += 1;
            last_day = Some(day);
        }
    }
    sim.sim_country = rows
        .first()
        .map(|g| g.sim_country)
        .ok_or(PlanError::BadRow {
            field: "pseudonym",
            message: "a SIM without rows".into(),
        })?;
    Ok(())
}

/// A sum of two counts of one SIM, country and day; more than a 32-bit signed count holds is
/// not a count ingest writes.
fn add(a: u32, b: u32, field: &'static str) -> Result<u32, PlanError> {
    a.checked_add(b)
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or(PlanError::BadRow {
            field,
            message: "count beyond 2^31 on one day".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use borderflow_core::schema::presence_schema;
    use borderflow_core::{Failure, FailureKind};
    use datafusion::arrow::array::{FixedSizeBinaryArray, Int32Array, StringArray, UInt16Array};
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

    /// A store file of `n` SIMs of Kenya at home, SIM `i` with pseudonym `[ids[i]; 16]` and
    /// `events` events in Kenya.
    fn store_file(path: &Path, ids: &[u8], events: i32) {
        store_file_of(path, ids, events, ["KEN", "KEN"], true);
    }

    /// A store file of SIMs `ids` of SIM country `countries[0]`, each with `events` events in
    /// `countries[1]`; the countries dictionary-encoded (as the store writes them) or plain.
    fn store_file_of(path: &Path, ids: &[u8], events: i32, countries: [&str; 2], dictionary: bool) {
        let n = ids.len();
        let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
        let ints = |v: i32| Arc::new(Int32Array::from(vec![v; n])) as ArrayRef;
        let minutes = |v: u16| Arc::new(UInt16Array::from(vec![v; n])) as ArrayRef;
        let batch = RecordBatch::try_new(
            presence_schema(),
            vec![
                Arc::new(
                    FixedSizeBinaryArray::try_from_iter(ids.iter().map(|i| [*i; 16])).unwrap(),
                ),
                text(countries[0]),
                text(countries[1]),
                Arc::new(StringArray::from(vec![None::<&str>; n])),
                ints(events),
                ints(2),
                ints(1),
                minutes(100),
                minutes(1200),
            ],
        )
        .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let props = datafusion::parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .build();
        let mut w = ArrowWriter::try_new(file, presence_schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn window(days: u16) -> Window {
        Window {
            history: 0,
            lookback: days,
            period: days,
            first_weekday: 2,
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, d).unwrap()
    }

    /// Classifies a store of one date, 1 January, holding SIMs `ids` with `events` each, on
    /// `threads` threads, passing the facts to `sink`.
    fn classify_one_date<E>(
        ids: &[u8],
        events: i32,
        threads: usize,
        sink: impl FnMut(&[u8; 16], &SimFacts) -> Result<(), E>,
    ) -> Result<StoreTally, PlanError>
    where
        E: borderflow_core::FailureKind + std::error::Error + Send + Sync + 'static,
    {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("local_date=2025-01-01/part-0.parquet");
        store_file(&file, ids, events);
        let partitions = [StorePartition {
            date: day(1),
            files: vec![file],
        }];
        let limits = ScanLimits {
            threads,
            memory_bytes: 1 << 20,
        };
        let rules = Rules::default();
        let m = "KEN".parse().unwrap();
        classify_partitions(&partitions, m, day(1), window(1), &rules, limits, sink)
    }

    #[test]
    fn a_facts_consumer_failing_mid_stream_keeps_its_cause_and_its_failure_class() {
        let mut taken = 0;
        let err = classify_one_date(&[0, 1, 2], 5, 2, |_, _| {
            taken += 1;
            if taken == 2 { Err(DiskFull) } else { Ok(()) }
        })
        .unwrap_err();
        // The state's failure (exit 6), as when the same file fails at the end; not internal.
        assert_eq!(err.failure(), Failure::State);
        assert_eq!(err.to_string(), "facts file: no space left on device");
        let source = std::error::Error::source(&err).expect("the consumer's error is kept");
        assert!(source.downcast_ref::<DiskFull>().is_some());
        assert_eq!(taken, 2, "nothing is consumed after the failure");
    }

    /// A row ingest could not have written is refused with its column, as the cluster's
    /// aggregate refuses it, and nothing reaches the facts.
    #[test]
    fn a_row_with_a_negative_count_is_refused_by_its_column() {
        let mut taken = 0;
        let err = classify_one_date(&[0, 1], -1, 1, |_, _| {
            taken += 1;
            Ok::<_, DiskFull>(())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "presence store row for events: negative count -1"
        );
        assert_eq!(err.failure(), Failure::State);
        assert_eq!(taken, 0);
    }

    /// Classifies the store file of one date, 1 January, written by `write`: every SIM's facts.
    fn facts_of_file(write: impl Fn(&Path)) -> Result<Vec<([u8; 16], SimFacts)>, PlanError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("local_date=2025-01-01/part-0.parquet");
        write(&file);
        let partitions = [StorePartition {
            date: day(1),
            files: vec![file],
        }];
        let limits = ScanLimits {
            threads: 1,
            memory_bytes: 1 << 20,
        };
        let mut facts = Vec::new();
        classify_partitions(
            &partitions,
            "KEN".parse().unwrap(),
            day(1),
            window(1),
            &Rules::default(),
            limits,
            |p, f| {
                facts.push((*p, f.clone()));
                Ok::<_, DiskFull>(())
            },
        )?;
        Ok(facts)
    }

    /// The store's countries are read from each file's dictionary; a file whose countries
    /// are plain text (written by another tool, say) gives the same facts, and a value that
    /// is not a country code is refused by its column either way.
    #[test]
    fn countries_read_from_a_dictionary_or_as_text_give_the_same_facts() {
        let ids = [9, 40, 200];
        let facts = |countries, dictionary| {
            facts_of_file(|f| store_file_of(f, &ids, 3, countries, dictionary))
        };
        let coded = facts(["UGA", "KEN"], true).unwrap();
        assert_eq!(coded.len(), 3);
        let uga: CountryCode = "UGA".parse().unwrap();
        assert!(coded.iter().all(|(_, f)| f.sim_country == uga));
        assert_eq!(facts(["UGA", "KEN"], false).unwrap(), coded);
        for dictionary in [true, false] {
            let err = facts(["UGA", "Kenya"], dictionary).unwrap_err();
            assert_eq!(
                err.to_string(),
                "presence store row for country: \"Kenya\" is not a country code"
            );
            let err = facts(["ug", "KEN"], dictionary).unwrap_err();
            assert_eq!(
                err.to_string(),
                "presence store row for sim_country: \"ug\" is not a country code"
            );
        }
    }

    /// Two deliveries of one date and a date outside the window; read in one range and in
    /// many (a memory limit of one row), the SIMs come in pseudonym order with the same
    /// tallies.
    #[test]
    fn every_range_split_gives_the_same_sims_in_pseudonym_order_and_the_same_tallies() {
        let dir = tempfile::tempdir().unwrap();
        let path = |d: &str, f: &str| dir.path().join(format!("local_date={d}/{f}"));
        store_file(&path("2025-01-01", "part-a.parquet"), &[200, 3, 90], 5);
        store_file(&path("2025-01-01", "part-b.parquet"), &[3, 17], 4);
        store_file(&path("2025-01-02", "part-a.parquet"), &[90, 255, 0], 1);
        store_file(&path("2025-01-09", "part-a.parquet"), &[1], 1);
        let partitions = [
            StorePartition {
                date: day(1),
                files: vec![
                    path("2025-01-01", "part-a.parquet"),
                    path("2025-01-01", "part-b.parquet"),
                ],
            },
            StorePartition {
                date: day(2),
                files: vec![path("2025-01-02", "part-a.parquet")],
            },
            StorePartition {
                date: day(9),
                files: vec![path("2025-01-09", "part-a.parquet")],
            },
        ];
        let run = |memory_bytes| {
            let mut sims = Vec::new();
            let tally = classify_partitions(
                &partitions,
                "KEN".parse().unwrap(),
                day(1),
                window(2),
                &Rules::default(),
                ScanLimits {
                    threads: 3,
                    memory_bytes,
                },
                |p, f| {
                    sims.push((p[0], f.days_seen));
                    Ok::<_, DiskFull>(())
                },
            )
            .unwrap();
            (sims, tally)
        };
        let (sims, tally) = run(1 << 20);
        assert_eq!(
            sims,
            vec![(0, 1), (3, 1), (17, 1), (90, 2), (200, 1), (255, 1)]
        );
        assert_eq!(tally.sims, 6);
        assert_eq!(
            tally.events_per_day,
            BTreeMap::from([(day(1), 5 * 3 + 4 * 2), (day(2), 3)])
        );
        assert_eq!(
            tally.sims_per_day,
            BTreeMap::from([(day(1), 4), (day(2), 3)])
        );
        assert_eq!(run(1), (sims, tally));
    }

    #[test]
    fn ranges_in_order_cover_every_leading_value_once_in_order() {
        for n in [1, 2, 3, 7, 1000, 65536] {
            let mut next = 0;
            for i in 0..n {
                let r = lead_range(i, n);
                assert_eq!(r.start, next, "{n}");
                assert!(r.end >= r.start);
                next = r.end;
            }
            assert_eq!(next, 65536, "{n}");
        }
    }

    #[test]
    fn the_memory_limit_sets_the_number_of_ranges() {
        assert_eq!(ranges_for(0, 1 << 20), 1);
        assert_eq!(ranges_for(1000, 48_000), 1);
        assert_eq!(ranges_for(1001, 48_000), 2);
        // 50 M rows under 512 MiB: five passes.
        assert_eq!(ranges_for(50_000_000, 512 << 20), 5);
        assert_eq!(ranges_for(u64::MAX, 1), 65536);
    }

    #[test]
    fn rows_of_one_day_and_country_are_summed_and_days_counted() {
        let ken: CountryCode = "KEN".parse().unwrap();
        let uga: CountryCode = "UGA".parse().unwrap();
        let row = |day, country, events, first, last| Gathered {
            sim_country: ken,
            row: CountryDay {
                day,
                country,
                events,
                night_events: 1,
                weekday_day_events: 0,
                first_minute: first,
                last_minute: last,
            },
        };
        let mut sim = SimDays {
            sim_country: uga,
            rows: vec![],
        };
        let mut tally = DayTally::new(5);
        sim_days(
            &mut [
                row(3, uga, 2, 600, 700),
                row(1, ken, 5, 100, 200),
                row(3, ken, 1, 50, 60),
                row(1, ken, 4, 90, 300),
            ],
            &mut sim,
            &mut tally,
        )
        .unwrap();
        assert_eq!(sim.sim_country, ken);
        let got: Vec<_> = sim
            .rows
            .iter()
            .map(|r| {
                (
                    r.day,
                    r.country,
                    r.events,
                    r.night_events,
                    r.first_minute,
                    r.last_minute,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, ken, 9, 2, 90, 300),
                (3, ken, 1, 1, 50, 60),
                (3, uga, 2, 1, 600, 700)
            ]
        );
        assert_eq!(tally.events, vec![0, 9, 0, 3, 0]);
        assert_eq!(tally.seen, vec![0, 1, 0, 1, 0]);
    }
}
