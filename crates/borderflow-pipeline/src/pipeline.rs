//! Pipeline files: what one scheduled job reads, where it keeps state, and its limits.

use std::path::{Path, PathBuf};

use borderflow_classify::Rules;
use borderflow_core::CountryCode;
use borderflow_ingest::InputConfig;
pub use borderflow_privacy::{PrivacyConfig, TableNoise};
use borderflow_pseudo::{KeyError, PseudonymKey};
use borderflow_refdata::Overrides;
use borderflow_release::SdmxConfig;
use serde::{Deserialize, Serialize};

/// A pipeline file could not be read or is inconsistent. Messages name the file (and line
/// where the TOML itself is malformed) or the `--set` at fault.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file cannot be read or parsed.
    #[error("{location}: {message}")]
    File {
        /// The file, with `:line` where the TOML is malformed, or the `--set` at fault.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A `--set KEY=VALUE` override is malformed.
    #[error("--set {0}: expected KEY=VALUE with a dotted KEY such as privacy.k")]
    Set(String),
}

/// Where the pseudonymisation key comes from: a file (mode 0600) or an environment variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySource {
    /// Key file written by `borderflow keygen`.
    pub file: Option<PathBuf>,
    /// Environment variable holding the key as 64 hex digits.
    pub env: Option<String>,
}

impl KeySource {
    /// Loads the key. There is no default key: a source must be named.
    pub fn load(&self) -> Result<PseudonymKey, KeyError> {
        match (&self.file, &self.env) {
            (Some(f), _) => PseudonymKey::load_file(f),
            (None, Some(v)) => PseudonymKey::load_env(v),
            (None, None) => Err(KeyError::EnvMissing {
                var: "key.file or key.env in the pipeline file".into(),
            }),
        }
    }
}

/// The `[presence]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// Days of presence kept for classification (365; 730 for return migration).
    pub lookback_days: u32,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self { lookback_days: 365 }
    }
}

/// The `[engine]` section: which engine runs the heavy stages, and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// `local` (DataFusion in this process, the default) or `ballista` (a cluster).
    pub kind: EngineKind,
    /// The Ballista scheduler, `df://host:port` (with `kind = "ballista"` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// Memory DataFusion may use before it spills to disk, in MiB.
    pub memory_limit_mb: u64,
    /// Parallel partitions (0: one per core).
    pub target_partitions: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            kind: EngineKind::Local,
            scheduler: None,
            memory_limit_mb: 4096,
            target_partitions: 0,
        }
    }
}

/// Which engine runs classification: the same logical plan either way, and the same facts
/// (docs/scale-out.md). Noise, suppression, the ledger and publication always stay here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// DataFusion in this process, under `memory_limit_mb`, spilling to the state directory.
    #[default]
    Local,
    /// An Apache DataFusion Ballista cluster: scheduler at `engine.scheduler`, executors
    /// started with `borderflow-executor`.
    Ballista,
}

impl EngineConfig {
    /// Refuses a scheduler without `kind = "ballista"`, and the reverse.
    pub fn check(&self) -> Result<(), String> {
        match (self.kind, &self.scheduler) {
            (EngineKind::Local, Some(_)) => Err(
                "engine.scheduler is set but engine.kind is \"local\": set kind = \"ballista\" or remove the scheduler".into(),
            ),
            (EngineKind::Ballista, None) => Err(
                "engine.kind = \"ballista\" needs engine.scheduler = \"df://host:port\"".into(),
            ),
            (EngineKind::Ballista, Some(url)) => borderflow_cluster::scheduler_host_port(url)
                .map(|_| ())
                .map_err(|e| format!("engine.{e}")),
            (EngineKind::Local, None) => Ok(()),
        }
    }
}

