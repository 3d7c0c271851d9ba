//! Each rule of docs/design.md §6 pinned on hand-built day sequences, at and around its threshold.

use borderflow_classify::nights::{BorderGuard, abroad_sighting, reconstruct};
use borderflow_classify::{
    CountryDay, NightCountry, Rules, SimDays, SimFacts, Window, classify, crossings,
};
use borderflow_core::{Category, CountryCode, Unclassified};

fn c(code: &str) -> CountryCode {
    code.parse().unwrap()
}

const YEAR: Window = Window {
    history: 0,
    lookback: 365,
    period: 365,
    first_weekday: 0,
};

/// A night seen in `country` (two events from 19:00 to 22:20, the last in the core night).
fn night(day: usize, country: &str) -> CountryDay {
    CountryDay {
        day: day as u16,
        country: c(country),
        events: 2,
        night_events: 2,
        weekday_day_events: 0,
        first_minute: 900,
        last_minute: 1100,
    }
}

/// A weekday daytime visit to `country` (two events between 08:00 and 17:00, none at night).
fn daytime(day: usize, country: &str) -> CountryDay {
    CountryDay {
        day: day as u16,
        country: c(country),
        events: 3,
        night_events: 0,
        weekday_day_events: 3,
        first_minute: 300,
        last_minute: 500,
    }
}

fn sim(sim_country: &str, mut rows: Vec<CountryDay>) -> SimDays {
    rows.sort_by_key(|r| (r.day, r.first_minute));
    SimDays {
        sim_country: c(sim_country),
        rows,
    }
}

fn run(s: &SimDays) -> SimFacts {
    classify(s, c("KEN"), YEAR, &Rules::default())
}

/// A foreign SIM seen every night of days `from..from+len` in M.
fn foreign_stay(from: usize, len: usize) -> SimDays {
    sim("UGA", (from..from + len).map(|d| night(d, "KEN")).collect())
}

/// An own SIM seen every night: in M except `from..from+len` in `abroad`.
fn own_with_trip(from: usize, len: usize, abroad: &str) -> SimDays {
    sim(
        "KEN",
        (0..365)
            .map(|d| {
                if (from..from + len).contains(&d) {
                    night(d, abroad)
                } else {
                    night(d, "KEN")
                }
            })
            .collect(),
    )
}

#[test]
fn residence_needs_183_nights() {
    let f = run(&foreign_stay(10, 183));
    assert_eq!(f.category, Some(Category::ResidentForeignSim));
    assert_eq!(f.residence, c("KEN"));
    assert_eq!(f.nights_in_m, 183);
    assert_eq!(f.partner, Some(c("UGA")));
    let f = run(&foreign_stay(10, 182));
    assert_eq!(f.category, Some(Category::TemporaryIn));
    assert_eq!(f.residence, c("UGA"), "fallback: the SIM's home country");
    assert_eq!(f.nights_in_m, 182);
}

#[test]
fn seasonal_and_temporary_inbound_thresholds() {
    let cases = [
        (29, Category::VisitorIn),
        (30, Category::SeasonalIn),
        (89, Category::SeasonalIn),
        (90, Category::TemporaryIn),
    ];
    for (len, want) in cases {
        let f = run(&foreign_stay(100, len));
        assert_eq!(f.category, Some(want), "{len} nights");
        assert_eq!(f.partner, Some(c("UGA")));
        assert!(!f.open_spell);
    }
}

#[test]
fn seasonal_and_temporary_outbound_thresholds() {
    let cases = [
        (29, Category::Resident, None),
        (30, Category::SeasonalOut, Some(c("ARE"))),
        (89, Category::SeasonalOut, Some(c("ARE"))),
        (90, Category::TemporaryOut, Some(c("ARE"))),
    ];
    for (len, want, partner) in cases {
        let f = run(&own_with_trip(100, len, "ARE"));
        assert_eq!(f.category, Some(want), "{len} nights abroad");
        assert_eq!(f.partner, partner);
        assert_eq!(f.residence, c("KEN"));
    }
}

#[test]
fn emigrant_needs_183_nights_abroad_in_all() {
    // 100 nights in one country and 83 in another: 183 abroad in all.
    let mut rows: Vec<CountryDay> = (0..182).map(|d| night(d, "KEN")).collect();
    rows.extend((182..282).map(|d| night(d, "SAU")));
    rows.extend((282..365).map(|d| night(d, "ARE")));
    let f = run(&sim("KEN", rows.clone()));
    assert_eq!(f.category, Some(Category::Emigrant));
    assert_eq!(
        f.partner,
        Some(c("SAU")),
        "the country abroad with most nights"
    );
    // One night fewer abroad: 182, a temporary stay instead.
    rows[182] = night(182, "KEN");
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::TemporaryOut));
}

