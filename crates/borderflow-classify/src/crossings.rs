//! Border crossings: the directed country pairs a SIM moved between in the period, bounded
//! per SIM so the privacy layer knows each SIM's largest contribution.

use borderflow_core::CountryCode;

use crate::nights::{BorderGuard, NightCountry};
use crate::rules::Rules;
use crate::sim::CountryDay;

/// The directed pairs a SIM crossed from day `from_day` of the window on.
///
/// The SIM's path is read day by day: the countries of the day's rows in the order they
/// were first seen (brief border contact removed), then the country of its night. An unseen
/// night of a foreign SIM is spent outside the measuring country, in its SIM's country as far
/// as anyone can tell; an unknown night of an own SIM adds nothing, so a move across a silence
/// is still a crossing. The night before `from_day` opens the path, so a crossing on the
/// period's first day counts. Every change of country is a crossing.
///
/// At most `max_crossing_pairs` distinct pairs are kept: those crossed most often, ties to the
/// pair crossed first. They come back in the order first crossed.
pub fn crossings(
    days: &[&[CountryDay]],
    nights: &[NightCountry],
    from_day: usize,
    sim_country: CountryCode,
    guard: &BorderGuard,
    rules: &Rules,
) -> Vec<(CountryCode, CountryCode)> {
    let night_place = |n: NightCountry| match n {
        NightCountry::Seen(c) | NightCountry::Filled(c) => Some(c),
        NightCountry::Outside => Some(sim_country),
        NightCountry::Unknown => None,
    };
    let mut path: Vec<CountryCode> = Vec::new();
    let step = |c: CountryCode, path: &mut Vec<CountryCode>| {
        if path.last() != Some(&c) {
            path.push(c);
        }
    };
    if from_day > 0
        && let Some(c) = night_place(nights[from_day - 1])
    {
        step(c, &mut path);
    }
    let mut rows: Vec<&CountryDay> = Vec::new();
    for d in from_day..days.len() {
        rows.clear();
        rows.extend(guard.kept_rows(days[d], rules));
        rows.sort_by_key(|r| (r.first_minute, r.last_minute));
        for r in &rows {
            step(r.country, &mut path);
        }
        if let Some(c) = night_place(nights[d]) {
            step(c, &mut path);
        }
    }
    // (pair, times crossed, first crossing)
    let mut pairs: Vec<((CountryCode, CountryCode), u32, usize)> = Vec::new();
    for (i, w) in path.windows(2).enumerate() {
        let pair = (w[0], w[1]);
        match pairs.iter_mut().find(|(p, _, _)| *p == pair) {
            Some((_, n, _)) => *n += 1,
            None => pairs.push((pair, 1, i)),
        }
    }
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    pairs.truncate(rules.max_crossing_pairs);
    pairs.sort_by_key(|p| p.2);
    pairs.into_iter().map(|(p, _, _)| p).collect()
}
