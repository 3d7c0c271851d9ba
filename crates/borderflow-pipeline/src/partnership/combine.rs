//! `combine`: at the statistics office, several operators' partner exports of one period
//! into one national release (docs/partnerships.md).
//!
//! The exports are checked to be combinable — the same period, window, rules, code list,
//! software and measuring country, distinct operators and networks, none a test release,
//! digests intact — and refused with one line naming the operator and the field otherwise.
//! Then each noisy cell is the sum of the operators' noisy cells, with σ² the sum of their
//! σ² (independent draws), and the release is protected — suppression at max(k, τ) for the
//! combined σ, totals, corridors — and rendered exactly as an operator's release is, from
//! the combined draws alone: post-processing, at no further privacy cost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use borderflow_core::{CountryCode, Noised, StagedDir, TableId, WithPath};
use borderflow_privacy::accountant::epsilon;
use borderflow_privacy::{DomainSizes, PrivacyConfig, Ratio, ReleasePlan, Span};
use borderflow_refdata::RefData;
use borderflow_release::accuracy::MethodAccuracy;
use borderflow_release::{
    Domain, Manifest, NoisyTable, NotMeasured, ReleaseAbout, ReleaseFrame, ReleaseWindow,
    SdmxConfig, protect, render,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PartnershipError;
use super::delivery::ExportFiles;
use super::export::PartnerExport;
use super::persons::{PersonsFactors, persons_rows, persons_section, persons_table};

/// The partnership file, as the statistics office writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partnership {
    /// The combined release's dataset name (its directory under `release_dir`).
    pub dataset: String,
    /// The measuring country every export must measure (alpha-3).
    pub measuring_country: CountryCode,
    /// Where combined releases are published (relative to the file).
    pub release_dir: PathBuf,
    /// The publication rule of the combined release.
    #[serde(default)]
    pub publication: Publication,
    /// The factors that turn SIM counts into persons, when the office estimates persons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons: Option<PersonsFactors>,
    /// The operators and where their exports are.
    #[serde(rename = "operator")]
    pub operators: Vec<PartnerOperator>,
}

/// How the combined cells are published: max(k, τ) at the combined σ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// Smallest combined noisy value published.
    #[serde(default = "default_k")]
    pub k: u32,
    /// Expected true-zero cells published by noise alone per table.
    #[serde(default = "default_phantom_rate")]
    pub phantom_rate: f64,
}

fn default_k() -> u32 {
    PrivacyConfig::default().k
}

fn default_phantom_rate() -> f64 {
    PrivacyConfig::default().phantom_rate
}

impl Default for Publication {
    fn default() -> Self {
        Self {
            k: default_k(),
            phantom_rate: default_phantom_rate(),
        }
    }
}

/// One operator of the partnership.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerOperator {
    /// Its name, as its export must give it.
    pub name: String,
    /// Its export for the period (relative to the file): a directory, or an archive as
    /// delivered (`.tar.gz`, `.tgz`, `.tar`); `{period}` in it is replaced by the period
    /// combined.
    pub export: String,
}

