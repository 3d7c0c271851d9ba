//! The thresholds of the classification rules (docs/design.md §6), each a named configuration value
//! with its default. The pipeline file's `[classify]` table sets them; docs/methodology.md
//! gives each one's source.

use borderflow_core::{ClockTime, FunctionalDay};
use serde::{Deserialize, Serialize};

/// Every threshold the rules use. `Rules::default()` holds the defaults of docs/design.md §6.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// The functional day and its night and working-daytime windows (`[classify.day]`): ingest
    /// dates events by it and the presence reduction counts night and daytime events by it,
    /// so changing it needs the look-back re-ingested.
    pub day: FunctionalDay,
    /// Nights in one country, within the 365-day look-back, that make it the usual residence
    /// (UN 1998 recommendations: more than half a year).
    pub residence_nights: u32,
    /// Unseen nights between two seen nights in the same country that take that country, for
    /// SIMs seen on most nights (a gap of this many nights is filled, one more is not).
    pub max_gap_days: u32,
    /// For SIMs seen less often, a longer silence is filled when a silence at least that long
    /// has at least this chance under the SIM's own rate of being seen at night.
    pub gap_chance: f64,
    /// The longest silence ever filled, however rarely a SIM is seen.
    pub max_gap_cap_days: u32,
    /// Same-country gaps a SIM must show before its own rate is estimated from them.
    pub min_gaps_for_rate: u32,
    /// Shortest spell (nights) of a seasonal stay, in or out.
    pub seasonal_min_nights: u32,
    /// Shortest spell (nights) of a temporary stay (UN short-term migration: three months).
    pub temporary_min_nights: u32,
    /// Frontier workers: weekday-daytime days across the border that make a commuting week.
    pub frontier_days_per_week: u32,
    /// Frontier workers: commuting weeks needed in the look-back.
    pub frontier_weeks: u32,
    /// Frontier workers seen on only some of their commuting days: days seen across per week
    /// seen there, on average, above which the pattern is commuting rather than one market day
    /// a week (docs/methodology.md).
    pub frontier_min_days_per_active_week: f64,
    /// Frontier workers: largest share of their days across the border spent there overnight.
    pub frontier_max_night_share: f64,
    /// Weekly rhythm: presence on rest days at most this share of the rate on working days is a
    /// commute's rhythm (rest days at home); at least its inverse, weekends away; in between,
    /// every day alike (a stay, a home, or a neighbour's network reaching it at home).
    pub rest_day_ratio: f64,
    /// Weekly rhythm: fewer days than this expected on rest days (or working days) leave the
    /// rhythm unknown.
    pub rhythm_min_days: f64,
    /// Weekly rhythm: a difference between rest days and working days is a rhythm only when
    /// presence on every day alike would show it with less than this chance.
    pub rhythm_chance: f64,
    /// Network spillover: a foreign network seen with the home network on at least this share of
    /// the days it is seen, every day of the week alike, is reaching the phone at home.
    pub spillover_min_shared_days: f64,
    /// Network spillover: days seen on a neighbour's network alone are home all the same when
    /// so many events on it in a row have at least this chance at the SIM's own spillover share.
    pub spillover_run_chance: f64,
    /// Network spillover: days a foreign network must be seen on before it can be judged.
    pub spillover_min_days: u32,
    /// Commuting from a spillover home: the neighbour's share of working-daytime events must
    /// exceed its share of the others by at least this much ...
    pub spillover_commute_gap: f64,
    /// ... and by at least this many standard errors.
    pub spillover_commute_z: f64,
    /// Late evenings: night-window events that all end before this local time are evening
    /// events; a country whose nights are almost all such evenings on working days is where the
    /// SIM works late, not where it sleeps.
    pub core_night_from: ClockTime,
    /// Late evenings: the share of a country's nights that must be working-day evenings.
    pub late_evening_share: f64,
    /// Weekly frontier workers: the share of weeks with working-day nights across in which the
    /// SIM also goes home for the rest days.
    pub weekly_min_share: f64,
    /// Border guard: contact with another country's network of fewer events than this ...
    pub border_guard_events: u32,
    /// ... within this many minutes, on a day the SIM is seen elsewhere, is ignored.
    pub border_guard_minutes: u32,
    /// A SIM seen on at least this many days ...
    pub min_days_for_density: u32,
    /// ... whose typical (median) silence between two days seen is longer than this many days
    /// has too little data to classify: it is counted as insufficient, not guessed.
    pub sparse_median_gap_days: u32,
    /// Directed country pairs kept per SIM and period in `crossings` (the contribution bound
    /// the privacy layer relies on).
    pub max_crossing_pairs: usize,
    /// Whether return migrants are measured. When true, every release's window also reads
    /// the 365 days before its look-back (24 months in all), and is charged to each calendar
    /// year those days fall in; when false, the `return_migrant` cells are marked not
    /// measured. A setting, never decided from the data (how far back the store reaches).
    pub return_migrants: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            day: FunctionalDay::default(),
            residence_nights: 183,
            max_gap_days: 3,
            gap_chance: 0.01,
            max_gap_cap_days: 30,
            min_gaps_for_rate: 5,
            seasonal_min_nights: 30,
            temporary_min_nights: 90,
            frontier_days_per_week: 2,
            frontier_weeks: 13,
            frontier_min_days_per_active_week: 1.25,
            frontier_max_night_share: 0.10,
            rest_day_ratio: 0.7,
            rhythm_min_days: 5.0,
            rhythm_chance: 0.05,
            spillover_min_shared_days: 0.5,
            spillover_run_chance: 0.05,
            spillover_min_days: 8,
            spillover_commute_gap: 0.10,
            spillover_commute_z: 3.0,
            core_night_from: ClockTime::new(22, 0).expect("22:00"),
            late_evening_share: 0.8,
            weekly_min_share: 0.6,
            border_guard_events: 3,
            border_guard_minutes: 60,
            min_days_for_density: 4,
            sparse_median_gap_days: 2,
            max_crossing_pairs: 4,
            return_migrants: false,
        }
    }
}

