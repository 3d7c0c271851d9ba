//! The category rules of docs/design.md §6 over one SIM's reconstructed nights and days.

use borderflow_core::{Category, CountryCode, Unclassified};

use crate::border::read_through;
use crate::crossings::crossings;
use crate::nights::{
    BorderGuard, NightCountry, commuting_pattern, goes_home, keeps_rest_days, median, reconstruct,
};
use crate::rules::Rules;
use crate::sim::{CountryDay, SimDays, Window};

/// What classification concludes about one SIM for one reference period. Never published:
/// it stays in the state directory, and only noisy counts of it leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFacts {
    /// The category, or `None` when the data cannot tell it ([`SimFacts::unclassified`]
    /// says why) or the SIM is not seen in the period at all (both `None`).
    pub category: Option<Category>,
    /// Why a SIM seen in the period is not classified; `None` when it is.
    pub unclassified: Option<Unclassified>,
    /// The partner country of the category (None for residents and unclassified SIMs).
    pub partner: Option<CountryCode>,
    /// The country of the SIM's home network.
    pub sim_country: CountryCode,
    /// The country of usual residence in the look-back.
    pub residence: CountryCode,
    /// Nights in the measuring country in the look-back (seen or filled).
    pub nights_in_m: u16,
    /// Days of the look-back on which the SIM was seen.
    pub days_seen: u16,
    /// Whether the category rests on a spell still open at the end of the period.
    pub open_spell: bool,
    /// Directed country pairs crossed in the period, at most `max_crossing_pairs`.
    pub crossings: Vec<(CountryCode, CountryCode)>,
}

/// Classifies one SIM of the measuring country `m` over `window`.
pub fn classify(sim: &SimDays, m: CountryCode, window: Window, rules: &Rules) -> SimFacts {
    let read = read_through(sim, m, window, rules);
    let sim = read.as_ref().unwrap_or(sim);
    let all_days = sim.by_day(window.len());
    let own_sim = sim.sim_country == m;
    let guard = BorderGuard::of(&all_days, window.first_weekday, own_sim.then_some(m), rules);
    let all_nights = reconstruct(
        &all_days,
        window.first_weekday,
        own_sim.then_some(m),
        &guard,
        rules,
    );
    let h = usize::from(window.history);
    let (days, nights) = (&all_days[h..], &all_nights[h..]);
    let tally = NightTally::of(nights);
    let nights_in_m = tally.nights_in(m);
    let days_seen = days.iter().filter(|d| !d.is_empty()).count();
    let period_days = usize::from(window.period).min(days.len());
    let crossings = crossings(
        &all_days,
        &all_nights,
        all_days.len() - period_days,
        sim.sim_country,
        &guard,
        rules,
    );
    let mut facts = SimFacts {
        category: None,
        unclassified: None,
        partner: None,
        sim_country: sim.sim_country,
        residence: sim.sim_country,
        nights_in_m: nights_in_m as u16,
        days_seen: days_seen as u16,
        open_spell: false,
        crossings,
    };
    if days_seen == 0 {
        // Seen only in the previous window (return migrants' history): not in this one.
        return facts;
    }
    let abroad = |c: CountryCode| c != m;
    let in_m = |c: CountryCode| c == m;
    let commute = if own_sim {
        Commute::OutOf
    } else {
        Commute::Into
    };
    let weekly = weekly_frontier(days, nights, window, h, m, commute, rules);
    if weekly.is_some() {
        // Residence is the home it returns to every week, whatever its nights across add up to.
        facts.residence = if own_sim { m } else { sim.sim_country };
    } else if own_sim {
        let abroad_nights = tally.nights_outside(m);
        if abroad_nights >= rules.residence_nights {
            facts.residence = tally.top_outside(m).unwrap_or(m);
        } else if nights_in_m >= rules.residence_nights {
            facts.residence = m;
        }
    } else if nights_in_m >= rules.residence_nights {
        facts.residence = m;
    }
    // A foreign SIM never seen in M at night is a day visitor or a commuter, whatever its
    // silences: absence from M is what the operator sees of it abroad. Only SIMs that could
    // be living in M or abroad are held to the density test.
    let day_visits_only = !own_sim && !nights.iter().any(|n| matches!(n, NightCountry::Seen(_)));
    if !day_visits_only && !has_enough_data(days, rules) {
        facts.unclassified = Some(Unclassified::TooSparse);
        return facts;
    }
    let (category, partner, spell) = if own_sim {
        if let Some(c) = weekly {
            (Category::FrontierOut, Some(c), None)
        } else if facts.residence != m {
            (Category::Emigrant, Some(facts.residence), None)
        } else if let Some(before) = previous_residence_abroad(&all_nights[..h], m, rules) {
            (Category::ReturnMigrant, Some(before), None)
        } else if let Some(c) = frontier(days, nights, window, h, m, Commute::OutOf, rules) {
            (Category::FrontierOut, Some(c), None)
        } else {
            let spell = longest_spell(nights, &abroad);
            let partner = tally.top_outside(m);
            match spell_category(spell.nights, rules) {
                Some(Stay::Temporary) => (Category::TemporaryOut, partner, Some(spell)),
                Some(Stay::Seasonal) => (Category::SeasonalOut, partner, Some(spell)),
                None => match unseen_at_home(days, rules) {
                    Some(reason) => {
                        facts.unclassified = Some(reason);
                        return facts;
                    }
                    None => (Category::Resident, None, None),
                },
            }
        }
    } else if weekly.is_some() {
        (Category::FrontierIn, Some(facts.residence), None)
    } else if facts.residence == m {
        (Category::ResidentForeignSim, Some(sim.sim_country), None)
    } else if frontier(days, nights, window, h, m, Commute::Into, rules).is_some() {
        (Category::FrontierIn, Some(facts.residence), None)
    } else {
        let spell = longest_spell(nights, &in_m);
        let partner = Some(sim.sim_country);
        match spell_category(spell.nights, rules) {
            Some(Stay::Temporary) => (Category::TemporaryIn, partner, Some(spell)),
            Some(Stay::Seasonal) => (Category::SeasonalIn, partner, Some(spell)),
            None if day_visits_only && stay_or_visits_unknown(days, window, h, m, rules) => {
                facts.unclassified = Some(Unclassified::StayOrVisits);
                return facts;
            }
            None => (Category::VisitorIn, partner, None),
        }
    };
    facts.category = Some(category);
    facts.partner = partner;
    facts.open_spell = spell.is_some_and(|s| s.open);
    facts
}

