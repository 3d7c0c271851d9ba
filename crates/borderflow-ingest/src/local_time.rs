//! UTC offsets of time zones at instants, remembered per zone and UTC day.
//!
//! Every accepted event needs its local time. Asking chrono-tz each time costs a search of the
//! zone's transitions. Here each zone in use keeps a table of its days' offsets over a span of
//! up to [`SPAN_DAYS`] days, filled as days are met: the day's offset when it is the same at
//! both ends of the day — every day but the few with a transition, whose events are computed
//! exactly, to the second. A lookup is an index into the zone's table; a direct-mapped cache
//! keyed by zone and day, used before, missed often on files sorted by subscriber (a year of
//! days times a dozen zones filled its slots) and took a twelfth of the reading threads' time.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

/// Days a zone's table covers at most: four years, whatever the input's span. A row further
/// away than that from the table's first day starts the table afresh around its own day.
pub const SPAN_DAYS: i64 = 4 * 366;

/// Not yet computed.
const UNKNOWN: i32 = i32::MAX;

/// The offset changes during the day: compute each instant.
const VARIES: i32 = i32::MIN;

/// One zone's offsets, by UTC day from `first_day`.
#[derive(Default)]
struct ZoneDays {
    first_day: i64,
    offsets: Vec<i32>,
}

/// UTC offsets by zone and instant, remembered.
#[derive(Default)]
pub struct UtcOffsets {
    /// Indexed by the zone's number in chrono-tz.
    zones: Vec<ZoneDays>,
}

/// Seconds to add to UTC for local time in `tz` at `time` (seconds since the epoch, within
/// chrono's range).
fn exact(tz: Tz, time: i64) -> i32 {
    let at = chrono::DateTime::from_timestamp(time, 0)
        .expect("event times are checked to lie in years 1000-9999")
        .naive_utc();
    tz.offset_from_utc_datetime(&at).fix().local_minus_utc()
}

/// The offset of `tz` all through UTC day `day`, or [`VARIES`].
fn day_offset(tz: Tz, day: i64) -> i32 {
    let start = exact(tz, day * 86_400);
    let end = exact(tz, day * 86_400 + 86_399);
    if start == end { start } else { VARIES }
}

impl UtcOffsets {
    /// Seconds to add to UTC for local time in `tz` at `time`.
    #[inline]
    pub fn at(&mut self, tz: Tz, time: i64) -> i64 {
        let day = time.div_euclid(86_400);
        if let Some(zone) = self.zones.get(tz as usize) {
            let index = day.wrapping_sub(zone.first_day);
            if let Some(&offset) = usize::try_from(index)
                .ok()
                .and_then(|i| zone.offsets.get(i))
                && offset != UNKNOWN
                && offset != VARIES
            {
                return i64::from(offset);
            }
        }
        self.miss(tz, day, time)
    }

    /// [`Self::at`] for a day not in the zone's table yet, or with a transition.
    #[cold]
    fn miss(&mut self, tz: Tz, day: i64, time: i64) -> i64 {
        let z = tz as usize;
        if self.zones.len() <= z {
            self.zones.resize_with(z + 1, ZoneDays::default);
        }
        let zone = &mut self.zones[z];
        if zone.offsets.is_empty() {
            zone.first_day = day;
        }
        let last_day = zone.first_day + zone.offsets.len() as i64 - 1;
        let (from, to) = (zone.first_day.min(day), last_day.max(day));
        if to - from >= SPAN_DAYS {
            zone.first_day = day;
            zone.offsets.clear();
        } else if day < zone.first_day {
            let before = (zone.first_day - day) as usize;
            zone.offsets
                .splice(0..0, std::iter::repeat_n(UNKNOWN, before));
            zone.first_day = day;
        }
        let index = (day - zone.first_day) as usize;
        if zone.offsets.len() <= index {
            zone.offsets.resize(index + 1, UNKNOWN);
        }
        let slot = &mut zone.offsets[index];
        if *slot == UNKNOWN {
            *slot = day_offset(tz, day);
        }
        i64::from(if *slot == VARIES {
            exact(tz, time)
        } else {
            *slot
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn offsets_are_exact_on_either_side_of_a_transition() {
        let mut o = UtcOffsets::default();
        let london: Tz = "Europe/London".parse().unwrap();
        // BST began at 01:00 UTC on 30 March 2025.
        assert_eq!(o.at(london, ts("2025-03-30T00:59:59Z")), 0);
        assert_eq!(o.at(london, ts("2025-03-30T01:00:00Z")), 3600);
        assert_eq!(o.at(london, ts("2025-03-30T00:59:59Z")), 0);
        assert_eq!(o.at(london, ts("2025-07-01T12:00:00Z")), 3600);
        let nairobi: Tz = "Africa/Nairobi".parse().unwrap();
        assert_eq!(o.at(nairobi, ts("2025-03-30T00:59:59Z")), 3 * 3600);
        let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
        assert_eq!(
            o.at(kathmandu, ts("2025-03-30T12:00:00Z")),
            5 * 3600 + 45 * 60
        );
        // Every instant of a year agrees with chrono-tz.
        for zone in [london, nairobi, "America/Santiago".parse().unwrap()] {
            for h in (0..366 * 24).step_by(7) {
                let t = ts("2025-01-01T00:00:00Z") + h * 3600 + 1234;
                assert_eq!(o.at(zone, t), i64::from(exact(zone, t)), "{zone} {t}");
            }
        }
    }

    #[test]
    fn offsets_stay_exact_in_any_order_and_over_any_span() {
        let mut o = UtcOffsets::default();
        let london: Tz = "Europe/London".parse().unwrap();
        // Backwards through a year, then rows decades apart (each past the table's span), then
        // back to the first year.
        let start = ts("2025-01-01T00:00:00Z");
        let backwards = (0..366 * 24)
            .rev()
            .step_by(5)
            .map(|h| start + h * 3600 + 59);
        let far = [
            "1901-06-01T12:00:00Z",
            "2025-07-01T00:30:00Z",
            "2099-10-31T01:30:00Z",
        ]
        .map(ts);
        for t in backwards.chain(far).chain([start + 86_400 * 200]) {
            assert_eq!(o.at(london, t), i64::from(exact(london, t)), "{t}");
        }
        assert!(
            o.zones[london as usize].offsets.len() as i64 <= SPAN_DAYS,
            "a zone's table stays within its span"
        );
    }
}