#[test]
fn frontier_needs_13_commuting_weeks() {
    // Monday and Tuesday daytime in M, never a night: a frontier worker from Uganda.
    let commuter = |weeks: usize| {
        sim(
            "UGA",
            (0..weeks)
                .flat_map(|w| [daytime(7 * w, "KEN"), daytime(7 * w + 1, "KEN")])
                .collect(),
        )
    };
    let f = run(&commuter(13));
    assert_eq!(f.category, Some(Category::FrontierIn));
    assert_eq!(f.partner, Some(c("UGA")));
    assert_eq!(run(&commuter(12)).category, Some(Category::VisitorIn));

    // Mirror: a resident of M with daytime in Tanzania on Mondays and Tuesdays.
    let outbound = |weeks: usize| {
        let mut rows: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
        for w in 0..weeks {
            rows.push(daytime(7 * w, "TZA"));
            rows.push(daytime(7 * w + 1, "TZA"));
        }
        sim("KEN", rows)
    };
    let f = run(&outbound(13));
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.partner, Some(c("TZA")));
    assert_eq!(run(&outbound(12)).category, Some(Category::Resident));
}

#[test]
fn frontier_allows_few_nights_across() {
    // 20 weeks of three commuting days (60 days in M); nights in M at most 10% of them.
    let commuter = |nights: usize| {
        let mut rows = Vec::new();
        for w in 0..20 {
            for d in 0..3 {
                let day = 7 * w + d;
                let mut r = daytime(day, "KEN");
                if w * 3 + d < nights {
                    // An event at 23:00: a night there, not a late evening at work.
                    r.night_events = 1;
                    r.events += 1;
                    r.last_minute = 1140;
                }
                rows.push(r);
            }
        }
        sim("UGA", rows)
    };
    assert_eq!(run(&commuter(6)).category, Some(Category::FrontierIn));
    assert_ne!(run(&commuter(7)).category, Some(Category::FrontierIn));
}

#[test]
fn one_commuting_day_a_week_is_not_frontier() {
    // A foreign SIM seen in M by day one day a week, never at night: a regular visitor (a
    // trader), never a frontier worker, and not "too sparse" either: its absence from M is
    // what the operator sees of it at home.
    let s = sim("UGA", (0..52).map(|w| daytime(7 * w, "KEN")).collect());
    assert_eq!(run(&s).category, Some(Category::VisitorIn));
    // Twelve weeks of two days, then forty of one: 12 commuting weeks, and 1.23 days in the
    // average week seen (a commuter's sparse phone shows more): a visitor still.
    let mut rows: Vec<CountryDay> = (0..52).map(|w| daytime(7 * w, "KEN")).collect();
    rows.extend((0..12).map(|w| daytime(7 * w + 1, "KEN")));
    assert_eq!(run(&sim("UGA", rows)).category, Some(Category::VisitorIn));
}

#[test]
fn gap_of_three_nights_is_filled_four_is_not() {
    let rules = Rules::default();
    let nights_of = |rows: Vec<CountryDay>| {
        let s = sim("KEN", rows);
        let days = s.by_day(12);
        reconstruct(&days, 0, Some(c("KEN")), &BorderGuard::default(), &rules)
    };
    let n = nights_of(vec![night(2, "UGA"), night(6, "UGA")]);
    assert_eq!(n[2], NightCountry::Seen(c("UGA")));
    assert!(n[3..6].iter().all(|x| *x == NightCountry::Filled(c("UGA"))));
    let n = nights_of(vec![night(2, "UGA"), night(7, "UGA")]);
    assert!(n[3..7].iter().all(|x| *x == NightCountry::Unknown));
    // Edges: two unseen nights before the first seen one are filled; five after it are not.
    assert!(n[..2].iter().all(|x| *x == NightCountry::Filled(c("UGA"))));
    assert!(n[8..].iter().all(|x| *x == NightCountry::Unknown));
    // A foreign SIM's unseen nights are outside M.
    let s = sim("UGA", vec![night(2, "KEN"), night(7, "KEN")]);
    let n = reconstruct(&s.by_day(12), 0, None, &BorderGuard::default(), &rules);
    assert_eq!(n[4], NightCountry::Outside);
}

#[test]
fn rarely_seen_sims_get_longer_gaps_filled() {
    // Seen in M two nights a week (Friday and Saturday), then silent five: a quiet resident
    // foreign SIM, not a string of visits (silences of five nights are filled for this SIM,
    // not three). Its Saturday nights in M keep it from the weekly commuter's pattern.
    let s = sim(
        "UGA",
        (0..365)
            .filter(|d| d % 7 == 4 || d % 7 == 5)
            .map(|d| night(d, "KEN"))
            .collect(),
    );
    let f = run(&s);
    assert_eq!(f.nights_in_m, 365);
    assert_eq!(f.category, Some(Category::ResidentForeignSim));
}

#[test]
fn open_spell_is_classified_by_its_length_so_far() {
    let f = run(&foreign_stay(365 - 40, 40));
    assert_eq!(f.category, Some(Category::SeasonalIn));
    assert!(f.open_spell);
    let f = run(&foreign_stay(365 - 100, 100));
    assert_eq!(f.category, Some(Category::TemporaryIn));
    assert!(f.open_spell);
}

