//! Personas: the kinds of people a synthetic world holds, and where each one truly spends
//! every day and night. The category a persona is built to have is its ground truth.

use std::fmt;

use borderflow_core::{Category, CountryCode};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A kind of SIM holder, named after the category it is built to fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    /// Lives in M with a domestic SIM; a few short trips abroad.
    Resident,
    /// Lives in M with a SIM from abroad (a migrant worker keeping a home SIM).
    ResidentForeignSim,
    /// Lives in a neighbour and commutes into M on weekdays.
    FrontierIn,
    /// One stay of 30–89 nights in M.
    SeasonalIn,
    /// One stay of 90 nights or more in M, under 183 in all.
    TemporaryIn,
    /// Short visits to M.
    VisitorIn,
    /// Lives in M and commutes into a neighbour on weekdays.
    FrontierOut,
    /// Lives in M; one stay abroad of 30–89 nights.
    SeasonalOut,
    /// Lives in M; one stay abroad of 90 nights or more.
    TemporaryOut,
    /// Domestic SIM, lives abroad.
    Emigrant,
    /// Lived abroad the year before, lives in M now.
    ReturnMigrant,
    /// Lives in a neighbour and comes to a market in M on one day a week, back the same day:
    /// a regular visitor, not a frontier worker (true category `visitor_in`).
    TraderIn,
    /// Lives in M and crosses to a neighbour's market or shops on one day a week, back the same
    /// day: a resident (true category `resident`).
    ShopperOut,
    /// Lives in M and spends most weekends with family in a neighbour (one or two nights away,
    /// back on Sunday): a resident (true category `resident`) whose nights alternate week by
    /// week like a weekly frontier worker's, the other way round.
    WeekenderOut,
}

impl Persona {
    /// Every persona, in a fixed order (the order quotas are filled in).
    pub const ALL: [Persona; 14] = [
        Persona::Resident,
        Persona::ResidentForeignSim,
        Persona::FrontierIn,
        Persona::SeasonalIn,
        Persona::TemporaryIn,
        Persona::VisitorIn,
        Persona::FrontierOut,
        Persona::SeasonalOut,
        Persona::TemporaryOut,
        Persona::Emigrant,
        Persona::ReturnMigrant,
        Persona::TraderIn,
        Persona::ShopperOut,
        Persona::WeekenderOut,
    ];

    /// The category the persona is built to fall in.
    pub const fn category(self) -> Category {
        match self {
            Persona::Resident => Category::Resident,
            Persona::ResidentForeignSim => Category::ResidentForeignSim,
            Persona::FrontierIn => Category::FrontierIn,
            Persona::SeasonalIn => Category::SeasonalIn,
            Persona::TemporaryIn => Category::TemporaryIn,
            Persona::VisitorIn => Category::VisitorIn,
            Persona::FrontierOut => Category::FrontierOut,
            Persona::SeasonalOut => Category::SeasonalOut,
            Persona::TemporaryOut => Category::TemporaryOut,
            Persona::Emigrant => Category::Emigrant,
            Persona::ReturnMigrant => Category::ReturnMigrant,
            Persona::TraderIn => Category::VisitorIn,
            Persona::ShopperOut | Persona::WeekenderOut => Category::Resident,
        }
    }

    /// Whether the persona carries a SIM of a foreign network.
    pub const fn foreign_sim(self) -> bool {
        matches!(
            self,
            Persona::ResidentForeignSim
                | Persona::FrontierIn
                | Persona::SeasonalIn
                | Persona::TemporaryIn
                | Persona::VisitorIn
                | Persona::TraderIn
        )
    }

    /// The persona's code: the category's code for the personas built for one category, its
    /// own name for the ones that exercise a rule (traders, shoppers, weekenders).
    pub const fn code(self) -> &'static str {
        match self {
            Persona::TraderIn => "trader_in",
            Persona::ShopperOut => "shopper_out",
            Persona::WeekenderOut => "weekender_out",
            p => p.category().as_str(),
        }
    }
}

