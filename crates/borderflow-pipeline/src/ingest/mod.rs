//! The ingest stage: operator files → validated, pseudonymised events → daily presence.
//!
//! The files are cut into pieces (large Parquet files into runs of row groups,
//! [`borderflow_ingest::cut_pieces`]) that one reading thread per core takes from a queue,
//! largest first. Each piece is read front to back by one thread (so every quarantined row
//! keeps its row number), validated and pseudonymised batch by batch; quarantined rows go to
//! the piece's quarantine file and accepted events into the thread's shard of the presence
//! reduction
//! ([`borderflow_presence::Reduction`]: bucketed by date, then aggregated date by date, under
//! the configured memory limit, spilling to disk when it must). The presence partitions,
//! the quarantine and the run report are written to a staging directory and moved into the
//! state directory only after the whole run succeeded and every row is accounted for.

use borderflow_core::failpoint;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use borderflow_core::DateWindow;
use borderflow_core::SimRegistry;
use borderflow_core::{CountryCode, ScratchDir, StagedDir, StateLayout};
use borderflow_ingest::{
    FileCounts, Flow, InputConfig, InputFile, ShareCounts, Validator, add_share_counts, cut_pieces,
    digest_file, discover, read_cell_catalogue,
};
use borderflow_presence::{
    DeliveredFile, Delivery, DeliveryRegister, DeliveryState, PresenceShard, PresenceStore,
    Reduction, segment_file,
};
use borderflow_pseudo::Pseudonymiser;
use borderflow_refdata::RefData;
use chrono::NaiveDate;

mod cluster;
mod error;
mod staging;

pub use error::IngestError;
use staging::{Reduced, Staging};

use crate::engine::Engine;
use crate::reports::{IngestReport, InputDigest};
use crate::{Period, Pipeline};

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
    let rd = code_lists(p)?;
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
    crate::binding::check(p)?;
    let store = StateLayout::new(&p.state_dir).presence();
    if let Some((_, fingerprint)) = PresenceStore::existing_if_any(&store)?
        && fingerprint != key.fingerprint().to_string()
    {
        // Opening with the run's key reports the mismatch in the store's own words.
        PresenceStore::open(&store, &key.fingerprint().to_string())?;
    }
    Ok(Preflight {
        rd,
        files,
        cells,
        key,
    })
}

