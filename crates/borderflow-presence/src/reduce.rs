//! The daily-presence reduction of the local engine: accepted events in, one Parquet file of
//! presence rows per functional date out.
//!
//! The reduction groups events by SIM, date, SIM country, serving country and counterpart
//! country. As one hash aggregation over a year that is almost a shuffle (51.7 M generated
//! events make 16.6 M groups: three events a group, every probe a cache miss). The grouping
//! key contains the date, so it is done in two steps instead:
//!
//! 1. **Bucket by date.** Each reading thread owns a [`PresenceShard`] and appends every event
//!    (12 bytes: the SIM's run-local number, the minute and three countries) to its date's
//!    bucket: sequential writes, no locks, no hashing of the SIM.
//! 2. **Aggregate date by date.** [`Reduction::finish`] ranks the run's SIMs in pseudonym
//!    order once, then hands the dates out to worker threads. Each date's events (from every
//!    shard) are sorted by their SIM's rank with a radix sort (two passes over the events for
//!    up to 65,536 SIMs, a pass more for each further byte of ranks), each SIM's few events
//!    are added up by country, and the rows, already in the store's order, are written as
//!    that date's Parquet file, the layout of the presence store
//!    (`local_date=YYYY-MM-DD/part-0.parquet`). No hash table and no sort of rows: a hash
//!    table probed once per event in reading order missed the cache at nearly every probe
//!    once a date had tens of thousands of rows, and its rows then had to be sorted by
//!    pseudonym.
//!
//! Memory is bounded by a budget: the bytes held in buckets by all shards are counted, and a
//! shard that would pass the budget first spills its buckets to its own spill file (one run per
//! date) and starts afresh. A date whose events would need more sorting memory than a worker's
//! share of the budget is aggregated in several passes, each over the SIMs of one range of
//! pseudonyms. The output is the same whatever the budget; only the time changes.
//!
//! The same reduction as a DataFusion plan is [`crate::reduce_sql`]; tests check that both give
//! the same rows.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{
    ArrayRef, FixedSizeBinaryArray, Int32Array, RecordBatch, StringBuilder, UInt16Array,
};
use arrow::buffer::Buffer;
use borderflow_core::CountryCode;
use borderflow_core::schema::presence::{PART_FILE, PARTITION_PREFIX};
use borderflow_core::{
    AcceptedEvent, FunctionalDay, PathError, Pseudonym, PseudonymsByNumber, SimNumber,
    schema::presence_schema,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// The reduction failed: a spill or output file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReduceError {
    /// A spill or output file could not be created, written or read.
    #[error("presence reduction: {0}")]
    Io(#[from] PathError),
    /// A presence file could not be encoded.
    #[error("presence reduction: {}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the Parquet writer said.
        #[source]
        source: ParquetError,
    },
}

fn io(path: &Path, e: std::io::Error) -> ReduceError {
    PathError::new(path, e).into()
}

