//! The publish stage (docs/design.md §1.3, §1.4, §1.6, §7): a period's classified facts
//! become `release/<dataset>/<period>/` only under the store's ledger. [`run`] reads as the
//! discipline it keeps:
//!
//! 1. **Lock and settle.** One run at a time. What crashed runs left is settled: a
//!    reservation never sampled is aborted (no noise was drawn, its cost is returned); a
//!    sampled one whose release directory is in place is committed; a sampled one without
//!    it stays spent and is finished from its stored draws when its release is run again.
//!    Staging directories left beside the release are removed.
//! 2. **Already published?** Then it is returned as it is, never noised again. A release
//!    directory this store's ledger did not publish is refused, never taken for its own.
//! 3. **Reserve** every noised table of the [`ReleasePlan`](borderflow_privacy::ReleasePlan)
//!    in one transaction, charged to every calendar year of data the window reads; an
//!    identical query reuses its noisy values at no cost. Over any year's budget, nothing is
//!    written. The exact tables and the plan come from the classified period (the private `classified` module).
//! 4. **Sampled, then noise.** The ledger marks the tables sampled before any noise is drawn
//!    (from then on nothing is refunded), then keeps the noisy values it draws.
//! 5. **Protect** ([`borderflow_release::protect()`]): thresholds, statuses, combined totals
//!    and corridors from the noisy values alone.
//! 6. **Render and rename** (the private `place` and `operator` modules): every file staged, fsynced, renamed into place,
//!    manifest last; the operator-side record beside it; then **commit**. Nothing after the
//!    rename undoes the release.
//!
//! [`borderflow_core::failpoint`]s between the steps let tests kill the run at each one.

mod budget;
mod classified;
mod error;
mod operator;
mod place;

pub use budget::{planned_cost, precheck_budget};
pub use classified::years_read;
pub use error::PublishError;
pub use operator::noisy_dir;
pub use place::{published, release_dir};

use std::collections::BTreeMap;
use std::path::PathBuf;

use borderflow_core::{Noised, StagedDir, StateLayout, failpoint};
use borderflow_privacy::{
    Ledger, NoiseSource, PrivacyConfig, ReleaseRequest, Reservation, ReservedTable, SamplerError,
    Status, StoreKind, TableRequest, draw,
};
use borderflow_release::manifest::{MANIFEST_FILE, digest_release};
use borderflow_release::{NoisyTable, NotMeasured, ProtectedRelease, ReleaseFrame, protect};

use crate::{Period, Pipeline};
use classified::ClassifiedPeriod;

/// The ledger file under the state directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

/// What the publish stage did.
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The release directory.
    pub dir: PathBuf,
    /// False when the release already existed and was returned unchanged.
    pub new: bool,
    /// Cells published and suppressed per table (new releases only).
    pub cells: Vec<TableCells>,
    /// Unfinished releases of crashed runs settled: (committed, aborted).
    pub settled: (usize, usize),
}

/// How many cells of a released table were published and suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCells {
    /// The table's name (`categories`, `crossings`, …).
    pub table: String,
    /// Cells whose noisy value reached the threshold.
    pub published: usize,
    /// Cells kept with a null value and the suppressed flag.
    pub suppressed: usize,
    /// Cells missing by configuration (return migrants not measured).
    pub not_measured: usize,
}

impl PublishReport {
    /// A release found already published: nothing read, noised or spent.
    fn existing(dir: PathBuf, settled: (usize, usize)) -> Self {
        Self {
            dir,
            new: false,
            cells: Vec::new(),
            settled,
        }
    }
}

impl TableCells {
    /// The cells of each published table of `release`, by status, in table-name order.
    fn of(release: &ProtectedRelease) -> Vec<TableCells> {
        borderflow_release::render::cells_by_status(release)
            .into_iter()
            .map(|(table, c)| TableCells {
                table,
                published: c.published,
                suppressed: c.suppressed,
                not_measured: c.not_measured,
            })
            .collect()
    }
}

/// The kind of store a noise source may publish from.
pub fn store_kind(noise: &NoiseSource) -> StoreKind {
    if noise.for_publication() {
        StoreKind::Production
    } else {
        StoreKind::Test
    }
}