impl fmt::Display for Persona {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

/// Where a person truly is on one functional day (04:00 to 04:00 local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayLocation {
    /// Where they are outside working hours, and where they sleep.
    pub home: CountryCode,
    /// Where they are between leaving home and coming back when commuting across a border.
    pub commute: Option<CountryCode>,
}

/// One person's true whereabouts over the whole world, and the truth derived from it.
#[derive(Debug, Clone)]
pub struct Itinerary {
    /// One entry per day of the world.
    pub days: Vec<DayLocation>,
    /// The partner country of the person's category (None for residents).
    pub partner: Option<CountryCode>,
    /// The country of the SIM's home network.
    pub sim_country: CountryCode,
    /// The country of usual residence during the reference period.
    pub residence: CountryCode,
    /// Seconds after local midnight when the person crosses to work and back, on days they
    /// commute.
    pub commute_window: (i64, i64),
    /// A frontier worker who goes home once a week.
    pub weekly: bool,
    /// A daily frontier worker who comes home late.
    pub late_return: bool,
}

/// What an itinerary is drawn from: the world's countries and calendar.
pub struct Geography<'a> {
    /// The measuring country.
    pub m: CountryCode,
    /// Land neighbours (frontier partners).
    pub neighbours: &'a [CountryCode],
    /// Partner countries with cumulative weights, for weighted draws.
    pub partners: &'a [(CountryCode, f64)],
    /// Days in the world.
    pub days: usize,
    /// Weekday (0 = Monday) of the first day.
    pub first_weekday: usize,
    /// Share of seasonal and temporary stays that cross a boundary of the reference period.
    pub boundary_spell_share: f64,
    /// How commuters cross.
    pub commute: &'a Commute,
    /// How stays recur.
    pub stays: &'a Stays,
}

impl Geography<'_> {
    fn partner(&self, rng: &mut impl Rng) -> CountryCode {
        let total = self.partners.last().map_or(0.0, |p| p.1);
        let x = rng.random::<f64>() * total;
        self.partners
            .iter()
            .find(|(_, cum)| x < *cum)
            .unwrap_or(&self.partners[self.partners.len() - 1])
            .0
    }

    fn neighbour(&self, rng: &mut impl Rng) -> CountryCode {
        self.neighbours[rng.random_range(0..self.neighbours.len())]
    }

    /// First day of the reference period (the last 365 days).
    fn ref_start(&self) -> usize {
        self.days - 365
    }

    /// Places a stay of `len` nights inside the reference period (its nights there: the
    /// truth). Most lie wholly inside; some run on past its end, some began before its start
    /// (extended back into the world's history when it has one).
    fn place_stay(&self, days: &mut [DayLocation], len: usize, c: CountryCode, rng: &mut impl Rng) {
        let r0 = self.ref_start();
        let (from, before) = if rng.random_bool(self.boundary_spell_share) {
            if rng.random_bool(0.5) {
                (r0 + 365 - len, 0)
            } else {
                (r0, rng_range(rng, 1, 60).min(r0))
            }
        } else {
            (r0 + rng_range(rng, 0, 365 - len), 0)
        };
        for d in days.iter_mut().skip(from - before).take(len + before) {
            d.home = c;
            d.commute = None;
        }
    }

    /// Repeats last year, at the same season, the nights spent in `c` during the reference
    /// period (seasonal work that recurs), when the world has that year.
    fn recur_last_year(&self, days: &mut [DayLocation], c: CountryCode) {
        if !self.stays.recurring_seasonal {
            return;
        }
        let r0 = self.ref_start();
        for d in r0.max(365)..self.days {
            if days[d].home == c {
                days[d - 365] = days[d];
            }
        }
    }

    fn weekday(&self, d: usize) -> usize {
        (self.first_weekday + d) % 7
    }
}

