//! What kind of failure ended a run, for the scheduler that started it.
//!
//! A cron job or a systemd timer cannot read an error message, but it can act on an exit
//! status: retry later when another run holds the state directory, page someone when the
//! budget refuses a release, wait for a corrected file when an input is bad. Every error type
//! of borderflow says which [`Failure`] it is ([`FailureKind`]), and the binary exits with
//! that failure's [`Failure::exit_code`].

/// The classes of failure a scheduler can tell apart, each with its own exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The pipeline file, a setting, the command line or the key is wrong: fix the
    /// configuration, then run again. Exit status 2.
    Config,
    /// An input file is missing, unreadable, malformed or holds no usable row: fix or replace
    /// the file, then run again. Exit status 3.
    Input,
    /// The privacy budget refuses the release: nothing was published or spent. Exit status 4.
    Budget,
    /// Another run holds the state directory: this run changed nothing; try again later.
    /// Exit status 5.
    Busy,
    /// The state or release directory cannot be read or written (disk full, permissions, a
    /// corrupt or missing file): repair it (docs/operations.md says how), then run again.
    /// Exit status 6.
    State,
    /// A defect of borderflow itself: report it. Exit status 1.
    Internal,
}

impl Failure {
    /// Every class, in the order of their exit statuses' documentation.
    pub const ALL: [Failure; 6] = [
        Failure::Internal,
        Failure::Config,
        Failure::Input,
        Failure::Budget,
        Failure::Busy,
        Failure::State,
    ];

    /// The process exit status of this failure (0 is success and never a failure).
    pub const fn exit_code(self) -> u8 {
        match self {
            Failure::Internal => 1,
            Failure::Config => 2,
            Failure::Input => 3,
            Failure::Budget => 4,
            Failure::Busy => 5,
            Failure::State => 6,
        }
    }

    /// The class's name in a JSON log line (`"failure": "budget"`).
    pub const fn name(self) -> &'static str {
        match self {
            Failure::Internal => "internal",
            Failure::Config => "config",
            Failure::Input => "input",
            Failure::Budget => "budget",
            Failure::Busy => "busy",
            Failure::State => "state",
        }
    }
}

/// An error that knows which [`Failure`] it is.
pub trait FailureKind {
    /// The class of this error.
    fn failure(&self) -> Failure;
}

impl FailureKind for crate::PathError {
    /// An I/O error on a path of the state or release directory (inputs have their own error
    /// types): disk full, permissions, a file gone.
    fn failure(&self) -> Failure {
        Failure::State
    }
}

impl FailureKind for crate::CountryCodeError {
    fn failure(&self) -> Failure {
        Failure::Config
    }
}

impl FailureKind for crate::TooManySims {
    fn failure(&self) -> Failure {
        Failure::Input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_its_own_exit_status_and_none_is_success() {
        let mut codes: Vec<u8> = Failure::ALL.iter().map(|f| f.exit_code()).collect();
        codes.sort_unstable();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 6]);
        let names: std::collections::BTreeSet<_> = Failure::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), 6);
    }
}
