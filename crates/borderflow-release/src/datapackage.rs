//! `datapackage.json`: a Frictionless Data Package (Tabular Data Package, v1) describing every
//! CSV table of a release — its columns in order, the type of each (`string`, `integer`,
//! `number`, `boolean`), that an empty field is a missing value, and its primary key — so a
//! reader (Frictionless, CSVW tools, or a dataframe given these types) takes the CSVs with the
//! same logical types as the Parquet files, with no guessing from the first rows.
//!
//! It is written from the same [`ReleasedTable`]s as the files it describes, so the two
//! cannot disagree.

use serde_json::{Value, json};

use crate::table::{ReleasedTable, Role, Unit, ValueKind};

/// File name of the data package in a release directory.
pub const DATAPACKAGE_FILE: &str = "datapackage.json";

/// The data package of `tables`, released as `dataset`/`period`.
pub fn data_package(dataset: &str, period: &str, tables: &[&ReleasedTable]) -> Value {
    let resources: Vec<Value> = tables.iter().map(|t| resource(t)).collect();
    json!({
        "profile": "tabular-data-package",
        "name": package_name(dataset, period),
        "title": format!("borderflow release {dataset} {period}"),
        "version": env!("CARGO_PKG_VERSION"),
        "resources": resources,
    })
}

/// A package name as the specification wants it: lower case, digits, `-`, `_`, `.`.
fn package_name(dataset: &str, period: &str) -> String {
    format!("{dataset}-{period}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// One table's resource: its CSV file and Table Schema.
fn resource(t: &ReleasedTable) -> Value {
    let field = |name: &str, kind: &str, description: &str| json!({"name": name, "type": kind, "description": description});
    let mut fields = vec![
        match t.period_year() {
            Some(_) => field(
                "period",
                "integer",
                "the reference year (2025): an integer in Parquet and CSV alike",
            ),
            None => field(
                "period",
                "string",
                "the reference month (2025-07): text in Parquet and CSV alike",
            ),
        },
        field(
            "measuring_country",
            "string",
            "ISO 3166-1 alpha-3 code of the country whose operator's records these are",
        ),
    ];
    let mut key = vec!["period".to_string(), "measuring_country".to_string()];
    for d in &t.dimensions {
        let kind = match d.kind {
            ValueKind::Code(_) => "string",
            ValueKind::Count => "integer",
            ValueKind::Decimal => "number",
        };
        let role = match d.role {
            Role::Dimension => "a dimension of the table (part of its key)",
            Role::Attribute => "an attribute of the row",
        };
        fields.push(field(
            d.column,
            kind,
            &format!("{role}; SDMX concept {}", d.sdmx),
        ));
        if d.role == Role::Dimension {
            key.push(d.column.to_string());
        }
    }
    let (value, error) = match t.unit {
        Unit::Sim => (
            "noisy count of SIMs; empty when suppressed or not measured",
            "standard deviation of the noise in subscribers (95% margin: ±1.96 × noise_sd); empty when not measured",
        ),
        Unit::Person => (
            "persons estimated from the noisy count of SIMs (sims ÷ (coverage × sims_per_person)), rounded; empty when the SIM count is suppressed or not measured",
            "standard error of persons from the noise and the factors' stated errors (delta method; 95% margin: margin_of_error_95)",
        ),
    };
    fields.push(json!({"name": "unit", "type": "string", "description": "what the value counts: SIM (SIM cards) or PERSON (persons estimated from SIM counts); SDMX UNIT_MEASURE", "constraints": {"enum": [t.unit.code()]}}));
    fields.extend([
        field(t.unit.value_column(), "integer", value),
        field(t.unit.error_column(), "number", error),
        field(
            "suppressed",
            "boolean",
            "true when the noisy count fell below the publication threshold",
        ),
        json!({"name": "status", "type": "string", "description": "published, suppressed (below the threshold) or not_measured (the window cannot observe it: no value, no noise)", "constraints": {"enum": ["published", "suppressed", "not_measured"]}}),
    ]);
    json!({
        "name": t.name,
        "path": format!("{}.csv", t.name),
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {
            "fields": fields,
            "missingValues": [""],
            "primaryKey": key,
        },
    })
}
