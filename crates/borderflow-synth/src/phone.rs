//! How a person's phone shows up in one operator's records: which days it is active, when in
//! the day, which network carries each event, and whom it calls.

use std::collections::HashMap;

use borderflow_core::CountryCode;
use chrono::{NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use rand::Rng;
use rand_distr::{Distribution, Normal, Poisson};

use crate::persona::{Itinerary, Persona};
use crate::scenario::{Activity, Spillover};

/// Relative frequency of events in each hour of the functional day, 04:00 to 03:59 local.
const DIURNAL: [f64; 24] = [
    1.0, 2.0, 4.0, 6.0, 8.0, 9.0, 9.0, 9.0, 9.0, 9.0, 8.0, 8.0, 8.0, 9.0, 10.0, 10.0, 10.0, 9.0,
    6.0, 4.0, 2.0, 1.0, 1.0, 1.0,
];

/// Event types of voice and SMS events (each with a counterpart number).
const VOICE_SMS: [&str; 4] = ["call_out", "call_in", "sms_out", "sms_in"];

/// One event as it appears in the operator's records (before any column renaming).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// Index into the world's PLMN strings of the network that carried the event.
    pub serving: u16,
    /// The serving cell (own network only).
    pub cell: Option<u32>,
    /// Index into [`EVENT_TYPES`].
    pub event_type: u8,
    /// The other party's number, for calls and SMS.
    pub counterpart: Option<String>,
}

/// All event type codes, indexed by [`Event::event_type`].
pub const EVENT_TYPES: [&str; 5] = ["call_out", "call_in", "sms_out", "sms_in", "data"];

/// The networks and numbering of the world's countries, shared by all phones.
pub struct Networks {
    /// Every PLMN string that can appear, indexed by `u16`.
    pub plmns: Vec<String>,
    /// Index of the operator's own PLMN.
    pub operator: u16,
    /// For each foreign country, the PLMN indices of its networks.
    pub by_country: HashMap<CountryCode, Vec<u16>>,
    /// Each country's calling prefix for synthetic numbers (with an area code in shared zones).
    pub dialling: HashMap<CountryCode, String>,
    /// Each country's principal time zone.
    pub zones: HashMap<CountryCode, Tz>,
    /// Cells of the operator's network.
    pub cells: u32,
}

/// Per-SIM traits of phone use.
pub struct PhoneTraits {
    rate: f64,
    active: f64,
    data_roaming_off: bool,
    /// The neighbour whose network a border dweller's phone sometimes catches.
    border_country: Option<CountryCode>,
    home_cell: u32,
    /// The foreign network the SIM roams on, per country (the first one it picks).
    roaming_partner: HashMap<CountryCode, u16>,
    /// The phone makes data sessions only.
    data_only: bool,
    /// An own SIM never seen abroad.
    dark_abroad: bool,
    /// A phone never used in the night-silent hours.
    night_silent: bool,
    /// A home by the border within a neighbour's network's reach.
    spillover: Option<SpilloverTraits>,
}

/// How a neighbour's network reaches one SIM's home.
struct SpilloverTraits {
    /// The neighbour whose network reaches it.
    country: CountryCode,
    /// Chance the network reaches it on a day at home.
    day_share: f64,
    /// Chance, on such a day, that an event is carried by it.
    event_share: f64,
}

impl PhoneTraits {
    /// Draws a SIM's traits.
    pub fn draw(
        persona: Persona,
        a: &Activity,
        spill: &Spillover,
        nets: &Networks,
        neighbours: &[CountryCode],
        rng: &mut impl Rng,
    ) -> Self {
        let z: f64 = Normal::new(0.0, 1.0).expect("unit normal").sample(rng);
        let sparse = rng.random_bool(a.sparse_share);
        let mut traits = Self {
            rate: a.median_events_per_day * (a.rate_spread * z).exp(),
            active: if sparse {
                a.sparse_active_probability
            } else {
                a.active_probability
            },
            data_roaming_off: !persona.foreign_sim() && rng.random_bool(a.data_roaming_off_share),
            border_country: (persona == Persona::Resident
                && rng.random_bool(a.border_dweller_share))
            .then(|| neighbours[rng.random_range(0..neighbours.len())]),
            home_cell: rng.random_range(0..nets.cells),
            roaming_partner: HashMap::new(),
            data_only: rng.random_bool(a.data_only_share),
            dark_abroad: !persona.foreign_sim() && rng.random_bool(a.dark_abroad_share),
            night_silent: false,
            spillover: None,
        };
        // Drawn last, and only when asked for, so worlds without them keep their streams.
        let silent = a
            .night_silent_personas
            .get(&persona)
            .copied()
            .unwrap_or(a.night_silent_share);
        traits.night_silent = silent > 0.0 && rng.random_bool(silent);
        if !persona.foreign_sim() && spill.share > 0.0 && rng.random_bool(spill.share) {
            traits.spillover = Some(SpilloverTraits {
                country: neighbours[rng.random_range(0..neighbours.len())],
                day_share: uniform(spill.day_share, rng),
                event_share: uniform(spill.event_share, rng),
            });
        }
        traits
    }

