//! What the publish stage writes once the ledger has reserved its cost: a period's facts →
//! exact tables → noise and threshold ([`borderflow_privacy::protect`], by the
//! [`ReleasePlan`]) → the release's tables, report, quality indicators and manifest
//! ([`borderflow_release`]), staged and renamed into place with the manifest last.
//!
//! The ledger discipline around it is [`crate::publish`]'s.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_core::{Category, CountryCode, StagedDir};
use borderflow_privacy::accountant::epsilon;
use borderflow_privacy::plan::{CATEGORIES, CROSSINGS, QUALITY};
use borderflow_privacy::{NoiseSource, ProtectedCell, ReleasePlan, TablePlan, protect};
use borderflow_refdata::RefData;
use borderflow_release::history::{earlier_crossings, published_crossings};
use borderflow_release::manifest::{
    CellCounts, ClassificationManifest, InputManifest, MANIFEST_FILE, Manifest, NoisyTotal,
    PrivacyManifest, QUALITY_FILE, Quality, REPORT_FILE, ReturnMigrantsStatus, RowTotals, Software,
    TableManifest, Timings, digest_release,
};
use borderflow_release::report::{self, ReportInput};
use borderflow_release::tabulate::mark_not_measured;
use borderflow_release::write::{write_file, write_parquet};
use borderflow_release::{Domain, ReleasedTable, read_facts};
use sha2::{Digest, Sha256};

use crate::publish::{PublishError, TableCells, noisy_dir, release_dir};
use crate::reports::{ClassifyReport, IngestReport};
use crate::{Period, Pipeline};

/// One publish run's inputs, once its cost is reserved.
pub(crate) struct Job<'a> {
    pub p: &'a Pipeline,
    pub period: Period,
    pub facts: &'a Path,
    pub plan: &'a ReleasePlan,
    pub facts_digest: &'a str,
    pub year: i32,
    pub started: std::time::Instant,
}

/// The input files of the ingest runs in `runs`, by file name, with their row counts.
fn inputs_of(runs: &[IngestReport]) -> Vec<InputManifest> {
    let mut inputs = Vec::new();
    for run in runs {
        for (path, counts) in &run.files {
            let digest = run.inputs.get(path);
            inputs.push(InputManifest {
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
            });
        }
    }
    inputs
}

fn table_manifest(t: &TablePlan, cells: usize, published: usize) -> TableManifest {
    TableManifest {
        rho: t.rho.to_f64(),
        rho_exact: t.rho.to_fraction(),
        l2_sensitivity: t.l2_sensitivity(),
        sigma: t.sigma(),
        margin_of_error_95: t.margin_of_error_95(),
        cells,
        published,
        suppressed: cells - published,
    }
}

/// SHA-256 of the effective configuration (after `--set`), as JSON.
fn config_digest(p: &Pipeline) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(p).expect("the pipeline serialises"),
    ))
}