/// Draws where a person of `persona` is on each day of the world.
pub fn itinerary(persona: Persona, g: &Geography, rng: &mut impl Rng) -> Itinerary {
    let m = g.m;
    let n = g.days;
    let r0 = g.ref_start();
    let mut days = vec![
        DayLocation {
            home: m,
            commute: None,
        };
        n
    ];
    let (mut weekly, mut late_return) = (false, false);
    // Office hours, for personas that do not commute (never used for them).
    let mut window = (8 * 3600, 17 * 3600);
    let stay = |days: &mut [DayLocation], from: usize, len: usize, c: CountryCode| {
        for d in days.iter_mut().skip(from).take(len) {
            d.home = c;
            d.commute = None;
        }
    };
    // Short trips (2–12 nights) placed at random; they may overlap, which only merges them.
    let short_trips = |days: &mut [DayLocation], rng: &mut _, k: usize, home: CountryCode| {
        for _ in 0..k {
            let len = rng_range(rng, 2, 12);
            let from = rng_range(rng, 0, n - len);
            let dest = loop {
                let c = g.partner(rng);
                if c != home {
                    break c;
                }
            };
            stay(days, from, len, dest);
        }
    };
    let (partner, sim_country, residence) = match persona {
        Persona::Resident => {
            let k = rng_range(rng, 0, g.stays.resident_max_trips as usize);
            short_trips(&mut days, rng, k, m);
            (None, m, m)
        }
        Persona::ShopperOut => {
            let k = rng_range(rng, 0, g.stays.resident_max_trips as usize);
            short_trips(&mut days, rng, k, m);
            let dest = g.neighbour(rng);
            weekly_day_trips(&mut days, g, dest, rng);
            window = day_trip_window(rng);
            (None, m, m)
        }
        Persona::WeekenderOut => {
            let k = rng_range(rng, 0, g.stays.resident_max_trips as usize);
            short_trips(&mut days, rng, k, m);
            let family = g.neighbour(rng);
            weekends_away(&mut days, g, family, rng);
            window = (0, hour_in([15.0, 19.0], rng));
            (None, m, m)
        }
        Persona::TraderIn => {
            let origin = g.neighbour(rng);
            stay(&mut days, 0, n, origin);
            weekly_day_trips(&mut days, g, m, rng);
            window = day_trip_window(rng);
            (Some(origin), origin, origin)
        }
        Persona::SeasonalOut | Persona::TemporaryOut => {
            let (lo, hi) = if persona == Persona::SeasonalOut {
                (33, 84)
            } else {
                (95, 170)
            };
            let len = rng_range(rng, lo, hi);
            let dest = g.partner(rng);
            g.place_stay(&mut days, len, dest, rng);
            if persona == Persona::SeasonalOut {
                g.recur_last_year(&mut days, dest);
            }
            (Some(dest), m, m)
        }
        Persona::FrontierOut | Persona::FrontierIn => {
            let (home, work) = if persona == Persona::FrontierOut {
                (m, g.neighbour(rng))
            } else {
                (g.neighbour(rng), m)
            };
            stay(&mut days, 0, n, home);
            let c = g.commute;
            let late = c.late_return_share > 0.0 && rng.random_bool(c.late_return_share);
            let back = if late {
                c.late_return_hours
            } else {
                c.return_hours
            };
            window = (hour_in(c.depart_hours, rng), hour_in(back, rng));
            let six_days = rng.random_bool(c.six_day_share);
            let weeks = rng_range(rng, c.weeks[0] as usize, c.weeks[1] as usize);
            let from = r0 + rng_range(rng, 0, 365 - weeks * 7);
            weekly = c.weekly_share > 0.0 && rng.random_bool(c.weekly_share);
            late_return = late && !weekly;
            if weekly {
                weekly_commute(&mut days, g, from, weeks, six_days, work, rng);
            } else {
                for (d, day) in days.iter_mut().enumerate().skip(from).take(weeks * 7) {
                    let weekday = g.weekday(d);
                    let working = weekday < 5 || (six_days && weekday == 5);
                    if working && rng.random_bool(c.attendance) {
                        day.commute = Some(work);
                        // Now and then a night at the workplace (≤ a few percent of nights).
                        if rng.random_bool(c.night_at_work) {
                            day.home = work;
                            day.commute = None;
                        }
                    }
                }
            }
            let partner = if persona == Persona::FrontierOut {
                work
            } else {
                home
            };
            (
                Some(partner),
                if persona == Persona::FrontierIn {
                    home
                } else {
                    m
                },
                home,
            )
        }
        Persona::Emigrant => {
            let dest = g.partner(rng);
            if rng.random_bool(0.5) {
                // Left during the reference period, with at least 200 nights abroad in it.
                let abroad = rng_range(rng, 200, 330);
                stay(&mut days, n - abroad, abroad, dest);
            } else {
                // Lives abroad all along; one visit home of one to four weeks.
                stay(&mut days, 0, n, dest);
                let len = rng_range(rng, 7, 28);
                let from = rng_range(rng, 0, n - len);
                stay(&mut days, from, len, m);
            }
            (Some(dest), m, dest)
        }
        Persona::ReturnMigrant => {
            let dest = g.partner(rng);
            // Abroad for most of the year before the reference period, home during it.
            let before = rng_range(rng, 220, 330);
            stay(&mut days, r0 - before, before, dest);
            (Some(dest), m, m)
        }
        Persona::ResidentForeignSim => {
            let origin = g.partner(rng);
            // Lives in M; one to three visits home (invisible to the operator).
            for _ in 0..rng_range(rng, 1, 3) {
                let len = rng_range(rng, 5, 30);
                let from = rng_range(rng, 0, n - len);
                stay(&mut days, from, len, origin);
            }
            (Some(origin), origin, m)
        }
        Persona::SeasonalIn | Persona::TemporaryIn => {
            let origin = g.partner(rng);
            stay(&mut days, 0, n, origin);
            let (lo, hi) = if persona == Persona::SeasonalIn {
                (33, 84)
            } else {
                (95, 170)
            };
            let len = rng_range(rng, lo, hi);
            g.place_stay(&mut days, len, m, rng);
            if persona == Persona::SeasonalIn {
                g.recur_last_year(&mut days, m);
            }
            (Some(origin), origin, origin)
        }
        Persona::VisitorIn => {
            let origin = g.partner(rng);
            stay(&mut days, 0, n, origin);
            for _ in 0..rng_range(rng, 1, g.stays.visitor_max_stays as usize) {
                let len = rng_range(rng, 1, 8);
                let from = r0 + rng_range(rng, 0, 365 - len);
                stay(&mut days, from, len, m);
            }
            (Some(origin), origin, origin)
        }
    };
    Itinerary {
        days,
        partner,
        sim_country,
        residence,
        commute_window: window,
        weekly,
        late_return,
    }
}