/// Why an own SIM that shows no stay abroad cannot be called a resident: seen over less of
/// the period than `residence_nights` (first to last day seen) — a phone new or given up in
/// the period, or one that left and went unseen abroad — or silent for a spell as long as a
/// seasonal stay (`seasonal_min_nights`) between two days seen: away without roaming records
/// (roaming off, a local SIM bought abroad) or not in use. Either silence could hide a stay
/// that would make it an emigrant or a seasonal or temporary mover.
fn unseen_at_home(days: &[&[CountryDay]], rules: &Rules) -> Option<Unclassified> {
    let seen = seen_days(days);
    let (first, last) = (*seen.first()?, *seen.last()?);
    if last - first + 1 < rules.residence_nights as usize {
        return Some(Unclassified::ShortPresence);
    }
    let longest = seen.windows(2).map(|w| w[1] - w[0] - 1).max().unwrap_or(0);
    (longest >= rules.seasonal_min_nights as usize).then_some(Unclassified::LongSilence)
}

/// A foreign SIM never seen in M at night, present there by day over a span as long as a
/// seasonal stay, too rarely for its weekly rhythm to say whether it stayed (every day alike)
/// or came and went: a phone silent at night on a stay and a visitor's scattered days look the
/// same, so it is not classified rather than guessed a visitor. A market day (one weekday,
/// or most days on one) is a visitor's pattern and stays one.
fn stay_or_visits_unknown(
    days: &[&[CountryDay]],
    window: Window,
    offset: usize,
    m: CountryCode,
    rules: &Rules,
) -> bool {
    let in_m = |d: &[CountryDay]| d.iter().any(|r| r.country == m);
    let (Some(first), Some(last)) = (
        days.iter().position(|d| in_m(d)),
        days.iter().rposition(|d| in_m(d)),
    ) else {
        return false;
    };
    let first_weekday = ((usize::from(window.first_weekday) + offset) % 7) as u8;
    // A market day comes on one weekday (two for two markets); a stay is seen on any.
    let mut weekdays = [0u32; 7];
    for (d, day) in days.iter().enumerate() {
        if in_m(day) {
            weekdays[(usize::from(first_weekday) + d) % 7] += 1;
        }
    }
    let seen: u32 = weekdays.iter().sum();
    let spread = weekdays.iter().filter(|&&n| n > 0).count() >= 3
        && weekdays.iter().max().copied().unwrap_or(0) * 2 <= seen;
    spread
        && last - first + 1 >= rules.seasonal_min_nights as usize
        && crate::rhythm::rhythm(days, first_weekday, rules, in_m) == crate::rhythm::Rhythm::Unknown
}

