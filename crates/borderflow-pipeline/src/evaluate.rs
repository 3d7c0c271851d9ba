//! How well the classification recovers the truth of a world whose truth is known: a
//! synthetic scenario, or an operator's pilot data with a survey-matched sample.
//!
//! [`evaluate`] runs the ingest and classify stages on the world's events in a scratch state
//! directory (with a fresh key), joins the per-SIM facts to the truth by pseudonym, and
//! returns the confusion matrix. Nothing is noised or published: the figures are exact and
//! describe the method, not a release.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use borderflow_core::schema::{facts, truth};
use borderflow_core::{Category, CountryCode, PathError, Pseudonym, StateLayout, WithPath};
use borderflow_pseudo::{KeyError, PseudonymKey, Pseudonymiser};
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{ClassifyError, IngestError, Period, Pipeline, PipelineError, classify, ingest};

/// The label of SIMs not classified (whatever the reason).
pub const UNCLASSIFIED: &str = "unclassified";
/// The label of SIMs in the truth that the operator's records never show in the look-back.
pub const UNSEEN: &str = "unseen";

/// Why an evaluation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The world's files could not be read.
    #[error(transparent)]
    Io(#[from] PathError),
    /// A truth or facts file is not what it should be.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The world does not end on the last day of a month, so no reference period is its
    /// last 365 days.
    #[error(
        "the world's last day {0} is not the last day of a month: its last 365 days are no reference period"
    )]
    NoPeriod(NaiveDate),
    /// The scratch pipeline could not be made.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The scratch key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Ingest failed.
    #[error("ingest: {0}")]
    Ingest(#[source] IngestError),
    /// Classification failed.
    #[error("classify: {0}")]
    Classify(#[source] ClassifyError),
}

/// A world to evaluate on: its events, its truth and what the pipeline needs to know of it.
#[derive(Debug, Clone)]
pub struct World {
    /// Events in the canonical schema (CSV or Parquet).
    pub events: PathBuf,
    /// One row per SIM: `subscriber_id`, `category`, `partner_country` (CSV or Parquet).
    pub truth: PathBuf,
    /// The measuring country.
    pub measuring_country: CountryCode,
    /// The operator's PLMN.
    pub operator_plmn: String,
    /// The world's last local date: the reference period is the 365 days ending with it.
    pub last_day: NaiveDate,
    /// Days of events held (730 or more lets return migrants be classified).
    pub days: u32,
}

impl World {
    /// A world as `borderflow generate` writes it into `dir` (`events.parquet` or
    /// `events.csv`, `truth.parquet` or `truth.csv`), for measuring country `m` through
    /// `operator_plmn`, with `days` days from `start`.
    pub fn generated(
        dir: &Path,
        m: CountryCode,
        operator_plmn: &str,
        start: NaiveDate,
        days: u32,
    ) -> Self {
        let either = |stem: &str| {
            let parquet = dir.join(format!("{stem}.parquet"));
            if parquet.is_file() {
                parquet
            } else {
                dir.join(format!("{stem}.csv"))
            }
        };
        Self {
            events: either("events"),
            truth: either("truth"),
            measuring_country: m,
            operator_plmn: operator_plmn.to_string(),
            last_day: start + chrono::Days::new(u64::from(days.saturating_sub(1))),
            days,
        }
    }
}

/// Category counts and their agreement with the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The reference period classified.
    pub period: Period,
    /// SIMs per (true category, classified category or [`UNCLASSIFIED`] or [`UNSEEN`]).
    pub matrix: BTreeMap<(String, String), u64>,
    /// SIMs classified into their true category whose partner country is also right.
    pub partner_right: u64,
    /// Every SIM of the truth the records show, with what it truly is and what it was
    /// classified as, in pseudonym order: the rows to look at when a category falls short.
    pub sims_compared: Vec<SimOutcome>,
}

/// How one group of SIM holders (a persona with its border effects) was classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecall {
    /// The group: `persona` or `persona+effect+...`.
    pub group: String,
    /// Its SIMs classified (the too sparse left out).
    pub classified: u64,
    /// Of which in their true category.
    pub right: u64,
    /// The categories the others went to, with their counts, most first.
    pub wrong: Vec<(String, u64)>,
}

