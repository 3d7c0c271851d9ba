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

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::accountant::{epsilon, sigma2_for};
use borderflow_privacy::{
    Ledger, LedgerError, NoiseSource, ProtectedCell, Ratio, Request, Reservation, SamplerError,
    protect,
};
use borderflow_refdata::{RefData, RefDataError};
use borderflow_release::{Domain, Tables, TabulateError};
use chrono::Datelike;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
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
/// one each (Δ² = max_crossing_pairs: 4 by default, Δ = 2).
pub fn table_specs(p: &Pipeline) -> [TableSpec; 2] {
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
    ]
}

/// Publishes `period` of the pipeline's dataset. `noise` is the OS source in production; a
/// seeded test source marks the release NOT FOR PUBLICATION.
pub fn run(
    p: &Pipeline,
    period: Period,
    mut noise: NoiseSource,
) -> Result<PublishReport, PublishError> {
    let _lock = crate::StateLock::acquire(&p.state_dir)?;
    let facts = facts_dir(&p.state_dir, period);
    if !facts.join("sims.parquet").is_file() {
        return Err(PublishError::NotClassified {
            period: period.to_string(),
            dir: facts.display().to_string(),
        });
    }
    let mut ledger = Ledger::open(&p.state_dir.join(LEDGER_FILE))?;
    let settled = settle(p, &mut ledger)?;
    let dir = release_dir(p, period);
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
    match write_release(p, period, &facts, &specs, &mut noise, &inputs_digest, year) {
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

fn read_facts(
    facts: &Path,
    domain: &Domain,
    max_pairs: usize,
) -> Result<(Tables, u64), PublishError> {
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
    let mut pairs: std::collections::HashMap<Vec<u8>, Vec<(CountryCode, CountryCode)>> =
        std::collections::HashMap::new();
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
    let mut tables = Tables::new(domain);
    let mut sims = 0;
    for b in read("sims.parquet")? {
        let ps = b.column(0).as_fixed_size_binary();
        let cat = b
            .column_by_name("category")
            .ok_or_else(|| bad("category"))?
            .as_string::<i32>();
        let partner = b
            .column_by_name("partner_country")
            .ok_or_else(|| bad("partner_country"))?
            .as_string::<i32>();
        for i in 0..b.num_rows() {
            sims += 1;
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
            tables.add(domain, category, partner, crossed, max_pairs)?;
        }
    }
    Ok((tables, sims))
}

#[derive(Serialize)]
struct TableManifest {
    rho: f64,
    rho_exact: String,
    l2_sensitivity: f64,
    sigma: f64,
    cells: usize,
    published: usize,
    suppressed: usize,
}

#[derive(Serialize)]
struct Manifest<'a> {
    software: String,
    dataset: &'a str,
    period: String,
    measuring_country: String,
    for_publication: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<&'static str>,
    inputs_digest: &'a str,
    outputs_digest: String,
    k: u32,
    delta: f64,
    budget_year: i32,
    annual_rho: f64,
    epsilon_of_this_release: f64,
    tables: std::collections::BTreeMap<&'static str, TableManifest>,
    sims: u64,
    sims_too_sparse: u64,
}

#[allow(clippy::too_many_arguments)]
fn write_release(
    p: &Pipeline,
    period: Period,
    facts: &Path,
    specs: &[TableSpec],
    noise: &mut NoiseSource,
    inputs_digest: &str,
    year: i32,
) -> Result<(Vec<TableCells>, String), PublishError> {
    let rd = RefData::load(&p.refdata)?;
    let countries: Vec<CountryCode> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(p.measuring_country, &countries);
    let (tables, sims) = read_facts(facts, &domain, p.classify.max_crossing_pairs)?;
    let dir = release_dir(p, period);
    let parent = dir.parent().expect("release dir has a parent");
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let staging = parent.join(format!(".staging-{period}-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    let result = (|| {
        let period_text = period.to_string();
        let m = p.measuring_country.to_string();
        let mut cells = Vec::new();
        let mut manifest_tables = std::collections::BTreeMap::new();
        for spec in specs {
            let sigma2 = sigma2_for(&spec.rho, spec.delta_sq)?;
            let (counts, dims): (&[u64], Vec<[Option<String>; 2]>) = if spec.name == "categories" {
                (
                    &tables.categories,
                    domain
                        .categories
                        .iter()
                        .map(|c| {
                            [
                                Some(c.category.as_str().to_string()),
                                c.partner.map(|p| p.to_string()),
                            ]
                        })
                        .collect(),
                )
            } else {
                (
                    &tables.crossings,
                    domain
                        .crossings
                        .iter()
                        .map(|(a, b)| [Some(a.to_string()), Some(b.to_string())])
                        .collect(),
                )
            };
            let protected = protect(counts, &sigma2, p.privacy.k, noise)?;
            let names = if spec.name == "categories" {
                ["category", "partner_country"]
            } else {
                ["from_country", "to_country"]
            };
            write_table(
                &staging,
                spec.name,
                &period_text,
                &m,
                names,
                &dims,
                &protected,
            )?;
            let published = protected.iter().filter(|c| !c.suppressed).count();
            cells.push(TableCells {
                table: spec.name.to_string(),
                published,
                suppressed: protected.len() - published,
            });
            manifest_tables.insert(
                spec.name,
                TableManifest {
                    rho: spec.rho.to_f64(),
                    rho_exact: spec.rho.to_fraction(),
                    l2_sensitivity: f64::from(spec.delta_sq).sqrt(),
                    sigma: sigma2.to_f64().sqrt(),
                    cells: protected.len(),
                    published,
                    suppressed: protected.len() - published,
                },
            );
        }
        let outputs_digest = digest_release(&staging)?;
        let rho_total: f64 = specs.iter().map(|s| s.rho.to_f64()).sum();
        let manifest = Manifest {
            software: format!("borderflow {}", env!("CARGO_PKG_VERSION")),
            dataset: &p.dataset,
            period: period_text.clone(),
            measuring_country: m.clone(),
            for_publication: noise.for_publication(),
            notice: (!noise.for_publication())
                .then_some("NOT FOR PUBLICATION: noise from a fixed test seed"),
            inputs_digest,
            outputs_digest: outputs_digest.clone(),
            k: p.privacy.k,
            delta: p.privacy.delta,
            budget_year: year,
            annual_rho: p.privacy.annual_rho,
            epsilon_of_this_release: epsilon(rho_total, p.privacy.delta),
            tables: manifest_tables,
            sims,
            sims_too_sparse: tables.unclassified,
        };
        let path = staging.join("manifest.json");
        write_synced(
            &path,
            &serde_json::to_vec_pretty(&manifest).expect("serialises"),
        )?;
        sync_dir(&staging)?;
        std::fs::rename(&staging, &dir).map_err(|e| io(&dir, e))?;
        sync_dir(parent)?;
        Ok((cells, outputs_digest))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = File::create(path).map_err(|e| io(path, e))?;
    f.write_all(bytes).map_err(|e| io(path, e))?;
    f.sync_all().map_err(|e| io(path, e))
}

fn sync_dir(dir: &Path) -> Result<(), PublishError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

/// Writes `<name>.parquet` and `<name>.csv`: period, measuring_country, the two dimension
/// columns, subscribers (null when suppressed), noise_sd, suppressed.
fn write_table(
    dir: &Path,
    name: &str,
    period: &str,
    m: &str,
    dim_names: [&str; 2],
    dims: &[[Option<String>; 2]],
    cells: &[ProtectedCell],
) -> Result<(), PublishError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("period", DataType::Utf8, false),
        Field::new("measuring_country", DataType::Utf8, false),
        Field::new(dim_names[0], DataType::Utf8, false),
        Field::new(dim_names[1], DataType::Utf8, true),
        Field::new("subscribers", DataType::Int64, true),
        Field::new("noise_sd", DataType::Float64, false),
        Field::new("suppressed", DataType::Boolean, false),
    ]));
    let n = cells.len();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![period; n])) as ArrayRef,
            Arc::new(StringArray::from(vec![m; n])),
            Arc::new(StringArray::from_iter(dims.iter().map(|d| d[0].as_deref()))),
            Arc::new(StringArray::from_iter(dims.iter().map(|d| d[1].as_deref()))),
            Arc::new(Int64Array::from_iter(cells.iter().map(|c| c.subscribers))),
            Arc::new(Float64Array::from_iter_values(
                cells.iter().map(|c| c.noise_sd),
            )),
            Arc::new(BooleanArray::from_iter(
                cells.iter().map(|c| Some(c.suppressed)),
            )),
        ],
    )
    .expect("batch matches schema");
    let path = dir.join(format!("{name}.parquet"));
    let f = File::create(&path).map_err(|e| io(&path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(f, schema, Some(props)).map_err(|e| io(&path, e))?;
    w.write(&batch).map_err(|e| io(&path, e))?;
    let f = w.into_inner().map_err(|e| io(&path, e))?;
    f.sync_all().map_err(|e| io(&path, e))?;

    let mut csv = format!(
        "period,measuring_country,{},{},subscribers,noise_sd,suppressed\n",
        dim_names[0], dim_names[1]
    );
    for (d, c) in dims.iter().zip(cells) {
        csv.push_str(&format!(
            "{period},{m},{},{},{},{},{}\n",
            d[0].as_deref().unwrap_or(""),
            d[1].as_deref().unwrap_or(""),
            c.subscribers.map_or(String::new(), |v| v.to_string()),
            c.noise_sd,
            c.suppressed
        ));
    }
    write_synced(&dir.join(format!("{name}.csv")), csv.as_bytes())
}