/// The indices of the days the SIM is seen on, in order.
fn seen_days(days: &[&[CountryDay]]) -> Vec<usize> {
    days.iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, _)| i)
        .collect()
}

/// Whether the look-back holds enough to classify: a SIM seen on at least
/// `min_days_for_density` days whose median silence between two days seen is longer than
/// `sparse_median_gap_days` is too sparse to tell a trip from a quiet phone. SIMs seen on fewer
/// days are classified on what there is (a short visit is short data).
pub fn has_enough_data(days: &[&[CountryDay]], rules: &Rules) -> bool {
    let seen = seen_days(days);
    if seen.len() < rules.min_days_for_density as usize {
        return true;
    }
    let mut gaps: Vec<u32> = seen.windows(2).map(|w| (w[1] - w[0] - 1) as u32).collect();
    median(&mut gaps) <= rules.sparse_median_gap_days
}

/// Seen and filled nights per country.
struct NightTally(Vec<(CountryCode, u32)>);

impl NightTally {
    fn of(nights: &[NightCountry]) -> Self {
        let mut t: Vec<(CountryCode, u32)> = Vec::new();
        for c in nights.iter().filter_map(|n| n.country()) {
            match t.iter_mut().find(|(k, _)| *k == c) {
                Some((_, n)) => *n += 1,
                None => t.push((c, 1)),
            }
        }
        // Most nights first; ties in code order, so the partner is deterministic.
        t.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Self(t)
    }

    fn nights_in(&self, c: CountryCode) -> u32 {
        self.0.iter().find(|(k, _)| *k == c).map_or(0, |(_, n)| *n)
    }

    fn nights_outside(&self, m: CountryCode) -> u32 {
        self.0.iter().filter(|(k, _)| *k != m).map(|(_, n)| n).sum()
    }

    fn top_outside(&self, m: CountryCode) -> Option<CountryCode> {
        self.0.iter().find(|(k, _)| *k != m).map(|(k, _)| *k)
    }
}

/// The residence abroad in the window before the look-back (return migrants), when that window
/// was read and the SIM spent at least `residence_nights` of its nights abroad.
fn previous_residence_abroad(
    before: &[NightCountry],
    m: CountryCode,
    rules: &Rules,
) -> Option<CountryCode> {
    if before.is_empty() {
        return None;
    }
    let tally = NightTally::of(before);
    (tally.nights_outside(m) >= rules.residence_nights)
        .then(|| tally.top_outside(m))
        .flatten()
}

/// A maximal run of nights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spell {
    /// Its length in nights.
    pub nights: u32,
    /// Whether it runs to the last night of the window (still open).
    pub open: bool,
}

/// The longest run of seen or filled nights in countries `in_place` accepts. Ties go to the
/// latest run, so an open spell is reported open.
pub fn longest_spell(nights: &[NightCountry], in_place: &dyn Fn(CountryCode) -> bool) -> Spell {
    let mut best = Spell::default();
    let mut run = 0u32;
    for (i, n) in nights.iter().enumerate() {
        if n.country().is_some_and(in_place) {
            run += 1;
            if run >= best.nights {
                best = Spell {
                    nights: run,
                    open: i + 1 == nights.len(),
                };
            }
        } else {
            run = 0;
        }
    }
    best
}

enum Stay {
    Seasonal,
    Temporary,
}

fn spell_category(nights: u32, rules: &Rules) -> Option<Stay> {
    if nights >= rules.temporary_min_nights {
        Some(Stay::Temporary)
    } else if nights >= rules.seasonal_min_nights {
        Some(Stay::Seasonal)
    } else {
        None
    }
}

/// Which way a frontier worker crosses, seen from the measuring country M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commute {
    /// A foreign SIM commuting into M: across is M.
    Into,
    /// An own SIM commuting out of M: across is any other country.
    OutOf,
}

impl Commute {
    /// Whether presence in `c` is across the border for this direction, seen from `m`: M itself
    /// into M, any other country out of it.
    pub fn crosses_into(self, c: CountryCode, m: CountryCode) -> bool {
        (c == m) == (self == Commute::Into)
    }
}

