//! One scheduled run for one period: ingest → classify → publish.
//!
//! A release already published is returned at once, before any input is read: nothing is
//! ingested, classified or noised again, and the run succeeds (a cron job that fires twice
//! does no harm). Each stage keeps its own guarantees — ingest stages and swaps the store's
//! partitions, classify swaps the facts in whole, publish reserves, writes and commits — so a
//! run that fails leaves every earlier release and the ledger as they were.

use borderflow_core::{Failure, FailureKind};
use borderflow_privacy::NoiseSource;

use crate::{
    ClassifyError, ClassifyReport, IngestError, IngestReport, Period, Pipeline, PublishError,
    PublishReport, classify, ingest, publish,
};

/// Why a run failed: the stage, then its own error, in one message (`publish: privacy budget
/// exceeded …`). The stage's error is part of the message, not a separate source, so an error
/// chain never says it twice.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading the operator's files failed.
    #[error("ingest: {0}")]
    Ingest(IngestError),
    /// Classification failed.
    #[error("classify: {0}")]
    Classify(ClassifyError),
    /// Protecting or publishing failed (over budget, say).
    #[error("publish: {0}")]
    Publish(PublishError),
}

impl From<IngestError> for RunError {
    fn from(e: IngestError) -> Self {
        RunError::Ingest(e)
    }
}

impl From<ClassifyError> for RunError {
    fn from(e: ClassifyError) -> Self {
        RunError::Classify(e)
    }
}

impl From<PublishError> for RunError {
    fn from(e: PublishError) -> Self {
        RunError::Publish(e)
    }
}

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    /// The period released.
    pub period: Period,
    /// The ingest stage, unless the release already existed.
    pub ingest: Option<IngestReport>,
    /// The classify stage, unless the release already existed.
    pub classify: Option<ClassifyReport>,
    /// The release.
    pub publish: PublishReport,
}

/// Runs the pipeline for `period`, reading the pipeline's inputs and `extra_inputs`.
pub fn run(
    p: &Pipeline,
    period: Period,
    extra_inputs: &[String],
    noise: NoiseSource,
) -> Result<RunReport, RunError> {
    run_with_progress(p, period, extra_inputs, noise, &ingest::Progress::default())
}

/// [`run`], reporting the ingest stage's progress in `progress`.
pub fn run_with_progress(
    p: &Pipeline,
    period: Period,
    extra_inputs: &[String],
    noise: NoiseSource,
    progress: &ingest::Progress,
) -> Result<RunReport, RunError> {
    run_observed(p, period, extra_inputs, noise, progress, &mut |_| {})
}

/// A stage that has just finished, told as it happens (a log line written then survives a
/// run killed later).
#[derive(Debug, Clone, Copy)]
pub enum StageDone<'a> {
    /// The input is in the presence store.
    Ingest(&'a IngestReport),
    /// The period's SIMs are classified.
    Classify(&'a ClassifyReport),
}

/// [`run_with_progress`], calling `on_stage` as each stage before publication finishes.
pub fn run_observed(
    p: &Pipeline,
    period: Period,
    extra_inputs: &[String],
    noise: NoiseSource,
    progress: &ingest::Progress,
    on_stage: &mut dyn FnMut(StageDone<'_>),
) -> Result<RunReport, RunError> {
    // The measuring country, then a state directory that is not this pipeline's store, are
    // refused before anything is created in it (the store again under the lock, below).
    ingest::code_lists(p)?;
    crate::binding::check(p).map_err(PublishError::from)?;
    // One run at a time, from the first check to the last write: the lock is taken before
    // anything in the state directory is created, and the stages share it.
    let _lock = crate::StateLock::for_run(&p.state_dir).map_err(PublishError::from)?;
    // The store's kind is checked (and fixed, for a new store) before anything is read: a
    // test seed never runs against a production store, nor the OS source against a test one.
    let ledger = publish::open_store(p, &noise).map_err(RunError::Publish)?;
    if publish::published(p, period) {
        return Ok(RunReport {
            period,
            ingest: None,
            classify: None,
            publish: publish::run(p, period, noise)?,
        });
    }
    // A release whose directory is gone, or that the budget cannot take, is refused before
    // a byte is read.
    publish::check_release_in_place(p, period, &ledger)?;
    publish::precheck_budget(p, period, &ledger)?;
    drop(ledger);
    // Only the dates of the period's look-back are taken, and retention counts back from the
    // period, never from whatever dates the rows carry.
    let ingest = ingest::run_with_progress(p, Some(period), extra_inputs, progress)?;
    on_stage(StageDone::Ingest(&ingest));
    let classify = classify::run(p, period)?;
    on_stage(StageDone::Classify(&classify));
    let publish = publish::run(p, period, noise)?;
    Ok(RunReport {
        period,
        ingest: Some(ingest),
        classify: Some(classify),
        publish,
    })
}

impl FailureKind for RunError {
    fn failure(&self) -> Failure {
        match self {
            RunError::Ingest(e) => e.failure(),
            RunError::Classify(e) => e.failure(),
            RunError::Publish(e) => e.failure(),
        }
    }
}
