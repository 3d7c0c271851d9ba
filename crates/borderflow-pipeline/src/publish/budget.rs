//! The budget a release will ask for, known before anything is read: its planned cost, and
//! the refusal, before ingest changes the store, of a release the ledger would refuse.

use borderflow_core::CountryCode;
use borderflow_privacy::{Ledger, PrivacyConfig, ReleasePlan, Status};
use borderflow_refdata::RefData;
use borderflow_release::Domain;

use super::classified::{release_plan, years_read};
use super::error::PublishError;
use crate::{Period, Pipeline};

/// What a release of `period` will ask of the ledger, before anything is classified: the
/// data years its window reads (the 365-day look-back, 730 days when return migrants are
/// measured) and the ρ it charges to each.
pub fn planned_cost(p: &Pipeline, period: Period) -> Result<(Vec<i32>, f64), PublishError> {
    let (years, plan) = planned(p, period)?;
    Ok((years, plan.rho().to_f64()))
}

/// The data years a release of `period` reads and its plan, before anything is classified.
fn planned(p: &Pipeline, period: Period) -> Result<(Vec<i32>, ReleasePlan), PublishError> {
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
    Ok((years, plan))
}

/// Refuses, before any input is read, a release the budget cannot take: a budget other than
/// one a year its window reads holds, or a planned ρ more than is left of such a year. The
/// ledger decides, in its exact arithmetic ([`Ledger::check_cost`]). A release that may reuse
/// the noise of an earlier identical query (the year and its December, either way round), or
/// that an interrupted run already reserved, is left for the ledger to decide once its
/// queries are known. Returns the planned cost.
pub fn precheck_budget(
    p: &Pipeline,
    period: Period,
    ledger: &Ledger,
) -> Result<(Vec<i32>, f64), PublishError> {
    let (years, plan) = planned(p, period)?;
    let configured = PrivacyConfig::exact(p.privacy.annual_rho);
    // A year's budget is fixed once set: a pipeline that says otherwise is refused now,
    // before ingest changes the store, not after.
    ledger.check_budget_fixed(&years, &configured)?;
    if !may_reuse_or_resume(p, period, ledger)? {
        ledger.check_cost(
            &p.dataset,
            &period.to_string(),
            &years,
            &configured,
            &plan.rho(),
        )?;
    }
    Ok((years, plan.rho().to_f64()))
}

/// Whether a release of `period` may cost less than its plan: noise may be reused from an
/// identical query of any dataset (the period itself, or the year and its December either way
/// round, once published), and a run of this release that was interrupted has paid already.
fn may_reuse_or_resume(
    p: &Pipeline,
    period: Period,
    ledger: &Ledger,
) -> Result<bool, PublishError> {
    let text = period.to_string();
    let counterpart = match period {
        Period::Year(y) => Some(Period::Month(y, 12).to_string()),
        Period::Month(y, 12) => Some(Period::Year(y).to_string()),
        Period::Month(..) => None,
    };
    Ok(ledger.releases()?.into_iter().any(|r| {
        let same = r.period == text || counterpart.as_deref() == Some(r.period.as_str());
        let interrupted = r.dataset == p.dataset
            && r.period == text
            && matches!(r.status, Status::Reserved | Status::Sampled);
        (same && r.status == Status::Published) || interrupted
    }))
}
