//! Column expressions: how one canonical column is made from an operator's columns when a
//! rename is not enough (docs/ingest.md, "Column expressions").
//!
//! A small closed set of forms, written in `[input.columns]`:
//!
//! | form | reads |
//! |---|---|
//! | `"msisdn"` or `{ column = "msisdn" }` | a column as it is (integers and booleans as text) |
//! | `{ hex = "user_id" }` | a binary column as lower-case hex (MultiMNO's SHA-256 ids) |
//! | `{ concat = ["mcc", "mnc"] }` | columns joined as text, leading zeros kept; null if any part is |
//! | `{ value = "63902" }` | a constant |
//!
//! and two modifiers on any of them, applied in this order: `map = { "true" = "call_out" }`
//! replaces listed values (others pass as they are), `default = "63902"` fills a null or empty
//! value. A column name may also be a Hive partition key of the file's folders
//! (`…/year=2023/month=1/…`): its value is the folder's.
//!
//! A closed set rather than SQL: each form is checked before any file is read, errors name
//! the `input.columns` key, and no form can read another row or drop one, so the row-exact
//! quarantine and reconciliation hold whatever the mapping.

use std::collections::BTreeMap;
use std::fmt;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, FixedSizeBinaryArray, LargeBinaryArray,
    StringViewArray, StringViewBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

/// How one canonical column is made: a source and its modifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnExpr {
    /// Where the values come from.
    pub source: Source,
    /// Values replaced by others (applied before `default`); values not listed pass.
    pub map: BTreeMap<String, String>,
    /// The value of rows whose value is null or empty.
    pub default: Option<String>,
}

/// Where a canonical column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A column as it is.
    Column(String),
    /// A binary column as lower-case hex.
    Hex(String),
    /// Columns joined as text.
    Concat(Vec<String>),
    /// A constant.
    Value(String),
}

impl ColumnExpr {
    /// A plain rename: the column `name` as it is.
    pub fn column(name: &str) -> Self {
        Self {
            source: Source::Column(name.to_string()),
            map: BTreeMap::new(),
            default: None,
        }
    }

    /// A binary column as lower-case hex.
    pub fn hex(name: &str) -> Self {
        Self {
            source: Source::Hex(name.to_string()),
            ..Self::column(name)
        }
    }

    /// Columns joined as text.
    pub fn concat(names: &[&str]) -> Self {
        Self {
            source: Source::Concat(names.iter().map(|n| n.to_string()).collect()),
            ..Self::column("")
        }
    }

    /// A constant.
    pub fn value(v: &str) -> Self {
        Self {
            source: Source::Value(v.to_string()),
            map: BTreeMap::new(),
            default: None,
        }
    }

    /// This expression with nulls and empty values replaced by `v`.
    pub fn or(mut self, v: &str) -> Self {
        self.default = Some(v.to_string());
        self
    }

    /// The column it reads as it is, for a plain rename (no modifier).
    pub fn plain_column(&self) -> Option<&str> {
        match &self.source {
            Source::Column(c) if self.map.is_empty() && self.default.is_none() => Some(c),
            _ => None,
        }
    }

    /// The names of the columns it reads (none for a constant).
    pub fn columns(&self) -> Vec<&str> {
        match &self.source {
            Source::Column(c) | Source::Hex(c) => vec![c.as_str()],
            Source::Concat(parts) => parts.iter().map(String::as_str).collect(),
            Source::Value(_) => Vec::new(),
        }
    }

    /// Checks the form for canonical column `key`; the message names `input.columns.{key}`.
    pub fn check(&self, key: &str) -> Result<(), String> {
        let at = format!("input.columns.{key}");
        if self.columns().iter().any(|c| c.trim().is_empty()) {
            return Err(format!("{at}: a column name is empty"));
        }
        match &self.source {
            Source::Concat(parts) if parts.len() < 2 => {
                return Err(format!("{at}: concat needs at least two columns"));
            }
            Source::Value(_) if key == borderflow_core::schema::event::SUBSCRIBER_ID => {
                return Err(format!(
                    "{at}: a constant subscriber id would make every row one SIM"
                ));
            }
            Source::Value(_) if key == borderflow_core::schema::event::EVENT_TIME => {
                return Err(format!("{at}: a constant event time cannot be right"));
            }
            _ => {}
        }
        if self.map.keys().any(String::is_empty) {
            return Err(format!(
                "{at}: map has an empty key (use default for empty values)"
            ));
        }
        Ok(())
    }
}