fn pq(path: &Path, source: ParquetError) -> ReduceError {
    ReduceError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

/// A country in 15 bits (three letters A–Z in base 26), so an event fits in 12 bytes.
fn pack(c: CountryCode) -> u16 {
    let [a, b, c] = c.bytes().map(|x| u16::from(x - b'A'));
    a * 676 + b * 26 + c
}

fn unpack(v: u16) -> CountryCode {
    let letter = |x: u16| b'A' + (x % 26) as u8;
    CountryCode::from_bytes([letter(v / 676), letter(v / 26), letter(v)]).expect("A–Z")
}

/// No counterpart country.
const NONE: u16 = u16::MAX;

/// One event in a date bucket (the date is the bucket's).
#[derive(Debug, Clone, Copy)]
struct Rec {
    sim: u32,
    minute: u16,
    sim_country: u16,
    serving: u16,
    counterpart: u16,
}

const REC_BYTES: usize = 12;

impl Rec {
    fn of(e: &AcceptedEvent) -> Self {
        Self {
            sim: e.sim.0,
            minute: e.fday_minute,
            sim_country: pack(e.sim_country),
            serving: pack(e.serving_country),
            counterpart: e.counterpart_country.map_or(NONE, pack),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sim.to_le_bytes());
        for v in [
            self.minute,
            self.sim_country,
            self.serving,
            self.counterpart,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn decode(b: &[u8]) -> Self {
        let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Self {
            sim: u32::from_le_bytes(b[..4].try_into().expect("4 bytes")),
            minute: u(4),
            sim_country: u(6),
            serving: u(8),
            counterpart: u(10),
        }
    }

    /// The event's presence row among its SIM's rows of the date, as a number that orders
    /// rows as the store does: serving country, then SIM country, then counterpart country
    /// (none last).
    fn countries(&self) -> u64 {
        u64::from(self.serving) << 32
            | u64::from(self.sim_country) << 16
            | u64::from(self.counterpart)
    }
}

/// A blank event, to size the radix sort's second buffer.
const BLANK: Rec = Rec {
    sim: 0,
    minute: 0,
    sim_country: 0,
    serving: 0,
    counterpart: 0,
};

/// A presence row's measures.
#[derive(Clone, Copy)]
struct Measures {
    events: u32,
    night: u32,
    weekday_day: u32,
    first: u16,
    last: u16,
}

impl Measures {
    /// The measures of one event at functional-day minute `minute`.
    fn of(minute: u16, night: bool, daytime: bool) -> Self {
        Self {
            events: 1,
            night: u32::from(night),
            weekday_day: u32::from(daytime),
            first: minute,
            last: minute,
        }
    }

    /// Adds the events of `other` (of the same presence row).
    fn absorb(&mut self, other: &Self) {
        self.events += other.events;
        self.night += other.night;
        self.weekday_day += other.weekday_day;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

/// Smallest and largest chunk of a bucket, in events: small dates stay small, large ones grow
/// without copying (a bucket is a list of chunks, never reallocated). The largest is 96 KiB:
/// each shard's last chunk of each date is half empty on average, and its empty part is still
/// memory the kernel zeroes when its page is first touched (with 384 KiB chunks, about 140 MB
/// of a yearly run at 51.7 M events, docs/performance.md).
const MIN_CHUNK: usize = 512;
const MAX_CHUNK: usize = 8 * 1024;

/// Bytes of sorting memory per event of a date: the events and the radix sort's second
/// buffer.
const SORT_BYTES_PER_EVENT: usize = 2 * REC_BYTES;

/// A date's events held by one shard.
#[derive(Debug)]
struct Bucket {
    date: i32,
    events: usize,
    chunks: Vec<Vec<Rec>>,
}

/// A date's events written to a spill file.
#[derive(Debug, Clone, Copy)]
struct Run {
    date: i32,
    offset: u64,
    events: u64,
}

#[derive(Debug)]
struct Spill {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    runs: Vec<Run>,
}

/// One run of the reduction: its memory budget, its spill directory, the bytes the shards
/// hold.
#[derive(Debug)]
pub struct Reduction {
    budget: usize,
    day: FunctionalDay,
    spill_dir: PathBuf,
    held: AtomicUsize,
    spilled: AtomicUsize,
    part_file: String,
}

/// What a reduction wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReduceSummary {
    /// Presence rows (SIM-days by serving and counterpart country) written.
    pub rows: u64,
    /// The dates written, oldest first, in days since 1970-01-01.
    pub dates: Vec<i32>,
    /// Bytes spilled to disk because the budget was reached.
    pub spilled_bytes: u64,
    /// Dates too large for one worker's sorting memory, aggregated in several passes.
    pub multi_pass_dates: u64,
}

impl Reduction {
    /// A reduction holding at most about `budget_bytes` of events in memory, spilling into
    /// `spill_dir` (created when first needed) beyond that.
    pub fn new(budget_bytes: usize, spill_dir: &Path) -> Self {
        Self {
            budget: budget_bytes,
            day: FunctionalDay::default(),
            spill_dir: spill_dir.to_path_buf(),
            held: AtomicUsize::new(0),
            spilled: AtomicUsize::new(0),
            part_file: PART_FILE.to_string(),
        }
    }

    /// Names each date's file `name` (default `part-0.parquet`; the store names a delivery's
    /// files by the delivery, [`crate::segment_file`]).
    pub fn with_part_file(mut self, name: &str) -> Self {
        self.part_file = name.to_string();
        self
    }

    /// Counts night and working-daytime events by `day`'s windows (the default is
    /// [`FunctionalDay::default`]).
    pub fn with_day(mut self, day: FunctionalDay) -> Self {
        self.day = day;
        self
    }

    /// A shard for one reading thread; `index` names its spill file.
    pub fn shard(&self, index: usize) -> PresenceShard<'_> {
        PresenceShard {
            reduction: self,
            index,
            slots: foldhash::HashMap::default(),
            recent_dates: Box::new([(EMPTY_DATE, 0); RECENT_DATES]),
            buckets: Vec::new(),
            last: None,
            held: 0,
            spill: None,
        }
    }

    /// Aggregates every date of `shards` on `threads` threads and writes each date as
    /// `out_dir/local_date=YYYY-MM-DD/<part file>`, with the pseudonyms `sims` numbered.
    pub fn finish(
        &self,
        shards: Vec<ShardParts>,
        sims: &PseudonymsByNumber,
        out_dir: &Path,
        threads: usize,
    ) -> Result<ReduceSummary, ReduceError> {
        let mut dates: BTreeMap<i32, DateWork> = BTreeMap::new();
        let mut spills = Vec::new();
        for parts in shards {
            for b in parts.buckets {
                let w = dates.entry(b.date).or_default();
                w.events += b.events;
                w.chunks.extend(b.chunks);
            }
            if let Some((path, runs)) = parts.spill {
                for r in runs {
                    let w = dates.entry(r.date).or_default();
                    w.events += r.events as usize;
                    w.runs.push((spills.len(), r.offset, r.events));
                }
                spills.push(path);
            }
        }
        let written: Vec<i32> = dates.keys().copied().collect();
        // Largest dates first, so no thread is left with a big one at the end.
        let mut queue: Vec<(i32, DateWork)> = dates.into_iter().collect();
        queue.sort_by_key(|(d, w)| (w.events, std::cmp::Reverse(*d)));
        let queue = Mutex::new(queue);
        let threads = threads.max(1);
        let order = PseudonymOrder::of(sims);
        // Half the budget for the workers' sorting (the buckets hold the rest); a floor keeps
        // a tiny budget from making every date a many-pass one.
        let sort_budget = (self.budget / (2 * threads)).max(4 << 10);
        let multi_pass = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let rows = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut worker = Worker {
                            day: self.day,
                            out_dir,
                            part_file: &self.part_file,
                            order: &order,
                            spills: &spills,
                            files: spills.iter().map(|_| None).collect(),
                            events: Vec::new(),
                            scratch: Vec::new(),
                            sort_budget,
                            multi_pass: &multi_pass,
                        };
                        let mut rows = 0u64;
                        while !failed.load(Ordering::Relaxed) {
                            let next = queue.lock().expect("not poisoned").pop();
                            let Some((date, work)) = next else { break };
                            match worker.reduce_date(date, work) {
                                Ok(n) => rows += n,
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(rows)
                    })
                })
                .collect();
            let mut total = 0u64;
            let mut first_error = None;
            for w in workers {
                match w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                    Ok(n) => total += n,
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            first_error.map_or(Ok(total), Err)
        })?;
        for path in &spills {
            std::fs::remove_file(path).map_err(|e| io(path, e))?;
        }
        Ok(ReduceSummary {
            rows,
            dates: written,
            spilled_bytes: self.spilled.load(Ordering::Relaxed) as u64,
            multi_pass_dates: multi_pass.load(Ordering::Relaxed) as u64,
        })
    }
}

