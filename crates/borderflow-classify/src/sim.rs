//! One SIM's presence over a window of days: the input of the rules.

use borderflow_core::CountryCode;

/// What one SIM did in one country on one functional day: a presence row with the counterpart
/// countries summed away. Minutes count from 04:00 local (the functional day's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryDay {
    /// Day index within the window (0 = the window's first day).
    pub day: u16,
    /// Country of the network that carried the events.
    pub country: CountryCode,
    /// Events.
    pub events: u32,
    /// Of which in the night window (`[classify.day]`; 20:00–04:00 local by default).
    pub night_events: u32,
    /// Of which in working daytime (`[classify.day]`; Monday–Friday 05:00–20:00 local by
    /// default).
    pub weekday_day_events: u32,
    /// First event, minutes after 04:00 local.
    pub first_minute: u16,
    /// Last event, minutes after 04:00 local.
    pub last_minute: u16,
}

/// The calendar of a window: how many days it holds, which of them form the reference
/// look-back, and the weekday of its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Days before the look-back that are also read (the previous window, for return
    /// migrants); 0 when the store does not reach that far.
    pub history: u16,
    /// Days of the look-back; it ends with the reference period.
    pub lookback: u16,
    /// Days of the reference period itself (the look-back's last days): crossings are
    /// counted in these.
    pub period: u16,
    /// Weekday (0 = Monday) of day 0.
    pub first_weekday: u8,
}

impl Window {
    /// All days of the window, history included.
    pub fn len(&self) -> usize {
        usize::from(self.history) + usize::from(self.lookback)
    }

    /// Whether the window holds no days.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Week number of a day (weeks start on Monday; the first may be partial).
    pub fn week(&self, day: usize) -> usize {
        (day + usize::from(self.first_weekday)) / 7
    }
}

/// One SIM's presence rows over a [`Window`], sorted by day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDays {
    /// Country of the SIM's home network.
    pub sim_country: CountryCode,
    /// Presence rows, sorted by day (any order within a day).
    pub rows: Vec<CountryDay>,
}

impl SimDays {
    /// The rows of each day of the window, in day order (empty slices for unseen days).
    pub fn by_day(&self, days: usize) -> Vec<&[CountryDay]> {
        let mut out = Vec::with_capacity(days);
        let mut i = 0;
        for d in 0..days {
            let start = i;
            while i < self.rows.len() && usize::from(self.rows[i].day) == d {
                i += 1;
            }
            out.push(&self.rows[start..i]);
        }
        out
    }
}
