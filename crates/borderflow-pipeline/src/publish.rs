//! The publish stage's discipline (docs/design.md §1.3, §1.4, §1.6, §7): a period's classified facts
//! become `release/<dataset>/<period>/` only under the store's ledger.
//!
//! 1. **Lock and settle.** One run at a time. What crashed runs left is settled: a
//!    reservation never sampled is aborted (no noise was drawn, its cost is returned); a
//!    sampled one whose release directory is in place is committed; a sampled one without
//!    it stays spent and is finished from its stored draws when its release is run again.
//!    Staging directories left beside the release are removed.
//! 2. **Already published?** Then it is returned as it is, never noised again. A release
//!    directory this store's ledger did not publish is refused, never taken for its own.
//! 3. **Reserve** every table of the [`ReleasePlan`] in one transaction, charged to every
//!    calendar year of data the window reads; an identical query reuses its noisy values at
//!    no cost. Over any year's budget, nothing is written.
//! 4. **Sampled, then noise.** The ledger marks the tables sampled before any noise is drawn
//!    (from then on nothing is refunded), then keeps the noisy values it draws.
//! 5. **Write** (the private `assemble` module): staged, fsynced, renamed into place, manifest
//!    last; then **commit**. Nothing after the rename undoes the release.
//!
//! [`borderflow_core::failpoint`]s between the steps let tests kill the run at each one.

use borderflow_core::{Failure, FailureKind};
use std::collections::BTreeMap;
use std::path::PathBuf;

use borderflow_core::failpoint;
use borderflow_core::schema::facts::{CROSSINGS_FILE, SIMS_FILE};
use borderflow_core::{CountryCode, PathError, StagedDir, StateLayout};
use borderflow_privacy::{
    DomainSizes, Ledger, LedgerError, NoiseSource, PrivacyConfig, ReleasePlan, ReleaseRequest,
    Reservation, SamplerError, Span, Status, StoreKind, TableRequest, draw,
};
use borderflow_refdata::{RefData, RefDataError};
use borderflow_release::manifest::{MANIFEST_FILE, digest_files, digest_release};
use borderflow_release::{
    Domain, FactsError, TOTAL_CELLS, TabulateError, TabulateParams, WriteError, read_facts,
    tabulate_facts,
};
use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};