/// One SIM's truth beside its classification. It names the SIM by pseudonym only, so it can
/// be joined to the presence store and the facts of the evaluation's state, never to an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOutcome {
    /// The SIM's pseudonym under the evaluation's key.
    pub pseudonym: Pseudonym,
    /// Its true category.
    pub true_category: String,
    /// Its true partner country.
    pub true_partner: Option<String>,
    /// The category it was classified in, or [`UNCLASSIFIED`].
    pub category: String,
    /// Why it was not classified (a [`borderflow_core::Unclassified`] code), when it was not.
    pub unclassified_reason: Option<String>,
    /// The partner country it was given.
    pub partner: Option<String>,
    /// The kind of SIM holder the truth says it is, when the truth says (a synthetic world's
    /// `persona`, with its border `effects` after a `+`: `frontier_in+weekly+night_silent`).
    pub group: Option<String>,
    /// Whether the records show it crossing a border in the period (a row of the facts'
    /// crossings). An own SIM that truly went abroad but never shows it is one whose roaming
    /// the operator does not see (phone dark abroad, data roaming off, a local SIM there): no
    /// rule can place it abroad.
    pub crossed: bool,
}

impl Evaluation {
    fn count(&self, truth: &str, classified: &str) -> u64 {
        self.matrix
            .get(&(truth.to_string(), classified.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// SIMs in the truth.
    pub fn sims(&self) -> u64 {
        self.matrix.values().sum()
    }

    /// SIMs the operator's records show (the truth less [`UNSEEN`]).
    pub fn seen(&self) -> u64 {
        self.sims() - self.classified_as(UNSEEN)
    }

    /// SIMs truly in `category` and seen.
    pub fn truly(&self, category: &str) -> u64 {
        self.matrix
            .iter()
            .filter(|((t, c), _)| t == category && c != UNSEEN)
            .map(|(_, n)| n)
            .sum()
    }

    /// SIMs classified as `label` (a category, [`UNCLASSIFIED`] or [`UNSEEN`]).
    pub fn classified_as(&self, label: &str) -> u64 {
        self.matrix
            .iter()
            .filter(|((_, c), _)| c == label)
            .map(|(_, n)| n)
            .sum()
    }

    /// SIMs truly in `category` that were classified (not too sparse, not unseen).
    pub fn truly_classified(&self, category: &str) -> u64 {
        self.truly(category) - self.count(category, UNCLASSIFIED)
    }

    /// Share of the classified SIMs of `category` classified into it. `None` when none is.
    /// The SIMs too sparse to classify are counted apart ([`Evaluation::coverage`]).
    pub fn recall(&self, category: &str) -> Option<f64> {
        let n = self.truly_classified(category);
        (n > 0).then(|| self.count(category, category) as f64 / n as f64)
    }

    /// [`Evaluation::recall`] among the SIMs the records show crossing: what the rules get
    /// right of what they can see. `None` when no such SIM is classified.
    pub fn recall_of_crossing(&self, category: &str) -> Option<f64> {
        let of = |o: &&SimOutcome| {
            o.crossed && o.true_category == category && o.category != UNCLASSIFIED
        };
        let n = self.sims_compared.iter().filter(of).count();
        let right = self
            .sims_compared
            .iter()
            .filter(of)
            .filter(|o| o.category == category)
            .count();
        (n > 0).then(|| right as f64 / n as f64)
    }

    /// Per true category, the SIMs classified into another category without any crossing on
    /// record, by the category they went to: movers the operator never saw move.
    pub fn missed_without_crossing(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for o in &self.sims_compared {
            if !o.crossed && o.category != o.true_category && o.category != UNCLASSIFIED {
                *out.entry(o.true_category.clone())
                    .or_default()
                    .entry(o.category.clone())
                    .or_default() += 1;
            }
        }
        out
    }

    /// Share of the seen SIMs of `category` that were classified at all.
    pub fn coverage(&self, category: &str) -> Option<f64> {
        let n = self.truly(category);
        (n > 0).then(|| self.truly_classified(category) as f64 / n as f64)
    }

    /// Share of the SIMs classified as `category` truly in it. `None` when none is classified
    /// so.
    pub fn precision(&self, category: &str) -> Option<f64> {
        let n = self.classified_as(category);
        (n > 0).then(|| self.count(category, category) as f64 / n as f64)
    }

    /// Share of the seen SIMs too sparse to classify.
    pub fn unclassified_share(&self) -> f64 {
        self.classified_as(UNCLASSIFIED) as f64 / self.seen().max(1) as f64
    }

    /// Share of the classified SIMs classified into their true category.
    pub fn accuracy(&self) -> f64 {
        let right: u64 = Category::ALL
            .iter()
            .map(|c| self.count(c.as_str(), c.as_str()))
            .sum();
        right as f64 / (self.seen() - self.classified_as(UNCLASSIFIED)).max(1) as f64
    }

    /// Total variation distance between the category shares a release shows (among the SIMs
    /// classified) and the true shares of the same SIMs.
    pub fn tvd(&self) -> f64 {
        let classified = (self.seen() - self.classified_as(UNCLASSIFIED)).max(1) as f64;
        Category::ALL
            .iter()
            .map(|c| {
                let shown = self.classified_as(c.as_str()) as f64 / classified;
                let truth = self.truly_classified(c.as_str()) as f64 / classified;
                (shown - truth).abs()
            })
            .sum::<f64>()
            / 2.0
    }

    /// Total variation distance between the category shares among the SIMs classified and the
    /// true shares among all SIMs seen: what being too sparse to classify does to the shares.
    pub fn tvd_of_seen(&self) -> f64 {
        let classified = (self.seen() - self.classified_as(UNCLASSIFIED)).max(1) as f64;
        let seen = self.seen().max(1) as f64;
        Category::ALL
            .iter()
            .map(|c| {
                let shown = self.classified_as(c.as_str()) as f64 / classified;
                let truth = self.truly(c.as_str()) as f64 / seen;
                (shown - truth).abs()
            })
            .sum::<f64>()
            / 2.0
    }

    /// Share of the SIMs classified right whose partner country is right too.
    pub fn partner_accuracy(&self) -> f64 {
        let right: u64 = Category::ALL
            .iter()
            .map(|c| self.count(c.as_str(), c.as_str()))
            .sum();
        self.partner_right as f64 / right.max(1) as f64
    }

    /// The confusion matrix, recall and precision per category, and the summary figures, as a
    /// table for a terminal.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let cats: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        let short = |s: &str| -> String { s.chars().take(7).collect() };
        let mut out = String::new();
        let _ = write!(out, "{:<21}", "truth \\ classified");
        for c in cats.iter().chain([UNCLASSIFIED, UNSEEN].iter()) {
            let _ = write!(out, "{:>8}", short(c));
        }
        let _ = writeln!(out, "{:>9} {:>9} {:>9}", "recall", "precision", "coverage");
        for t in &cats {
            if self.truly(t) == 0 && self.classified_as(t) == 0 {
                continue;
            }
            let _ = write!(out, "{t:<21}");
            for c in cats.iter().chain([UNCLASSIFIED, UNSEEN].iter()) {
                let _ = write!(out, "{:>8}", self.count(t, c));
            }
            let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
            let _ = writeln!(
                out,
                "{:>9} {:>9} {:>9}",
                pct(self.recall(t)),
                pct(self.precision(t)),
                pct(self.coverage(t))
            );
        }
        let _ = writeln!(
            out,
            "SIMs {} (seen {}), accuracy {:.3}, total variation distance {:.4} ({:.4} against all seen), not classifiable {:.1}%, partner right {:.3}",
            self.sims(),
            self.seen(),
            self.accuracy(),
            self.tvd(),
            self.tvd_of_seen(),
            100.0 * self.unclassified_share(),
            self.partner_accuracy()
        );
        let reasons = self.unclassified_by_reason();
        if !reasons.is_empty() {
            let _ = writeln!(out, "not classifiable, by reason: SIMs (true categories)");
            for (reason, cats) in &reasons {
                let mut cats: Vec<(&String, &u64)> = cats.iter().collect();
                cats.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let list: Vec<String> = cats.iter().map(|(c, n)| format!("{c} {n}")).collect();
                let _ = writeln!(
                    out,
                    "  {:<16} {:>5}  ({})",
                    reason,
                    cats.iter().map(|(_, n)| **n).sum::<u64>(),
                    list.join(", ")
                );
            }
        }
        let unseen_moves = self.missed_without_crossing();
        if !unseen_moves.is_empty() {
            let _ = writeln!(
                out,
                "classified wrong with no crossing on record (moves the records never show): SIMs (classified as)"
            );
            for (truth, went) in &unseen_moves {
                let list: Vec<String> = went.iter().map(|(c, n)| format!("{c} {n}")).collect();
                let _ = writeln!(
                    out,
                    "  {:<21} {:>5}  ({})",
                    truth,
                    went.values().sum::<u64>(),
                    list.join(", ")
                );
            }
        }
        let groups = self.by_group();
        if !groups.is_empty() {
            let _ = writeln!(
                out,
                "by group (persona+border effects): classified, recall, went to"
            );
            for g in groups {
                let went: Vec<String> = g.wrong.iter().map(|(c, n)| format!("{c} {n}")).collect();
                let _ = writeln!(
                    out,
                    "  {:<44} {:>5} {:>6.3}  {}",
                    g.group,
                    g.classified,
                    g.right as f64 / g.classified.max(1) as f64,
                    went.join(", ")
                );
            }
        }
        out
    }

    /// The per-SIM comparison as CSV: `pseudonym` (hex), `true_category`, `true_partner`,
    /// `category`, `partner`, `group` (empty when the truth has none), `unclassified_reason`
    /// (empty when classified), one row per SIM the records show.
    pub fn per_sim_csv(&self) -> String {
        let mut out = String::from(
            "pseudonym,true_category,true_partner,category,partner,group,unclassified_reason\n",
        );
        for o in &self.sims_compared {
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                hex::encode(o.pseudonym.0),
                o.true_category,
                o.true_partner.as_deref().unwrap_or(""),
                o.category,
                o.partner.as_deref().unwrap_or(""),
                o.group.as_deref().unwrap_or(""),
                o.unclassified_reason.as_deref().unwrap_or("")
            ));
        }
        out
    }

