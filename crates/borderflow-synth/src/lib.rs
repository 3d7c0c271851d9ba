//! # borderflow-synth
//!
//! Synthetic mobile-operator worlds with ground truth, for tests, benchmarks and the demo.
//!
//! A [`Scenario`] names a measuring country M, one operator's network in it, partner countries
//! and a mix of [`Persona`]s. Each SIM gets a true day-by-day itinerary
//! (where its holder sleeps, where they work) and a phone whose use is heterogeneous: some SIMs
//! are silent on most days, activity follows a diurnal rhythm in local time, roaming is dearer
//! (so rarer), some SIMs have data roaming off, border dwellers' phones catch a neighbour's network
//! for a moment. Visibility is the operator's: its own SIMs are seen abroad only through
//! roaming records, foreign SIMs only while on its network in M.
//!
//! [`generate`] streams the events SIM by SIM into CSV and/or Parquet files in batches, so a
//! world of 100 M events never sits in memory, and writes the ground truth (each SIM's
//! category and partner country for the reference period, the last 365 days). The same
//! scenario always gives byte-identical files: each SIM draws from its own ChaCha8 stream.
//!
//! ```
//! use borderflow_refdata::RefData;
//! use borderflow_synth::{OutputFormats, Scenario, generate};
//!
//! let scenario = Scenario { subscribers: 20, days: 365, seed: 3, ..Scenario::default() };
//! let dir = tempfile::tempdir().unwrap();
//! let formats = OutputFormats { csv: true, parquet: false };
//! let world = generate(&scenario, &RefData::embedded(), dir.path(), formats).unwrap();
//! assert_eq!(world.subscribers, 20);
//! assert!(dir.path().join("events.csv").is_file() && dir.path().join("truth.csv").is_file());
//! ```

pub mod country;
pub mod layouts;
mod persona;
mod phone;
mod scenario;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use borderflow_core::CountryCode;
use borderflow_refdata::RefData;
use chrono::Datelike;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use borderflow_core::layout::STAGING_PREFIX;
use borderflow_core::{PathError, ScratchDir, WithPath};
pub use persona::{Commute, DayLocation, Itinerary, Persona, Stays};
pub use scenario::{Activity, DEFAULT_SCENARIO, Scenario, Spillover};
pub use writer::{OutputFormats, events_csv_writer, events_parquet_properties};

use crate::persona::{Geography, itinerary};
use crate::phone::{Networks, OffsetCache, PhoneTraits, day_events};
use crate::writer::{EventWriter, TruthRow, TruthWriter};

/// Why a world could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The scenario file is unreadable or malformed; `location` is `file` or `file:line`.
    #[error("{location}: {message}")]
    Scenario {
        /// `file` or `file:line`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The scenario is well-formed but inconsistent.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// Writing an output file failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Creating, flushing or moving an output file failed.
    #[error(transparent)]
    Io(#[from] PathError),
}

/// What a generated world holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// SIMs in the world (including those never seen by the operator).
    pub subscribers: u64,
    /// Events written.
    pub events: u64,
    /// SIMs per persona.
    pub personas: BTreeMap<Persona, u64>,
    /// Files written, relative to the output directory.
    pub files: Vec<PathBuf>,
}

/// Generates the world of `scenario` into `out_dir`: `events.csv` and/or `events.parquet`,
/// `truth.csv`, `truth.parquet`, and the resolved `scenario.toml`.
///
/// Files are written into a staging directory inside `out_dir` and moved into place only when
/// all are complete, so a failed run leaves no half-written world behind.
pub fn generate(
    scenario: &Scenario,
    rd: &RefData,
    out_dir: &Path,
    formats: OutputFormats,
) -> Result<Summary, SynthError> {
    scenario.validate(rd)?;
    std::fs::create_dir_all(out_dir).with_path(out_dir)?;
    let staging = ScratchDir::create(
        out_dir.join(format!("{STAGING_PREFIX}generate-{}", std::process::id())),
    )?;
    let summary = generate_into(scenario, rd, staging.path(), formats)?;
    staging.move_files_into(&summary.files, out_dir)?;
    Ok(summary)
}

fn generate_into(
    scenario: &Scenario,
    rd: &RefData,
    out_dir: &Path,
    formats: OutputFormats,
) -> Result<Summary, SynthError> {
    let m = scenario.measuring_country;
    let nets = networks(scenario, rd);
    let partners = cumulative_partners(scenario);
    let geo = geography(scenario, &partners);
    let personas = assign_personas(scenario);
    let ref_start_day = scenario.days as usize - 365;

    let mut events = EventWriter::create(out_dir, formats, &nets)?;
    let mut truth = TruthWriter::create(out_dir)?;
    let mut offsets = OffsetCache::default();
    let mut day_buf = Vec::new();
    let dates: Vec<_> = (0..scenario.days)
        .map(|d| scenario.start + chrono::Days::new(u64::from(d)))
        .collect();
    let mut summary = Summary {
        subscribers: u64::from(scenario.subscribers),
        events: 0,
        personas: BTreeMap::new(),
        files: Vec::new(),
    };
    for (i, persona) in personas.iter().copied().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
        rng.set_stream(i as u64 + 1);
        let it = itinerary(persona, &geo, &mut rng);
        let mut traits = PhoneTraits::draw(
            persona,
            &scenario.activity,
            &scenario.spillover,
            &nets,
            &scenario.neighbours,
            &mut rng,
        );
        let home_plmn = home_plmn(persona, &it, &nets, &mut rng);
        let id = subscriber_id(&nets.plmns[home_plmn as usize], i, scenario.seed);
        for (day, date) in dates.iter().enumerate() {
            day_events(
                &it,
                persona,
                &mut traits,
                &scenario.activity,
                &nets,
                m,
                day,
                *date,
                &mut offsets,
                &mut rng,
                &mut day_buf,
            );
            for e in &day_buf {
                events.push(&id, home_plmn, e)?;
            }
        }
        truth.push(TruthRow::of(&id, persona, &it, &traits, m))?;
        *summary.personas.entry(persona).or_default() += 1;
        debug_assert!(ref_start_day <= it.days.len());
    }
    summary.events = events.finish()?;
    truth.finish()?;
    let resolved = toml::to_string(scenario).expect("a scenario serialises");
    let path = out_dir.join("scenario.toml");
    std::fs::write(&path, resolved).map_err(|e| SynthError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    summary.files = formats
        .event_files()
        .into_iter()
        .chain(["truth.csv", "truth.parquet", "scenario.toml"])
        .map(PathBuf::from)
        .collect();
    Ok(summary)
}

