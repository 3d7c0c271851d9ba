//! The publish stage: a period's classified facts → exact tables over the public domain →
//! noise and threshold → `release/<dataset>/<period>/`, under the ledger's discipline
//! (DESIGN §1.3, §1.4, §1.6, §7).
//!
//! 1. Reservations left by a crashed run are settled: committed when their release directory
//!    exists (it is renamed into place only when complete), aborted otherwise.
//! 2. Each table's cost is reserved in the ledger. A release already published is returned as
//!    it is, never noised again; one that would exceed the year's budget is refused and nothing
//!    is written.
//! 3. The tables are noised, thresholded and written to a staging directory with fsync, the
//!    manifest last; the directory is renamed into place; the ledger records the outputs digest.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::accountant::{epsilon, margin_of_error_95, sigma2_for};
use borderflow_privacy::{
    Ledger, LedgerError, NoiseSource, ProtectedCell, Ratio, Request, Reservation, SamplerError,
    protect,
};
use borderflow_refdata::{RefData, RefDataError};
use borderflow_release::report::{self, PeriodCrossings, ReportInput};
use borderflow_release::write::write_file;
use borderflow_release::{Domain, ReleasedTable, Tables, TabulateError, WriteError};
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::classify::facts_dir;
use crate::{Period, Pipeline, PrivacyConfig};

/// The ledger file under the state directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

