//! A generated world in the layouts statistics offices and operators already hold, so the
//! input profiles can be tried and tested on data whose truth is known:
//!
//! - [`write_multimno_bronze`]: Eurostat MultiMNO bronze `mno_events` — `user_id` BINARY
//!   (SHA-256 of the id), `timestamp` text in UTC, `mcc` INT, `mnc` TEXT, `plmn` INT of the
//!   visited network for the operator's SIMs abroad (null otherwise), `cell_id`, coordinates
//!   (null here), in `year=/month=/day=` folders by UTC date.
//! - [`write_flowkit_calls`]: a FlowKit `events.calls` CSV export — `msisdn` a token (SHA-256
//!   hex of the id), `datetime` as PostgreSQL writes a timestamptz, `outgoing` as `t`/`f`,
//!   `location_id`; the domestic calls of the operator's own SIMs only, since the table has no
//!   network columns.
//!
//! Each injects the faults real exports carry — rows with no id, no time or a malformed
//! one, exact duplicates, garbage networks — at fixed spacing, and returns how many of each,
//! so a test knows the exact quarantine counts to expect.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, BinaryBuilder, Float32Builder, Int32Builder, RecordBatch, StringArray,
    StringBuilder, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use borderflow_core::schema::event;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::SynthError;

/// One in how many rows gets each fault (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// A copy of the row with no id.
    pub null_id_every: u64,
    /// A copy of the row with no time.
    pub null_time_every: u64,
    /// A copy of the row with a time that cannot be read.
    pub bad_time_every: u64,
    /// An exact copy of the row right after it.
    pub duplicate_every: u64,
    /// A copy of the row with a network code that is no PLMN.
    pub garbage_every: u64,
}

impl Faults {
    /// No fault.
    pub const NONE: Faults = Faults {
        null_id_every: 0,
        null_time_every: 0,
        bad_time_every: 0,
        duplicate_every: 0,
        garbage_every: 0,
    };

    /// A few of each, as in MultiMNO's published sample.
    pub const SAMPLE: Faults = Faults {
        null_id_every: 997,
        null_time_every: 1009,
        bad_time_every: 1013,
        duplicate_every: 499,
        garbage_every: 1019,
    };
}

/// What a layout writer wrote: the world's rows it carried and the faulty rows it added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injected {
    /// Rows of the world written (before the faulty ones).
    pub rows: u64,
    /// Rows added with no id.
    pub null_ids: u64,
    /// Rows added with no time.
    pub null_times: u64,
    /// Rows added with a time that cannot be read.
    pub bad_times: u64,
    /// Exact copies added.
    pub duplicates: u64,
    /// Rows added with a network that is no PLMN (MultiMNO only).
    pub garbage: u64,
}

impl Injected {
    /// Rows written in all.
    pub fn total(&self) -> u64 {
        self.rows
            + self.null_ids
            + self.null_times
            + self.bad_times
            + self.duplicates
            + self.garbage
    }
}