    /// The phone's own border effects, as the truth names them.
    pub fn effects(&self) -> impl Iterator<Item = &'static str> {
        [
            self.spillover.is_some().then_some("spillover"),
            self.night_silent.then_some("night_silent"),
        ]
        .into_iter()
        .flatten()
    }

    /// Whether a night-silent phone is off at `secs` after local midnight (of any day).
    fn silent_at(&self, a: &Activity, secs: i64) -> bool {
        if !self.night_silent {
            return false;
        }
        let h = (secs as f64 / 3600.0) % 24.0;
        let [from, to] = a.night_silent_hours;
        if from <= to {
            (from..to).contains(&h)
        } else {
            h >= from || h < to
        }
    }
}

/// A uniform draw from `[from, to]`.
fn uniform(range: [f64; 2], rng: &mut impl Rng) -> f64 {
    if range[1] > range[0] {
        rng.random_range(range[0]..=range[1])
    } else {
        range[0]
    }
}

/// Offsets of local time from UTC, cached per (zone, date): events are placed by local clock.
#[derive(Default)]
pub struct OffsetCache {
    offsets: HashMap<(Tz, NaiveDate), i64>,
}

impl OffsetCache {
    /// UTC seconds of `date` at `secs_after_midnight` local time in `tz` (the offset in force at
    /// noon that day; on a daylight-saving change the small hours may be an hour off).
    fn utc(&mut self, tz: Tz, date: NaiveDate, secs_after_midnight: i64) -> i64 {
        let offset = *self.offsets.entry((tz, date)).or_insert_with(|| {
            let noon = date.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon"));
            let local = tz
                .from_local_datetime(&noon)
                .earliest()
                .expect("noon exists in every zone");
            local.naive_local().and_utc().timestamp() - local.timestamp()
        });
        date.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp()
            + secs_after_midnight
            - offset
    }
}