/// The TOML form, as `validate` prints the resolved mapping.
impl fmt::Display for ColumnExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.plain_column() {
            return write!(f, "{c:?}");
        }
        let mut parts = vec![match &self.source {
            Source::Column(c) => format!("column = {c:?}"),
            Source::Hex(c) => format!("hex = {c:?}"),
            Source::Concat(cs) => format!(
                "concat = [{}]",
                cs.iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Source::Value(v) => format!("value = {v:?}"),
        }];
        if !self.map.is_empty() {
            let pairs: Vec<String> = self
                .map
                .iter()
                .map(|(k, v)| format!("{k:?} = {v:?}"))
                .collect();
            parts.push(format!("map = {{ {} }}", pairs.join(", ")));
        }
        if let Some(d) = &self.default {
            parts.push(format!("default = {d:?}"));
        }
        write!(f, "{{ {} }}", parts.join(", "))
    }
}

/// The table form as written in TOML (exactly one source key).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    concat: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    map: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Name(String),
    Table(Written),
}

impl<'de> Deserialize<'de> for ColumnExpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = match Either::deserialize(d).map_err(|_| {
            D::Error::custom(
                "a column expression is a column name or a table with one of column, hex, concat, value (and optionally map, default)",
            )
        })? {
            Either::Name(n) => return Ok(ColumnExpr::column(&n)),
            Either::Table(w) => w,
        };
        let mut sources = Vec::new();
        if let Some(c) = w.column {
            sources.push(Source::Column(c));
        }
        if let Some(c) = w.hex {
            sources.push(Source::Hex(c));
        }
        if let Some(c) = w.concat {
            sources.push(Source::Concat(c));
        }
        if let Some(v) = w.value {
            sources.push(Source::Value(v));
        }
        if sources.len() != 1 {
            return Err(D::Error::custom(
                "a column expression needs exactly one of column, hex, concat, value",
            ));
        }
        Ok(ColumnExpr {
            source: sources.pop().expect("one"),
            map: w.map,
            default: w.default,
        })
    }
}

/// A plain rename serialises as the name alone, so the configuration digest of a pipeline
/// that only renames is what it was before expressions existed.
impl Serialize for ColumnExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Some(c) = self.plain_column() {
            return s.serialize_str(c);
        }
        let mut w = Written {
            map: self.map.clone(),
            default: self.default.clone(),
            ..Written::default()
        };
        match &self.source {
            Source::Column(c) => w.column = Some(c.clone()),
            Source::Hex(c) => w.hex = Some(c.clone()),
            Source::Concat(cs) => w.concat = Some(cs.clone()),
            Source::Value(v) => w.value = Some(v.clone()),
        }
        w.serialize(s)
    }
}

/// Where an expression's column is found in a file: a column of its batches, or the value
/// of a Hive partition key in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// Index in the batches read.
    Batch(usize),
    /// The partition's value, the same for every row.
    Partition(String),
}

/// A [`ColumnExpr`] bound to one file: its columns found.
#[derive(Debug, Clone)]
pub struct BoundExpr {
    source: BoundSource,
    map: BTreeMap<String, String>,
    default: Option<String>,
}

#[derive(Debug, Clone)]
enum BoundSource {
    Column(Operand),
    Hex(Operand),
    Concat(Vec<Operand>),
    Value(String),
}

