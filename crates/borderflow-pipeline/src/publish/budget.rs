//! The budget a release will ask for, known before anything is read: its planned cost, and
//! the refusal, before ingest changes the store, of a release the ledger would refuse.

use borderflow_core::CountryCode;
use borderflow_privacy::{Ledger, LedgerError};
use borderflow_refdata::RefData;
use borderflow_release::Domain;

use super::classified::{release_plan, years_read};
use super::error::PublishError;
use crate::{Period, Pipeline};

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
