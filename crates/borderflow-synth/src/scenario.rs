//! The scenario of a synthetic world: who lives where, how active their phones are. Read from
//! TOML, with every field defaulting to the built-in scenario.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_core::CountryCode;
use borderflow_refdata::{PlmnCountry, RefData};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::SynthError;
use crate::persona::{Commute, Persona, Stays};

/// The built-in scenario, also shipped as a commented template.
pub const DEFAULT_SCENARIO: &str = include_str!("default_scenario.toml");

/// Parameters of a synthetic world. Deterministic: the same scenario gives the same files.
/// Fields a scenario file leaves out keep their built-in values ([`Scenario::default`], which
/// `default_scenario.toml` spells out with comments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// The measuring country M.
    pub measuring_country: CountryCode,
    /// The PLMN of the operator whose records the world contains.
    pub operator_plmn: String,
    /// First local date of the world.
    pub start: NaiveDate,
    /// Length of the world in days (at least 365).
    pub days: u32,
    /// Number of SIMs.
    pub subscribers: u32,
    /// Seed of the deterministic generator.
    pub seed: u64,
    /// Share of seasonal and temporary stays (in and out) that cross a boundary of the
    /// reference period: half still under way when it ends, half begun before it started.
    pub boundary_spell_share: f64,
    /// Land neighbours of M (frontier workers' partner countries).
    pub neighbours: Vec<CountryCode>,
    /// Partner countries of other mobility, with relative weights.
    pub partners: BTreeMap<CountryCode, f64>,
    /// Share of SIMs per persona.
    pub personas: BTreeMap<Persona, f64>,
    /// How phones are used.
    pub activity: Activity,
    /// How frontier workers and traders cross the border.
    pub commute: Commute,
    /// How stays and trips recur.
    pub stays: Stays,
    /// Network spillover at home near the border.
    pub spillover: Spillover,
}

/// Network spillover: own SIMs of people living in M by the border whose phones are served by a
/// neighbour's network from home, at any hour, alternating with the home network from one
/// event to the next, on most days of the year. Not a crossing: the person never leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spillover {
    /// Share of the operator's own SIMs (of any persona) whose home in M lies within reach of a
    /// neighbour's network.
    pub share: f64,
    /// Range of each such SIM's share of days at home on which the neighbour's network reaches
    /// it (drawn uniformly per SIM).
    pub day_share: [f64; 2],
    /// Range of each such SIM's share of events carried by the neighbour's network on those
    /// days (drawn uniformly per SIM; each event independently).
    pub event_share: [f64; 2],
}

impl Default for Spillover {
    fn default() -> Self {
        Self {
            share: 0.0,
            day_share: [0.5, 1.0],
            event_share: [0.1, 0.6],
        }
    }
}

/// How often and how visibly phones are used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Activity {
    /// Median events on an active day.
    pub median_events_per_day: f64,
    /// Log-scale spread of SIM-level event rates.
    pub rate_spread: f64,
    /// Share of SIMs that are silent on most days.
    pub sparse_share: f64,
    /// A sparse SIM's chance of being active on a day.
    pub sparse_active_probability: f64,
    /// An ordinary SIM's chance of being active on a day.
    pub active_probability: f64,
    /// Activity abroad relative to at home.
    pub roaming_activity: f64,
    /// Share of the operator's own SIMs with data roaming off (abroad: calls and SMS only).
    pub data_roaming_off_share: f64,
    /// Share of residents whose phones sometimes catch a foreign network near the border.
    pub border_dweller_share: f64,
    /// Share of events that are calls or SMS.
    pub voice_sms_share: f64,
    /// Share of SIMs that only ever make data sessions (no calls, no SMS).
    pub data_only_share: f64,
    /// Share of the operator's own SIMs never seen abroad (a local SIM bought there, roaming
    /// off altogether): abroad, they go dark.
    pub dark_abroad_share: f64,
    /// Share of SIMs whose phones are never used in `night_silent_hours` (switched off at
    /// night to save a charge), whatever their persona ...
    pub night_silent_share: f64,
    /// ... or, for the personas listed, this share instead.
    pub night_silent_personas: BTreeMap<Persona, f64>,
    /// Local hours `[from, to]` a night-silent phone is off (across midnight when from > to).
    pub night_silent_hours: [f64; 2],
}

