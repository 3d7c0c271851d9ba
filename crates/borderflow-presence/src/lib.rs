//! # borderflow-presence
//!
//! Daily presence: one row per (pseudonym, functional local date) with the facts classification
//! needs, and the store that keeps those rows between runs.
//!
//! - [`REDUCE_SQL`] is the reduction from accepted events to daily presence, a DataFusion SQL
//!   plan so the same reduction runs on one machine (with spilling) or on a cluster.
//! - [`PresenceStore`] is the on-disk store under the state directory: Parquet partitioned by
//!   date (`local_date=YYYY-MM-DD/`), stamped with the fingerprint of the key that made its
//!   pseudonyms. A run whose key differs is refused, a re-ingested date replaces its partition
//!   atomically, and [`PresenceStore::retain`] drops dates older than the look-back window.
//!
//! Presence columns (partition column `local_date` in the directory name):
//!
//! | column | meaning |
//! |---|---|
//! | `pseudonym` | 16-byte keyed pseudonym of the SIM |
//! | `sim_country` | alpha-3 country of the SIM's home network |
//! | `events` | events that day |
//! | `countries` | list of `{country, events, night_events, weekday_day_events}`: every country whose network carried an event that day; night = 18:00–08:00 local, weekday daytime = Monday–Friday 08:00–17:00 local |
//! | `counterpart_countries` | distinct countries of the other parties of calls and SMS |
//! | `first_minute`, `last_minute` | first and last event, minutes after 04:00 local |

mod store;

pub use store::{PresenceStore, StoreError};

/// The reduction from accepted events (a table named `events` with the ingest's accepted
/// schema) to daily presence. Night and weekday-daytime windows are counted on the functional
/// day's minute (0 = 04:00 local): 18:00 = 840, 08:00 = 240, 17:00 = 780.
pub const REDUCE_SQL: &str = "
WITH per_country AS (
    SELECT pseudonym, local_date, sim_country, serving_country,
           count(*) AS events,
           sum(CASE WHEN fday_minute >= 840 OR fday_minute < 240 THEN 1 ELSE 0 END) AS night_events,
           sum(CASE WHEN weekday < 5 AND fday_minute >= 240 AND fday_minute < 780
                    THEN 1 ELSE 0 END) AS weekday_day_events,
           array_agg(DISTINCT counterpart_country)
               FILTER (WHERE counterpart_country IS NOT NULL) AS counterparts,
           min(fday_minute) AS first_minute,
           max(fday_minute) AS last_minute
    FROM events
    GROUP BY pseudonym, local_date, sim_country, serving_country
)
SELECT pseudonym,
       sim_country,
       CAST(sum(events) AS INT) AS events,
       array_agg(named_struct(
           'country', serving_country,
           'events', CAST(events AS INT),
           'night_events', CAST(night_events AS INT),
           'weekday_day_events', CAST(weekday_day_events AS INT))
           ORDER BY serving_country) AS countries,
       array_distinct(flatten(array_agg(coalesce(counterparts, make_array())))) AS counterpart_countries,
       min(first_minute) AS first_minute,
       max(last_minute) AS last_minute,
       local_date
FROM per_country
GROUP BY pseudonym, local_date, sim_country
";
