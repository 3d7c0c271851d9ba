//! Night reconstruction: where a SIM spent each night of the window, from the nights it was
//! seen, with the border guard, gap filling and the asymmetry of what an operator can see.

use borderflow_core::CountryCode;

use crate::rhythm::{Rhythm, rhythm};
use crate::rules::Rules;
use crate::sim::CountryDay;

/// Where a SIM spent one night, as far as the records tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightCountry {
    /// Seen there: the country with most events in the night window (20:00–04:00 local by
    /// default, `[classify.day] night`).
    Seen(CountryCode),
    /// Unseen, but between two seen nights in that country close enough to fill the gap.
    Filled(CountryCode),
    /// Unseen foreign SIM: it is somewhere outside the measuring country, where this operator
    /// cannot see it.
    Outside,
    /// Unseen own SIM: anywhere (a silent phone at home or a phone abroad that did not roam).
    Unknown,
}

impl NightCountry {
    /// The country of a seen or filled night.
    pub fn country(self) -> Option<CountryCode> {
        match self {
            NightCountry::Seen(c) | NightCountry::Filled(c) => Some(c),
            NightCountry::Outside | NightCountry::Unknown => None,
        }
    }
}

/// The border guard of one SIM: which of its contacts with another country's network are a
/// phone catching a neighbour's signal for a moment, and which are presence.
///
/// A row is brief contact when it has fewer than `border_guard_events` events within
/// `border_guard_minutes`, on a day the SIM is also seen in another country — unless the SIM's
/// presence in that country recurs as a commuting pattern ([`commuting_pattern`]): contact on
/// two or more days a week for weeks is commuting, and a low-activity commuter's one or two
/// events a day there are its evidence, not noise.
#[derive(Debug, Clone, Default)]
pub struct BorderGuard {
    recurrent: Vec<CountryCode>,
}

impl BorderGuard {
    /// The guard for a SIM's `days` (day 0 has weekday `first_weekday`, 0 = Monday).
    ///
    /// A country is commuted to when the SIM's days there form a [`commuting_pattern`] and
    /// it spends the night there on at most `frontier_max_night_share` of them: a commuter
    /// goes home to sleep. A stay of months shows the weekly pattern too, but with its nights.
    pub fn of(
        days: &[&[CountryDay]],
        first_weekday: u8,
        own_sim_of: Option<CountryCode>,
        rules: &Rules,
    ) -> Self {
        let week = |d: usize| (d + usize::from(first_weekday)) / 7;
        let weeks = week(days.len()) + 1;
        let mut by_country: Vec<Presence> = Vec::new();
        for (d, day) in days.iter().enumerate() {
            for r in day.iter() {
                let i = match by_country.iter().position(|p| p.country == r.country) {
                    Some(i) => i,
                    None => {
                        by_country.push(Presence {
                            country: r.country,
                            week_days: vec![0; weeks],
                            days: 0,
                            nights: 0,
                        });
                        by_country.len() - 1
                    }
                };
                let p = &mut by_country[i];
                p.week_days[week(d)] += 1;
                p.days += 1;
                p.nights += u32::from(r.night_events > 0);
            }
        }
        Self {
            recurrent: by_country
                .into_iter()
                .filter(|p| {
                    commuting_pattern(&p.week_days, rules)
                        && f64::from(p.nights) <= rules.frontier_max_night_share * f64::from(p.days)
                        && keeps_rest_days(days, first_weekday, p.country, rules)
                        && own_sim_of.is_none_or(|m| goes_home(days, first_weekday, p.country, m))
                })
                .map(|p| p.country)
                .collect(),
        }
    }

    /// Whether `row`, one of the rows of `day`, is brief contact.
    pub fn is_brief(&self, row: &CountryDay, day: &[CountryDay], rules: &Rules) -> bool {
        row.events < rules.border_guard_events
            && u32::from(row.last_minute.saturating_sub(row.first_minute))
                <= rules.border_guard_minutes
            && day.iter().any(|o| o.country != row.country)
            && !self.recurrent.contains(&row.country)
    }

    /// The rows of a day that count as presence (brief border contact removed).
    pub fn kept_rows<'a>(
        &'a self,
        day: &'a [CountryDay],
        rules: &'a Rules,
    ) -> impl Iterator<Item = &'a CountryDay> + 'a {
        day.iter().filter(move |r| !self.is_brief(r, day, rules))
    }
}

