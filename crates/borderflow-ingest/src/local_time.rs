//! UTC offsets of time zones at instants, cached by zone and UTC day.
//!
//! Every accepted event needs its local time. Asking chrono-tz each time costs a search of the
//! zone's transitions; a cache keyed by zone and hour missed on most rows of a file sorted by
//! subscriber (its events are hours apart). Here a direct-mapped cache holds, per zone and UTC
//! day, the day's offset when it is the same at both ends of the day — every day but the few
//! with a transition, whose events are computed exactly, to the second.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

/// Cache slots (a power of two): zones × days in use at once, with room to spare.
const SLOTS: usize = 4096;

/// The offset changes during the day: compute each instant.
const VARIES: i32 = i32::MIN;

#[derive(Clone, Copy)]
struct Slot {
    zone: u16,
    day: i64,
    offset: i32,
}

/// UTC offsets by zone and instant, cached.
pub struct UtcOffsets {
    slots: Vec<Slot>,
}

impl Default for UtcOffsets {
    fn default() -> Self {
        Self {
            slots: vec![
                Slot {
                    zone: u16::MAX,
                    day: 0,
                    offset: 0,
                };
                SLOTS
            ],
        }
    }
}

/// Seconds to add to UTC for local time in `tz` at `time` (seconds since the epoch, within
/// chrono's range).
fn exact(tz: Tz, time: i64) -> i32 {
    let at = chrono::DateTime::from_timestamp(time, 0)
        .expect("event times are checked to lie in years 1000-9999")
        .naive_utc();
    tz.offset_from_utc_datetime(&at).fix().local_minus_utc()
}

impl UtcOffsets {
    /// Seconds to add to UTC for local time in `tz` at `time`.
    pub fn at(&mut self, tz: Tz, time: i64) -> i64 {
        let day = time.div_euclid(86_400);
        let zone = tz as u16;
        let mixed = (u64::from(zone) << 40 ^ day as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.slots[(mixed >> (64 - SLOTS.trailing_zeros())) as usize];
        if slot.zone != zone || slot.day != day {
            let start = exact(tz, day * 86_400);
            let end = exact(tz, day * 86_400 + 86_399);
            *slot = Slot {
                zone,
                day,
                offset: if start == end { start } else { VARIES },
            };
        }
        i64::from(if slot.offset == VARIES {
            exact(tz, time)
        } else {
            slot.offset
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
}
