//! Tabulation as a DataFusion plan, so a cluster (Ballista) tabulates the facts where they
//! are and only the exact tables — one count per cell of the public domain — reach the
//! driver, never a SIM's row.
//!
//! The plan ([`tabulate_sql`]) has two levels:
//!
//! 1. both facts files (`sims.parquet` and `crossings.parquet`) as one stream of rows,
//!    grouped by pseudonym: each SIM's row and the list of its crossing pairs, by the
//!    engine's own aggregates after a hash repartition;
//! 2. [`TABULATE`] over those per-SIM rows: each SIM is added with
//!    [`FactTotals::add_sim`], the same rule [`crate::read_facts`] applies, so the same
//!    clamping and the same drop reasons hold on either engine. Its partial states are the
//!    tables themselves (a vector of counts), merged by addition, so a multi-stage
//!    aggregate is exact.
//!
//! The domain (measuring country, code list) and the bounds travel as the function's first
//! argument, a literal JSON text of [`TabulateParams`]: public parameters, nothing secret.
//! What [`crate::read_facts`] refuses (a pseudonym twice in `sims.parquet`, a value that is
//! not a category or a country code) is counted in the state and refused by
//! [`tabulate_facts`] with the same error, naming the file and column, never a value.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use borderflow_core::schema::facts::*;
use borderflow_core::{Category, CountryCode};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use serde::{Deserialize, Serialize};

use crate::facts::{FactTotals, FactsError, SimRow};
use crate::tabulate::Domain;

/// The function's name in SQL and in a serialised plan: executors find it by this name in
/// their function registry.
pub const TABULATE: &str = "borderflow_tabulate";
/// The table name [`tabulate_facts`] registers `sims.parquet` under.
pub const SIMS_TABLE: &str = "facts_sims";
/// The table name [`tabulate_facts`] registers `crossings.parquet` under.
pub const CROSSINGS_TABLE: &str = "facts_crossings";
/// Between the two countries of a pair in the per-SIM list of level 1.
const PAIR_SEPARATOR: char = '>';

/// The domain and bounds of a tabulation: public parameters, carried as a literal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabulateParams {
    /// The measuring country M (alpha-3).
    pub measuring_country: String,
    /// The code list the domain is made of (alpha-3).
    pub countries: Vec<String>,
    /// Crossing cells a SIM may add to at most.
    pub max_pairs: usize,
    /// SIM-days a SIM may add at most.
    pub max_days: u64,
}

impl TabulateParams {
    /// The parameters of a tabulation over the domain of `m` and `countries`.
    pub fn new(m: CountryCode, countries: &[CountryCode], max_pairs: usize, max_days: u64) -> Self {
        Self {
            measuring_country: m.to_string(),
            countries: countries.iter().map(|c| c.to_string()).collect(),
            max_pairs,
            max_days,
        }
    }

    /// The domain they describe.
    pub fn domain(&self) -> std::result::Result<Domain, String> {
        let code = |s: &str| {
            s.parse::<CountryCode>()
                .map_err(|_| format!("{TABULATE}: a country of the domain is not alpha-3"))
        };
        let m = code(&self.measuring_country)?;
        let countries = self
            .countries
            .iter()
            .map(|c| code(c))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Domain::new(m, &countries))
    }

    /// The SQL text of the parameters as a quoted literal.
    fn to_sql(&self) -> String {
        let json = serde_json::to_string(self).expect("tabulation parameters serialise");
        format!("'{}'", json.replace('\'', "''"))
    }
}

