//! Why publishing failed; nothing was published. Each cause keeps its source and says its
//! [`Failure`] class itself.

use std::path::PathBuf;

use borderflow_core::{Failure, FailureKind, PathError};
use borderflow_privacy::{LedgerError, SamplerError};
use borderflow_refdata::RefDataError;
use borderflow_release::{FactsError, TabulateError, WriteError};

use crate::reports::ReportError;

/// Why publishing failed. Nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The period has not been classified.
    #[error("no classified facts for period {period} in {}: run `borderflow classify` first", dir.display())]
    NotClassified {
        /// The period.
        period: String,
        /// Where its facts would be.
        dir: PathBuf,
    },
    /// The release directory holds a release this store's ledger did not publish.
    #[error(
        "{} holds a release this store's ledger did not publish (a test store's, or another store's); move it away, nothing was published",
        dir.display()
    )]
    ForeignRelease {
        /// The release directory.
        dir: PathBuf,
    },
    /// The ledger says the release is published but its directory is gone.
    #[error(
        "release {} was published (ledger #{id}) but its directory is gone: restore it from a backup; it is never noised again",
        dir.display()
    )]
    ReleaseMissing {
        /// The release directory.
        dir: PathBuf,
        /// A ledger id of the release.
        id: i64,
    },
    /// The ledger refused (over budget, budget changed, wrong store kind) or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The code lists could not be loaded.
    #[error(transparent)]
    RefData(#[from] RefDataError),
    /// A classified SIM does not fit the public domain.
    #[error(transparent)]
    Tabulate(#[from] TabulateError),
    /// The facts could not be read.
    #[error(transparent)]
    Facts(#[from] FactsError),
    /// The pipeline's accuracy file cannot be used.
    #[error(transparent)]
    Accuracy(#[from] borderflow_release::accuracy::AccuracyError),
    /// A run report could not be read.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A noise parameter is unusable.
    #[error(transparent)]
    Noise(#[from] SamplerError),
    /// Another run holds the state directory.
    #[error(transparent)]
    Lock(#[from] crate::LockError),
    /// A release file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The dataset's index of releases could not be rewritten (the release itself is in
    /// place; the next run rebuilds the index).
    #[error(transparent)]
    Index(#[from] borderflow_release::series::SeriesError),
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] PathError),
    /// The state directory is another store's, or its ledger is missing.
    #[error(transparent)]
    Binding(#[from] crate::BindingError),
    /// The cluster that tabulates the facts could not be reached.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

impl FailureKind for PublishError {
    fn failure(&self) -> Failure {
        match self {
            PublishError::NotClassified { .. } => Failure::State,
            PublishError::ForeignRelease { .. } | PublishError::ReleaseMissing { .. } => {
                Failure::State
            }
            PublishError::Ledger(e) => e.failure(),
            PublishError::RefData(e) => e.failure(),
            PublishError::Tabulate(e) => e.failure(),
            PublishError::Facts(e) => e.failure(),
            PublishError::Accuracy(e) => e.failure(),
            PublishError::Report(e) => e.failure(),
            PublishError::Noise(e) => e.failure(),
            PublishError::Lock(e) => e.failure(),
            PublishError::Write(e) => e.failure(),
            PublishError::Index(e) => e.failure(),
            PublishError::Io(e) => e.failure(),
            PublishError::Binding(e) => e.failure(),
            PublishError::Engine(e) => e.failure(),
        }
    }
}
