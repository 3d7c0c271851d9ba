//! What the publish stage writes once the ledger has reserved its cost and the noise is
//! drawn: the noisy values → threshold ([`borderflow_privacy::threshold`], by the
//! [`ReleasePlan`]) → the release's tables, report, quality indicators and manifest
//! ([`borderflow_release`]), staged and renamed into place with the manifest last; and the
//! operator manifest with everything exact, under the state directory.
//!
//! Only noisy values and public parameters reach the release directory. The ledger
//! discipline around it is [`crate::publish`]'s.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_core::{Category, StagedDir, StateLayout, failpoint, write_file_atomic};
use borderflow_privacy::accountant::epsilon;
use borderflow_privacy::plan::{CATEGORIES, CROSSINGS, DAILY, QUALITY, TOTALS};
use borderflow_privacy::{ProtectedCell, Ratio, ReleasePlan, Threshold, threshold};
use borderflow_refdata::RefData;
use borderflow_release::datapackage::{DATAPACKAGE_FILE, data_package};
use borderflow_release::history::{earlier_crossings, published_crossings};
use borderflow_release::manifest::{
    CellCounts, ClassificationManifest, ExactCounts, InputManifest, MANIFEST_FILE, MANIFEST_SCHEMA,
    MANIFEST_SCHEMA_FILE, Manifest, NoisyTotal, OPERATOR_MANIFEST_FILE, OperatorManifest,
    PrivacyManifest, QUALITY_FILE, QUALITY_SCHEMA, QUALITY_SCHEMA_FILE, Quality, REPORT_FILE,
    ReturnMigrantsStatus, RowTotals, SCHEMA_VERSION, Software, TableManifest, Timings,
    digest_release,
};
use borderflow_release::report::{self, ReportInput};
use borderflow_release::sdmx::{STRUCTURE_FILE, write_structures};
use borderflow_release::tabulate::mark_not_measured;
use borderflow_release::write::{write_file, write_parquet};
use borderflow_release::{Domain, FactTotals, ReleasedTable, SdmxCodes, exact_totals, totals};
use sha2::{Digest, Sha256};

use crate::publish::{PublishError, TableCells, noisy_dir, release_dir};
use crate::reports::{ClassifyReport, IngestReport};
use crate::{Period, Pipeline};

/// The noisy values of one table, as the ledger holds them.
pub(crate) struct Drawn {
    /// Ledger id.
    pub id: i64,
    /// Their noise's σ² (the plan's, or the reused release's).
    pub sigma2: Ratio,
    /// One per cell of the table's domain.
    pub noisy: Vec<i64>,
    /// `dataset/period` of the release whose values these are, when reused.
    pub reused_from: Option<String>,
}

/// One publish run's inputs, once its noise is drawn.
pub(crate) struct Job<'a> {
    pub p: &'a Pipeline,
    pub period: Period,
    pub plan: &'a ReleasePlan,
    pub years: &'a [i32],
    pub summary: &'a ClassifyReport,
    pub domain: &'a Domain,
    pub rd: &'a RefData,
    pub exact: &'a FactTotals,
    pub runs: &'a [IngestReport],
    pub facts_digest: String,
    pub query_digests: BTreeMap<&'static str, String>,
    pub started: std::time::Instant,
}

/// The exact cells of every noised table, by table name, in the domain's order. Operator-side:
/// these are what the noise is added to.
pub(crate) fn exact_cells(
    domain: &Domain,
    exact: &FactTotals,
    summary: &ClassifyReport,
) -> BTreeMap<&'static str, Vec<u64>> {
    BTreeMap::from([
        (CATEGORIES, exact.tables.categories.clone()),
        (CROSSINGS, exact.tables.crossings.clone()),
        (TOTALS, exact_totals(domain, &exact.tables.categories)),
        (
            QUALITY,
            vec![
                exact.sims,
                exact.tables.unclassified,
                exact.open_spells,
                exact.sim_days,
            ],
        ),
        (DAILY, summary.sims_per_day.values().copied().collect()),
    ])
}

