//! # borderflow-core
//!
//! The vocabulary every other borderflow crate speaks, and the contracts between stages:
//!
//! - [`CountryCode`] (ISO 3166-1 alpha-3) and the mobility [`Category`] of docs/design.md §6;
//! - [`Pseudonym`], the only identity a SIM has after ingest, and the run-local [`SimNumber`]s
//!   of [`sims`];
//! - [`AcceptedEvent`], the hand-off from ingest to the presence reduction ([`accepted`]);
//! - the [`FunctionalDay`] and its night and working-daytime windows ([`day`]), defined once
//!   and fed to ingest, the reduction and classification;
//! - the Arrow schemas that cross stage boundaries, their column names as constants
//!   ([`schema`]: events, presence, facts, ground truth);
//! - [`Failure`], the class of a failure a scheduler acts on (its exit status), which every
//!   error type reports through [`FailureKind`];
//! - [`TableId`], the tables of a release, and [`Noised`], one value per noised table;
//! - [`StateLayout`], every path under the state directory, and [`StagedDir`], the one way a
//!   stage writes a directory (staged beside its target, fsynced, renamed into place).
//!
//! It owns no policy: code lists live in `borderflow-refdata`, rules in `borderflow-classify`,
//! noise in `borderflow-privacy`. Every stage depends on it and on no other stage for a type it
//! only consumes, so the data path stays one-directional.
//!
//! ```
//! use borderflow_core::{FunctionalDay, StateLayout};
//!
//! let day = FunctionalDay::default();
//! // Functional minute 0 is 04:00 local; 22:00 (minute 1080) is in the night window, 14:00
//! // (minute 600) is not.
//! assert!(day.is_night(1080) && !day.is_night(600));
//! let state = StateLayout::new("state");
//! assert_eq!(state.facts("2025"), std::path::Path::new("state/classified/2025"));
//! ```

pub mod accepted;
pub mod category;
pub mod country;
pub mod day;
pub mod failpoint;
pub mod failure;
pub mod layout;
pub mod pseudonym;
pub mod schema;
pub mod sims;
pub mod staged;
pub mod table;
pub mod window;

pub use accepted::{AcceptedEvent, accepted_batch, accepted_schema};
pub use category::{Category, Side, Unclassified};
pub use country::{CountryCode, CountryCodeError};
pub use day::{ClockTime, ClockWindow, FunctionalDay, Weekdays};
pub use failure::{Failure, FailureKind};
pub use layout::StateLayout;
pub use pseudonym::Pseudonym;
pub use sims::{PseudonymOf, PseudonymsByNumber, SimNumber, SimRegistry, TooManySims};
pub use staged::{
    PathError, ScratchDir, StagedDir, WithPath, atomic_temp, create_public_dir_all, is_atomic_temp,
    make_dir_public, make_public, sync_dir, write_file_atomic, write_file_synced,
};
pub use table::{Noised, QUALITY_CELLS, QualityTotals, TableId};
pub use window::DateWindow;