/// One date's events across shards: chunks in memory and runs in spill files.
#[derive(Debug, Default)]
struct DateWork {
    events: usize,
    chunks: Vec<Vec<Rec>>,
    /// (spill file, byte offset, events).
    runs: Vec<(usize, u64, u64)>,
}

/// Places in a shard's table of recent dates (a power of two).
const RECENT_DATES: usize = 1024;

/// A date no accepted event has (5.9 million years before 1970), marking an empty place.
const EMPTY_DATE: i32 = i32::MIN;

/// A reading thread's buckets. Push every accepted event, then hand [`Self::into_parts`] to
/// [`Reduction::finish`].
#[derive(Debug)]
pub struct PresenceShard<'a> {
    reduction: &'a Reduction,
    index: usize,
    slots: foldhash::HashMap<i32, usize>,
    /// Dates seen and their buckets, at the date's place modulo [`RECENT_DATES`]: in front of
    /// `slots`, for files whose rows are not in time order, where nearly every event's date
    /// differs from the one before (the map's hashing and probing was 2.2% of a shuffled
    /// run's samples). Any 2.8 years of dates have a place each.
    recent_dates: Box<[(i32, u32); RECENT_DATES]>,
    buckets: Vec<Bucket>,
    /// The bucket of the last event: events come in runs of one date.
    last: Option<(i32, usize)>,
    held: usize,
    spill: Option<Spill>,
}

/// What a shard hands to [`Reduction::finish`].
#[derive(Debug)]
pub struct ShardParts {
    buckets: Vec<Bucket>,
    spill: Option<(PathBuf, Vec<Run>)>,
}