/// A pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Name of the dataset: the releases' directory. Budgets are not per dataset but per
    /// calendar year of data for the whole store (docs/privacy.md).
    pub dataset: String,
    /// The measuring country M.
    pub measuring_country: CountryCode,
    /// The operator's own PLMNs.
    pub operator_plmns: Vec<String>,
    /// Operator-side state: presence store, quarantine, ledger. Never published.
    pub state_dir: PathBuf,
    /// Where releases are published.
    pub release_dir: PathBuf,
    /// The period `borderflow run` releases when no `--period` is given: `previous_month`,
    /// `previous_year`, or a period (`2025`, `2025-07`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// The pseudonymisation key.
    pub key: KeySource,
    /// The operator's files.
    pub input: InputConfig,
    /// The presence store.
    #[serde(default)]
    pub presence: PresenceConfig,
    /// Engine limits.
    #[serde(default)]
    pub engine: EngineConfig,
    /// User CSVs amending the code lists.
    #[serde(default)]
    pub refdata: Overrides,
    /// Classification thresholds (docs/design.md §6; defaults in docs/methodology.md).
    #[serde(default)]
    pub classify: Rules,
    /// Privacy budget, costs and threshold.
    #[serde(default)]
    pub privacy: PrivacyConfig,
    /// The releases' SDMX identity: agency, version, dataflow ids.
    #[serde(default, skip_serializing_if = "SdmxConfig::is_default")]
    pub sdmx: SdmxConfig,
    /// The classification's measured accuracy that releases state beside their noise
    /// (`borderflow evaluate --accuracy-json` on the office's own pilot data); without it,
    /// the validation suite's of this version (docs/releases.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_file: Option<PathBuf>,
}

impl Pipeline {
    /// Reads a pipeline file, applies `--set KEY=VALUE` overrides, and resolves relative paths
    /// against the file's directory.
    pub fn load(path: &Path, sets: &[String]) -> Result<Self, PipelineError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::File {
            location: name.clone(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&name, &text, sets, base)
    }

    /// Parses pipeline text (named `name` in errors) with overrides; relative paths are
    /// resolved against `base`.
    pub fn parse(
        name: &str,
        text: &str,
        sets: &[String],
        base: &Path,
    ) -> Result<Self, PipelineError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            PipelineError::File {
                location: line.map_or(name.to_string(), |l| format!("{name}:{l}")),
                message: one_line(e.message()),
            }
        })?;
        for set in sets {
            apply_set(&mut table, set)?;
        }
        // The key at fault is named (`privacy.k: invalid type …`), and its line when the
        // text is read as written (no --set changed it).
        let typed = |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            let line = e.inner().span().map(|s| line_of(text, s.start));
            let location = match line {
                Some(l) if sets.is_empty() => format!("{name}:{l}"),
                _ => name.to_string(),
            };
            let message = one_line(e.inner().message());
            PipelineError::File {
                location,
                message: if key == "." {
                    message
                } else {
                    format!("{key}: {message}")
                },
            }
        };
        let mut p: Pipeline = if sets.is_empty() {
            serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(typed)?
        } else {
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let message = one_line(e.into_inner().message());
                PipelineError::File {
                    location: name.to_string(),
                    message: format!("{key}: {message}"),
                }
            })?
        };
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut p.state_dir);
        resolve(&mut p.release_dir);
        if let Some(f) = &mut p.accuracy_file {
            resolve(f);
        }
        if let Some(f) = &mut p.key.file {
            resolve(f);
        }
        if let Some(c) = &mut p.input.cell_catalogue
            && Path::new(c.as_str()).is_relative()
        {
            *c = base.join(&*c).display().to_string();
        }
        for input in &mut p.input.paths {
            if Path::new(input).is_relative() {
                *input = base.join(&*input).display().to_string();
            }
        }
        for f in [
            &mut p.refdata.countries,
            &mut p.refdata.plmn,
            &mut p.refdata.calling_codes,
            &mut p.refdata.income_groups,
            &mut p.refdata.hdi_groups,
            &mut p.refdata.time_zones,
        ]
        .into_iter()
        .flatten()
        {
            resolve(f);
        }
        if p.dataset.is_empty()
            || !p
                .dataset
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PipelineError::File {
                location: name.to_string(),
                message: format!(
                    "dataset {:?} must be letters, digits, '-' and '_' (it names directories)",
                    p.dataset
                ),
            });
        }
        p.classify.check().map_err(|e| PipelineError::File {
            location: name.to_string(),
            message: e.to_string(),
        })?;
        p.privacy.check().map_err(|message| PipelineError::File {
            location: name.to_string(),
            message,
        })?;
        p.sdmx.check().map_err(|message| PipelineError::File {
            location: name.to_string(),
            message,
        })?;
        p.engine.check().map_err(|message| PipelineError::File {
            location: name.to_string(),
            message,
        })?;
        // A profile's expressions become the mapping here, so every later step (the
        // configuration digest, `validate`, a cluster's tasks) sees what is read.
        if let Some(own) = p.operator_plmns.first() {
            p.input = p.input.resolved(own);
        }
        p.input
            .columns
            .check()
            .map_err(|message| PipelineError::File {
                location: name.to_string(),
                message,
            })?;
        check_apart(&p.state_dir, &p.release_dir).map_err(|message| PipelineError::File {
            location: name.to_string(),
            message,
        })?;
        if let Some(text) = &p.period
            && !matches!(text.as_str(), "previous_month" | "previous_year")
            && text.parse::<crate::Period>().is_err()
        {
            return Err(PipelineError::File {
                location: name.to_string(),
                message: format!(
                    "period = {text:?} must be previous_month, previous_year, a year (2025) or a month (2025-07)"
                ),
            });
        }
        p.check_limits().map_err(|message| PipelineError::File {
            location: name.to_string(),
            message,
        })?;
        if p.presence.lookback_days < CLASSIFY_LOOKBACK_DAYS {
            return Err(PipelineError::File {
                location: name.to_string(),
                message: format!(
                    "presence.lookback_days = {} keeps too little: classification looks back {CLASSIFY_LOOKBACK_DAYS} days",
                    p.presence.lookback_days
                ),
            });
        }
        Ok(p)
    }
}

