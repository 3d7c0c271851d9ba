//! The publish stage's discipline (DESIGN §1.3, §1.4, §1.6, §7): a period's classified facts
//! become `release/<dataset>/<period>/` only under the ledger.
//!
//! 1. **Lock and settle.** One run at a time; reservations a crashed run left are committed
//!    when their release directory exists (it is renamed into place only when complete), and
//!    aborted otherwise.
//! 2. **Already published?** Then it is returned as it is, never noised again.
//! 3. **Reserve** every table's cost of the [`ReleasePlan`]; over budget, nothing is written.
//! 4. **Noise and write** (the private `assemble` module): staged, fsynced, renamed into place, manifest
//!    last.
//! 5. **Commit** the reservations with the outputs digest, or abort them if writing failed.

use std::path::PathBuf;

use borderflow_core::schema::facts::{CROSSINGS_FILE, SIMS_FILE};
use borderflow_core::{PathError, StateLayout};
use borderflow_privacy::{
    Ledger, LedgerError, NoiseSource, PrivacyConfig, ReleasePlan, Request, Reservation,
    SamplerError,
};
use borderflow_refdata::RefDataError;
use borderflow_release::manifest::{MANIFEST_FILE, digest_files, digest_release};
use borderflow_release::{FactsError, TabulateError, WriteError};
use chrono::Datelike;

use crate::classify::facts_dir;
use crate::reports::ReportError;
use crate::{Period, Pipeline};

/// The ledger file under the state directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

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
    /// The ledger refused (over budget, budget changed, pending) or failed.
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
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] PathError),
}

/// What the publish stage did.
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The release directory.
    pub dir: PathBuf,
    /// False when the release already existed and was returned unchanged.
    pub new: bool,
    /// Cells published and suppressed per table (new releases only).
    pub cells: Vec<TableCells>,
    /// Reservations of crashed runs settled: (committed, aborted).
    pub settled: (usize, usize),
}

/// How many cells of a released table were published and suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCells {
    /// The table's name (`categories`, `crossings`, …).
    pub table: String,
    /// Cells whose noisy value reached k.
    pub published: usize,
    /// Cells kept with a null value and the suppressed flag.
    pub suppressed: usize,
}

/// Whether the period's release is there. A release directory is complete or absent (renamed
/// into place whole, manifest last), so its manifest is the mark.
pub fn published(p: &Pipeline, period: Period) -> bool {
    release_dir(p, period).join(MANIFEST_FILE).is_file()
}

/// The release directory of a period.
pub fn release_dir(p: &Pipeline, period: Period) -> PathBuf {
    p.release_dir.join(&p.dataset).join(period.to_string())
}

/// Where the noisy values of a release are kept, operator-side.
pub fn noisy_dir(p: &Pipeline, period: Period) -> PathBuf {
    StateLayout::new(&p.state_dir).noisy(&p.dataset, &period.to_string())
}

/// Publishes `period` of the pipeline's dataset. `noise` is the OS source in production; a
/// seeded test source marks the release NOT FOR PUBLICATION.
pub fn run(
    p: &Pipeline,
    period: Period,
    mut noise: NoiseSource,
) -> Result<PublishReport, PublishError> {
    let started = std::time::Instant::now();
    let _lock = crate::StateLock::acquire(&p.state_dir)?;
    let mut ledger = Ledger::open(&StateLayout::new(&p.state_dir).ledger())?;
    let settled = settle(p, &mut ledger)?;
    let dir = release_dir(p, period);
    let existing = |dir| PublishReport {
        dir,
        new: false,
        cells: Vec::new(),
        settled,
    };
    // A release directory is complete or absent, and settled above: if it is there, it is
    // published, and it is returned as it is.
    if published(p, period) {
        return Ok(existing(dir));
    }
    let facts = facts_dir(&p.state_dir, period);
    if !facts.join(SIMS_FILE).is_file() {
        return Err(PublishError::NotClassified {
            period: period.to_string(),
            dir: facts,
        });
    }
    let plan = ReleasePlan::new(&p.privacy, p.classify.max_crossing_pairs);
    let year = period.last().year();
    let budget = ledger.budget(
        &p.dataset,
        year,
        &PrivacyConfig::exact(p.privacy.annual_rho),
    )?;
    let facts_digest = digest_files(&[facts.join(SIMS_FILE), facts.join(CROSSINGS_FILE)])?;
    let period_text = period.to_string();
    let mut ids = Vec::new();
    for table in &plan.tables {
        let req = Request {
            dataset: &p.dataset,
            year,
            period: &period_text,
            table: table.name,
            rho: &table.rho,
            inputs_digest: &facts_digest,
            for_publication: noise.for_publication(),
        };
        let reserved = match ledger.reserve(&req, &budget) {
            Ok(Reservation::Reserved(id)) => Ok(Some(id)),
            Ok(Reservation::AlreadyPublished(_)) => Ok(None),
            Err(e) => Err(e),
        };
        match reserved {
            Ok(Some(id)) => ids.push(id),
            other => {
                for id in ids {
                    ledger.abort(id)?;
                }
                return other.map(|_| existing(dir)).map_err(Into::into);
            }
        }
    }
    let job = crate::assemble::Job {
        p,
        period,
        facts: &facts,
        plan: &plan,
        facts_digest: &facts_digest,
        year,
        started,
    };
    match job.write_release(&mut noise) {
        Ok((cells, outputs)) => {
            for id in ids {
                ledger.commit(id, &outputs)?;
            }
            Ok(PublishReport {
                dir,
                new: true,
                cells,
                settled,
            })
        }
        Err(e) => {
            for id in ids {
                ledger.abort(id)?;
            }
            Err(e)
        }
    }
}

/// Settles reservations of crashed runs: committed when the release directory exists
/// (complete by construction), aborted when it does not.
fn settle(p: &Pipeline, ledger: &mut Ledger) -> Result<(usize, usize), PublishError> {
    let (mut committed, mut aborted) = (0, 0);
    for r in ledger.pending(&p.dataset)? {
        let dir = p.release_dir.join(&p.dataset).join(&r.period);
        if dir.join(MANIFEST_FILE).is_file() {
            ledger.commit(r.id, &digest_release(&dir)?)?;
            committed += 1;
        } else {
            ledger.abort(r.id)?;
            aborted += 1;
        }
    }
    Ok((committed, aborted))
}