impl PresenceShard<'_> {
    /// Adds one accepted event.
    pub fn push(&mut self, e: &AcceptedEvent) -> Result<(), ReduceError> {
        let slot = self.slot(e.local_date);
        let bucket = &self.buckets[slot];
        let full = bucket.chunks.last().is_none_or(|c| c.len() == c.capacity());
        let slot = if full { self.grow(slot)? } else { slot };
        let bucket = &mut self.buckets[slot];
        bucket.events += 1;
        bucket
            .chunks
            .last_mut()
            .expect("a chunk with room")
            .push(Rec::of(e));
        Ok(())
    }

    /// Adds a batch of accepted events.
    pub fn push_all(&mut self, events: &[AcceptedEvent]) -> Result<(), ReduceError> {
        events.iter().try_for_each(|e| self.push(e))
    }

    #[inline]
    fn slot(&mut self, date: i32) -> usize {
        if let Some((d, s)) = self.last
            && d == date
        {
            return s;
        }
        let place = date.rem_euclid(RECENT_DATES as i32) as usize;
        let (d, s) = self.recent_dates[place];
        if d == date {
            let s = s as usize;
            self.last = Some((date, s));
            return s;
        }
        self.slot_of_new_date(date, place)
    }

    /// [`Self::slot`] of a date not in `recent_dates`: from the map, or a new bucket.
    #[cold]
    fn slot_of_new_date(&mut self, date: i32, place: usize) -> usize {
        let next = self.buckets.len();
        let s = *self.slots.entry(date).or_insert(next);
        if s == next {
            self.buckets.push(Bucket {
                date,
                events: 0,
                chunks: Vec::new(),
            });
        }
        self.last = Some((date, s));
        self.recent_dates[place] = (date, u32::try_from(s).expect("fewer than 2^32 dates"));
        s
    }

    /// Gives the bucket in `slot` a new chunk, spilling everything first if the budget would be
    /// passed. Returns the bucket's slot afterwards.
    fn grow(&mut self, slot: usize) -> Result<usize, ReduceError> {
        let date = self.buckets[slot].date;
        let events = self.buckets[slot].events;
        let capacity = events.clamp(MIN_CHUNK, MAX_CHUNK);
        let bytes = capacity * std::mem::size_of::<Rec>();
        let r = self.reduction;
        let slot = if self.held > 0 && r.held.load(Ordering::Relaxed) + bytes > r.budget {
            self.spill_all()?;
            self.slot(date)
        } else {
            slot
        };
        r.held.fetch_add(bytes, Ordering::Relaxed);
        self.held += bytes;
        self.buckets[slot].chunks.push(Vec::with_capacity(capacity));
        Ok(slot)
    }

    /// Writes every bucket to this shard's spill file, one run per date, and empties them.
    fn spill_all(&mut self) -> Result<(), ReduceError> {
        if self.spill.is_none() {
            let r = self.reduction;
            std::fs::create_dir_all(&r.spill_dir).map_err(|e| io(&r.spill_dir, e))?;
            let path = r.spill_dir.join(format!("shard-{}.spill", self.index));
            let file = File::create(&path).map_err(|e| io(&path, e))?;
            self.spill = Some(Spill {
                path,
                out: BufWriter::with_capacity(1 << 20, file),
                written: 0,
                runs: Vec::new(),
            });
        }
        let spill = self.spill.as_mut().expect("created above");
        let r = self.reduction;
        let mut bytes = Vec::with_capacity(MAX_CHUNK * REC_BYTES);
        for b in self.buckets.drain(..).filter(|b| b.events > 0) {
            spill.runs.push(Run {
                date: b.date,
                offset: spill.written,
                events: b.events as u64,
            });
            for chunk in b.chunks {
                bytes.clear();
                chunk.iter().for_each(|r| r.encode(&mut bytes));
                spill
                    .out
                    .write_all(&bytes)
                    .map_err(|e| io(&spill.path, e))?;
            }
            spill.written += (b.events * REC_BYTES) as u64;
            r.spilled.fetch_add(b.events * REC_BYTES, Ordering::Relaxed);
        }
        self.slots.clear();
        self.recent_dates.fill((EMPTY_DATE, 0));
        self.last = None;
        r.held.fetch_sub(self.held, Ordering::Relaxed);
        self.held = 0;
        Ok(())
    }

    /// The shard's buckets and spill runs, for [`Reduction::finish`].
    pub fn into_parts(self) -> Result<ShardParts, ReduceError> {
        let spill = match self.spill {
            None => None,
            Some(mut s) => {
                s.out.flush().map_err(|e| io(&s.path, e))?;
                Some((s.path, s.runs))
            }
        };
        Ok(ShardParts {
            buckets: self.buckets,
            spill,
        })
    }
}