impl Pipeline {
    /// Refuses numeric settings outside the range a run can honour, before anything is read
    /// or written: each message names the key, its value and the range.
    fn check_limits(&self) -> Result<(), String> {
        let e = &self.engine;
        if !(MIN_MEMORY_LIMIT_MB..=MAX_MEMORY_LIMIT_MB).contains(&e.memory_limit_mb) {
            return Err(format!(
                "engine.memory_limit_mb = {} must lie in [{MIN_MEMORY_LIMIT_MB}, {MAX_MEMORY_LIMIT_MB}] (MiB)",
                e.memory_limit_mb
            ));
        }
        if e.target_partitions > MAX_TARGET_PARTITIONS {
            return Err(format!(
                "engine.target_partitions = {} must lie in [0, {MAX_TARGET_PARTITIONS}] (0: one per core)",
                e.target_partitions
            ));
        }
        let days = self.presence.lookback_days;
        if days > MAX_LOOKBACK_DAYS {
            return Err(format!(
                "presence.lookback_days = {days} must lie in [{CLASSIFY_LOOKBACK_DAYS}, {MAX_LOOKBACK_DAYS}]"
            ));
        }
        if self.classify.return_migrants && days < 2 * CLASSIFY_LOOKBACK_DAYS {
            return Err(format!(
                "presence.lookback_days = {days} keeps too little for classify.return_migrants = true: return migration reads {} days",
                2 * CLASSIFY_LOOKBACK_DAYS
            ));
        }
        if self.operator_plmns.is_empty() {
            return Err(
                "operator_plmns is empty: name the operator's own networks (MCC+MNC, 5 or 6 digits)"
                    .into(),
            );
        }
        for plmn in &self.operator_plmns {
            if !(5..=6).contains(&plmn.len()) || !plmn.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "operator_plmns: {plmn:?} is not a PLMN (MCC+MNC, 5 or 6 digits)"
                ));
            }
        }
        Ok(())
    }
}

/// The least memory a run may be given, in MiB (with 0 the engines could hold nothing; a
/// small limit only spills more).
pub const MIN_MEMORY_LIMIT_MB: u64 = 1;
/// The most memory a run may be told it has, in MiB (16 TiB).
pub const MAX_MEMORY_LIMIT_MB: u64 = 16 << 20;
/// The most parallel partitions a run may ask for.
pub const MAX_TARGET_PARTITIONS: usize = 1024;
/// The longest presence look-back a store keeps: ten years.
pub const MAX_LOOKBACK_DAYS: u32 = 3660;

/// Days of presence classification reads for a reference period (docs/design.md §6: the 365-day
/// look-back ending with the period); return migrants need twice as many.
pub const CLASSIFY_LOOKBACK_DAYS: u32 = 365;

