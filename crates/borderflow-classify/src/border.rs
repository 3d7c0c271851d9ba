//! What real border data does to a SIM's rows, undone before the rules read them.
//!
//! - **Network spillover.** A phone at home near the border is served now by its own network,
//!   now by the neighbour's, at any hour, on most days, all year. Seen from the rows, the
//!   neighbour's network shares most of its days with the home network and keeps no rest days
//!   ([`crate::rhythm::Rhythm::EveryDay`]); a commute keeps rest days and a stay abroad does not share its days
//!   with home. Such a network's rows on days the SIM is also seen at home are home presence;
//!   so are its rows on days between days at home when that many events on it in a row are
//!   likely at the SIM's own spillover share (a quiet phone's one or two events of a day can
//!   both go to the neighbour). A run abroad too long for that is a trip.
//! - **Late evenings.** A commuter who comes home late shows its last events at work in the
//!   night window. A country whose nights are almost all working-day evenings ending before
//!   the core night (`core_night_from`, 22:00) is where the SIM works late, not where it
//!   sleeps: those evenings place no night (their events stay presence by day). For an own
//!   SIM, an evening followed by a day seen only in the same country was slept there.
//!
//! Both only rewrite what the rules would otherwise misread; a SIM without either is read
//! as it is.

use borderflow_core::CountryCode;

use crate::rhythm::WeekCounts;
use crate::rules::Rules;
use crate::sim::{CountryDay, SimDays, Window};

/// The SIM's rows with spillover and late evenings read through, or `None` when it shows
/// neither (read its rows as they are).
pub fn read_through(
    sim: &SimDays,
    m: CountryCode,
    window: Window,
    rules: &Rules,
) -> Option<SimDays> {
    let days = sim.by_day(window.len());
    let spill = if sim.sim_country == m {
        Spillover::of(&days, m, window.first_weekday, rules)
    } else {
        None
    };
    let own_sim = sim.sim_country == m;
    let late = late_evening_countries(&days, window.first_weekday, own_sim, rules);
    if spill.is_none() && late.is_empty() {
        return None;
    }
    let at_home = match &spill {
        Some(s) => s.days_at_home(&days, m, rules),
        None => vec![false; days.len()],
    };
    let working = |d: usize| {
        let weekday = ((usize::from(window.first_weekday) + d) % 7) as u8;
        rules.day.working_days.contains(weekday)
    };
    let core = rules.core_night_minute();
    let mut rows = Vec::with_capacity(sim.rows.len());
    for (d, day) in days.iter().enumerate() {
        let start = rows.len();
        for r in day.iter() {
            let mut r = *r;
            if late.contains(&r.country)
                && r.night_events > 0
                && r.last_minute < core
                && !(own_sim && wakes_in(days.get(d + 1), r.country))
            {
                r.night_events = 0;
            }
            let spilled = spill
                .as_ref()
                .filter(|s| s.countries.contains(&r.country) && at_home[d]);
            if let Some(s) = spilled {
                if s.commutes && working(d) && r.weekday_day_events > 0 {
                    // A working day across from a spillover home: the day stays across, its
                    // night-window events (home after work) go home.
                    if r.night_events > 0 {
                        let mut night = r;
                        night.country = m;
                        night.events = r.night_events;
                        night.weekday_day_events = 0;
                        r.events -= r.night_events;
                        r.night_events = 0;
                        push_merged(&mut rows, start, night);
                    }
                } else {
                    r.country = m;
                }
            }
            push_merged(&mut rows, start, r);
        }
    }
    Some(SimDays {
        sim_country: sim.sim_country,
        rows,
    })
}

/// Adds `r` to the day's rows (those from `start` on): merged into the row of its country, or
/// as a new one.
fn push_merged(rows: &mut Vec<CountryDay>, start: usize, r: CountryDay) {
    match rows[start..]
        .iter_mut()
        .find(|o: &&mut CountryDay| o.country == r.country)
    {
        Some(o) => merge(o, &r),
        None => rows.push(r),
    }
}

/// Adds `r`'s counts to `o`, a row of the same day and country.
fn merge(o: &mut CountryDay, r: &CountryDay) {
    o.events += r.events;
    o.night_events += r.night_events;
    o.weekday_day_events += r.weekday_day_events;
    o.first_minute = o.first_minute.min(r.first_minute);
    o.last_minute = o.last_minute.max(r.last_minute);
}

/// The foreign networks that reach an own SIM at home, and the share of its events they carry
/// there.
#[derive(Debug, Clone, PartialEq)]
pub struct Spillover {
    /// The networks' countries.
    pub countries: Vec<CountryCode>,
    /// Their share of the SIM's events on days it is seen both at home and on them.
    pub share: f64,
    /// Whether the SIM also works across: on days seen at home, the networks carry a clearly
    /// larger share of its working-daytime events than of its others (`spillover_commute_z`,
    /// `spillover_commute_gap`). Spillover reaches a home at any hour alike; a commuter from
    /// that home spends its working days where the neighbour's network is all there is.
    pub commutes: bool,
}