/// Generates the events of one SIM on one day, in time order, into `out`.
#[allow(clippy::too_many_arguments)]
pub fn day_events(
    it: &Itinerary,
    persona: Persona,
    traits: &mut PhoneTraits,
    a: &Activity,
    nets: &Networks,
    m: CountryCode,
    day: usize,
    date: NaiveDate,
    offsets: &mut OffsetCache,
    rng: &mut impl Rng,
    out: &mut Vec<Event>,
) {
    out.clear();
    let loc = it.days[day];
    let abroad_all_day = loc.home != m && loc.commute.is_none_or(|c| c != m);
    let own_sim = !persona.foreign_sim();
    // Whether the operator can see the SIM at all today: foreign SIMs only in M. Own SIMs are
    // seen abroad through roaming records (only calls and SMS where data roaming is off).
    if abroad_all_day && (!own_sim || traits.dark_abroad) {
        return;
    }
    // Today's crossing times vary by up to a quarter of an hour either way.
    let (leave, back) = match loc.commute {
        Some(_) => (
            it.commute_window.0 + rng.random_range(-900..=900),
            it.commute_window.1 + rng.random_range(-900..=900),
        ),
        None => it.commute_window,
    };
    let p_active = if abroad_all_day {
        traits.active * a.roaming_activity
    } else {
        traits.active
    };
    if !rng.random_bool(p_active.clamp(0.0, 1.0)) {
        return;
    }
    let n = Poisson::new(traits.rate)
        .map(|p| p.sample(rng) as usize)
        .unwrap_or(1)
        .max(1);
    let mut seconds: Vec<i64> = (0..n)
        .map(|_| {
            // A night-silent phone's events fall in the hours it is on (a few tries; a
            // window covering the whole day leaves the phone as it was drawn).
            let mut s = 0;
            for _ in 0..64 {
                let hour = weighted_hour(rng);
                s = (4 + hour) * 3600 + rng.random_range(0..3600);
                if !traits.silent_at(a, s) {
                    break;
                }
            }
            s
        })
        .collect();
    seconds.sort_unstable();
    // Two events of one SIM in the same second would be one record delivered twice.
    seconds.dedup();
    // Whether the neighbour's network reaches the phone at home today.
    let spill_today = match &traits.spillover {
        Some(sp) if loc.home == m || loc.commute == Some(m) => {
            rng.random_bool(sp.day_share.clamp(0.0, 1.0))
        }
        _ => false,
    };
    for s in seconds {
        let at = match loc.commute {
            Some(w) if (leave..back).contains(&s) => w,
            _ => loc.home,
        };
        if at != m && (!own_sim || traits.dark_abroad) {
            continue; // a foreign SIM back home, or an own SIM gone dark abroad
        }
        let voice = !traits.data_only && rng.random_bool(a.voice_sms_share);
        if at != m && !voice && traits.data_roaming_off {
            continue; // data roaming off: abroad only calls and SMS reach the records
        }
        let tz = nets.zones[&at];
        let time = offsets.utc(tz, date, s);
        let spilled = spill_today
            && at == m
            && (voice || !traits.data_roaming_off)
            && traits
                .spillover
                .as_ref()
                .is_some_and(|sp| rng.random_bool(sp.event_share.clamp(0.0, 1.0)));
        let (serving, cell) = if spilled {
            let c = traits.spillover.as_ref().map(|sp| sp.country).unwrap_or(m);
            (roaming_network(traits, nets, c, rng), None)
        } else if at == m {
            (
                nets.operator,
                Some(near_cell(traits.home_cell, nets.cells, rng)),
            )
        } else {
            (roaming_network(traits, nets, at, rng), None)
        };
        let (event_type, counterpart) = if voice {
            let t = rng.random_range(0..VOICE_SMS.len());
            (t as u8, Some(number(it, m, at, nets, rng)))
        } else {
            (4, None)
        };
        out.push(Event {
            time,
            serving,
            cell,
            event_type,
            counterpart,
        });
    }
    // A border dweller's phone now and then catches a neighbour's network for a moment:
    // one or two events shortly after the day's first, while the person is at home in M.
    if let Some(neighbour) = traits.border_country
        && loc.home == m
        && rng.random_bool(0.04)
        && let Some(first) = out.iter().position(|e| e.serving == nets.operator)
    {
        let net = roaming_network(traits, nets, neighbour, rng);
        let base = out[first].time;
        for k in 0..rng.random_range(1..=2) {
            out.push(Event {
                time: base + 60 + 600 * k,
                serving: net,
                cell: None,
                event_type: 4,
                counterpart: None,
            });
        }
        out.sort_by_key(|e| e.time);
    }
}

fn weighted_hour(rng: &mut impl Rng) -> i64 {
    let total: f64 = DIURNAL.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (h, w) in DIURNAL.iter().enumerate() {
        if x < *w {
            return h as i64;
        }
        x -= w;
    }
    23
}

/// Most events come from a SIM's home cell or the ones next to it.
fn near_cell(home: u32, cells: u32, rng: &mut impl Rng) -> u32 {
    if rng.random_bool(0.7) {
        home
    } else {
        (home + rng.random_range(1..=5)) % cells
    }
}

fn roaming_network(
    traits: &mut PhoneTraits,
    nets: &Networks,
    c: CountryCode,
    rng: &mut impl Rng,
) -> u16 {
    *traits.roaming_partner.entry(c).or_insert_with(|| {
        let options = &nets.by_country[&c];
        options[rng.random_range(0..options.len())]
    })
}

/// The other party of a call or SMS: mostly someone in the country the person is in, often
/// someone in the country they are tied to (their SIM's country or their partner country).
fn number(
    it: &Itinerary,
    m: CountryCode,
    at: CountryCode,
    nets: &Networks,
    rng: &mut impl Rng,
) -> String {
    let tie = it.partner.unwrap_or(it.sim_country);
    let country = match rng.random_range(0..10) {
        0..=5 => at,
        6..=8 => tie,
        _ => m,
    };
    let prefix = &nets.dialling[&country];
    let mut s = String::with_capacity(16);
    s.push('+');
    s.push_str(prefix);
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    while s.len() < 13 {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}
