//! The weekly rhythm of a SIM's presence in one country: whether it keeps rest days there.
//!
//! A commute has rest days: a frontier worker is across the border on working days and at home
//! on rest days. A stay, a residence and a phone at home that catches a neighbour's network have
//! none: the SIM is there on every day of the week alike. A weekend away has the opposite
//! rhythm. Comparing how often the SIM is present on rest days with how often on working days,
//! over the weeks it is present at all, tells them apart without a single night event — which
//! is what phones silent at night leave to go on.

use crate::rules::Rules;
use crate::sim::CountryDay;

/// The kind of week a SIM's presence in one country shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rhythm {
    /// Present on working days, much less on rest days: the rhythm of a commute.
    RestDays,
    /// Present on rest days and working days alike: a stay, or a home.
    EveryDay,
    /// Present on rest days much more than on working days: weekends away.
    Weekends,
    /// Too few days present to tell.
    Unknown,
}

/// Days present on working and on rest days, over the span from the first day present to the
/// last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeekCounts {
    /// Working days in the span.
    pub working_days: u32,
    /// Of which present.
    pub working_present: u32,
    /// Rest days in the span.
    pub rest_days: u32,
    /// Of which present.
    pub rest_present: u32,
}

impl WeekCounts {
    /// Counts the days `present` accepts over `days` (day 0 has weekday `first_weekday`, 0 =
    /// Monday; working days as `[classify.day] working_days` says).
    pub fn of(
        days: &[&[CountryDay]],
        first_weekday: u8,
        rules: &Rules,
        present: impl Fn(&[CountryDay]) -> bool,
    ) -> Self {
        let seen: Vec<bool> = days.iter().map(|d| present(d)).collect();
        let (Some(first), Some(last)) =
            (seen.iter().position(|s| *s), seen.iter().rposition(|s| *s))
        else {
            return Self::default();
        };
        let mut c = Self::default();
        for (d, s) in seen.iter().enumerate().take(last + 1).skip(first) {
            let weekday = ((usize::from(first_weekday) + d) % 7) as u8;
            if rules.day.working_days.contains(weekday) {
                c.working_days += 1;
                c.working_present += u32::from(*s);
            } else {
                c.rest_days += 1;
                c.rest_present += u32::from(*s);
            }
        }
        c
    }

    /// The rhythm these counts show. With `r` the rate of presence on rest days over the rate
    /// on working days: at most `rest_day_ratio` is [`Rhythm::RestDays`], at least its
    /// inverse [`Rhythm::Weekends`], in between [`Rhythm::EveryDay`]. When a SIM present every
    /// day alike would be expected on fewer than `rhythm_min_days` rest days (or working
    /// days), the counts cannot tell: [`Rhythm::Unknown`].
    pub fn rhythm(&self, rules: &Rules) -> Rhythm {
        if self.working_days == 0 || self.rest_days == 0 {
            return Rhythm::Unknown;
        }
        let present = f64::from(self.working_present + self.rest_present);
        let all = f64::from(self.working_days + self.rest_days);
        let expected_rest = present / all * f64::from(self.rest_days);
        let expected_working = present / all * f64::from(self.working_days);
        if expected_rest < rules.rhythm_min_days || expected_working < rules.rhythm_min_days {
            return Rhythm::Unknown;
        }
        let working = f64::from(self.working_present) / f64::from(self.working_days);
        let rest = f64::from(self.rest_present) / f64::from(self.rest_days);
        if rest <= rules.rest_day_ratio * working {
            Rhythm::RestDays
        } else if rest * rules.rest_day_ratio >= working {
            Rhythm::Weekends
        } else {
            Rhythm::EveryDay
        }
    }
}

/// The rhythm of the days `present` accepts: [`WeekCounts::of`] then [`WeekCounts::rhythm`].
pub fn rhythm(
    days: &[&[CountryDay]],
    first_weekday: u8,
    rules: &Rules,
    present: impl Fn(&[CountryDay]) -> bool,
) -> Rhythm {
    WeekCounts::of(days, first_weekday, rules, present).rhythm(rules)
}