/// Whether a SIM's presence in `c` may be a commute by its weekly rhythm: not there on every
/// day of the week alike, nor on weekends only ([`Rhythm`]; unknown leaves it possible).
pub fn keeps_rest_days(
    days: &[&[CountryDay]],
    first_weekday: u8,
    c: CountryCode,
    rules: &Rules,
) -> bool {
    !matches!(
        rhythm(days, first_weekday, rules, |d| d
            .iter()
            .any(|r| r.country == c)),
        Rhythm::EveryDay | Rhythm::Weekends
    )
}

/// Whether an own SIM of `m` seen in `c` is also seen at home in at least half of the weeks it
/// is seen there: a commuter goes home between its days at work, a stay abroad does not.
pub fn goes_home(
    days: &[&[CountryDay]],
    first_weekday: u8,
    c: CountryCode,
    m: CountryCode,
) -> bool {
    let weeks = (days.len() + usize::from(first_weekday)) / 7 + 1;
    let (mut across, mut home) = (vec![false; weeks], vec![false; weeks]);
    for (d, day) in days.iter().enumerate() {
        let w = (d + usize::from(first_weekday)) / 7;
        across[w] |= day.iter().any(|r| r.country == c);
        home[w] |= day.iter().any(|r| r.country == m);
    }
    let across_weeks = across.iter().filter(|a| **a).count();
    let returns = (0..weeks).filter(|&w| across[w] && home[w]).count();
    returns * 2 >= across_weeks
}

/// One country's days in a SIM's window, as the border guard counts them.
struct Presence {
    country: CountryCode,
    /// Days present per week.
    week_days: Vec<u32>,
    /// Days present.
    days: u32,
    /// Of which with events in the night window.
    nights: u32,
}

/// Whether presence counted per week (`week_days[w]`: days present in week `w`) is a commuting
/// pattern: on at least `frontier_days_per_week` days in at least `frontier_weeks` weeks; or,
/// for a phone seen on only some of its commuting days, present in at least `frontier_weeks`
/// weeks, on `frontier_days_per_week × frontier_weeks` days in all, and on more than one day
/// in the average week present (at least `frontier_min_days_per_active_week`).
///
/// The last condition is what tells a sparse commuter from a regular one-day-a-week visitor
/// (a market trader, a shopper): a commuter crossing five days a week whose phone shows each
/// day with chance p is seen on 5p/(1 − (1 − p)⁵) days in a week it is seen at all — 1.35 at
/// p = 0.15, 1.8 at p = 0.3 — while a one-day-a-week pattern never shows more than one.
pub fn commuting_pattern(week_days: &[u32], rules: &Rules) -> bool {
    let full_weeks = week_days
        .iter()
        .filter(|&&n| n >= rules.frontier_days_per_week)
        .count() as u32;
    if full_weeks >= rules.frontier_weeks {
        return true;
    }
    let any_weeks = week_days.iter().filter(|&&n| n > 0).count() as u32;
    let total_days: u32 = week_days.iter().sum();
    any_weeks >= rules.frontier_weeks
        && total_days >= rules.frontier_days_per_week * rules.frontier_weeks
        && f64::from(total_days) >= rules.frontier_min_days_per_active_week * f64::from(any_weeks)
}

/// The country a day's night was seen in: most night-window events; ties go to the country
/// with more events, then to the one seen latest in the day.
pub fn seen_night(day: &[CountryDay], guard: &BorderGuard, rules: &Rules) -> Option<CountryCode> {
    guard
        .kept_rows(day, rules)
        .filter(|r| r.night_events > 0)
        .max_by_key(|r| (r.night_events, r.events, r.last_minute, r.country))
        .map(|r| r.country)
}

