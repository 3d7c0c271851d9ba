//! The partner export: what one operator hands the statistics office of a partnership
//! (docs/partnerships.md) — every noisy cell of a published release's public domain,
//! suppressed ones included, with each table's σ², the public facts needed to tell whether
//! two exports can be combined, and a digest. Nothing exact, no pseudonym: the noisy values
//! are the ledger's draws for the release, so the export is post-processing of the same
//! draws and costs no budget (docs/privacy.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use borderflow_core::{CountryCode, PathError, TableId, WithPath};
use borderflow_privacy::{Ledger, Ratio};
use borderflow_refdata::RefData;
use borderflow_release::Manifest;
use borderflow_release::manifest::MANIFEST_FILE;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PartnershipError;
use super::delivery::ExportFiles;
pub use super::delivery::{EXPORT_DIGEST_FILE, EXPORT_FILE, RELEASE_MANIFEST_FILE};
use crate::publish::release_dir;
use crate::{Period, Pipeline};

/// The format an export says it is in.
pub const EXPORT_FORMAT: &str = "borderflow-partner-export/1";
/// What every export says of itself.
pub const EXPORT_NOTICE: &str = "FOR THE STATISTICS OFFICE OF THE PARTNERSHIP ONLY: every noisy cell of the release's public domain, suppressed ones included. The values are the release's own differential-privacy draws (no further privacy cost), but small ones are not for publication as they are: suppression applies after combining (borderflow combine).";

/// One operator's partner export of one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerExport {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// [`EXPORT_NOTICE`].
    pub notice: String,
    /// The operator, as the partnership names it.
    pub operator: String,
    /// The operator's dataset.
    pub dataset: String,
    /// The reference period (`2025`, `2025-07`).
    pub period: String,
    /// The measuring country (alpha-3).
    pub measuring_country: String,
    /// The operator's own networks.
    pub operator_plmns: Vec<String>,
    /// False for a release noised from a test seed (NOT FOR PUBLICATION).
    pub for_publication: bool,
    /// The software that made the release (its code lists and table versions with it).
    pub software_version: String,
    /// The manifest schema version of the release.
    pub schema_version: u32,
    /// The country code list the domain is cut over, in domain order.
    pub code_list: Vec<String>,
    /// First day the classification window reads.
    pub window_first: String,
    /// First day of the look-back.
    pub lookback_first: String,
    /// Last day of the look-back.
    pub lookback_last: String,
    /// The classification rules, as configured.
    pub rules: serde_json::Value,
    /// Whether return migrants are measured.
    pub return_migrants_measured: bool,
    /// The release's privacy settings and cost.
    pub privacy: ExportPrivacy,
    /// Each noised table's noisy values (domain order) and σ², by table name.
    pub tables: BTreeMap<String, ExportTable>,
    /// SHA-256 of the release's manifest (copied beside the export).
    pub release_manifest_sha256: String,
    /// When the export was made (RFC 3339, UTC).
    pub created_at: String,
}

/// The privacy settings of the exported release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportPrivacy {
    /// k of the operator's release.
    pub k: u32,
    /// Its phantom rate.
    pub phantom_rate: f64,
    /// δ.
    pub delta: f64,
    /// The annual budget ρ.
    pub annual_rho: f64,
    /// ρ the release charged each year it reads.
    pub rho_of_release: f64,
    /// The data years charged.
    pub budget_years: Vec<i32>,
}

/// One noised table of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportTable {
    /// The noise's variance, exact (`num/den`).
    pub sigma2: String,
    /// Every cell's noisy value, in the domain's order.
    pub noisy: Vec<i64>,
}

impl PartnerExport {
    /// The σ² of `table`, exact.
    pub fn sigma2(&self, table: TableId) -> Result<Ratio, String> {
        let t = self
            .tables
            .get(table.name())
            .ok_or_else(|| format!("no {} table", table.name()))?;
        Ratio::from_fraction(&t.sigma2).map_err(|e| format!("{}: σ² {e}", table.name()))
    }

    /// Reads the export in `dir` and checks its digest.
    pub fn read(path: &Path) -> Result<Self, PartnershipError> {
        Self::from_files(&ExportFiles::read(path)?)
    }

    /// The export in `files`, its digest and its release manifest checked.
    pub fn from_files(files: &ExportFiles) -> Result<Self, PartnershipError> {
        let refuse = |message: String| PartnershipError::Export {
            export: files.source.display().to_string(),
            message,
        };
        if files.digest.trim() != hex::encode(Sha256::digest(&files.export)) {
            return Err(refuse(format!(
                "{EXPORT_FILE} does not match {EXPORT_DIGEST_FILE}: the copy was changed or cut short; ask the operator for it again"
            )));
        }
        let export: PartnerExport = serde_json::from_slice(&files.export)
            .map_err(|e| refuse(format!("{EXPORT_FILE}: {e}")))?;
        if export.format != EXPORT_FORMAT {
            return Err(refuse(format!(
                "format {:?}, not {EXPORT_FORMAT:?}: made by another version of borderflow",
                export.format
            )));
        }
        if hex::encode(Sha256::digest(&files.manifest)) != export.release_manifest_sha256 {
            return Err(refuse(format!(
                "{RELEASE_MANIFEST_FILE} is not the release's manifest the export names"
            )));
        }
        Ok(export)
    }
}

