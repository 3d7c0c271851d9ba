//! # borderflow-release
//!
//! What becomes a release, from exact counts to the files a statistics office publishes:
//!
//! - [`tabulate`]: exact counts of `categories` and `crossings` over the **public domain** —
//!   every (category × partner) and (from × to) cell the code lists allow, zeros included —
//!   with each SIM's contribution bounded, ready for the privacy mechanism
//!   (`borderflow-privacy`). These counts are never published as they are.
//! - [`facts`]: a period's classified facts read into those exact tables, columns by the
//!   facts schema's names; [`aggregate`](mod@aggregate): the same tabulation as a DataFusion
//!   plan, so a cluster tabulates where the facts are and only the tables reach the driver.
//! - [`protect`](mod@protect): the one step from noisy values to what may be published —
//!   thresholds, cell statuses, combined totals, corridors, each table's privacy parameters —
//!   as a [`ProtectedRelease`]; [`render`](mod@render): every file of a release from it, and
//!   from nothing exact.
//! - [`table`]: a released table — dimension columns and protected cells (noisy value or
//!   suppressed, with the noise's standard deviation).
//! - [`corridors`](mod@corridors): roll-ups of the noisy `categories` cells by region, income group and the
//!   three Global-South definitions, with the flow's direction (free post-processing).
//! - [`write`](mod@write): Parquet and CSV writers; [`sdmx`]: SDMX-CSV 2.0 and the SDMX-ML 3.0
//!   structure message (data structure definitions, concept scheme, code lists).
//! - [`report`]: the self-contained `report.html` with inline SVG charts; [`history`] reads
//!   earlier releases of the dataset back for its crossings over time.
//! - [`accuracy`]: the classification's measured accuracy per category, published beside the
//!   noise (the validation suite's, or an office's own pilot evaluation).
//! - [`manifest`]: `manifest.json` and `quality.json` as types, written and read back, and
//!   their JSON Schemas.
//! - [`mirror`](mod@mirror): two countries' releases of one period side by side, corridor by
//!   corridor, with the difference and whether noise explains it.
//! - [`series`]: one table stacked over every published period of a dataset, and the
//!   dataset's `index.json`.
//!
//! ```
//! use borderflow_core::CountryCode;
//! use borderflow_privacy::ProtectedCell;
//! use borderflow_release::{Domain, ReleasedTable, write::write_csv};
//!
//! let (ken, uga): (CountryCode, CountryCode) = ("KEN".parse().unwrap(), "UGA".parse().unwrap());
//! let domain = Domain::new(ken, &[ken, uga]);
//! // Two ordered pairs: KEN → UGA published at 40, UGA → KEN suppressed (noisy value below k).
//! let cells = [
//!     ProtectedCell { subscribers: Some(40), noise_sd: 2.2, suppressed: false, noisy: 40 },
//!     ProtectedCell { subscribers: None, noise_sd: 2.2, suppressed: true, noisy: 3 },
//! ];
//! let table = ReleasedTable::crossings(&domain, &cells, ken, "2025");
//! let dir = tempfile::tempdir().unwrap();
//! write_csv(&table, &dir.path().join("crossings.csv")).unwrap();
//! let csv = std::fs::read_to_string(dir.path().join("crossings.csv")).unwrap();
//! assert!(csv.lines().count() == 3 && !csv.contains(",3,"), "{csv}");
//! ```

pub mod accuracy;
pub mod aggregate;
pub mod corridors;
pub mod datapackage;
pub mod facts;
pub mod history;
pub mod manifest;
pub mod mirror;
pub mod protect;
pub mod render;
pub mod report;
pub mod sdmx;
pub mod series;
pub mod table;
pub mod tabulate;
pub mod totals;
pub mod write;

pub use aggregate::{TabulateParams, tabulate_facts};
pub use corridors::corridors;
pub use facts::{ExactTables, FactTotals, FactsError, SimRow, read_facts};
pub use manifest::{Manifest, Quality};
pub use protect::{
    DailySeen, KeptNoisy, NoisyTable, NotMeasured, ProtectedRelease, ReleaseFrame, protect,
};
pub use render::{ReleaseAbout, ReleaseWindow, render, write_all};
pub use sdmx::{SdmxCodes, SdmxConfig};
pub use table::{
    ALL_PARTNERS, CATEGORIES, CORRIDORS, CROSSINGS, Cell, CellStatus, Codelist, Column, Dimension,
    PERSONS, ReleasedTable, Role, STRUCTURES, TABLES, TOTALS, TableSchema, Unit, ValueKind,
};
pub use tabulate::{CategoryCell, Domain, Tables, TabulateError};
pub use totals::{Flow, TOTAL_CELLS, exact_totals};
pub use write::WriteError;