    /// Each category's scores in this world, for [`borderflow_release::accuracy`]: SIMs
    /// truly of it classified at all, recall and precision.
    pub fn scores(&self) -> Vec<borderflow_release::accuracy::WorldScore<'static>> {
        Category::ALL
            .into_iter()
            .map(|c| borderflow_release::accuracy::WorldScore {
                category: c.as_str(),
                classified: self.truly_classified(c.as_str()),
                recall: self.recall(c.as_str()).unwrap_or(0.0),
                precision: self.precision(c.as_str()).unwrap_or(0.0),
            })
            .collect()
    }

    /// The SIMs not classified, by reason and true category: how many SIMs of each category
    /// each reason holds back.
    pub fn unclassified_by_reason(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut by: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for o in &self.sims_compared {
            if o.category != UNCLASSIFIED {
                continue;
            }
            let reason = o.unclassified_reason.as_deref().unwrap_or("none");
            *by.entry(reason.to_string())
                .or_default()
                .entry(o.true_category.clone())
                .or_default() += 1;
        }
        by
    }

    /// Per group of SIM holders (persona and border effects, when the truth names them): SIMs
    /// classified, the share in their true category, and where the others went, most first.
    pub fn by_group(&self) -> Vec<GroupRecall> {
        let mut groups: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for o in &self.sims_compared {
            let Some(g) = o.group.as_deref() else {
                continue;
            };
            if o.category == UNCLASSIFIED {
                continue;
            }
            let to = if o.category == o.true_category {
                ""
            } else {
                o.category.as_str()
            };
            *groups.entry(g).or_default().entry(to).or_default() += 1;
        }
        groups
            .into_iter()
            .map(|(g, outcomes)| {
                let right = outcomes.get("").copied().unwrap_or(0);
                let mut wrong: Vec<(String, u64)> = outcomes
                    .into_iter()
                    .filter(|(to, _)| !to.is_empty())
                    .map(|(to, n)| (to.to_string(), n))
                    .collect();
                wrong.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let classified = right + wrong.iter().map(|w| w.1).sum::<u64>();
                GroupRecall {
                    group: g.to_string(),
                    classified,
                    right,
                    wrong,
                }
            })
            .collect()
    }
}