/// The run's SIMs in pseudonym order: each SIM number's rank, and the pseudonyms by rank.
/// Events sorted by rank give a date's rows in the store's order, and the rows' pseudonyms
/// are then read one after another instead of looked up all over memory. It holds 24 bytes
/// per SIM of the run.
struct PseudonymOrder {
    /// By SIM number: its rank (numbers are not dense; the gaps hold `u32::MAX`).
    rank: Vec<u32>,
    /// By rank: the pseudonym, and its number.
    by_rank: Vec<(Pseudonym, SimNumber)>,
}

impl PseudonymOrder {
    fn of(sims: &PseudonymsByNumber) -> Self {
        let mut by_rank: Vec<(Pseudonym, SimNumber)> =
            sims.numbered().map(|(n, p)| (p, n)).collect();
        by_rank.sort_unstable_by_key(|(p, _)| u128::from_be_bytes(p.0));
        let len = by_rank.iter().map(|(_, n)| n.0 as usize + 1).max();
        let mut rank = vec![u32::MAX; len.unwrap_or(0)];
        for (r, (_, n)) in by_rank.iter().enumerate() {
            rank[n.0 as usize] = u32::try_from(r).expect("SIM numbers are 32-bit");
        }
        Self { rank, by_rank }
    }

    /// The pseudonym of rank `rank`.
    fn pseudonym(&self, rank: u32) -> &Pseudonym {
        &self.by_rank[rank as usize].0
    }

    /// The ranks of the SIMs of [`class`] `pass` of `passes`: classes are consecutive ranges of
    /// pseudonyms, so of ranks.
    fn ranks_of_class(&self, pass: usize, passes: usize) -> std::ops::Range<u32> {
        let start = self
            .by_rank
            .partition_point(|(p, _)| class(p, passes) < pass);
        let end = self
            .by_rank
            .partition_point(|(p, _)| class(p, passes) <= pass);
        let rank = |i: usize| u32::try_from(i).expect("SIM numbers are 32-bit");
        rank(start)..rank(end)
    }
}

/// A thread of [`Reduction::finish`].
struct Worker<'a> {
    day: FunctionalDay,
    out_dir: &'a Path,
    part_file: &'a str,
    order: &'a PseudonymOrder,
    spills: &'a [PathBuf],
    files: Vec<Option<File>>,
    /// One pass's events of a date, their SIM numbers replaced by ranks.
    events: Vec<Rec>,
    /// The radix sort's second buffer.
    scratch: Vec<Rec>,
    sort_budget: usize,
    multi_pass: &'a AtomicUsize,
}

/// How each date's file of the store is written: Parquet encodings instead of a compression
/// codec. Countries are few (a dictionary and its bit-packed indices), counts and minutes are
/// small integers (delta-packed), and pseudonyms are random bytes no codec shrinks; the files
/// are no larger than zstd made them (38 against 39 MB for a year of 5.15 M events). A zstd
/// codec costs more than its compressing: the Parquet crate makes a compression and a
/// decompression context for every column chunk it writes or reads, eight compressed chunks
/// for each of 365 dates written by ingest and read again by classification, and zstd asks
/// the processor's features (`cpuid`, a trap to the hypervisor on a virtual machine) at every
/// context it makes: 4% of a yearly run's samples at 5.15 M events.
///
/// No statistics either: nothing reads them (classification reads every row of a file, and
/// a file's pseudonyms are sorted anyway), and computing them compared every pseudonym and
/// every country text with the smallest and largest of its page as it was written, half of
/// the writer's byte comparisons (docs/performance.md).
fn store_file_properties() -> WriterProperties {
    use borderflow_core::schema::presence::{
        COUNTERPART_COUNTRY, COUNTRY, EVENTS, FIRST_MINUTE, LAST_MINUTE, NIGHT_EVENTS, SIM_COUNTRY,
        WEEKDAY_DAY_EVENTS,
    };
    let mut props = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_dictionary_enabled(false);
    for country in [SIM_COUNTRY, COUNTRY, COUNTERPART_COUNTRY] {
        props = props.set_column_dictionary_enabled(ColumnPath::from(country), true);
    }
    for count in [
        EVENTS,
        NIGHT_EVENTS,
        WEEKDAY_DAY_EVENTS,
        FIRST_MINUTE,
        LAST_MINUTE,
    ] {
        props = props.set_column_encoding(ColumnPath::from(count), Encoding::DELTA_BINARY_PACKED);
    }
    props
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: sorted_column(),
            descending: false,
            nulls_first: false,
        }]))
        .build()
}

