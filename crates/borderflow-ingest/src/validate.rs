//! Row validation, country resolution and pseudonymisation: raw batches in, accepted canonical
//! events and quarantine rows out. Nothing identifying passes this point.

use std::hash::{BuildHasher, Hash, Hasher};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Builder, FixedSizeBinaryBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampSecondBuilder, UInt8Builder, UInt16Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use borderflow_core::CountryCode;
use borderflow_pseudo::{Pseudonym, Pseudonymiser};
use borderflow_refdata::{Plmn, PlmnCountry, RefData};
use chrono::{NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::config::TimeFormat;
use crate::reason::{FileCounts, Reason};
use crate::source::{RawBatch, TimeColumn};

/// The functional day starts at 04:00 local time (DESIGN §6).
pub const FUNCTIONAL_DAY_START_SECS: i64 = 4 * 3600;

/// Distinct ids kept in the pseudonym cache before it is cleared (bounds memory).
const PSEUDONYM_CACHE: usize = 1 << 20;

/// The instant of an event, in seconds UTC (what validation resolves every time format to).
fn event_time_field(nullable: bool) -> Field {
    Field::new(
        "event_time",
        DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
        nullable,
    )
}

/// Schema of accepted events: pseudonymised, countries resolved, local time derived — only
/// what daily presence needs. The event time, type and cell are read (they identify duplicates
/// and pick the time zone) but not carried on: copying them cost time and memory for nothing.
pub fn accepted_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("pseudonym", DataType::FixedSizeBinary(16), false),
        Field::new("sim_country", DataType::Utf8, false),
        Field::new("serving_country", DataType::Utf8, false),
        // The functional local date (the day that began at 04:00 local).
        Field::new("local_date", DataType::Date32, false),
        // Minutes since the functional day began (0 = 04:00 local).
        Field::new("fday_minute", DataType::UInt16, false),
        // Day of the week of the functional date, 0 = Monday.
        Field::new("weekday", DataType::UInt8, false),
        Field::new("counterpart_country", DataType::Utf8, true),
    ]))
}

/// Schema of quarantined rows: where the row was, why, and non-identifying fields only. PLMN
/// and event-type values are kept only when they have the shape of one, so a mis-mapped
/// column can never carry an id into the quarantine.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("row", DataType::UInt64, false),
        Field::new("reason", DataType::Utf8, false),
        event_time_field(true),
        Field::new("home_plmn", DataType::Utf8, true),
        Field::new("serving_plmn", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
    ]))
}

/// One validated batch.
#[derive(Debug)]
pub struct Validated {
    /// Accepted events ([`accepted_schema`]).
    pub accepted: RecordBatch,
    /// Quarantined rows ([`quarantine_schema`]).
    pub quarantine: RecordBatch,
    /// The batch's accounting.
    pub counts: FileCounts,
}

/// Validates raw batches of one run: same window, same key, same code lists.
pub struct Validator<'a> {
    rd: &'a RefData,
    m: CountryCode,
    /// Accepted functional local dates, inclusive, in days since 1970-01-01.
    window: (i32, i32),
    time_format: TimeFormat,
    source_tz: Tz,
    pseudonymiser: Pseudonymiser,
    pseudonyms: HashMap<Box<str>, Pseudonym>,
    plmns: HashMap<Box<str>, Result<CountryCode, Reason>>,
    offsets: HashMap<(Tz, i64), i64>,
    /// Time zone of each cell of the operator's network, from the cell catalogue.
    cells: HashMap<Box<str>, Tz>,
    /// Hashes of the events accepted in this batch and the one before: a row equal to one of
    /// them is a duplicate. Two batches bound the memory; duplicates further apart pass.
    seen: HashSet<u64>,
    seen_before: HashSet<u64>,
}

impl<'a> Validator<'a> {
    /// A validator for measuring country `m`, accepting events whose functional local date
    /// (days since 1970-01-01) lies in `window`, both ends included. The window is on local
    /// dates, not instants, so that a run owns whole days of the presence store.
    pub fn new(
        rd: &'a RefData,
        m: CountryCode,
        window: (i32, i32),
        time_format: TimeFormat,
        source_tz: Tz,
        pseudonymiser: Pseudonymiser,
    ) -> Self {
        Self {
            rd,
            m,
            window,
            time_format,
            source_tz,
            pseudonymiser,
            pseudonyms: HashMap::new(),
            plmns: HashMap::new(),
            offsets: HashMap::new(),
            cells: HashMap::new(),
            seen: HashSet::new(),
            seen_before: HashSet::new(),
        }
    }

    /// Uses a cell catalogue (cell id → time zone) for events on the operator's network.
    pub fn with_cells(mut self, cells: HashMap<Box<str>, Tz>) -> Self {
        self.cells = cells;
        self
    }