#[test]
fn border_guard_ignores_brief_contact() {
    // A resident seen every night at home; every 60th day two data events on a Ugandan
    // network within 10 minutes (early morning, in the night window): too few days for
    // spillover to be judged (see `spillover_at_home_is_no_crossing`).
    let contact = |events: u32| {
        let mut rows: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
        for d in (0..365).step_by(60) {
            rows.push(CountryDay {
                day: d as u16,
                country: c("UGA"),
                events,
                night_events: events,
                weekday_day_events: 0,
                first_minute: 60,
                last_minute: 70,
            });
        }
        sim("KEN", rows)
    };
    let f = run(&contact(2));
    assert_eq!(f.category, Some(Category::Resident));
    assert!(f.crossings.is_empty(), "{:?}", f.crossings);
    assert_eq!(f.nights_in_m, 365);
    // Three events is no longer brief: the SIM did cross.
    let f = run(&contact(3));
    assert!(f.crossings.contains(&(c("KEN"), c("UGA"))));
    assert!(f.crossings.contains(&(c("UGA"), c("KEN"))));
}

#[test]
fn crossings_are_bounded_to_the_most_frequent_pairs() {
    // Trips from M to five countries; Uganda three times, Tanzania twice, others once.
    let trips = [
        (10, "UGA"),
        (30, "UGA"),
        (50, "UGA"),
        (70, "TZA"),
        (90, "TZA"),
        (110, "RWA"),
        (130, "ETH"),
    ];
    let mut rows: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
    for (day, country) in trips {
        for (d, row) in rows.iter_mut().enumerate().skip(day).take(3) {
            *row = night(d, country);
        }
    }
    let s = sim("KEN", rows);
    let f = run(&s);
    assert_eq!(
        f.crossings,
        vec![
            (c("KEN"), c("UGA")),
            (c("UGA"), c("KEN")),
            (c("KEN"), c("TZA")),
            (c("TZA"), c("KEN")),
        ]
    );
    // Only the period's days count: a month-long period after the trips has none.
    let days = s.by_day(365);
    let rules = Rules::default();
    let guard = BorderGuard::of(&days, 0, Some(c("KEN")), &rules);
    let n = reconstruct(&days, 0, Some(c("KEN")), &guard, &rules);
    assert!(crossings(&days, &n, 334, c("KEN"), &guard, &rules).is_empty());
}

#[test]
fn foreign_sims_cross_from_and_to_their_home_country() {
    let f = run(&foreign_stay(100, 5));
    assert_eq!(
        f.crossings,
        vec![(c("UGA"), c("KEN")), (c("KEN"), c("UGA"))]
    );
}

#[test]
fn return_migrant_needs_the_previous_window() {
    let window = Window {
        history: 365,
        ..YEAR
    };
    let mut rows: Vec<CountryDay> = (0..365)
        .map(|d| night(d, if d < 300 { "ARE" } else { "KEN" }))
        .collect();
    rows.extend((365..730).map(|d| night(d, "KEN")));
    let s = sim("KEN", rows);
    let f = classify(&s, c("KEN"), window, &Rules::default());
    assert_eq!(f.category, Some(Category::ReturnMigrant));
    assert_eq!(f.partner, Some(c("ARE")));
    // 182 nights abroad the year before is not a residence abroad.
    let mut rows: Vec<CountryDay> = (0..365)
        .map(|d| night(d, if d < 182 { "ARE" } else { "KEN" }))
        .collect();
    rows.extend((365..730).map(|d| night(d, "KEN")));
    let f = classify(&sim("KEN", rows), c("KEN"), window, &Rules::default());
    assert_eq!(f.category, Some(Category::Resident));
}

#[test]
fn sims_seen_too_rarely_are_not_classified() {
    // Seen one day in four (silences of 3 days): too sparse to tell trips from quiet.
    let s = sim(
        "KEN",
        (0..365).step_by(4).map(|d| night(d, "KEN")).collect(),
    );
    let f = run(&s);
    assert_eq!(f.category, None);
    assert_eq!(f.unclassified, Some(Unclassified::TooSparse));
    assert_eq!(f.partner, None);
    // One day in three (silences of 2 days) is enough.
    let s = sim(
        "KEN",
        (0..365).step_by(3).map(|d| night(d, "KEN")).collect(),
    );
    assert_eq!(run(&s).category, Some(Category::Resident));
    // A three-day visit is short data, not sparse data.
    let s = sim(
        "UGA",
        vec![night(5, "KEN"), night(20, "KEN"), night(60, "KEN")],
    );
    assert_eq!(run(&s).category, Some(Category::VisitorIn));
}

#[test]
fn rules_are_checked() {
    let bad = Rules {
        seasonal_min_nights: 90,
        ..Rules::default()
    };
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "classify.seasonal_min_nights: must be at least 1 and below temporary_min_nights"
    );
    assert!(Rules::default().check().is_ok());
    let parsed: Rules = toml::from_str("max_gap_days = 4").unwrap();
    assert_eq!(parsed.max_gap_days, 4);
    assert_eq!(parsed.residence_nights, 183);
    assert!(toml::from_str::<Rules>("max_gap = 4").is_err());
}

/// A weekday's events across the border on a commute: one at `first` and one at `last`
/// (functional minutes), both outside the night window.
fn commute_day(day: usize, country: &str, first: u16, last: u16) -> CountryDay {
    CountryDay {
        day: day as u16,
        country: c(country),
        events: 2,
        night_events: 0,
        weekday_day_events: 2,
        first_minute: first,
        last_minute: last,
    }
}

