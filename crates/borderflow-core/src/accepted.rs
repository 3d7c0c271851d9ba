//! The hand-off from ingest to presence: one accepted event, reduced to what daily presence
//! needs. Ingest produces it, the presence reduction consumes it; neither owns it, so neither
//! depends on the other.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, FixedSizeBinaryBuilder, RecordBatch, StringBuilder, UInt8Builder,
    UInt16Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::pseudonym::PSEUDONYM_BYTES;
use crate::sims::{PseudonymOf, SimNumber};
use crate::{CountryCode, FunctionalDay};

/// One accepted event: pseudonymised, countries resolved, local time derived. 20 bytes, `Copy`,
/// no allocation per event. The event time, type and cell are read at ingest (they identify
/// duplicates and pick the time zone) but not carried on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedEvent {
    /// The SIM's number in this run ([`crate::SimRegistry`]); its pseudonym is the registry's.
    pub sim: SimNumber,
    /// The functional local date (the day that began at [`FunctionalDay::start`] local),
    /// days since 1970-01-01.
    pub local_date: i32,
    /// Minutes since the functional day began (0 = the day's start).
    pub fday_minute: u16,
    /// Country of the SIM's home network.
    pub sim_country: CountryCode,
    /// Country of the network that carried the event.
    pub serving_country: CountryCode,
    /// Country of the other party of a call or SMS; `None` for data and unknown numbers.
    pub counterpart_country: Option<CountryCode>,
}

impl AcceptedEvent {
    /// Day of the week of the functional date, 0 = Monday.
    pub fn weekday(&self) -> u8 {
        FunctionalDay::weekday_of(self.local_date)
    }
}

/// Column names of the accepted-event table (the `events` table of the reduction's plan).
pub mod column {
    /// The SIM's 16-byte pseudonym.
    pub const PSEUDONYM: &str = "pseudonym";
    /// Alpha-3 country of the SIM's home network.
    pub const SIM_COUNTRY: &str = "sim_country";
    /// Alpha-3 country of the network that carried the event.
    pub const SERVING_COUNTRY: &str = "serving_country";
    /// The functional local date.
    pub const LOCAL_DATE: &str = "local_date";
    /// Minutes since the functional day began.
    pub const FDAY_MINUTE: &str = "fday_minute";
    /// Day of the week of the functional date, 0 = Monday.
    pub const WEEKDAY: &str = "weekday";
    /// Alpha-3 country of the other party, null for data and unknown numbers.
    pub const COUNTERPART_COUNTRY: &str = "counterpart_country";
}

/// Schema of [`accepted_batch`].
pub fn accepted_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            column::PSEUDONYM,
            DataType::FixedSizeBinary(PSEUDONYM_BYTES),
            false,
        ),
        Field::new(column::SIM_COUNTRY, DataType::Utf8, false),
        Field::new(column::SERVING_COUNTRY, DataType::Utf8, false),
        Field::new(column::LOCAL_DATE, DataType::Date32, false),
        Field::new(column::FDAY_MINUTE, DataType::UInt16, false),
        Field::new(column::WEEKDAY, DataType::UInt8, false),
        Field::new(column::COUNTERPART_COUNTRY, DataType::Utf8, true),
    ]))
}

/// Accepted events as an Arrow batch of [`accepted_schema`]: the `events` table of the
/// reference reduction (`borderflow_presence::reduce_sql`) and a convenient form to inspect.
pub fn accepted_batch(events: &[AcceptedEvent], sims: &impl PseudonymOf) -> RecordBatch {
    let n = events.len();
    let mut pseudonym = FixedSizeBinaryBuilder::with_capacity(n, PSEUDONYM_BYTES);
    let mut sim = StringBuilder::with_capacity(n, n * 3);
    let mut serving = StringBuilder::with_capacity(n, n * 3);
    let mut date = Date32Builder::with_capacity(n);
    let mut minute = UInt16Builder::with_capacity(n);
    let mut weekday = UInt8Builder::with_capacity(n);
    let mut counterpart = StringBuilder::with_capacity(n, n * 3);
    for e in events {
        pseudonym
            .append_value(sims.pseudonym_of(e.sim).0)
            .expect("16 bytes");
        sim.append_value(e.sim_country.as_str());
        serving.append_value(e.serving_country.as_str());
        date.append_value(e.local_date);
        minute.append_value(e.fday_minute);
        weekday.append_value(e.weekday());
        counterpart.append_option(e.counterpart_country.as_ref().map(CountryCode::as_str));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(pseudonym.finish()),
        Arc::new(sim.finish()),
        Arc::new(serving.finish()),
        Arc::new(date.finish()),
        Arc::new(minute.finish()),
        Arc::new(weekday.finish()),
        Arc::new(counterpart.finish()),
    ];
    RecordBatch::try_new(accepted_schema(), columns).expect("columns match schema")
}
