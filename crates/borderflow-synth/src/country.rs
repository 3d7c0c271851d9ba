//! One country measured by several operators, with ground truth in persons: the world of a
//! data-sharing partnership (docs/partnerships.md).
//!
//! The scenario's subscribers are **persons**. Each has one itinerary; the SIMs they hold
//! follow it:
//!
//! - a person with a SIM of the measuring country holds it at one operator, drawn by market
//!   share, and with probability `second_sim_share` a second one at another operator (drawn
//!   by the shares of the others), used with its own phone habits;
//! - a foreign SIM is served in the country by one operator, drawn by the same shares (as
//!   roaming agreements steer visitors), and is seen by that operator only.
//!
//! Each operator's records go to `<out>/<plmn>/events.parquet` with the SIM-level truth of its
//! SIMs beside them (`truth.csv`, `truth.parquet`); `<out>/persons.csv` holds each person's
//! truth and how many SIMs they hold at which operators.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use borderflow_core::WithPath;
use borderflow_refdata::RefData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::persona::itinerary;
use crate::phone::{Networks, OffsetCache, PhoneTraits, day_events};
use crate::writer::{EventWriter, TruthRow, TruthWriter};
use crate::{
    OutputFormats, Scenario, SynthError, assign_personas, cumulative_partners, geography,
    home_plmn, networks,
};

/// The operators of the country and how persons hold their SIMs.
#[derive(Debug, Clone, PartialEq)]
pub struct CountryOperators {
    /// Each operator's network (MCC+MNC) and market share (shares are normalised).
    pub operators: Vec<(String, f64)>,
    /// Share of persons with a domestic SIM who hold a second one at another operator.
    pub second_sim_share: f64,
}

/// The file of persons' truth.
pub const PERSONS_FILE: &str = "persons.csv";

/// What [`generate_country`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct CountrySummary {
    /// Persons.
    pub persons: u64,
    /// SIMs per operator's network.
    pub sims: BTreeMap<String, u64>,
    /// Events per operator's network.
    pub events: BTreeMap<String, u64>,
    /// Persons holding two SIMs.
    pub two_sims: u64,
    /// Files written, relative to the output directory.
    pub files: Vec<PathBuf>,
}

/// Streams used so the second SIM and the operators drawn never disturb a person's
/// itinerary or first phone, which stay those of the single-operator world of the seed.
const OPERATOR_DRAW: u64 = 0x0bea_7e5a;
const SECOND_PHONE: u64 = 0x5ec0_5115;