#[test]
fn a_commute_does_not_fake_a_night() {
    // A Ugandan SIM seen in Kenya on every working day of 40 weeks, at 06:30 on the way in and
    // at 19:30 on the way out (minutes 150 and 930): a frontier worker living in Uganda, never
    // a resident of Kenya, whatever a broad night window would have made of those hours.
    let rows = (0..280)
        .filter(|d| d % 7 < 5)
        .map(|d| commute_day(d, "KEN", 150, 930))
        .collect();
    let f = run(&sim("UGA", rows));
    assert_eq!(f.category, Some(Category::FrontierIn));
    assert_eq!(f.partner, Some(c("UGA")));
    assert_eq!(f.nights_in_m, 0);
}

#[test]
fn a_low_activity_commuters_daily_events_abroad_are_not_brief_contact() {
    // A Kenyan SIM home every night; on most working days of 30 weeks one or two events on a
    // Ugandan network within a few minutes. Brief, each of them; a pattern, all together.
    let mut rows: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
    for d in (0..210).filter(|d| d % 7 < 4) {
        rows.push(CountryDay {
            events: 1 + (d % 2) as u32,
            ..commute_day(d, "UGA", 300, 305)
        });
    }
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.partner, Some(c("UGA")));
    assert!(
        f.crossings.contains(&(c("KEN"), c("UGA"))),
        "{:?}",
        f.crossings
    );
}

#[test]
fn one_market_day_a_week_is_a_visitor_or_a_resident_never_a_frontier_worker() {
    // A Ugandan trader at a Kenyan market every Wednesday of 45 weeks, home every night.
    let trader = (0..315)
        .filter(|d| d % 7 == 2)
        .map(|d| commute_day(d, "KEN", 200, 600))
        .collect();
    let f = run(&sim("UGA", trader));
    assert_eq!(
        f.category,
        Some(Category::VisitorIn),
        "not too sparse either"
    );
    // A Kenyan shopping in Uganda every Saturday, home every night.
    let mut rows: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
    rows.extend((0..365).filter(|d| d % 7 == 5).map(|d| CountryDay {
        weekday_day_events: 0,
        ..commute_day(d, "UGA", 300, 500)
    }));
    assert_eq!(run(&sim("KEN", rows)).category, Some(Category::Resident));
}

#[test]
fn a_sparse_phone_commuting_into_m_is_a_frontier_worker() {
    // A Ugandan SIM seen in Kenya by day on one working day in eight weeks of a 20-week job
    // (a phone active on a day in six), on four different weekdays (Monday 3, Tuesday 4,
    // Wednesday 3, Thursday 2), never at night: too few weeks for the weekly pattern, but
    // spread like a commute, not like a market day.
    const SPREAD: [usize; 12] = [0, 8, 16, 24, 35, 43, 58, 66, 77, 86, 99, 134];
    let rows = SPREAD
        .into_iter()
        .map(|d| commute_day(d, "KEN", 150, 800))
        .collect();
    let f = run(&sim("UGA", rows));
    assert_eq!(f.category, Some(Category::FrontierIn));
    // The same days across for an own SIM at home every night, all in working hours: the
    // sparse commute out of M.
    let home: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
    let mut rows = home.clone();
    rows.extend(SPREAD.into_iter().map(|d| commute_day(d, "UGA", 150, 800)));
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.partner, Some(c("UGA")));
    // A border dweller's contacts with the neighbour's network come at any hour: with two of
    // the twelve at night, the same spread is not a commute.
    let mut rows = home.clone();
    rows.extend(SPREAD.into_iter().enumerate().map(|(k, d)| {
        let mut r = commute_day(d, "UGA", 150, 800);
        if k % 6 == 0 {
            r.night_events = 1;
        }
        r
    }));
    assert_eq!(run(&sim("KEN", rows)).category, Some(Category::Resident));
    // Twelve days mostly on one weekday (ten Tuesdays) are a market day, not a commute, in
    // either direction.
    const WEEKLY: [usize; 12] = [0, 8, 15, 24, 36, 43, 57, 64, 78, 85, 99, 134];
    let rows = WEEKLY
        .into_iter()
        .map(|d| commute_day(d, "KEN", 150, 800))
        .collect();
    assert_eq!(run(&sim("UGA", rows)).category, Some(Category::VisitorIn));
    let mut rows = home;
    rows.extend(WEEKLY.into_iter().map(|d| commute_day(d, "UGA", 150, 800)));
    assert_eq!(run(&sim("KEN", rows)).category, Some(Category::Resident));
}