/// Why publishing failed. Nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The period has not been classified.
    #[error("no classified facts for period {period} in {dir}: run `borderflow classify` first")]
    NotClassified { period: String, dir: String },
    /// The ledger refused (over budget, budget changed, pending) or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The code lists could not be loaded.
    #[error(transparent)]
    RefData(#[from] RefDataError),
    /// A classified SIM does not fit the public domain.
    #[error(transparent)]
    Tabulate(#[from] TabulateError),
    /// A noise parameter is unusable.
    #[error(transparent)]
    Noise(#[from] SamplerError),
    /// Another run holds the state directory.
    #[error(transparent)]
    Lock(#[from] crate::LockError),
    /// A release file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A file operation failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> PublishError {
    PublishError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// What the publish stage did.
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The release directory.
    pub dir: PathBuf,
    /// False when the release already existed and was returned unchanged.
    pub new: bool,
    /// Cells published and suppressed per table (new releases only).
    pub cells: Vec<TableCells>,
    /// Reservations of crashed runs settled: (committed, aborted).
    pub settled: (usize, usize),
}

/// How many cells of a released table were published and suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCells {
    /// The table's name (`categories`, `crossings`, …).
    pub table: String,
    /// Cells whose noisy value reached k.
    pub published: usize,
    /// Cells kept with a null value and the suppressed flag.
    pub suppressed: usize,
}

/// Whether the period's release is there. A release directory is complete or absent (renamed
/// into place whole, manifest last), so its manifest is the mark.
pub fn published(p: &Pipeline, period: Period) -> bool {
    release_dir(p, period).join("manifest.json").is_file()
}

/// The release directory of a period.
pub fn release_dir(p: &Pipeline, period: Period) -> PathBuf {
    p.release_dir.join(&p.dataset).join(period.to_string())
}

/// One noised table of a release and its privacy parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// The table's name.
    pub name: &'static str,
    /// Its exact cost per release.
    pub rho: Ratio,
    /// Its squared L2 sensitivity Δ²: how much one SIM can move the table.
    pub delta_sq: u32,
}

impl TableSpec {
    /// The standard deviation of each cell's noise, σ = Δ/√(2ρ).
    pub fn sigma(&self) -> f64 {
        sigma2_for(&self.rho, self.delta_sq).map_or(f64::INFINITY, |s2| s2.to_f64().sqrt())
    }
}

/// The noised tables of a release, with the pipeline's noise settings. A SIM is in one
/// `categories` cell (Δ² = 1) and in up to `classify.max_crossing_pairs` `crossings` cells, by
/// one each (Δ² = max_crossing_pairs: 4 by default, Δ = 2). `quality` holds three totals —
/// SIMs seen, too sparse to classify, on open spells — and a SIM adds one to the first and to
/// at most one of the others (Δ² = 2).
pub fn table_specs(p: &Pipeline) -> [TableSpec; 3] {
    let max_pairs = u32::try_from(p.classify.max_crossing_pairs).unwrap_or(u32::MAX);
    [
        TableSpec {
            name: "categories",
            rho: p.privacy.categories.rho(1),
            delta_sq: 1,
        },
        TableSpec {
            name: "crossings",
            rho: p.privacy.crossings.rho(max_pairs),
            delta_sq: max_pairs,
        },
        TableSpec {
            name: "quality",
            rho: p.privacy.quality.rho_or(2, QUALITY_RHO),
            delta_sq: 2,
        },
    ]
}

/// ρ of the `quality` totals when the pipeline does not set it.
pub const QUALITY_RHO: &str = "0.01";

/// Publishes `period` of the pipeline's dataset. `noise` is the OS source in production; a
/// seeded test source marks the release NOT FOR PUBLICATION.
pub fn run(
    p: &Pipeline,
    period: Period,
    mut noise: NoiseSource,
) -> Result<PublishReport, PublishError> {
    let started = std::time::Instant::now();
    let _lock = crate::StateLock::acquire(&p.state_dir)?;
    let mut ledger = Ledger::open(&p.state_dir.join(LEDGER_FILE))?;
    let settled = settle(p, &mut ledger)?;
    let dir = release_dir(p, period);
    // A release directory is complete or absent, and settled above: if it is there, it is
    // published, and it is returned as it is.
    if published(p, period) {
        return Ok(PublishReport {
            dir,
            new: false,
            cells: Vec::new(),
            settled,
        });
    }
    let facts = facts_dir(&p.state_dir, period);
    if !facts.join("sims.parquet").is_file() {
        return Err(PublishError::NotClassified {
            period: period.to_string(),
            dir: facts.display().to_string(),
        });
    }
    let privacy = &p.privacy;
    let year = period.last().year();
    let budget = ledger.budget(&p.dataset, year, &PrivacyConfig::exact(privacy.annual_rho))?;
    let specs = table_specs(p);
    let inputs_digest =
        digest_files(&[facts.join("sims.parquet"), facts.join("crossings.parquet")])?;
    let period_text = period.to_string();
    let mut ids = Vec::new();
    for spec in &specs {
        let req = Request {
            dataset: &p.dataset,
            year,
            period: &period_text,
            table: spec.name,
            rho: &spec.rho,
            inputs_digest: &inputs_digest,
            for_publication: noise.for_publication(),
        };
        match ledger.reserve(&req, &budget) {
            Ok(Reservation::Reserved(id)) => ids.push(id),
            Ok(Reservation::AlreadyPublished(_)) => {
                for id in ids {
                    ledger.abort(id)?;
                }
                return Ok(PublishReport {
                    dir,
                    new: false,
                    cells: Vec::new(),
                    settled,
                });
            }
            Err(e) => {
                for id in ids {
                    ledger.abort(id)?;
                }
                return Err(e.into());
            }
        }
    }
    let job = Job {
        p,
        period,
        facts: &facts,
        specs: &specs,
        inputs_digest: &inputs_digest,
        year,
        started,
    };
    match job.write_release(&mut noise) {
        Ok((cells, outputs)) => {
            for id in ids {
                ledger.commit(id, &outputs)?;
            }
            Ok(PublishReport {
                dir,
                new: true,
                cells,
                settled,
            })
        }
        Err(e) => {
            for id in ids {
                ledger.abort(id)?;
            }
            Err(e)
        }
    }
}

/// Settles reservations of crashed runs: committed when the release directory exists
/// (complete by construction), aborted when it does not.
fn settle(p: &Pipeline, ledger: &mut Ledger) -> Result<(usize, usize), PublishError> {
    let (mut committed, mut aborted) = (0, 0);
    for r in ledger.pending(&p.dataset)? {
        let dir = p.release_dir.join(&p.dataset).join(&r.period);
        if dir.join("manifest.json").is_file() {
            ledger.commit(r.id, &digest_release(&dir)?)?;
            committed += 1;
        } else {
            ledger.abort(r.id)?;
            aborted += 1;
        }
    }
    Ok((committed, aborted))
}

/// SHA-256 over the named files' names and bytes, in order.
fn digest_files(files: &[PathBuf]) -> Result<String, PublishError> {
    let mut h = Sha256::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| io(f, e))?;
        h.update(f.file_name().map_or(b"" as &[u8], |n| n.as_encoded_bytes()));
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

/// The outputs digest of a release directory: its table files, sorted, manifest excluded.
fn digest_release(dir: &Path) -> Result<String, PublishError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "manifest.json"))
        .collect();
    files.sort();
    digest_files(&files)
}