/// The longest run of unseen nights filled between two seen nights in one country:
/// `max_gap_days`, or longer for a SIM seen there on few nights.
///
/// While the SIM is in a country, each night is taken to be seen with its own chance `p`
/// there (roaming is dearer than home, some phones are quiet). `1 − p` is estimated as the
/// share of its seen nights there that were followed by an unseen night (a long absence
/// counts once, so it barely moves the estimate). A silence of `g` nights is filled when a
/// silence that long has at least a `gap_chance` chance somewhere in the `n` nights seen
/// there: `n·(1 − p)^g ≥ gap_chance`. The result lies between `max_gap_days` and
/// `max_gap_cap_days`; with fewer than `min_gaps_for_rate` seen nights followed by
/// anything, it is `max_gap_days`.
pub fn max_fill_gap(followed_by_seen: u32, followed_by_unseen: u32, rules: &Rules) -> u32 {
    let n = followed_by_seen + followed_by_unseen;
    if n < rules.min_gaps_for_rate || followed_by_unseen == 0 {
        return rules.max_gap_days;
    }
    let unseen = f64::from(followed_by_unseen) / f64::from(n);
    if unseen >= 1.0 {
        return rules.max_gap_cap_days;
    }
    let longest = ((rules.gap_chance / f64::from(n)).ln() / unseen.ln()).floor();
    let longest = if longest.is_finite() && longest > 0.0 {
        longest.min(f64::from(u32::MAX)) as u32
    } else {
        0
    };
    longest.clamp(rules.max_gap_days, rules.max_gap_cap_days)
}

/// The lower median of a non-empty slice (reorders it).
pub fn median(values: &mut [u32]) -> u32 {
    let mid = (values.len() - 1) / 2;
    *values.select_nth_unstable(mid).1
}

/// The night of a day an own SIM was seen only abroad, in one country that is not one it
/// commutes to, by day only: abroad. A phone that spent the night at home after a day trip
/// would most often have been seen at home that day too; a commuter's day at work is the
/// exception, and the border guard knows its pattern. Foreign SIMs get no such night: their
/// daytime presence in M is what a commuter shows too.
pub fn abroad_sighting(
    day: &[CountryDay],
    own_sim_of: Option<CountryCode>,
    guard: &BorderGuard,
    rules: &Rules,
) -> Option<CountryCode> {
    let m = own_sim_of?;
    let mut kept = guard.kept_rows(day, rules);
    let c = kept.next()?.country;
    if c == m || kept.any(|r| r.country != c) || guard.recurrent.contains(&c) {
        return None;
    }
    Some(c)
}

