//! # borderflow-presence
//!
//! Daily presence: one row per (pseudonym, functional local date) with the facts classification
//! needs, and the store that keeps those rows between runs.
//!
//! - [`Reduction`] is the reduction from accepted events to daily presence on one machine:
//!   events bucketed by date, then each date aggregated in a cache-sized table and written as
//!   its own file, under a memory budget (spilling, and several passes for a date too large).
//! - [`REDUCE_SQL`] is the same reduction as a DataFusion plan: its definition, the form a
//!   cluster engine runs, and what tests hold [`Reduction`] to, row for row.
//! - [`PresenceStore`] is the on-disk store under the state directory: Parquet partitioned by
//!   date (`local_date=YYYY-MM-DD/`), stamped with the fingerprint of the key that made its
//!   pseudonyms. A run whose key differs is refused, a re-ingested date replaces its partition
//!   atomically, and [`PresenceStore::retain`] drops dates older than the look-back window.
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
//! | `night_events` | of which 18:00–08:00 local |
//! | `weekday_day_events` | of which Monday–Friday 08:00–17:00 local |
//! | `first_minute`, `last_minute` | first and last event, minutes after 04:00 local |
//! | `local_date` | the functional local date (partition column, in the directory name) |

mod reduce;
mod store;

pub use reduce::{
    PresenceShard, ReduceError, ReduceSummary, Reduction, ShardParts, presence_schema,
};
pub use store::{PresenceStore, StoreError};

/// The reduction from accepted events (a table named `events` of
/// [`borderflow_ingest::accepted_schema`]) to presence rows, ordered by date, as a DataFusion
/// plan: the definition [`Reduction`] is tested against. Night and weekday-daytime windows are
/// counted on the functional day's minute (0 = 04:00 local): 18:00 = 840, 08:00 = 240,
/// 17:00 = 780.
pub const REDUCE_SQL: &str = "
SELECT pseudonym,
       sim_country,
       serving_country AS country,
       counterpart_country,
       CAST(count(*) AS INT) AS events,
       CAST(sum(CASE WHEN fday_minute >= 840 OR fday_minute < 240 THEN 1 ELSE 0 END) AS INT)
           AS night_events,
       CAST(sum(CASE WHEN weekday < 5 AND fday_minute >= 240 AND fday_minute < 780
                     THEN 1 ELSE 0 END) AS INT) AS weekday_day_events,
       min(fday_minute) AS first_minute,
       max(fday_minute) AS last_minute,
       local_date
FROM events
GROUP BY pseudonym, local_date, sim_country, serving_country, counterpart_country
ORDER BY local_date
";