/// Exact tables and the SIM totals of a period's facts.
struct Facts {
    tables: Tables,
    sims: u64,
    open_spells: u64,
}

fn read_facts(facts: &Path, domain: &Domain, max_pairs: usize) -> Result<Facts, PublishError> {
    let read = |name: &str| -> Result<Vec<RecordBatch>, PublishError> {
        let path = facts.join(name);
        let f = File::open(&path).map_err(|e| io(&path, e))?;
        ParquetRecordBatchReaderBuilder::try_new(f)
            .and_then(|b| b.build())
            .map_err(|e| io(&path, e))?
            .map(|b| b.map_err(|e| io(&path, e)))
            .collect()
    };
    let bad = |what: &str| io(&facts.join("sims.parquet"), format!("unreadable {what}"));
    let country = |s: &str| s.parse::<CountryCode>().map_err(|_| bad("country code"));
    // Crossings by pseudonym.
    let mut pairs: HashMap<Vec<u8>, Vec<(CountryCode, CountryCode)>> = HashMap::new();
    for b in read("crossings.parquet")? {
        let ps = b.column(0).as_fixed_size_binary();
        let (from, to) = (
            b.column(1).as_string::<i32>(),
            b.column(2).as_string::<i32>(),
        );
        for i in 0..b.num_rows() {
            pairs
                .entry(ps.value(i).to_vec())
                .or_default()
                .push((country(from.value(i))?, country(to.value(i))?));
        }
    }
    let mut out = Facts {
        tables: Tables::new(domain),
        sims: 0,
        open_spells: 0,
    };
    for b in read("sims.parquet")? {
        let ps = b.column(0).as_fixed_size_binary();
        let column = |name: &str| b.column_by_name(name).ok_or_else(|| bad(name));
        let cat = column("category")?.as_string::<i32>();
        let partner = column("partner_country")?.as_string::<i32>();
        let open = column("open_spell")?.as_boolean();
        for i in 0..b.num_rows() {
            out.sims += 1;
            out.open_spells += u64::from(open.is_valid(i) && open.value(i));
            let category = if cat.is_valid(i) {
                Some(
                    cat.value(i)
                        .parse::<Category>()
                        .map_err(|_| bad("category"))?,
                )
            } else {
                None
            };
            let partner = if partner.is_valid(i) {
                Some(country(partner.value(i))?)
            } else {
                None
            };
            let crossed = pairs.get(ps.value(i)).map_or(&[][..], |v| v.as_slice());
            out.tables
                .add(domain, category, partner, crossed, max_pairs)?;
        }
    }
    Ok(out)
}

/// A noisy total with its noise's standard deviation.
#[derive(Serialize)]
struct NoisyTotal {
    value: i64,
    noise_sd: f64,
}

#[derive(Serialize)]
struct TableManifest {
    rho: f64,
    rho_exact: String,
    l2_sensitivity: f64,
    sigma: f64,
    margin_of_error_95: f64,
    cells: usize,
    published: usize,
    suppressed: usize,
}

#[derive(Serialize)]
struct InputManifest {
    name: String,
    bytes: Option<u64>,
    sha256: Option<String>,
    read: u64,
    accepted: u64,
    quarantined: BTreeMap<String, u64>,
}

#[derive(Serialize, Default)]
struct RowTotals {
    read: u64,
    accepted: u64,
    quarantined: BTreeMap<String, u64>,
}