/// The frontier rule: working-daytime presence across the border in a [`commuting_pattern`]
/// — at least `frontier_days_per_week` days in at least `frontier_weeks` weeks, or its
/// sparse-phone form that a one-day-a-week visitor cannot pass — with nights seen there at
/// most `frontier_max_night_share` of the days present there. Returns the country across the
/// border with most days present. Brief contacts count here: the repetition over weeks is this
/// rule's own guard.
///
/// Into M, a sparse phone's commute spread over the weeks also passes (in at least half of
/// `frontier_weeks` weeks, spanning `frontier_weeks`, on three or more working weekdays). A
/// foreign SIM is seen only in M, so a border dweller's scattered contacts — which look the
/// same from an own SIM abroad, and make the spread unsafe out of M — cannot be what shows it.
pub fn frontier(
    days: &[&[CountryDay]],
    nights: &[NightCountry],
    window: Window,
    offset: usize,
    m: CountryCode,
    commute: Commute,
    rules: &Rules,
) -> Option<CountryCode> {
    let across = |c: CountryCode| commute.crosses_into(c, m);
    let mut week_days: Vec<u32> = vec![0; window.week(window.len()) + 1];
    let mut present_days = 0u32;
    // Days across outside working hours: at night, or with no working-daytime event there.
    let mut off_hours_days = 0u32;
    let mut weekdays = [0u32; 7];
    let mut per_country: Vec<(CountryCode, u32)> = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let mut present = false;
        let mut commuting = false;
        for r in day.iter().filter(|r| across(r.country)) {
            present = true;
            commuting |= r.weekday_day_events > 0;
            match per_country.iter_mut().find(|(k, _)| *k == r.country) {
                Some((_, n)) => *n += 1,
                None => per_country.push((r.country, 1)),
            }
        }
        present_days += u32::from(present);
        let at_night = day.iter().any(|r| across(r.country) && r.night_events > 0);
        off_hours_days += u32::from(present && (at_night || !commuting));
        if commuting {
            week_days[window.week(offset + i)] += 1;
            weekdays[(usize::from(window.first_weekday) + offset + i) % 7] += 1;
        }
    }
    // Out of M, a border dweller's scattered contacts with a neighbour's network come at any
    // hour; a sparse commuter's come at work, so the spread is taken only from a SIM seen
    // across almost only in working hours.
    let at_work_only =
        f64::from(off_hours_days) <= rules.frontier_max_night_share * f64::from(present_days);
    let commutes = commuting_pattern(&week_days, rules)
        || ((commute == Commute::Into || at_work_only)
            && sparse_spread(&week_days, &weekdays, rules));
    if !commutes {
        return None;
    }
    // An own SIM commuting out goes home between its days at work: seen at home in most of
    // the weeks it is seen across. A stay abroad is not, however it looks by day.
    let first_weekday = ((usize::from(window.first_weekday) + offset) % 7) as u8;
    if commute == Commute::OutOf
        && !per_country
            .iter()
            .any(|(c, _)| goes_home(days, first_weekday, *c, m))
    {
        return None;
    }
    // A commute keeps rest days: presence across on every day of the week alike is a stay (or
    // a home), whatever it shows at night.
    let mut countries: Vec<CountryCode> = per_country.iter().map(|(c, _)| *c).collect();
    countries.sort();
    let rest_days = |c: CountryCode| keeps_rest_days(days, first_weekday, c, rules);
    if !countries.into_iter().any(rest_days) {
        return None;
    }
    // Seen nights only: filling silences between rare nights there would invent stays.
    let nights_there = nights
        .iter()
        .filter(|n| matches!(n, NightCountry::Seen(c) if across(*c)))
        .count() as f64;
    if nights_there > rules.frontier_max_night_share * f64::from(present_days) {
        return None;
    }
    per_country.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    per_country.first().map(|(c, _)| *c)
}