#[test]
fn a_stay_of_months_is_not_taken_for_a_commute() {
    // An own SIM in Tanzania for 17 weeks, seen there by day one day in four and at night on
    // six more days: the weekly pattern of a commute, but it sleeps there on 6 of its 36 days
    // (more than a tenth). Its days seen only in Tanzania are nights there.
    let mut stay: Vec<CountryDay> = (100..220).step_by(4).map(|d| daytime(d, "TZA")).collect();
    stay.extend([102, 122, 142, 162, 182, 202].map(|d| night(d, "TZA")));
    let s = sim("KEN", stay);
    let days = s.by_day(365);
    let guard = BorderGuard::of(&days, YEAR.first_weekday, Some(c("KEN")), &Rules::default());
    assert_eq!(
        abroad_sighting(days[104], Some(c("KEN")), &guard, &Rules::default()),
        Some(c("TZA"))
    );
    // A commuter's working days across on a weekly pattern, never overnight, home every
    // other night: its days there are work, and place no night.
    let work: Vec<usize> = (100..220).filter(|d| d % 7 < 5 && d % 2 == 0).collect();
    let mut rows: Vec<CountryDay> = work.iter().map(|&d| daytime(d, "TZA")).collect();
    rows.extend(
        (90..230)
            .filter(|d| !work.contains(d))
            .map(|d| night(d, "KEN")),
    );
    let s = sim("KEN", rows);
    let days = s.by_day(365);
    let guard = BorderGuard::of(&days, YEAR.first_weekday, Some(c("KEN")), &Rules::default());
    assert_eq!(
        abroad_sighting(days[work[0]], Some(c("KEN")), &guard, &Rules::default()),
        None
    );
    // The same days across with no day at home in the weeks between: a stay seen by day
    // (a phone silent at night), not a commute.
    let s = sim("KEN", work.iter().map(|&d| daytime(d, "TZA")).collect());
    let days = s.by_day(365);
    let guard = BorderGuard::of(&days, YEAR.first_weekday, Some(c("KEN")), &Rules::default());
    assert_eq!(
        abroad_sighting(days[work[0]], Some(c("KEN")), &guard, &Rules::default()),
        Some(c("TZA"))
    );
}

#[test]
fn an_own_sims_silence_at_home_with_calls_from_abroad_is_a_stay_abroad() {
    // Seen at home every night but for 60 days (100 to 159), in which it calls from Tanzania
    // by day three times: a phone that reliably shows at home was away all that time.
    let home = |d: usize| !(100..160).contains(&d);
    let mut rows: Vec<CountryDay> = (0..365)
        .filter(|&d| home(d))
        .map(|d| night(d, "KEN"))
        .collect();
    rows.extend([105, 125, 150].map(|d| daytime(d, "TZA")));
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::SeasonalOut));
    assert_eq!(f.partner, Some(c("TZA")));
    // The same silence with no record abroad tells nothing of where it was: not classifiable.
    let rows: Vec<CountryDay> = (0..365)
        .filter(|&d| home(d))
        .map(|d| night(d, "KEN"))
        .collect();
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, None);
    assert_eq!(f.unclassified, Some(Unclassified::LongSilence));
    // Nor does it when the phone is seen at home a day in three: a silence is ordinary there.
    let mut rows: Vec<CountryDay> = (0..365)
        .filter(|&d| home(d) && d % 3 == 0)
        .map(|d| night(d, "KEN"))
        .collect();
    rows.extend([105, 125, 150].map(|d| daytime(d, "TZA")));
    let f = run(&sim("KEN", rows));
    assert_ne!(f.category, Some(Category::SeasonalOut));
}

#[test]
fn a_foreign_sims_days_seen_by_day_carry_its_stay() {
    // A Ugandan SIM seen in Kenya by day on three days in four from day 50 to day 89, and at
    // night only on days 52, 70 and 88: a 40-night stay of a quiet phone.
    let mut rows: Vec<CountryDay> = (50..90)
        .filter(|d| d % 4 != 3)
        .map(|d| daytime(d, "KEN"))
        .collect();
    rows.extend([52, 70, 88].map(|d| night(d, "KEN")));
    let f = run(&sim("UGA", rows));
    assert_eq!(f.category, Some(Category::SeasonalIn));
    assert_eq!(f.partner, Some(c("UGA")));
    // A market trader in Kenya one Wednesday a week for 30 weeks, who stayed over twice: one
    // day a week is no stay (and too sparse to classify).
    let mut rows: Vec<CountryDay> = (0..30).map(|w| daytime(2 + 7 * w, "KEN")).collect();
    rows.extend([100, 121].map(|d| night(d, "KEN")));
    assert_eq!(run(&sim("UGA", rows)).category, None);
}

/// Days 0..7·weeks that fall on the given weekdays (day 0 is a Monday).
fn on_weekdays(weeks: usize, weekdays: &[usize]) -> impl Iterator<Item = usize> + '_ {
    (0..7 * weeks).filter(move |d| weekdays.contains(&(d % 7)))
}