impl Default for Scenario {
    fn default() -> Self {
        let cc = |s: &str| s.parse::<CountryCode>().expect("valid code");
        let partners = [
            ("UGA", 20.0),
            ("TZA", 18.0),
            ("ETH", 8.0),
            ("SOM", 8.0),
            ("SSD", 5.0),
            ("RWA", 4.0),
            ("BDI", 2.0),
            ("COD", 3.0),
            ("IND", 5.0),
            ("CHN", 3.0),
            ("ARE", 6.0),
            ("SAU", 4.0),
            ("QAT", 2.0),
            ("GBR", 4.0),
            ("USA", 3.0),
            ("DEU", 2.0),
            ("ZAF", 3.0),
        ];
        let personas = [
            (Persona::Resident, 0.55),
            (Persona::ResidentForeignSim, 0.04),
            (Persona::FrontierIn, 0.04),
            (Persona::SeasonalIn, 0.04),
            (Persona::TemporaryIn, 0.04),
            (Persona::VisitorIn, 0.14),
            (Persona::FrontierOut, 0.03),
            (Persona::SeasonalOut, 0.03),
            (Persona::TemporaryOut, 0.03),
            (Persona::Emigrant, 0.06),
            (Persona::ReturnMigrant, 0.0),
        ];
        Scenario {
            measuring_country: cc("KEN"),
            operator_plmn: "63902".into(),
            start: NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"),
            days: 365,
            subscribers: 10_000,
            seed: 7,
            boundary_spell_share: 0.2,
            neighbours: ["UGA", "TZA", "ETH", "SOM", "SSD"].map(cc).to_vec(),
            partners: partners.into_iter().map(|(c, w)| (cc(c), w)).collect(),
            personas: personas.into_iter().collect(),
            activity: Activity::default(),
            commute: Commute::default(),
            stays: Stays::default(),
            spillover: Spillover::default(),
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            median_events_per_day: 4.0,
            rate_spread: 0.8,
            sparse_share: 0.15,
            sparse_active_probability: 0.15,
            active_probability: 0.8,
            roaming_activity: 0.4,
            data_roaming_off_share: 0.15,
            border_dweller_share: 0.08,
            voice_sms_share: 0.55,
            data_only_share: 0.0,
            dark_abroad_share: 0.0,
            night_silent_share: 0.0,
            night_silent_personas: BTreeMap::new(),
            night_silent_hours: [20.0, 6.0],
        }
    }
}

