//! How to read an operator's files: where they are, what their columns are called, how their
//! times are written.

use std::collections::BTreeMap;

use borderflow_core::schema::event;
use serde::{Deserialize, Serialize};

/// The canonical columns every file must have (under their mapped names).
pub(crate) const REQUIRED: [&str; 4] = [
    event::SUBSCRIBER_ID,
    event::EVENT_TIME,
    event::HOME_PLMN,
    event::SERVING_PLMN,
];
/// The canonical columns a file may have.
pub(crate) const OPTIONAL: [&str; 3] =
    [event::CELL_ID, event::EVENT_TYPE, event::COUNTERPART_NUMBER];

/// The `[input]` section of a pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Files, directories or glob patterns (`data/cdr-*.csv.gz`).
    pub paths: Vec<String>,
    /// Operator column name for each canonical column that is named differently.
    #[serde(default)]
    pub columns: ColumnMapping,
    /// How `event_time` is written.
    #[serde(default)]
    pub time_format: TimeFormat,
    /// IANA zone of times written without an offset (`%Y-%m-%d %H:%M:%S` formats). Default UTC.
    #[serde(default)]
    pub source_time_zone: Option<String>,
    /// CSV field delimiter (one byte). Default `,`.
    #[serde(default)]
    pub delimiter: Option<char>,
    /// A CSV of the operator's cells with columns `cell_id,time_zone` (IANA): events on a
    /// listed cell take its zone for local time instead of the country's principal zone.
    #[serde(default)]
    pub cell_catalogue: Option<String>,
}

impl InputConfig {
    /// The zone of the source's naive timestamps (`source_time_zone`; UTC when unset), or the
    /// name that is no IANA time zone.
    pub fn source_tz(&self) -> Result<chrono_tz::Tz, String> {
        match &self.source_time_zone {
            None => Ok(chrono_tz::UTC),
            Some(z) => z.parse().map_err(|_| z.clone()),
        }
    }
}

/// Canonical column name → the operator's column name. Canonical names not listed are
/// expected under their own name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ColumnMapping(pub BTreeMap<String, String>);

impl ColumnMapping {
    /// The operator's name of a canonical column.
    pub fn source_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.0.get(canonical).map_or(canonical, String::as_str)
    }

    /// Checks the mapping before any file is read: every key is a canonical column (a typo
    /// such as `cell_idd` would otherwise drop the column silently), and no two canonical
    /// columns read the same column of the file (one column cannot be both the time and the
    /// cell). The message names the `input.columns` key at fault.
    pub fn check(&self) -> Result<(), String> {
        let canonical: Vec<&str> = REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect();
        for key in self.0.keys() {
            if !canonical.contains(&key.as_str()) {
                return Err(format!(
                    "input.columns.{key}: no canonical column is called {key:?} (they are {})",
                    canonical.join(", ")
                ));
            }
        }
        for (i, a) in canonical.iter().enumerate() {
            for b in &canonical[i + 1..] {
                if self.source_name(a) == self.source_name(b) {
                    return Err(format!(
                        "input.columns: {a} and {b} both read the column {:?}; each canonical column needs a column of its own",
                        self.source_name(a)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How event times are written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// RFC 3339 text with an offset (`2025-07-01T08:30:00+03:00`, `…Z`), or a Parquet timestamp.
    #[default]
    Rfc3339,
    /// Seconds since the Unix epoch.
    EpochSeconds,
    /// Milliseconds since the Unix epoch.
    EpochMillis,
    /// A chrono strftime pattern without offset (`%Y-%m-%d %H:%M:%S`), read in the source zone.
    Pattern(String),
}
