//! What a classified period gives its release, operator-side: the classify summary, the exact
//! tables over the public domain (tabulated here, or by a cluster where the facts are), the
//! privacy plan of the release, and each noised table's query digest — everything the
//! ledger is asked for and the noise is added to. Nothing here is published.

use std::path::Path;

use borderflow_core::schema::facts::{CROSSINGS_FILE, SIMS_FILE};
use borderflow_core::{CountryCode, Noised, StateLayout, TableId};
use borderflow_privacy::{DomainSizes, ReleasePlan, Span};
use borderflow_refdata::RefData;
use borderflow_release::accuracy::MethodAccuracy;
use borderflow_release::manifest::digest_files;
use borderflow_release::{
    Domain, ExactTables, FactTotals, ReleaseWindow, TOTAL_CELLS, TabulateParams, read_facts,
    tabulate_facts,
};
use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};

use crate::classify::facts_dir;
use crate::engine::Engine;
use crate::publish::PublishError;
use crate::reports::{ClassifyReport, IngestReport};
use crate::{Period, Pipeline};

/// A classified period, ready to be released.
pub(crate) struct ClassifiedPeriod {
    /// The classify stage's summary of the period.
    pub summary: ClassifyReport,
    /// The code lists the release is tabulated over.
    pub refdata: RefData,
    /// The public domain.
    pub domain: Domain,
    /// The SIM totals of the facts (for the operator manifest).
    pub facts: FactTotals,
    /// The exact cells of each noised table: what the noise is added to.
    pub exact: Noised<Vec<u64>>,
    /// The classification window the release rests on.
    pub window: ReleaseWindow,
    /// The release's privacy plan.
    pub plan: ReleasePlan,
    /// The calendar years of data the window reads.
    pub years: Vec<i32>,
    /// The ingest runs whose data the window reads (oldest first).
    pub runs: Vec<IngestReport>,
    /// Each noised table's query digest.
    pub query_digests: Noised<String>,
    /// SHA-256 of the facts files.
    pub facts_digest: String,
    /// The classification's measured accuracy the release states: the pipeline's
    /// `accuracy_file`, else the validation suite's. Read before the ledger is asked.
    pub accuracy: MethodAccuracy,
}

impl ClassifiedPeriod {
    /// Reads the classified facts of `period` and tabulates them; refuses a period not
    /// classified.
    pub fn read(p: &Pipeline, period: Period) -> Result<Self, PublishError> {
        let facts_dir = facts_dir(&p.state_dir, period);
        if !facts_dir.join(SIMS_FILE).is_file() {
            return Err(PublishError::NotClassified {
                period: period.to_string(),
                dir: facts_dir,
            });
        }
        let summary = ClassifyReport::read(&facts_dir)?;
        let accuracy = match &p.accuracy_file {
            Some(f) => MethodAccuracy::read(f)?,
            None => MethodAccuracy::suite(),
        };
        let window = ReleaseWindow {
            window_first: summary.window_first.unwrap_or(summary.lookback_first),
            lookback_first: summary.lookback_first,
            lookback_last: summary.lookback_last,
        };
        let window_first = window.window_first;
        let years = years_read(window_first, summary.lookback_last);
        let refdata = RefData::load(&p.refdata)?;
        let countries: Vec<CountryCode> = refdata.countries.iter().map(|c| c.alpha3).collect();
        let domain = Domain::new(p.measuring_country, &countries);
        let lookback_days = window.lookback_days().unsigned_abs();
        let facts = tabulate(p, &facts_dir, &domain, &countries, lookback_days)?;
        let plan = release_plan(p, &domain, years.len(), lookback_days);
        let layout = StateLayout::new(&p.state_dir);
        let runs = IngestReport::current(&layout, window_first, summary.lookback_last)?;
        let mut inputs: Vec<String> = runs
            .iter()
            .flat_map(|r| r.inputs.values().map(|d| d.sha256.clone()))
            .collect();
        inputs.sort();
        inputs.dedup();
        let query_digests = Noised::from_fn(|table| {
            query_digest(
                p,
                period,
                table,
                &summary,
                window_first,
                &countries,
                &inputs,
            )
        });
        let exact = ExactTables::of(
            &domain,
            &facts,
            summary.sims_per_day.values().copied().collect(),
        )
        .into_cells();
        Ok(Self {
            facts_digest: digest_files(&[
                facts_dir.join(SIMS_FILE),
                facts_dir.join(CROSSINGS_FILE),
            ])?,
            summary,
            refdata,
            domain,
            facts,
            exact,
            window,
            plan,
            years,
            runs,
            query_digests,
            accuracy,
        })
    }
}

/// The privacy plan of a release of the pipeline over `domain`, on a window of `window_days`
/// that reads `years` calendar years.
pub(crate) fn release_plan(
    p: &Pipeline,
    domain: &Domain,
    years: usize,
    window_days: u64,
) -> ReleasePlan {
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
    table: TableId,
    summary: &ClassifyReport,
    window_first: NaiveDate,
    countries: &[CountryCode],
    inputs: &[String],
) -> String {
    let identity = serde_json::json!({
        "table": table.name(),
        "window_first": window_first.to_string(),
        "lookback_last": summary.lookback_last.to_string(),
        // Only crossings count within the period; the other tables classify the look-back
        // as of its last day, so a December and the year it ends ask the same of them.
        "crossings_from": (table == TableId::Crossings).then(|| period.first().to_string()),
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
    facts: &Path,
    domain: &Domain,
    countries: &[CountryCode],
    lookback_days: u64,
) -> Result<FactTotals, PublishError> {
    let max_pairs = p.classify.max_crossing_pairs;
    match Engine::of(&p.engine) {
        cluster @ Engine::Cluster { .. } => {
            // A cluster's session spills on its executors: no local directory is given.
            let (runtime, ctx) = cluster.session(facts)?;
            let params =
                TabulateParams::new(p.measuring_country, countries, max_pairs, lookback_days);
            let facts = crate::engine::worker_path(facts)?;
            Ok(runtime.block_on(tabulate_facts(&ctx, &facts, &params))?)
        }
        Engine::Local(_) => Ok(read_facts(facts, domain, max_pairs, lookback_days)?),
    }
}
