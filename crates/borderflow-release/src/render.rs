//! Render: every file of a release directory from a [`ProtectedRelease`] and the release's
//! public description ([`ReleaseAbout`]) — the tables in Parquet, CSV and SDMX-CSV, the SDMX
//! structure message, the data package, `report.html`, `quality.json`, the JSON Schemas and
//! `manifest.json`, last.
//!
//! It is given nothing exact: the compiler keeps every count a writer sees noisy. Where the
//! files go (a staging directory renamed into place) and when the release counts as published
//! are the publish stage's.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_core::{CountryCode, TableId};
use borderflow_privacy::PrivacyConfig;
use borderflow_privacy::accountant::epsilon;
use borderflow_refdata::RefData;
use chrono::NaiveDate;

use crate::datapackage::{DATAPACKAGE_FILE, data_package};
use crate::history::published_crossings;
use crate::manifest::{
    CellCounts, ClassificationManifest, MANIFEST_FILE, MANIFEST_SCHEMA, MANIFEST_SCHEMA_FILE,
    Manifest, PrivacyManifest, QUALITY_FILE, QUALITY_SCHEMA, QUALITY_SCHEMA_FILE, Quality,
    REPORT_FILE, ReturnMigrantsStatus, SCHEMA_VERSION, Software, TableManifest, digest_release,
};
use crate::protect::ProtectedRelease;
use crate::report::{self, PeriodCrossings, ReportInput};
use crate::sdmx::{STRUCTURE_FILE, SdmxCodes, SdmxConfig, write_sdmx_csv, write_structures};
use crate::table::ReleasedTable;
use crate::write::{WriteError, write_csv, write_file, write_parquet};

/// The classification window a release's figures rest on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseWindow {
    /// First day the window reads (the previous window's, when return migrants are measured).
    pub window_first: NaiveDate,
    /// First day of the look-back.
    pub lookback_first: NaiveDate,
    /// Last day of the look-back.
    pub lookback_last: NaiveDate,
}

impl ReleaseWindow {
    /// Days of the look-back.
    pub fn lookback_days(&self) -> i64 {
        (self.lookback_last - self.lookback_first).num_days() + 1
    }
}

/// What a release says about itself besides its values: all public.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseAbout<'a> {
    /// The dataset.
    pub dataset: &'a str,
    /// The reference period (`2025`, `2025-07`).
    pub period: &'a str,
    /// The measuring country M.
    pub measuring_country: CountryCode,
    /// False for a test release (seeded noise): marked NOT FOR PUBLICATION everywhere.
    pub for_publication: bool,
    /// The `[privacy]` settings (k, the phantom rate, δ, the annual budget).
    pub privacy: &'a PrivacyConfig,
    /// Every calendar year of data the window reads: each was charged the release's ρ.
    pub budget_years: &'a [i32],
    /// The SDMX identifiers.
    pub sdmx: &'a SdmxConfig,
    /// The code lists.
    pub refdata: &'a RefData,
    /// SHA-256 of the configuration that decides the statistics.
    pub config_digest: &'a str,
    /// The classification window.
    pub window: ReleaseWindow,
    /// The classification rules, as configured.
    pub rules: &'a serde_json::Value,
    /// What the classification said of return migrants when it measured them (that they
    /// are undercounted, when the store begins too late).
    pub return_migrants_note: Option<&'a str>,
    /// Published crossings of the dataset's earlier periods, oldest first (the report's
    /// series over time).
    pub earlier_crossings: &'a [PeriodCrossings],
    /// When the release is published (RFC 3339, UTC).
    pub published_at: &'a str,
    /// The classification's measured accuracy the release states beside its noise.
    pub accuracy: &'a crate::accuracy::MethodAccuracy,
    /// Persons estimated from the noisy counts, with their factors (a partnership's combined
    /// release), shown in the report.
    pub persons: Option<&'a crate::report::PersonsSection>,
}