/// One canonical event, as read back from `events.parquet`.
struct Row {
    id: String,
    time_ms: i64,
    home: String,
    serving: String,
    cell: Option<String>,
    event_type: Option<String>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> SynthError {
    SynthError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Reads a world's canonical `events.parquet`, calling `each` per row in file order.
fn read_events(path: &Path, mut each: impl FnMut(Row)) -> Result<(), SynthError> {
    let file = File::open(path).map_err(|e| err(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| err(path, e))?;
    for batch in reader {
        let b = batch.map_err(|e| err(path, e))?;
        let text = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .cloned()
        };
        let ids = text(event::SUBSCRIBER_ID).ok_or_else(|| err(path, "no subscriber_id"))?;
        let homes = text(event::HOME_PLMN).ok_or_else(|| err(path, "no home_plmn"))?;
        let servings = text(event::SERVING_PLMN).ok_or_else(|| err(path, "no serving_plmn"))?;
        let cells = text(event::CELL_ID);
        let types = text(event::EVENT_TYPE);
        let times = b
            .column_by_name(event::EVENT_TIME)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMillisecondArray>())
            .ok_or_else(|| err(path, "no event_time in milliseconds"))?;
        let opt = |a: &Option<StringArray>, i: usize| {
            a.as_ref()
                .filter(|a| !a.is_null(i))
                .map(|a| a.value(i).to_string())
        };
        for i in 0..b.num_rows() {
            each(Row {
                id: ids.value(i).to_string(),
                time_ms: times.value(i),
                home: homes.value(i).to_string(),
                serving: servings.value(i).to_string(),
                cell: opt(&cells, i),
                event_type: opt(&types, i),
            });
        }
    }
    Ok(())
}

/// The SHA-256 of an id: what MultiMNO holds in `user_id` and FlowKit exports as tokens.
pub fn upstream_hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn utc(time_ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(time_ms).expect("a generated time")
}

/// Which fault, if any, row `n` (1-based) of the world gets.
fn fault_of(n: u64, f: &Faults) -> Option<usize> {
    [
        f.null_id_every,
        f.null_time_every,
        f.bad_time_every,
        f.duplicate_every,
        f.garbage_every,
    ]
    .iter()
    .position(|every| *every > 0 && n.is_multiple_of(*every))
}

/// Writes the world of `events` (a canonical `events.parquet`) as MultiMNO bronze events
/// under `out` (`year=Y/month=M/day=D/part-00000.parquet`, by UTC date), the serving
/// network written as `plmn` only where it is not `operator_plmn`'s country's network, as
/// MultiMNO does. Returns what it wrote; the files are in `files`.
pub fn write_multimno_bronze(
    events: &Path,
    out: &Path,
    operator_plmn: &str,
    faults: Faults,
) -> Result<(Injected, Vec<PathBuf>), SynthError> {
    let local_mcc = &operator_plmn[..3];
    let mut by_day: std::collections::BTreeMap<chrono::NaiveDate, Vec<Row>> = Default::default();
    read_events(events, |r| {
        by_day
            .entry(utc(r.time_ms).date_naive())
            .or_default()
            .push(r);
    })?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Binary, true),
        Field::new("timestamp", DataType::Utf8, true),
        Field::new("mcc", DataType::Int32, true),
        Field::new("mnc", DataType::Utf8, true),
        Field::new("plmn", DataType::Int32, true),
        Field::new("cell_id", DataType::Utf8, true),
        Field::new("latitude", DataType::Float32, true),
        Field::new("longitude", DataType::Float32, true),
        Field::new("loc_error", DataType::Float32, true),
    ]));
    let mut injected = Injected::default();
    let mut files = Vec::new();
    let mut n = 0u64;
    for (date, rows) in by_day {
        use chrono::Datelike;
        let dir = out.join(format!(
            "year={}/month={}/day={}",
            date.year(),
            date.month(),
            date.day()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        let mut user = BinaryBuilder::new();
        let mut ts = StringBuilder::new();
        let mut mcc = Int32Builder::new();
        let mut mnc = StringBuilder::new();
        let mut plmn = Int32Builder::new();
        let mut cell = StringBuilder::new();
        let mut push = |id: Option<&[u8]>,
                        time: Option<&str>,
                        home: (Option<i32>, &str),
                        visited: Option<i32>,
                        c: Option<&str>| {
            user.append_option(id);
            ts.append_option(time);
            mcc.append_option(home.0);
            mnc.append_value(home.1);
            plmn.append_option(visited);
            cell.append_option(c);
        };
        for r in &rows {
            n += 1;
            injected.rows += 1;
            let id = upstream_hash(&r.id);
            let time = utc(r.time_ms).format("%Y-%m-%d %H:%M:%S").to_string();
            let home = (r.home[..3].parse().ok(), &r.home[3..]);
            let visited = (r.home[..3] == *local_mcc && r.serving[..3] != *local_mcc)
                .then(|| r.serving.parse().ok())
                .flatten();
            let c = r.cell.as_deref();
            push(Some(&id), Some(&time), home, visited, c);
            match fault_of(n, &faults) {
                Some(0) => {
                    push(None, Some(&time), home, visited, c);
                    injected.null_ids += 1;
                }
                Some(1) => {
                    push(Some(&id), None, home, visited, c);
                    injected.null_times += 1;
                }
                Some(2) => {
                    push(Some(&id), Some("2025-02-30 25:61:00"), home, visited, c);
                    injected.bad_times += 1;
                }
                Some(3) => {
                    push(Some(&id), Some(&time), home, visited, c);
                    injected.duplicates += 1;
                }
                Some(4) => {
                    // As in MultiMNO's sample: numbers far too long to be an MCC or MNC.
                    push(
                        Some(&id[..16]),
                        Some(&time),
                        (Some(1_807_473), "3614732"),
                        None,
                        c,
                    );
                    injected.garbage += 1;
                }
                _ => {}
            }
        }
        let len = user.len();
        let nulls = || {
            let mut b = Float32Builder::new();
            b.append_nulls(len);
            Arc::new(b.finish()) as _
        };
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(user.finish()),
                Arc::new(ts.finish()),
                Arc::new(mcc.finish()),
                Arc::new(mnc.finish()),
                Arc::new(plmn.finish()),
                Arc::new(cell.finish()),
                nulls(),
                nulls(),
                nulls(),
            ],
        )
        .map_err(|e| err(&dir, e))?;
        let path = dir.join("part-00000.parquet");
        let file = File::create(&path).map_err(|e| err(&path, e))?;
        let mut w = ArrowWriter::try_new(file, schema.clone(), None).map_err(|e| err(&path, e))?;
        w.write(&batch).map_err(|e| err(&path, e))?;
        w.close().map_err(|e| err(&path, e))?;
        files.push(path);
    }
    Ok((injected, files))
}

