//! The ingest stage: operator files → validated, pseudonymised events → daily presence.
//!
//! The files are dealt into one share per core (large Parquet files split by row groups). Each
//! share is read front to back on a thread of its own (so every quarantined row keeps its row
//! number), validated and pseudonymised batch by batch; quarantined rows go to the thread's
//! quarantine file and accepted events into its shard of the presence reduction
//! ([`borderflow_presence::Reduction`]: bucketed by date, then aggregated date by date, under
//! the configured memory limit, spilling to disk when it must). The presence partitions,
//! the quarantine and the run report are written to a staging directory and moved into the
//! state directory only after the whole run succeeded and every row is accounted for.

use borderflow_core::{Failure, FailureKind, failpoint};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use borderflow_core::{CountryCode, PathError, ScratchDir, StagedDir, StateLayout};
use borderflow_core::{SimRegistry, TooManySims};
use borderflow_ingest::{
    FileCounts, Flow, InputConfig, InputFile, QuarantineError, ShareCounts, ShareError,
    SourceError, Validator, add_share_counts, deal_shares, digest_file, discover,
    read_cell_catalogue,
};
use borderflow_presence::{PresenceShard, PresenceStore, ReduceError, Reduction, StoreError};
use borderflow_pseudo::{KeyError, Pseudonymiser};
use borderflow_refdata::{RefData, RefDataError};

use crate::reports::{IngestReport, InputDigest, ReportError};
use crate::{EngineKind, Period, Pipeline};