    /// Validates one batch read from `file`.
    pub fn validate(&mut self, file: &str, raw: &RawBatch) -> Validated {
        let n = raw.len();
        let mut acc = Accepted::with_capacity(n);
        let mut q = Quarantine::default();
        let mut counts = FileCounts {
            read: n as u64,
            ..FileCounts::default()
        };
        self.seen_before = std::mem::take(&mut self.seen);
        for i in 0..n {
            let time = self.time_of(&raw.event_time, i);
            let verdict = self.check(raw, i, time);
            match verdict {
                Ok((pseudonym, sim, serving, local)) => {
                    let days = local.div_euclid(86_400);
                    acc.pseudonym.append_value(pseudonym.0).expect("16 bytes");
                    acc.sim.append_value(sim.as_str());
                    acc.serving.append_value(serving.as_str());
                    acc.date.append_value(days as i32);
                    acc.minute
                        .append_value((local.rem_euclid(86_400) / 60) as u16);
                    acc.weekday.append_value((days + 3).rem_euclid(7) as u8);
                    let cp = opt(&raw.counterpart_number, i)
                        .and_then(|num| self.rd.calling_codes.country_of(num));
                    acc.counterpart
                        .append_option(cp.as_ref().map(CountryCode::as_str));
                    counts.accepted += 1;
                }
                Err(reason) => {
                    *counts.quarantined.entry(reason).or_default() += 1;
                    q.file.append_value(file);
                    q.row.append_value(raw.first_row + i as u64);
                    q.reason.append_value(reason.code());
                    q.time.append_option(time);
                    q.home.append_option(plmn_shaped(&raw.home_plmn, i));
                    q.serving.append_option(plmn_shaped(&raw.serving_plmn, i));
                    q.event_type
                        .append_option(opt(&raw.event_type, i).filter(|t| token_shaped(t)));
                }
            }
        }
        Validated {
            accepted: acc.finish(),
            quarantine: q.finish(),
            counts,
        }
    }

    /// The row's verdict: its pseudonym, instant, SIM country and serving country, or why not.
    fn check(
        &mut self,
        raw: &RawBatch,
        i: usize,
        time: Option<i64>,
    ) -> Result<(Pseudonym, CountryCode, CountryCode, i64), Reason> {
        let id = if raw.subscriber_id.is_null(i) {
            ""
        } else {
            raw.subscriber_id.value(i)
        };
        if id.trim().is_empty() {
            return Err(Reason::EmptyId);
        }
        let time = time.ok_or(Reason::BadTime)?;
        let sim = self.country_of_plmn(&raw.home_plmn, i)?;
        let serving = self.country_of_plmn(&raw.serving_plmn, i)?;
        if sim != self.m && serving != self.m {
            return Err(Reason::ForeignOnForeign);
        }
        // Seconds since the epoch on the local clock, shifted so days start at 04:00.
        let tz = self.zone_of(serving, raw, i);
        let local = time + self.utc_offset(tz, time) - FUNCTIONAL_DAY_START_SECS;
        let date = local.div_euclid(86_400);
        if date < i64::from(self.window.0) || date > i64::from(self.window.1) {
            return Err(Reason::OutsideWindow);
        }
        let fingerprint = event_hash(raw, i, id, time);
        if self.seen_before.contains(&fingerprint) || !self.seen.insert(fingerprint) {
            return Err(Reason::Duplicate);
        }
        let pseudonym = self.pseudonym(id).ok_or(Reason::EmptyId)?;
        Ok((pseudonym, sim, serving, local))
    }

    /// Pseudonymises each distinct id once while it stays in the cache.
    fn pseudonym(&mut self, id: &str) -> Option<Pseudonym> {
        if let Some(p) = self.pseudonyms.get(id) {
            return Some(*p);
        }
        let p = self.pseudonymiser.pseudonym(id)?;
        if self.pseudonyms.len() >= PSEUDONYM_CACHE {
            self.pseudonyms.clear();
        }
        self.pseudonyms.insert(id.into(), p);
        Some(p)
    }

    fn country_of_plmn(&mut self, col: &StringArray, i: usize) -> Result<CountryCode, Reason> {
        if col.is_null(i) {
            return Err(Reason::MalformedPlmn);
        }
        let text = col.value(i);
        if let Some(hit) = self.plmns.get(text) {
            return *hit;
        }
        let verdict = match Plmn::parse(text.trim()) {
            Err(_) => Err(Reason::MalformedPlmn),
            Ok(p) => match self.rd.plmn.country_of(p) {
                PlmnCountry::Country(c) => Ok(c),
                PlmnCountry::NonGeographic | PlmnCountry::Unlisted => Err(Reason::UnknownPlmn),
            },
        };
        if self.plmns.len() < 100_000 {
            self.plmns.insert(text.into(), verdict);
        }
        verdict
    }