impl Scenario {
    /// Reads a scenario file; fields it leaves out keep the built-in values. Errors name the
    /// file and line.
    pub fn from_file(path: &Path) -> Result<Self, SynthError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SynthError::Scenario {
            location: name.clone(),
            message: e.to_string(),
        })?;
        Self::from_toml(&name, &text)
    }

    /// Parses scenario text named `name` in errors, over the built-in defaults.
    pub fn from_toml(name: &str, text: &str) -> Result<Self, SynthError> {
        toml::from_str(text).map_err(|e| toml_error(name, text, &e))
    }

    /// Checks the scenario against the code lists and its own arithmetic.
    pub fn validate(&self, rd: &RefData) -> Result<(), SynthError> {
        let bad = |message: String| Err(SynthError::Invalid(message));
        if rd.countries.get(self.measuring_country).is_none() {
            return bad(format!(
                "measuring_country {} is not in the country list",
                self.measuring_country
            ));
        }
        match rd.plmn.country_of_str(&self.operator_plmn) {
            Ok(PlmnCountry::Country(c)) if c == self.measuring_country => {}
            Ok(_) => {
                return bad(format!(
                    "operator_plmn {} is not a network of {}",
                    self.operator_plmn, self.measuring_country
                ));
            }
            Err(e) => return bad(format!("operator_plmn: {e}")),
        }
        if !(365..=3650).contains(&self.days) {
            return bad(format!(
                "days = {} must be between 365 (one look-back window) and 3650",
                self.days
            ));
        }
        if self.subscribers == 0 {
            return bad("subscribers must be at least 1".into());
        }
        let countries = self.neighbours.iter().chain(self.partners.keys());
        for c in countries {
            if *c == self.measuring_country {
                return bad(format!(
                    "{c} is the measuring country; it cannot be a partner"
                ));
            }
            if rd.plmn.mccs_of(*c).is_empty() || rd.time_zones.of(*c).is_none() {
                return bad(format!(
                    "{c} has no mobile country code or time zone listed"
                ));
            }
        }
        if self.neighbours.is_empty() || self.partners.is_empty() {
            return bad("neighbours and partners must each name at least one country".into());
        }
        if self
            .partners
            .values()
            .any(|w| !(w.is_finite() && *w >= 0.0))
            || self.partners.values().sum::<f64>() <= 0.0
        {
            return bad("partner weights must be non-negative and not all zero".into());
        }
        let total: f64 = self.personas.values().sum();
        if self.personas.values().any(|s| !(0.0..=1.0).contains(s)) || (total - 1.0).abs() > 1e-6 {
            return bad(format!(
                "persona shares must lie in [0, 1] and add up to 1 (they add up to {total})"
            ));
        }
        if self.share(Persona::ReturnMigrant) > 0.0 && self.days < 730 {
            return bad("return_migrant needs days >= 730 (two look-back windows)".into());
        }
        if !(0.0..=1.0).contains(&self.boundary_spell_share) {
            return bad(format!(
                "boundary_spell_share = {} must lie in [0, 1]",
                self.boundary_spell_share
            ));
        }
        let a = &self.activity;
        let probabilities = [
            ("sparse_share", a.sparse_share),
            ("sparse_active_probability", a.sparse_active_probability),
            ("active_probability", a.active_probability),
            ("roaming_activity", a.roaming_activity),
            ("data_roaming_off_share", a.data_roaming_off_share),
            ("border_dweller_share", a.border_dweller_share),
            ("voice_sms_share", a.voice_sms_share),
            ("data_only_share", a.data_only_share),
            ("dark_abroad_share", a.dark_abroad_share),
            ("commute.six_day_share", self.commute.six_day_share),
            ("commute.attendance", self.commute.attendance),
            ("commute.night_at_work", self.commute.night_at_work),
            ("commute.weekly_share", self.commute.weekly_share),
            ("commute.late_return_share", self.commute.late_return_share),
            ("night_silent_share", a.night_silent_share),
            ("spillover.share", self.spillover.share),
            ("spillover.day_share", self.spillover.day_share[0]),
            ("spillover.day_share", self.spillover.day_share[1]),
            ("spillover.event_share", self.spillover.event_share[0]),
            ("spillover.event_share", self.spillover.event_share[1]),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                let name = if name.contains('.') {
                    name.to_string()
                } else {
                    format!("activity.{name}")
                };
                return bad(format!("{name} = {p} must lie in [0, 1]"));
            }
        }
        if let Some((p, share)) = a
            .night_silent_personas
            .iter()
            .find(|(_, s)| !(0.0..=1.0).contains(*s))
        {
            return bad(format!(
                "activity.night_silent_personas.{p} = {share} must lie in [0, 1]"
            ));
        }
        let range_ok = |r: [f64; 2]| r[0] <= r[1];
        if !range_ok(self.spillover.day_share) || !range_ok(self.spillover.event_share) {
            return bad(
                "spillover.day_share and event_share must be [from, to] with from <= to".into(),
            );
        }
        let hour_ok = |h: f64| (0.0..24.0).contains(&h);
        if !a.night_silent_hours.iter().all(|h| hour_ok(*h)) {
            return bad("activity.night_silent_hours must be two hours in [0, 24)".into());
        }
        let rate_ok = a.median_events_per_day > 0.0 && a.median_events_per_day <= 500.0;
        if !rate_ok || !(0.0..=3.0).contains(&a.rate_spread) {
            return bad(
                "activity.median_events_per_day must lie in (0, 500] and rate_spread in [0, 3]"
                    .into(),
            );
        }
        let c = &self.commute;
        let hours_ok = |h: [f64; 2]| h[0] <= h[1] && h[0] >= 0.0 && h[1] < 24.0;
        if !(hours_ok(c.depart_hours) && hours_ok(c.return_hours) && hours_ok(c.late_return_hours))
            || c.depart_hours[1] >= c.return_hours[0]
            || c.depart_hours[1] >= c.late_return_hours[0]
        {
            return bad(
                "commute.depart_hours, return_hours and late_return_hours must be [from, to] hours in [0, 24), departures before returns"
                    .into(),
            );
        }
        if c.weeks[0] == 0 || c.weeks[0] > c.weeks[1] || c.weeks[1] > 52 {
            return bad("commute.weeks must be [from, to] with 1 <= from <= to <= 52".into());
        }
        if self.stays.visitor_max_stays == 0 {
            return bad("stays.visitor_max_stays must be at least 1".into());
        }
        Ok(())
    }

    /// The configured share of a persona (0 when absent).
    pub fn share(&self, p: Persona) -> f64 {
        self.personas.get(&p).copied().unwrap_or(0.0)
    }

    /// First day of the reference period: the last 365 days of the world.
    pub fn period_start(&self) -> NaiveDate {
        self.start + chrono::Days::new(u64::from(self.days - 365))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn toml_error(name: &str, text: &str, e: &toml::de::Error) -> SynthError {
    let location = match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{name}:{line}")
        }
        None => name.to_string(),
    };
    SynthError::Scenario {
        location,
        message: one_line(e.message()),
    }
}