/// Sets a dotted key in the table; the value is read as TOML (`20`, `true`, `"x"`, `[..]`)
/// and, failing that, as a string.
fn apply_set(table: &mut toml::Table, set: &str) -> Result<(), PipelineError> {
    let (key, value) = set
        .split_once('=')
        .ok_or_else(|| PipelineError::Set(set.to_string()))?;
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(PipelineError::Set(set.to_string()));
    }
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut t = table;
    for p in &parts[..parts.len() - 1] {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| PipelineError::Set(set.to_string()))?;
    }
    let last = parts[parts.len() - 1];
    // A table's noise is set one way: a --set of rho, sigma or margin_of_error replaces
    // whichever of the three the file gave (`--set privacy.categories.margin_of_error=5` on
    // a template that sets rho).
    const NOISE_KEYS: [&str; 3] = ["rho", "sigma", "margin_of_error"];
    if parts.len() == 3 && parts[0] == "privacy" && NOISE_KEYS.contains(&last) {
        for other in NOISE_KEYS.iter().filter(|k| **k != last) {
            t.remove(*other);
        }
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Refuses a state directory inside the release directory (pseudonyms, per-SIM facts and
/// exact counts would be published with the releases), a release directory inside the state
/// directory, and one directory for both. Paths are compared after making them absolute and
/// resolving `.`, `..` and the symbolic links of the part that exists.
fn check_apart(state: &Path, release: &Path) -> Result<(), String> {
    let (s, r) = (real_path(state), real_path(release));
    if s == r {
        return Err(format!(
            "state_dir and release_dir are one directory ({}): the state holds pseudonyms and exact counts and must never be published",
            state.display()
        ));
    }
    if s.starts_with(&r) {
        return Err(format!(
            "state_dir {} is inside release_dir {}: the state holds pseudonyms and exact counts and must never be published; keep it apart",
            state.display(),
            release.display()
        ));
    }
    if r.starts_with(&s) {
        return Err(format!(
            "release_dir {} is inside state_dir {}: keep what is published apart from the operator-side state",
            release.display(),
            state.display()
        ));
    }
    Ok(())
}

/// `path` made absolute, with `.` and `..` resolved and its longest existing prefix
/// canonicalised (symbolic links followed).
fn real_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = if path.is_relative() {
        std::env::current_dir().unwrap_or_default().join(path)
    } else {
        path.to_path_buf()
    };
    let mut lexical = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl borderflow_core::FailureKind for PipelineError {
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borderflow_privacy::Ratio;

    #[test]
    fn a_set_of_one_noise_key_replaces_the_files_other() {
        let text = r#"
            dataset = "d"
            measuring_country = "KEN"
            operator_plmns = ["63902"]
            state_dir = "s"
            release_dir = "r"
            [key]
            env = "K"
            [input]
            paths = []
            [privacy.categories]
            rho = 0.03
        "#;
        let set = ["privacy.categories.margin_of_error=5".to_string()];
        let p = Pipeline::parse("p.toml", text, &set, Path::new("/")).unwrap();
        assert_eq!(p.privacy.categories.margin_of_error, Some(5.0));
        assert_eq!(p.privacy.categories.rho, None);
    }

    #[test]
    fn table_noise_is_read_from_the_pipeline_file_and_set() {
        let text = r#"
            dataset = "d"
            measuring_country = "KEN"
            operator_plmns = ["63902"]
            state_dir = "s"
            release_dir = "r"
            [key]
            env = "K"
            [input]
            paths = ["x.csv"]
            [privacy.crossings]
            sigma = 4
        "#;
        let p = Pipeline::parse(
            "p.toml",
            text,
            &["privacy.categories.margin_of_error=9.8".into()],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            p.privacy.crossings.rho(4),
            Ratio::from_fraction("1/8").unwrap()
        );
        // σ = 9.8/1.96 = 5: ρ = 1/50.
        assert_eq!(
            p.privacy.categories.rho(1),
            Ratio::from_fraction("1/50").unwrap()
        );
        // A --set of another of the three replaces the file's.
        let p = Pipeline::parse(
            "p.toml",
            text,
            &["privacy.crossings.rho=0.1".into()],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            (p.privacy.crossings.rho, p.privacy.crossings.sigma),
            (Some(0.1), None)
        );
        // Two of them in the file itself is a mistake.
        let both = text.replace("sigma = 4", "sigma = 4\nrho = 0.1");
        let err = Pipeline::parse("p.toml", &both, &[], Path::new(".")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.toml: privacy.crossings: set one of rho, sigma and margin_of_error, not rho and sigma"
        );
    }
}