    /// The instant of row `i` in seconds UTC, or None if it cannot be read.
    fn time_of(&self, col: &TimeColumn, i: usize) -> Option<i64> {
        match col {
            TimeColumn::Instant(a) => (!a.is_null(i)).then(|| a.value(i)),
            TimeColumn::Integer(a) => {
                if a.is_null(i) {
                    return None;
                }
                let v = a.value(i);
                match self.time_format {
                    TimeFormat::EpochMillis => Some(v.div_euclid(1000)),
                    _ => Some(v),
                }
            }
            TimeColumn::Text(a) => {
                if a.is_null(i) {
                    return None;
                }
                let s = a.value(i).trim();
                match &self.time_format {
                    TimeFormat::Rfc3339 => chrono::DateTime::parse_from_rfc3339(s)
                        .ok()
                        .map(|t| t.timestamp()),
                    TimeFormat::EpochSeconds => s.parse().ok(),
                    TimeFormat::EpochMillis => s.parse::<i64>().ok().map(|v| v.div_euclid(1000)),
                    TimeFormat::Pattern(p) => NaiveDateTime::parse_from_str(s, p)
                        .ok()
                        .and_then(|t| self.source_tz.from_local_datetime(&t).earliest())
                        .map(|t| t.timestamp()),
                }
            }
        }
    }

    /// The zone of row `i`: its cell's, for a catalogued cell of the operator's network in M;
    /// else the serving country's principal zone.
    fn zone_of(&self, serving: CountryCode, raw: &RawBatch, i: usize) -> Tz {
        if serving == self.m
            && !self.cells.is_empty()
            && let Some(tz) = opt(&raw.cell_id, i).and_then(|c| self.cells.get(c))
        {
            return *tz;
        }
        self.rd.time_zones.of(serving).unwrap_or(Tz::UTC)
    }

    /// Seconds to add to UTC for local time in `tz` at `time`, cached per hour.
    fn utc_offset(&mut self, tz: Tz, time: i64) -> i64 {
        *self
            .offsets
            .entry((tz, time.div_euclid(3600)))
            .or_insert_with(|| {
                let at = chrono::DateTime::from_timestamp(time.div_euclid(3600) * 3600, 0)
                    .expect("in range")
                    .naive_utc();
                i64::from(tz.offset_from_utc_datetime(&at).fix().local_minus_utc())
            })
    }
}

/// A 64-bit hash of everything that makes an event (fixed SipHash keys, so runs agree).
fn event_hash(raw: &RawBatch, i: usize, id: &str, time: i64) -> u64 {
    // A fixed seed keeps the verdict the same from run to run.
    let mut h = foldhash::quality::FixedState::with_seed(0x6266_6c6f_7721).build_hasher();
    id.trim().hash(&mut h);
    time.hash(&mut h);
    raw.serving_plmn.value(i).trim().hash(&mut h);
    opt(&raw.event_type, i).hash(&mut h);
    opt(&raw.cell_id, i).hash(&mut h);
    opt(&raw.counterpart_number, i).hash(&mut h);
    h.finish()
}

fn opt(col: &Option<StringArray>, i: usize) -> Option<&str> {
    col.as_ref()
        .filter(|c| !c.is_null(i))
        .map(|c| c.value(i).trim())
        .filter(|s| !s.is_empty())
}

/// The value if it has a PLMN's shape (5–6 digits), else None: never copy other text.
fn plmn_shaped(col: &StringArray, i: usize) -> Option<&str> {
    if col.is_null(i) {
        return None;
    }
    let s = col.value(i).trim();
    Plmn::parse(s).is_ok().then_some(s)
}

/// Event types are short words; anything else (a number, a long string) is not copied.
fn token_shaped(s: &str) -> bool {
    (1..=24).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
}

struct Accepted {
    pseudonym: FixedSizeBinaryBuilder,
    sim: StringBuilder,
    serving: StringBuilder,
    date: Date32Builder,
    minute: UInt16Builder,
    weekday: UInt8Builder,
    counterpart: StringBuilder,
}

impl Accepted {
    fn with_capacity(n: usize) -> Self {
        Self {
            pseudonym: FixedSizeBinaryBuilder::with_capacity(n, 16),
            sim: StringBuilder::with_capacity(n, n * 3),
            serving: StringBuilder::with_capacity(n, n * 3),
            date: Date32Builder::with_capacity(n),
            minute: UInt16Builder::with_capacity(n),
            weekday: UInt8Builder::with_capacity(n),
            counterpart: StringBuilder::with_capacity(n, n * 3),
        }
    }

    fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.pseudonym.finish()),
            Arc::new(self.sim.finish()),
            Arc::new(self.serving.finish()),
            Arc::new(self.date.finish()),
            Arc::new(self.minute.finish()),
            Arc::new(self.weekday.finish()),
            Arc::new(self.counterpart.finish()),
        ];
        RecordBatch::try_new(accepted_schema(), columns).expect("columns match schema")
    }
}

#[derive(Default)]
struct Quarantine {
    file: StringBuilder,
    row: UInt64Builder,
    reason: StringBuilder,
    time: TimestampSecondBuilder,
    home: StringBuilder,
    serving: StringBuilder,
    event_type: StringBuilder,
}

impl Quarantine {
    fn finish(mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.row.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.time.finish().with_timezone("UTC")),
            Arc::new(self.home.finish()),
            Arc::new(self.serving.finish()),
            Arc::new(self.event_type.finish()),
        ];
        RecordBatch::try_new(quarantine_schema(), columns).expect("columns match schema")
    }
}