/// Opens the store's ledger for a run noised by `noise`, creating the state directory (under
/// its lock) and fixing the store's kind when it is new; a store of the other kind is
/// refused, and so is a missing or foreign ledger beside a store or releases that exist
/// ([`crate::binding::check`]). The presence store, if any, is bound to the ledger.
pub fn open_store(p: &Pipeline, noise: &NoiseSource) -> Result<Ledger, PublishError> {
    let _lock = crate::StateLock::for_run(&p.state_dir)?;
    crate::binding::check(p)?;
    let layout = StateLayout::new(&p.state_dir);
    let ledger = Ledger::open(&layout.ledger(), store_kind(noise))?;
    if layout.presence().join("store.json").is_file() {
        let (store, _) = borderflow_presence::PresenceStore::existing(&layout.presence())
            .map_err(crate::BindingError::from)?;
        store
            .bind(&crate::binding::binding_of(p, Some(ledger.identity()?)))
            .map_err(crate::BindingError::from)?;
    }
    Ok(ledger)
}

/// Refuses, before anything is read, a period whose release the ledger records as published
/// but whose directory is gone: it is never noised again, only restored from a backup.
pub fn check_release_in_place(
    p: &Pipeline,
    period: Period,
    ledger: &Ledger,
) -> Result<(), PublishError> {
    if published(p, period) {
        return Ok(());
    }
    match ledger.published(&p.dataset, &period.to_string())?.first() {
        Some(r) => Err(PublishError::ReleaseMissing {
            dir: release_dir(p, period),
            id: r.id,
        }),
        None => Ok(()),
    }
}

/// Publishes `period` of the pipeline's dataset. `noise` is the OS source in production; a
/// seeded test source is accepted only in a test store and marks the release NOT FOR
/// PUBLICATION.
pub fn run(
    p: &Pipeline,
    period: Period,
    mut noise: NoiseSource,
) -> Result<PublishReport, PublishError> {
    let started = std::time::Instant::now();
    // 1. Lock and settle.
    crate::binding::check(p)?;
    let lock = crate::StateLock::for_run(&p.state_dir)?;
    lock.clear_leftovers(&StateLayout::new(&p.state_dir))?;
    let mut ledger = open_store(p, &noise)?;
    let dir = release_dir(p, period);
    StagedDir::remove_stale(&dir)?;
    let settled = settle(p, &mut ledger)?;
    // 2. Already published?
    if already_published(p, period, &ledger)? {
        return Ok(PublishReport::existing(dir, settled));
    }
    // 3. Reserve.
    let classified = ClassifiedPeriod::read(p, period)?;
    let period_text = period.to_string();
    let request = classified.request(p, &period_text, noise.for_publication())?;
    let reserved = match ledger.reserve(&request)? {
        Reservation::AlreadyPublished(_) => return Ok(PublishReport::existing(dir, settled)),
        Reservation::Reserved(tables) => tables,
    };
    failpoint::hit("publish:reserved");
    // 4. Sampled, then noise.
    let ids: Vec<i64> = reserved.iter().map(|t| t.id).collect();
    ledger.mark_sampled(&ids)?;
    failpoint::hit("publish:sampled");
    let (draws, ledger_ids) = draw_missing(&mut ledger, reserved, &classified, &mut noise)?;
    failpoint::hit("publish:drawn");
    // 5. Protect.
    let days: Vec<_> = classified.summary.sims_per_day.keys().copied().collect();
    let frame = ReleaseFrame {
        domain: &classified.domain,
        refdata: &classified.refdata,
        measuring_country: p.measuring_country,
        period: &period_text,
        days: &days,
        not_measured: (!classified.summary.return_migrants.available)
            .then_some(NotMeasured::ReturnMigrantsOff),
    };
    let (release, kept) = protect(&classified.plan, &draws, &frame);
    // 6. Render and rename, then commit. Once the release is in place it is published,
    // whatever failed after.
    let operator = operator::OperatorSide {
        kept: &kept,
        ledger_ids: &ledger_ids,
        started,
    };
    let placed = place::place(
        p,
        period,
        &classified,
        &release,
        operator,
        noise.for_publication(),
    );
    let (cells, outputs) = match placed {
        Ok(outputs) => (TableCells::of(&release), outputs),
        Err(_) if published(p, period) => (Vec::new(), digest_release(&dir)?),
        Err(e) => return Err(e),
    };
    failpoint::hit("publish:renamed");
    ledger.commit(&ids, &outputs)?;
    Ok(PublishReport {
        dir,
        new: true,
        cells,
        settled,
    })
}

