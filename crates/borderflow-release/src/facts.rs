//! A period's classified facts (`sims.parquet`, `crossings.parquet` of
//! [`borderflow_core::schema::facts`]) read into exact tables over the public domain. Columns
//! are found by name; the contract is the schema's constants.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use borderflow_core::schema::facts::*;
use borderflow_core::{
    Category, CountryCode, Noised, PathError, Pseudonym, QualityTotals, WithPath,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::tabulate::{Domain, Tables, TabulateError};

/// The facts could not be read or do not fit the domain.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// A facts file could not be opened.
    #[error(transparent)]
    Io(#[from] PathError),
    /// A facts file is not Parquet the classify stage wrote.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the Parquet reader said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A column is missing or holds a value that is not of its kind.
    #[error("{}: unreadable {column}", path.display())]
    Column {
        /// The file.
        path: PathBuf,
        /// The column at fault.
        column: &'static str,
    },
    /// The engine tabulating the facts failed (reading them, or on a cluster).
    #[error("tabulating the facts in {}: {source}", dir.display())]
    Query {
        /// The facts directory.
        dir: PathBuf,
        /// What the engine said.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// A pseudonym holds more than one row: the facts are not what classify writes.
    #[error("{}: a pseudonym holds more than one row (reclassify the period)", path.display())]
    DuplicateSim {
        /// The file.
        path: PathBuf,
    },
}

/// The exact cells of every table a release noises, in each table's domain order.
/// Operator-side: what the noise is added to, and never published as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactTables {
    /// SIMs per `categories` cell.
    pub categories: Vec<u64>,
    /// SIMs per `crossings` cell.
    pub crossings: Vec<u64>,
    /// SIMs per category and per direction of flow.
    pub totals: Vec<u64>,
    /// The quality totals.
    pub quality: QualityTotals<u64>,
    /// SIMs seen on each day of the look-back, in date order.
    pub daily: Vec<u64>,
}

impl ExactTables {
    /// The exact tables of `facts` over `domain`, with the SIMs seen per day of the look-back
    /// (in date order).
    pub fn of(domain: &Domain, facts: &FactTotals, sims_per_day: Vec<u64>) -> Self {
        Self {
            categories: facts.tables.categories.clone(),
            crossings: facts.tables.crossings.clone(),
            totals: crate::totals::exact_totals(domain, &facts.tables.categories),
            quality: QualityTotals {
                sims: facts.sims,
                too_sparse: facts.tables.unclassified,
                open_spells: facts.open_spells,
                sim_days: facts.sim_days,
            },
            daily: sims_per_day,
        }
    }

    /// Each noised table's cells.
    pub fn into_cells(self) -> Noised<Vec<u64>> {
        Noised {
            categories: self.categories,
            crossings: self.crossings,
            totals: self.totals,
            quality: self.quality.cells().to_vec(),
            daily: self.daily,
        }
    }
}

/// The exact tables of a period and its SIM totals. Never published as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactTotals {
    /// Exact counts over the domain.
    pub tables: Tables,
    /// SIMs seen in the look-back: classified, too sparse to classify, or dropped.
    pub sims: u64,
    /// SIMs whose category rests on a spell still open at the period's end.
    pub open_spells: u64,
    /// SIM-days observed in the look-back, each SIM's clamped to the look-back's length.
    pub sim_days: u64,
    /// SIMs kept out of a table instead of failing the release, by reason (`too_many_pairs`:
    /// crossings clamped to the bound; `unknown_country`, `bad_partner`: not tabulated).
    /// Operator-side only: whether a release fails must not depend on one SIM.
    pub dropped: BTreeMap<String, u64>,
}

/// The facts of one SIM that tabulation reads from `sims.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimRow {
    /// Its category; `None` when too sparse to classify.
    pub category: Option<Category>,
    /// Its partner country; `None` for residents and the unclassified.
    pub partner: Option<CountryCode>,
    /// Whether its category rests on a spell still open at the period's end.
    pub open_spell: bool,
    /// Days with any event in the look-back (a SIM with none is not counted).
    pub days_seen: u64,
}

impl FactTotals {
    /// Nothing counted yet, over `domain`.
    pub fn new(domain: &Domain) -> Self {
        Self {
            tables: Tables::new(domain),
            sims: 0,
            open_spells: 0,
            sim_days: 0,
            dropped: BTreeMap::new(),
        }
    }

    /// Adds `other`'s counts to these (partial tables of one domain, merged exactly).
    pub fn absorb(&mut self, other: &FactTotals) {
        let add = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.tables.categories, &other.tables.categories);
        add(&mut self.tables.crossings, &other.tables.crossings);
        self.tables.unclassified += other.tables.unclassified;
        self.sims += other.sims;
        self.open_spells += other.open_spells;
        self.sim_days += other.sim_days;
        for (reason, n) in &other.dropped {
            *self.dropped.entry(reason.clone()).or_default() += n;
        }
    }

    /// Adds one SIM seen in the look-back (`days_seen` > 0; others are ignored) with the
    /// directed pairs its crossings file lists, in any order and possibly repeated.
    ///
    /// The one per-SIM rule of tabulation, whichever engine gathered the SIM's rows: its
    /// distinct pairs are taken in code order, so the result does not depend on the order
    /// rows were stored or shuffled in; beyond `max_pairs` only the first `max_pairs` are
    /// kept (the bound the privacy analysis relies on) and the SIM is counted as
    /// `too_many_pairs`; a SIM whose facts do not fit the domain adds to no table and is
    /// counted under its reason. Its SIM-days are clamped to `max_days`.
    pub fn add_sim(
        &mut self,
        domain: &Domain,
        sim: &SimRow,
        pairs: &[(CountryCode, CountryCode)],
        max_pairs: usize,
        max_days: u64,
    ) {
        if sim.days_seen == 0 {
            return;
        }
        self.sims += 1;
        self.sim_days += sim.days_seen.min(max_days);
        self.open_spells += u64::from(sim.open_spell);
        let mut crossed = pairs.to_vec();
        crossed.sort();
        crossed.dedup();
        if crossed.len() > max_pairs {
            crossed.truncate(max_pairs);
            *self.dropped.entry("too_many_pairs".into()).or_default() += 1;
        }
        if let Err(e) = self
            .tables
            .add(domain, sim.category, sim.partner, &crossed, max_pairs)
        {
            let reason = match e {
                TabulateError::UnknownCountry { .. } => "unknown_country",
                TabulateError::BadPartner { .. } => "bad_partner",
                TabulateError::TooManyPairs { .. } => "too_many_pairs",
            };
            *self.dropped.entry(reason.into()).or_default() += 1;
        }
    }
}

