//! The functional day and its windows (docs/design.md §6), defined once.
//!
//! A phone's day does not end at midnight: the functional day begins at
//! [`FunctionalDay::start`] on the local clock (04:00 by default), so a late evening and the small
//! hours belong to one night. Ingest derives every event's functional date and minute from it,
//! the presence reduction counts night and weekday-daytime events by its windows (in Rust and in
//! its SQL definition), and classification reads those counts. One value of this type, from the
//! pipeline's `[classify.day]` section, feeds all three.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Minutes in a day.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A time on the local clock, to the minute (`"04:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    /// `hour:minute`; `None` outside 00:00–23:59.
    pub const fn new(hour: u16, minute: u16) -> Option<Self> {
        if hour < 24 && minute < 60 {
            Some(Self(hour * 60 + minute))
        } else {
            None
        }
    }

    /// Minutes after midnight.
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

/// A clock time that is not `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time of day HH:MM (00:00–23:59)")]
pub struct ClockTimeError(String);

impl FromStr for ClockTime {
    type Err = ClockTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ClockTimeError(s.to_string());
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        Self::new(h, m).ok_or_else(bad)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A window of the local clock, `from` included, `to` excluded; it wraps past midnight when
/// `to` is not after `from` (`18:00`–`08:00` is the night).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockWindow {
    /// First minute in the window.
    pub from: ClockTime,
    /// First minute after it.
    pub to: ClockTime,
}

impl ClockWindow {
    /// The window on the functional day's minutes (0 = the day's start): `(a, b)` with the
    /// window being `a ≤ m < b` when `a ≤ b`, and `m ≥ a or m < b` otherwise.
    fn on_functional_minutes(self, start: ClockTime) -> (u16, u16) {
        let shift = |t: ClockTime| (t.0 + MINUTES_PER_DAY - start.0) % MINUTES_PER_DAY;
        (shift(self.from), shift(self.to))
    }
}

/// Days of the week, Monday = bit 0 … Sunday = bit 6, written as `["mon", "tue", …]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    /// Monday to Friday.
    pub const MONDAY_TO_FRIDAY: Weekdays = Weekdays(0b001_1111);

    /// Whether day `weekday` (0 = Monday) is in the set.
    pub const fn contains(self, weekday: u8) -> bool {
        weekday < 7 && self.0 & (1 << weekday) != 0
    }

    /// The days in the set, 0 = Monday.
    pub fn days(self) -> impl Iterator<Item = u8> {
        (0..7).filter(move |d| self.contains(*d))
    }
}

impl Serialize for Weekdays {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.days().map(|d| DAY_NAMES[usize::from(d)]))
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let mut bits = 0u8;
        for n in &names {
            let i = DAY_NAMES
                .iter()
                .position(|d| d.eq_ignore_ascii_case(n))
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "{n:?} is not a day of the week (mon, tue, wed, thu, fri, sat, sun)"
                    ))
                })?;
            bits |= 1 << i;
        }
        if bits == 0 {
            return Err(serde::de::Error::custom(
                "name at least one day of the week",
            ));
        }
        Ok(Weekdays(bits))
    }
}

/// The functional day and the windows of it that presence counts (docs/design.md §6; the defaults and
/// their sources are in docs/methodology.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FunctionalDay {
    /// When a functional day begins on the local clock (04:00).
    pub start: ClockTime,
    /// The night window: events in it place the night (20:00–04:00). It leaves out the hours
    /// commuters cross at (05:00–08:00 and 16:00–20:00), so a commute cannot fake a night.
    pub night: ClockWindow,
    /// The working-daytime window (05:00–20:00), counted on [`FunctionalDay::working_days`]:
    /// shifts that start at 06:00 or end at 19:00 are inside it.
    pub daytime: ClockWindow,
    /// The days whose daytime counts as working daytime (Monday to Friday).
    pub working_days: Weekdays,
}

impl Default for FunctionalDay {
    fn default() -> Self {
        let t = |h| ClockTime::new(h, 0).expect("an hour of the day");
        Self {
            start: t(4),
            night: ClockWindow {
                from: t(20),
                to: t(4),
            },
            daytime: ClockWindow {
                from: t(5),
                to: t(20),
            },
            working_days: Weekdays::MONDAY_TO_FRIDAY,
        }
    }
}