/// Why an ingest run failed. Nothing was written to the state directory.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An input file is missing, unreadable or lacks a column.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The key is missing, exposed or malformed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The presence store refused the run or could not be changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another run holds the state directory.
    #[error(transparent)]
    Lock(#[from] crate::LockError),
    /// A code-list override is malformed.
    #[error(transparent)]
    RefData(#[from] RefDataError),
    /// `measuring_country` is not in the country code list.
    #[error(
        "measuring_country = {0:?} is not in the country code list (ISO 3166-1 alpha-3; `borderflow refdata lookup` shows the list, refdata.countries amends it)"
    )]
    UnknownCountry(String),
    /// An input file holds no row, or none that could be accepted.
    #[error("{file}: {why}; nothing was written (see docs/ingest.md for each reason)")]
    NothingAccepted {
        /// The file.
        file: String,
        /// Its rows and the reasons they were quarantined.
        why: String,
    },
    /// The pipeline names no input.
    #[error("no input: the pipeline's input.paths is empty and no --input was given")]
    NoInput,
    /// A file-system operation on the state directory or an input failed.
    #[error(transparent)]
    Io(#[from] PathError),
    /// A quarantine file could not be written.
    #[error("{}: {source}", path.display())]
    Quarantine {
        /// The quarantine file.
        path: PathBuf,
        /// What the Parquet writer said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The run report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// `input.source_time_zone` names no IANA time zone.
    #[error("input.source_time_zone: unknown IANA time zone {0:?}")]
    SourceTimeZone(String),
    /// The rows of a file do not add up (a defect, never expected).
    #[error("ingest: {0}")]
    Engine(String),
    /// More distinct SIMs than one run can number.
    #[error(transparent)]
    TooManySims(#[from] TooManySims),
    /// The presence reduction could not write or read its files.
    #[error(transparent)]
    Reduce(#[from] ReduceError),
    /// The engine of `engine.kind` could not be started.
    #[error(transparent)]
    EngineStart(#[from] crate::engine::EngineError),
    /// The cluster failed the ingest job; nothing was committed.
    #[error("ingest on the cluster failed, nothing was written to the store: {message}")]
    Cluster {
        /// What the cluster said, on one line.
        message: String,
        /// Whether an executor refused the job's key (its own is not the store's, or it
        /// has none).
        key_refused: bool,
    },
}

impl From<ShareError> for IngestError {
    fn from(e: ShareError) -> Self {
        match e {
            ShareError::Source(e) => IngestError::Source(e),
            ShareError::TooManySims(e) => IngestError::TooManySims(e),
            ShareError::Quarantine(QuarantineError { path, source }) => {
                IngestError::Quarantine { path, source }
            }
        }
    }
}

/// What can be checked before a byte is written, checked: the code lists load, the files exist
/// and have the mapped columns, the cell catalogue reads, the key loads (owner-only file) and,
/// where a presence store exists, matches the store's key.
pub struct Preflight {
    /// The code lists with the pipeline's overrides.
    pub rd: RefData,
    /// The input files found.
    pub files: Vec<InputFile>,
    /// The cell catalogue's time zones.
    pub cells: foldhash::HashMap<Box<str>, chrono_tz::Tz>,
    /// The pseudonymisation key.
    pub key: borderflow_pseudo::PseudonymKey,
}

/// Runs every check a run makes before it writes anything (`borderflow validate` runs only
/// these).
pub fn preflight(p: &Pipeline, extra_inputs: &[String]) -> Result<Preflight, IngestError> {
    let rd = RefData::load(&p.refdata)?;
    if rd.countries.get(p.measuring_country).is_none() {
        return Err(IngestError::UnknownCountry(p.measuring_country.to_string()));
    }
    let mut paths = p.input.paths.clone();
    paths.extend(extra_inputs.iter().cloned());
    if paths.is_empty() {
        return Err(IngestError::NoInput);
    }
    let files = discover(&paths)?;
    for f in &files {
        f.open(&p.input)?;
    }
    let cells = match &p.input.cell_catalogue {
        Some(c) => read_cell_catalogue(Path::new(c))?,
        None => Default::default(),
    };
    let key = p.key.load()?;
    let store = StateLayout::new(&p.state_dir).presence();
    if store.exists() {
        let (_, fingerprint) = PresenceStore::existing(&store)?;
        if fingerprint != key.fingerprint().to_string() {
            // Opening with the run's key reports the mismatch in the store's own words.
            PresenceStore::open(&store, &key.fingerprint().to_string())?;
        }
    }
    Ok(Preflight {
        rd,
        files,
        cells,
        key,
    })
}

/// How far a running ingest has got, for a progress display: the reading threads update it as
/// they go, a display thread may read it at any time.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of input in all (set once the files are found).
    pub bytes_total: AtomicU64,
    /// Bytes of input read so far (compressed bytes for CSV.gz; estimated from rows within a
    /// Parquet file).
    pub bytes_read: AtomicU64,
    /// Rows read so far.
    pub rows: AtomicU64,
    /// Set once every file is read, while the dates are aggregated and written.
    pub writing: AtomicBool,
}

/// Digests every input file, several at a time.
fn digest_inputs(files: &[InputFile]) -> Result<BTreeMap<String, InputDigest>, IngestError> {
    let digest = |f: &InputFile| -> Result<(String, InputDigest), IngestError> {
        Ok((f.path.display().to_string(), digest_file(&f.path)?))
    };
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let r = digest(f);
                    results.lock().expect("not poisoned").push(r);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .collect()
}

/// What every reading thread of one run shares.
#[derive(Debug)]
struct Shared<'a> {
    input: InputConfig,
    day: borderflow_core::FunctionalDay,
    rd: RefData,
    m: CountryCode,
    window: (i32, i32),
    source_tz: chrono_tz::Tz,
    cells: foldhash::HashMap<Box<str>, chrono_tz::Tz>,
    pseudonymiser: Pseudonymiser,
    sims: SimRegistry,
    quarantine_dir: PathBuf,
    /// Per file: its counts so far and how many of its shares were read to their end.
    counts: Mutex<ShareCounts>,
    /// Set when a thread fails, so the others stop early.
    failed: AtomicBool,
    progress: &'a Progress,
}

/// Reads one thread's share of the input files in order ([`borderflow_ingest::read_share`]),
/// writing quarantined rows to the thread's quarantine file and accepted events into its
/// presence shard.
fn read_share(
    shared: &Shared<'_>,
    files: &[InputFile],
    index: usize,
    shard: &mut PresenceShard<'_>,
) -> Result<(), IngestError> {
    let mut v = Validator::new(
        &shared.rd,
        shared.m,
        shared.window,
        shared.input.time_format.clone(),
        shared.source_tz,
        shared.pseudonymiser.clone(),
        &shared.sims,
    )
    .with_cells(shared.cells.clone())
    .with_day(&shared.day);
    let qpath = shared.quarantine_dir.join(format!("part-{index}.parquet"));
    // Bytes shown as read: of the whole share, and of the piece being read.
    let (mut shown, mut piece_shown) = (0u64, (usize::MAX, 0u64));
    let counts =
        borderflow_ingest::read_share(&mut v, &shared.input, files, &qpath, |out, piece, read| {
            if shared.failed.load(Ordering::Relaxed) {
                return Ok::<_, IngestError>(Flow::Stop); // another thread failed
            }
            if piece_shown.0 != piece {
                piece_shown = (piece, 0);
            }
            let more = read.saturating_sub(piece_shown.1);
            piece_shown.1 += more;
            shown += more;
            let progress = &shared.progress;
            progress.bytes_read.fetch_add(more, Ordering::Relaxed);
            shard.push_all(&out.accepted)?;
            progress.rows.fetch_add(out.counts.read, Ordering::Relaxed);
            Ok(Flow::Continue)
        })?;
    // What the estimates left out (headers, a file's last bytes) is read too.
    let share_bytes: u64 = files.iter().map(|f| f.size).sum();
    shared
        .progress
        .bytes_read
        .fetch_add(share_bytes.saturating_sub(shown), Ordering::Relaxed);
    if let Some(counts) = counts {
        // A file read in several shares adds up its shares' counts.
        add_share_counts(&mut shared.counts.lock().expect("lock"), &counts);
    }
    Ok(())
}

/// Reads and reduces on this machine: one thread per share, each into its own presence shard,
/// then the shards reduced date by date (see [`borderflow_presence::Reduction`]).
#[allow(clippy::too_many_arguments)]
fn reduce_locally(
    p: &Pipeline,
    rd: RefData,
    files: &[InputFile],
    cells: foldhash::HashMap<Box<str>, chrono_tz::Tz>,
    key: &borderflow_pseudo::PseudonymKey,
    source_tz: chrono_tz::Tz,
    at: &Staging<'_>,
    progress: &Progress,
) -> Result<Reduced, IngestError> {
    let partitions = crate::engine::partitions(&p.engine);
    let shared = Shared {
        input: p.input.clone(),
        day: p.classify.day,
        rd,
        m: p.measuring_country,
        window: at.window,
        source_tz,
        cells,
        pseudonymiser: Pseudonymiser::new(key),
        sims: SimRegistry::new(),
        quarantine_dir: at.quarantine.to_path_buf(),
        counts: Mutex::new(ShareCounts::new()),
        failed: AtomicBool::new(false),
        progress,
    };
    let borderflow_ingest::Dealt {
        shares,
        pieces: expected_shares,
    } = deal_shares(files, partitions)?;
    // Half the memory limit holds the events being reduced; the other half is for what reads
    // and writes around them (decoded batches, caches, the per-date tables and writers), so the
    // stage's peak stays near the limit (measured: docs/ingest.md, Performance).
    let budget =
        usize::try_from(p.engine.memory_limit_mb.saturating_mul(1 << 19)).unwrap_or(usize::MAX);
    let reduction = Reduction::new(budget, &at.dir.join("spill")).with_day(p.classify.day);
    let shards = std::thread::scope(|s| {
        let readers: Vec<_> = shares
            .into_iter()
            .enumerate()
            .map(|(index, files)| {
                let (shared, reduction) = (&shared, &reduction);
                s.spawn(move || {
                    let mut shard = reduction.shard(index);
                    let read = read_share(shared, &files, index, &mut shard);
                    if read.is_err() {
                        shared.failed.store(true, Ordering::Relaxed);
                    }
                    read?;
                    Ok::<_, IngestError>(shard.into_parts()?)
                })
            })
            .collect();
        let mut parts = Vec::new();
        let mut first_error = None;
        for r in readers {
            match r.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                Ok(p) => parts.push(p),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(parts), Err)
    })?;
    progress.writing.store(true, Ordering::Relaxed);
    failpoint::hit("ingest:read");
    let reduced = reduction.finish(shards, &shared.sims.snapshot(), at.presence, partitions)?;
    Ok(Reduced {
        counts: std::mem::take(&mut *shared.counts.lock().expect("lock")),
        expected_shares,
        presence_rows: reduced.rows,
        spilled_bytes: reduced.spilled_bytes,
        digests: None,
    })
}

/// Rows a file must have for "none accepted" to mean the file, not a few stray rows, is bad.
const ALL_BAD_MIN_ROWS: u64 = 100;

/// Why a file read to its end gave the store nothing, if it did not: no data row at all (a
/// header only), or every one of at least [`ALL_BAD_MIN_ROWS`] rows quarantined for a reason
/// other than lying outside the period asked for — wrong columns, time format or networks; an
/// operator's export is never all bad. (A handful of bad rows in a small correction file is
/// quarantined as usual; a run that accepts no row at all fails too.)
fn nothing_accepted(c: &FileCounts) -> Option<String> {
    if c.read == 0 {
        return Some("holds no data row (a header only, or empty)".into());
    }
    if c.read < ALL_BAD_MIN_ROWS {
        return None;
    }
    if c.accepted > 0 || outside_window(c) == c.read {
        return None;
    }
    Some(format!(
        "none of its {} rows was accepted ({}): check input.columns, input.time_format and operator_plmns",
        c.read,
        reasons(c)
    ))
}

/// Rows quarantined only for lying outside the period asked for.
fn outside_window(c: &FileCounts) -> u64 {
    c.quarantined
        .get(&borderflow_ingest::Reason::OutsideWindow)
        .copied()
        .unwrap_or(0)
}

/// The quarantine reasons of `c`, most frequent first (`"950 bad_time, 50 unknown_plmn"`).
fn reasons(c: &FileCounts) -> String {
    let mut reasons: Vec<(u64, &str)> = c.quarantined.iter().map(|(r, n)| (*n, r.code())).collect();
    reasons.sort_by(|a, b| b.cmp(a));
    reasons
        .iter()
        .map(|(n, r)| format!("{n} {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the ingest stage of `p`: every input file (the pipeline's and `extra_inputs`) into the
/// presence store, limited to the dates of `period` when one is given.
pub fn run(
    p: &Pipeline,
    period: Option<Period>,
    extra_inputs: &[String],
) -> Result<IngestReport, IngestError> {
    run_with_progress(p, period, extra_inputs, &Progress::default())
}

/// [`run`], reporting how far it has got in `progress`.
pub fn run_with_progress(
    p: &Pipeline,
    period: Option<Period>,
    extra_inputs: &[String],
    progress: &Progress,
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let Preflight {
        rd,
        files,
        cells,
        key,
    } = preflight(p, extra_inputs)?;
    let lock = crate::StateLock::acquire(&p.state_dir)?;
    let layout = StateLayout::new(&p.state_dir);
    lock.clear_leftovers(&layout)?;
    let fingerprint = key.fingerprint().to_string();
    let source_tz = p.input.source_tz().map_err(IngestError::SourceTimeZone)?;
    let store = PresenceStore::open(&layout.presence(), &fingerprint)?;

    let run_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    );
    let scratch = ScratchDir::create(layout.staging("ingest", &run_id))?;
    // The input digests (for the manifest) are computed beside the ingest, on their own
    // thread: a second pass over the files that would otherwise come first and alone. On a
    // cluster, the tasks take them where they read the files.
    let to_digest = match p.engine.kind {
        EngineKind::Local => files.clone(),
        EngineKind::Ballista => Vec::new(),
    };
    let result = std::thread::scope(|s| {
        let digests = s.spawn(move || digest_inputs(&to_digest));
        let inputs = || {
            digests
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        };
        run_staged(
            p,
            period,
            rd,
            files,
            cells,
            &key,
            source_tz,
            &store,
            &layout,
            scratch.path(),
            &run_id,
            &fingerprint,
            inputs,
            started,
            progress,
        )
    });
    drop(scratch);
    let mut report = result?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What reading and reducing a run's input gave, before anything is committed: the
/// accounting of every share read to its end, how many shares each file was cut into, and the
/// presence partitions written under the staging directory.
pub(crate) struct Reduced {
    /// Per file: rows read, accepted and quarantined, and shares read to their end.
    pub counts: ShareCounts,
    /// Per file: the shares it was cut into.
    pub expected_shares: BTreeMap<String, usize>,
    /// Presence rows written.
    pub presence_rows: u64,
    /// Bytes the reduction spilled to disk.
    pub spilled_bytes: u64,
    /// The input files' digests, when the engine took them while reading (a cluster's
    /// tasks); `None` when they are taken beside the run.
    pub digests: Option<BTreeMap<String, InputDigest>>,
}

/// Where a run reads, reduces and stages: what both engines are given.
pub(crate) struct Staging<'a> {
    /// The run's scratch directory in the state directory.
    pub dir: &'a Path,
    /// Where quarantine files go (`part-<share>.parquet`).
    pub quarantine: &'a Path,
    /// Where the presence partitions go (`local_date=YYYY-MM-DD/part-0.parquet`).
    pub presence: &'a Path,
    /// Accepted functional local dates, days since 1970-01-01, both ends included.
    pub window: (i32, i32),
}

#[allow(clippy::too_many_arguments)]
fn run_staged(
    p: &Pipeline,
    period: Option<Period>,
    rd: RefData,
    files: Vec<InputFile>,
    cells: foldhash::HashMap<Box<str>, chrono_tz::Tz>,
    key: &borderflow_pseudo::PseudonymKey,
    source_tz: chrono_tz::Tz,
    store: &PresenceStore,
    layout: &StateLayout,
    staging: &Path,
    run_id: &str,
    fingerprint: &str,
    inputs: impl FnOnce() -> Result<BTreeMap<String, InputDigest>, IngestError>,
    started: Instant,
    progress: &Progress,
) -> Result<IngestReport, IngestError> {
    progress
        .bytes_total
        .store(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
    let quarantine = StagedDir::create_at(staging.join("quarantine"), &layout.quarantine(run_id))?;
    let presence_dir = staging.join("presence");
    let at = Staging {
        dir: staging,
        quarantine: quarantine.path(),
        presence: &presence_dir,
        window: period.map_or((i32::MIN, i32::MAX), |x| x.day_range()),
    };
    let Reduced {
        counts,
        expected_shares,
        presence_rows,
        spilled_bytes,
        digests,
    } = match p.engine.kind {
        EngineKind::Local => reduce_locally(p, rd, &files, cells, key, source_tz, &at, progress)?,
        EngineKind::Ballista => {
            progress.writing.store(true, Ordering::Relaxed);
            crate::cluster_ingest::reduce_on_cluster(p, &files, fingerprint, &at)?
        }
    };
    failpoint::hit("ingest:reduced");

    // Every file read to its end, every row accounted for.
    let mut totals = FileCounts::default();
    for (name, shares) in &expected_shares {
        let c = match counts.get(name) {
            Some(f) if f.shares == *shares => &f.counts,
            _ => {
                return Err(IngestError::Engine(format!(
                    "{name} was not read to its end"
                )));
            }
        };
        if !c.reconciles() {
            return Err(IngestError::Engine(format!(
                "{name}: rows do not reconcile: read {} != accepted {} + quarantined {}",
                c.read,
                c.accepted,
                c.quarantined_total()
            )));
        }
        if let Some(why) = nothing_accepted(c) {
            return Err(IngestError::NothingAccepted {
                file: name.clone(),
                why,
            });
        }
        totals.add(c);
    }
    if totals.accepted == 0 && totals.read > outside_window(&totals) {
        return Err(IngestError::NothingAccepted {
            file: format!("the {} input file(s)", expected_shares.len()),
            why: format!(
                "none of their {} rows was accepted ({})",
                totals.read,
                reasons(&totals)
            ),
        });
    }

    // Publish into the state directory: quarantine and report first, presence last.
    let mut report = IngestReport {
        run_id: run_id.to_string(),
        dataset: p.dataset.clone(),
        key_fingerprint: fingerprint.to_string(),
        period: period.map(|x| x.to_string()),
        files: counts.into_iter().map(|(k, f)| (k, f.counts)).collect(),
        inputs: match digests {
            Some(taken) => {
                // Every file's digest, or the run fails as one not read to its end.
                if let Some(name) = expected_shares.keys().find(|n| !taken.contains_key(*n)) {
                    return Err(IngestError::Engine(format!("{name} was not digested")));
                }
                inputs()?;
                taken
            }
            None => inputs()?,
        },
        totals,
        presence_rows,
        spilled_bytes,
        dates_written: Vec::new(),
        dates_removed: Vec::new(),
        seconds: 0.0,
    };
    quarantine.commit()?;
    failpoint::hit("ingest:quarantined");
    if presence_dir.exists() {
        report.dates_written = store.replace_from(&presence_dir)?;
    }
    failpoint::hit("ingest:swapped");
    report.dates_removed = store.retain(p.presence.lookback_days)?;
    report.seconds = started.elapsed().as_secs_f64();
    report.write(layout)?;
    failpoint::hit("ingest:reported");
    Ok(report)
}

impl FailureKind for IngestError {
    fn failure(&self) -> Failure {
        match self {
            IngestError::Source(e) => e.failure(),
            IngestError::Key(e) => e.failure(),
            IngestError::Store(e) => e.failure(),
            IngestError::Lock(e) => e.failure(),
            IngestError::RefData(e) => e.failure(),
            IngestError::NoInput
            | IngestError::SourceTimeZone(_)
            | IngestError::UnknownCountry(_) => Failure::Config,
            IngestError::NothingAccepted { .. } => Failure::Input,
            IngestError::Io(e) => e.failure(),
            IngestError::Quarantine { .. } => Failure::State,
            IngestError::Report(e) => e.failure(),
            IngestError::Engine(_) => Failure::Internal,
            IngestError::TooManySims(e) => e.failure(),
            IngestError::Reduce(e) => e.failure(),
            IngestError::EngineStart(e) => e.failure(),
            // An executor started with another key is a setting to fix; anything else is the
            // cluster or the storage it shares.
            IngestError::Cluster { key_refused, .. } => {
                if *key_refused {
                    Failure::Config
                } else {
                    Failure::State
                }
            }
        }
    }
}