/// Where the SIM spent each night of the window. `own_sim_of` is `Some(M)` for a SIM of the
/// measuring country's operator (seen abroad through roaming) and `None` for a foreign SIM
/// (seen only in M); `guard` is the SIM's [`BorderGuard`].
///
/// 1. Each day's night country is the one of most night-window events ([`seen_night`]). A day
///    without night-window events places no night, but for an own SIM seen that day only
///    abroad, away from any country it commutes to ([`abroad_sighting`]): daytime presence is
///    what a commuter shows too.
/// 2. Unseen nights between two placed nights in the same country, at most
///    [`max_fill_gap`] nights long (for that country), take that country — but not, for an
///    own SIM between two nights abroad, across a day it was seen only at home; so do unseen
///    nights before the first and after the last placed night when that run is no longer
///    (the SIM was there when the window opened or closed) — but not, for a foreign SIM,
///    when its days seen there by day say the stay began later (or ended earlier). A silence
///    between nights in two countries goes to the country where the SIM is unseen more often
///    (by more than 0.1 in share of nights), else it is split at its middle; no side takes
///    more than its fill.
/// 3. Other unseen nights are [`NightCountry::Unknown`] for own SIMs and
///    [`NightCountry::Outside`] for foreign SIMs.
pub fn reconstruct(
    days: &[&[CountryDay]],
    first_weekday: u8,
    own_sim_of: Option<CountryCode>,
    guard: &BorderGuard,
    rules: &Rules,
) -> Vec<NightCountry> {
    let unseen = if own_sim_of.is_some() {
        NightCountry::Unknown
    } else {
        NightCountry::Outside
    };
    let mut nights: Vec<NightCountry> =
        days.iter()
            .map(|d| match seen_night(d, guard, rules) {
                Some(c) => NightCountry::Seen(c),
                None => abroad_sighting(d, own_sim_of, guard, rules)
                    .map_or(unseen, NightCountry::Filled),
            })
            .collect();
    let seen: Vec<(usize, CountryCode)> = nights
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.country().map(|c| (i, c)))
        .collect();
    // Per country: seen nights followed by a seen night there, and by an unseen night.
    let mut follow: Vec<(CountryCode, u32, u32)> = Vec::new();
    for (k, &(i, c)) in seen.iter().enumerate() {
        let next = seen.get(k + 1).copied();
        let (by_seen, by_unseen) = match next {
            Some((j, d)) if j == i + 1 && d == c => (1, 0),
            Some((j, _)) if j == i + 1 => continue, // moved on: tells nothing of silence
            Some(_) => (0, 1),
            None if i + 1 < nights.len() => (0, 1),
            None => continue,
        };
        match follow.iter_mut().find(|f| f.0 == c) {
            Some(f) => {
                f.1 += by_seen;
                f.2 += by_unseen;
            }
            None => follow.push((c, by_seen, by_unseen)),
        }
    }
    let unseen_share = |c: CountryCode| {
        follow
            .iter()
            .find(|f| f.0 == c && f.1 + f.2 >= rules.min_gaps_for_rate)
            .map(|f| f64::from(f.2) / f64::from(f.1 + f.2))
    };
    let fill = |c: CountryCode| {
        follow
            .iter()
            .find(|f| f.0 == c)
            .map_or(rules.max_gap_days, |f| max_fill_gap(f.1, f.2, rules)) as usize
    };
    // Foreign SIMs: where each country's days seen by day may carry a stay ([`DaysSeen`]).
    let by_day_of: Vec<(CountryCode, Option<DaysSeen>)> = if own_sim_of.is_some() {
        Vec::new()
    } else {
        let mut countries: Vec<CountryCode> = days
            .iter()
            .flat_map(|d| guard.kept_rows(d, rules).map(|r| r.country))
            .collect();
        countries.sort();
        countries.dedup();
        countries
            .into_iter()
            .map(|c| (c, DaysSeen::of(days, c, guard, rules)))
            .collect()
    };
    for w in seen.windows(2) {
        let ((i, a), (j, b)) = (w[0], w[1]);
        let gap = j - i - 1;
        if a == b {
            let by_day = || {
                by_day_of
                    .iter()
                    .find(|(c, _)| *c == a)
                    .and_then(|(_, d)| d.as_ref())
                    .is_some_and(|d| d.joins(i, j, rules))
            };
            // An own SIM seen at home (and only there) on a day of the silence between two
            // nights abroad came home in between: a weekend away each week is not one stay.
            let home_between = own_sim_of.is_some_and(|m| {
                a != m
                    && days[i + 1..j].iter().any(|d| {
                        let mut kept = guard.kept_rows(d, rules).peekable();
                        kept.peek().is_some() && kept.all(|r| r.country == m)
                    })
            });
            if !home_between && (gap <= fill(a) || by_day()) {
                nights[i + 1..j].fill(NightCountry::Filled(a));
            }
        } else {
            // The move happened somewhere in the silence. Its likeliest place is next to the
            // country where the SIM is seen more often: the silence belongs to the other one.
            // With no clear difference, it is split at the middle. Neither side takes more
            // than it would fill between two nights of its own.
            let (to_a, to_b) = match (unseen_share(a), unseen_share(b)) {
                (Some(qa), Some(qb)) if qa > qb + 0.1 => {
                    let to_a = gap.min(fill(a));
                    (to_a, (gap - to_a).min(fill(b)))
                }
                (Some(qa), Some(qb)) if qb > qa + 0.1 => {
                    let to_b = gap.min(fill(b));
                    ((gap - to_b).min(fill(a)), to_b)
                }
                _ => ((gap / 2).min(fill(a)), (gap - gap / 2).min(fill(b))),
            };
            nights[i + 1..i + 1 + to_a].fill(NightCountry::Filled(a));
            nights[j - to_b..j].fill(NightCountry::Filled(b));
        }
    }
    // A foreign SIM seen by day in a country often enough to have a rate of its own there: a
    // silence from the window's edge to its first day there (from its last) longer than that
    // rate allows is absence, not a stay the window cut — a stay that began in late January,
    // not on 1 January.
    let edge_silence_is_stay = |c: CountryCode, from_start: bool| {
        by_day_of
            .iter()
            .find(|(k, _)| *k == c)
            .and_then(|(_, d)| d.as_ref())
            .is_none_or(|d| {
                let silence = if from_start {
                    d.seen.iter().position(|s| *s)
                } else {
                    d.seen.iter().rev().position(|s| *s)
                };
                silence.is_none_or(|g| g <= d.longest)
            })
    };
    if let (Some(&(first, a)), Some(&(last, b))) = (seen.first(), seen.last()) {
        if first <= fill(a) && edge_silence_is_stay(a, true) {
            nights[..first].fill(NightCountry::Filled(a));
        }
        if nights.len() - 1 - last <= fill(b) && edge_silence_is_stay(b, false) {
            nights[last + 1..].fill(NightCountry::Filled(b));
        }
    }
    match own_sim_of {
        Some(m) => fill_absences_from_home(days, &mut nights, m, guard, rules),
        None => {
            for (c, by_day) in &by_day_of {
                if let Some(by_day) = by_day {
                    extend_stays_by_day(&mut nights, *c, by_day, rules);
                    if rhythm(days, first_weekday, rules, |d| {
                        guard.kept_rows(d, rules).any(|r| r.country == *c)
                    }) == Rhythm::EveryDay
                    {
                        stays_by_day(&mut nights, *c, by_day);
                    }
                }
            }
        }
    }
    nights
}