/// Whether the period is published by this store's ledger, its directory in place; a
/// directory the ledger did not publish, or a published release whose directory is gone, is
/// refused.
fn already_published(p: &Pipeline, period: Period, ledger: &Ledger) -> Result<bool, PublishError> {
    let dir = release_dir(p, period);
    let ours = ledger
        .published(&p.dataset, &period.to_string())?
        .into_iter()
        .next();
    match (published(p, period), ours) {
        (true, Some(_)) => Ok(true),
        (true, None) => Err(PublishError::ForeignRelease { dir }),
        (false, Some(r)) => Err(PublishError::ReleaseMissing { dir, id: r.id }),
        (false, None) => Ok(false),
    }
}

impl ClassifiedPeriod {
    /// What the release asks of the ledger: every noised table, its query, cost and noise.
    fn request<'a>(
        &'a self,
        p: &'a Pipeline,
        period: &'a str,
        for_publication: bool,
    ) -> Result<ReleaseRequest<'a>, SamplerError> {
        let tables = self
            .plan
            .tables
            .iter()
            .map(|(id, t)| {
                Ok(TableRequest {
                    table: id,
                    query_digest: self.query_digests.get(id).expect("a noised table"),
                    rho: t.rho.clone(),
                    sigma2: t.sigma2()?,
                    delta_sq: t.delta_sq,
                    cells: self.exact.get(id).expect("a noised table").len(),
                })
            })
            .collect::<Result<Vec<_>, SamplerError>>()?;
        Ok(ReleaseRequest {
            dataset: &p.dataset,
            period,
            years: self.years.clone(),
            budget: PrivacyConfig::exact(p.privacy.annual_rho),
            tables,
            for_publication,
        })
    }
}

/// The noisy values of every reserved table: those drawn before (an interrupted run of this
/// release, or an identical query's) as the ledger holds them, the others drawn now, in the
/// plan's order, and all kept in one transaction — a crash keeps all the draws or none (and
/// none then left the process). Returns them with each table's ledger id.
fn draw_missing(
    ledger: &mut Ledger,
    reserved: Vec<ReservedTable>,
    classified: &ClassifiedPeriod,
    noise: &mut NoiseSource,
) -> Result<(Noised<NoisyTable>, Noised<i64>), PublishError> {
    let mut fresh = BTreeMap::new();
    for t in reserved.iter().filter(|t| t.draws.is_none()) {
        let id = t.table;
        let plan = classified.plan.table(id).expect("a noised table");
        let cells = classified.exact.get(id).expect("a noised table");
        fresh.insert(t.id, draw(cells, &t.sigma2, &plan.scales, noise)?);
    }
    let to_store: Vec<(i64, &[i64])> = fresh.iter().map(|(id, v)| (*id, v.as_slice())).collect();
    ledger.store_all_draws(&to_store)?;
    let mut by_table = BTreeMap::new();
    for t in reserved {
        let table_id = t.table;
        let reused_from = match t.reused_from {
            Some(from) => ledger
                .release(from)?
                .map(|r| format!("{}/{}", r.dataset, r.period)),
            None => None,
        };
        let noisy = match t.draws {
            Some(values) => values,
            None => fresh.remove(&t.id).expect("drawn above"),
        };
        let table = NoisyTable {
            noisy,
            sigma2: t.sigma2.clone(),
            reused_from,
        };
        by_table.insert(table_id, (t.id, table));
    }
    let taken = Noised::from_fn(|id| {
        by_table
            .remove(&id)
            .expect("the ledger reserves every table it is asked for")
    });
    let ids = taken.map(|_, (id, _)| *id);
    let tables = taken.into_map(|_, (_, table)| table);
    Ok((tables, ids))
}

/// Settles what crashed runs left: reservations never sampled are aborted (no noise was
/// drawn); sampled ones whose release directory is in place are committed. Sampled ones
/// without it stay spent, to be finished from their stored draws.
fn settle(p: &Pipeline, ledger: &mut Ledger) -> Result<(usize, usize), PublishError> {
    let (mut committed, mut aborted) = (0, 0);
    for r in ledger.unfinished()? {
        match r.status {
            Status::Reserved => aborted += ledger.abort(&[r.id])?,
            Status::Sampled => {
                let dir = p.release_dir.join(&r.dataset).join(&r.period);
                if dir.join(MANIFEST_FILE).is_file() {
                    ledger.commit(&[r.id], &digest_release(&dir)?)?;
                    committed += 1;
                }
            }
            _ => {}
        }
    }
    Ok((committed, aborted))
}
