//! The Arrow schemas that cross stage boundaries, with their column names as constants: the
//! canonical events (docs/design.md §4), the presence store, the classified facts and the synthetic
//! ground truth. A stage that reads another's output names its columns through these
//! constants, so a rename breaks the build, not a manifest.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names of the canonical event table, in schema order.
pub mod event {
    /// IMSI, MSISDN or operator id; pseudonymised at ingest and never written afterwards.
    pub const SUBSCRIBER_ID: &str = "subscriber_id";
    /// Instant of the event, UTC.
    pub const EVENT_TIME: &str = "event_time";
    /// MCC+MNC of the SIM's home network.
    pub const HOME_PLMN: &str = "home_plmn";
    /// MCC+MNC of the network that carried the event.
    pub const SERVING_PLMN: &str = "serving_plmn";
    /// Serving cell, joined to an optional cell catalogue.
    pub const CELL_ID: &str = "cell_id";
    /// call_out, call_in, sms_out, sms_in, data, …
    pub const EVENT_TYPE: &str = "event_type";
    /// E.164 number of the other party; only its country is kept.
    pub const COUNTERPART_NUMBER: &str = "counterpart_number";
}

/// The canonical event schema: required columns are non-nullable. Instants are milliseconds,
/// the finest unit Parquet readers (DuckDB, pandas, Spark) all read as timestamps; Parquet has
/// no second-precision timestamp.
pub fn event_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(event::SUBSCRIBER_ID, DataType::Utf8, false),
        Field::new(
            event::EVENT_TIME,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new(event::HOME_PLMN, DataType::Utf8, false),
        Field::new(event::SERVING_PLMN, DataType::Utf8, false),
        Field::new(event::CELL_ID, DataType::Utf8, true),
        Field::new(event::EVENT_TYPE, DataType::Utf8, true),
        Field::new(event::COUNTERPART_NUMBER, DataType::Utf8, true),
    ]))
}

/// Column names of the synthetic world's ground truth: one row per SIM.
pub mod truth {
    /// The SIM's raw subscriber id, as in the events (synthetic data only).
    pub const SUBSCRIBER_ID: &str = "subscriber_id";
    /// The persona that generated the SIM's behaviour.
    pub const PERSONA: &str = "persona";
    /// The SIM's true category for the scenario's reference period.
    pub const CATEGORY: &str = "category";
    /// The partner country of that category (alpha-3), null for residents.
    pub const PARTNER_COUNTRY: &str = "partner_country";
    /// Alpha-3 country of the SIM's home network.
    pub const SIM_COUNTRY: &str = "sim_country";
    /// Alpha-3 country of the SIM holder's usual residence.
    pub const RESIDENCE_COUNTRY: &str = "residence_country";
    /// Nights the holder truly spent in the measuring country during the look-back window.
    pub const NIGHTS_IN_M: &str = "nights_in_m";
    /// The border effects the SIM's records carry, comma-separated (`spillover`,
    /// `night_silent`, `weekly`, `late_return`), empty for none: what evaluation reports
    /// recall by.
    pub const EFFECTS: &str = "effects";
}

/// The ground-truth schema of a synthetic world.
pub fn truth_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(truth::SUBSCRIBER_ID, DataType::Utf8, false),
        Field::new(truth::PERSONA, DataType::Utf8, false),
        Field::new(truth::CATEGORY, DataType::Utf8, false),
        Field::new(truth::PARTNER_COUNTRY, DataType::Utf8, true),
        Field::new(truth::SIM_COUNTRY, DataType::Utf8, false),
        Field::new(truth::RESIDENCE_COUNTRY, DataType::Utf8, false),
        Field::new(truth::NIGHTS_IN_M, DataType::UInt16, false),
        Field::new(truth::EFFECTS, DataType::Utf8, false),
    ]))
}

/// The presence store: one row per SIM, functional local date, serving country and
/// counterpart country; the date is the partition (`local_date=YYYY-MM-DD/`).
pub mod presence {
    /// 16-byte keyed pseudonym of the SIM.
    pub const PSEUDONYM: &str = "pseudonym";
    /// Alpha-3 country of the SIM's home network.
    pub const SIM_COUNTRY: &str = "sim_country";
    /// Alpha-3 country of the network that carried the events.
    pub const COUNTRY: &str = "country";
    /// Country of the other party of calls and SMS; null otherwise.
    pub const COUNTERPART_COUNTRY: &str = "counterpart_country";
    /// Events.
    pub const EVENTS: &str = "events";
    /// Of which in the night window.
    pub const NIGHT_EVENTS: &str = "night_events";
    /// Of which in working daytime.
    pub const WEEKDAY_DAY_EVENTS: &str = "weekday_day_events";
    /// First event, minutes after the functional day's start.
    pub const FIRST_MINUTE: &str = "first_minute";
    /// Last event, minutes after the functional day's start.
    pub const LAST_MINUTE: &str = "last_minute";
    /// The functional local date: the partition column, in the directory name.
    pub const LOCAL_DATE: &str = "local_date";
    /// Directory name of a date's partition: this prefix, then the date (`YYYY-MM-DD`).
    pub const PARTITION_PREFIX: &str = "local_date=";
    /// The file of a partition.
    pub const PART_FILE: &str = "part-0.parquet";
    /// The order of the rows in each file the local engine writes: by [`PSEUDONYM`] (its
    /// bytes, unsigned, first byte first), then [`COUNTRY`], [`SIM_COUNTRY`] and
    /// [`COUNTERPART_COUNTRY`]. The files declare the first of these in their Parquet
    /// metadata (`sorting_columns`). Classification merges a window's files in this order
    /// instead of regrouping their rows; a file in any other order (written by an earlier
    /// version or another engine) is still read, at the cost of sorting it.
    pub const STORE_ORDER: [&str; 4] = [PSEUDONYM, COUNTRY, SIM_COUNTRY, COUNTERPART_COUNTRY];
}