/// The code lists with the pipeline's overrides, once the measuring country is found in
/// them: the first check of every run, before the state directory is looked at.
pub fn code_lists(p: &Pipeline) -> Result<RefData, IngestError> {
    let rd = RefData::load(&p.refdata)?;
    if rd.countries.get(p.measuring_country).is_none() {
        return Err(IngestError::UnknownCountry(p.measuring_country.to_string()));
    }
    Ok(rd)
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

/// One reading thread: takes the next piece of the input from `pieces` until none is left
/// (or another thread failed), reads it ([`borderflow_ingest::read_share`]), writes its
/// quarantined rows to the piece's quarantine file and its accepted events into the thread's
/// presence shard.
fn read_pieces(
    shared: &Shared<'_>,
    pieces: &Mutex<std::vec::IntoIter<(usize, Vec<InputFile>)>>,
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
    loop {
        if shared.failed.load(Ordering::Relaxed) {
            return Ok(()); // another thread failed; its error is the run's
        }
        let Some((index, files)) = pieces.lock().expect("not poisoned").next() else {
            return Ok(());
        };
        let qpath = shared.quarantine_dir.join(format!("part-{index}.parquet"));
        // Bytes shown as read: of the whole piece, and of the file being read.
        let (mut shown, mut piece_shown) = (0u64, (usize::MAX, 0u64));
        let counts = borderflow_ingest::read_share(
            &mut v,
            &shared.input,
            &files,
            &qpath,
            |out, piece, read| {
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
            },
        )?;
        // What the estimates left out (headers, a file's last bytes) is read too.
        let piece_bytes: u64 = files.iter().map(|f| f.size).sum();
        shared
            .progress
            .bytes_read
            .fetch_add(piece_bytes.saturating_sub(shown), Ordering::Relaxed);
        if let Some(counts) = counts {
            // A file read in several pieces adds up its pieces' counts.
            add_share_counts(&mut shared.counts.lock().expect("lock"), &counts);
        }
    }
}

/// Reads and reduces on this machine: one thread per core, each taking pieces of the input
/// from a queue into its own presence shard, then the shards reduced date by date (see
/// [`borderflow_presence::Reduction`]).
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
    } = cut_pieces(files, partitions)?;
    let threads = partitions.min(shares.len()).max(1);
    let pieces = Mutex::new(
        shares
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
            .into_iter(),
    );
    // Half the memory limit holds the events being reduced; the other half is for what reads
    // and writes around them (decoded batches, caches, the per-date tables and writers), so the
    // stage's peak stays near the limit (measured: docs/ingest.md, Performance).
    let budget =
        usize::try_from(p.engine.memory_limit_mb.saturating_mul(1 << 19)).unwrap_or(usize::MAX);
    let reduction = Reduction::new(budget, &at.dir.join("spill"))
        .with_day(p.classify.day)
        .with_part_file(&at.part_file);
    let shards = std::thread::scope(|s| {
        let readers: Vec<_> = (0..threads)
            .map(|index| {
                let (shared, reduction, pieces) = (&shared, &reduction, &pieces);
                s.spawn(move || {
                    let mut shard = reduction.shard(index);
                    let read = read_pieces(shared, pieces, &mut shard);
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

/// Rows quarantined only for not being this run's: outside the period's window, or on dates
/// the store already took this file's content for.
fn outside_window(c: &FileCounts) -> u64 {
    use borderflow_ingest::Reason;
    [Reason::OutsideWindow, Reason::AlreadyIngested]
        .iter()
        .filter_map(|r| c.quarantined.get(r))
        .sum()
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
/// presence store. With a `period`, only the dates of its look-back are accepted (the
/// `presence.lookback_days` ending with its last day) and retention keeps no date before
/// them; without one, dates up to today are accepted and nothing is removed.
pub fn run(
    p: &Pipeline,
    period: Option<Period>,
    extra_inputs: &[String],
) -> Result<IngestReport, IngestError> {
    run_with_progress(p, period, extra_inputs, &Progress::default())
}

/// The functional local dates a run accepts: the look-back of `period` (the
/// `presence.lookback_days` ending with its last day), or every date up to `today`.
pub fn run_window(
    p: &Pipeline,
    period: Option<Period>,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    match period {
        Some(period) => {
            let last = period.last();
            let days = u64::from(p.presence.lookback_days.max(1) - 1);
            (last - chrono::Days::new(days), last)
        }
        None => (NaiveDate::MIN, today),
    }
}

fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// Partition files passed over for their dates: one line for all of them (a lake holds
/// thousands), under the folder they share.
fn note_pruned(skipped: &mut BTreeMap<String, String>, pruned: &[InputFile]) {
    let mut common: Vec<_> = pruned[0]
        .path
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for f in &pruned[1..] {
        let theirs: Vec<_> = f
            .path
            .parent()
            .map(|p| p.components().collect())
            .unwrap_or_default();
        let same = common
            .iter()
            .zip(&theirs)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(same);
    }
    let folder: PathBuf = common.iter().collect();
    skipped.insert(
        folder.display().to_string(),
        format!(
            "{} file(s) in partition folders of dates outside the run's window, not read",
            pruned.len()
        ),
    );
}

/// Which input files a run reads, and for which dates: a content the store has taken before
/// (known by its digest, whatever its name) is read again only for the dates of `window` it
/// has rows on and was not read for; a content given twice in one run is read once.
fn plan_reads(
    files: Vec<InputFile>,
    digests: &BTreeMap<String, InputDigest>,
    register: &DeliveryRegister,
    window: &DateWindow,
) -> (Vec<InputFile>, BTreeMap<String, String>) {
    let mut read = Vec::new();
    let mut skipped = BTreeMap::new();
    let mut first_name: BTreeMap<&str, String> = BTreeMap::new();
    for mut f in files {
        let name = f.path.display().to_string();
        let Some(digest) = digests.get(&name) else {
            read.push(f);
            continue;
        };
        if let Some(first) = first_name.get(digest.sha256.as_str()) {
            skipped.insert(name, format!("the same content as {first}"));
            continue;
        }
        first_name.insert(&digest.sha256, name.clone());
        if let Some(taken) = register.files.get(&digest.sha256) {
            let left = taken.still_to_give(window);
            if left.is_empty() {
                let known = taken.names.first().map_or("", String::as_str);
                skipped.insert(
                    name,
                    format!("already in the presence store (delivered as {known})"),
                );
                continue;
            }
            f.window = Some(left);
        }
        read.push(f);
    }
    (read, skipped)
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
    let lock = crate::StateLock::for_run(&p.state_dir)?;
    let layout = StateLayout::new(&p.state_dir);
    lock.clear_leftovers(&layout)?;
    // Checked again now that no other run can change the state.
    let ledger = crate::binding::check(p)?;
    let fingerprint = key.fingerprint().to_string();
    let source_tz = p.input.source_tz().map_err(IngestError::SourceTimeZone)?;
    let store = PresenceStore::open(&layout.presence(), &fingerprint)?;
    store.roll_back()?;
    store.bind(&crate::binding::binding_of(p, ledger))?;

    let run_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    );
    let (first, last) = run_window(p, period, chrono::Utc::now().date_naive());
    let window = DateWindow::from_range(epoch_days(first).max(i32::MIN + 1), epoch_days(last));
    // A lake's partitions of other dates are not read, nor even digested.
    let (files, pruned): (Vec<InputFile>, Vec<InputFile>) =
        files.into_iter().partition(|f| f.may_hold(&window));
    // A content the store holds is not read again, so a file's digest is taken before it is
    // read, unless its size alone shows it new (the local engine then digests it while it
    // reads).
    let register = store.register()?;
    let local = matches!(Engine::of(&p.engine), Engine::Local(_));
    let (first_files, beside_files) = digest_order(&files, &register, local);
    let digests = digest_inputs(&first_files)?;
    let (to_read, mut skipped) = plan_reads(files, &digests, &register, &window);
    if !pruned.is_empty() {
        note_pruned(&mut skipped, &pruned);
    }
    let scratch = ScratchDir::create(layout.staging("ingest", &run_id))?;
    let result = std::thread::scope(|s| {
        let beside = (!beside_files.is_empty()).then(|| s.spawn(|| digest_inputs(&beside_files)));
        run_staged(
            &RunContext {
                p,
                period,
                window: (first, last),
                run_id: &run_id,
                fingerprint: &fingerprint,
                started,
                progress,
            },
            Inputs {
                rd,
                files: to_read,
                cells,
                key: &key,
                source_tz,
                digests: Digests { digests, beside },
                skipped,
            },
            &store,
            &layout,
            scratch.path(),
        )
    });
    drop(scratch);
    let mut report = result?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What one ingest run is: its pipeline, period, window and identity.
struct RunContext<'a> {
    p: &'a Pipeline,
    period: Option<Period>,
    window: (NaiveDate, NaiveDate),
    run_id: &'a str,
    fingerprint: &'a str,
    started: Instant,
    progress: &'a Progress,
}

/// Which input files are digested before reading starts, and which beside it: a file whose
/// size no content in the store's register has, nor another input file, cannot be one the
/// store holds or given twice, whatever its bytes, so on the local engine it is read while its
/// digest is taken (one large file's SHA-256 otherwise kept one core busy and the others idle
/// for 0.5–1.0 s at 51.7 M events).
fn digest_order(
    files: &[InputFile],
    register: &DeliveryRegister,
    local: bool,
) -> (Vec<InputFile>, Vec<InputFile>) {
    if !local {
        return (files.to_vec(), Vec::new());
    }
    let mut sizes: BTreeMap<u64, usize> = BTreeMap::new();
    for f in files {
        *sizes.entry(f.size).or_default() += 1;
    }
    let known: std::collections::BTreeSet<u64> = register.files.values().map(|t| t.size).collect();
    files
        .iter()
        .cloned()
        .partition(|f| known.contains(&f.size) || sizes[&f.size] > 1)
}

/// The input files' digests: those taken before reading, and those being taken beside it.
struct Digests<'scope> {
    digests: BTreeMap<String, InputDigest>,
    beside: Option<DigestThread<'scope>>,
}

/// A thread digesting input files while they are read.
type DigestThread<'scope> =
    std::thread::ScopedJoinHandle<'scope, Result<BTreeMap<String, InputDigest>, IngestError>>;

impl Digests<'_> {
    /// Every digest, once the thread taking them beside the reading is done.
    fn all(self) -> Result<BTreeMap<String, InputDigest>, IngestError> {
        let mut digests = self.digests;
        if let Some(beside) = self.beside {
            let more = beside
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))?;
            digests.extend(more);
        }
        Ok(digests)
    }
}

/// What one ingest run reads.
struct Inputs<'a> {
    rd: RefData,
    files: Vec<InputFile>,
    cells: foldhash::HashMap<Box<str>, chrono_tz::Tz>,
    key: &'a borderflow_pseudo::PseudonymKey,
    source_tz: chrono_tz::Tz,
    digests: Digests<'a>,
    skipped: BTreeMap<String, String>,
}

fn run_staged(
    run: &RunContext<'_>,
    inputs: Inputs<'_>,
    store: &PresenceStore,
    layout: &StateLayout,
    staging: &Path,
) -> Result<IngestReport, IngestError> {
    let RunContext {
        p,
        period,
        window,
        run_id,
        fingerprint,
        started,
        progress,
    } = *run;
    let Inputs {
        rd,
        files,
        cells,
        key,
        source_tz,
        digests,
        skipped,
    } = inputs;
    progress
        .bytes_total
        .store(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
    let quarantine = StagedDir::create_at(staging.join("quarantine"), &layout.quarantine(run_id))?;
    let presence_dir = staging.join("presence");
    let at = Staging {
        dir: staging,
        quarantine: quarantine.path(),
        presence: &presence_dir,
        window: (epoch_days(window.0).max(i32::MIN + 1), epoch_days(window.1)),
        part_file: segment_file(run_id),
    };
    let read_files: Vec<InputFile> = files.clone();
    let Reduced {
        counts,
        expected_shares,
        presence_rows,
        spilled_bytes,
        digests: taken,
    } = if files.is_empty() {
        Reduced {
            counts: ShareCounts::new(),
            expected_shares: BTreeMap::new(),
            presence_rows: 0,
            spilled_bytes: 0,
            digests: None,
        }
    } else {
        match Engine::of(&p.engine) {
            Engine::Local(_) => {
                reduce_locally(p, rd, &files, cells, key, source_tz, &at, progress)?
            }
            Engine::Cluster { .. } => {
                progress.writing.store(true, Ordering::Relaxed);
                cluster::reduce_on_cluster(p, &files, fingerprint, &at)?
            }
        }
    };
    failpoint::hit("ingest:reduced");
    let digests = digests.all()?;

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
    if let Some(taken) = &taken
        && let Some(name) = expected_shares.keys().find(|n| !taken.contains_key(*n))
    {
        // A cluster's tasks digest what they read: a file without one was not read whole.
        return Err(IngestError::Engine(format!("{name} was not digested")));
    }

    // Publish into the state directory: quarantine first, then the delivery (recorded as
    // pending, moved in, the report written, committed), then retention.
    let files_counts: BTreeMap<String, FileCounts> =
        counts.into_iter().map(|(k, f)| (k, f.counts)).collect();
    let added = presence_dir.exists();
    let mut report = IngestReport {
        run_id: run_id.to_string(),
        dataset: p.dataset.clone(),
        key_fingerprint: fingerprint.to_string(),
        period: period.map(|x| x.to_string()),
        window: period.map(|_| window),
        delivery: None,
        skipped,
        files: files_counts.clone(),
        inputs: digests.clone(),
        totals,
        presence_rows,
        spilled_bytes,
        dates_written: Vec::new(),
        dates_removed: Vec::new(),
        seconds: 0.0,
    };
    let run_days = at.window;
    quarantine.commit()?;
    failpoint::hit("ingest:quarantined");
    let delivered: Vec<DeliveredFile> = read_files
        .iter()
        .filter_map(|f| {
            let name = f.path.display().to_string();
            let digest = digests.get(&name)?;
            Some(DeliveredFile {
                sha256: digest.sha256.clone(),
                size: digest.bytes,
                window: f
                    .window
                    .clone()
                    .unwrap_or_else(|| DateWindow::from_range(run_days.0, run_days.1)),
                dates: files_counts.get(&name).and_then(|c| c.dates),
                name,
            })
        })
        .collect();
    // Only whole files are recorded (a Parquet file read in pieces is one file here).
    let mut seen = std::collections::BTreeSet::new();
    let delivered: Vec<DeliveredFile> = delivered
        .into_iter()
        .filter(|f| seen.insert(f.name.clone()))
        .collect();
    if !delivered.is_empty() {
        // Recorded as pending first: a run killed while the files move in leaves a pending
        // delivery, which the next run holding the lock removes whole.
        store.begin(Delivery {
            id: run_id.to_string(),
            state: DeliveryState::Pending,
            files: delivered,
        })?;
        if added {
            report.dates_written = store.add_from(&presence_dir)?;
            report.delivery = Some(run_id.to_string());
        }
        failpoint::hit("ingest:swapped");
        report.write(layout)?;
        store.commit(run_id)?;
    }
    if period.is_some() {
        report.dates_removed = store.retain_from(window.0)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.write(layout)?;
    failpoint::hit("ingest:reported");
    Ok(report)
}