/// Whether a canonical row is one a FlowKit calls export carries: a call of one of the
/// operator's own SIMs on its own network.
pub fn in_flowkit_calls(
    home: &str,
    serving: &str,
    event_type: Option<&str>,
    operator: &str,
) -> bool {
    home == operator && serving == operator && matches!(event_type, Some("call_out" | "call_in"))
}

/// Writes the calls of `events` a FlowKit `events.calls` export holds ([`in_flowkit_calls`])
/// as a CSV at `out`, and the same rows in the canonical schema (ids as they are, times in
/// RFC 3339) at `canonical_out`, for comparison.
pub fn write_flowkit_calls(
    events: &Path,
    out: &Path,
    canonical_out: &Path,
    operator_plmn: &str,
    faults: Faults,
) -> Result<Injected, SynthError> {
    let mut w = BufWriter::new(File::create(out).map_err(|e| err(out, e))?);
    let mut c = BufWriter::new(File::create(canonical_out).map_err(|e| err(canonical_out, e))?);
    let header = "id,outgoing,datetime,duration,network,msisdn,msisdn_counterpart,location_id,imsi,imei,tac,operator_code,country_code\n";
    let mut failed: Option<SynthError> = None;
    let mut injected = Injected::default();
    let mut n = 0u64;
    let mut write_all = |w: &mut BufWriter<File>, c: &mut BufWriter<File>| -> std::io::Result<()> {
        w.write_all(header.as_bytes())?;
        c.write_all(
            b"subscriber_id,event_time,home_plmn,serving_plmn,cell_id,event_type,counterpart_number\n",
        )?;
        let mut rows = Vec::new();
        read_events(events, |r| rows.push(r)).map_err(|e| {
            let m = e.to_string();
            failed = Some(e);
            std::io::Error::other(m)
        })?;
        for r in rows.iter().filter(|r| {
            in_flowkit_calls(&r.home, &r.serving, r.event_type.as_deref(), operator_plmn)
        }) {
            n += 1;
            injected.rows += 1;
            let token = hex_of(&upstream_hash(&r.id));
            let t = utc(r.time_ms);
            let when = t.format("%Y-%m-%d %H:%M:%S+00").to_string();
            let out_flag = if r.event_type.as_deref() == Some("call_out") {
                "t"
            } else {
                "f"
            };
            let cell = r.cell.as_deref().unwrap_or("");
            let line =
                |id: &str, when: &str| format!("{n},{out_flag},{when},60,,{id},,{cell},,,,,\n");
            w.write_all(line(&token, &when).as_bytes())?;
            writeln!(
                c,
                "{},{},{},{},{},{},",
                r.id,
                t.format("%Y-%m-%dT%H:%M:%SZ"),
                r.home,
                r.serving,
                cell,
                r.event_type.as_deref().unwrap_or("")
            )?;
            match fault_of(n, &faults) {
                Some(0) => {
                    w.write_all(line("", &when).as_bytes())?;
                    injected.null_ids += 1;
                }
                Some(1) => {
                    w.write_all(line(&token, "").as_bytes())?;
                    injected.null_times += 1;
                }
                Some(2) => {
                    w.write_all(line(&token, "01/13/2025 10:00").as_bytes())?;
                    injected.bad_times += 1;
                }
                Some(3) => {
                    w.write_all(line(&token, &when).as_bytes())?;
                    injected.duplicates += 1;
                }
                _ => {}
            }
        }
        w.flush()?;
        c.flush()
    };
    if let Err(e) = write_all(&mut w, &mut c) {
        return Err(failed.unwrap_or_else(|| err(out, e)));
    }
    Ok(injected)
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