impl Partnership {
    /// Reads a partnership file; relative paths are resolved against its directory. Errors
    /// name the file, and the line where the parser knows it.
    pub fn load(path: &Path) -> Result<Self, PartnershipError> {
        let text = std::fs::read_to_string(path).with_path(path)?;
        let bad = |message: String| PartnershipError::File {
            file: path.display().to_string(),
            message,
        };
        let mut p: Partnership = toml::from_str(&text).map_err(|e| bad(one_line(e.message())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if p.release_dir.is_relative() {
            p.release_dir = base.join(&p.release_dir);
        }
        for o in &mut p.operators {
            if Path::new(&o.export).is_relative() {
                o.export = base.join(&o.export).display().to_string();
            }
        }
        if let Some(f) = &p.persons {
            f.check().map_err(bad)?;
        }
        if p.operators.len() < 2 {
            return Err(bad("a partnership combines at least two operators".into()));
        }
        let mut names = BTreeSet::new();
        for o in &p.operators {
            if !names.insert(o.name.as_str()) {
                return Err(bad(format!("operator {:?} is listed twice", o.name)));
            }
        }
        let rate = p.publication.phantom_rate;
        if p.publication.k < 1 || rate.is_nan() || rate <= 0.0 {
            return Err(bad(
                "publication.k must be at least 1 and publication.phantom_rate above 0".into(),
            ));
        }
        if p.dataset.is_empty()
            || !p
                .dataset
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(format!(
                "dataset {:?} must be letters, digits, '-' and '_' (it names directories)",
                p.dataset
            )));
        }
        Ok(p)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What one operator brought to a combined release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The operator.
    pub operator: String,
    /// Its dataset.
    pub dataset: String,
    /// Its networks.
    pub operator_plmns: Vec<String>,
    /// SHA-256 of its export document.
    pub export_sha256: String,
    /// ρ its release charged each data year it reads.
    pub rho: f64,
    /// Its noise's σ per table.
    pub sigma: BTreeMap<String, f64>,
}

/// `partnership.json` of a combined release: who contributed what, how it was combined,
/// and what protects a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinedStatement {
    /// The partnership's dataset.
    pub dataset: String,
    /// The period.
    pub period: String,
    /// Each operator's export.
    pub contributions: Vec<Contribution>,
    /// How the cells were combined.
    pub rules: Vec<String>,
    /// The combined σ per table.
    pub sigma: BTreeMap<String, f64>,
    /// The privacy statement.
    pub privacy: PartnershipPrivacy,
    /// The factors the `persons` table was estimated with, each with its source, vintage and
    /// standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons: Option<PersonsFactors>,
}

/// What protects a SIM, and a person with SIMs at several operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnershipPrivacy {
    /// δ of the statement.
    pub delta: f64,
    /// Each operator's guarantee for its own SIMs: ρ (zCDP) per data year and ε at δ.
    pub per_operator: BTreeMap<String, (f64, f64)>,
    /// A person with SIMs at every operator: ρ summed (zCDP composition) and ε at δ.
    pub person_at_all_operators: (f64, f64),
    /// The statement in words.
    pub statement: String,
}

/// What [`combine`] did.
#[derive(Debug, Clone)]
pub struct CombineReport {
    /// The combined release's directory.
    pub dir: PathBuf,
    /// The statement written beside it.
    pub statement: CombinedStatement,
    /// Cells published and suppressed per table.
    pub cells: BTreeMap<String, (usize, usize)>,
}

/// The file of a combined release stating its contributions and privacy.
pub const PARTNERSHIP_FILE: &str = "partnership.json";

/// The partnership's exports of `period`, read and checked: what [`combine`] would combine.
type Checked<'a> = Vec<(&'a PartnerOperator, ExportFiles, PartnerExport)>;

fn read_checked<'a>(
    p: &'a Partnership,
    period: Option<&str>,
) -> Result<Checked<'a>, PartnershipError> {
    let mut exports = Vec::new();
    for o in &p.operators {
        let dir = match period {
            Some(period) => PathBuf::from(o.export.replace("{period}", period)),
            None if o.export.contains("{period}") => {
                return Err(PartnershipError::File {
                    file: o.export.clone(),
                    message:
                        "the export path holds {period}: give the period to combine (--period)"
                            .into(),
                });
            }
            None => PathBuf::from(&o.export),
        };
        let files = ExportFiles::read(&dir)?;
        let e = PartnerExport::from_files(&files)?;
        exports.push((o, files, e));
    }
    check(p, period, &exports)?;
    Ok(exports)
}

/// Reads and checks the partnership's exports of `period` as [`combine`] does, writing
/// nothing: the period they share, once every export is present and combinable.
pub fn check_exports(p: &Partnership, period: Option<&str>) -> Result<String, PartnershipError> {
    let exports = read_checked(p, period)?;
    Ok(exports[0].2.period.clone())
}

