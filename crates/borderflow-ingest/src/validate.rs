//! Row validation, country resolution and pseudonymisation: raw batches in, accepted canonical
//! events and quarantine rows out. Nothing identifying passes this point.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, MAX_INLINE_VIEW_LEN, RecordBatch, StringBuilder, StringViewArray,
    TimestampSecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use borderflow_core::CountryCode;
use borderflow_pseudo::Pseudonymiser;
use borderflow_refdata::{Plmn, PlmnCountry, RefData};
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::config::TimeFormat;
use crate::fingerprint::{DuplicateWindow, fingerprint, short_word, text_word};
use crate::local_time::UtcOffsets;
use crate::reason::{FileCounts, Reason};
use crate::source::{RawBatch, TimeColumn};
use borderflow_core::{AcceptedEvent, FunctionalDay, SimNumber, SimRegistry, TooManySims};

/// 1000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the instants an event time may have.
const EARLIEST_TIME: i64 = -30_610_224_000;
const LATEST_TIME: i64 = 253_402_300_799;

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
    /// Accepted events, in the order read.
    pub accepted: Vec<AcceptedEvent>,
    /// Quarantined rows ([`quarantine_schema`]).
    pub quarantine: RecordBatch,
    /// The batch's accounting.
    pub counts: FileCounts,
}

/// A PLMN's verdict, remembered for the next row under the row's string view (PLMNs come in
/// long runs): the next row's view is compared as one word, its text never reached. Only
/// views of texts of up to [`MAX_INLINE_VIEW_LEN`] bytes, which hold the text itself, so equal
/// views are equal texts in any batch; a longer text's view points into its batch.
#[derive(Clone, Copy)]
struct PlmnMemo {
    view: u128,
    verdict: Result<CountryCode, Reason>,
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
    sims: &'a SimRegistry,
    /// Each distinct id's SIM number, and the last short id's (ids come in runs in files
    /// sorted by subscriber).
    numbers: IdNumbers,
    last_id: Option<(u128, Option<SimNumber>)>,
    /// What was found of each of the rows being validated before them
    /// ([`Self::look_ahead`]): what the cache knew of its id, its time and its fingerprint.
    ahead: Vec<Ahead>,
    /// Each PLMN text's verdict, keyed by its string view, which holds the text itself up to
    /// [`MAX_INLINE_VIEW_LEN`]: hashing and comparing a word, not text behind a pointer. Longer
    /// texts (never PLMNs, at most padded ones) are checked every time.
    plmns: HashMap<u128, Result<CountryCode, Reason>>,
    plmn_memo: [Option<PlmnMemo>; 2],
    /// The last serving country's principal zone.
    zone_memo: Option<(CountryCode, Tz)>,
    offsets: UtcOffsets,
    /// Time zone of each cell of the operator's network, from the cell catalogue.
    cells: HashMap<Box<str>, Tz>,
    /// The events accepted in this block of rows: a row equal to one of them is a duplicate.
    /// The block bounds the memory; duplicates further apart pass.
    recent: DuplicateWindow,
    /// Seconds from local midnight to the start of the functional day.
    day_start: i64,
    /// The dates the file being read may still give, when fewer than the run's window
    /// ([`crate::InputFile::window`]).
    file_window: Option<crate::DateWindow>,
    /// First and last functional date of the batch's rows that have one.
    dates: Option<(i32, i32)>,
}

impl<'a> Validator<'a> {
    /// A validator for measuring country `m`, accepting events whose functional local date
    /// (days since 1970-01-01) lies in `window`, both ends included. The window is on local
    /// dates, not instants, so that a run owns whole days of the presence store. SIMs are
    /// numbered by `sims`, shared by every validator of the run.
    pub fn new(
        rd: &'a RefData,
        m: CountryCode,
        window: (i32, i32),
        time_format: TimeFormat,
        source_tz: Tz,
        pseudonymiser: Pseudonymiser,
        sims: &'a SimRegistry,
    ) -> Self {
        Self {
            rd,
            m,
            window,
            time_format,
            source_tz,
            pseudonymiser,
            sims,
            numbers: IdNumbers::default(),
            last_id: None,
            ahead: Vec::with_capacity(LOOKUP_ROWS),
            plmns: HashMap::new(),
            plmn_memo: [None; 2],
            zone_memo: None,
            offsets: UtcOffsets::default(),
            cells: HashMap::new(),
            recent: DuplicateWindow::default(),
            day_start: FunctionalDay::default().start_seconds(),
            file_window: None,
            dates: None,
        }
    }