impl Spillover {
    /// The spillover of an own SIM of `m`, if any: foreign networks seen on at least
    /// `spillover_min_days` days, on at least `spillover_min_shared_days` of which the SIM is
    /// also seen at home, every day of the week alike (or more on rest days, when it shares
    /// most of its working days with home: weekends across from a home it reaches).
    pub fn of(
        days: &[&[CountryDay]],
        m: CountryCode,
        first_weekday: u8,
        rules: &Rules,
    ) -> Option<Self> {
        let mut foreign: Vec<CountryCode> = days
            .iter()
            .flat_map(|d| d.iter().map(|r| r.country))
            .filter(|c| *c != m)
            .collect();
        foreign.sort();
        foreign.dedup();
        let has = |d: &[CountryDay], c: CountryCode| d.iter().any(|r| r.country == c);
        let countries: Vec<CountryCode> = foreign
            .into_iter()
            .filter(|&c| {
                let seen = days.iter().filter(|d| has(d, c)).count();
                let shared = days.iter().filter(|d| has(d, c) && has(d, m)).count();
                seen >= rules.spillover_min_days as usize
                    && (shared as f64 >= rules.spillover_min_shared_days * seen as f64
                        || short_runs(days, m, c))
                    && WeekCounts::of(days, first_weekday, rules, |d| has(d, c))
                        .rest_ratio(rules)
                        .is_some_and(|r| {
                            r >= rules.rest_day_ratio
                                && (r * rules.rest_day_ratio <= 1.0
                                    || shared_on_working_days(days, first_weekday, m, c, rules))
                        })
            })
            .collect();
        if countries.is_empty() {
            return None;
        }
        let (mut spilled, mut all) = (0u64, 0u64);
        for d in days.iter().filter(|d| has(d, m)) {
            let on = |r: &&CountryDay| countries.contains(&r.country);
            if !d.iter().any(|r| on(&r)) {
                continue;
            }
            for r in d.iter() {
                all += u64::from(r.events);
                if on(&r) {
                    spilled += u64::from(r.events);
                }
            }
        }
        let share = spilled as f64 / all.max(1) as f64;
        let commutes = works_across(days, m, &countries, rules);
        Some(Self {
            countries,
            share,
            commutes,
        })
    }

    /// Which days the SIM was at home: days seen at home, and runs of days between them seen
    /// only on spillover networks whose events, all spilled, have at least
    /// `spillover_run_chance` at the SIM's spillover share — together, or each day of a run
    /// of at most three days seen. A run with any other network is abroad.
    fn days_at_home(&self, days: &[&[CountryDay]], m: CountryCode, rules: &Rules) -> Vec<bool> {
        let mut home: Vec<bool> = days
            .iter()
            .map(|d| d.iter().any(|r| r.country == m))
            .collect();
        let mut d = 0;
        while d < days.len() {
            if home[d] {
                d += 1;
                continue;
            }
            let end = (d..days.len()).find(|&k| home[k]).unwrap_or(days.len());
            let run = &days[d..end];
            let only_spill = run
                .iter()
                .all(|day| day.iter().all(|r| self.countries.contains(&r.country)));
            let events: u32 = run
                .iter()
                .flat_map(|day| day.iter())
                .map(|r| r.events)
                .sum();
            let likely = |n: u32| self.share.powi(n.min(1000) as i32) >= rules.spillover_run_chance;
            // A few days between days at home, each likely all spilled, or a run whose
            // events all spilled are likely together: home. Longer runs are trips.
            let seen_days = run.iter().filter(|day| !day.is_empty()).count();
            let each_likely = run
                .iter()
                .all(|day| likely(day.iter().map(|r| r.events).sum()));
            if only_spill && (likely(events) || (seen_days <= 3 && each_likely)) {
                home[d..end].fill(true);
            }
            d = end;
        }
        home
    }
}

