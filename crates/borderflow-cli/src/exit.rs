//! How a command ends: one line on standard error and an exit status a scheduler can act on.
//!
//! | status | meaning | what to do |
//! |---|---|---|
//! | 0 | published, or already published (nothing read, noised or spent) | nothing |
//! | 1 | internal error: a defect of borderflow | report it |
//! | 2 | configuration: the pipeline file, a setting, the command line or the key | fix it |
//! | 3 | input: a file missing, unreadable, malformed or without a usable row | fix the file |
//! | 4 | over budget: the ledger refuses the release; nothing published or spent | see `budget` |
//! | 5 | busy: another run holds the state directory; nothing changed | retry later |
//! | 6 | state: the state or release directory cannot be read or written | repair, re-run |
//!
//! A panic (a defect that escaped every check) exits 101, Rust's status for it.

use borderflow_core::{Failure, FailureKind};

/// A mistake on the command line that clap cannot see (a period the pipeline lacks, say).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

impl FailureKind for Usage {
    fn failure(&self) -> Failure {
        Failure::Config
    }
}

/// An [`anyhow::Error`] for a [`Usage`] mistake.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// The failure class of an error: that of the outermost error in its chain which knows its
/// class; an I/O error nobody classified is the state's; anything else is internal.
pub fn failure_of(e: &anyhow::Error) -> Failure {
    macro_rules! classified {
        ($cause:expr, $($t:ty),+ $(,)?) => {
            $(if let Some(e) = $cause.downcast_ref::<$t>() {
                return e.failure();
            })+
        };
    }
    for cause in e.chain() {
        classified!(
            cause,
            Usage,
            borderflow_pipeline::RunError,
            borderflow_pipeline::IngestError,
            borderflow_pipeline::ClassifyError,
            borderflow_pipeline::engine::EngineError,
            borderflow_pipeline::PublishError,
            borderflow_pipeline::PipelineError,
            borderflow_pipeline::PeriodError,
            borderflow_pipeline::LockError,
            borderflow_pipeline::ReportError,
            borderflow_pipeline::evaluate::EvaluateError,
            borderflow_privacy::LedgerError,
            borderflow_privacy::SamplerError,
            borderflow_pseudo::KeyError,
            borderflow_presence::StoreError,
            borderflow_refdata::RefDataError,
            borderflow_synth::SynthError,
            borderflow_core::PathError,
            borderflow_core::CountryCodeError,
            borderflow_release::series::SeriesError,
            borderflow_release::WriteError,
        );
    }
    if e.chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some())
    {
        return Failure::State;
    }
    Failure::Internal
}

/// The error as one line: the context chain joined by `: `, a cause whose words its context
/// already says (an I/O error kept as the source of "path: message") not said twice, and
/// whitespace collapsed, so a log line is never split.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut joined = String::new();
    for m in e.chain().map(ToString::to_string) {
        if joined.contains(&m) {
            continue;
        }
        if !joined.is_empty() {
            joined.push_str(": ");
        }
        joined.push_str(&m);
    }
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outermost_classified_error_decides_the_status() {
        let busy = anyhow::Error::new(borderflow_pipeline::LockError::Busy("state".into()))
            .context("publish");
        assert_eq!(failure_of(&busy).exit_code(), 5);
        assert_eq!(failure_of(&usage("no period")).exit_code(), 2);
        let io = anyhow::Error::new(std::io::Error::other("disk full")).context("writing");
        assert_eq!(failure_of(&io), Failure::State);
        assert_eq!(failure_of(&anyhow::anyhow!("a defect")), Failure::Internal);
        assert_eq!(one_line(&io), "writing: disk full");
    }
}