    /// Starts reading a file, or a piece of one, whose row groups start at `groups`
    /// ([`crate::source::FileReader::row_group_starts`]): forgets the rows read before it, so
    /// that a duplicate is one within the same block of the same file whichever thread read
    /// what before it, and limits the rows accepted from it to the dates of `window` (besides
    /// the run's): a row of the run's window but not of `window` is quarantined as
    /// [`Reason::AlreadyIngested`]. `None` lifts the limit.
    pub fn start_file(&mut self, window: Option<crate::DateWindow>, groups: crate::RowGroupStarts) {
        self.recent.start(groups);
        self.file_window = window;
    }

    /// Uses a cell catalogue (cell id → time zone) for events on the operator's network.
    pub fn with_cells(mut self, cells: HashMap<Box<str>, Tz>) -> Self {
        self.cells = cells;
        self
    }

    /// Dates and minutes events by `day` (the default is [`FunctionalDay::default`]).
    pub fn with_day(mut self, day: &FunctionalDay) -> Self {
        self.day_start = day.start_seconds();
        self
    }

    /// Validates one batch read from `file`. Fails only when the run has more distinct SIMs
    /// than 32-bit numbers.
    pub fn validate(&mut self, file: &str, raw: &RawBatch) -> Result<Validated, TooManySims> {
        let n = raw.len();
        let mut accepted = Vec::with_capacity(n);
        let mut q = Quarantine::default();
        let mut counts = FileCounts {
            read: n as u64,
            ..FileCounts::default()
        };
        self.dates = None;
        for i in 0..n {
            if i % LOOKUP_ROWS == 0 {
                self.look_ahead(raw, i..n.min(i + LOOKUP_ROWS));
            }
            self.recent
                .next_row(raw.first_row.saturating_sub(1) + i as u64);
            let ahead = self.ahead[i % LOOKUP_ROWS];
            let time = ahead.time;
            let verdict = self.check(raw, i, ahead)?;
            match verdict {
                Ok((sim_number, sim, serving, local)) => {
                    let counterpart_country = opt(&raw.counterpart_number, i)
                        .and_then(|num| self.rd.calling_codes.country_of(num));
                    accepted.push(AcceptedEvent {
                        sim: sim_number,
                        local_date: local.div_euclid(86_400) as i32,
                        fday_minute: (local.rem_euclid(86_400) / 60) as u16,
                        sim_country: sim,
                        serving_country: serving,
                        counterpart_country,
                    });
                    counts.accepted += 1;
                }
                // A row the store already took is counted, not written: it is not a bad row,
                // and a file read again for a few new dates would otherwise fill the
                // quarantine with every row it gave before.
                Err(Reason::AlreadyIngested) => {
                    *counts
                        .quarantined
                        .entry(Reason::AlreadyIngested)
                        .or_default() += 1;
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
        counts.dates = self.dates;
        Ok(Validated {
            accepted,
            quarantine: q.finish(),
            counts,
        })
    }

    /// The row's verdict: its SIM number, SIM country, serving country and local functional
    /// time, or why not.
    #[allow(clippy::type_complexity)]
    fn check(
        &mut self,
        raw: &RawBatch,
        i: usize,
        ahead: Ahead,
    ) -> Result<Result<(SimNumber, CountryCode, CountryCode, i64), Reason>, TooManySims> {
        let id = if raw.subscriber_id.is_null(i) {
            ""
        } else {
            raw.subscriber_id.value(i)
        }
        .trim_ascii();
        if id.is_empty() {
            return Ok(Err(Reason::EmptyId));
        }
        let Some(time) = ahead.time else {
            return Ok(Err(Reason::BadTime));
        };
        let sim = match self.country_of_plmn(0, &raw.home_plmn, i) {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        let serving = match self.country_of_plmn(1, &raw.serving_plmn, i) {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        if sim != self.m && serving != self.m {
            return Ok(Err(Reason::ForeignOnForeign));
        }
        // Seconds since the epoch on the local clock, shifted so days start at the functional
        // day's start.
        let tz = self.zone_of(serving, raw, i);
        let local = time + self.offsets.at(tz, time) - self.day_start;
        let date = local.div_euclid(86_400);
        if let Ok(day) = i32::try_from(date) {
            self.dates = Some(match self.dates {
                Some((a, b)) => (a.min(day), b.max(day)),
                None => (day, day),
            });
        }
        if date < i64::from(self.window.0) || date > i64::from(self.window.1) {
            return Ok(Err(Reason::OutsideWindow));
        }
        if let Some(w) = &self.file_window
            && !w.contains(date as i32)
        {
            return Ok(Err(Reason::AlreadyIngested));
        }
        if self.recent.is_repeat(ahead.fingerprint) {
            return Ok(Err(Reason::Duplicate));
        }
        let key = IdKey::of(id);
        let number = match ahead.known {
            Known::Number(number) => number,
            Known::Unknown => self.sim_number(id, key)?,
        };
        Ok(match number {
            Some(number) => Ok((number, sim, serving, local)),
            None => Err(Reason::EmptyId),
        })
    }

    /// Finds what the rows `rows` need from memory far away before they are validated, in
    /// three loops: what the cache knows of each id; each row's time and fingerprint; and the
    /// duplicate window's slot where each fingerprint's probe will start.
    ///
    /// In a file sorted by time nearly every row's id differs from the row before, and its
    /// lookup misses the processor's caches; so does the probe of each fingerprint, a slot at
    /// random in a table of half a megabyte. Inside the row's validation the misses waited one
    /// after another (the id lookups a fifth of the reading threads' samples at 51.7 M events;
    /// the probe's one load 83% of the duplicate window's 10% of a run's samples at 5.15 M).
    /// The loops of the lookups and of the slots hold nothing else, so the processor overlaps
    /// their misses (with the fingerprints' work in the ids' loop, the three symbols took 13%
    /// more samples at 51.7 M events than before any look-ahead). It changes nothing: ids the
    /// cache does not know yet are numbered in row order by [`Self::sim_number`], and
    /// fingerprints are added to the window in row order by [`Self::check`], as the rows are
    /// validated. A row whose id is empty or whose time cannot be read has no fingerprint (0):
    /// it is quarantined before one is needed.
    fn look_ahead(&mut self, raw: &RawBatch, rows: std::ops::Range<usize>) {
        let mut ahead = std::mem::take(&mut self.ahead);
        ahead.clear();
        let ids = &raw.subscriber_id;
        let trimmed = |i: usize| if ids.is_null(i) { "" } else { ids.value(i) }.trim_ascii();
        // The ids' lookups, with nothing else in the loop.
        let mut last: Option<(u128, Known)> = None;
        for i in rows.clone() {
            let known = match IdKey::of(trimmed(i)) {
                IdKey::Short(word) => match last {
                    Some((w, known)) if w == word => known,
                    _ => {
                        let known = self.numbers.short.get(&word).copied().into();
                        last = Some((word, known));
                        known
                    }
                },
                IdKey::Long(text) => self.numbers.long.get(text).copied().into(),
            };
            ahead.push(Ahead {
                known,
                time: None,
                fingerprint: 0,
            });
        }
        for (a, i) in ahead.iter_mut().zip(rows) {
            let id = trimmed(i);
            a.time = self.time_of(&raw.event_time, i);
            if let Some(time) = a.time
                && !id.is_empty()
            {
                a.fingerprint = event_fingerprint(raw, i, &IdKey::of(id), time);
            }
        }
        // The slots' loads, with nothing else in the loop.
        let mut slots = 0u32;
        for a in &ahead {
            slots ^= self.recent.slot_ahead(a.fingerprint);
        }
        // Kept, so the slots' loads are made.
        std::hint::black_box(slots);
        self.ahead = ahead;
    }

    /// The SIM number of an id the cache did not know when its rows were looked up:
    /// pseudonymised once per distinct id while it stays in the cache, then numbered by the
    /// run's registry. `None` for an id empty once normalised.
    fn sim_number(&mut self, id: &str, key: IdKey<'_>) -> Result<Option<SimNumber>, TooManySims> {
        if let (Some((last, number)), IdKey::Short(word)) = (&self.last_id, &key)
            && last == word
        {
            return Ok(*number);
        }
        let number = match self.numbers.get(&key) {
            Some(n) => n,
            None => {
                let number = match self.pseudonymiser.pseudonym(id) {
                    None => None,
                    Some(p) => Some(self.sims.number(p)?),
                };
                self.numbers.insert(&key, number);
                number
            }
        };
        if let IdKey::Short(word) = key {
            self.last_id = Some((word, number));
        }
        Ok(number)
    }

    /// The country of the PLMN in row `i` of `col` (`which`: 0 home, 1 serving), or why not.
    fn country_of_plmn(
        &mut self,
        which: usize,
        col: &StringViewArray,
        i: usize,
    ) -> Result<CountryCode, Reason> {
        if col.is_null(i) {
            return Err(Reason::MalformedPlmn);
        }
        let view = col.views()[i];
        if let Some(memo) = &self.plmn_memo[which]
            && memo.view == view
        {
            return memo.verdict;
        }
        let inline = (view as u32) <= MAX_INLINE_VIEW_LEN;
        let known = if inline { self.plmns.get(&view) } else { None };
        let verdict = match known {
            Some(hit) => *hit,
            None => {
                let verdict = match Plmn::parse(col.value(i).trim()) {
                    Err(_) => Err(Reason::MalformedPlmn),
                    Ok(p) => match self.rd.plmn.country_of(p) {
                        PlmnCountry::Country(c) => Ok(c),
                        PlmnCountry::NonGeographic | PlmnCountry::Unlisted => {
                            Err(Reason::UnknownPlmn)
                        }
                    },
                };
                if inline && self.plmns.len() < 100_000 {
                    self.plmns.insert(view, verdict);
                }
                verdict
            }
        };
        if inline {
            self.plmn_memo[which] = Some(PlmnMemo { view, verdict });
        }
        verdict
    }

    /// The instant of row `i` in seconds UTC, or None if it cannot be read or lies outside
    /// the years 1000–9999 (an epoch value in the wrong unit, say).
    fn time_of(&self, col: &TimeColumn, i: usize) -> Option<i64> {
        self.read_time(col, i)
            .filter(|t| (EARLIEST_TIME..=LATEST_TIME).contains(t))
    }

    fn read_time(&self, col: &TimeColumn, i: usize) -> Option<i64> {
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
                    TimeFormat::Rfc3339 => plain_utc_seconds(s.as_bytes()).or_else(|| {
                        chrono::DateTime::parse_from_rfc3339(s)
                            .ok()
                            .map(|t| t.timestamp())
                    }),
                    TimeFormat::EpochSeconds => s.parse().ok(),
                    TimeFormat::EpochMillis => s.parse::<i64>().ok().map(|v| v.div_euclid(1000)),
                    TimeFormat::Iso8601 => iso8601(s, self.source_tz),
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
    fn zone_of(&mut self, serving: CountryCode, raw: &RawBatch, i: usize) -> Tz {
        if serving == self.m
            && !self.cells.is_empty()
            && let Some(tz) = opt(&raw.cell_id, i).and_then(|c| self.cells.get(c))
        {
            return *tz;
        }
        match self.zone_memo {
            Some((c, tz)) if c == serving => tz,
            _ => {
                let tz = self.rd.time_zones.of(serving).unwrap_or(Tz::UTC);
                self.zone_memo = Some((serving, tz));
                tz
            }
        }
    }
}

/// A subscriber id as a cache key: ids of up to 15 bytes (IMSIs, MSISDNs) as one 128-bit word
/// of their bytes and length, so a lookup hashes and compares a word instead of following a
/// pointer to text (which took a fifth of ingest time on a file sorted by time); longer ids as
/// the text itself, copied only when the cache keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum IdKey<'a> {
    Short(u128),
    Long(&'a str),
}

impl<'a> IdKey<'a> {
    fn of(id: &'a str) -> Self {
        match short_word(id.as_bytes()) {
            Some(word) => Self::Short(word),
            None => Self::Long(id),
        }
    }

    /// The key as one word, for the event's fingerprint.
    fn word(&self) -> u128 {
        match self {
            Self::Short(word) => *word,
            Self::Long(text) => text_word(text.as_bytes()),
        }
    }
}

/// What [`Validator::look_ahead`] found of a row before it is validated.
#[derive(Clone, Copy)]
struct Ahead {
    /// What the cache knew of its id.
    known: Known,
    /// Its instant in seconds UTC, if it can be read.
    time: Option<i64>,
    /// Its fingerprint ([`event_fingerprint`]); 0 for a row without an id or a time.
    fingerprint: u64,
}

/// What the cache knew of a row's id when the row's ids were looked up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Not in the cache then: pseudonymised, or found, as the row is validated.
    Unknown,
    /// Its SIM number (`None`: empty once normalised).
    Number(Option<SimNumber>),
}

impl From<Option<Option<SimNumber>>> for Known {
    fn from(cached: Option<Option<SimNumber>>) -> Self {
        cached.map_or(Known::Unknown, Known::Number)
    }
}

/// Rows looked ahead together before they are validated ([`Validator::look_ahead`]): a
/// thousand, so the answers stay in the processor's first-level cache, and the slots read
/// ahead in its second, until their rows use them.
const LOOKUP_ROWS: usize = 1024;

/// Each distinct id's SIM number (`None`: empty once normalised), cleared when it holds
/// [`PSEUDONYM_CACHE`] ids so memory stays bounded.
#[derive(Default)]
struct IdNumbers {
    short: HashMap<u128, Option<SimNumber>>,
    long: HashMap<Box<str>, Option<SimNumber>>,
}

impl IdNumbers {
    fn get(&self, key: &IdKey<'_>) -> Option<Option<SimNumber>> {
        match key {
            IdKey::Short(w) => self.short.get(w).copied(),
            IdKey::Long(t) => self.long.get(*t).copied(),
        }
    }

    fn insert(&mut self, key: &IdKey<'_>, number: Option<SimNumber>) {
        if self.short.len() + self.long.len() >= PSEUDONYM_CACHE {
            self.short.clear();
            self.long.clear();
        }
        match key {
            IdKey::Short(w) => self.short.insert(*w, number),
            IdKey::Long(t) => self.long.insert((*t).into(), number),
        };
    }
}

/// Seconds UTC of RFC 3339 text in the one shape nearly every export writes,
/// `YYYY-MM-DDTHH:MM:SSZ` (20 bytes, a calendar date, seconds 00–59); `None` for any other
/// text, which chrono's general RFC 3339 parser then reads (offsets, fractions, lowercase
/// letters, a leap second). chrono's parser, with its calendar checks, was 5% of the samples
/// of a time-ordered CSV run; this reads the digits in place and gives the same seconds
/// (tested against chrono, docs/performance.md).
#[inline]
fn plain_utc_seconds(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].map(|i| b[i].wrapping_sub(b'0'));
    if digits.iter().any(|d| *d > 9) {
        return None;
    }
    let two = |i: usize| i64::from(digits[i]) * 10 + i64::from(digits[i + 1]);
    let (year, month, day) = (two(0) * 100 + two(2), two(4), two(6));
    let (hour, minute, second) = (two(8), two(10), two(12));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&month)
        || !(1..=month_days).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (years from 0), counted
/// in whole 400-year eras of 146,097 days.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Years start in March, so a leap day is the last day of its year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Seconds UTC of ISO 8601 text as databases export it ([`TimeFormat::Iso8601`]): `T` or a
/// space between date and time, optional fractions, then `Z`, `±HH`, `±HHMM`, `±HH:MM` or
/// nothing (a time in `tz`).
fn iso8601(s: &str, tz: Tz) -> Option<i64> {
    let b = s.as_bytes();
    let format = match b.get(10) {
        Some(b'T') | Some(b't') => "%Y-%m-%dT%H:%M:%S%.f",
        Some(b' ') => "%Y-%m-%d %H:%M:%S%.f",
        _ => return None,
    };
    let (naive, rest) = NaiveDateTime::parse_and_remainder(s, format).ok()?;
    let offset = match rest.as_bytes() {
        [] => {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.timestamp());
        }
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), digits @ ..] => {
            let digits: Vec<u8> = digits.iter().copied().filter(|c| *c != b':').collect();
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let (h, m) = match digits.as_slice() {
                [h1, h2] => (i64::from((h1 - b'0') * 10 + (h2 - b'0')), 0),
                [h1, h2, m1, m2] => (
                    i64::from((h1 - b'0') * 10 + (h2 - b'0')),
                    i64::from((m1 - b'0') * 10 + (m2 - b'0')),
                ),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    Some(naive.and_utc().timestamp() - offset)
}

/// The fingerprint of row `i` ([`fingerprint`]); `id` is the trimmed subscriber id's key.
/// A missing serving PLMN counts as empty text (such a row is quarantined before its
/// fingerprint is used).
fn event_fingerprint(raw: &RawBatch, i: usize, id: &IdKey<'_>, time: i64) -> u64 {
    fn text(col: &Option<StringViewArray>, i: usize) -> &[u8] {
        opt(col, i).unwrap_or("").as_bytes()
    }
    let serving = &raw.serving_plmn;
    fingerprint(
        id.word(),
        time,
        [
            if serving.is_null(i) {
                b""
            } else {
                serving.value(i).trim_ascii().as_bytes()
            },
            text(&raw.event_type, i),
            text(&raw.cell_id, i),
            text(&raw.counterpart_number, i),
        ],
    )
}

fn opt(col: &Option<StringViewArray>, i: usize) -> Option<&str> {
    col.as_ref()
        .filter(|c| !c.is_null(i))
        .map(|c| c.value(i).trim_ascii())
        .filter(|s| !s.is_empty())
}

/// The value if it has a PLMN's shape (5–6 digits), else None: never copy other text.
fn plmn_shaped(col: &StringViewArray, i: usize) -> Option<&str> {
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

#[cfg(test)]
mod tests {
    use super::{IdKey, Tz, iso8601, plain_utc_seconds};

    #[test]
    fn short_ids_are_one_word_holding_their_bytes_and_length() {
        let ids = [
            "",
            "6",
            "63",
            "639",
            "6390",
            "63902",
            "639020",
            "6390200",
            "63902000",
            "639020000",
            "6390200000",
            "639020000000007",
            "639020000000008",
            "63902000000007",
            "0000",
            "00000",
            "\0",
            "\0\0",
            "1234567890123456",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(IdKey::of(a) == IdKey::of(b), a == b, "{a:?} {b:?}");
            }
            let expected: u128 = if a.len() < 16 {
                let mut w = [0u8; 16];
                w[..a.len()].copy_from_slice(a.as_bytes());
                w[15] = a.len() as u8;
                u128::from_le_bytes(w)
            } else {
                0
            };
            match IdKey::of(a) {
                IdKey::Short(w) => assert_eq!(w, expected, "{a:?}"),
                IdKey::Long(t) => assert_eq!(t, a),
            }
        }
    }

    /// The plain RFC 3339 reader gives chrono's seconds for every text it reads, and leaves
    /// to chrono every text it does not: every day of a leap and a common year and of the
    /// century years, times at the ends of their ranges, and texts a digit or a letter off.
    #[test]
    fn plain_rfc3339_is_read_as_chrono_reads_it() {
        let chrono_seconds = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp())
        };
        let mut read = 0;
        for year in [
            0, 1, 999, 1000, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999,
        ] {
            for month in 0..=13 {
                for day in 0..=32 {
                    for time in ["00:00:00", "23:59:59", "07:18:19", "24:00:00", "12:60:00"] {
                        let s = format!("{year:04}-{month:02}-{day:02}T{time}Z");
                        let plain = plain_utc_seconds(s.as_bytes());
                        if plain.is_some() {
                            read += 1;
                            assert_eq!(plain, chrono_seconds(&s), "{s}");
                        } else {
                            // Left to chrono: a text chrono does not take either.
                            assert_eq!(chrono_seconds(&s), None, "{s}");
                        }
                    }
                }
            }
        }
        // 12 years' days (three of them leap years: 0, 2000, 2024) at three valid times.
        assert_eq!(read, 3 * (9 * 365 + 3 * 366));
        assert_eq!(
            plain_utc_seconds(b"2025-12-19T07:18:19Z"),
            Some(1_766_128_699)
        );
        for other in [
            "2016-12-31T23:59:60Z",
            "2025-12-19t07:18:19z",
            "2025-12-19T07:18:19.5Z",
            "2025-12-19T10:18:19+03:00",
            "2025-12-19 07:18:19Z",
            "2025-1a-19T07:18:19Z",
            "+025-12-19T07:18:19Z",
        ] {
            assert_eq!(plain_utc_seconds(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn iso8601_reads_database_exports_with_and_without_offsets() {
        let utc = chrono_tz::UTC;
        let t = 1_673_059_718; // 2023-01-07 02:48:38 UTC
        for s in [
            "2023-01-07 02:48:38",
            "2023-01-07T02:48:38",
            "2023-01-07T02:48:38Z",
            "2023-01-07 02:48:38+00",
            "2023-01-07 02:48:38.250+00",
            "2023-01-07 05:48:38+03",
            "2023-01-07 05:48:38+0300",
            "2023-01-07T05:48:38+03:00",
            "2023-01-06 21:48:38-05:00",
        ] {
            assert_eq!(iso8601(s, utc), Some(t), "{s}");
        }
        let nairobi: Tz = "Africa/Nairobi".parse().unwrap();
        assert_eq!(iso8601("2023-01-07 05:48:38", nairobi), Some(t));
        for bad in [
            "2023-01-07",
            "07/01/2023 02:48:38",
            "2023-01-07 02:48:38+3",
            "2023-01-07 02:48:38+25",
            "2023-01-07 02:48:38 UTC",
            "2023-13-07 02:48:38",
        ] {
            assert_eq!(iso8601(bad, utc), None, "{bad}");
        }
    }
}