#[test]
fn weekly_frontier_workers_are_resident_where_they_return_each_week() {
    // A Ugandan SIM sleeping in Kenya Monday to Thursday for 52 weeks (208 nights, past the
    // 183-night residence rule), absent every weekend: a weekly frontier worker, resident in
    // Uganda.
    let weekly = sim(
        "UGA",
        on_weekdays(52, &[0, 1, 2, 3])
            .map(|d| night(d, "KEN"))
            .collect(),
    );
    let f = run(&weekly);
    assert_eq!(f.category, Some(Category::FrontierIn));
    assert_eq!(f.residence, c("UGA"));
    assert_eq!(f.partner, Some(c("UGA")));
    // The same SIM also there at weekends lives in Kenya.
    let resident = sim("UGA", (0..364).map(|d| night(d, "KEN")).collect());
    assert_eq!(run(&resident).category, Some(Category::ResidentForeignSim));
    // Out of M: a Kenyan SIM sleeping in Tanzania Monday to Thursday, at home from Friday to
    // Sunday, all year: a weekly frontier worker resident in Kenya, not an emigrant.
    let out = sim(
        "KEN",
        (0..364)
            .map(|d| night(d, if d % 7 < 4 { "TZA" } else { "KEN" }))
            .collect(),
    );
    let f = run(&out);
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.residence, c("KEN"));
    assert_eq!(f.partner, Some(c("TZA")));
    // A resident who spends Saturday nights with family in Tanzania: the other way round, a
    // resident.
    let weekender = sim(
        "KEN",
        (0..364)
            .map(|d| night(d, if d % 7 == 5 { "TZA" } else { "KEN" }))
            .collect(),
    );
    assert_eq!(run(&weekender).category, Some(Category::Resident));
}

#[test]
fn spillover_at_home_is_no_crossing() {
    // A Kenyan SIM at home every night whose phone is also served by a Ugandan network on
    // two days in three, at any hour (the night included), on every day of the week: a
    // resident, who crossed nothing.
    let mut rows: Vec<CountryDay> = (0..365).map(|d| night(d, "KEN")).collect();
    rows.extend((0..365).filter(|d| d % 3 != 0).map(|d| night(d, "UGA")));
    let f = run(&sim("KEN", rows.clone()));
    assert_eq!(f.category, Some(Category::Resident));
    assert!(f.crossings.is_empty(), "{:?}", f.crossings);
    assert_eq!(f.nights_in_m, 365);
    // A real trip of three weeks to Uganda in between (no home network) is still a trip.
    rows.retain(|r| !(100..121).contains(&usize::from(r.day)));
    rows.extend((100..121).map(|d| night(d, "UGA")));
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::Resident));
    assert!(
        f.crossings.contains(&(c("KEN"), c("UGA"))),
        "{:?}",
        f.crossings
    );
    assert_eq!(f.nights_in_m, 365 - 21);
}

#[test]
fn late_evenings_at_work_place_no_night() {
    // A Ugandan SIM in Kenya on every working day of 40 weeks from 07:00, its last event at
    // 21:20 (in the night window, before the core night from 22:00): a frontier worker who
    // comes home late, not a resident of Kenya.
    let late = |last: u16| {
        sim(
            "UGA",
            on_weekdays(40, &[0, 1, 2, 3, 4])
                .map(|d| CountryDay {
                    night_events: 1,
                    events: 3,
                    ..commute_day(d, "KEN", 180, last)
                })
                .collect(),
        )
    };
    let f = run(&late(1040));
    assert_eq!(f.category, Some(Category::FrontierIn));
    assert_eq!(f.nights_in_m, 0);
    // Its last event at 23:00 instead: it sleeps in Kenya on working days (and goes home at
    // weekends: a weekly frontier worker).
    let f = run(&late(1140));
    assert!(f.nights_in_m >= 200, "{}", f.nights_in_m);
    assert_eq!(f.category, Some(Category::FrontierIn));
}

#[test]
fn a_stay_seen_by_day_only_is_a_stay() {
    // A Ugandan SIM whose phone is off at night, seen in Kenya by day on every day for 60
    // days, weekends included: a seasonal stay, not a commute and not a visit.
    let s = sim("UGA", (100..160).map(|d| daytime(d, "KEN")).collect());
    let f = run(&s);
    assert_eq!(f.category, Some(Category::SeasonalIn));
    // The same days on working days only: a commute.
    let s = sim(
        "UGA",
        (100..240)
            .filter(|d| d % 7 < 5)
            .map(|d| daytime(d, "KEN"))
            .collect(),
    );
    assert_eq!(run(&s).category, Some(Category::FrontierIn));
    // A sparse phone's stay of 60 days, seen on 3 working days in 5 and, by chance, on
    // fewer rest days (7 of 17: 0.68 of the working-day rate). So few rest days fall that
    // short by chance 8.5% of the time: every day alike, a stay, not a visitor's days.
    let seen = |d: usize| match d % 7 {
        0 | 2 | 4 => true,
        5 => (d / 7).is_multiple_of(2),
        6 => (d / 7) % 4 == 1,
        _ => false,
    };
    let s = sim(
        "UGA",
        (100..160)
            .filter(|&d| seen(d))
            .map(|d| daytime(d, "KEN"))
            .collect(),
    );
    assert_eq!(run(&s).category, Some(Category::SeasonalIn));
}

#[test]
fn the_binomial_tails_are_exact() {
    use borderflow_classify::rhythm::{at_least, at_most};
    assert_eq!(at_most(0, 10, 0.5), 1.0 / 1024.0);
    assert!((at_most(1, 10, 0.5) - 11.0 / 1024.0).abs() < 1e-15);
    assert!((at_least(10, 10, 0.5) - 1.0 / 1024.0).abs() < 1e-15);
    assert_eq!(at_most(10, 10, 0.3), 1.0);
    assert_eq!(at_least(0, 10, 0.3), 1.0);
    assert_eq!(at_most(3, 10, 0.0), 1.0);
    assert_eq!(at_most(3, 10, 1.0), 0.0);
}

