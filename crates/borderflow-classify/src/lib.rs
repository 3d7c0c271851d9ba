//! # borderflow-classify
//!
//! The methodological heart of borderflow (docs/design.md §6): from each SIM's daily presence over
//! the look-back window to one mobility category and partner country per reference period,
//! and the border crossings it made.
//!
//! - [`Rules`]: every threshold, named, with the defaults of docs/design.md §6.
//! - [`nights`]: night reconstruction — the night country of each day, the border guard,
//!   gap filling (with a longer reach for SIMs seen on few nights) and the asymmetry of what
//!   the operator sees (own SIMs abroad through roaming; foreign SIMs only in M).
//! - [`classify()`]: usual residence, then the categories in the order of docs/design.md §6
//!   (return migrant, frontier, temporary, seasonal; emigrant; visitor), the partner country,
//!   open spells, and the SIMs too sparse to classify.
//! - [`crossings()`]: directed country pairs crossed in the period, at most
//!   [`Rules::max_crossing_pairs`] per SIM.
//! - [`scan`]: the same rules over the presence store's files, read range of pseudonyms by
//!   range within the memory limit and classified on every core (the local engine).
//! - [`plan`]: which of the two plans an engine uses, and the cluster's grouped query.
//! - [`aggregate`]: the same rules as a DataFusion aggregate function grouped by pseudonym,
//!   for a cluster whose executors classify each SIM where its rows are.
//!
//! Everything but [`plan`], [`scan`] and [`aggregate`] is pure: no I/O, no clock, one SIM at a time. docs/methodology.md
//! states each rule, its default and its source, and what phones cannot show: every category
//! is a labelled proxy.
//!
//! ```
//! use borderflow_classify::{CountryDay, Rules, SimDays, Window, classify};
//! use borderflow_core::{Category, CountryCode};
//!
//! let ken: CountryCode = "KEN".parse().unwrap();
//! // A Kenyan SIM seen every evening of the year at home, 20:00–22:00 local.
//! let rows = (0..365)
//!     .map(|day| CountryDay {
//!         day,
//!         country: ken,
//!         events: 3,
//!         night_events: 3,
//!         weekday_day_events: 0,
//!         first_minute: 960,
//!         last_minute: 1080,
//!     })
//!     .collect();
//! let sim = SimDays { sim_country: ken, rows };
//! let window = Window { history: 0, lookback: 365, period: 365, first_weekday: 2 };
//! let facts = classify(&sim, ken, window, &Rules::default());
//! assert_eq!(facts.category, Some(Category::Resident));
//! assert_eq!(facts.residence, ken);
//! ```

pub mod aggregate;
pub mod border;
mod classify;
pub mod codec;
mod crossings;
pub mod nights;
pub mod plan;
pub mod rhythm;
mod row;
mod rules;
pub mod scan;
mod sim;

pub use classify::{
    Commute, SimFacts, Spell, classify, frontier, has_enough_data, longest_spell, weekly_frontier,
};
pub use crossings::crossings;
pub use nights::NightCountry;
pub use rules::{Rules, RulesError};
pub use sim::{CountryDay, SimDays, Window};
