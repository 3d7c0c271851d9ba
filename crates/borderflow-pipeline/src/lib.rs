//! # borderflow-pipeline
//!
//! Pipeline files and the orchestration of borderflow's stages.
//!
//! - [`Pipeline`]: a TOML pipeline file (dataset, measuring country, inputs and column mapping,
//!   key source, state directory, look-back, engine limits), with `--set KEY=VALUE` overrides
//!   and paths resolved against the file's directory.
//! - [`Period`]: a reference period (`2025` or `2025-07`) and the dates it spans.
//! - [`ingest`]: operator files → validated, pseudonymised events → daily presence in the
//!   store, a thread per share of the files and the date-bucketed presence reduction under the
//!   memory limit (it spills rather than dies). Everything is staged and moved into the state
//!   directory only when the whole run succeeded.
//! - [`classify`]: the presence store's look-back for a period → per-SIM facts (category,
//!   partner, crossings) under `state/classified/<period>/`, never published.
//! - [`reports`]: the run reports ingest and classify leave in the state directory, as types
//!   written and read back.
//! - [`publish`]: classified facts → tables over the public domain → noise and threshold →
//!   `release/<dataset>/<period>/`, reserved in and committed to the privacy ledger.
//! - [`evaluate`]: the classification of a world whose truth is known, against that truth
//!   (confusion matrix, recall and precision, total variation distance).
//! - [`run`]: the three stages for one period, as a scheduled job runs them.
//! - [`StateLock`]: one run at a time per state directory, safe to start from cron.
//!
//! ```
//! use borderflow_pipeline::Period;
//!
//! let july: Period = "2025-07".parse().unwrap();
//! assert_eq!(july.first().to_string(), "2025-07-01");
//! assert_eq!(july.last().to_string(), "2025-07-31");
//! assert!("2025-13".parse::<Period>().is_err());
//! ```

pub mod binding;
pub mod classify;
pub mod deliveries;
pub mod engine;
pub mod evaluate;
pub mod ingest;
mod lock;
pub mod partnership;
mod period;
mod pipeline;
pub mod publish;
pub mod reports;
pub mod run;

pub use binding::BindingError;
pub use borderflow_core::{Failure, FailureKind};
pub use classify::ClassifyError;
pub use ingest::IngestError;
pub use lock::{LockError, StateLock};
pub use period::{Period, PeriodError};
pub use pipeline::{
    CLASSIFY_LOOKBACK_DAYS, EngineConfig, EngineKind, KeySource, Pipeline, PipelineError,
    PresenceConfig, PrivacyConfig, TableNoise,
};
pub use publish::{PublishError, PublishReport};
pub use reports::{ClassifyReport, IngestReport, InputDigest, ReportError, ReturnMigrants};
pub use run::{RunError, RunReport};
