//! Where a protected release goes: rendered into a staging directory beside its place, the
//! operator-side record kept ([`super::operator`]), then made readable by everyone and renamed
//! into place whole, and the dataset's index rewritten. A release directory is complete or
//! absent, so its manifest marks it published.

use std::path::PathBuf;

use borderflow_core::{StagedDir, failpoint};
use borderflow_release::history::earlier_crossings;
use borderflow_release::manifest::MANIFEST_FILE;
use borderflow_release::{ProtectedRelease, ReleaseAbout, render};
use sha2::{Digest, Sha256};

use super::classified::ClassifiedPeriod;
use super::error::PublishError;
use super::operator::OperatorSide;
use crate::{Period, Pipeline};

/// Whether the period's release is there. A release directory is complete or absent (renamed
/// into place whole, manifest last), so its manifest is the mark.
pub fn published(p: &Pipeline, period: Period) -> bool {
    release_dir(p, period).join(MANIFEST_FILE).is_file()
}

/// The release directory of a period.
pub fn release_dir(p: &Pipeline, period: Period) -> PathBuf {
    p.release_dir.join(&p.dataset).join(period.to_string())
}

/// Renders `release` into a staging directory, keeps the operator side, and renames the
/// release into place; returns its outputs digest.
pub(super) fn place(
    p: &Pipeline,
    period: Period,
    classified: &ClassifiedPeriod,
    release: &ProtectedRelease,
    operator: OperatorSide<'_>,
    for_publication: bool,
) -> Result<String, PublishError> {
    let dir = release_dir(p, period);
    let dataset_dir = dir
        .parent()
        .expect("a release dir has a parent")
        .to_path_buf();
    // The directories of a publication are everyone's to read, the ones made here too.
    borderflow_core::create_public_dir_all(&dataset_dir)?;
    let staged = StagedDir::create(&dir)?;
    let period_text = period.to_string();
    let summary = &classified.summary;
    let rules = serde_json::to_value(&summary.rules).expect("the rules serialise");
    let earlier = earlier_crossings(&dataset_dir, &period_text, is_period);
    let published_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let about = ReleaseAbout {
        dataset: &p.dataset,
        period: &period_text,
        measuring_country: p.measuring_country,
        for_publication,
        privacy: &p.privacy,
        budget_years: &classified.years,
        sdmx: &p.sdmx,
        refdata: &classified.refdata,
        config_digest: &config_digest(p),
        window: classified.window,
        rules: &rules,
        return_migrants_note: summary.return_migrants.reason.as_deref(),
        earlier_crossings: &earlier,
        published_at: &published_at,
    };
    let outputs = render(release, &about, staged.path())?;
    super::operator::keep(p, period, classified, operator)?;
    failpoint::hit("publish:staged");
    // A publication is for everyone to read (the state beside it is owner-only).
    borderflow_core::make_public(staged.path())?;
    for d in [&p.release_dir, &dataset_dir] {
        borderflow_core::make_dir_public(d)?;
    }
    staged.commit_new()?;
    borderflow_release::series::write_index(&dataset_dir, &p.dataset, is_period)?;
    Ok(outputs)
}

/// Whether a name beside the releases of a dataset is a release's (a period).
fn is_period(name: &str) -> bool {
    name.parse::<Period>().is_ok()
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