#[test]
fn an_own_sim_seen_at_home_too_briefly_or_silent_for_a_season_is_not_classifiable() {
    let home =
        |days: &mut dyn Iterator<Item = usize>| sim("KEN", days.map(|d| night(d, "KEN")).collect());
    // Silent for 30 days in the middle of a year at home: a stay abroad without roaming
    // records, or a phone not in use — not a resident by default.
    let f = run(&home(&mut (0..365).filter(|d| !(100..130).contains(d))));
    assert_eq!(f.category, None);
    assert_eq!(f.unclassified, Some(Unclassified::LongSilence));
    assert_eq!(f.partner, None);
    // Silent for 29 days: shorter than any stay that would change its category.
    let f = run(&home(&mut (0..365).filter(|d| !(100..129).contains(d))));
    assert_eq!(f.category, Some(Category::Resident));
    assert_eq!(f.unclassified, None);
    // Seen at home on 182 days from first to last (a phone given up, or gone unseen
    // abroad): too short a presence to establish residence; 183 is enough.
    let f = run(&home(&mut (0..182)));
    assert_eq!(f.unclassified, Some(Unclassified::ShortPresence));
    let f = run(&home(&mut (182..365)));
    assert_eq!(f.category, Some(Category::Resident));
    // A visible stay abroad is classified whatever the silences around it.
    let mut rows: Vec<CountryDay> = (0..120).map(|d| night(d, "KEN")).collect();
    rows.extend((120..160).map(|d| night(d, "ARE")));
    rows.extend((200..365).map(|d| night(d, "KEN")));
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::SeasonalOut));
    assert_eq!(f.unclassified, None);
}

/// A Kenyan SIM's weekly commute to Tanzania: `seen` weeks sleeping there Monday to Thursday
/// (home Friday to Sunday), then `dark` weeks silent from Monday to Friday and at home at the
/// weekend, then at home every night to the end of the year.
fn weekly_out(seen: usize, dark: usize) -> SimDays {
    sim(
        "KEN",
        (0..364)
            .filter_map(|d| {
                let (week, weekday) = (d / 7, d % 7);
                if week < seen {
                    Some(night(d, if weekday < 4 { "TZA" } else { "KEN" }))
                } else if week < seen + dark {
                    (weekday >= 5).then(|| night(d, "KEN"))
                } else {
                    Some(night(d, "KEN"))
                }
            })
            .collect(),
    )
}

#[test]
fn weeks_of_silent_working_days_between_weekends_at_home_count_for_a_weekly_commuter() {
    // Seen at work on 7 weeks (half of the 13 weeks asked, rounded up), dark abroad on 10
    // more: 17 weeks, a weekly frontier worker.
    let f = run(&weekly_out(7, 10));
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.partner, Some(c("TZA")));
    // Seen at work on 6 weeks: too few for silent weeks to count.
    assert_eq!(run(&weekly_out(6, 11)).category, Some(Category::Resident));
    // Seen at work on 12 weeks with no silent week: short of 13.
    assert_eq!(run(&weekly_out(12, 0)).category, Some(Category::Resident));
}

#[test]
fn a_sixth_working_day_seen_at_work_by_day_keeps_the_week_weekly() {
    // Sleeping in Tanzania Monday to Friday, working there on Saturday by day and home for
    // the night, Sunday at home, 30 weeks: the Saturday is no night across.
    let rows: Vec<CountryDay> = (0..7 * 30)
        .flat_map(|d| match d % 7 {
            0..=4 => vec![night(d, "TZA")],
            5 => vec![daytime(d, "TZA")],
            _ => vec![night(d, "KEN")],
        })
        .collect();
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.residence, c("KEN"));
}

#[test]
fn an_own_sims_evening_followed_by_a_morning_in_the_same_country_is_a_night_there() {
    use borderflow_classify::border::read_through;
    // Monday to Thursday in Tanzania from 07:00 to 21:20 (before the core night), 30 weeks.
    let at_work = |d: usize| CountryDay {
        night_events: 1,
        events: 3,
        ..commute_day(d, "TZA", 180, 1040)
    };
    // Slept there: the next day is spent in Tanzania (Friday evening at home).
    let weekly: Vec<CountryDay> = (0..7 * 30)
        .map(|d| {
            if d % 7 < 4 {
                at_work(d)
            } else {
                night(d, "KEN")
            }
        })
        .collect();
    let read = read_through(
        &sim("KEN", weekly.clone()),
        c("KEN"),
        YEAR,
        &Rules::default(),
    );
    let kept = |s: &Option<SimDays>, rows: &[CountryDay]| {
        let rows = s.as_ref().map_or(rows, |s| &s.rows[..]);
        rows.iter()
            .filter(|r| r.country == c("TZA") && r.night_events > 0)
            .count()
    };
    assert_eq!(kept(&read, &weekly), 4 * 30);
    // Home every night after such evenings (a daily commuter back late): no night there.
    let daily: Vec<CountryDay> = (0..7 * 30)
        .flat_map(|d| {
            let mut day = vec![night(d, "KEN")];
            if d % 7 < 5 {
                day.push(at_work(d));
            }
            day
        })
        .collect();
    let daily: Vec<CountryDay> = daily
        .into_iter()
        .map(|r| {
            if r.country == c("KEN") {
                CountryDay {
                    first_minute: 10,
                    last_minute: 1380,
                    ..r
                }
            } else {
                r
            }
        })
        .collect();
    let read = read_through(
        &sim("KEN", daily.clone()),
        c("KEN"),
        YEAR,
        &Rules::default(),
    );
    assert_eq!(kept(&read, &daily), 0);
}

