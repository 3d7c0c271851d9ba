//! # borderflow-presence
//!
//! Daily presence: one row per (pseudonym, functional local date) with the facts classification
//! needs, and the store that keeps those rows between runs.
//!
//! - [`Reduction`] is the reduction from accepted events to daily presence on one machine:
//!   events bucketed by date, then each date aggregated in a cache-sized table and written as
//!   its own file, under a memory budget (spilling, and several passes for a date too large).
//! - [`reduce_sql`] is the same reduction as a DataFusion plan: its definition, the form a
//!   cluster engine runs, and what tests hold [`Reduction`] to, row for row.
//! - [`PresenceStore`] is the on-disk store under the state directory: Parquet partitioned by
//!   date (`local_date=YYYY-MM-DD/`), stamped with the fingerprint of the key that made its
//!   pseudonyms and bound to one measuring country, operator and ledger. Each delivery (one
//!   ingest run) adds its own file to every date it gives rows to (`part-<delivery>.parquet`),
//!   so files cut at any instant add up; readers merge a date's files (classification sums
//!   them). The register of deliveries ([`DeliveryRegister`]) knows every file content taken,
//!   by digest, so the same content delivered again adds nothing. [`PresenceStore::retain_from`]
//!   drops dates older than the look-back of the period being released.
//!
//! Presence rows are long: one row per SIM, functional local date, serving country and
//! counterpart country (null for data sessions and unknown numbers). A SIM-day is the group of
//! its rows. The long form needs only primitive aggregates: in DataFusion, on 56 k SIM-days it
//! took 18 ms where the nested form (one row per SIM-day with `array_agg` of structs) took
//! 2.5 s and gigabytes of memory (see docs/architecture.md).
//!
//! | column | meaning |
//! |---|---|
//! | `pseudonym` | 16-byte keyed pseudonym of the SIM |
//! | `sim_country` | alpha-3 country of the SIM's home network |
//! | `country` | alpha-3 country of the network that carried the events |
//! | `counterpart_country` | country of the other party of calls and SMS; null otherwise |
//! | `events` | events |
//! | `night_events` | of which in the night window (20:00–04:00 local by default) |
//! | `weekday_day_events` | of which in working daytime (Monday–Friday 05:00–20:00 local by default) |
//! | `first_minute`, `last_minute` | first and last event, minutes after the functional day's start (04:00 local by default) |
//! | `local_date` | the functional local date (partition column, in the directory name) |
//!
//! ```
//! use borderflow_core::FunctionalDay;
//!
//! // The reduction's definition counts the night window of the functional day it is given.
//! let sql = borderflow_presence::reduce_sql(&FunctionalDay::default());
//! assert!(sql.contains("(fday_minute >= 960 OR fday_minute < 0)"));
//! ```

mod reduce;
mod store;

use borderflow_core::FunctionalDay;
pub use borderflow_core::schema::presence_schema;
pub use reduce::{PresenceShard, ReduceError, ReduceSummary, Reduction, ShardParts};
pub use store::{
    DeliveredFile, Delivery, DeliveryRegister, DeliveryState, PresenceStore, StoreBinding,
    StoreError, TakenFile, segment_file,
};

/// The reduction from accepted events (a table named `events` of
/// [`borderflow_core::accepted_schema`]) to presence rows, ordered by date, as a DataFusion
/// plan: the definition [`Reduction`] is tested against, and the form a cluster engine runs.
/// Night and working-daytime events are counted by `day`'s windows on the functional day's
/// minute (0 = the day's start; by default 04:00 local, so the night from 20:00 starts at
/// minute 960 and working daytime from 05:00 at minute 60).
pub fn reduce_sql(day: &FunctionalDay) -> String {
    use borderflow_core::accepted::column as e;
    use borderflow_core::schema::presence as p;
    format!(
        "
SELECT {pseudonym} AS {p_pseudonym},
       {sim_country} AS {p_sim_country},
       {serving} AS {p_country},
       {counterpart} AS {p_counterpart},
       CAST(count(*) AS INT) AS {p_events},
       CAST(sum(CASE WHEN {night} THEN 1 ELSE 0 END) AS INT) AS {p_night},
       CAST(sum(CASE WHEN {daytime} THEN 1 ELSE 0 END) AS INT) AS {p_daytime},
       min({minute}) AS {p_first},
       max({minute}) AS {p_last},
       {date} AS {p_date}
FROM events
GROUP BY {pseudonym}, {date}, {sim_country}, {serving}, {counterpart}
ORDER BY {date}
",
        pseudonym = e::PSEUDONYM,
        sim_country = e::SIM_COUNTRY,
        serving = e::SERVING_COUNTRY,
        counterpart = e::COUNTERPART_COUNTRY,
        minute = e::FDAY_MINUTE,
        date = e::LOCAL_DATE,
        night = day.night_sql(e::FDAY_MINUTE),
        daytime = day.working_daytime_sql(e::WEEKDAY, e::FDAY_MINUTE),
        p_pseudonym = p::PSEUDONYM,
        p_sim_country = p::SIM_COUNTRY,
        p_country = p::COUNTRY,
        p_counterpart = p::COUNTERPART_COUNTRY,
        p_events = p::EVENTS,
        p_night = p::NIGHT_EVENTS,
        p_daytime = p::WEEKDAY_DAY_EVENTS,
        p_first = p::FIRST_MINUTE,
        p_last = p::LAST_MINUTE,
        p_date = p::LOCAL_DATE,
    )
}