impl Worker<'_> {
    /// Aggregates and writes one date; returns its presence rows.
    fn reduce_date(&mut self, date: i32, work: DateWork) -> Result<u64, ReduceError> {
        let day = chrono::NaiveDate::from_num_days_from_ce_opt(date + 719_163)
            .expect("accepted dates are calendar dates");
        let dir = self.out_dir.join(format!("{PARTITION_PREFIX}{day}"));
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let path = dir.join(self.part_file);
        let file = File::create(&path).map_err(|e| io(&path, e))?;
        let props = store_file_properties();
        let mut writer =
            ArrowWriter::try_new(file, presence_schema(), Some(props)).map_err(|e| pq(&path, e))?;
        // A date too large for one worker's sorting memory is done in passes, each over one
        // range of pseudonyms.
        let passes = (work.events * SORT_BYTES_PER_EVENT)
            .div_ceil(self.sort_budget)
            .max(1);
        if passes > 1 {
            self.multi_pass.fetch_add(1, Ordering::Relaxed);
        }
        let weekday = FunctionalDay::weekday_of(date);
        let mut rows = 0u64;
        for pass in 0..passes {
            let ranks = self.order.ranks_of_class(pass, passes);
            self.gather(&work, &ranks)?;
            if self.events.is_empty() {
                continue;
            }
            sort_by_rank(&mut self.events, &mut self.scratch, ranks.end - 1);
            let batch = rows_batch(&mut self.events, self.order, self.day, weekday);
            rows += batch.num_rows() as u64;
            writer.write(&batch).map_err(|e| pq(&path, e))?;
        }
        writer.close().map_err(|e| pq(&path, e))?;
        Ok(rows)
    }

    /// Puts the events of `work` whose SIM's rank lies in `ranks` into `self.events`, each
    /// with its SIM's rank in place of its number.
    fn gather(&mut self, work: &DateWork, ranks: &std::ops::Range<u32>) -> Result<(), ReduceError> {
        let rank = &self.order.rank;
        let events = &mut self.events;
        events.clear();
        let mut add = |r: &Rec| {
            let sim = rank[r.sim as usize];
            if ranks.contains(&sim) {
                events.push(Rec { sim, ..*r });
            }
        };
        for chunk in &work.chunks {
            chunk.iter().for_each(&mut add);
        }
        for &(spill, offset, count) in &work.runs {
            let path = &self.spills[spill];
            let file = match &mut self.files[spill] {
                Some(f) => f,
                slot => slot.insert(File::open(path).map_err(|e| io(path, e))?),
            };
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| io(path, e))?;
            let mut left = count as usize;
            let mut buf = vec![0u8; MAX_CHUNK.min(left) * REC_BYTES];
            while left > 0 {
                let n = left.min(MAX_CHUNK);
                let bytes = &mut buf[..n * REC_BYTES];
                file.read_exact(bytes).map_err(|e| io(path, e))?;
                bytes
                    .chunks_exact(REC_BYTES)
                    .for_each(|b| add(&Rec::decode(b)));
                left -= n;
            }
        }
        Ok(())
    }
}

/// Sorts `events` by their `sim` field (a rank here, at most `max_rank`), least significant
/// byte first, one stable pass per byte that `max_rank` needs; `scratch` is the second
/// buffer. A byte every event shares is skipped.
fn sort_by_rank(events: &mut Vec<Rec>, scratch: &mut Vec<Rec>, max_rank: u32) {
    let mut shift = 0;
    while shift < u32::BITS && (shift == 0 || max_rank >> shift != 0) {
        let digit = |r: &Rec| ((r.sim >> shift) & 0xff) as usize;
        let mut counts = [0usize; 256];
        for r in events.iter() {
            counts[digit(r)] += 1;
        }
        if !counts.contains(&events.len()) {
            let mut next = [0usize; 256];
            let mut at = 0;
            for (n, c) in next.iter_mut().zip(counts) {
                *n = at;
                at += c;
            }
            scratch.resize(events.len(), BLANK);
            for r in events.iter() {
                let d = digit(r);
                scratch[next[d]] = *r;
                next[d] += 1;
            }
            std::mem::swap(events, scratch);
        }
        shift += 8;
    }
}