#[test]
fn a_stay_that_begins_weeks_into_the_window_is_not_stretched_to_its_edge() {
    // A Ugandan SIM in Kenya from day 28 to day 99 (72 nights), seen there every day but at
    // night only one night in four: its rare nights allow long silences to be filled, but its
    // days say it was not there before day 28. A seasonal stay, not a temporary one.
    let stay = |from: usize| {
        let rows: Vec<CountryDay> = (from..from + 72)
            .map(|d| {
                if d % 4 == 0 {
                    night(d, "KEN")
                } else {
                    daytime(d, "KEN")
                }
            })
            .collect();
        sim("UGA", rows)
    };
    let f = run(&stay(28));
    assert_eq!(f.category, Some(Category::SeasonalIn));
    assert!(f.nights_in_m <= 75, "{}", f.nights_in_m);
    // The same stay seen from the window's first day may have begun before it: it keeps
    // the nights the window shows.
    let f = run(&stay(0));
    assert_eq!(f.category, Some(Category::SeasonalIn));
}

#[test]
fn weekends_away_with_the_working_days_seen_at_home_are_no_stay_abroad() {
    // A Kenyan SIM whose phone is off at night at home, seen in Tanzania on Saturday nights
    // and at home by day from Monday to Friday, all year: nights abroad six days apart are
    // not one stay of 364 nights — it came home in between.
    let rows: Vec<CountryDay> = (0..7 * 52)
        .filter_map(|d| match d % 7 {
            0..=4 => Some(daytime(d, "KEN")),
            5 => Some(night(d, "TZA")),
            _ => None,
        })
        .collect();
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::Resident));
    assert_eq!(f.residence, c("KEN"));
}

/// A Kenyan SIM at home every night whose phone a Ugandan network also reaches at home, on
/// every day of the week, carrying a third of its events at home; on working days, when
/// `works`, it spends the day at work in Uganda, where Uganda's network carries all of them.
fn spillover_home(works: bool) -> SimDays {
    let row = |day: usize, country: &str, events: u32, night: u32, work: u32| CountryDay {
        day: day as u16,
        country: c(country),
        events,
        night_events: night,
        weekday_day_events: work,
        first_minute: 60,
        last_minute: 1100,
    };
    let mut rows = Vec::new();
    for d in 0..365 {
        if d % 7 < 5 {
            // Morning and evening at home (two events, one in working daytime each) ...
            rows.push(row(d, "KEN", 4, 2, 2));
            // ... the day at work in Uganda (four), or at home, where a third goes to Uganda.
            if works {
                rows.push(row(d, "UGA", 5, 1, 4));
            } else {
                rows.push(row(d, "UGA", 3, 1, 2));
                rows.push(row(d, "KEN", 2, 0, 2));
            }
        } else {
            rows.push(row(d, "KEN", 4, 2, 0));
            rows.push(row(d, "UGA", 2, 1, 0));
        }
    }
    sim("KEN", rows)
}

#[test]
fn a_frontier_worker_whose_home_the_neighbours_network_reaches_is_a_frontier_worker() {
    // Spillover at home at any hour, and the working days across, where the neighbour's
    // network carries all the working hours: commuting, not spillover alone.
    let f = run(&spillover_home(true));
    assert_eq!(f.category, Some(Category::FrontierOut));
    assert_eq!(f.partner, Some(c("UGA")));
    assert_eq!(f.nights_in_m, 365);
    // The same home with working days at home: the neighbour carries the same share at every
    // hour, a resident who crossed nothing.
    let f = run(&spillover_home(false));
    assert_eq!(f.category, Some(Category::Resident));
    assert!(f.crossings.is_empty(), "{:?}", f.crossings);
}

#[test]
fn weekends_across_from_a_home_the_neighbours_network_reaches_are_no_emigration() {
    // A Kenyan SIM at home every working night, its phone also served by a Ugandan network on
    // two working days in five, and every weekend in Uganda: more nights on Ugandan networks
    // than half the year, yet a resident who goes across for weekends.
    let mut rows = Vec::new();
    for d in 0..365 {
        if d % 7 < 5 {
            rows.push(night(d, "KEN"));
            if d % 5 < 2 {
                rows.push(night(d, "UGA"));
            }
        } else {
            rows.push(night(d, "UGA"));
        }
    }
    let f = run(&sim("KEN", rows));
    assert_eq!(f.category, Some(Category::Resident));
}