/// A foreign SIM present in `c` on every day of the week alike, whatever it shows at night, is
/// staying there: each night between two days seen there, no further apart than its own rate
/// of being seen there allows, is spent there (a phone silent at night shows a stay by day
/// only; a commute keeps rest days and never gets here).
fn stays_by_day(nights: &mut [NightCountry], c: CountryCode, by_day: &DaysSeen) {
    let seen: Vec<usize> = (0..by_day.seen.len()).filter(|&d| by_day.seen[d]).collect();
    for w in seen.windows(2) {
        let (i, j) = (w[0], w[1]);
        if j - i - 1 > by_day.longest {
            continue;
        }
        for n in &mut nights[i..j] {
            if *n == NightCountry::Outside {
                *n = NightCountry::Filled(c);
            }
        }
    }
}

/// A foreign SIM's days seen in one country by day, as evidence of a stay there.
///
/// Low-activity phones are seen at night on few of the nights they spend, but by day on more.
/// Days seen in `c` with no silence between them longer than the SIM's rate of being seen there
/// by day allows ([`max_fill_gap`] over days), on more than
/// `frontier_min_days_per_active_week` days a week on average, are a stay: they join two nights
/// there into one, and carry a stay on from its first and last night to the first and last
/// day seen. A country the SIM commutes to is never taken this way (a commuter's days there
/// are work, its rare nights there nights at the workplace), nor is a one-day-a-week pattern
/// (a market trader who sometimes stays over).
struct DaysSeen {
    /// Days with a kept row in the country.
    seen: Vec<bool>,
    /// The longest silence between two days seen that still joins them.
    longest: usize,
}

/// The days a SIM was seen in one country (any kept row, day or night), and how often such a
/// day was followed by another there or by a day without any record: the SIM's own rate of
/// being seen there, by day.
struct DaysIn {
    /// Whether each day has a kept row in the country.
    seen: Vec<bool>,
    /// Days seen there followed by a day seen there.
    followed_by_seen: u32,
    /// Days seen there followed by a day without any record (a day elsewhere counts neither).
    followed_by_silence: u32,
}

impl DaysIn {
    fn of(days: &[&[CountryDay]], c: CountryCode, guard: &BorderGuard, rules: &Rules) -> Self {
        let seen: Vec<bool> = days
            .iter()
            .map(|d| guard.kept_rows(d, rules).any(|r| r.country == c))
            .collect();
        let (mut followed_by_seen, mut followed_by_silence) = (0u32, 0u32);
        for (d, w) in days.windows(2).enumerate().filter(|(d, _)| seen[*d]) {
            if seen[d + 1] {
                followed_by_seen += 1;
            } else if w[1].is_empty() {
                followed_by_silence += 1;
            }
        }
        Self {
            seen,
            followed_by_seen,
            followed_by_silence,
        }
    }
}

impl DaysSeen {
    fn of(
        days: &[&[CountryDay]],
        c: CountryCode,
        guard: &BorderGuard,
        rules: &Rules,
    ) -> Option<Self> {
        if guard.recurrent.contains(&c) {
            return None;
        }
        let d = DaysIn::of(days, c, guard, rules);
        let longest = max_fill_gap(d.followed_by_seen, d.followed_by_silence, rules) as usize;
        Some(Self {
            seen: d.seen,
            longest,
        })
    }

    /// Whether the days seen from `i` to `j` (both seen) are one stay.
    fn joins(&self, i: usize, j: usize, rules: &Rules) -> bool {
        let seen: Vec<usize> = (i..=j).filter(|&d| self.seen[d]).collect();
        seen.len() as f64 * 7.0 >= rules.frontier_min_days_per_active_week * (j - i + 1) as f64
            && seen.windows(2).all(|w| w[1] - w[0] - 1 <= self.longest)
    }

