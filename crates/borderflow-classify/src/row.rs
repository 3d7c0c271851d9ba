//! One presence row of a SIM as the rules read it — a country on a day of the window, with its
//! counts and first and last minutes — checked into a [`CountryDay`]. The local plan and the
//! cluster's aggregate both read rows through it, by the presence schema's column names, so a
//! row means one thing whichever engine read it.

use borderflow_core::CountryCode;

use crate::sim::{CountryDay, Window};

/// A presence row as read, before it is checked: each count as the query returned it, a null
/// read as -1. Its country is already read ([`country`]): the local plan reads each distinct
/// code of a store file's dictionary once, not once per row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PresenceRow {
    /// The serving country.
    pub country: CountryCode,
    /// Events on the day in that country.
    pub events: i32,
    /// Of which in the night window.
    pub night_events: i32,
    /// Of which in working daytime on a weekday.
    pub weekday_day_events: i32,
    /// The day's first functional minute there.
    pub first_minute: i32,
    /// The day's last functional minute there.
    pub last_minute: i32,
    /// The day's index in the window.
    pub day: i32,
}

/// A presence row that does not hold what ingest writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("presence store row for {field}: {message}")]
pub struct BadRow {
    /// The column at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl PresenceRow {
    /// The row as a [`CountryDay`] of `window`: a day inside the window, counts not negative,
    /// minutes inside the functional day.
    pub fn check(self, window: Window) -> Result<CountryDay, BadRow> {
        let day = u16::try_from(self.day)
            .ok()
            .filter(|d| usize::from(*d) < window.len())
            .ok_or_else(|| BadRow {
                field: "local_date",
                message: format!("day {} outside the window", self.day),
            })?;
        let count = |v: i32, field| {
            u32::try_from(v).map_err(|_| BadRow {
                field,
                message: format!("negative count {v}"),
            })
        };
        let minute = |v: i32, field| {
            // Messages are built only for a bad row: this runs for every row of the store.
            u16::try_from(v)
                .ok()
                .filter(|m| *m < 1500)
                .ok_or_else(|| BadRow {
                    field,
                    message: format!("minute {v} outside the day"),
                })
        };
        Ok(CountryDay {
            day,
            country: self.country,
            events: count(self.events, "events")?,
            night_events: count(self.night_events, "night_events")?,
            weekday_day_events: count(self.weekday_day_events, "weekday_day_events")?,
            first_minute: minute(self.first_minute, "first_minute")?,
            last_minute: minute(self.last_minute, "last_minute")?,
        })
    }
}

/// A country code read from column `field`.
pub(crate) fn country(s: &str, field: &'static str) -> Result<CountryCode, BadRow> {
    s.parse().map_err(|_| BadRow {
        field,
        message: format!("{s:?} is not a country code"),
    })
}