/// Writes every file of the release into `dir` (a staging directory), the manifest last, and
/// returns the outputs digest the manifest records.
pub fn render(
    release: &ProtectedRelease,
    about: &ReleaseAbout<'_>,
    dir: &Path,
) -> Result<String, WriteError> {
    let codes = SdmxCodes::new(about.refdata);
    let tables = published_tables(release, about);
    // Each table's files on a thread of their own: the crossings table (62,250 cells) alone
    // is most of the writing, and the others come for free beside it.
    std::thread::scope(|s| {
        let writers: Vec<_> = tables
            .iter()
            .map(|t| s.spawn(|| write_all(t, about.sdmx, &codes, dir)))
            .collect();
        writers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })?;
    write_structures(
        about.sdmx,
        &codes,
        about.published_at,
        !about.for_publication,
        &dir.join(STRUCTURE_FILE),
    )?;
    let package = data_package(about.dataset, about.period, &tables);
    write_file(
        &dir.join(DATAPACKAGE_FILE),
        format!("{package:#}\n").as_bytes(),
    )?;
    for (file, schema) in [
        (MANIFEST_SCHEMA_FILE, MANIFEST_SCHEMA),
        (QUALITY_SCHEMA_FILE, QUALITY_SCHEMA),
    ] {
        write_file(&dir.join(file), schema.as_bytes())?;
    }
    let html = report_html(release, about);
    write_file(&dir.join(REPORT_FILE), html.as_bytes())?;
    write_file(&dir.join(QUALITY_FILE), &quality(release, about).to_bytes())?;
    let outputs_digest = digest_release(dir)?;
    let manifest = manifest(release, about, &outputs_digest);
    write_file(&dir.join(MANIFEST_FILE), &manifest.to_bytes())?;
    Ok(outputs_digest)
}

/// The tables the release writes: the protected ones, then `persons` when it estimates persons.
fn published_tables<'a>(
    release: &'a ProtectedRelease,
    about: &ReleaseAbout<'a>,
) -> Vec<&'a ReleasedTable> {
    let mut tables = release.tables().to_vec();
    tables.extend(about.persons.map(|p| &p.table));
    tables
}

/// Writes `<dir>/<name>.parquet`, `.csv` and `.sdmx.csv` (against the dataflows of `ids`),
/// the three at once.
pub fn write_all(
    table: &ReleasedTable,
    ids: &SdmxConfig,
    codes: &SdmxCodes,
    dir: &Path,
) -> Result<(), WriteError> {
    std::thread::scope(|s| {
        let parquet =
            s.spawn(|| write_parquet(table, &dir.join(format!("{}.parquet", table.name))));
        let csv = s.spawn(|| write_csv(table, &dir.join(format!("{}.csv", table.name))));
        let sdmx = write_sdmx_csv(
            table,
            ids,
            codes,
            &dir.join(format!("{}.sdmx.csv", table.name)),
        );
        let join = |w: std::thread::ScopedJoinHandle<'_, Result<(), WriteError>>| {
            w.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        };
        join(parquet).and(join(csv)).and(sdmx)
    })
}

/// ε of the release at the pipeline's δ, from the ρ it charged.
fn epsilon_charged(release: &ProtectedRelease, about: &ReleaseAbout<'_>) -> f64 {
    epsilon(release.rho_charged, about.privacy.delta)
}

/// Share of the SIMs seen that were too sparse to classify, from the noisy totals.
fn share_too_sparse(release: &ProtectedRelease) -> f64 {
    let q = &release.quality;
    if q.sims.value > 0 {
        (q.too_sparse.value as f64 / q.sims.value as f64).min(1.0)
    } else {
        0.0
    }
}

fn report_html(release: &ProtectedRelease, about: &ReleaseAbout<'_>) -> String {
    let mut history = about.earlier_crossings.to_vec();
    history.push(published_crossings(&release.crossings));
    let threshold = |t| release.threshold(t).expect("a noised table");
    report::render(&ReportInput {
        dataset: about.dataset,
        period: about.period,
        measuring_country: about.measuring_country,
        for_publication: about.for_publication,
        k: about.privacy.k,
        rho: release.rho_charged,
        epsilon: epsilon_charged(release, about),
        budget_years: about.budget_years,
        phantom_rate: about.privacy.phantom_rate,
        thresholds: (
            threshold(TableId::Categories),
            threshold(TableId::Crossings),
        ),
        delta: about.privacy.delta,
        categories: &release.categories,
        totals: &release.totals,
        crossings: &release.crossings,
        corridors: &release.corridors,
        crossings_history: &history,
        share_too_sparse: share_too_sparse(release),
        return_migrants_measured: release.not_measured.is_none(),
        refdata: about.refdata,
        published_at: about.published_at,
        agency: &about.sdmx.agency,
        accuracy: about.accuracy,
        persons: about.persons,
    })
}

