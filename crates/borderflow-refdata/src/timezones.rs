//! The principal IANA time zone of each country, for local time where no cell catalogue says
//! better.

use std::collections::BTreeMap;

use borderflow_core::CountryCode;
use chrono_tz::Tz;

use crate::csvload::{RefDataError, country, load_table};

pub(crate) const EMBEDDED: &str = include_str!("../data/timezones.csv");

/// Country → principal time zone (where most people live; tzdata's zone.tab otherwise).
#[derive(Debug, Clone)]
pub struct TimeZones {
    zones: BTreeMap<CountryCode, Tz>,
}

impl TimeZones {
    pub(crate) fn load(
        user: Option<(String, String)>,
        known: &dyn Fn(CountryCode) -> bool,
    ) -> Result<Self, RefDataError> {
        let zones = load_table(
            "timezones.csv",
            EMBEDDED,
            user,
            &["alpha3", "time_zone"],
            |row| {
                let c = country(row, 0, known)?;
                let tz: Tz = row
                    .get(1)
                    .parse()
                    .map_err(|_| row.error(format!("unknown IANA time zone {:?}", row.get(1))))?;
                Ok((c, tz))
            },
        )?;
        Ok(Self { zones })
    }

    /// The principal zone of `country`, if listed.
    pub fn of(&self, country: CountryCode) -> Option<Tz> {
        self.zones.get(&country).copied()
    }
}