impl Job<'_> {
    fn protect(
        &self,
        name: &str,
        counts: &[u64],
        noise: &mut NoiseSource,
    ) -> Result<Vec<ProtectedCell>, PublishError> {
        let t = self.plan.table(name);
        Ok(protect(counts, &t.sigma2()?, t.k, noise)?)
    }

    /// Noises, writes and renames the release into place; returns the cells per table and
    /// the outputs digest.
    pub fn write_release(
        &self,
        noise: &mut NoiseSource,
    ) -> Result<(Vec<TableCells>, String), PublishError> {
        let p = self.p;
        let rd = RefData::load(&p.refdata)?;
        let countries: Vec<CountryCode> = rd.countries.iter().map(|c| c.alpha3).collect();
        let domain = Domain::new(p.measuring_country, &countries);
        let facts = read_facts(self.facts, &domain, p.classify.max_crossing_pairs)?;
        let summary = ClassifyReport::read(self.facts)?;
        let period = self.period.to_string();
        let m = p.measuring_country;
        let k = p.privacy.k;

        let mut cat = self.protect(CATEGORIES, &facts.tables.categories, noise)?;
        let return_migrants_measured = summary.return_migrants.available;
        if !return_migrants_measured {
            mark_not_measured(&domain, &mut cat, Category::ReturnMigrant);
        }
        let cross = self.protect(CROSSINGS, &facts.tables.crossings, noise)?;
        let totals = [facts.sims, facts.tables.unclassified, facts.open_spells];
        let quality = self.protect(QUALITY, &totals, noise)?;
        let categories = ReleasedTable::categories(&domain, &cat, m, &period);
        let crossings = ReleasedTable::crossings(&domain, &cross, m, &period);
        let corridors = borderflow_release::corridors(&domain, &cat, k, &rd, m, &period);
        let noisy = |i: usize| NoisyTotal {
            value: quality[i].noisy.max(0),
            noise_sd: quality[i].noise_sd,
        };
        let (sims, sparse, open) = (noisy(0), noisy(1), noisy(2));
        let share_too_sparse = if sims.value > 0 {
            (sparse.value as f64 / sims.value as f64).min(1.0)
        } else {
            0.0
        };

        let dir = release_dir(p, self.period);
        let staged = StagedDir::create(&dir)?;
        let staging = staged.path();
        for t in [&categories, &crossings, &corridors] {
            borderflow_release::write_all(t, staging)?;
        }
        let rho_total = self.plan.rho().to_f64();
        let epsilon_total = epsilon(rho_total, p.privacy.delta);
        let dataset_dir = dir.parent().expect("a release dir has a parent");
        let mut history = earlier_crossings(dataset_dir, &period, |n| n.parse::<Period>().is_ok());
        history.push(published_crossings(&crossings));
        let html = report::render(&ReportInput {
            dataset: &p.dataset,
            period: &period,
            measuring_country: m,
            for_publication: noise.for_publication(),
            k,
            rho: rho_total,
            epsilon: epsilon_total,
            delta: p.privacy.delta,
            categories: &categories,
            crossings: &crossings,
            corridors: &corridors,
            crossings_history: &history,
            share_too_sparse,
            return_migrants_measured,
            refdata: &rd,
        });
        write_file(&staging.join(REPORT_FILE), html.as_bytes())?;

        let layout = borderflow_core::StateLayout::new(&p.state_dir);
        let runs = IngestReport::touching(&layout, summary.lookback_first, summary.lookback_last)?;
        let inputs = inputs_of(&runs);
        let rows = RowTotals::of(&inputs);
        let presence_rows: u64 = runs.iter().map(|r| r.presence_rows).sum();
        let share = |n: u64| {
            if rows.read > 0 {
                n as f64 / rows.read as f64
            } else {
                0.0
            }
        };
        let quality_doc = Quality {
            period: period.clone(),
            measuring_country: m.to_string(),
            note: "Counts of SIMs here are noisy (differential privacy, ρ of the quality table in manifest.json); counts of records (rows, events) describe the operator's data flow and are exact.".into(),
            sims_seen: sims,
            sims_too_sparse_to_classify: sparse,
            share_too_sparse_to_classify: share_too_sparse,
            sims_on_open_spells: open,
            observation_density_events_per_sim_day: if presence_rows > 0 {
                rows.accepted as f64 / presence_rows as f64
            } else {
                0.0
            },
            rows_read: rows.read,
            share_rows_quarantined: share(rows.quarantined.values().sum()),
            share_rows_unknown_plmn: share(
                rows.quarantined.get("unknown_plmn").copied().unwrap_or(0),
            ),
            lookback_days_without_data: summary.missing_days,
            events_per_day: summary
                .events_per_day
                .iter()
                .map(|(d, n)| (d.to_string(), *n))
                .collect(),
        };
        write_file(&staging.join(QUALITY_FILE), &quality_doc.to_bytes())?;

        let outputs_digest = digest_release(staging)?;
        let mut tables: BTreeMap<String, TableManifest> = [&categories, &crossings]
            .into_iter()
            .map(|t| {
                let m = table_manifest(self.plan.table(t.name), t.cells.len(), t.published());
                (t.name.to_string(), m)
            })
            .collect();
        tables.insert(
            QUALITY.into(),
            table_manifest(self.plan.table(QUALITY), 3, 3),
        );
        let cells: BTreeMap<String, CellCounts> = [&categories, &crossings, &corridors]
            .into_iter()
            .map(|t| {
                let published = t.published();
                (
                    t.name.to_string(),
                    CellCounts {
                        published,
                        suppressed: t.cells.len() - published,
                    },
                )
            })
            .collect();
        let manifest = Manifest {
            software: Software::this(),
            dataset: p.dataset.clone(),
            period: period.clone(),
            measuring_country: m.to_string(),
            for_publication: noise.for_publication(),
            notice: (!noise.for_publication())
                .then(|| "NOT FOR PUBLICATION: noise from a fixed test seed".into()),
            config_digest: config_digest(p),
            key_fingerprint: summary.key_fingerprint.clone(),
            inputs,
            rows,
            facts_digest: self.facts_digest.to_string(),
            outputs_digest: outputs_digest.clone(),
            privacy: PrivacyManifest {
                unit: "one SIM (pseudonym)".into(),
                mechanism: "exact discrete Gaussian (Canonne, Kamath, Steinke 2020), rho-zCDP"
                    .into(),
                k,
                delta: p.privacy.delta,
                budget_year: self.year,
                annual_rho: p.privacy.annual_rho,
                rho_of_this_release: rho_total,
                epsilon_of_this_release: epsilon_total,
                tables,
                corridors: "sums of the noisy categories cells (post-processing, no cost); noise_sd per row".into(),
            },
            cells: cells.clone(),
            classification: ClassificationManifest {
                lookback_first: summary.lookback_first.to_string(),
                lookback_last: summary.lookback_last.to_string(),
                missing_days: summary.missing_days,
                return_migrants: ReturnMigrantsStatus {
                    available: summary.return_migrants.available,
                    reason: summary.return_migrants.reason.clone(),
                },
                open_spells: open,
                rules: serde_json::to_value(&summary.rules).expect("the rules serialise"),
            },
            timings_seconds: Timings {
                ingest: runs.iter().map(|r| r.seconds).sum(),
                classify: summary.seconds,
                publish: self.started.elapsed().as_secs_f64(),
            },
            published_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        write_file(&staging.join(MANIFEST_FILE), &manifest.to_bytes())?;
        self.keep_noisy(&domain, &cat, &cross)?;
        staged.commit_new()?;
        let cells = cells
            .into_iter()
            .map(|(table, c)| TableCells {
                table,
                published: c.published,
                suppressed: c.suppressed,
            })
            .collect();
        Ok((cells, outputs_digest))
    }

    /// Keeps every noisy value — suppressed ones too — under `state/noisy/<dataset>/<period>/`,
    /// operator-side: new roll-ups can be drawn from them later at no privacy cost, without
    /// noising the data again.
    fn keep_noisy(
        &self,
        domain: &Domain,
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
            ReleasedTable::categories(domain, &unsuppressed(cat), m, &period),
            ReleasedTable::crossings(domain, &unsuppressed(cross), m, &period),
        ];
        for t in &tables {
            write_parquet(t, &dir.join(format!("{}.parquet", t.name)))?;
        }
        Ok(())
    }
}