fn batches(path: &Path) -> Result<Vec<RecordBatch>, FactsError> {
    let pq = |source| FactsError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let f = File::open(path).with_path(path)?;
    ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(pq)?
        .map(|b| b.map_err(|e| pq(e.into())))
        .collect()
}

/// Reads the facts in `dir` into tables over `domain`, each SIM in at most `max_pairs`
/// crossings cells and adding at most `max_days` SIM-days. A SIM whose facts do not fit the
/// domain is clamped (crossings beyond the bound) or left out of the tables, and counted in
/// [`FactTotals::dropped`]; a SIM not seen in the look-back (history only) is not counted.
pub fn read_facts(
    dir: &Path,
    domain: &Domain,
    max_pairs: usize,
    max_days: u64,
) -> Result<FactTotals, FactsError> {
    let crossings_path = dir.join(CROSSINGS_FILE);
    let sims_path = dir.join(SIMS_FILE);
    let bad = |path: &Path, column| FactsError::Column {
        path: path.to_path_buf(),
        column,
    };
    let country =
        |path: &Path, column, s: &str| s.parse::<CountryCode>().map_err(|_| bad(path, column));
    // Crossings by pseudonym.
    let mut pairs: HashMap<Pseudonym, Vec<(CountryCode, CountryCode)>> = HashMap::new();
    for b in batches(&crossings_path)? {
        let p = &crossings_path;
        let col = |name| b.column_by_name(name).ok_or_else(|| bad(p, name));
        let ps = col(PSEUDONYM)?
            .as_fixed_size_binary_opt()
            .ok_or(bad(p, PSEUDONYM))?;
        let from = col(FROM_COUNTRY)?
            .as_string_opt::<i32>()
            .ok_or(bad(p, FROM_COUNTRY))?;
        let to = col(TO_COUNTRY)?
            .as_string_opt::<i32>()
            .ok_or(bad(p, TO_COUNTRY))?;
        for i in 0..b.num_rows() {
            pairs
                .entry(pseudonym(ps.value(i)).ok_or(bad(p, PSEUDONYM))?)
                .or_default()
                .push((
                    country(p, FROM_COUNTRY, from.value(i))?,
                    country(p, TO_COUNTRY, to.value(i))?,
                ));
        }
    }
    let mut out = FactTotals::new(domain);
    let mut seen: HashSet<Pseudonym> = HashSet::new();
    for b in batches(&sims_path)? {
        let p = &sims_path;
        let col = |name| b.column_by_name(name).ok_or_else(|| bad(p, name));
        let ps = col(PSEUDONYM)?
            .as_fixed_size_binary_opt()
            .ok_or(bad(p, PSEUDONYM))?;
        let cat = col(CATEGORY)?
            .as_string_opt::<i32>()
            .ok_or(bad(p, CATEGORY))?;
        let partner = col(PARTNER_COUNTRY)?
            .as_string_opt::<i32>()
            .ok_or(bad(p, PARTNER_COUNTRY))?;
        let open = col(OPEN_SPELL)?
            .as_boolean_opt()
            .ok_or(bad(p, OPEN_SPELL))?;
        let days = col(DAYS_SEEN)?;
        let days = days
            .as_primitive_opt::<arrow::datatypes::Int32Type>()
            .ok_or(bad(p, DAYS_SEEN))?;
        for i in 0..b.num_rows() {
            let sim = pseudonym(ps.value(i)).ok_or(bad(p, PSEUDONYM))?;
            if !seen.insert(sim) {
                return Err(FactsError::DuplicateSim { path: p.clone() });
            }
            let days_seen = u64::try_from(days.value(i)).unwrap_or(0);
            if days_seen == 0 {
                continue;
            }
            let category = if cat.is_valid(i) {
                Some(
                    cat.value(i)
                        .parse::<Category>()
                        .map_err(|_| bad(p, CATEGORY))?,
                )
            } else {
                None
            };
            let partner = if partner.is_valid(i) {
                Some(country(p, PARTNER_COUNTRY, partner.value(i))?)
            } else {
                None
            };
            let row = SimRow {
                category,
                partner,
                open_spell: open.is_valid(i) && open.value(i),
                days_seen,
            };
            let crossed = pairs.get(&sim).map_or(&[][..], |v| v.as_slice());
            out.add_sim(domain, &row, crossed, max_pairs, max_days);
        }
    }
    Ok(out)
}

fn pseudonym(bytes: &[u8]) -> Option<Pseudonym> {
    Some(Pseudonym(bytes.try_into().ok()?))
}

impl borderflow_core::FailureKind for FactsError {
    /// The classified facts are state written by an earlier stage.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::State
    }
}
