//! The classification as a DataFusion aggregate function, `classify_sim`: grouped by
//! pseudonym, it gathers one SIM's [`CountryDay`] rows wherever the engine sends them and
//! returns that SIM's [`SimFacts`] as a struct. A cluster (Ballista) runs it on its executors
//! after a hash repartition by pseudonym, so only per-SIM facts — a few dozen bytes a SIM —
//! reach the driver, never the presence rows.
//!
//! The rules travel in the plan as the function's first argument, a literal JSON text of
//! [`ClassifyParams`] (measuring country, window, rules: nothing secret); every other argument
//! is a column of [`crate::plan::window_rows_sql`]. Partial states are the SIM's rows, encoded
//! compactly ([`ROW_BYTES`] bytes each), so a multi-stage aggregate merges them exactly. The
//! rows are sorted by day and country before [`classify`] sees them: the order the local
//! engine's scan gives, so both engines conclude the same facts for every SIM.

use std::sync::Arc;

use borderflow_core::schema::facts::{
    CATEGORY, DAYS_SEEN, FROM_COUNTRY, NIGHTS_IN_M, OPEN_SPELL, PARTNER_COUNTRY, RESIDENCE,
    SIM_COUNTRY, TO_COUNTRY, UNCLASSIFIED_REASON,
};
use borderflow_core::{Category, CountryCode, Unclassified};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int32Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use serde::{Deserialize, Serialize};

use crate::classify::{SimFacts, classify};
use crate::codec::{FactsColumns, crossing_item};
use crate::row::PresenceRow;
use crate::rules::Rules;
use crate::sim::{CountryDay, SimDays, Window};

/// The function's name in SQL and in a serialised plan: executors find it by this name in
/// their function registry.
pub const CLASSIFY_SIM: &str = "borderflow_classify_sim";
pub use crate::codec::CROSSINGS;
/// Bytes of one encoded row in a partial state.
pub const ROW_BYTES: usize = 2 + 3 + 4 * 3 + 2 * 2;

/// What the function needs besides a SIM's rows: the measuring country, the window and the
/// rules. Public parameters, carried as a literal in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyParams {
    /// The measuring country M (alpha-3).
    pub measuring_country: String,
    /// The window the rows' day indices count in.
    pub window: Window,
    /// The classification rules.
    pub rules: Rules,
}

impl ClassifyParams {
    /// The literal the plan carries.
    pub fn to_literal(&self) -> String {
        serde_json::to_string(self).expect("classification parameters serialise")
    }
}

/// The SQL text of `params` as a quoted literal.
pub fn params_sql(params: &ClassifyParams) -> String {
    format!("'{}'", params.to_literal().replace('\'', "''"))
}

/// The type of the facts the function returns: the columns of
/// [`borderflow_core::schema::facts_sims_schema`] after the pseudonym, and the crossings.
pub fn facts_type() -> DataType {
    DataType::Struct(facts_fields())
}

/// The facts schema's columns after the pseudonym, then the crossings: one contract for
/// the facts files and the facts a cluster returns.
fn facts_fields() -> Fields {
    let sims = borderflow_core::schema::facts_sims_schema();
    let mut fields: Vec<FieldRef> = sims
        .fields()
        .iter()
        .filter(|f| f.name() != borderflow_core::schema::facts::PSEUDONYM)
        .cloned()
        .collect();
    fields.push(Arc::new(Field::new(
        CROSSINGS,
        DataType::List(crossing_item()),
        false,
    )));
    Fields::from(fields)
}

/// `classify_sim(params, sim_country, country, events, night_events, weekday_day_events,
/// first_minute, last_minute, day)`: one SIM's facts.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClassifySim {
    signature: Signature,
}

impl Default for ClassifySim {
    fn default() -> Self {
        Self {
            signature: Signature::any(9, Volatility::Immutable),
        }
    }
}

/// The function, ready to register in a session or an executor's function registry.
pub fn classify_sim() -> AggregateUDF {
    AggregateUDF::from(ClassifySim::default())
}

