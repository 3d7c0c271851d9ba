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
    /// The rest day of the week (0 = Monday) with the lowest rate of presence, with its days
    /// in the span and days present: a six-day worker's Sunday.
    pub quietest_rest_day: Option<(u8, u32, u32)>,
    /// Rest days in a week (two when Monday to Friday are the working days).
    pub rest_weekdays: u32,
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
        let mut c = Self {
            rest_weekdays: (0..7u8)
                .filter(|w| !rules.day.working_days.contains(*w))
                .count() as u32,
            ..Self::default()
        };
        let mut per_weekday = [(0u32, 0u32); 7];
        for (d, s) in seen.iter().enumerate().take(last + 1).skip(first) {
            let weekday = ((usize::from(first_weekday) + d) % 7) as u8;
            if rules.day.working_days.contains(weekday) {
                c.working_days += 1;
                c.working_present += u32::from(*s);
            } else {
                c.rest_days += 1;
                c.rest_present += u32::from(*s);
                per_weekday[usize::from(weekday)].0 += 1;
                per_weekday[usize::from(weekday)].1 += u32::from(*s);
            }
        }
        c.quietest_rest_day = (0..7u8)
            .filter(|w| per_weekday[usize::from(*w)].0 > 0)
            .map(|w| {
                (
                    w,
                    per_weekday[usize::from(w)].0,
                    per_weekday[usize::from(w)].1,
                )
            })
            .min_by(|a, b| {
                (f64::from(a.2) / f64::from(a.1)).total_cmp(&(f64::from(b.2) / f64::from(b.1)))
            });
        c
    }

    /// The rhythm these counts show. With the rate of presence on the quietest rest day of the
    /// week over the rate on working days at most `rest_day_ratio`: [`Rhythm::RestDays`] (a
    /// six-day worker keeps Sunday); else with the rate on rest days over the rate on working
    /// days at least its inverse: [`Rhythm::Weekends`]; else [`Rhythm::EveryDay`]. Each of
    /// the first two also needs a count of rest days present with less than `rhythm_chance`
    /// under presence on every day alike at the working-day rate (the binomial tail; for the
    /// quietest rest day, times the rest days of the week): a difference that chance explains
    /// is every day alike. When a SIM present every
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
        // A commute keeps at least one rest day a week: the quietest one shows it when that
        // day alone holds enough to tell, the rest days together otherwise. Either way the
        // deficit must be more than chance at the working-day rate: a sparse phone's rest
        // days are few, and the quietest of two is low by chance half the time, so its chance
        // counts once per rest day of the week (`rhythm_chance`, Bonferroni).
        let kept = |days: u32, present: u32, tries: u32| {
            f64::from(present) / f64::from(days) <= rules.rest_day_ratio * working
                && f64::from(tries) * at_most(present, days, working) < rules.rhythm_chance
        };
        let quietest_kept = self
            .quietest_rest_day
            .filter(|(_, days, _)| present / all * f64::from(*days) >= rules.rhythm_min_days)
            .is_some_and(|(_, days, present)| kept(days, present, self.rest_weekdays.max(1)));
        if quietest_kept || kept(self.rest_days, self.rest_present, 1) {
            Rhythm::RestDays
        } else if rest * rules.rest_day_ratio >= working
            && at_least(self.rest_present, self.rest_days, working) < rules.rhythm_chance
        {
            Rhythm::Weekends
        } else {
            Rhythm::EveryDay
        }
    }
}

/// The chance of at most `k` successes in `n` trials of chance `p` (the binomial lower tail).
pub fn at_most(k: u32, n: u32, p: f64) -> f64 {
    if k >= n || p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    // term(i) = C(n, i) p^i (1-p)^(n-i), built up from term(0).
    let mut term = (1.0 - p).powi(n as i32);
    let mut sum = term;
    for i in 0..k {
        term *= f64::from(n - i) / f64::from(i + 1) * p / (1.0 - p);
        sum += term;
    }
    sum.min(1.0)
}

/// The chance of at least `k` successes in `n` trials of chance `p` (the binomial upper tail).
pub fn at_least(k: u32, n: u32, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    1.0 - at_most(k - 1, n, p)
}

impl WeekCounts {
    /// The rate of presence on rest days over the rate on working days, all rest days together,
    /// when the counts can tell ([`WeekCounts::rhythm`]'s `rhythm_min_days`).
    pub fn rest_ratio(&self, rules: &Rules) -> Option<f64> {
        if self.rhythm(rules) == Rhythm::Unknown || self.working_present == 0 {
            return None;
        }
        let working = f64::from(self.working_present) / f64::from(self.working_days);
        let rest = f64::from(self.rest_present) / f64::from(self.rest_days);
        Some(rest / working)
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
