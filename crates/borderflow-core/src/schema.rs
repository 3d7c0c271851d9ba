//! Canonical Arrow schemas (DESIGN §4) shared by ingest, the synthetic world and tests.

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