    /// The farthest day seen from `from` in direction `step` (±1) whose chain of days seen
    /// back to `from` is one stay (as [`DaysSeen::joins`] would say, counted as it goes).
    fn reach(&self, from: usize, step: isize, rules: &Rules) -> usize {
        let (mut best, mut last_seen, mut count) = (from, from, 1u32);
        let mut d = from as isize + step;
        while d >= 0 && (d as usize) < self.seen.len() {
            let k = d as usize;
            if k.abs_diff(last_seen) > self.longest + 1 {
                break;
            }
            if self.seen[k] {
                last_seen = k;
                count += 1;
                let span = (k.abs_diff(from) + 1) as f64;
                if f64::from(count) * 7.0 >= rules.frontier_min_days_per_active_week * span {
                    best = k;
                }
            }
            d += step;
        }
        best
    }
}

/// Carries each run of a foreign SIM's nights in `c` back to the first day seen in the same
/// stay (the night of the day it came is spent there) and on to the day before the last one
/// (it may have left on that day): see [`DaysSeen`].
fn extend_stays_by_day(
    nights: &mut [NightCountry],
    c: CountryCode,
    by_day: &DaysSeen,
    rules: &Rules,
) {
    let in_c = |n: &NightCountry| n.country() == Some(c);
    let mut i = 0;
    while i < nights.len() {
        if !in_c(&nights[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < nights.len() && in_c(&nights[i]) {
            i += 1;
        }
        let end = i - 1;
        let first = by_day.reach(start, -1, rules);
        let last = by_day.reach(end, 1, rules);
        for k in (first..start).chain(end + 1..last) {
            if nights[k] == NightCountry::Outside {
                nights[k] = NightCountry::Filled(c);
            }
        }
        i = last.max(end + 1);
    }
}

/// An own SIM's silence at home as evidence it was away: the unknown nights of a stretch of
/// days without any record at home, too long for the SIM's own rate of being seen at home,
/// take the country of the nearest night placed abroad in that stretch.
///
/// The rate is the share of the SIM's days at home followed by a day without any record
/// (`q`, from `n` such days followed by anything but a day abroad; at least
/// `min_gaps_for_rate`). A stretch of `L` days unseen at home is an absence when a silence
/// that long has less than a `gap_chance` chance somewhere in those days: `n·q^L <
/// gap_chance`. A phone seen at home on most days that falls silent for weeks, with calls
/// from abroad in between, was abroad the whole time: roaming is used less than home, so
/// the sightings abroad are few and far apart, but a return home would have shown. A phone
/// rarely seen at home gets no such inference (its silences are ordinary), nor does a silence
/// with no record abroad (the phone may have been off, or dark abroad).
pub fn fill_absences_from_home(
    days: &[&[CountryDay]],
    nights: &mut [NightCountry],
    m: CountryCode,
    guard: &BorderGuard,
    rules: &Rules,
) {
    let home = DaysIn::of(days, m, guard, rules);
    let followed = home.followed_by_seen + home.followed_by_silence;
    if followed < rules.min_gaps_for_rate {
        return;
    }
    let q = f64::from(home.followed_by_silence) / f64::from(followed);
    let mut start = 0;
    while start < days.len() {
        if home.seen[start] {
            start += 1;
            continue;
        }
        let end = (start..days.len())
            .find(|&d| home.seen[d])
            .unwrap_or(days.len());
        let silence = (end - start) as i32;
        if f64::from(followed) * q.powi(silence) < rules.gap_chance {
            fill_from_nearest_abroad(&mut nights[start..end], m);
        }
        start = end;
    }
}

/// Gives each unknown night of `stretch` the country of the nearest night placed abroad in it
/// (the earlier one on a tie); nothing when none is.
fn fill_from_nearest_abroad(stretch: &mut [NightCountry], m: CountryCode) {
    let placed: Vec<(usize, CountryCode)> = stretch
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.country().filter(|&c| c != m).map(|c| (i, c)))
        .collect();
    if placed.is_empty() {
        return;
    }
    let mut k = 0;
    for (i, night) in stretch.iter_mut().enumerate() {
        while k + 1 < placed.len() && placed[k + 1].0 <= i {
            k += 1;
        }
        if *night != NightCountry::Unknown {
            continue;
        }
        let (before, after) = (placed[k], placed.get(k + 1).copied());
        let nearest = match after {
            _ if before.0 > i => before,
            Some(a) if a.0 - i < i - before.0 => a,
            _ => before,
        };
        *night = NightCountry::Filled(nearest.1);
    }
}