/// The SQL that tabulates the facts registered as [`SIMS_TABLE`] and [`CROSSINGS_TABLE`]:
/// one row, one column, the encoded totals ([`decode_totals`]). [`TABULATE`] must be
/// registered in the session ([`tabulate_udaf`]).
pub fn tabulate_sql(params: &TabulateParams) -> String {
    let sep = PAIR_SEPARATOR;
    format!(
        "SELECT {TABULATE}({params}, sims_rows, {CATEGORY}, {PARTNER_COUNTRY}, {OPEN_SPELL},
                           {DAYS_SEEN}, pairs) AS totals
         FROM (
             SELECT {PSEUDONYM},
                    CAST(sum(is_sim) AS BIGINT) AS sims_rows,
                    max({CATEGORY}) AS {CATEGORY},
                    max({PARTNER_COUNTRY}) AS {PARTNER_COUNTRY},
                    bool_or({OPEN_SPELL}) AS {OPEN_SPELL},
                    CAST(max({DAYS_SEEN}) AS BIGINT) AS {DAYS_SEEN},
                    array_agg(pair) AS pairs
             FROM (
                 SELECT {PSEUDONYM}, 1 AS is_sim,
                        CAST({CATEGORY} AS VARCHAR) AS {CATEGORY},
                        CAST({PARTNER_COUNTRY} AS VARCHAR) AS {PARTNER_COUNTRY},
                        {OPEN_SPELL}, CAST({DAYS_SEEN} AS BIGINT) AS {DAYS_SEEN},
                        CAST(NULL AS VARCHAR) AS pair
                 FROM {SIMS_TABLE}
                 UNION ALL
                 SELECT {PSEUDONYM}, 0 AS is_sim,
                        CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
                        CAST(NULL AS BOOLEAN), CAST(NULL AS BIGINT),
                        CAST(coalesce({FROM_COUNTRY}, '') || '{sep}' || coalesce({TO_COUNTRY}, '')
                             AS VARCHAR) AS pair
                 FROM {CROSSINGS_TABLE}
             ) AS fact_rows
             GROUP BY {PSEUDONYM}
         ) AS per_sim",
        params = params.to_sql(),
    )
}

/// Tabulates the facts in `dir` over the domain and bounds of `params` with the session's
/// engine (a cluster's executors, or this process): the same [`FactTotals`] as
/// [`crate::read_facts`], and the same refusals.
pub async fn tabulate_facts(
    ctx: &SessionContext,
    dir: &Path,
    params: &TabulateParams,
) -> std::result::Result<FactTotals, FactsError> {
    let sims_path = dir.join(SIMS_FILE);
    let crossings_path = dir.join(CROSSINGS_FILE);
    let query = |source: DataFusionError| FactsError::Query {
        dir: dir.to_path_buf(),
        source,
    };
    let domain = params
        .domain()
        .map_err(|e| query(DataFusionError::Plan(e)))?;
    if datafusion::execution::FunctionRegistry::udaf(ctx, TABULATE).is_err() {
        ctx.register_udaf(tabulate_udaf());
    }
    for (table, path) in [(SIMS_TABLE, &sims_path), (CROSSINGS_TABLE, &crossings_path)] {
        // A file that is not there is named by its path, as the local reader names it.
        std::fs::metadata(path)
            .map_err(|e| FactsError::Io(borderflow_core::PathError::new(path, e)))?;
        ctx.deregister_table(table).map_err(query)?;
        ctx.register_parquet(
            table,
            &path.display().to_string(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(query)?;
    }
    let batches: Vec<RecordBatch> = ctx
        .sql(&tabulate_sql(params))
        .await
        .map_err(query)?
        .collect()
        .await
        .map_err(query)?;
    let bytes = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_binary::<i32>().value(0).to_vec())
        .unwrap_or_default();
    let (totals, refused) = if bytes.is_empty() {
        // No row at all: empty facts files.
        (FactTotals::new(&domain), Refused::default())
    } else {
        decode_totals(&bytes, &domain).map_err(|e| query(DataFusionError::Execution(e)))?
    };
    if refused.duplicate_sims > 0 {
        return Err(FactsError::DuplicateSim { path: sims_path });
    }
    for (n, path, column) in [
        (refused.from_country, &crossings_path, FROM_COUNTRY),
        (refused.to_country, &crossings_path, TO_COUNTRY),
        (refused.category, &sims_path, CATEGORY),
        (refused.partner, &sims_path, PARTNER_COUNTRY),
    ] {
        if n > 0 {
            return Err(FactsError::Column {
                path: path.clone(),
                column,
            });
        }
    }
    Ok(totals)
}

/// What [`crate::read_facts`] refuses, counted by the aggregate instead (an executor cannot
/// name the driver's files) and refused by [`tabulate_facts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refused {
    /// Pseudonyms with more than one row in `sims.parquet`.
    pub duplicate_sims: u64,
    /// Crossing rows whose `from_country` is not an alpha-3 code.
    pub from_country: u64,
    /// Crossing rows whose `to_country` is not an alpha-3 code.
    pub to_country: u64,
    /// Categories that are not category codes.
    pub category: u64,
    /// Partner countries that are not alpha-3 codes.
    pub partner: u64,
}