/// Schema of the presence store's files (the date is in the directory name).
pub fn presence_schema() -> SchemaRef {
    use presence::*;
    Arc::new(Schema::new(vec![
        Field::new(PSEUDONYM, DataType::FixedSizeBinary(16), false),
        Field::new(SIM_COUNTRY, DataType::Utf8, false),
        Field::new(COUNTRY, DataType::Utf8, false),
        Field::new(COUNTERPART_COUNTRY, DataType::Utf8, true),
        Field::new(EVENTS, DataType::Int32, false),
        Field::new(NIGHT_EVENTS, DataType::Int32, true),
        Field::new(WEEKDAY_DAY_EVENTS, DataType::Int32, true),
        Field::new(FIRST_MINUTE, DataType::UInt16, true),
        Field::new(LAST_MINUTE, DataType::UInt16, true),
    ]))
}

/// The classified facts of a period (`state/classified/<period>/`): `sims.parquet`, one row
/// per SIM, and `crossings.parquet`, one row per SIM and directed pair. Operator-side only.
pub mod facts {
    /// The per-SIM file.
    pub const SIMS_FILE: &str = "sims.parquet";
    /// The per-crossing file.
    pub const CROSSINGS_FILE: &str = "crossings.parquet";
    /// The classify run's report.
    pub const SUMMARY_FILE: &str = "summary.json";
    /// 16-byte keyed pseudonym of the SIM (both files).
    pub const PSEUDONYM: &str = "pseudonym";
    /// Alpha-3 country of the SIM's home network.
    pub const SIM_COUNTRY: &str = "sim_country";
    /// Alpha-3 country of usual residence.
    pub const RESIDENCE: &str = "residence";
    /// Category code; null when not classified ([`UNCLASSIFIED_REASON`] says why).
    pub const CATEGORY: &str = "category";
    /// Alpha-3 partner country; null for residents and the unclassified.
    pub const PARTNER_COUNTRY: &str = "partner_country";
    /// Nights placed in the measuring country in the look-back.
    pub const NIGHTS_IN_M: &str = "nights_in_m";
    /// Days with any event in the look-back.
    pub const DAYS_SEEN: &str = "days_seen";
    /// Whether the category rests on a spell still open at the period's end.
    pub const OPEN_SPELL: &str = "open_spell";
    /// Why the SIM is not classified (a [`crate::Unclassified`] code); null when it is.
    pub const UNCLASSIFIED_REASON: &str = "unclassified_reason";
    /// Country the crossing left (crossings file).
    pub const FROM_COUNTRY: &str = "from_country";
    /// Country the crossing entered (crossings file).
    pub const TO_COUNTRY: &str = "to_country";
}

/// Schema of `sims.parquet`.
pub fn facts_sims_schema() -> SchemaRef {
    use facts::*;
    Arc::new(Schema::new(vec![
        Field::new(PSEUDONYM, DataType::FixedSizeBinary(16), false),
        Field::new(SIM_COUNTRY, DataType::Utf8, false),
        Field::new(RESIDENCE, DataType::Utf8, false),
        Field::new(CATEGORY, DataType::Utf8, true),
        Field::new(PARTNER_COUNTRY, DataType::Utf8, true),
        Field::new(NIGHTS_IN_M, DataType::Int32, false),
        Field::new(DAYS_SEEN, DataType::Int32, false),
        Field::new(OPEN_SPELL, DataType::Boolean, false),
        Field::new(UNCLASSIFIED_REASON, DataType::Utf8, true),
    ]))
}

/// Schema of `crossings.parquet`.
pub fn facts_crossings_schema() -> SchemaRef {
    use facts::*;
    Arc::new(Schema::new(vec![
        Field::new(PSEUDONYM, DataType::FixedSizeBinary(16), false),
        Field::new(FROM_COUNTRY, DataType::Utf8, false),
        Field::new(TO_COUNTRY, DataType::Utf8, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_schema_marks_the_required_columns() {
        let s = event_schema();
        let required: Vec<_> = s
            .fields()
            .iter()
            .filter(|f| !f.is_nullable())
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            required,
            ["subscriber_id", "event_time", "home_plmn", "serving_plmn"]
        );
    }
}