/// What one publish run needs to know.
struct Job<'a> {
    p: &'a Pipeline,
    period: Period,
    facts: &'a Path,
    specs: &'a [TableSpec],
    inputs_digest: &'a str,
    year: i32,
    started: std::time::Instant,
}

/// The classify summary's fields the release may show (never its exact category counts).
struct ClassifySummary {
    json: serde_json::Value,
}

impl ClassifySummary {
    fn read(facts: &Path) -> Result<Self, PublishError> {
        let path = facts.join("summary.json");
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let json = serde_json::from_slice(&bytes).map_err(|e| io(&path, e))?;
        Ok(Self { json })
    }

    fn get(&self, key: &str) -> serde_json::Value {
        self.json
            .get(key)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    fn date(&self, key: &str) -> Option<NaiveDate> {
        self.json.get(key)?.as_str()?.parse().ok()
    }
}

/// The ingest runs that wrote days of the look-back, from `state/ingest/*.json`.
fn ingest_runs(state: &Path, first: NaiveDate, last: NaiveDate) -> Vec<serde_json::Value> {
    let Ok(dir) = std::fs::read_dir(state.join("ingest")) else {
        return Vec::new();
    };
    let mut runs: Vec<(String, serde_json::Value)> = dir
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            let touches = v["dates_written"].as_array()?.iter().any(|d| {
                d.as_str()
                    .and_then(|d| d.parse::<NaiveDate>().ok())
                    .is_some_and(|d| d >= first && d <= last)
            });
            touches.then(|| (v["run_id"].as_str().unwrap_or("").to_string(), v))
        })
        .collect();
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    runs.into_iter().map(|(_, v)| v).collect()
}

/// Inputs of the ingest runs, by file name (directories are the operator's business), with
/// their row counts; and the totals, which reconcile: read = accepted + quarantined.
fn inputs_of(runs: &[serde_json::Value]) -> (Vec<InputManifest>, RowTotals) {
    let mut inputs = Vec::new();
    let mut totals = RowTotals::default();
    for run in runs {
        let Some(files) = run["files"].as_object() else {
            continue;
        };
        for (path, counts) in files {
            let digest = &run["inputs"][path];
            let quarantined: BTreeMap<String, u64> = counts["quarantined"]
                .as_object()
                .map(|q| {
                    q.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default();
            let input = InputManifest {
                name: Path::new(path)
                    .file_name()
                    .map_or(path.clone(), |n| n.to_string_lossy().into_owned()),
                bytes: digest["bytes"].as_u64(),
                sha256: digest["sha256"].as_str().map(str::to_string),
                read: counts["read"].as_u64().unwrap_or(0),
                accepted: counts["accepted"].as_u64().unwrap_or(0),
                quarantined,
            };
            totals.read += input.read;
            totals.accepted += input.accepted;
            for (k, v) in &input.quarantined {
                *totals.quarantined.entry(k.clone()).or_default() += v;
            }
            inputs.push(input);
        }
    }
    (inputs, totals)
}

/// Published crossings of every other period of the dataset already released, oldest first.
fn crossings_history(dataset_dir: &Path, period: &str) -> Vec<PeriodCrossings> {
    let Ok(dir) = std::fs::read_dir(dataset_dir) else {
        return Vec::new();
    };
    let mut out: Vec<PeriodCrossings> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == period || name.parse::<Period>().is_err() {
                return None;
            }
            let text = std::fs::read_to_string(e.path().join("crossings.csv")).ok()?;
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next()?.split(',').collect();
            let col = |n: &str| header.iter().position(|h| *h == n);
            let (f, t, v) = (
                col("from_country")?,
                col("to_country")?,
                col("subscribers")?,
            );
            let cells = lines
                .filter_map(|l| {
                    let x: Vec<&str> = l.split(',').collect();
                    Some((
                        x.get(f)?.to_string(),
                        x.get(t)?.to_string(),
                        x.get(v)?.parse().ok()?,
                    ))
                })
                .collect();
            Some(PeriodCrossings {
                period: name,
                cells,
            })
        })
        .collect();
    out.sort_by(|a, b| a.period.cmp(&b.period));
    out
}