/// The index of the column the store's files declare themselves sorted by: the first of
/// [`STORE_ORDER`](borderflow_core::schema::presence::STORE_ORDER) in [`presence_schema`].
fn sorted_column() -> i32 {
    let first = borderflow_core::schema::presence::STORE_ORDER[0];
    let index = presence_schema()
        .index_of(first)
        .expect("the store's order names a presence column");
    i32::try_from(index).expect("a presence column index fits i32")
}

/// Which of `passes` classes a SIM belongs to: consecutive ranges of its pseudonym's first
/// two bytes, so that the passes, taken in turn, write a date's rows in pseudonym order.
/// Pseudonyms are keyed hashes, so the ranges hold about as many SIMs each.
fn class(pseudonym: &Pseudonym, passes: usize) -> usize {
    let lead = usize::from(u16::from_be_bytes([pseudonym.0[0], pseudonym.0[1]]));
    (lead * passes) >> 16
}

/// The presence rows of `events` (sorted by SIM rank; each SIM's events are reordered here)
/// as a batch of [`presence_schema`], in the store's order
/// ([`STORE_ORDER`](borderflow_core::schema::presence::STORE_ORDER)): SIM by SIM in pseudonym
/// order, each SIM's events added up by country.
fn rows_batch(
    events: &mut [Rec],
    order: &PseudonymOrder,
    day: FunctionalDay,
    weekday: u8,
) -> RecordBatch {
    let mut rows = PresenceRows::with_capacity(events.len() / 2);
    let measures = |r: &Rec| {
        Measures::of(
            r.minute,
            day.is_night(r.minute),
            day.is_working_daytime(weekday, r.minute),
        )
    };
    for sim in events.chunk_by_mut(|a, b| a.sim == b.sim) {
        if sim.len() > 1 {
            sim.sort_unstable_by_key(Rec::countries);
        }
        let pseudonym = order.pseudonym(sim[0].sim);
        for row in sim.chunk_by(|a, b| a.countries() == b.countries()) {
            let mut m = measures(&row[0]);
            row[1..].iter().for_each(|r| m.absorb(&measures(r)));
            rows.push(pseudonym, &row[0], &m);
        }
    }
    rows.finish()
}

/// The columns of a batch of presence rows, filled row by row.
struct PresenceRows {
    pseudonyms: Vec<u8>,
    sim_country: StringBuilder,
    country: StringBuilder,
    counterpart: StringBuilder,
    events: Vec<i32>,
    night: Vec<i32>,
    daytime: Vec<i32>,
    first: Vec<u16>,
    last: Vec<u16>,
}

impl PresenceRows {
    fn with_capacity(n: usize) -> Self {
        Self {
            pseudonyms: Vec::with_capacity(n * 16),
            sim_country: StringBuilder::with_capacity(n, n * 3),
            country: StringBuilder::with_capacity(n, n * 3),
            counterpart: StringBuilder::with_capacity(n, n * 3),
            events: Vec::with_capacity(n),
            night: Vec::with_capacity(n),
            daytime: Vec::with_capacity(n),
            first: Vec::with_capacity(n),
            last: Vec::with_capacity(n),
        }
    }

    /// Adds the row of `pseudonym` with the countries of `event` and the measures `m`.
    fn push(&mut self, pseudonym: &Pseudonym, event: &Rec, m: &Measures) {
        self.pseudonyms.extend_from_slice(&pseudonym.0);
        self.sim_country
            .append_value(unpack(event.sim_country).as_str());
        self.country.append_value(unpack(event.serving).as_str());
        if event.counterpart == NONE {
            self.counterpart.append_null();
        } else {
            self.counterpart
                .append_value(unpack(event.counterpart).as_str());
        }
        self.events.push(m.events as i32);
        self.night.push(m.night as i32);
        self.daytime.push(m.weekday_day as i32);
        self.first.push(m.first);
        self.last.push(m.last);
    }

    fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                FixedSizeBinaryArray::try_new(16, Buffer::from_vec(self.pseudonyms), None)
                    .expect("16 bytes each"),
            ),
            Arc::new(self.sim_country.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.counterpart.finish()),
            Arc::new(Int32Array::from(self.events)),
            Arc::new(Int32Array::from(self.night)),
            Arc::new(Int32Array::from(self.daytime)),
            Arc::new(UInt16Array::from(self.first)),
            Arc::new(UInt16Array::from(self.last)),
        ];
        RecordBatch::try_new(presence_schema(), columns).expect("columns match the schema")
    }
}