/// Why a rule set cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("classify.{key}: {message}")]
pub struct RulesError {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

/// The most crossing pairs a SIM may contribute to a release's `crossings` table.
pub const MAX_CROSSING_PAIRS: usize = 32;

impl Rules {
    /// [`Rules::core_night_from`] in minutes after the functional day's start.
    pub fn core_night_minute(&self) -> u16 {
        (self.core_night_from.minutes() + 1440 - self.day.start.minutes()) % 1440
    }

    /// Checks the values make sense together (the pipeline calls this before any work).
    pub fn check(&self) -> Result<(), RulesError> {
        let bad = |key, message: &str| {
            Err(RulesError {
                key,
                message: message.to_string(),
            })
        };
        if self.residence_nights == 0 || self.residence_nights > 365 {
            return bad("residence_nights", "must be between 1 and 365");
        }
        if !(self.gap_chance > 0.0 && self.gap_chance < 1.0) {
            return bad("gap_chance", "must be strictly between 0 and 1");
        }
        if self.max_gap_cap_days < self.max_gap_days {
            return bad("max_gap_cap_days", "must be at least max_gap_days");
        }
        if self.seasonal_min_nights == 0 || self.seasonal_min_nights >= self.temporary_min_nights {
            return bad(
                "seasonal_min_nights",
                "must be at least 1 and below temporary_min_nights",
            );
        }
        if self.temporary_min_nights >= self.residence_nights {
            return bad("temporary_min_nights", "must be below residence_nights");
        }
        if self.frontier_days_per_week == 0 || self.frontier_days_per_week > 5 {
            return bad("frontier_days_per_week", "must be between 1 and 5");
        }
        if self.frontier_weeks == 0 || self.frontier_weeks > 52 {
            return bad("frontier_weeks", "must be between 1 and 52");
        }
        if !(1.0..=7.0).contains(&self.frontier_min_days_per_active_week) {
            return bad(
                "frontier_min_days_per_active_week",
                "must be between 1 and 7",
            );
        }
        for (key, value) in [
            ("rest_day_ratio", self.rest_day_ratio),
            ("spillover_min_shared_days", self.spillover_min_shared_days),
            ("spillover_run_chance", self.spillover_run_chance),
            ("late_evening_share", self.late_evening_share),
            ("weekly_min_share", self.weekly_min_share),
            ("spillover_commute_gap", self.spillover_commute_gap),
            ("rhythm_chance", self.rhythm_chance),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return bad(key, "must be above 0 and at most 1");
            }
        }
        if !(self.spillover_commute_z >= 0.0 && self.spillover_commute_z <= 10.0) {
            return bad("spillover_commute_z", "must be between 0 and 10");
        }
        if !(self.rhythm_min_days >= 1.0 && self.rhythm_min_days <= 365.0) {
            return bad("rhythm_min_days", "must be between 1 and 365");
        }
        if !(0.0..=1.0).contains(&self.frontier_max_night_share) {
            return bad("frontier_max_night_share", "must be between 0 and 1");
        }
        if self.max_crossing_pairs == 0 || self.max_crossing_pairs > MAX_CROSSING_PAIRS {
            return bad(
                "max_crossing_pairs",
                &format!(
                    "must be between 1 and {MAX_CROSSING_PAIRS} (it bounds each SIM's contribution, so the noise grows with it)"
                ),
            );
        }
        // Day counts beyond a year, and event or minute counts beyond a day, mean nothing and
        // would overflow the day arithmetic of a window.
        for (key, value, most) in [
            ("max_gap_cap_days", self.max_gap_cap_days, 365),
            ("min_gaps_for_rate", self.min_gaps_for_rate, 365),
            ("spillover_min_days", self.spillover_min_days, 365),
            ("min_days_for_density", self.min_days_for_density, 365),
            ("sparse_median_gap_days", self.sparse_median_gap_days, 365),
            ("border_guard_events", self.border_guard_events, 1440),
            ("border_guard_minutes", self.border_guard_minutes, 1440),
        ] {
            if value > most {
                return bad(key, &format!("must be at most {most}"));
            }
        }
        Ok(())
    }
}