/// The input files of the ingest runs in `runs` (oldest first), one entry per content, with
/// its row counts. A content read in several runs (a monthly run, then the next month's for
/// the dates it had not been read for) is one entry: its rows as the latest read counted
/// them, the rows each read accepted added up (each read took other dates), and as
/// quarantined what the latest read quarantined less the rows earlier reads accepted (those
/// it counted as `already_ingested`), so read = accepted + quarantined still holds.
fn inputs_of(runs: &[IngestReport]) -> Vec<InputManifest> {
    use borderflow_ingest::Reason;
    let mut inputs: Vec<InputManifest> = Vec::new();
    for run in runs {
        for (path, counts) in &run.files {
            let digest = run.inputs.get(path);
            let entry = InputManifest {
                name: Path::new(path)
                    .file_name()
                    .map_or(path.clone(), |n| n.to_string_lossy().into_owned()),
                bytes: digest.map(|d| d.bytes),
                sha256: digest.map(|d| d.sha256.clone()),
                read: counts.read,
                accepted: counts.accepted,
                quarantined: counts
                    .quarantined
                    .iter()
                    .map(|(r, n)| (r.code().to_string(), *n))
                    .collect(),
            };
            let earlier = inputs
                .iter()
                .position(|i| i.sha256.is_some() && i.sha256 == entry.sha256);
            match earlier {
                None => inputs.push(entry),
                Some(k) => {
                    let before = inputs[k].accepted;
                    let mut merged = entry;
                    merged.accepted += before;
                    let already = Reason::AlreadyIngested.code();
                    let taken_before = merged.quarantined.remove(already).unwrap_or(0);
                    // Rows earlier reads took but did not accept (duplicates) stay
                    // quarantined, under their own reason.
                    let duplicates = taken_before.saturating_sub(before);
                    if duplicates > 0 {
                        *merged
                            .quarantined
                            .entry(Reason::Duplicate.code().to_string())
                            .or_default() += duplicates;
                    }
                    inputs[k] = merged;
                }
            }
        }
    }
    inputs
}