/// Reads, checks and combines the partnership's exports of `period` (every export's, when
/// `None`: they must agree) into `release_dir/dataset/period`.
pub fn combine(p: &Partnership, period: Option<&str>) -> Result<CombineReport, PartnershipError> {
    let exports = read_checked(p, period)?;
    let first = &exports[0].2;
    let period = first.period.clone();
    let refuse = |operator: &str, message: String| PartnershipError::Refused {
        operator: operator.to_string(),
        message,
    };

    // The domain the cells are in, from the code list every export shares.
    let countries: Vec<CountryCode> = first
        .code_list
        .iter()
        .map(|c| {
            c.parse()
                .map_err(|_| refuse(&first.operator, format!("code list holds {c:?}")))
        })
        .collect::<Result<_, _>>()?;
    let domain = Domain::new(p.measuring_country, &countries);
    let date = |s: &str| {
        s.parse::<NaiveDate>()
            .map_err(|_| refuse(&first.operator, format!("{s:?} is not a date")))
    };
    let window = ReleaseWindow {
        window_first: date(&first.window_first)?,
        lookback_first: date(&first.lookback_first)?,
        lookback_last: date(&first.lookback_last)?,
    };
    let days: Vec<NaiveDate> = window
        .lookback_first
        .iter_days()
        .take_while(|d| *d <= window.lookback_last)
        .collect();
    let rules: borderflow_classify::Rules = serde_json::from_value(first.rules.clone())
        .map_err(|e| refuse(&first.operator, format!("rules: {e}")))?;
    let privacy = PrivacyConfig {
        k: p.publication.k,
        phantom_rate: p.publication.phantom_rate,
        delta: first.privacy.delta,
        annual_rho: first.privacy.annual_rho,
        ..PrivacyConfig::default()
    };
    let plan = ReleasePlan::new(
        &privacy,
        rules.max_crossing_pairs,
        Span::of_years(first.privacy.budget_years.len()),
        DomainSizes {
            categories: domain.categories.len(),
            crossings: domain.crossings.len(),
            totals: borderflow_release::TOTAL_CELLS,
            window_days: days.len() as u64,
        },
    );

    // Sum the cells and the variances.
    let names: Vec<&str> = exports.iter().map(|(o, _, _)| o.name.as_str()).collect();
    let draws = Noised::try_from_fn(|table| -> Result<NoisyTable, PartnershipError> {
        let cells = plan.tables.get(table).expect("a noised table").cells;
        let mut noisy = vec![0i64; cells];
        let mut sigma2 = Ratio::new(0u32, 1u32).expect("zero");
        for (o, _, e) in &exports {
            let t = &e.tables[table.name()];
            if t.noisy.len() != cells {
                return Err(refuse(
                    &o.name,
                    format!(
                        "its {} table has {} cells where the domain has {cells}",
                        table.name(),
                        t.noisy.len()
                    ),
                ));
            }
            for (sum, v) in noisy.iter_mut().zip(&t.noisy) {
                *sum = sum.saturating_add(*v);
            }
            sigma2 = sigma2.add(&e.sigma2(table).map_err(|m| refuse(&o.name, m))?);
        }
        Ok(NoisyTable {
            noisy,
            sigma2,
            reused_from: Some(format!(
                "sum of the partner exports of {}",
                names.join(", ")
            )),
        })
    })?;
    let refdata = RefData::embedded();
    let frame = ReleaseFrame {
        domain: &domain,
        refdata: &refdata,
        measuring_country: p.measuring_country,
        period: &period,
        days: &days,
        not_measured: (!first.return_migrants_measured).then_some(NotMeasured::ReturnMigrantsOff),
    };
    let (release, _) = protect(&plan, &draws, &frame);

    let statement = statement(p, &period, &exports, &draws);
    let target = p.release_dir.join(&p.dataset).join(&period);
    if target.exists() {
        return Err(PartnershipError::AlreadyCombined { dir: target });
    }
    std::fs::create_dir_all(target.parent().expect("dataset/period")).with_path(&target)?;
    let staged = StagedDir::create(&target)?;
    borderflow_core::write_file_atomic(
        &staged.path().join(PARTNERSHIP_FILE),
        &serde_json::to_vec_pretty(&statement).expect("a statement serialises"),
    )?;
    let persons = p.persons.as_ref().map(|f| {
        let rows = persons_rows(&release.categories, &release.totals, f);
        let table = persons_table(&rows, f.population.as_ref(), &period, p.measuring_country);
        persons_section(&rows, f, table)
    });
    let first_manifest = serde_json::from_slice::<Manifest>(&exports[0].1.manifest).ok();
    let accuracy = first_manifest
        .as_ref()
        .and_then(|m| m.classification.accuracy.clone())
        .unwrap_or_else(MethodAccuracy::suite);
    let published_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let config_digest = {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&p.publication).expect("serialises"));
        for c in &statement.contributions {
            h.update(c.export_sha256.as_bytes());
        }
        hex::encode(h.finalize())
    };
    let about = ReleaseAbout {
        dataset: &p.dataset,
        period: &period,
        measuring_country: p.measuring_country,
        for_publication: true,
        privacy: &privacy,
        budget_years: &first.privacy.budget_years,
        sdmx: &SdmxConfig::default(),
        refdata: &refdata,
        config_digest: &config_digest,
        window,
        rules: &first.rules,
        return_migrants_note: None,
        earlier_crossings: &[],
        published_at: &published_at,
        accuracy: &accuracy,
        persons: persons.as_ref(),
    };
    render(&release, &about, staged.path())?;
    let dir = staged.commit_new()?;
    let mut cells: BTreeMap<String, (usize, usize)> = release
        .noise
        .iter()
        .map(|(id, t)| (id.name().to_string(), (t.published, t.suppressed)))
        .collect();
    if let Some(p) = &persons {
        let c = borderflow_release::manifest::CellCounts::of(&p.table);
        cells.insert(p.table.name.to_string(), (c.published, c.suppressed));
    }
    Ok(CombineReport {
        dir,
        statement,
        cells,
    })
}