impl AggregateUDFImpl for ClassifySim {
    fn name(&self) -> &str {
        CLASSIFY_SIM
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(facts_type())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let Some(literal) = args.exprs.first().and_then(|e| e.downcast_ref::<Literal>()) else {
            return exec_err!("{CLASSIFY_SIM}: the first argument must be the parameters' literal");
        };
        let text: &str = match literal.value() {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s.as_ref(),
            other => return exec_err!("{CLASSIFY_SIM}: parameters are {other:?}, not text"),
        };
        let params: ClassifyParams = match serde_json::from_str(text) {
            Ok(p) => p,
            Err(e) => return exec_err!("{CLASSIFY_SIM}: parameters: {e}"),
        };
        let m: CountryCode = match params.measuring_country.parse() {
            Ok(m) => m,
            Err(_) => return exec_err!("{CLASSIFY_SIM}: measuring country is not alpha-3"),
        };
        Ok(Box::new(SimAccumulator {
            m,
            window: params.window,
            rules: Arc::new(params.rules),
            sim_country: None,
            rows: Vec::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[rows]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

/// One SIM's rows so far.
#[derive(Debug)]
struct SimAccumulator {
    m: CountryCode,
    window: Window,
    rules: Arc<Rules>,
    sim_country: Option<CountryCode>,
    rows: Vec<CountryDay>,
}

fn country(s: &str, what: &str) -> Result<CountryCode> {
    match s.parse() {
        Ok(c) => Ok(c),
        // The value is a code the store wrote, never a subscriber's id; it is still left out.
        Err(_) => exec_err!("{CLASSIFY_SIM}: {what} is not an alpha-3 country code"),
    }
}

fn int_column(a: &ArrayRef) -> Result<Int32Array> {
    Ok(cast(a, &DataType::Int32)?
        .as_primitive::<Int32Type>()
        .clone())
}

impl SimAccumulator {
    fn set_sim_country(&mut self, c: CountryCode) -> Result<()> {
        match self.sim_country {
            Some(s) if s != c => exec_err!("{CLASSIFY_SIM}: one pseudonym under two SIM countries"),
            _ => {
                self.sim_country = Some(c);
                Ok(())
            }
        }
    }
}

impl Accumulator for SimAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [_, sim_country, country_col, ints @ ..] = values else {
            return exec_err!("{CLASSIFY_SIM}: takes 9 arguments");
        };
        let [events, night, weekday_day, first, last, day] = ints else {
            return exec_err!("{CLASSIFY_SIM}: takes 9 arguments");
        };
        let sim_country = cast(sim_country, &DataType::Utf8)?;
        let sim_country = sim_country.as_string::<i32>();
        let country_col = cast(country_col, &DataType::Utf8)?;
        let country_col = country_col.as_string::<i32>();
        let (events, night, weekday_day) = (
            int_column(events)?,
            int_column(night)?,
            int_column(weekday_day)?,
        );
        let (first, last, day) = (int_column(first)?, int_column(last)?, int_column(day)?);
        for i in 0..sim_country.len() {
            self.set_sim_country(country(sim_country.value(i), "sim_country")?)?;
            let v = |a: &Int32Array| if a.is_null(i) { -1 } else { a.value(i) };
            let row = PresenceRow {
                country: crate::row::country(country_col.value(i), "country")
                    .or_else(|e| exec_err!("{CLASSIFY_SIM}: {e}"))?,
                events: v(&events),
                night_events: v(&night),
                weekday_day_events: v(&weekday_day),
                first_minute: v(&first),
                last_minute: v(&last),
                day: v(&day),
            }
            .check(self.window)
            .or_else(|e| exec_err!("{CLASSIFY_SIM}: {e}"))?;
            self.rows.push(row);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(sim_country) = self.sim_country else {
            return exec_err!("{CLASSIFY_SIM}: a group without rows");
        };
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| (a.day, a.country.as_str()).cmp(&(b.day, b.country.as_str())));
        let facts = classify(
            &SimDays { sim_country, rows },
            self.m,
            self.window,
            &self.rules,
        );
        Ok(ScalarValue::Struct(Arc::new(facts_array(&facts))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.capacity() * std::mem::size_of::<CountryDay>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut bytes = Vec::with_capacity(3 + self.rows.len() * ROW_BYTES);
        if let Some(c) = self.sim_country {
            bytes.extend_from_slice(c.as_str().as_bytes());
            for r in &self.rows {
                encode(r, &mut bytes);
            }
        }
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return exec_err!("{CLASSIFY_SIM}: a state without its rows");
        };
        let states = states.as_binary::<i32>();
        for i in 0..states.len() {
            if states.is_null(i) || states.value(i).is_empty() {
                continue;
            }
            let b = states.value(i);
            if b.len() < 3 || (b.len() - 3) % ROW_BYTES != 0 {
                return exec_err!("{CLASSIFY_SIM}: a partial state of {} bytes", b.len());
            }
            let c = std::str::from_utf8(&b[..3]).unwrap_or("");
            self.set_sim_country(country(c, "sim_country")?)?;
            for chunk in b[3..].chunks_exact(ROW_BYTES) {
                self.rows.push(decode(chunk)?);
            }
        }
        Ok(())
    }
}

fn encode(r: &CountryDay, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.day.to_le_bytes());
    out.extend_from_slice(r.country.as_str().as_bytes());
    for v in [r.events, r.night_events, r.weekday_day_events] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [r.first_minute, r.last_minute] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn decode(b: &[u8]) -> Result<CountryDay> {
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    Ok(CountryDay {
        day: u16_at(0),
        country: country(std::str::from_utf8(&b[2..5]).unwrap_or(""), "country")?,
        events: u32_at(5),
        night_events: u32_at(9),
        weekday_day_events: u32_at(13),
        first_minute: u16_at(17),
        last_minute: u16_at(19),
    })
}

/// One SIM's facts as a struct array of one row, of [`facts_type`].
pub fn facts_array(f: &SimFacts) -> StructArray {
    let mut columns = FactsColumns::default();
    columns.push(f);
    let fields = facts_fields();
    let arrays = columns.finish(&fields);
    StructArray::new(fields, arrays, None)
}

/// The facts of row `i` of a struct column of [`facts_type`], as [`SimFacts`] again.
pub fn facts_at(a: &StructArray, i: usize) -> std::result::Result<SimFacts, String> {
    let text = |name: &str| -> std::result::Result<Option<String>, String> {
        let c = a
            .column_by_name(name)
            .ok_or_else(|| format!("facts without {name}"))?;
        let c = cast(c, &DataType::Utf8).map_err(|e| e.to_string())?;
        let c = c.as_string::<i32>();
        Ok((!c.is_null(i)).then(|| c.value(i).to_string()))
    };
    let code = |name: &str| -> std::result::Result<Option<CountryCode>, String> {
        text(name)?
            .map(|s| s.parse().map_err(|_| format!("{name} is not alpha-3")))
            .transpose()
    };
    let int = |name: &str| -> std::result::Result<u16, String> {
        let c = a
            .column_by_name(name)
            .ok_or_else(|| format!("facts without {name}"))?;
        u16::try_from(c.as_primitive::<Int32Type>().value(i)).map_err(|e| e.to_string())
    };
    let required = |v: Option<CountryCode>, name: &str| v.ok_or_else(|| format!("{name} is null"));
    let open = a
        .column_by_name(OPEN_SPELL)
        .ok_or("facts without open_spell")?
        .as_boolean()
        .value(i);
    let list = a
        .column_by_name(CROSSINGS)
        .ok_or("facts without crossings")?
        .as_list::<i32>()
        .value(i);
    let pairs = list.as_struct();
    let side = |name: &str| -> std::result::Result<Vec<CountryCode>, String> {
        let c = pairs
            .column_by_name(name)
            .ok_or_else(|| format!("crossings without {name}"))?;
        let c = cast(c, &DataType::Utf8).map_err(|e| e.to_string())?;
        c.as_string::<i32>()
            .iter()
            .map(|s| {
                s.unwrap_or("")
                    .parse()
                    .map_err(|_| format!("{name} is not alpha-3"))
            })
            .collect()
    };
    let category = text(CATEGORY)?
        .map(|s| s.parse::<Category>().map_err(|e| e.to_string()))
        .transpose()?;
    let unclassified = text(UNCLASSIFIED_REASON)?
        .map(|s| s.parse::<Unclassified>().map_err(|e| e.to_string()))
        .transpose()?;
    Ok(SimFacts {
        category,
        unclassified,
        partner: code(PARTNER_COUNTRY)?,
        sim_country: required(code(SIM_COUNTRY)?, SIM_COUNTRY)?,
        residence: required(code(RESIDENCE)?, RESIDENCE)?,
        nights_in_m: int(NIGHTS_IN_M)?,
        days_seen: int(DAYS_SEEN)?,
        open_spell: open,
        crossings: side(FROM_COUNTRY)?
            .into_iter()
            .zip(side(TO_COUNTRY)?)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_survives_its_partial_state_byte_for_byte() {
        let row = CountryDay {
            day: 400,
            country: "UGA".parse().unwrap(),
            events: 70_000,
            night_events: 3,
            weekday_day_events: 65_535,
            first_minute: 1,
            last_minute: 1439,
        };
        let mut b = Vec::new();
        encode(&row, &mut b);
        assert_eq!(b.len(), ROW_BYTES);
        assert_eq!(decode(&b).unwrap(), row);
    }

    #[test]
    fn a_malformed_partial_state_is_an_error_not_a_panic() {
        use datafusion::arrow::array::BinaryArray;
        let mut acc = SimAccumulator {
            m: "KEN".parse().unwrap(),
            window: Window {
                history: 0,
                lookback: 365,
                period: 365,
                first_weekday: 2,
            },
            rules: Arc::new(Rules::default()),
            sim_country: None,
            rows: Vec::new(),
        };
        for bad in [&b"KE"[..], &[b'K'; 3 + ROW_BYTES - 1][..]] {
            let state: ArrayRef = Arc::new(BinaryArray::from(vec![bad]));
            let err = acc.merge_batch(&[state]).unwrap_err().to_string();
            assert!(err.contains("a partial state of"), "{err}");
        }
        // Two SIM countries under one pseudonym cannot be one SIM.
        let mut two = Vec::new();
        for c in ["KEN", "UGA"] {
            let mut b = c.as_bytes().to_vec();
            encode(
                &CountryDay {
                    day: 0,
                    country: "KEN".parse().unwrap(),
                    events: 1,
                    night_events: 0,
                    weekday_day_events: 0,
                    first_minute: 0,
                    last_minute: 0,
                },
                &mut b,
            );
            two.push(b);
        }
        let state: ArrayRef = Arc::new(BinaryArray::from(
            two.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        ));
        let err = acc.merge_batch(&[state]).unwrap_err().to_string();
        assert!(err.contains("two SIM countries"), "{err}");
    }

    #[test]
    fn facts_survive_the_struct_they_travel_in() {
        let ken: CountryCode = "KEN".parse().unwrap();
        let uga: CountryCode = "UGA".parse().unwrap();
        let facts = SimFacts {
            category: Some(Category::FrontierIn),
            unclassified: None,
            partner: Some(uga),
            sim_country: uga,
            residence: uga,
            nights_in_m: 0,
            days_seen: 211,
            open_spell: true,
            crossings: vec![(uga, ken), (ken, uga)],
        };
        let a = facts_array(&facts);
        assert_eq!(a.data_type(), &facts_type());
        assert_eq!(facts_at(&a, 0).unwrap(), facts);
        let sparse = SimFacts {
            category: None,
            unclassified: Some(Unclassified::LongSilence),
            partner: None,
            crossings: vec![],
            ..facts
        };
        assert_eq!(facts_at(&facts_array(&sparse), 0).unwrap(), sparse);
    }
}