/// SHA-256 of the configuration that decides the statistics (after `--set`), as JSON: the
/// measuring country, the operator's networks, the column mapping, presence, rules and privacy
/// settings — not the paths, the dataset's name, the period label or the engine's limits,
/// which change from one machine or schedule to another and decide nothing of the figures.
fn config_digest(p: &Pipeline) -> String {
    let mut v = serde_json::to_value(p).expect("the pipeline serialises");
    if let Some(o) = v.as_object_mut() {
        for local in [
            "dataset",
            "period",
            "state_dir",
            "release_dir",
            "key",
            "engine",
        ] {
            o.remove(local);
        }
        if let Some(input) = o.get_mut("input").and_then(|i| i.as_object_mut()) {
            input.remove("paths");
            input.remove("cell_catalogue");
        }
        if let Some(refdata) = o.get_mut("refdata").and_then(|r| r.as_object_mut()) {
            // The override files' contents reach the code list, which the query digest holds.
            refdata.clear();
        }
    }
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

impl Job<'_> {
    /// The protected cells of a table from its noisy values.
    fn protected(&self, name: &str, d: &Drawn) -> Vec<ProtectedCell> {
        let t = self.plan.table(name);
        let sigma = d.sigma2.to_f64().sqrt();
        threshold(&d.noisy, &d.sigma2, &t.scales, t.threshold_for(sigma))
    }

    fn table_manifest(&self, name: &str, d: &Drawn, counts: CellCounts) -> TableManifest {
        let cells = counts.total();
        let t = self.plan.table(name);
        let sigma = d.sigma2.to_f64().sqrt();
        let threshold = t.threshold_for(sigma);
        let charged = if d.reused_from.is_some() {
            Ratio::new(0u32, 1u32).expect("zero")
        } else {
            t.rho.clone()
        };
        TableManifest {
            rho: charged.to_f64(),
            rho_exact: charged.to_fraction(),
            reused_from: d.reused_from.clone(),
            l2_sensitivity: t.l2_sensitivity(),
            sigma,
            margin_of_error_95: borderflow_privacy::accountant::margin_of_error_95(sigma),
            threshold,
            expected_phantom_cells: if t.k > 1 {
                borderflow_privacy::plan::expected_phantoms(sigma, t.cells, threshold)
            } else {
                0.0
            },
            cells,
            published: counts.published,
            suppressed: counts.suppressed,
            not_measured: counts.not_measured,
        }
    }

    /// Thresholds, writes and renames the release into place, and writes the operator
    /// manifest; returns the cells per table and the outputs digest.
    pub fn write_release(
        &self,
        drawn: &BTreeMap<&'static str, Drawn>,
        for_publication: bool,
    ) -> Result<(Vec<TableCells>, String), PublishError> {
        let p = self.p;
        let domain = self.domain;
        let period = self.period.to_string();
        let m = p.measuring_country;
        let k = p.privacy.k;
        let summary = self.summary;

        let mut cat = self.protected(CATEGORIES, &drawn[CATEGORIES]);
        let return_migrants_measured = summary.return_migrants.available;
        if !return_migrants_measured {
            mark_not_measured(domain, &mut cat, Category::ReturnMigrant);
        }
        let cross = self.protected(CROSSINGS, &drawn[CROSSINGS]);
        let direct = self.protected(TOTALS, &drawn[TOTALS]);
        let quality = self.protected(QUALITY, &drawn[QUALITY]);
        let daily = self.protected(DAILY, &drawn[DAILY]);
        let daily_sd = drawn[DAILY].sigma2.to_f64().sqrt();
        let sims_seen_per_day: BTreeMap<String, i64> = summary
            .sims_per_day
            .keys()
            .zip(&daily)
            .map(|(d, c)| (d.to_string(), c.noisy.max(0)))
            .collect();
        // A day whose noisy count is within the noise of zero: no data, as far as can be told.
        let no_data_days = daily
            .iter()
            .filter(|c| (c.noisy as f64) < borderflow_privacy::accountant::Z_95 * daily_sd)
            .count();
        let totals_threshold = Threshold {
            k,
            phantom_rate: p.privacy.phantom_rate,
            cells: self.plan.table(TOTALS).cells,
        };
        let combined = totals::combine(
            domain,
            &cat,
            &direct,
            &totals_threshold,
            (!return_migrants_measured).then_some(Category::ReturnMigrant),
        );
        let mut categories = ReleasedTable::categories(domain, &cat, m, &period);
        let crossings = ReleasedTable::crossings(domain, &cross, m, &period);
        let mut totals_table = ReleasedTable::totals(&combined, m, &period);
        let mut corridors = borderflow_release::corridors(
            domain,
            &cat,
            k,
            p.privacy.phantom_rate,
            self.rd,
            m,
            &period,
        );
        if !return_migrants_measured {
            // Zero by construction, not by measurement: missing, not withheld.
            let rm = Category::ReturnMigrant.as_str();
            let column = |t: &borderflow_release::TableSchema| t.columns[0].name;
            categories.mark_not_measured(column(&borderflow_release::CATEGORIES), rm);
            corridors.mark_not_measured(column(&borderflow_release::CORRIDORS), rm);
            totals_table.mark_not_measured(column(&borderflow_release::TOTALS), rm);
        }
        let noisy = |i: usize| NoisyTotal {
            value: quality[i].noisy.max(0),
            noise_sd: quality[i].noise_sd,
        };
        let (sims, sparse, open, sim_days) = (noisy(0), noisy(1), noisy(2), noisy(3));
        let share_too_sparse = if sims.value > 0 {
            (sparse.value as f64 / sims.value as f64).min(1.0)
        } else {
            0.0
        };
        let lookback_days =
            (summary.lookback_last - summary.lookback_first).num_days() as f64 + 1.0;
        let density = if sims.value > 0 {
            (sim_days.value as f64 / (sims.value as f64 * lookback_days)).min(1.0)
        } else {
            0.0
        };

        let dir = release_dir(p, self.period);
        // The directories of a publication are everyone's to read, the ones made here too.
        if let Some(dataset_dir) = dir.parent() {
            borderflow_core::create_public_dir_all(dataset_dir)?;
        }
        let staged = StagedDir::create(&dir)?;
        let staging = staged.path();
        let codes = SdmxCodes::new(self.rd);
        for t in [&categories, &crossings, &totals_table, &corridors] {
            borderflow_release::write_all(t, &p.sdmx, &codes, staging)?;
        }
        let published_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write_structures(
            &p.sdmx,
            &codes,
            &published_at,
            !for_publication,
            &staging.join(STRUCTURE_FILE),
        )?;
        let package = data_package(
            &p.dataset,
            &period,
            &[&categories, &crossings, &totals_table, &corridors],
        );
        write_file(
            &staging.join(DATAPACKAGE_FILE),
            format!("{package:#}\n").as_bytes(),
        )?;
        for (file, schema) in [
            (MANIFEST_SCHEMA_FILE, MANIFEST_SCHEMA),
            (QUALITY_SCHEMA_FILE, QUALITY_SCHEMA),
        ] {
            write_file(&staging.join(file), schema.as_bytes())?;
        }
        let charged: f64 = drawn
            .iter()
            .filter(|(_, d)| d.reused_from.is_none())
            .map(|(name, _)| self.plan.table(name).rho.to_f64())
            .sum();
        let epsilon_charged = epsilon(charged, p.privacy.delta);
        let dataset_dir = dir.parent().expect("a release dir has a parent");
        let mut history = earlier_crossings(dataset_dir, &period, |n| n.parse::<Period>().is_ok());
        history.push(published_crossings(&crossings));
        let html = report::render(&ReportInput {
            dataset: &p.dataset,
            period: &period,
            measuring_country: m,
            for_publication,
            k,
            rho: charged,
            epsilon: epsilon_charged,
            budget_years: self.years,
            phantom_rate: p.privacy.phantom_rate,
            thresholds: (
                self.plan
                    .table(CATEGORIES)
                    .threshold_for(drawn[CATEGORIES].sigma2.to_f64().sqrt()),
                self.plan
                    .table(CROSSINGS)
                    .threshold_for(drawn[CROSSINGS].sigma2.to_f64().sqrt()),
            ),
            delta: p.privacy.delta,
            categories: &categories,
            totals: &totals_table,
            crossings: &crossings,
            corridors: &corridors,
            crossings_history: &history,
            share_too_sparse,
            return_migrants_measured,
            refdata: self.rd,
            published_at: &published_at,
            agency: &p.sdmx.agency,
        });
        write_file(&staging.join(REPORT_FILE), html.as_bytes())?;

        let quality_doc = Quality {
            schema_version: SCHEMA_VERSION,
            period: period.clone(),
            measuring_country: m.to_string(),
            note: "Every count here is noisy (differential privacy: the quality and daily tables in manifest.json) or computed from noisy counts. Exact record counts (rows read, quarantined by reason, events per day) stay with the operator.".into(),
            sims_seen: sims,
            sims_too_sparse_to_classify: sparse,
            share_too_sparse_to_classify: share_too_sparse,
            sims_on_open_spells: open,
            sim_days_observed: sim_days,
            observation_density_days_seen_per_sim_day: density,
            sims_seen_per_day,
            sims_seen_per_day_noise_sd: daily_sd,
            days_indistinguishable_from_no_data: no_data_days,
        };
        write_file(&staging.join(QUALITY_FILE), &quality_doc.to_bytes())?;

        let outputs_digest = digest_release(staging)?;
        let mut tables: BTreeMap<String, TableManifest> = BTreeMap::new();
        for (name, table) in [
            (CATEGORIES, &categories),
            (CROSSINGS, &crossings),
            (TOTALS, &totals_table),
        ] {
            tables.insert(
                name.into(),
                self.table_manifest(name, &drawn[name], CellCounts::of(table)),
            );
        }
        for (name, cells) in [(QUALITY, quality.len()), (DAILY, daily.len())] {
            tables.insert(
                name.into(),
                self.table_manifest(name, &drawn[name], CellCounts::all_published(cells)),
            );
        }
        let cells: BTreeMap<String, CellCounts> =
            [&categories, &crossings, &totals_table, &corridors]
                .into_iter()
                .map(|t| (t.name.to_string(), CellCounts::of(t)))
                .collect();
        let manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            software: Software::this(),
            dataset: p.dataset.clone(),
            period: period.clone(),
            measuring_country: m.to_string(),
            for_publication,
            notice: (!for_publication)
                .then(|| "NOT FOR PUBLICATION: noise from a fixed test seed, in a test store".into()),
            config_digest: config_digest(p),
            outputs_digest: outputs_digest.clone(),
            privacy: PrivacyManifest {
                unit: "one SIM's data in one calendar year (SIM-year)".into(),
                neighbouring: format!(
                    "two datasets are neighbours when they differ in one SIM's records of one calendar year; this release's window reads {} calendar year(s), so {}",
                    self.years.len(),
                    if self.years.len() > 1 {
                        "a SIM-year may move its SIM between cells (replace-one): Δ² is doubled"
                    } else {
                        "a SIM-year adds or removes its SIM (add/remove)"
                    }
                ),
                mechanism: "exact discrete Gaussian (Canonne, Kamath, Steinke 2020), rho-zCDP"
                    .into(),
                k,
                phantom_rate: p.privacy.phantom_rate,
                delta: p.privacy.delta,
                budget_years: self.years.to_vec(),
                annual_rho: p.privacy.annual_rho,
                rho_of_this_release: charged,
                epsilon_of_this_release: epsilon_charged,
                tables,
                corridors: "sums of the noisy categories cells (post-processing, no cost); noise_sd per row; published at max(k, τ) for that noise".into(),
            },
            cells: cells.clone(),
            classification: ClassificationManifest {
                window_first: summary
                    .window_first
                    .unwrap_or(summary.lookback_first)
                    .to_string(),
                lookback_first: summary.lookback_first.to_string(),
                lookback_last: summary.lookback_last.to_string(),
                return_migrants: ReturnMigrantsStatus {
                    available: return_migrants_measured,
                    reason: (!return_migrants_measured)
                        .then(|| "not measured: classify.return_migrants = false".into()),
                },
                open_spells: open,
                rules: serde_json::to_value(&summary.rules).expect("the rules serialise"),
            },
            published_at,
        };
        write_file(&staging.join(MANIFEST_FILE), &manifest.to_bytes())?;
        self.keep_operator_side(drawn, &cat, &cross)?;
        failpoint::hit("publish:staged");
        // A publication is for everyone to read (the state beside it is owner-only).
        borderflow_core::make_public(staging)?;
        for d in [&p.release_dir, dataset_dir] {
            borderflow_core::make_dir_public(d)?;
        }
        staged.commit_new()?;
        borderflow_release::series::write_index(dataset_dir, &p.dataset, |n| {
            n.parse::<Period>().is_ok()
        })?;
        let cells = cells
            .into_iter()
            .map(|(table, c)| TableCells {
                table,
                published: c.published,
                suppressed: c.suppressed,
                not_measured: c.not_measured,
            })
            .collect();
        Ok((cells, outputs_digest))
    }

    /// Keeps, operator-side: every noisy value — suppressed ones too — under
    /// `state/noisy/<dataset>/<period>/` (new roll-ups can be drawn from them later at no
    /// cost), and the operator manifest with every exact count of the release.
    fn keep_operator_side(
        &self,
        drawn: &BTreeMap<&'static str, Drawn>,
        cat: &[ProtectedCell],
        cross: &[ProtectedCell],
    ) -> Result<(), PublishError> {
        let dir = noisy_dir(self.p, self.period);
        std::fs::create_dir_all(&dir).map_err(|e| borderflow_core::PathError::new(&dir, e))?;
        let unsuppressed = |cells: &[ProtectedCell]| -> Vec<ProtectedCell> {
            cells
                .iter()
                .map(|c| ProtectedCell {
                    subscribers: Some(c.noisy),
                    suppressed: false,
                    ..*c
                })
                .collect()
        };
        let period = self.period.to_string();
        let m = self.p.measuring_country;
        let tables = [
            ReleasedTable::categories(self.domain, &unsuppressed(cat), m, &period),
            ReleasedTable::crossings(self.domain, &unsuppressed(cross), m, &period),
        ];
        for t in &tables {
            write_parquet(t, &dir.join(format!("{}.parquet", t.name)))?;
        }
        let inputs = inputs_of(self.runs);
        let rows = RowTotals::of(&inputs);
        let presence_rows: u64 = self.runs.iter().map(|r| r.presence_rows).sum();
        let share = |n: u64| {
            if rows.read > 0 {
                n as f64 / rows.read as f64
            } else {
                0.0
            }
        };
        let summary = self.summary;
        let operator = OperatorManifest {
            dataset: self.p.dataset.clone(),
            period: period.clone(),
            key_fingerprint: summary.key_fingerprint.clone(),
            exact: ExactCounts {
                sims_seen: self.exact.sims,
                sims_too_sparse_to_classify: self.exact.tables.unclassified,
                sims_on_open_spells: self.exact.open_spells,
                sim_days: self.exact.sim_days,
                observation_density_events_per_sim_day: if presence_rows > 0 {
                    rows.accepted as f64 / presence_rows as f64
                } else {
                    0.0
                },
                lookback_days_without_data: summary.missing_days,
                sims_per_day: summary
                    .sims_per_day
                    .iter()
                    .map(|(d, n)| (d.to_string(), *n))
                    .collect(),
                events_per_day: summary
                    .events_per_day
                    .iter()
                    .map(|(d, n)| (d.to_string(), *n))
                    .collect(),
                share_rows_quarantined: share(rows.quarantined.values().sum()),
                share_rows_unknown_plmn: share(
                    rows.quarantined.get("unknown_plmn").copied().unwrap_or(0),
                ),
                dropped: self.exact.dropped.clone(),
            },
            inputs,
            rows,
            facts_digest: self.facts_digest.clone(),
            query_digests: self
                .query_digests
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ledger_ids: drawn.iter().map(|(k, d)| (k.to_string(), d.id)).collect(),
            timings_seconds: Timings {
                ingest: self.runs.iter().map(|r| r.seconds).sum(),
                classify: summary.seconds,
                publish: self.started.elapsed().as_secs_f64(),
            },
        };
        let layout = StateLayout::new(&self.p.state_dir);
        let path = layout
            .operator(&self.p.dataset, &period)
            .join(OPERATOR_MANIFEST_FILE);
        write_file_atomic(&path, &operator.to_bytes())?;
        Ok(())
    }
}