/// A local hour drawn uniformly from `[from, to]`, in seconds after midnight.
fn hour_in(range: [f64; 2], rng: &mut impl Rng) -> i64 {
    let h = if range[1] > range[0] {
        rng.random_range(range[0]..=range[1])
    } else {
        range[0]
    };
    (h * 3600.0).round() as i64
}

/// When a market trader or shopper is across the border on a market day: there in the
/// morning, back by the afternoon.
fn day_trip_window(rng: &mut impl Rng) -> (i64, i64) {
    (hour_in([7.0, 10.0], rng), hour_in([13.0, 17.0], rng))
}

/// One market day a week (Monday to Saturday) across the border in `there`, on most weeks of
/// a run of 20 to 52 weeks in the reference period; home every night.
fn weekly_day_trips(
    days: &mut [DayLocation],
    g: &Geography,
    there: CountryCode,
    rng: &mut impl Rng,
) {
    let market_day = rng_range(rng, 0, 5);
    let weeks = rng_range(rng, 20, 52);
    let from = g.ref_start() + rng_range(rng, 0, 365 - weeks * 7);
    for (d, day) in days.iter_mut().enumerate().skip(from).take(weeks * 7) {
        if g.weekday(d) == market_day && day.commute.is_none() && rng.random_bool(0.8) {
            day.commute = Some(there);
        }
    }
}

