//! Data-sharing partnerships (docs/partnerships.md): each operator runs borderflow on its own
//! premises and hands the statistics office only a partner [`export`](mod@export) of its
//! published release — noisy cells, never exact ones — and the office
//! [`combine`](mod@combine)s the operators' exports into one national release.

pub mod combine;
pub mod delivery;
pub mod export;
pub mod persons;

use std::path::PathBuf;

use borderflow_core::PathError;

pub use combine::{CombineReport, Partnership, check_exports, combine};
pub use export::{PartnerExport, export};

/// Why an export could not be made, or exports could not be combined. Each message is one
/// line naming the operator, export or file at fault, and the field.
#[derive(Debug, thiserror::Error)]
pub enum PartnershipError {
    /// The release to export is not published.
    #[error(
        "dataset {dataset}, period {period}: no published release to export (run or publish it first)"
    )]
    NotPublished {
        /// The dataset.
        dataset: String,
        /// The period.
        period: String,
    },
    /// An export is unreadable, altered, or of another format.
    #[error("export {export}: {message}")]
    Export {
        /// The export's directory or archive.
        export: String,
        /// What is wrong.
        message: String,
    },
    /// Two exports cannot be combined.
    #[error("operator {operator}: {message}; nothing was combined")]
    Refused {
        /// The operator at fault.
        operator: String,
        /// The field and how it differs.
        message: String,
    },
    /// The partnership file is malformed.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The combined release of the period exists.
    #[error(
        "{dir}: the combined release exists; a release is written once (move it away to combine again)"
    )]
    AlreadyCombined {
        /// Its directory.
        dir: PathBuf,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] borderflow_privacy::LedgerError),
    /// The code lists could not be read.
    #[error(transparent)]
    RefData(#[from] borderflow_refdata::RefDataError),
    /// A release file could not be written.
    #[error(transparent)]
    Write(#[from] borderflow_release::write::WriteError),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(PathError),
}

impl borderflow_core::FailureKind for PartnershipError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            PartnershipError::File { .. } => Failure::Config,
            PartnershipError::NotPublished { .. } => Failure::State,
            PartnershipError::Export { .. } | PartnershipError::Refused { .. } => Failure::Input,
            PartnershipError::AlreadyCombined { .. } => Failure::State,
            PartnershipError::Ledger(e) => e.failure(),
            PartnershipError::RefData(_) => Failure::Config,
            PartnershipError::Write(_) | PartnershipError::Io(_) => Failure::State,
        }
    }
}