/// Why a batch's column could not be evaluated: the message says which form and type.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl BoundExpr {
    /// Binds `expr` with `find` telling where each column it reads is; `None` when a column
    /// is in neither the file nor its partitions (the name is returned).
    pub fn bind(expr: &ColumnExpr, find: impl Fn(&str) -> Option<Operand>) -> Result<Self, String> {
        let one = |c: &String| find(c).ok_or_else(|| c.clone());
        let source = match &expr.source {
            Source::Column(c) => BoundSource::Column(one(c)?),
            Source::Hex(c) => BoundSource::Hex(one(c)?),
            Source::Concat(cs) => {
                BoundSource::Concat(cs.iter().map(one).collect::<Result<_, _>>()?)
            }
            Source::Value(v) => BoundSource::Value(v.clone()),
        };
        Ok(Self {
            source,
            map: expr.map.clone(),
            default: expr.default.clone(),
        })
    }

    /// The batch column read as it is (a plain rename of a file column), whose type the
    /// reader may use as it is (typed event times).
    pub fn as_is(&self) -> Option<usize> {
        match (&self.source, self.map.is_empty() && self.default.is_none()) {
            (BoundSource::Column(Operand::Batch(i)), true) => Some(*i),
            _ => None,
        }
    }

    /// The values of `rows` rows of `columns` (a batch's) as text.
    pub fn text(&self, columns: &[ArrayRef], rows: usize) -> Result<StringViewArray, EvalError> {
        let base = match &self.source {
            BoundSource::Column(o) => operand_text(o, columns, rows)?,
            BoundSource::Hex(o) => match o {
                Operand::Batch(i) => hex_of(&columns[*i])?,
                Operand::Partition(_) => {
                    return Err(EvalError(
                        "hex reads a binary column, not a folder name".into(),
                    ));
                }
            },
            BoundSource::Concat(parts) => {
                let parts: Vec<StringViewArray> = parts
                    .iter()
                    .map(|o| operand_text(o, columns, rows))
                    .collect::<Result<_, _>>()?;
                let mut b = StringViewBuilder::with_capacity(rows);
                let mut s = String::new();
                for r in 0..rows {
                    if parts.iter().any(|p| p.is_null(r)) {
                        b.append_null();
                        continue;
                    }
                    s.clear();
                    for p in &parts {
                        s.push_str(p.value(r).trim());
                    }
                    b.append_value(&s);
                }
                b.finish()
            }
            BoundSource::Value(v) => constant(v, rows),
        };
        if self.map.is_empty() && self.default.is_none() {
            return Ok(base);
        }
        let mut b = StringViewBuilder::with_capacity(rows);
        for r in 0..rows {
            let v = (!base.is_null(r)).then(|| base.value(r));
            let v = v.map(|v| self.map.get(v.trim()).map_or(v, String::as_str));
            match (v, &self.default) {
                (Some(v), Some(d)) if v.trim().is_empty() => b.append_value(d),
                (None, Some(d)) => b.append_value(d),
                (v, _) => b.append_option(v),
            }
        }
        Ok(b.finish())
    }
}

fn constant(v: &str, rows: usize) -> StringViewArray {
    let mut b = StringViewBuilder::with_capacity(rows);
    for _ in 0..rows {
        b.append_value(v);
    }
    b.finish()
}

/// A column as text: text as it is, integers and booleans in their usual spelling.
fn operand_text(
    o: &Operand,
    columns: &[ArrayRef],
    rows: usize,
) -> Result<StringViewArray, EvalError> {
    let a = match o {
        Operand::Partition(v) => return Ok(constant(v, rows)),
        Operand::Batch(i) => &columns[*i],
    };
    if is_binary(a.data_type()) {
        return Err(EvalError(format!(
            "the column is {}: read it with {{ hex = … }}",
            a.data_type()
        )));
    }
    let text = match a.data_type() {
        DataType::Utf8View => a.clone(),
        DataType::Boolean => cast(
            &cast(a, &DataType::Utf8).map_err(eval)?,
            &DataType::Utf8View,
        )
        .map_err(eval)?,
        _ => cast(a, &DataType::Utf8View).map_err(eval)?,
    };
    Ok(text
        .as_any()
        .downcast_ref::<StringViewArray>()
        .expect("cast to Utf8View")
        .clone())
}