fn published_crossings(t: &ReleasedTable) -> PeriodCrossings {
    let (f, to) = (&t.dimensions[0].values, &t.dimensions[1].values);
    PeriodCrossings {
        period: t.period.clone(),
        cells: t
            .cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((f[i].clone()?, to[i].clone()?, c.subscribers?)))
            .collect(),
    }
}

impl Job<'_> {
    fn spec(&self, name: &str) -> &TableSpec {
        self.specs
            .iter()
            .find(|s| s.name == name)
            .expect("every table has a spec")
    }

    fn protect(
        &self,
        name: &str,
        counts: &[u64],
        k: u32,
        noise: &mut NoiseSource,
    ) -> Result<Vec<ProtectedCell>, PublishError> {
        let spec = self.spec(name);
        Ok(protect(
            counts,
            &sigma2_for(&spec.rho, spec.delta_sq)?,
            k,
            noise,
        )?)
    }

    /// Noises, writes and renames the release into place; returns the cells per table and
    /// the outputs digest.
    fn write_release(
        &self,
        noise: &mut NoiseSource,
    ) -> Result<(Vec<TableCells>, String), PublishError> {
        let p = self.p;
        let rd = RefData::load(&p.refdata)?;
        let countries: Vec<CountryCode> = rd.countries.iter().map(|c| c.alpha3).collect();
        let domain = Domain::new(p.measuring_country, &countries);
        let facts = read_facts(self.facts, &domain, p.classify.max_crossing_pairs)?;
        let summary = ClassifySummary::read(self.facts)?;
        let period = self.period.to_string();
        let m = p.measuring_country;
        let k = p.privacy.k;

        let mut cat = self.protect("categories", &facts.tables.categories, k, noise)?;
        // Without 24 months of presence nobody can be a return migrant: those cells are zero
        // by construction, not by measurement, and are released as not measured (null,
        // suppressed), never as noise around zero.
        let return_migrants_measured = summary.json["return_migrants"]["available"]
            .as_bool()
            .unwrap_or(false);
        if !return_migrants_measured {
            for (cell, c) in domain.categories.iter().zip(cat.iter_mut()) {
                if cell.category == Category::ReturnMigrant {
                    *c = ProtectedCell {
                        subscribers: None,
                        suppressed: true,
                        noisy: 0,
                        ..*c
                    };
                }
            }
        }
        let cross = self.protect("crossings", &facts.tables.crossings, k, noise)?;
        let totals = [facts.sims, facts.tables.unclassified, facts.open_spells];
        let quality = self.protect("quality", &totals, 1, noise)?;
        let categories = ReleasedTable::categories(&domain, &cat, m, &period);
        let crossings = ReleasedTable::crossings(&domain, &cross, m, &period);
        let corridors = borderflow_release::corridors(&domain, &cat, k, &rd, m, &period);
        let noisy = |i: usize| NoisyTotal {
            value: quality[i].noisy.max(0),
            noise_sd: quality[i].noise_sd,
        };

        let dir = release_dir(p, self.period);
        let parent = dir.parent().expect("release dir has a parent");
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        let staging = parent.join(format!(".staging-{period}-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| io(&staging, e))?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
        let result = (|| {
            for t in [&categories, &crossings, &corridors] {
                borderflow_release::write_all(t, &staging)?;
            }
            let (sims, sparse) = (noisy(0), noisy(1));
            let share_too_sparse = if sims.value > 0 {
                (sparse.value as f64 / sims.value as f64).min(1.0)
            } else {
                0.0
            };
            let rho_total = self
                .specs
                .iter()
                .fold(Ratio::new(0u32, 1u32).expect("zero"), |a, s| a.add(&s.rho))
                .to_f64();
            let epsilon_total = epsilon(rho_total, p.privacy.delta);
            let mut history = crossings_history(parent, &period);
            history.push(published_crossings(&crossings));
            let html = report::render(&ReportInput {
                dataset: &p.dataset,
                period: &period,
                measuring_country: m,
                for_publication: noise.for_publication(),
                k,
                rho: rho_total,
                epsilon: epsilon_total,
                delta: p.privacy.delta,
                categories: &categories,
                crossings: &crossings,
                corridors: &corridors,
                crossings_history: &history,
                share_too_sparse,
                return_migrants_measured,
                refdata: &rd,
            });
            write_file(&staging.join("report.html"), html.as_bytes())?;

            let first = summary
                .date("lookback_first")
                .unwrap_or(self.period.first());
            let last = summary.date("lookback_last").unwrap_or(self.period.last());
            let runs = ingest_runs(&p.state_dir, first, last);
            let (inputs, rows) = inputs_of(&runs);
            let quality_json = self.quality_json(
                &summary,
                &rows,
                &runs,
                noisy(0),
                noisy(1),
                noisy(2),
                share_too_sparse,
            );
            write_file(
                &staging.join("quality.json"),
                &serde_json::to_vec_pretty(&quality_json).expect("serialises"),
            )?;

            let outputs_digest = digest_release(&staging)?;
            let tables: BTreeMap<&str, TableManifest> = [&categories, &crossings]
                .into_iter()
                .map(|t| {
                    (
                        t.name,
                        self.table_manifest(self.spec(t.name), t.cells.len(), t.published()),
                    )
                })
                .chain(std::iter::once((
                    "quality",
                    self.table_manifest(self.spec("quality"), 3, 3),
                )))
                .collect();
            let cells: BTreeMap<&str, TableCells> = [&categories, &crossings, &corridors]
                .into_iter()
                .map(|t| {
                    (
                        t.name,
                        TableCells {
                            table: t.name.to_string(),
                            published: t.published(),
                            suppressed: t.cells.len() - t.published(),
                        },
                    )
                })
                .collect();
            let manifest = serde_json::json!({
                "software": {
                    "name": "borderflow",
                    "version": env!("CARGO_PKG_VERSION"),
                    "git_commit": option_env!("BORDERFLOW_GIT_COMMIT").unwrap_or("unknown"),
                },
                "dataset": p.dataset,
                "period": period,
                "measuring_country": m.to_string(),
                "for_publication": noise.for_publication(),
                "notice": (!noise.for_publication())
                    .then_some("NOT FOR PUBLICATION: noise from a fixed test seed"),
                "config_digest": config_digest(p),
                "key_fingerprint": summary.get("key_fingerprint"),
                "inputs": inputs,
                "rows": rows,
                "facts_digest": self.inputs_digest,
                "outputs_digest": outputs_digest,
                "privacy": {
                    "unit": "one SIM (pseudonym)",
                    "mechanism": "exact discrete Gaussian (Canonne, Kamath, Steinke 2020), rho-zCDP",
                    "k": k,
                    "delta": p.privacy.delta,
                    "budget_year": self.year,
                    "annual_rho": p.privacy.annual_rho,
                    "rho_of_this_release": rho_total,
                    "epsilon_of_this_release": epsilon_total,
                    "tables": tables,
                    "corridors": "sums of the noisy categories cells (post-processing, no cost); noise_sd per row",
                },
                "cells": cells.values().map(|c| (c.table.clone(), serde_json::json!({
                    "published": c.published, "suppressed": c.suppressed
                }))).collect::<serde_json::Map<_, _>>(),
                "classification": {
                    "lookback_first": first.to_string(),
                    "lookback_last": last.to_string(),
                    "missing_days": summary.get("missing_days"),
                    "return_migrants": summary.get("return_migrants"),
                    "open_spells": noisy(2),
                    "rules": summary.get("rules"),
                },
                "timings_seconds": {
                    "ingest": runs.iter().filter_map(|r| r["seconds"].as_f64()).sum::<f64>(),
                    "classify": summary.get("seconds"),
                    "publish": self.started.elapsed().as_secs_f64(),
                },
                "published_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
            write_file(
                &staging.join("manifest.json"),
                &serde_json::to_vec_pretty(&manifest).expect("serialises"),
            )?;
            sync_dir(&staging)?;
            self.keep_noisy(&domain, &cat, &cross)?;
            std::fs::rename(&staging, &dir).map_err(|e| io(&dir, e))?;
            sync_dir(parent)?;
            Ok((cells.into_values().collect(), outputs_digest))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    fn table_manifest(&self, spec: &TableSpec, cells: usize, published: usize) -> TableManifest {
        let sigma = spec.sigma();
        TableManifest {
            rho: spec.rho.to_f64(),
            rho_exact: spec.rho.to_fraction(),
            l2_sensitivity: f64::from(spec.delta_sq).sqrt(),
            sigma,
            margin_of_error_95: margin_of_error_95(sigma),
            cells,
            published,
            suppressed: cells - published,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn quality_json(
        &self,
        summary: &ClassifySummary,
        rows: &RowTotals,
        runs: &[serde_json::Value],
        sims: NoisyTotal,
        too_sparse: NoisyTotal,
        open_spells: NoisyTotal,
        share_too_sparse: f64,
    ) -> serde_json::Value {
        let share = |n: u64| {
            if rows.read > 0 {
                n as f64 / rows.read as f64
            } else {
                0.0
            }
        };
        let presence_rows: u64 = runs
            .iter()
            .filter_map(|r| r["presence_rows"].as_u64())
            .sum();
        let unknown = rows.quarantined.get("unknown_plmn").copied().unwrap_or(0);
        let quarantined: u64 = rows.quarantined.values().sum();
        serde_json::json!({
            "period": self.period.to_string(),
            "measuring_country": self.p.measuring_country.to_string(),
            "note": "Counts of SIMs here are noisy (differential privacy, ρ of the quality table in manifest.json); counts of records (rows, events) describe the operator's data flow and are exact.",
            "sims_seen": sims,
            "sims_too_sparse_to_classify": too_sparse,
            "share_too_sparse_to_classify": share_too_sparse,
            "sims_on_open_spells": open_spells,
            "observation_density_events_per_sim_day": if presence_rows > 0 {
                rows.accepted as f64 / presence_rows as f64
            } else {
                0.0
            },
            "rows_read": rows.read,
            "share_rows_quarantined": share(quarantined),
            "share_rows_unknown_plmn": share(unknown),
            "lookback_days_without_data": summary.get("missing_days"),
            "events_per_day": summary.get("events_per_day"),
        })
    }

    /// Keeps every noisy value — suppressed ones too — under `state/noisy/<dataset>/<period>/`,
    /// operator-side: new roll-ups can be drawn from them later at no privacy cost, without
    /// noising the data again.
    fn keep_noisy(
        &self,
        domain: &Domain,
        cat: &[ProtectedCell],
        cross: &[ProtectedCell],
    ) -> Result<(), PublishError> {
        let dir = noisy_dir(self.p, self.period);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let unsuppressed = |cells: &[ProtectedCell]| -> Vec<ProtectedCell> {
            cells
                .iter()
                .map(|c| ProtectedCell {
                    subscribers: Some(c.noisy),
                    suppressed: false,
                    ..*c
                })
                .collect()
        };
        let period = self.period.to_string();
        let m = self.p.measuring_country;
        let tables = [
            ReleasedTable::categories(domain, &unsuppressed(cat), m, &period),
            ReleasedTable::crossings(domain, &unsuppressed(cross), m, &period),
        ];
        for t in &tables {
            borderflow_release::write::write_parquet(t, &dir.join(format!("{}.parquet", t.name)))?;
        }
        Ok(())
    }
}

/// Where the noisy values of a release are kept, operator-side.
pub fn noisy_dir(p: &Pipeline, period: Period) -> PathBuf {
    p.state_dir
        .join("noisy")
        .join(&p.dataset)
        .join(period.to_string())
}

/// SHA-256 of the effective configuration (after `--set`), as JSON.
fn config_digest(p: &Pipeline) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(p).expect("the pipeline serialises"),
    ))
}

fn sync_dir(dir: &Path) -> Result<(), PublishError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}