/// `borderflow_tabulate(params, sims_rows, category, partner_country, open_spell, days_seen,
/// pairs)`: the exact tables of every SIM it is given, encoded ([`decode_totals`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Tabulate {
    signature: Signature,
}

impl Default for Tabulate {
    fn default() -> Self {
        Self {
            signature: Signature::any(7, Volatility::Immutable),
        }
    }
}

/// The function, ready to register in a session or an executor's function registry.
pub fn tabulate_udaf() -> AggregateUDF {
    AggregateUDF::from(Tabulate::default())
}

impl AggregateUDFImpl for Tabulate {
    fn name(&self) -> &str {
        TABULATE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let Some(literal) = args.exprs.first().and_then(|e| e.downcast_ref::<Literal>()) else {
            return exec_err!("{TABULATE}: the first argument must be the parameters' literal");
        };
        let text: &str = match literal.value() {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s.as_ref(),
            other => return exec_err!("{TABULATE}: parameters are {other:?}, not text"),
        };
        let params: TabulateParams = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => return exec_err!("{TABULATE}: parameters: {e}"),
        };
        let domain = params.domain().map_err(DataFusionError::Execution)?;
        Ok(Box::new(TablesAccumulator {
            totals: FactTotals::new(&domain),
            refused: Refused::default(),
            domain: Arc::new(domain),
            params,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[totals]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

/// The tables of the SIMs seen so far.
#[derive(Debug)]
struct TablesAccumulator {
    params: TabulateParams,
    domain: Arc<Domain>,
    totals: FactTotals,
    refused: Refused,
}

fn utf8(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(a, &DataType::Utf8)?)
}

impl TablesAccumulator {
    /// One SIM of level 1: its rows in `sims.parquet`, its facts and its pairs.
    fn add(
        &mut self,
        sims_rows: i64,
        category: Option<&str>,
        partner: Option<&str>,
        open_spell: bool,
        days_seen: i64,
        pairs: &[Option<&str>],
    ) {
        let mut crossed = Vec::with_capacity(pairs.len());
        for pair in pairs.iter().flatten() {
            let (from, to) = pair.split_once(PAIR_SEPARATOR).unwrap_or((pair, ""));
            match (from.parse::<CountryCode>(), to.parse::<CountryCode>()) {
                (Ok(a), Ok(b)) => crossed.push((a, b)),
                (Err(_), _) => self.refused.from_country += 1,
                (_, Err(_)) => self.refused.to_country += 1,
            }
        }
        match sims_rows {
            // Crossings of a SIM not in `sims.parquet` (history only): not counted.
            0 => return,
            1 => {}
            _ => {
                self.refused.duplicate_sims += 1;
                return;
            }
        }
        let days_seen = u64::try_from(days_seen).unwrap_or(0);
        if days_seen == 0 {
            return;
        }
        let category = match category.map(str::parse::<Category>) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(_)) => {
                self.refused.category += 1;
                return;
            }
        };
        let partner = match partner.map(str::parse::<CountryCode>) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(_)) => {
                self.refused.partner += 1;
                return;
            }
        };
        let row = SimRow {
            category,
            partner,
            open_spell,
            days_seen,
        };
        self.totals.add_sim(
            &self.domain,
            &row,
            &crossed,
            self.params.max_pairs,
            self.params.max_days,
        );
    }
}