fn eval(e: arrow::error::ArrowError) -> EvalError {
    EvalError(e.to_string())
}

/// Whether a type holds bytes that are not text.
pub fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
    )
}

/// A binary column as lower-case hex; nulls stay null.
fn hex_of(a: &ArrayRef) -> Result<StringViewArray, EvalError> {
    fn build<'a>(n: usize, value: impl Fn(usize) -> Option<&'a [u8]>) -> StringViewArray {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut b = StringViewBuilder::with_capacity(n);
        let mut s: Vec<u8> = Vec::new();
        for r in 0..n {
            match value(r) {
                Some(v) => {
                    s.clear();
                    for byte in v {
                        s.push(DIGITS[usize::from(byte >> 4)]);
                        s.push(DIGITS[usize::from(byte & 0x0f)]);
                    }
                    b.append_value(std::str::from_utf8(&s).expect("hex digits are ASCII"));
                }
                None => b.append_null(),
            }
        }
        b.finish()
    }
    let n = a.len();
    let any = a.as_any();
    let out = if let Some(x) = any.downcast_ref::<BinaryArray>() {
        build(n, |r| (!x.is_null(r)).then(|| x.value(r)))
    } else if let Some(x) = any.downcast_ref::<LargeBinaryArray>() {
        build(n, |r| (!x.is_null(r)).then(|| x.value(r)))
    } else if let Some(x) = any.downcast_ref::<BinaryViewArray>() {
        build(n, |r| (!x.is_null(r)).then(|| x.value(r)))
    } else if let Some(x) = any.downcast_ref::<FixedSizeBinaryArray>() {
        build(n, |r| (!x.is_null(r)).then(|| x.value(r)))
    } else {
        return Err(EvalError(format!(
            "hex reads a binary column; this one is {}",
            a.data_type()
        )));
    };
    Ok(out)
}

