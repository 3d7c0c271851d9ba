//! # borderflow-ingest
//!
//! From operator files to validated, pseudonymised canonical events (docs/design.md §4, §5).
//!
//! - [`source`]: finds the input files (paths, directories, globs), reads CSV, CSV.gz and
//!   Parquet in streaming batches and maps the operator's column names to the canonical ones.
//!   Files are read front to back so every row keeps its row number for the quarantine.
//! - [`validate`]: per row, parses the time, checks and resolves the PLMNs to countries, turns
//!   the counterpart number into a country, pseudonymises the subscriber id, and either accepts
//!   the row or quarantines it with a [`Reason`]. Raw ids and numbers never leave this step.
//! - [`share`]: one share of a run's input (files or row-group runs) read by one validator,
//!   as the local engine's threads and a cluster's tasks both read them.
//!
//! Every row read is accounted for: read = accepted + quarantined, per file and per reason
//! ([`FileCounts`]).
//!
//! ```
//! use borderflow_ingest::{FileCounts, Reason};
//!
//! let mut counts = FileCounts { read: 10, accepted: 8, ..FileCounts::default() };
//! counts.quarantined.insert(Reason::BadTime, 2);
//! assert!(counts.reconciles());
//! assert_eq!(Reason::BadTime.code(), "bad_time");
//! ```

pub mod config;
pub mod expr;
mod fingerprint;
pub mod local_time;
pub mod profile;
pub mod reason;
pub mod share;
pub mod source;
pub mod validate;

pub use borderflow_core::DateWindow;
pub use config::{ColumnMapping, InputConfig, TimeFormat};
pub use expr::ColumnExpr;
pub use fingerprint::{DUPLICATE_BLOCK_ROWS, RowGroupStarts};
pub use profile::Profile;
pub use reason::{FileCounts, Reason};
pub use share::{
    Dealt, FileShares, Flow, PIECES_PER_THREAD, QuarantineError, ShareCounts, ShareError,
    add_share_counts, cut_pieces, deal_shares, read_share,
};
pub use source::{InputDigest, InputFile, SourceError, digest_file, discover, read_cell_catalogue};
pub use validate::{Validated, Validator, quarantine_schema};
