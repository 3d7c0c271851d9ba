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
///
/// Every error type of the library crates says its class itself ([`FailureKind`]); this list
/// only names them, because an [`anyhow::Error`]'s chain can be asked for a concrete type but
/// not for a trait. A test holds the list to the sources: a type that implements
/// `FailureKind` and is missing here fails it.
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
            borderflow_pipeline::BindingError,
            borderflow_pipeline::partnership::PartnershipError,
            borderflow_classify::plan::PlanError,
            borderflow_ingest::SourceError,
            borderflow_presence::ReduceError,
            borderflow_release::FactsError,
            borderflow_release::TabulateError,
            borderflow_core::TooManySims,
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
            borderflow_release::mirror::MirrorError,
            borderflow_release::accuracy::AccuracyError,
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

    /// Every `.rs` file under `dir`.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_error_type_that_knows_its_failure_class_is_classified() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        sources(&crates, &mut files);
        let listed = include_str!("exit.rs");
        let listed = &listed[..listed.find("#[cfg(test)]").unwrap()];
        let mut missing = Vec::new();
        for f in files
            .iter()
            .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        {
            let text = std::fs::read_to_string(f).unwrap();
            // Types of test modules never reach the binary.
            let text = text.split("#[cfg(test)]").next().unwrap();
            for (at, _) in text.match_indices("FailureKind for ") {
                let name: String = text[at + "FailureKind for ".len()..]
                    .trim_start_matches("crate::")
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !listed.contains(&format!("::{name},")) && !listed.contains(&format!(" {name},"))
                {
                    missing.push(format!("{name} ({})", f.display()));
                }
            }
        }
        assert!(missing.is_empty(), "not in failure_of: {missing:?}");
    }

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