/// A weekly frontier worker's weeks: on a week it works (chance `attendance`), it leaves home
/// on the first working day and sleeps at the workplace until the night before the last one,
/// which it spends at home again after work; rest days at home.
fn weekly_commute(
    days: &mut [DayLocation],
    g: &Geography,
    from: usize,
    weeks: usize,
    six_days: bool,
    work: CountryCode,
    rng: &mut impl Rng,
) {
    let last_working = if six_days { 5 } else { 4 };
    let mut working_week = false;
    for (d, day) in days.iter_mut().enumerate().skip(from).take(weeks * 7) {
        let weekday = g.weekday(d);
        if weekday == 0 || d == from {
            working_week = rng.random_bool(g.commute.attendance);
        }
        if !working_week || weekday > last_working {
            continue;
        }
        if weekday == last_working {
            day.commute = Some(work);
        } else {
            day.home = work;
            day.commute = None;
        }
    }
}

/// Weekends with family in `there` on most weeks of a run of 20 to 52 weeks in the reference
/// period: away on Saturday night (and on Friday night half the time), back on Sunday
/// afternoon; at home every working-day night.
fn weekends_away(days: &mut [DayLocation], g: &Geography, there: CountryCode, rng: &mut impl Rng) {
    let weeks = rng_range(rng, 20, 52);
    let from = g.ref_start() + rng_range(rng, 0, 365 - weeks * 7);
    let mut away = false;
    for (d, day) in days.iter_mut().enumerate().skip(from).take(weeks * 7) {
        match g.weekday(d) {
            4 => {
                away = rng.random_bool(0.8);
                if away && rng.random_bool(0.5) {
                    day.home = there;
                }
            }
            5 if away => day.home = there,
            6 if away => day.commute = Some(there),
            _ => {}
        }
        if day.home == there {
            day.commute = None;
        }
    }
}

/// Nights spent in `c` during the reference period.
pub fn nights_in(it: &Itinerary, c: CountryCode) -> usize {
    it.days[it.days.len() - 365..]
        .iter()
        .filter(|d| d.home == c)
        .count()
}

/// A uniform draw from `lo..=hi`.
fn rng_range(rng: &mut impl Rng, lo: usize, hi: usize) -> usize {
    rng.random_range(lo..=hi)
}

/// How frontier workers (and market traders and shoppers) cross the border: when they leave
/// home and come back, on which days, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Commute {
    /// Earliest and latest local hour a commuter crosses to work (each SIM draws its own
    /// time in this range; each day varies by up to a quarter of an hour).
    pub depart_hours: [f64; 2],
    /// Earliest and latest local hour a commuter crosses back home.
    pub return_hours: [f64; 2],
    /// Share of frontier workers who also work on Saturdays.
    pub six_day_share: f64,
    /// Chance a frontier worker crosses on a working day (holidays, sick days, home office).
    pub attendance: f64,
    /// Shortest and longest run of commuting weeks in the reference period.
    pub weeks: [u32; 2],
    /// Chance a frontier worker spends a working night at the workplace.
    pub night_at_work: f64,
    /// Share of frontier workers who go home once a week: working-day nights at the workplace,
    /// home after work on the last working day, rest days at home (ICRMW art. 2(2)(a)).
    pub weekly_share: f64,
    /// Share of daily frontier workers who come home late, in `late_return_hours`.
    pub late_return_share: f64,
    /// Earliest and latest local hour a late commuter crosses back home.
    pub late_return_hours: [f64; 2],
}

impl Default for Commute {
    fn default() -> Self {
        Self {
            depart_hours: [6.0, 8.0],
            return_hours: [16.0, 19.0],
            six_day_share: 0.0,
            attendance: 0.85,
            weeks: [20, 52],
            night_at_work: 0.02,
            weekly_share: 0.0,
            late_return_share: 0.0,
            late_return_hours: [20.0, 22.0],
        }
    }
}

/// How stays and trips recur.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Stays {
    /// Most short stays a visitor makes in the reference period (each 1–8 nights).
    pub visitor_max_stays: u32,
    /// Whether seasonal stays (in and out) recur each year at the same season (worlds of two
    /// years or more).
    pub recurring_seasonal: bool,
    /// Most one-off trips abroad (2–12 nights) a resident makes.
    pub resident_max_trips: u32,
}

impl Default for Stays {
    fn default() -> Self {
        Self {
            visitor_max_stays: 3,
            recurring_seasonal: false,
            resident_max_trips: 3,
        }
    }
}