/// Refuses exports that cannot be combined, naming the operator and the field.
fn check(
    p: &Partnership,
    period: Option<&str>,
    exports: &[(&PartnerOperator, ExportFiles, PartnerExport)],
) -> Result<(), PartnershipError> {
    let (_, _, first) = &exports[0];
    let mut plmns: BTreeMap<&str, &str> = BTreeMap::new();
    for (o, _, e) in exports {
        let refuse = |message: String| PartnershipError::Refused {
            operator: o.name.clone(),
            message,
        };
        if e.operator != o.name {
            return Err(refuse(format!(
                "its export names the operator {:?}",
                e.operator
            )));
        }
        if !e.for_publication {
            return Err(refuse(
                "its release is marked NOT FOR PUBLICATION (noised from a test seed)".into(),
            ));
        }
        if e.measuring_country != p.measuring_country.as_str() {
            return Err(refuse(format!(
                "measuring_country is {} where the partnership's is {}",
                e.measuring_country, p.measuring_country
            )));
        }
        if let Some(want) = period
            && e.period != want
        {
            return Err(refuse(format!(
                "period is {} where {want} is combined",
                e.period
            )));
        }
        for plmn in &e.operator_plmns {
            if let Some(other) = plmns.insert(plmn, &o.name) {
                return Err(refuse(format!(
                    "operator_plmns has {plmn}, which is {other}'s too: the same network counted twice"
                )));
            }
        }
        let fields: [(&str, String, String); 9] = [
            ("period", e.period.clone(), first.period.clone()),
            (
                "window_first",
                e.window_first.clone(),
                first.window_first.clone(),
            ),
            (
                "lookback_first",
                e.lookback_first.clone(),
                first.lookback_first.clone(),
            ),
            (
                "lookback_last",
                e.lookback_last.clone(),
                first.lookback_last.clone(),
            ),
            (
                "software_version",
                e.software_version.clone(),
                first.software_version.clone(),
            ),
            (
                "schema_version",
                e.schema_version.to_string(),
                first.schema_version.to_string(),
            ),
            (
                "code_list",
                format!(
                    "{} countries, digest {}",
                    e.code_list.len(),
                    digest(&e.code_list)
                ),
                format!(
                    "{} countries, digest {}",
                    first.code_list.len(),
                    digest(&first.code_list)
                ),
            ),
            ("rules", digest_json(&e.rules), digest_json(&first.rules)),
            (
                "return_migrants_measured",
                e.return_migrants_measured.to_string(),
                first.return_migrants_measured.to_string(),
            ),
        ];
        for (field, theirs, ours) in fields {
            if theirs != ours {
                return Err(refuse(format!(
                    "{field} is {theirs} where {}'s is {ours}",
                    first.operator
                )));
            }
        }
        for id in TableId::NOISED {
            e.sigma2(id).map_err(refuse)?;
        }
    }
    Ok(())
}