/// The reference period whose look-back is the 365 days ending on `last_day`: its year when it
/// is 31 December, else its month when it is a month's last day.
pub fn period_ending(last_day: NaiveDate) -> Result<Period, EvaluateError> {
    let next = last_day
        .succ_opt()
        .ok_or(EvaluateError::NoPeriod(last_day))?;
    if next.month() == 1 && next.day() == 1 {
        return Ok(format!("{}", last_day.year())
            .parse()
            .expect("a year is a period"));
    }
    if next.day() == 1 {
        return Ok(format!("{}-{:02}", last_day.year(), last_day.month())
            .parse()
            .expect("a month is a period"));
    }
    Err(EvaluateError::NoPeriod(last_day))
}

/// Classifies `world` in a scratch state under `work` (created empty) and compares the result
/// with its truth.
pub fn evaluate(world: &World, work: &Path) -> Result<Evaluation, EvaluateError> {
    let period = period_ending(world.last_day)?;
    std::fs::create_dir_all(work).with_path(work)?;
    let key_path = work.join("evaluation.key");
    if key_path.exists() {
        std::fs::remove_file(&key_path).with_path(&key_path)?;
    }
    let key = PseudonymKey::generate()?;
    key.write_new(&key_path)?;
    let state = work.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state).with_path(&state)?;
    }
    let lookback = if world.days >= 730 { 730 } else { 365 };
    let text = format!(
        "dataset = \"evaluation\"\nmeasuring_country = \"{}\"\noperator_plmns = [\"{}\"]\n\
         state_dir = \"state\"\nrelease_dir = \"release\"\n[key]\nfile = \"evaluation.key\"\n\
         [input]\npaths = [{:?}]\n[presence]\nlookback_days = {lookback}\n\
         [classify]\nreturn_migrants = {}\n",
        world.measuring_country,
        world.operator_plmn,
        world.events.display().to_string(),
        world.days >= 730
    );
    let p = Pipeline::parse("evaluation.toml", &text, &[], work)?;
    // As a scheduled run of the period reads it: the dates of its look-back, nothing after.
    ingest::run(&p, Some(period), &[]).map_err(EvaluateError::Ingest)?;
    classify::run(&p, period).map_err(EvaluateError::Classify)?;

    let mut ps = Pseudonymiser::new(&key);
    let mut truth: BTreeMap<Pseudonym, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for b in read_table(&world.truth)? {
        let ids = text_column(&b, truth::SUBSCRIBER_ID, &world.truth)?;
        let cats = text_column(&b, truth::CATEGORY, &world.truth)?;
        let partners = text_column(&b, truth::PARTNER_COUNTRY, &world.truth)?;
        let groups = groups(&b, &world.truth)?;
        for (((id, cat), partner), group) in ids.into_iter().zip(cats).zip(partners).zip(groups) {
            let bad = |message: &str| EvaluateError::Format {
                path: world.truth.clone(),
                message: message.into(),
            };
            let id = id.ok_or_else(|| bad("a row without subscriber_id"))?;
            let cat = cat.ok_or_else(|| bad("a row without category"))?;
            if let Some(p) = ps.pseudonym(&id) {
                truth.insert(p, (cat, partner, group));
            }
        }
    }
    let facts_dir = StateLayout::new(&p.state_dir).facts(&period.to_string());
    let sims_path = facts_dir.join(facts::SIMS_FILE);
    let crossing = crossing_sims(&facts_dir.join(facts::CROSSINGS_FILE))?;
    let mut eval = Evaluation {
        period,
        matrix: BTreeMap::new(),
        partner_right: 0,
        sims_compared: Vec::new(),
    };
    for b in read_table(&sims_path)? {
        let pseudonyms = pseudonyms(&b, &sims_path)?;
        let cats = text_column(&b, facts::CATEGORY, &sims_path)?;
        let partners = text_column(&b, facts::PARTNER_COUNTRY, &sims_path)?;
        let reasons = text_column(&b, facts::UNCLASSIFIED_REASON, &sims_path)?;
        for i in 0..b.num_rows() {
            let Some(pseudonym) = pseudonyms[i] else {
                continue;
            };
            // A SIM the truth does not list (pilot data where only a sample is matched).
            let Some((true_cat, true_partner, group)) = truth.remove(&pseudonym) else {
                continue;
            };
            let label = cats[i].clone().unwrap_or_else(|| UNCLASSIFIED.to_string());
            if label == true_cat && partners[i] == true_partner {
                eval.partner_right += 1;
            }
            *eval
                .matrix
                .entry((true_cat.clone(), label.clone()))
                .or_default() += 1;
            eval.sims_compared.push(SimOutcome {
                pseudonym,
                true_category: true_cat,
                true_partner,
                category: label,
                partner: partners[i].clone(),
                unclassified_reason: reasons[i].clone(),
                group,
                crossed: crossing.contains(&pseudonym),
            });
        }
    }
    for (true_cat, _, _) in truth.into_values() {
        *eval
            .matrix
            .entry((true_cat, UNSEEN.to_string()))
            .or_default() += 1;
    }
    eval.sims_compared.sort_by_key(|o| o.pseudonym);
    Ok(eval)
}

