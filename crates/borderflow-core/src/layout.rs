//! Every path under the operator-side state directory, in one place.
//!
//! The state directory holds what must never be published: the presence store (pseudonyms),
//! quarantined rows, ingest run reports, classified per-SIM facts, the noisy values of every
//! release, the ledger and the lock. Stages and commands ask a [`StateLayout`] for these paths
//! instead of joining names of their own, so the layout is stated once.

use std::path::{Path, PathBuf};

/// The layout of one state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLayout {
    root: PathBuf,
}

/// Prefix of every staging directory or file under the state directory: whatever carries it
/// after a crash is a leftover, removed by the next run that holds the lock.
pub const STAGING_PREFIX: &str = ".staging-";

impl StateLayout {
    /// The layout of the state directory `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The state directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The presence store (`presence/`).
    pub fn presence(&self) -> PathBuf {
        self.root.join("presence")
    }

    /// The ingest run reports (`ingest/<run_id>.json`).
    pub fn ingest_reports(&self) -> PathBuf {
        self.root.join("ingest")
    }

    /// The report of one ingest run.
    pub fn ingest_report(&self, run_id: &str) -> PathBuf {
        self.ingest_reports().join(format!("{run_id}.json"))
    }

    /// The quarantined rows of one ingest run (`quarantine/<run_id>/`).
    pub fn quarantine(&self, run_id: &str) -> PathBuf {
        self.root.join("quarantine").join(run_id)
    }

    /// The classified facts of a period (`classified/<period>/`).
    pub fn facts(&self, period: &str) -> PathBuf {
        self.root.join("classified").join(period)
    }

    /// The noisy values of a release, suppressed ones included (`noisy/<dataset>/<period>/`).
    pub fn noisy(&self, dataset: &str, period: &str) -> PathBuf {
        self.root.join("noisy").join(dataset).join(period)
    }

    /// The operator-side record of a release: its exact counts, inputs and digests
    /// (`operator/<dataset>/<period>/`), never published.
    pub fn operator(&self, dataset: &str, period: &str) -> PathBuf {
        self.root.join("operator").join(dataset).join(period)
    }

    /// The privacy ledger (`ledger.sqlite`).
    pub fn ledger(&self) -> PathBuf {
        self.root.join("ledger.sqlite")
    }

    /// The lock file that one run at a time holds (`.lock`).
    pub fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// A staging directory of `stage` for one run, beside what it will replace.
    pub fn staging(&self, stage: &str, run: &str) -> PathBuf {
        self.root.join(format!("{STAGING_PREFIX}{stage}-{run}"))
    }
}