impl Accumulator for TablesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [_, sims_rows, category, partner, open, days, pairs] = values else {
            return exec_err!("{TABULATE}: takes 7 arguments");
        };
        let sims_rows = cast(sims_rows, &DataType::Int64)?;
        let sims_rows = sims_rows.as_primitive::<Int64Type>();
        let days = cast(days, &DataType::Int64)?;
        let days = days.as_primitive::<Int64Type>();
        let category = utf8(category)?;
        let category = category.as_string::<i32>();
        let partner = utf8(partner)?;
        let partner = partner.as_string::<i32>();
        let open = cast(open, &DataType::Boolean)?;
        let open = open.as_boolean();
        let pairs = cast(
            pairs,
            &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        )?;
        let pairs = pairs.as_list::<i32>();
        fn text(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
            a.is_valid(i).then(|| a.value(i))
        }
        for i in 0..sims_rows.len() {
            let list: Vec<Option<&str>> = if pairs.is_valid(i) {
                let offsets = pairs.value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let values = pairs.values().as_string::<i32>();
                (start..end).map(|j| text(values, j)).collect()
            } else {
                Vec::new()
            };
            self.add(
                if sims_rows.is_valid(i) {
                    sims_rows.value(i)
                } else {
                    0
                },
                text(category, i),
                text(partner, i),
                open.is_valid(i) && open.value(i),
                if days.is_valid(i) { days.value(i) } else { 0 },
                &list,
            );
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(encode_totals(
            &self.totals,
            &self.refused,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + 8 * (self.totals.tables.categories.len() + self.totals.tables.crossings.len())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return exec_err!("{TABULATE}: a state without its totals");
        };
        let states = states.as_binary::<i32>();
        for i in 0..states.len() {
            if states.is_null(i) {
                continue;
            }
            let (totals, refused) =
                decode_totals(states.value(i), &self.domain).map_err(DataFusionError::Execution)?;
            self.totals.absorb(&totals);
            self.refused.duplicate_sims += refused.duplicate_sims;
            self.refused.from_country += refused.from_country;
            self.refused.to_country += refused.to_country;
            self.refused.category += refused.category;
            self.refused.partner += refused.partner;
        }
        Ok(())
    }
}

/// The drop reasons of [`FactTotals::dropped`], in the encoding's order.
const DROP_REASONS: [&str; 3] = ["too_many_pairs", "unknown_country", "bad_partner"];
/// Counts before the cells: unclassified, SIMs, open spells, SIM-days, the three drop
/// reasons, and the five [`Refused`] counts.
const HEAD: usize = 4 + DROP_REASONS.len() + 5;

/// The totals as little-endian `u64`s: the head's counts (unclassified, SIMs, open spells,
/// SIM-days, the three drop reasons and the five [`Refused`] counts), then the `categories`
/// cells and the `crossings` cells in the domain's order.
pub fn encode_totals(t: &FactTotals, refused: &Refused) -> Vec<u8> {
    let mut words = vec![t.tables.unclassified, t.sims, t.open_spells, t.sim_days];
    words.extend(
        DROP_REASONS
            .iter()
            .map(|r| t.dropped.get(*r).copied().unwrap_or(0)),
    );
    words.extend([
        refused.duplicate_sims,
        refused.from_country,
        refused.to_country,
        refused.category,
        refused.partner,
    ]);
    words.extend(&t.tables.categories);
    words.extend(&t.tables.crossings);
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The totals [`encode_totals`] wrote, over `domain`; a length that does not fit the
/// domain is refused.
pub fn decode_totals(
    bytes: &[u8],
    domain: &Domain,
) -> std::result::Result<(FactTotals, Refused), String> {
    let (n_cat, n_x) = (domain.categories.len(), domain.crossings.len());
    if bytes.len() != 8 * (HEAD + n_cat + n_x) {
        return Err(format!(
            "{TABULATE}: totals of {} bytes do not fit a domain of {} cells",
            bytes.len(),
            n_cat + n_x
        ));
    }
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let mut t = FactTotals::new(domain);
    t.tables.unclassified = words[0];
    t.sims = words[1];
    t.open_spells = words[2];
    t.sim_days = words[3];
    for (k, reason) in DROP_REASONS.iter().enumerate() {
        if words[4 + k] > 0 {
            t.dropped.insert(reason.to_string(), words[4 + k]);
        }
    }
    let r = 4 + DROP_REASONS.len();
    let refused = Refused {
        duplicate_sims: words[r],
        from_country: words[r + 1],
        to_country: words[r + 2],
        category: words[r + 3],
        partner: words[r + 4],
    };
    t.tables
        .categories
        .copy_from_slice(&words[HEAD..HEAD + n_cat]);
    t.tables.crossings.copy_from_slice(&words[HEAD + n_cat..]);
    Ok((t, refused))
}
