//! How to read an operator's files: where they are, what their columns are called, how their
//! times are written.

use std::collections::BTreeMap;

use borderflow_core::schema::event;
use serde::{Deserialize, Serialize};

use crate::expr::ColumnExpr;
use crate::profile::Profile;

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
    /// A ready mapping for a published format (`multimno-bronze`, `flowkit-calls`): its
    /// column expressions and time format, each overridden by what `columns` and
    /// `time_format` say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// How each canonical column that is not under its own name is read: a column name, or a
    /// column expression.
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
    /// The operator's cells with columns `cell_id,time_zone` (IANA), as CSV or Parquet (a
    /// MultiMNO network table with a `time_zone` column added): events on a listed cell take
    /// its zone for local time instead of the country's principal zone.
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

    /// This input with its profile applied: the profile's expression for each canonical
    /// column `columns` does not list, and its time format unless `time_format` names one
    /// other than the default (`rfc3339`). `own_plmn` is the operator's network, which the
    /// profiles give rows that carry none. Without a profile, the input as it is.
    pub fn resolved(&self, own_plmn: &str) -> InputConfig {
        let Some(profile) = self.profile else {
            return self.clone();
        };
        let mut out = self.clone();
        let mut columns = profile.columns(own_plmn);
        columns.extend(self.columns.0.clone());
        out.columns = ColumnMapping(columns);
        if self.time_format == TimeFormat::default() {
            out.time_format = profile.time_format();
        }
        out
    }

    /// The resolved mapping of every canonical column, one `key = expression` line each, as
    /// `validate` prints it.
    pub fn describe_mapping(&self) -> Vec<String> {
        REQUIRED
            .iter()
            .chain(OPTIONAL.iter())
            .map(|c| {
                let line = format!("{c} = {}", self.columns.expr(c));
                if OPTIONAL.contains(c) {
                    format!("{line}  # optional: left out where a file lacks it")
                } else {
                    line
                }
            })
            .collect()
    }
}

/// Canonical column name → how it is read from the operator's files: a column name (a
/// rename) or a [`ColumnExpr`]. Canonical names not listed are expected under their own name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ColumnMapping(pub BTreeMap<String, ColumnExpr>);

impl ColumnMapping {
    /// How a canonical column is read: as listed, or its own name.
    pub fn expr(&self, canonical: &str) -> ColumnExpr {
        self.0
            .get(canonical)
            .cloned()
            .unwrap_or_else(|| ColumnExpr::column(canonical))
    }

    /// Checks the mapping before any file is read: every key is a canonical column (a typo
    /// such as `cell_idd` would otherwise drop the column silently), every expression is well
    /// formed, and no two canonical columns read the same column of the file as it is (one
    /// column cannot be both the time and the cell). The message names the `input.columns`
    /// key at fault.
    pub fn check(&self) -> Result<(), String> {
        let canonical: Vec<&str> = REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect();
        for (key, expr) in &self.0 {
            if !canonical.contains(&key.as_str()) {
                return Err(format!(
                    "input.columns.{key}: no canonical column is called {key:?} (they are {})",
                    canonical.join(", ")
                ));
            }
            expr.check(key)?;
        }
        for (i, a) in canonical.iter().enumerate() {
            for b in &canonical[i + 1..] {
                let (ea, eb) = (self.expr(a), self.expr(b));
                if let (Some(ca), Some(cb)) = (ea.plain_column(), eb.plain_column())
                    && ca == cb
                {
                    return Err(format!(
                        "input.columns: {a} and {b} both read the column {ca:?}; each canonical column needs a column of its own"
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
    /// ISO 8601 text as databases and Spark export it: date and time apart by `T` or a
    /// space, optional fractions of a second, an offset (`Z`, `+03`, `+0300`, `+03:00`) or
    /// none (then read in `source_time_zone`). MultiMNO's `2023-01-07 02:48:38`, PostgreSQL's
    /// `2016-01-01 12:04:00+00`.
    Iso8601,
    /// A chrono strftime pattern without offset (`%Y-%m-%d %H:%M:%S`), read in the source zone.
    Pattern(String),
}
