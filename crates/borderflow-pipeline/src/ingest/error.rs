//! Why an ingest run failed; nothing was written to the state directory. Each cause keeps
//! its source and says its [`Failure`] class itself.

use std::path::PathBuf;

use borderflow_core::{Failure, FailureKind, PathError, TooManySims};
use borderflow_ingest::{QuarantineError, ShareError, SourceError};
use borderflow_presence::{ReduceError, StoreError};
use borderflow_pseudo::KeyError;
use borderflow_refdata::RefDataError;

use crate::reports::ReportError;

/// Why an ingest run failed. Nothing was written to the state directory.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An input file is missing, unreadable or lacks a column.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The key is missing, exposed or malformed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The presence store refused the run or could not be changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another run holds the state directory.
    #[error(transparent)]
    Lock(#[from] crate::LockError),
    /// A code-list override is malformed.
    #[error(transparent)]
    RefData(#[from] RefDataError),
    /// The state directory is another store's, or its ledger is missing.
    #[error(transparent)]
    Binding(#[from] crate::BindingError),
    /// `measuring_country` is not in the country code list.
    #[error(
        "measuring_country = {0:?} is not in the country code list (ISO 3166-1 alpha-3; `borderflow refdata lookup` shows the list, refdata.countries amends it)"
    )]
    UnknownCountry(String),
    /// An input file holds no row, or none that could be accepted.
    #[error("{file}: {why}; nothing was written (see docs/ingest.md for each reason)")]
    NothingAccepted {
        /// The file.
        file: String,
        /// Its rows and the reasons they were quarantined.
        why: String,
    },
    /// The pipeline names no input.
    #[error("no input: the pipeline's input.paths is empty and no --input was given")]
    NoInput,
    /// A file-system operation on the state directory or an input failed.
    #[error(transparent)]
    Io(#[from] PathError),
    /// A quarantine file could not be written.
    #[error("{}: {source}", path.display())]
    Quarantine {
        /// The quarantine file.
        path: PathBuf,
        /// What the Parquet writer said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The run report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// `input.source_time_zone` names no IANA time zone.
    #[error("input.source_time_zone: unknown IANA time zone {0:?}")]
    SourceTimeZone(String),
    /// The rows of a file do not add up (a defect, never expected).
    #[error("ingest: {0}")]
    Engine(String),
    /// More distinct SIMs than one run can number.
    #[error(transparent)]
    TooManySims(#[from] TooManySims),
    /// The presence reduction could not write or read its files.
    #[error(transparent)]
    Reduce(#[from] ReduceError),
    /// The engine of `engine.kind` could not be started.
    #[error(transparent)]
    EngineStart(#[from] crate::engine::EngineError),
    /// The cluster failed the ingest job; nothing was committed.
    #[error("ingest on the cluster failed, nothing was written to the store: {message}")]
    Cluster {
        /// What the cluster said, on one line.
        message: String,
        /// Whether an executor refused the job's key (its own is not the store's, or it
        /// has none).
        key_refused: bool,
    },
}

impl From<ShareError> for IngestError {
    fn from(e: ShareError) -> Self {
        match e {
            ShareError::Source(e) => IngestError::Source(e),
            ShareError::TooManySims(e) => IngestError::TooManySims(e),
            ShareError::Quarantine(QuarantineError { path, source }) => {
                IngestError::Quarantine { path, source }
            }
        }
    }
}

impl FailureKind for IngestError {
    fn failure(&self) -> Failure {
        match self {
            IngestError::Source(e) => e.failure(),
            IngestError::Key(e) => e.failure(),
            IngestError::Store(e) => e.failure(),
            IngestError::Lock(e) => e.failure(),
            IngestError::RefData(e) => e.failure(),
            IngestError::Binding(e) => e.failure(),
            IngestError::NoInput
            | IngestError::SourceTimeZone(_)
            | IngestError::UnknownCountry(_) => Failure::Config,
            IngestError::NothingAccepted { .. } => Failure::Input,
            IngestError::Io(e) => e.failure(),
            IngestError::Quarantine { .. } => Failure::State,
            IngestError::Report(e) => e.failure(),
            IngestError::Engine(_) => Failure::Internal,
            IngestError::TooManySims(e) => e.failure(),
            IngestError::Reduce(e) => e.failure(),
            IngestError::EngineStart(e) => e.failure(),
            // An executor started with another key is a setting to fix; anything else is the
            // cluster or the storage it shares.
            IngestError::Cluster { key_refused, .. } => {
                if *key_refused {
                    Failure::Config
                } else {
                    Failure::State
                }
            }
        }
    }
}
