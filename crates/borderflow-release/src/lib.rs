//! # borderflow-release
//!
//! What becomes a release, from exact counts to the files a statistics office publishes:
//!
//! - [`tabulate`]: exact counts of `categories` and `crossings` over the **public domain** —
//!   every (category × partner) and (from × to) cell the code lists allow, zeros included —
//!   with each SIM's contribution bounded, ready for the privacy mechanism
//!   (`borderflow-privacy`). These counts are never published as they are.
//! - [`table`]: a released table — dimension columns and protected cells (noisy value or
//!   suppressed, with the noise's standard deviation).
//! - [`corridors`]: roll-ups of the noisy `categories` cells by region, income group and the
//!   three Global-South definitions, with the flow's direction (free post-processing).
//! - [`write`]: Parquet, CSV and SDMX-CSV 2.0 writers.
//! - [`report`]: the self-contained `report.html` with inline SVG charts.

pub mod corridors;
pub mod report;
pub mod table;
pub mod tabulate;
pub mod write;

pub use corridors::corridors;
pub use table::{Cell, Dimension, ReleasedTable, Role};
pub use tabulate::{CategoryCell, Domain, Tables, TabulateError};
pub use write::{WriteError, write_all};