/// Whether an own SIM with spillover from `countries` works across as well: on the days it is
/// seen at home, the share of its working-daytime events those networks carry exceeds the share
/// of its other events (nights, rest days, the hour before the day) by at least
/// `spillover_commute_gap`, and by at least `spillover_commute_z` standard errors (a two-sample
/// test of proportions). Spillover alone carries the same share at every hour.
fn works_across(
    days: &[&[CountryDay]],
    m: CountryCode,
    countries: &[CountryCode],
    rules: &Rules,
) -> bool {
    // (events across, all events) in working daytime, then outside it.
    let (mut work, mut other) = ((0u64, 0u64), (0u64, 0u64));
    for d in days.iter().filter(|d| d.iter().any(|r| r.country == m)) {
        for r in d.iter() {
            let day = u64::from(r.weekday_day_events);
            let rest = u64::from(r.events.saturating_sub(r.weekday_day_events));
            if countries.contains(&r.country) {
                work.0 += day;
                other.0 += rest;
            }
            work.1 += day;
            other.1 += rest;
        }
    }
    if work.1 == 0 || other.1 == 0 {
        return false;
    }
    let (p_work, p_other) = (
        work.0 as f64 / work.1 as f64,
        other.0 as f64 / other.1 as f64,
    );
    let pooled = (work.0 + other.0) as f64 / (work.1 + other.1) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / work.1 as f64 + 1.0 / other.1 as f64)).sqrt();
    p_work - p_other >= rules.spillover_commute_gap
        && se > 0.0
        && (p_work - p_other) / se >= rules.spillover_commute_z
}

/// Whether `c`'s network shares most of its working days with the home network
/// (`spillover_min_shared_days`): a home it reaches on working days too. Weekends away with a
/// neighbour's network at home show it; a weekly commute, away all week, does not.
fn shared_on_working_days(
    days: &[&[CountryDay]],
    first_weekday: u8,
    m: CountryCode,
    c: CountryCode,
    rules: &Rules,
) -> bool {
    let (mut seen, mut shared) = (0u32, 0u32);
    for (d, day) in days.iter().enumerate() {
        let weekday = ((usize::from(first_weekday) + d) % 7) as u8;
        if !rules.day.working_days.contains(weekday) || !day.iter().any(|r| r.country == c) {
            continue;
        }
        seen += 1;
        shared += u32::from(day.iter().any(|r| r.country == m));
    }
    seen > 0 && f64::from(shared) >= rules.spillover_min_shared_days * f64::from(seen)
}

/// Whether the days an own SIM is seen on `c`'s network alone come in short runs between days
/// at home: at most three such days in a row on average (silent days skipped; a day on a
/// third network ends a run), in at least four runs. A quiet phone whose one or two events of a day often both go to the neighbour shows
/// few days shared with home, but it keeps coming back; a stay abroad is one long run.
fn short_runs(days: &[&[CountryDay]], m: CountryCode, c: CountryCode) -> bool {
    let (mut runs, mut in_runs, mut current) = (0u32, 0u32, 0u32);
    for d in days.iter().filter(|d| !d.is_empty()) {
        let home = d.iter().any(|r| r.country == m);
        let only_c = !home && d.iter().all(|r| r.country == c);
        if only_c {
            current += 1;
            continue;
        }
        if current > 0 {
            runs += 1;
            in_runs += current;
            current = 0;
        }
    }
    runs >= 4 && in_runs <= 3 * runs
}

/// Whether the SIM spends its next day in `c`: seen that day, and only there. For an own SIM,
/// whose days at home the operator sees, an evening followed by a whole day in the same
/// country is a night slept there (a weekly frontier worker at the workplace), however early
/// its last event; a daily commuter back late is seen at home most days. A foreign SIM's days
/// at home are unseen, so its next sighting proves nothing.
fn wakes_in(next: Option<&&[CountryDay]>, c: CountryCode) -> bool {
    next.is_some_and(|d| !d.is_empty() && d.iter().all(|r| r.country == c))
}

/// Countries whose nights, as the SIM's rows show them, are almost all working-day evenings
/// ending before the core night and, for an own SIM, not followed by a day seen only there
/// (an evening before a day at the workplace was slept there): at least `late_evening_share`
/// of at least `rhythm_min_days` nights there.
pub fn late_evening_countries(
    days: &[&[CountryDay]],
    first_weekday: u8,
    own_sim: bool,
    rules: &Rules,
) -> Vec<CountryCode> {
    let core = rules.core_night_minute();
    // (country, nights there, of which working-day evenings)
    let mut tally: Vec<(CountryCode, u32, u32)> = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let weekday = ((usize::from(first_weekday) + d) % 7) as u8;
        let working = rules.day.working_days.contains(weekday);
        for r in day.iter().filter(|r| r.night_events > 0) {
            let evening = u32::from(
                working
                    && r.last_minute < core
                    && !(own_sim && wakes_in(days.get(d + 1), r.country)),
            );
            match tally.iter_mut().find(|t| t.0 == r.country) {
                Some(t) => {
                    t.1 += 1;
                    t.2 += evening;
                }
                None => tally.push((r.country, 1, evening)),
            }
        }
    }
    tally
        .into_iter()
        .filter(|&(_, nights, evenings)| {
            f64::from(nights) >= rules.rhythm_min_days
                && f64::from(evenings) >= rules.late_evening_share * f64::from(nights)
        })
        .map(|(c, _, _)| c)
        .collect()
}
