//! Where a protected release goes: rendered into a staging directory beside its place, the
//! operator-side record kept ([`super::operator`]), then made readable by everyone and renamed
//! into place whole, and the dataset's index rewritten. A release directory is complete or
//! absent, so its manifest marks it published.

use std::collections::BTreeMap;
use std::path::PathBuf;

use borderflow_core::{CountryCode, StagedDir, failpoint};
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
        persons: None,
        accuracy: &classified.accuracy,
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

/// What decides a release's statistics among the pipeline's settings (after `--set`): the
/// measuring country, the operator's networks, how the input is read, presence, rules, privacy
/// and the SDMX identifiers — not the paths, the dataset's name, the period label, the key's
/// location or the engine's limits, which change from one machine or schedule to another and
/// decide nothing of the figures. The code lists' override files are named by nothing here:
/// their contents reach the code list, which each query digest holds.
#[derive(serde::Serialize)]
struct DecidingSettings<'a> {
    measuring_country: CountryCode,
    operator_plmns: &'a [String],
    input: DecidingInput<'a>,
    presence: &'a crate::PresenceConfig,
    refdata: BTreeMap<String, String>,
    classify: &'a borderflow_classify::Rules,
    privacy: &'a borderflow_privacy::PrivacyConfig,
    #[serde(skip_serializing_if = "sdmx_is_default")]
    sdmx: &'a borderflow_release::SdmxConfig,
}

/// How the input is read, less where it is.
#[derive(serde::Serialize)]
struct DecidingInput<'a> {
    columns: &'a borderflow_ingest::ColumnMapping,
    time_format: &'a borderflow_ingest::TimeFormat,
    source_time_zone: &'a Option<String>,
    delimiter: &'a Option<char>,
}

fn sdmx_is_default(s: &&borderflow_release::SdmxConfig) -> bool {
    s.is_default()
}

/// SHA-256 of the [`DecidingSettings`] as JSON (keys in order).
fn config_digest(p: &Pipeline) -> String {
    let settings = DecidingSettings {
        measuring_country: p.measuring_country,
        operator_plmns: &p.operator_plmns,
        input: DecidingInput {
            columns: &p.input.columns,
            time_format: &p.input.time_format,
            source_time_zone: &p.input.source_time_zone,
            delimiter: &p.input.delimiter,
        },
        presence: &p.presence,
        refdata: BTreeMap::new(),
        classify: &p.classify,
        privacy: &p.privacy,
        sdmx: &p.sdmx,
    };
    // Through a JSON value, whose keys are sorted: the digest does not depend on the order
    // the fields are declared in.
    let v = serde_json::to_value(&settings).expect("the settings serialise");
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(extra: &str, sets: &[&str]) -> Pipeline {
        let text = format!(
            "dataset = \"demo\"\nmeasuring_country = \"KEN\"\noperator_plmns = [\"63902\"]\n\
             state_dir = \"state\"\nrelease_dir = \"release\"\nperiod = \"2025\"\n\
             [key]\nfile = \"/keys/k.key\"\n[input]\npaths = [\"world/events.parquet\"]\n{extra}\
             [privacy]\nannual_rho = 0.25\nk = 16\n"
        );
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Pipeline::parse("p.toml", &text, &sets, std::path::Path::new("/work")).unwrap()
    }

    #[test]
    fn the_configuration_digest_is_what_releases_have_always_recorded() {
        // The digests releases record: a release's configuration must read the same across
        // versions. They moved once, when the border-effect thresholds (weekly rhythm,
        // spillover, late evenings, weekly frontier workers) joined the classification
        // settings, and again when the spillover commute test and the weekly rhythm's chance
        // did: from then on the same file decides different statistics.
        assert_eq!(
            config_digest(&pipeline("", &[])),
            "e24a4a703396758441d6686ba64c9846eebf0e25f945b5b97387765cef7399a8"
        );
        assert_eq!(
            config_digest(&pipeline(
                "[presence]\nlookback_days = 730\n[classify]\nreturn_migrants = true\n",
                &[]
            )),
            "7d8b1b70b34d378bdd23f5ed282400af792d2ccf4ed87112bcede1bdbc382d11"
        );
        assert_eq!(
            config_digest(&pipeline("", &["sdmx.agency=\"KNBS\""])),
            "5341e9674e7da8b9d17f673f2ab9e5364c828ca02bc199b580fb87900720c5ce"
        );
    }

    #[test]
    fn only_what_decides_the_figures_moves_the_configuration_digest() {
        let base = config_digest(&pipeline("", &[]));
        for local in [
            "dataset=\"other\"",
            "state_dir=\"/elsewhere\"",
            "period=\"2025-07\"",
            "input.paths=[\"other/*.csv\"]",
            "engine.memory_limit_mb=512",
        ] {
            assert_eq!(config_digest(&pipeline("", &[local])), base, "{local}");
        }
        for deciding in [
            "privacy.k=20",
            "operator_plmns=[\"63903\"]",
            "classify.max_crossing_pairs=3",
        ] {
            assert_ne!(
                config_digest(&pipeline("", &[deciding])),
                base,
                "{deciding}"
            );
        }
    }
}