/// The pseudonyms with at least one crossing in the facts' crossings table.
fn crossing_sims(path: &Path) -> Result<std::collections::BTreeSet<Pseudonym>, EvaluateError> {
    let mut out = std::collections::BTreeSet::new();
    for b in read_table(path)? {
        for p in pseudonyms(&b, path)? {
            out.extend(p);
        }
    }
    Ok(out)
}

/// A facts batch's pseudonym column, row by row (`None` for a value not 16 bytes long).
fn pseudonyms(b: &RecordBatch, path: &Path) -> Result<Vec<Option<Pseudonym>>, EvaluateError> {
    let column = b
        .column_by_name(facts::PSEUDONYM)
        .ok_or_else(|| EvaluateError::Format {
            path: path.to_path_buf(),
            message: "no pseudonym column".into(),
        })?;
    let column = column.as_fixed_size_binary();
    Ok((0..b.num_rows())
        .map(|i| <[u8; 16]>::try_from(column.value(i)).ok().map(Pseudonym))
        .collect())
}

fn read_table(path: &Path) -> Result<Vec<RecordBatch>, EvaluateError> {
    let bad = |message: String| EvaluateError::Format {
        path: path.to_path_buf(),
        message,
    };
    let is_parquet = path.extension().is_some_and(|e| e == "parquet");
    if is_parquet {
        let f = File::open(path).with_path(path)?;
        return ParquetRecordBatchReaderBuilder::try_new(f)
            .and_then(|b| b.build())
            .map_err(|e| bad(e.to_string()))?
            .map(|b| b.map_err(|e| bad(e.to_string())))
            .collect();
    }
    let f = File::open(path).with_path(path)?;
    let format = datafusion::arrow::csv::reader::Format::default().with_header(true);
    let (schema, _) = format
        .infer_schema(File::open(path).with_path(path)?, Some(100))
        .map_err(|e| bad(e.to_string()))?;
    // Every column as text: ids must not turn into numbers.
    let text = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| datafusion::arrow::datatypes::Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    datafusion::arrow::csv::ReaderBuilder::new(text)
        .with_header(true)
        .build(f)
        .map_err(|e| bad(e.to_string()))?
        .map(|b| b.map_err(|e| bad(e.to_string())))
        .collect()
}

