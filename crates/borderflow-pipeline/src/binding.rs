//! One state directory, one store: what a state directory is bound to, checked by every
//! command before it writes anything.
//!
//! At its first run a store records its measuring country, the operator's networks and the
//! identity of the ledger its releases are accounted in ([`StoreBinding`]). A pipeline naming
//! another country or other networks is refused (it would mix two operators' or two
//! countries' days in one store), and so is a ledger that is missing, empty or another store's
//! beside a store that was accounted in one, or beside releases of the dataset: a fresh ledger
//! would start the privacy budget again. (A store only ingested into, never released from, has
//! no ledger yet; its first release makes one.)

use std::path::PathBuf;

use borderflow_core::{Failure, FailureKind, StateLayout};
use borderflow_presence::{PresenceStore, StoreBinding, StoreError};
use borderflow_privacy::{Ledger, LedgerError};

use crate::Pipeline;

/// The state directory is not the store this pipeline may write.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// The store is bound to another country, other networks or another ledger.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// No ledger (or an empty file) beside a store or releases that exist.
    #[error(
        "{}: {what}, but {beside}: a new ledger would start the privacy budget again; restore the ledger from a backup (docs/operations.md), nothing was changed",
        ledger.display()
    )]
    LedgerMissing {
        /// Where the ledger should be.
        ledger: PathBuf,
        /// What is there instead.
        what: &'static str,
        /// What exists that the ledger accounted for.
        beside: String,
    },
}

impl FailureKind for BindingError {
    fn failure(&self) -> Failure {
        match self {
            BindingError::Store(e) => e.failure(),
            BindingError::Ledger(e) => e.failure(),
            BindingError::LedgerMissing { .. } => Failure::State,
        }
    }
}

/// What the pipeline binds a store to, with the ledger of `ledger` (its identity) if known.
pub fn binding_of(p: &Pipeline, ledger: Option<String>) -> StoreBinding {
    let mut plmns = p.operator_plmns.clone();
    plmns.sort();
    plmns.dedup();
    StoreBinding {
        measuring_country: p.measuring_country.to_string(),
        operator_plmns: plmns,
        ledger,
    }
}

/// Whether the release directory holds a release of the pipeline's dataset.
fn has_releases(p: &Pipeline) -> bool {
    let dataset = p.release_dir.join(&p.dataset);
    std::fs::read_dir(&dataset).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().join("manifest.json").is_file())
    })
}

/// Checks, without writing, that the state directory is this pipeline's store: the store (if
/// any) is bound to the pipeline's country and networks and to the ledger beside it, and no
/// ledger is missing or empty beside a store or releases that exist. Returns the ledger's
/// identity when a ledger exists.
pub fn check(p: &Pipeline) -> Result<Option<String>, BindingError> {
    let layout = StateLayout::new(&p.state_dir);
    let store = layout.presence();
    let ledger_path = layout.ledger();
    let bound = PresenceStore::binding_at(&store)?;
    let identity = match std::fs::metadata(&ledger_path) {
        Ok(m) if m.len() > 0 => Some(Ledger::open_existing(&ledger_path)?.identity()?),
        found => {
            let what = if found.is_ok() {
                "the file is empty"
            } else {
                "there is no ledger"
            };
            let beside = if bound.as_ref().is_some_and(|b| b.ledger.is_some()) {
                Some(format!(
                    "the presence store {} was accounted in one",
                    store.display()
                ))
            } else if has_releases(p) {
                Some(format!(
                    "{} holds releases",
                    p.release_dir.join(&p.dataset).display()
                ))
            } else {
                None
            };
            if let Some(beside) = beside {
                return Err(BindingError::LedgerMissing {
                    ledger: ledger_path,
                    what,
                    beside,
                });
            }
            None
        }
    };
    PresenceStore::check_binding(&store, &binding_of(p, identity.clone()))?;
    Ok(identity)
}