/// Hive partition keys and values of a path's folders (`year=2023/month=1` →
/// `[("year","2023"), ("month","1")]`), outermost first.
pub fn partitions_of(path: &std::path::Path) -> Vec<(String, String)> {
    path.parent()
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| {
            let s = c.as_os_str().to_str()?;
            let (k, v) = s.split_once('=')?;
            (!k.is_empty() && !k.contains(['/', '\\'])).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Int32Array, StringArray};
    use std::sync::Arc;

    fn parse(toml_text: &str) -> ColumnExpr {
        #[derive(Deserialize)]
        struct W {
            e: ColumnExpr,
        }
        toml::from_str::<W>(toml_text).unwrap().e
    }

    fn values(a: &StringViewArray) -> Vec<Option<String>> {
        (0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
            .collect()
    }

    #[test]
    fn every_form_reads_from_toml_and_prints_back_as_written() {
        for text in [
            r#""msisdn""#,
            r#"{ hex = "user_id" }"#,
            r#"{ concat = ["mcc", "mnc"] }"#,
            r#"{ value = "63902" }"#,
            r#"{ column = "plmn", default = "21407" }"#,
            r#"{ column = "outgoing", map = { "false" = "call_in", "true" = "call_out" } }"#,
        ] {
            let e = parse(&format!("e = {text}"));
            assert_eq!(e.to_string(), text);
            assert_eq!(parse(&format!("e = {e}")), e, "round trip of {text}");
        }
        assert_eq!(parse(r#"e = { column = "x" }"#), ColumnExpr::column("x"));
    }

    #[test]
    fn a_table_with_no_source_or_two_is_refused() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct W {
            e: ColumnExpr,
        }
        for bad in [
            r#"e = { default = "x" }"#,
            r#"e = { column = "a", hex = "b" }"#,
            r#"e = { colum = "a" }"#,
        ] {
            assert!(toml::from_str::<W>(bad).is_err(), "{bad}");
        }
        assert!(
            parse(r#"e = { concat = ["a"] }"#)
                .check("home_plmn")
                .is_err()
        );
        let e = parse(r#"e = { value = "1" }"#)
            .check("subscriber_id")
            .unwrap_err();
        assert!(e.starts_with("input.columns.subscriber_id:"), "{e}");
    }

    #[test]
    fn a_plain_rename_serialises_as_its_name_so_old_digests_hold() {
        let json = serde_json_like(&ColumnExpr::column("imsi"));
        assert_eq!(json, "\"imsi\"");
    }

    fn serde_json_like(e: &ColumnExpr) -> String {
        toml::to_string(&std::collections::BTreeMap::from([("e", e)]))
            .unwrap()
            .trim()
            .trim_start_matches("e = ")
            .to_string()
    }

    #[test]
    fn concat_keeps_leading_zeros_and_is_null_when_a_part_is() {
        let mcc: ArrayRef = Arc::new(Int32Array::from(vec![Some(214), Some(640), None]));
        let mnc: ArrayRef = Arc::new(StringArray::from(vec![Some("01"), Some("002"), Some("7")]));
        let mnc = cast(&mnc, &DataType::Utf8View).unwrap();
        let e = BoundExpr::bind(&parse(r#"e = { concat = ["mcc", "mnc"] }"#), |c| {
            Some(Operand::Batch(usize::from(c == "mnc")))
        })
        .unwrap();
        let out = e.text(&[mcc, mnc], 3).unwrap();
        assert_eq!(
            values(&out),
            [Some("21401".into()), Some("640002".into()), None]
        );
    }

    #[test]
    fn hex_default_map_and_partitions_evaluate_row_by_row() {
        let ids: ArrayRef = Arc::new(BinaryArray::from(vec![
            Some(&[0x00u8, 0xab, 0xff][..]),
            None,
        ]));
        let hex =
            BoundExpr::bind(&parse(r#"e = { hex = "id" }"#), |_| Some(Operand::Batch(0))).unwrap();
        assert_eq!(
            values(&hex.text(&[ids], 2).unwrap()),
            [Some("00abff".into()), None]
        );

        let plmn: ArrayRef = Arc::new(Int32Array::from(vec![Some(64502), None]));
        let or = BoundExpr::bind(
            &parse(r#"e = { column = "plmn", default = "63902" }"#),
            |_| Some(Operand::Batch(0)),
        )
        .unwrap();
        assert_eq!(
            values(&or.text(&[plmn], 2).unwrap()),
            [Some("64502".into()), Some("63902".into())]
        );

        let out: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        let mapped = BoundExpr::bind(
            &parse(r#"e = { column = "outgoing", map = { "true" = "call_out", "false" = "call_in" } }"#),
            |_| Some(Operand::Batch(0)),
        )
        .unwrap();
        assert_eq!(
            values(&mapped.text(&[out], 3).unwrap()),
            [Some("call_out".into()), Some("call_in".into()), None]
        );

        let day = BoundExpr::bind(&parse(r#"e = "day""#), |_| {
            Some(Operand::Partition("7".into()))
        })
        .unwrap();
        assert_eq!(
            values(&day.text(&[], 2).unwrap()),
            [Some("7".into()), Some("7".into())]
        );
    }

    #[test]
    fn a_binary_column_read_as_text_says_to_use_hex() {
        let ids: ArrayRef = Arc::new(BinaryArray::from(vec![Some(&b"ab"[..])]));
        let e = BoundExpr::bind(&ColumnExpr::column("id"), |_| Some(Operand::Batch(0))).unwrap();
        let err = e.text(&[ids], 1).unwrap_err().to_string();
        assert!(err.contains("hex"), "{err}");
    }

    #[test]
    fn hive_partitions_are_read_from_the_folders() {
        let p = std::path::Path::new("lake/mno_events/year=2023/month=1/day=7/part-0.parquet");
        assert_eq!(
            partitions_of(p),
            [
                ("year".to_string(), "2023".to_string()),
                ("month".into(), "1".into()),
                ("day".into(), "7".into())
            ]
        );
    }
}