use crate::assemble::{Drawn, Job};
use crate::classify::facts_dir;
use crate::engine::partitions;
use crate::reports::{ClassifyReport, IngestReport, ReportError};
use crate::{EngineKind, Period, Pipeline};

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
    /// The period's facts were classified by an earlier version that did not count SIMs per day.
    #[error(
        "the facts of period {period} lack the daily SIM counts a release noises: run `borderflow classify` for it again"
    )]
    StaleFacts {
        /// The period.
        period: String,
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

/// The privacy plan of a release of the pipeline over `domain`, on a window of `window_days`
/// that reads `years` calendar years.
fn release_plan(p: &Pipeline, domain: &Domain, years: usize, window_days: u64) -> ReleasePlan {
    ReleasePlan::new(
        &p.privacy,
        p.classify.max_crossing_pairs,
        Span::of_years(years),
        DomainSizes {
            categories: domain.categories.len(),
            crossings: domain.crossings.len(),
            totals: TOTAL_CELLS,
            window_days,
        },
    )
}

/// What a release of `period` will ask of the ledger, before anything is classified: the
/// data years its window reads (the 365-day look-back, 730 days when return migrants are
/// measured) and the ρ it charges to each.
pub fn planned_cost(p: &Pipeline, period: Period) -> Result<(Vec<i32>, f64), PublishError> {
    let days = if p.classify.return_migrants {
        2 * i64::from(crate::CLASSIFY_LOOKBACK_DAYS)
    } else {
        i64::from(crate::CLASSIFY_LOOKBACK_DAYS)
    };
    let first = period.last() - chrono::Duration::days(days - 1);
    let years = years_read(first, period.last());
    let rd = RefData::load(&p.refdata)?;
    let countries: Vec<CountryCode> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(p.measuring_country, &countries);
    let plan = release_plan(p, &domain, years.len(), days as u64);
    Ok((years, plan.rho().to_f64()))
}

/// Refuses, before any input is read, a release the budget cannot take: its planned ρ is
/// more than is left of a data year its window reads. A release that may reuse the noise of
/// an earlier identical query (the year and its December, either way round), or that an
/// interrupted run already reserved, is left for the ledger to decide once its queries are
/// known. Returns the planned cost.
pub fn precheck_budget(
    p: &Pipeline,
    period: Period,
    ledger: &Ledger,
) -> Result<(Vec<i32>, f64), PublishError> {
    let (years, rho) = planned_cost(p, period)?;
    // Noise may be reused from an identical query of any dataset (the period itself, or the
    // year and its December either way round), and a run of this release that was
    // interrupted has paid already: the ledger decides those once the queries are known.
    let text = period.to_string();
    let counterpart = match period {
        Period::Year(y) => Some(Period::Month(y, 12).to_string()),
        Period::Month(y, 12) => Some(Period::Year(y).to_string()),
        Period::Month(..) => None,
    };
    // A year's budget is fixed once set: a pipeline that says otherwise is refused now,
    // before ingest changes the store, not after.
    let configured = borderflow_privacy::PrivacyConfig::exact(p.privacy.annual_rho);
    for (year, held) in ledger.budgets()? {
        if years.contains(&year) && held != configured {
            return Err(LedgerError::BudgetChanged {
                year,
                ledger: format!("{}", held.to_f64()),
                pipeline: format!("{}", p.privacy.annual_rho),
            }
            .into());
        }
    }
    let reusable = ledger.releases()?.into_iter().any(|r| {
        let same = r.period == text || counterpart.as_deref() == Some(r.period.as_str());
        let interrupted = r.dataset == p.dataset
            && r.period == text
            && matches!(
                r.status,
                borderflow_privacy::Status::Reserved | borderflow_privacy::Status::Sampled
            );
        (same && r.status == borderflow_privacy::Status::Published) || interrupted
    });
    if reusable {
        return Ok((years, rho));
    }
    let budgets = ledger.budgets()?;
    for &year in &years {
        let budget = budgets
            .iter()
            .find(|(y, _)| *y == year)
            .map_or(p.privacy.annual_rho, |(_, b)| b.to_f64());
        let spent = ledger.spent(year)?.to_f64();
        if spent + rho > budget * (1.0 + 1e-12) {
            return Err(LedgerError::OverBudget {
                dataset: p.dataset.clone(),
                period: period.to_string(),
                year,
                requested: rho,
                spent,
                budget,
                remaining: (budget - spent).max(0.0),
            }
            .into());
        }
    }
    Ok((years, rho))
}

/// The calendar years from `first` to `last`, both included.
pub fn years_read(first: NaiveDate, last: NaiveDate) -> Vec<i32> {
    (first.year()..=last.year()).collect()
}

/// What a table's query is: everything its exact answer depends on except the SIMs' data,
/// plus the identity of the data read (the digests of the ingested files of the window).
/// Two releases whose queries share this digest count the same thing over the same data,
/// whatever their dataset name or period label.
fn query_digest(
    p: &Pipeline,
    period: Period,
    table: &str,
    summary: &ClassifyReport,
    window_first: NaiveDate,
    countries: &[CountryCode],
    inputs: &[String],
) -> String {
    let identity = serde_json::json!({
        "table": table,
        "window_first": window_first.to_string(),
        "lookback_last": summary.lookback_last.to_string(),
        // Only crossings count within the period; the other tables classify the look-back
        // as of its last day, so a December and the year it ends ask the same of them.
        "crossings_from": (table == borderflow_privacy::plan::CROSSINGS)
            .then(|| period.first().to_string()),
        "measuring_country": p.measuring_country.to_string(),
        "operator_plmns": p.operator_plmns,
        "rules": summary.rules,
        "key_fingerprint": summary.key_fingerprint,
        "code_list": countries.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "inputs": inputs,
    });
    hex::encode(Sha256::digest(identity.to_string().as_bytes()))
}

/// The exact tables of the facts in `facts`: read here on the local engine, or tabulated by
/// the cluster's executors where the facts are, so only the tables reach this process. Both
/// apply the same per-SIM rule ([`borderflow_release::FactTotals::add_sim`]).
fn tabulate(
    p: &Pipeline,
    facts: &std::path::Path,
    domain: &Domain,
    countries: &[CountryCode],
    lookback_days: u64,
) -> Result<borderflow_release::FactTotals, PublishError> {
    let max_pairs = p.classify.max_crossing_pairs;
    match (p.engine.kind, &p.engine.scheduler) {
        (EngineKind::Ballista, Some(url)) => {
            let (runtime, ctx) = crate::engine::cluster_session(url, partitions(&p.engine))?;
            let params =
                TabulateParams::new(p.measuring_country, countries, max_pairs, lookback_days);
            let facts = crate::engine::worker_path(facts)?;
            Ok(runtime.block_on(tabulate_facts(&ctx, &facts, &params))?)
        }
        _ => Ok(read_facts(facts, domain, max_pairs, lookback_days)?),
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
    crate::binding::check(p)?;
    let lock = crate::StateLock::for_run(&p.state_dir)?;
    let layout = StateLayout::new(&p.state_dir);
    lock.clear_leftovers(&layout)?;
    let mut ledger = open_store(p, &noise)?;
    let dir = release_dir(p, period);
    StagedDir::remove_stale(&dir)?;
    let settled = settle(p, &mut ledger)?;
    let existing = |dir| PublishReport {
        dir,
        new: false,
        cells: Vec::new(),
        settled,
    };
    let period_text = period.to_string();
    let ours = ledger
        .published(&p.dataset, &period_text)?
        .into_iter()
        .next();
    match (published(p, period), ours) {
        (true, Some(_)) => return Ok(existing(dir)),
        (true, None) => return Err(PublishError::ForeignRelease { dir }),
        (false, Some(r)) => return Err(PublishError::ReleaseMissing { dir, id: r.id }),
        (false, None) => {}
    }
    let facts = facts_dir(&p.state_dir, period);
    if !facts.join(SIMS_FILE).is_file() {
        return Err(PublishError::NotClassified {
            period: period_text,
            dir: facts,
        });
    }
    let summary = ClassifyReport::read(&facts)?;
    let window_first = summary.window_first.unwrap_or(summary.lookback_first);
    let years = years_read(window_first, summary.lookback_last);
    let rd = RefData::load(&p.refdata)?;
    let countries: Vec<CountryCode> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(p.measuring_country, &countries);
    let lookback_days = (summary.lookback_last - summary.lookback_first).num_days() as u64 + 1;
    let exact = tabulate(p, &facts, &domain, &countries, lookback_days)?;
    let plan = release_plan(p, &domain, years.len(), lookback_days);
    let runs = IngestReport::current(&layout, window_first, summary.lookback_last)?;
    let mut inputs: Vec<String> = runs
        .iter()
        .flat_map(|r| r.inputs.values().map(|d| d.sha256.clone()))
        .collect();
    inputs.sort();
    inputs.dedup();
    let digests: Vec<String> = plan
        .tables
        .iter()
        .map(|t| {
            query_digest(
                p,
                period,
                t.name,
                &summary,
                window_first,
                &countries,
                &inputs,
            )
        })
        .collect();
    let counts = crate::assemble::exact_cells(&domain, &exact, &summary);
    let requests = plan
        .tables
        .iter()
        .zip(&digests)
        .map(|(t, digest)| {
            Ok(TableRequest {
                table: t.name,
                query_digest: digest,
                rho: t.rho.clone(),
                sigma2: t.sigma2()?,
                delta_sq: t.delta_sq,
                cells: counts[t.name].len(),
            })
        })
        .collect::<Result<Vec<_>, SamplerError>>()?;
    let reserved = match ledger.reserve(&ReleaseRequest {
        dataset: &p.dataset,
        period: &period_text,
        years: years.clone(),
        budget: PrivacyConfig::exact(p.privacy.annual_rho),
        tables: requests,
        for_publication: noise.for_publication(),
    })? {
        Reservation::AlreadyPublished(_) => return Ok(existing(dir)),
        Reservation::Reserved(tables) => tables,
    };
    failpoint::hit("publish:reserved");
    let ids: Vec<i64> = reserved.iter().map(|t| t.id).collect();
    ledger.mark_sampled(&ids)?;
    failpoint::hit("publish:sampled");
    // Every table not drawn before is drawn, then all are kept in one transaction: a crash
    // keeps all the draws or none (and none then left the process).
    let mut fresh = BTreeMap::new();
    for t in reserved.iter().filter(|t| t.draws.is_none()) {
        let table = plan.table(&t.table);
        let values = draw(&counts[table.name], &t.sigma2, &table.scales, &mut noise)?;
        fresh.insert(t.id, values);
    }
    let to_store: Vec<(i64, &[i64])> = fresh.iter().map(|(id, v)| (*id, v.as_slice())).collect();
    ledger.store_all_draws(&to_store)?;
    let mut drawn = BTreeMap::new();
    for t in reserved {
        let table = plan.table(&t.table);
        let noisy = match t.draws {
            Some(values) => values,
            None => fresh.remove(&t.id).expect("drawn above"),
        };
        let reused_from = match t.reused_from {
            Some(from) => ledger
                .release(from)?
                .map(|r| format!("{}/{}", r.dataset, r.period)),
            None => None,
        };
        drawn.insert(
            table.name,
            Drawn {
                id: t.id,
                sigma2: t.sigma2,
                noisy,
                reused_from,
            },
        );
    }
    failpoint::hit("publish:drawn");
    let job = Job {
        p,
        period,
        plan: &plan,
        years: &years,
        summary: &summary,
        domain: &domain,
        rd: &rd,
        exact: &exact,
        runs: &runs,
        facts_digest: digest_files(&[facts.join(SIMS_FILE), facts.join(CROSSINGS_FILE)])?,
        query_digests: plan.tables.iter().map(|t| t.name).zip(digests).collect(),
        started,
    };
    let written = job.write_release(&drawn, noise.for_publication());
    // Once the release is renamed into place it is published, whatever failed after.
    let (cells, outputs) = match written {
        Ok(w) => w,
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

impl FailureKind for PublishError {
    fn failure(&self) -> Failure {
        match self {
            PublishError::NotClassified { .. } | PublishError::StaleFacts { .. } => Failure::State,
            PublishError::ForeignRelease { .. } | PublishError::ReleaseMissing { .. } => {
                Failure::State
            }
            PublishError::Ledger(e) => e.failure(),
            PublishError::RefData(e) => e.failure(),
            PublishError::Tabulate(e) => e.failure(),
            PublishError::Facts(e) => e.failure(),
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
