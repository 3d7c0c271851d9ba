//! [`SimFacts`] → Arrow columns, once, keyed by the facts schema's column names
//! ([`borderflow_core::schema::facts`]). The local facts writer (`sims.parquet`) and the
//! cluster's aggregate (one struct per SIM) both take their columns from here, each asking
//! for the fields of its own schema by name — so two columns of one type cannot be swapped by
//! their position. Readers find columns by the same names ([`crate::aggregate::facts_at`],
//! `borderflow_release::read_facts`).

use std::sync::Arc;

use borderflow_core::schema::facts::{
    CATEGORY, DAYS_SEEN, FROM_COUNTRY, NIGHTS_IN_M, OPEN_SPELL, PARTNER_COUNTRY, RESIDENCE,
    SIM_COUNTRY, TO_COUNTRY, UNCLASSIFIED_REASON,
};
use borderflow_core::{Category, CountryCode, Unclassified};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, ListArray, StringArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};

use crate::classify::SimFacts;

/// The column of each SIM's crossed pairs, a list of (from, to) structs, in the facts a
/// cluster returns (the local writer puts them in `crossings.parquet` instead).
pub const CROSSINGS: &str = "crossings";

/// The fields of one crossed pair.
pub(crate) fn crossing_fields() -> Fields {
    Fields::from(vec![
        Field::new(FROM_COUNTRY, DataType::Utf8, false),
        Field::new(TO_COUNTRY, DataType::Utf8, false),
    ])
}

/// The item of the [`CROSSINGS`] list.
pub(crate) fn crossing_item() -> FieldRef {
    Arc::new(Field::new(
        "item",
        DataType::Struct(crossing_fields()),
        false,
    ))
}

/// The columns of a run of SIMs' facts, built as they are pushed.
#[derive(Debug, Default)]
pub struct FactsColumns {
    sim_country: StringBuilder,
    residence: StringBuilder,
    category: StringBuilder,
    partner: StringBuilder,
    nights_in_m: Int32Builder,
    days_seen: Int32Builder,
    open_spell: BooleanBuilder,
    unclassified: StringBuilder,
    crossed_from: Vec<String>,
    crossed_to: Vec<String>,
    crossing_counts: Vec<usize>,
}

impl FactsColumns {
    /// Adds one SIM's facts.
    pub fn push(&mut self, f: &SimFacts) {
        self.sim_country.append_value(f.sim_country.as_str());
        self.residence.append_value(f.residence.as_str());
        self.category
            .append_option(f.category.map(Category::as_str));
        self.partner
            .append_option(f.partner.as_ref().map(CountryCode::as_str));
        self.nights_in_m.append_value(i32::from(f.nights_in_m));
        self.days_seen.append_value(i32::from(f.days_seen));
        self.open_spell.append_value(f.open_spell);
        self.unclassified
            .append_option(f.unclassified.map(Unclassified::as_str));
        for (a, b) in &f.crossings {
            self.crossed_from.push(a.as_str().to_string());
            self.crossed_to.push(b.as_str().to_string());
        }
        self.crossing_counts.push(f.crossings.len());
    }

    /// The column named `name`, or `None` for a name that is not a facts column (the
    /// pseudonym is the writer's). Each column is taken once.
    pub fn take(&mut self, name: &str) -> Option<ArrayRef> {
        let column: ArrayRef = match name {
            SIM_COUNTRY => Arc::new(self.sim_country.finish()),
            RESIDENCE => Arc::new(self.residence.finish()),
            CATEGORY => Arc::new(self.category.finish()),
            PARTNER_COUNTRY => Arc::new(self.partner.finish()),
            NIGHTS_IN_M => Arc::new(self.nights_in_m.finish()),
            DAYS_SEEN => Arc::new(self.days_seen.finish()),
            OPEN_SPELL => Arc::new(self.open_spell.finish()),
            UNCLASSIFIED_REASON => Arc::new(self.unclassified.finish()),
            CROSSINGS => {
                let pairs = StructArray::new(
                    crossing_fields(),
                    vec![
                        Arc::new(StringArray::from(std::mem::take(&mut self.crossed_from)))
                            as ArrayRef,
                        Arc::new(StringArray::from(std::mem::take(&mut self.crossed_to))),
                    ],
                    None,
                );
                Arc::new(ListArray::new(
                    crossing_item(),
                    OffsetBuffer::from_lengths(std::mem::take(&mut self.crossing_counts)),
                    Arc::new(pairs),
                    None,
                ))
            }
            _ => return None,
        };
        Some(column)
    }

    /// The columns of `fields`, each by its name; a field that is not a facts column is
    /// refused by name (a schema and this codec out of step is a defect).
    pub fn finish(mut self, fields: &Fields) -> Vec<ArrayRef> {
        fields
            .iter()
            .map(|f| {
                self.take(f.name())
                    .unwrap_or_else(|| panic!("{} is not a column of the facts", f.name()))
            })
            .collect()
    }
}