impl FunctionalDay {
    /// Seconds from local midnight to the start of the functional day.
    pub fn start_seconds(&self) -> i64 {
        i64::from(self.start.0) * 60
    }

    /// Day of the week of a date given in days since 1970-01-01 (a Thursday), 0 = Monday.
    pub fn weekday_of(days_since_epoch: i32) -> u8 {
        (i64::from(days_since_epoch) + 3).rem_euclid(7) as u8
    }

    /// Whether an event at functional minute `minute` is in the night window.
    pub fn is_night(&self, minute: u16) -> bool {
        in_range(self.night.on_functional_minutes(self.start), minute)
    }

    /// Whether an event at functional minute `minute` of a day with weekday `weekday`
    /// (0 = Monday) is in working daytime.
    pub fn is_working_daytime(&self, weekday: u8, minute: u16) -> bool {
        self.working_days.contains(weekday)
            && in_range(self.daytime.on_functional_minutes(self.start), minute)
    }

    /// The night window as an SQL predicate on a functional-minute column.
    pub fn night_sql(&self, minute_column: &str) -> String {
        range_sql(self.night.on_functional_minutes(self.start), minute_column)
    }

    /// Working daytime as an SQL predicate on weekday (0 = Monday) and functional-minute
    /// columns.
    pub fn working_daytime_sql(&self, weekday_column: &str, minute_column: &str) -> String {
        let days: Vec<String> = self.working_days.days().map(|d| d.to_string()).collect();
        format!(
            "{weekday_column} IN ({}) AND {}",
            days.join(", "),
            range_sql(
                self.daytime.on_functional_minutes(self.start),
                minute_column
            )
        )
    }
}

fn in_range((a, b): (u16, u16), m: u16) -> bool {
    if a <= b {
        a <= m && m < b
    } else {
        m >= a || m < b
    }
}

fn range_sql((a, b): (u16, u16), column: &str) -> String {
    if a <= b {
        format!("({column} >= {a} AND {column} < {b})")
    } else {
        format!("({column} >= {a} OR {column} < {b})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_windows_are_the_designs() {
        let d = FunctionalDay::default();
        assert_eq!(d.start_seconds(), 4 * 3600);
        // Minute 0 is 04:00: 20:00 = 960, 05:00 = 60.
        assert!(!d.is_night(0) && !d.is_night(959) && d.is_night(960) && d.is_night(1439));
        assert!(!d.is_working_daytime(0, 59) && d.is_working_daytime(0, 60));
        assert!(d.is_working_daytime(4, 959) && !d.is_working_daytime(4, 960));
        assert!(!d.is_working_daytime(5, 300));
        assert_eq!(
            d.night_sql("fday_minute"),
            "(fday_minute >= 960 OR fday_minute < 0)"
        );
        assert_eq!(
            d.working_daytime_sql("weekday", "m"),
            "weekday IN (0, 1, 2, 3, 4) AND (m >= 60 AND m < 960)"
        );
        // 1970-01-01 was a Thursday; 1969-12-29 a Monday.
        assert_eq!(FunctionalDay::weekday_of(0), 3);
        assert_eq!(FunctionalDay::weekday_of(-3), 0);
    }

    #[test]
    fn windows_read_from_toml_and_wrap_midnight() {
        let d: FunctionalDay = toml::from_str(
            "start = \"05:00\"\nnight = { from = \"23:00\", to = \"05:00\" }\n\
             working_days = [\"mon\", \"sat\"]",
        )
        .unwrap();
        // 23:00 is minute 1080 after 05:00; 05:00 is minute 0.
        assert!(d.is_night(1080) && d.is_night(1439) && !d.is_night(0));
        assert!(d.is_working_daytime(5, 180) && !d.is_working_daytime(1, 180));
        assert_eq!(
            serde_json::to_string(&d.working_days).unwrap(),
            "[\"mon\",\"sat\"]"
        );
        for bad in [
            "start = \"24:00\"",
            "start = \"4\"",
            "working_days = [\"xyz\"]",
        ] {
            assert!(toml::from_str::<FunctionalDay>(bad).is_err(), "{bad}");
        }
    }
}