/// Generates the country of `scenario` measured by `country`'s operators into `out_dir`.
pub fn generate_country(
    scenario: &Scenario,
    rd: &RefData,
    out_dir: &Path,
    country: &CountryOperators,
) -> Result<CountrySummary, SynthError> {
    scenario.validate(rd)?;
    let total: f64 = country.operators.iter().map(|(_, s)| s).sum();
    if country.operators.len() < 2
        || country
            .operators
            .iter()
            .any(|(_, s)| s.is_nan() || *s <= 0.0)
        || !(0.0..=1.0).contains(&country.second_sim_share)
    {
        return Err(SynthError::Invalid(
            "a country needs two operators or more, each with a share above 0, and a second-SIM share in [0, 1]".into(),
        ));
    }
    let mut plmns: Vec<&str> = country.operators.iter().map(|(p, _)| p.as_str()).collect();
    plmns.sort_unstable();
    plmns.dedup();
    if plmns.len() != country.operators.len() {
        return Err(SynthError::Invalid("an operator is listed twice".into()));
    }
    let shares: Vec<f64> = country.operators.iter().map(|(_, s)| s / total).collect();
    // One set of networks per operator: the same foreign networks, its own as M's.
    let nets: Vec<Networks> = country
        .operators
        .iter()
        .map(|(plmn, _)| {
            let s = Scenario {
                operator_plmn: plmn.clone(),
                ..scenario.clone()
            };
            networks(&s, rd)
        })
        .collect();
    let m = scenario.measuring_country;
    let partners = cumulative_partners(scenario);
    let geo = geography(scenario, &partners);
    std::fs::create_dir_all(out_dir).with_path(out_dir)?;
    let parquet = OutputFormats {
        csv: false,
        parquet: true,
    };
    let mut events: Vec<EventWriter> = Vec::new();
    let mut truths: Vec<TruthWriter> = Vec::new();
    for (k, (plmn, _)) in country.operators.iter().enumerate() {
        let dir = out_dir.join(plmn);
        std::fs::create_dir_all(&dir).with_path(&dir)?;
        events.push(EventWriter::create(&dir, parquet, &nets[k])?);
        truths.push(TruthWriter::create(&dir)?);
    }
    let persons_path = out_dir.join(PERSONS_FILE);
    let mut persons =
        std::io::BufWriter::new(std::fs::File::create(&persons_path).with_path(&persons_path)?);
    let write_err = |e: std::io::Error| SynthError::Write {
        path: persons_path.display().to_string(),
        message: e.to_string(),
    };
    writeln!(
        persons,
        "person,persona,category,partner_country,sim_country,residence_country,sims,operators"
    )
    .map_err(write_err)?;
    let pick = |rng: &mut ChaCha8Rng, weights: &[f64]| -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = rng.random::<f64>() * total;
        for (k, w) in weights.iter().enumerate() {
            if u < *w {
                return k;
            }
            u -= w;
        }
        weights.len() - 1
    };
    let personas = assign_personas(scenario);
    let dates: Vec<_> = (0..scenario.days)
        .map(|d| scenario.start + chrono::Days::new(u64::from(d)))
        .collect();
    let mut offsets = OffsetCache::default();
    let mut day_buf = Vec::new();
    let mut summary = CountrySummary {
        persons: u64::from(scenario.subscribers),
        sims: BTreeMap::new(),
        events: BTreeMap::new(),
        two_sims: 0,
        files: Vec::new(),
    };
    for (i, persona) in personas.iter().copied().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed);
        rng.set_stream(i as u64 + 1);
        let it = itinerary(persona, &geo, &mut rng);
        let mut draw = ChaCha8Rng::seed_from_u64(scenario.seed ^ OPERATOR_DRAW);
        draw.set_stream(i as u64 + 1);
        let first = pick(&mut draw, &shares);
        let second = (!persona.foreign_sim() && draw.random::<f64>() < country.second_sim_share)
            .then(|| {
                let mut others = shares.clone();
                others[first] = 0.0;
                pick(&mut draw, &others)
            });
        let mut held = Vec::new();
        for (n, k) in std::iter::once(first).chain(second).enumerate() {
            let mut phone_rng = if n == 0 {
                rng.clone()
            } else {
                let mut r = ChaCha8Rng::seed_from_u64(scenario.seed ^ SECOND_PHONE);
                r.set_stream(i as u64 + 1);
                r
            };
            let net = &nets[k];
            let mut traits = PhoneTraits::draw(
                persona,
                &scenario.activity,
                &scenario.spillover,
                net,
                &scenario.neighbours,
                &mut phone_rng,
            );
            let home = home_plmn(persona, &it, net, &mut phone_rng);
            let index = i + n * scenario.subscribers as usize;
            let id = crate::subscriber_id(&net.plmns[home as usize], index, scenario.seed);
            for (day, date) in dates.iter().enumerate() {
                day_events(
                    &it,
                    persona,
                    &mut traits,
                    &scenario.activity,
                    net,
                    m,
                    day,
                    *date,
                    &mut offsets,
                    &mut phone_rng,
                    &mut day_buf,
                );
                for e in &day_buf {
                    events[k].push(&id, home, e)?;
                }
            }
            truths[k].push(TruthRow::of(&id, persona, &it, &traits, m))?;
            *summary
                .sims
                .entry(country.operators[k].0.clone())
                .or_default() += 1;
            held.push(country.operators[k].0.as_str());
        }
        summary.two_sims += u64::from(second.is_some());
        writeln!(
            persons,
            "{i},{persona},{},{},{},{},{},{}",
            persona.category().as_str(),
            it.partner.map(|c| c.to_string()).unwrap_or_default(),
            it.sim_country,
            it.residence,
            held.len(),
            held.join(";")
        )
        .map_err(write_err)?;
    }
    persons.flush().map_err(write_err)?;
    for (k, (w, t)) in events.into_iter().zip(truths).enumerate() {
        let plmn = &country.operators[k].0;
        summary.events.insert(plmn.clone(), w.finish()?);
        t.finish()?;
        for f in ["events.parquet", "truth.csv", "truth.parquet"] {
            summary.files.push(Path::new(plmn).join(f));
        }
    }
    summary.files.push(PathBuf::from(PERSONS_FILE));
    Ok(summary)
}

/// The records of another country's world (`events`, its canonical `events.parquet`) that
/// the operators of `destination` hold: its SIMs served by a network of `destination`
/// (roaming there), written to `out` in the canonical schema. Added to `destination`'s own
/// world, they make two countries that see the same travellers from both ends, for mirror
/// statistics. Returns the rows written.
pub fn roaming_records(
    events: &Path,
    destination: borderflow_core::CountryCode,
    rd: &RefData,
    out: &Path,
) -> Result<u64, SynthError> {
    use arrow::array::{Array, AsArray, BooleanArray};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let err = |path: &Path, e: &dyn std::fmt::Display| SynthError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mccs = rd.plmn.mccs_of(destination);
    let file = std::fs::File::open(events).map_err(|e| err(events, &e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| err(events, &e))?;
    let schema = borderflow_core::schema::event_schema();
    let target = std::fs::File::create(out).map_err(|e| err(out, &e))?;
    let mut writer = ArrowWriter::try_new(target, schema, None).map_err(|e| err(out, &e))?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| err(events, &e))?;
        let serving = batch
            .column_by_name(borderflow_core::schema::event::SERVING_PLMN)
            .ok_or_else(|| err(events, &"no serving_plmn column"))?
            .as_string::<i32>();
        let keep: BooleanArray = (0..serving.len())
            .map(|i| {
                Some(
                    !serving.is_null(i)
                        && mccs
                            .iter()
                            .any(|m| serving.value(i).starts_with(m.as_str())),
                )
            })
            .collect();
        let kept =
            arrow::compute::filter_record_batch(&batch, &keep).map_err(|e| err(events, &e))?;
        rows += kept.num_rows() as u64;
        writer.write(&kept).map_err(|e| err(out, &e))?;
    }
    writer.close().map_err(|e| err(out, &e))?;
    Ok(rows)
}