/// The weekly frontier rule: a SIM whose nights alternate week after week between a country of
/// work (nights of working days there) and home (the rest days at home) is a frontier worker
/// resident at home, however many nights it spends at work (ICRMW 1990 art. 2(2)(a): "returns
/// every day or at least once a week"). A week counts when it has a working-day night seen
/// across (for an own SIM, also a working day seen only across), no rest-day night seen across,
/// and the rest days at home: an own SIM seen at home on one of them; a foreign SIM absent from
/// M on one of them. For an own SIM seen so on at least half of `frontier_weeks` weeks, a week
/// whose working days are all silent and whose rest days are at home counts too (roaming off or
/// quiet abroad). At least `frontier_weeks` such weeks, `weekly_min_share` of the weeks with
/// any night across alternating as seen, and presence across that keeps rest days
/// ([`crate::rhythm::Rhythm::RestDays`]) make the pattern. Returns the country of work.
pub fn weekly_frontier(
    days: &[&[CountryDay]],
    nights: &[NightCountry],
    window: Window,
    offset: usize,
    m: CountryCode,
    commute: Commute,
    rules: &Rules,
) -> Option<CountryCode> {
    let across = |c: CountryCode| commute.crosses_into(c, m);
    // The country of work: most working-day nights seen across.
    let weekday = |d: usize| ((usize::from(window.first_weekday) + offset + d) % 7) as u8;
    let working = |d: usize| rules.day.working_days.contains(weekday(d));
    let mut per_country: Vec<(CountryCode, u32)> = Vec::new();
    for (d, n) in nights.iter().enumerate() {
        if let NightCountry::Seen(c) = n
            && across(*c)
            && working(d)
        {
            match per_country.iter_mut().find(|(k, _)| k == c) {
                Some((_, k)) => *k += 1,
                None => per_country.push((*c, 1)),
            }
        }
    }
    per_country.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let work = per_country.first()?.0;
    let weeks = window.week(window.len()) + 1;
    // Per week: working-day nights at work, rest-day nights at work, rest days at home.
    let mut tally = vec![(0u32, 0u32, false); weeks];
    // Per week: working days seen at all (a week of silent working days between rest days at
    // home is a week away whose roaming the records do not show).
    let mut working_seen = vec![0u32; weeks];
    let mut working_days = vec![0u32; weeks];
    for (d, day) in days.iter().enumerate() {
        let w = window.week(offset + d);
        // An own SIM seen only at work all day is away that night too: roaming shows few
        // nights, and a daily commuter is seen at home on most of its working days.
        let away_all_day =
            commute == Commute::OutOf && !day.is_empty() && day.iter().all(|r| r.country == work);
        let night_at_work = nights[d] == NightCountry::Seen(work);
        if working(d) {
            tally[w].0 += u32::from(night_at_work || away_all_day);
            working_seen[w] += u32::from(!day.is_empty());
            working_days[w] += 1;
            continue;
        }
        // A rest day counts against the week only by a night seen at work: a sixth working
        // day seen at work by day ends at home in the evening as often as not.
        tally[w].1 += u32::from(night_at_work);
        let home = match commute {
            Commute::OutOf => day.iter().any(|r| r.country == m),
            Commute::Into => !day.iter().any(|r| r.country == m),
        };
        tally[w].2 |= home;
    }
    let with_nights = tally.iter().filter(|t| t.0 + t.1 > 0).count() as f64;
    let seen_alternating = tally.iter().filter(|t| t.0 > 0 && t.1 == 0 && t.2).count() as f64;
    // Weeks of silent working days and rest days at home, for an own SIM, add to the seen
    // ones once at least half of `frontier_weeks` are seen: roaming off or quiet abroad.
    let silent_weeks = (0..weeks)
        .filter(|&w| {
            commute == Commute::OutOf
                && working_days[w] >= 4
                && working_seen[w] == 0
                && tally[w].1 == 0
                && tally[w].2
        })
        .count() as f64;
    let alternating = if 2.0 * seen_alternating >= f64::from(rules.frontier_weeks) {
        seen_alternating + silent_weeks
    } else {
        seen_alternating
    };
    let first_weekday = weekday(0);
    let rest_days = crate::rhythm::rhythm(days, first_weekday, rules, |d| {
        d.iter().any(|r| r.country == work)
    }) == crate::rhythm::Rhythm::RestDays;
    (alternating >= f64::from(rules.frontier_weeks)
        && seen_alternating >= rules.weekly_min_share * with_nights
        && rest_days)
        .then_some(work)
}

/// A sparse phone's commute into M seen on few of its days: across in at least half of
/// `frontier_weeks` weeks, spread over at least `frontier_weeks` weeks from first to last, on at
/// least three different working weekdays. A market trader or a shopper comes on one weekday
/// (two for two markets), a visitor's days cluster in its stays.
fn sparse_spread(week_days: &[u32], weekdays: &[u32; 7], rules: &Rules) -> bool {
    let weeks: Vec<usize> = week_days
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(w, _)| w)
        .collect();
    let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
        return false;
    };
    weeks.len() as u32 * 2 >= rules.frontier_weeks
        && (last - first + 1) as u32 >= rules.frontier_weeks
        && weekdays.iter().filter(|&&n| n > 0).count() >= 3
        && weekdays.iter().max().copied().unwrap_or(0) * 2 <= weekdays.iter().sum::<u32>()
}