/// The partner countries with their cumulative weights, as itineraries draw them.
pub(crate) fn cumulative_partners(s: &Scenario) -> Vec<(CountryCode, f64)> {
    let mut cum = 0.0;
    s.partners
        .iter()
        .map(|(c, w)| {
            cum += w;
            (*c, cum)
        })
        .collect()
}

/// The scenario's geography over `partners` (from [`cumulative_partners`]).
pub(crate) fn geography<'a>(s: &'a Scenario, partners: &'a [(CountryCode, f64)]) -> Geography<'a> {
    Geography {
        m: s.measuring_country,
        neighbours: &s.neighbours,
        partners,
        days: s.days as usize,
        first_weekday: s.start.weekday().num_days_from_monday() as usize,
        boundary_spell_share: s.boundary_spell_share,
        commute: &s.commute,
        stays: &s.stays,
    }
}

/// The border effects a SIM's records carry, as the truth lists them.
pub(crate) fn effects_of(traits: &PhoneTraits, it: &Itinerary) -> String {
    traits
        .effects()
        .chain(it.weekly.then_some("weekly"))
        .chain(it.late_return.then_some("late_return"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Personas by exact quota (largest remainder), shuffled with the scenario's seed.
pub(crate) fn assign_personas(s: &Scenario) -> Vec<Persona> {
    let n = u64::from(s.subscribers);
    let mut counts: Vec<(Persona, u64, f64)> = Persona::ALL
        .iter()
        .map(|p| {
            let exact = s.share(*p) * n as f64;
            (*p, exact.floor() as u64, exact - exact.floor())
        })
        .collect();
    let assigned: u64 = counts.iter().map(|c| c.1).sum();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|a, b| counts[*b].2.total_cmp(&counts[*a].2).then(a.cmp(b)));
    for k in order.into_iter().take((n - assigned) as usize) {
        counts[k].1 += 1;
    }
    let mut all: Vec<Persona> = counts
        .iter()
        .flat_map(|(p, k, _)| std::iter::repeat_n(*p, *k as usize))
        .collect();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(s.seed));
    all
}

/// The networks of M's operator and of every partner country.
pub(crate) fn networks(s: &Scenario, rd: &RefData) -> Networks {
    let mut plmns = vec![s.operator_plmn.clone()];
    let mut by_country: HashMap<CountryCode, Vec<u16>> = HashMap::new();
    let mut dialling = HashMap::new();
    let mut zones = HashMap::new();
    let countries = std::iter::once(s.measuring_country)
        .chain(s.neighbours.iter().copied())
        .chain(s.partners.keys().copied());
    for c in countries {
        if c != s.measuring_country && !by_country.contains_key(&c) {
            // Two networks per country, on the country's first MCC.
            let mcc = rd.plmn.mccs_of(c)[0].clone();
            let ids = ["01", "02"].map(|mnc| {
                plmns.push(format!("{mcc}{mnc}"));
                (plmns.len() - 1) as u16
            });
            by_country.insert(c, ids.to_vec());
        }
        let code = rd.calling_codes.code_of(c).unwrap_or("999").to_string();
        // Shared zones need an area code that places the number in the right country.
        let prefix = match (code.as_str(), c.as_str()) {
            ("1", "USA") => "1212".to_string(),
            ("1", "CAN") => "1416".to_string(),
            ("7", "RUS") => "7495".to_string(),
            _ => code,
        };
        dialling.insert(c, prefix);
        zones.insert(
            c,
            rd.time_zones
                .of(c)
                .expect("validated: every country has a zone"),
        );
    }
    Networks {
        plmns,
        operator: 0,
        by_country,
        dialling,
        zones,
        cells: 800,
    }
}

/// The SIM's home network: the operator's own, or one of its country's networks.
pub(crate) fn home_plmn(
    persona: Persona,
    it: &Itinerary,
    nets: &Networks,
    rng: &mut ChaCha8Rng,
) -> u16 {
    use rand::Rng;
    if persona.foreign_sim() {
        let options = &nets.by_country[&it.sim_country];
        options[rng.random_range(0..options.len())]
    } else {
        nets.operator
    }
}

/// An IMSI-like id: the home PLMN followed by a MSIN that is unique within the world.
pub(crate) fn subscriber_id(home_plmn: &str, index: usize, seed: u64) -> String {
    let width = 15 - home_plmn.len();
    let modulus = u128::from(10u64.pow(width as u32));
    // An affine map with a multiplier coprime to 10 is a bijection modulo 10^width, so
    // distinct SIMs get distinct ids while ids look scattered, not sequential.
    let msin = ((index as u128) * 982_451_653 + u128::from(seed)) % modulus;
    format!("{home_plmn}{msin:0width$}")
}

impl borderflow_core::FailureKind for SynthError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            SynthError::Scenario { .. } | SynthError::Invalid(_) => Failure::Config,
            SynthError::Write { .. } | SynthError::Io(_) => Failure::State,
        }
    }
}