fn digest(list: &[String]) -> String {
    hex::encode(&Sha256::digest(list.join(",").as_bytes())[..6])
}

fn digest_json(v: &serde_json::Value) -> String {
    format!(
        "digest {}",
        hex::encode(&Sha256::digest(v.to_string().as_bytes())[..6])
    )
}

/// The combined release's statement: contributions, rules and privacy.
fn statement(
    p: &Partnership,
    period: &str,
    exports: &[(&PartnerOperator, ExportFiles, PartnerExport)],
    draws: &Noised<NoisyTable>,
) -> CombinedStatement {
    let delta = exports[0].2.privacy.delta;
    let contributions: Vec<Contribution> = exports
        .iter()
        .map(|(o, files, e)| Contribution {
            operator: o.name.clone(),
            dataset: e.dataset.clone(),
            operator_plmns: e.operator_plmns.clone(),
            export_sha256: files.digest.trim().to_string(),
            rho: e.privacy.rho_of_release,
            sigma: TableId::NOISED
                .iter()
                .map(|id| {
                    let s2 = e.sigma2(*id).map_or(f64::NAN, |r| r.to_f64());
                    (id.name().to_string(), s2.sqrt())
                })
                .collect(),
        })
        .collect();
    let per_operator: BTreeMap<String, (f64, f64)> = contributions
        .iter()
        .map(|c| (c.operator.clone(), (c.rho, epsilon(c.rho, delta))))
        .collect();
    let rho_all: f64 = contributions.iter().map(|c| c.rho).sum();
    let statement = format!(
        "Each operator's release protects each of its own SIMs' year of data at ρ = {} (zCDP) per data year, ε = {} at δ = {delta:e}; combining adds no noise and costs nothing more, being computed from those releases' noisy values alone. A person with SIMs at several operators is protected by the composition of those operators' guarantees: at all {} operators, ρ = {rho_all:.4}, ε = {:.2} at δ = {delta:e}.",
        contributions
            .iter()
            .map(|c| format!("{:.4} ({})", c.rho, c.operator))
            .collect::<Vec<_>>()
            .join(", "),
        contributions
            .iter()
            .map(|c| format!("{:.2} ({})", epsilon(c.rho, delta), c.operator))
            .collect::<Vec<_>>()
            .join(", "),
        contributions.len(),
        epsilon(rho_all, delta),
    );
    CombinedStatement {
        dataset: p.dataset.clone(),
        period: period.to_string(),
        contributions,
        rules: vec![
            "every cell: the sum of the operators' noisy values, suppressed ones included".into(),
            "σ² of a combined cell: the sum of the operators' σ² (independent draws)".into(),
            format!(
                "suppression after combining: a combined value below max(k = {}, τ) for the combined σ is withheld (phantom rate {})",
                p.publication.k, p.publication.phantom_rate
            ),
            "totals: each directly noised total combined with the sum of its cells, inverse-variance weighted; corridors: sums of combined category cells".into(),
        ],
        sigma: draws
            .iter()
            .map(|(id, d)| (id.name().to_string(), d.sigma2.to_f64().sqrt()))
            .collect(),
        privacy: PartnershipPrivacy {
            delta,
            per_operator,
            person_at_all_operators: (rho_all, epsilon(rho_all, delta)),
            statement,
        },
        persons: p.persons.clone(),
    }
}