/// Writes the partner export of the published release of `period` to `out`, naming the
/// operator `operator`: a directory (created; an existing export there is replaced whole), or
/// one archive when `out` ends in `.tar.gz`, `.tgz` or `.tar` (written whole, then renamed
/// into place). Returns `out`.
pub fn export(
    p: &Pipeline,
    period: Period,
    operator: &str,
    out: &Path,
) -> Result<PathBuf, PartnershipError> {
    let period_text = period.to_string();
    let release = release_dir(p, period);
    let manifest_path = release.join(MANIFEST_FILE);
    if !manifest_path.is_file() {
        return Err(PartnershipError::NotPublished {
            dataset: p.dataset.clone(),
            period: period_text,
        });
    }
    let manifest_bytes = std::fs::read(&manifest_path).with_path(&manifest_path)?;
    let manifest = Manifest::read(&release).map_err(|e| PartnershipError::Export {
        export: release.display().to_string(),
        message: e.to_string(),
    })?;
    let ledger_path = borderflow_core::StateLayout::new(&p.state_dir).ledger();
    let ledger = Ledger::open_existing(&ledger_path)?;
    let records = ledger.published(&p.dataset, &period_text)?;
    let mut tables = BTreeMap::new();
    for id in TableId::NOISED {
        let record = records
            .iter()
            .find(|r| r.table == id.name())
            .ok_or_else(|| PartnershipError::NotPublished {
                dataset: p.dataset.clone(),
                period: period_text.clone(),
            })?;
        // A table whose noise was reused from an identical query has its draws there.
        let source = record.reused_from.unwrap_or(record.id);
        let noisy = ledger
            .draws(source)?
            .ok_or_else(|| PartnershipError::Export {
                export: release.display().to_string(),
                message: format!(
                    "the ledger holds no draws for the {} table (release {source})",
                    id.name()
                ),
            })?;
        tables.insert(
            id.name().to_string(),
            ExportTable {
                sigma2: record.sigma2.to_fraction(),
                noisy,
            },
        );
    }
    let refdata = RefData::load(&p.refdata)?;
    let code_list: Vec<String> = refdata
        .countries
        .iter()
        .map(|c| c.alpha3.to_string())
        .collect();
    let c = &manifest.classification;
    let doc = PartnerExport {
        format: EXPORT_FORMAT.to_string(),
        notice: EXPORT_NOTICE.to_string(),
        operator: operator.to_string(),
        dataset: p.dataset.clone(),
        period: period_text,
        measuring_country: manifest.measuring_country.clone(),
        operator_plmns: p.operator_plmns.clone(),
        for_publication: manifest.for_publication,
        software_version: manifest.software.version.clone(),
        schema_version: manifest.schema_version,
        code_list,
        window_first: c.window_first.clone(),
        lookback_first: c.lookback_first.clone(),
        lookback_last: c.lookback_last.clone(),
        rules: c.rules.clone(),
        return_migrants_measured: c.return_migrants.available,
        privacy: ExportPrivacy {
            k: manifest.privacy.k,
            phantom_rate: manifest.privacy.phantom_rate,
            delta: manifest.privacy.delta,
            annual_rho: manifest.privacy.annual_rho,
            rho_of_release: manifest.privacy.rho_of_this_release,
            budget_years: manifest.privacy.budget_years.clone(),
        },
        tables,
        release_manifest_sha256: hex::encode(Sha256::digest(&manifest_bytes)),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let _: CountryCode = doc
        .measuring_country
        .parse()
        .map_err(|_| PartnershipError::Export {
            export: release.display().to_string(),
            message: "the release's measuring country is no alpha-3 code".into(),
        })?;
    let bytes = serde_json::to_vec_pretty(&doc).expect("an export serialises");
    // In a directory the manifest goes first and the digest last: an export cut short
    // anywhere fails its check.
    ExportFiles {
        source: out.to_path_buf(),
        digest: format!("{}\n", hex::encode(Sha256::digest(&bytes))),
        export: bytes,
        manifest: manifest_bytes,
    }
    .write(out)?;
    Ok(out.to_path_buf())
}

impl From<PathError> for PartnershipError {
    fn from(e: PathError) -> Self {
        PartnershipError::Io(e)
    }
}