/// Each row's group (persona and border effects) when the truth has a `persona` column.
fn groups(b: &RecordBatch, path: &Path) -> Result<Vec<Option<String>>, EvaluateError> {
    if b.column_by_name(truth::PERSONA).is_none() {
        return Ok(vec![None; b.num_rows()]);
    }
    let personas = text_column(b, truth::PERSONA, path)?;
    let effects = match b.column_by_name(truth::EFFECTS) {
        Some(_) => text_column(b, truth::EFFECTS, path)?,
        None => vec![None; b.num_rows()],
    };
    Ok(personas
        .into_iter()
        .zip(effects)
        .map(|(p, e)| {
            p.map(|p| match e {
                Some(e) => format!("{p}+{}", e.replace(',', "+")),
                None => p,
            })
        })
        .collect())
}

fn text_column(
    b: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<Option<String>>, EvaluateError> {
    let bad = |message: String| EvaluateError::Format {
        path: path.to_path_buf(),
        message,
    };
    let col = b
        .column_by_name(name)
        .ok_or_else(|| bad(format!("no column {name}")))?;
    let col = cast(col, &DataType::Utf8).map_err(|e| bad(e.to_string()))?;
    let col = col.as_string::<i32>();
    Ok((0..col.len())
        .map(|i| (col.is_valid(i) && !col.value(i).is_empty()).then(|| col.value(i).to_string()))
        .collect())
}

impl borderflow_core::FailureKind for EvaluateError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            EvaluateError::Io(e) => e.failure(),
            EvaluateError::Format { .. } | EvaluateError::NoPeriod(_) => Failure::Input,
            EvaluateError::Pipeline(e) => e.failure(),
            EvaluateError::Key(e) => e.failure(),
            EvaluateError::Ingest(e) => e.failure(),
            EvaluateError::Classify(e) => e.failure(),
        }
    }
}