impl borderflow_core::FailureKind for ReduceError {
    /// The reduction's spill and partition files are state: a disk full or an unwritable
    /// directory.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::State
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_pack_into_15_bits_and_back() {
        for code in ["AAA", "KEN", "UGA", "XKX", "ZZZ"] {
            let c: CountryCode = code.parse().unwrap();
            assert!(pack(c) < 1 << 15);
            assert_eq!(unpack(pack(c)), c);
        }
        assert_eq!(pack("AAA".parse().unwrap()), 0);
        assert_eq!(pack("ZZZ".parse().unwrap()), 17_575);
    }

    /// Events with SIM ranks spread over three bytes, in a scrambled order; each event's
    /// minute is its place in the input, so stability shows.
    fn scrambled(n: usize, ranks: u32) -> Vec<Rec> {
        let mut x = 0x2545_f491_u32;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                Rec {
                    sim: x % ranks,
                    minute: i as u16,
                    ..BLANK
                }
            })
            .collect()
    }

    fn by_rank_then_input(events: &[Rec]) -> Vec<(u32, u16)> {
        events.iter().map(|r| (r.sim, r.minute)).collect()
    }

    #[test]
    fn the_radix_sort_orders_by_rank_and_keeps_the_input_order_within_a_rank() {
        for (n, ranks) in [
            (50_000, 1 << 20),
            (40_000, 70_000),
            (3_000, 200),
            (1, 1),
            (0, 1),
        ] {
            let mut events = scrambled(n, ranks);
            let mut expected = by_rank_then_input(&events);
            expected.sort_by_key(|(sim, _)| *sim);
            let mut scratch = Vec::new();
            sort_by_rank(&mut events, &mut scratch, ranks - 1);
            assert_eq!(
                by_rank_then_input(&events),
                expected,
                "{n} events, {ranks} ranks"
            );
        }
        // Ranks sharing their low byte: that byte's pass is skipped, the others still sort.
        let mut events = scrambled(5_000, 300);
        events.iter_mut().for_each(|r| r.sim <<= 8);
        let mut expected = by_rank_then_input(&events);
        expected.sort_by_key(|(sim, _)| *sim);
        sort_by_rank(&mut events, &mut Vec::new(), 300 << 8);
        assert_eq!(by_rank_then_input(&events), expected);
    }

    #[test]
    fn ranks_follow_pseudonym_order_and_classes_are_ranges_of_ranks() {
        let registry = borderflow_core::SimRegistry::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut numbers = Vec::new();
        for _ in 0..2_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mut p = [0u8; 16];
            p[..8].copy_from_slice(&x.to_be_bytes());
            p[8..].copy_from_slice(&x.rotate_left(17).to_le_bytes());
            numbers.push(registry.number(Pseudonym(p)).unwrap());
        }
        let sims = registry.snapshot();
        let order = PseudonymOrder::of(&sims);
        assert_eq!(order.by_rank.len(), 2_000);
        assert!(order.by_rank.is_sorted_by_key(|(p, _)| p.0));
        for n in &numbers {
            assert_eq!(*order.pseudonym(order.rank[n.0 as usize]), sims.get(*n));
        }
        for passes in [1, 2, 3, 7] {
            let mut next = 0;
            for pass in 0..passes {
                let ranks = order.ranks_of_class(pass, passes);
                assert_eq!(ranks.start, next);
                for r in ranks.clone() {
                    assert_eq!(class(order.pseudonym(r), passes), pass);
                }
                next = ranks.end;
            }
            assert_eq!(next, 2_000);
        }
    }

    #[test]
    fn events_survive_a_spill_byte_for_byte() {
        let r = Rec {
            sim: 0xdead_beef,
            minute: 1439,
            sim_country: 17_575,
            serving: 3,
            counterpart: NONE,
        };
        let mut b = Vec::new();
        r.encode(&mut b);
        assert_eq!(b.len(), REC_BYTES);
        let back = Rec::decode(&b);
        assert_eq!(
            (back.sim, back.minute, back.sim_country, back.serving),
            (0xdead_beef, 1439, 17_575, 3)
        );
        assert_eq!(back.counterpart, NONE);
        assert_eq!(std::mem::size_of::<Rec>(), REC_BYTES);
    }
}