fn quality(release: &ProtectedRelease, about: &ReleaseAbout<'_>) -> Quality {
    let q = &release.quality;
    let lookback_days = about.window.lookback_days() as f64;
    let density = if q.sims.value > 0 {
        (q.sim_days.value as f64 / (q.sims.value as f64 * lookback_days)).min(1.0)
    } else {
        0.0
    };
    Quality {
        schema_version: SCHEMA_VERSION,
        period: about.period.to_string(),
        measuring_country: about.measuring_country.to_string(),
        note: "Every count here is noisy (differential privacy: the quality and daily tables in manifest.json) or computed from noisy counts. Exact record counts (rows read, quarantined by reason, events per day) stay with the operator.".into(),
        sims_seen: q.sims,
        sims_too_sparse_to_classify: q.too_sparse,
        share_too_sparse_to_classify: share_too_sparse(release),
        sims_on_open_spells: q.open_spells,
        sim_days_observed: q.sim_days,
        observation_density_days_seen_per_sim_day: density,
        sims_seen_per_day: release.daily.per_day.clone(),
        sims_seen_per_day_noise_sd: release.daily.noise_sd,
        days_indistinguishable_from_no_data: release.daily.indistinguishable_from_no_data,
    }
}

/// The cells of each published table by status, keyed by table name.
pub fn cells_by_status(release: &ProtectedRelease) -> BTreeMap<String, CellCounts> {
    release
        .tables()
        .into_iter()
        .map(|t| (t.name.to_string(), CellCounts::of(t)))
        .collect()
}

fn manifest(
    release: &ProtectedRelease,
    about: &ReleaseAbout<'_>,
    outputs_digest: &str,
) -> Manifest {
    let years = about.budget_years;
    let tables: BTreeMap<String, TableManifest> = release
        .noise
        .iter()
        .map(|(id, t)| (id.name().to_string(), t.clone()))
        .collect();
    Manifest {
        schema_version: SCHEMA_VERSION,
        software: Software::this(),
        dataset: about.dataset.to_string(),
        period: about.period.to_string(),
        measuring_country: about.measuring_country.to_string(),
        for_publication: about.for_publication,
        notice: (!about.for_publication)
            .then(|| "NOT FOR PUBLICATION: noise from a fixed test seed, in a test store".into()),
        config_digest: about.config_digest.to_string(),
        outputs_digest: outputs_digest.to_string(),
        privacy: PrivacyManifest {
            unit: "one SIM's data in one calendar year (SIM-year)".into(),
            neighbouring: format!(
                "two datasets are neighbours when they differ in one SIM's records of one calendar year; this release's window reads {} calendar year(s), so {}",
                years.len(),
                if years.len() > 1 {
                    "a SIM-year may move its SIM between cells (replace-one): Δ² is doubled"
                } else {
                    "a SIM-year adds or removes its SIM (add/remove)"
                }
            ),
            mechanism: "exact discrete Gaussian (Canonne, Kamath, Steinke 2020), rho-zCDP".into(),
            k: about.privacy.k,
            phantom_rate: about.privacy.phantom_rate,
            delta: about.privacy.delta,
            budget_years: years.to_vec(),
            annual_rho: about.privacy.annual_rho,
            rho_of_this_release: release.rho_charged,
            epsilon_of_this_release: epsilon_charged(release, about),
            tables,
            corridors: "sums of the noisy categories cells (post-processing, no cost); noise_sd per row; published at max(k, τ) for that noise".into(),
        },
        cells: {
            let mut cells = cells_by_status(release);
            if let Some(p) = about.persons {
                cells.insert(p.table.name.to_string(), CellCounts::of(&p.table));
            }
            cells
        },
        classification: ClassificationManifest {
            window_first: about.window.window_first.to_string(),
            lookback_first: about.window.lookback_first.to_string(),
            lookback_last: about.window.lookback_last.to_string(),
            return_migrants: ReturnMigrantsStatus {
                available: release.not_measured.is_none(),
                reason: match release.not_measured {
                    Some(n) => Some(n.reason()),
                    None => about.return_migrants_note.map(str::to_string),
                },
            },
            open_spells: release.quality.open_spells,
            rules: about.rules.clone(),
            accuracy: Some(about.accuracy.clone()),
        },
        published_at: about.published_at.to_string(),
    }
}
