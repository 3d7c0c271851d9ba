//! A released table: dimension columns and protected cells, in the form every writer
//! (Parquet, CSV, SDMX-CSV) and the report read. Only published values are in it: a suppressed
//! cell has no value here, whatever its noisy value was.

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::ProtectedCell;

use crate::tabulate::Domain;

/// Whether a descriptive column is part of a cell's key or describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Part of the key (an SDMX dimension).
    Dimension,
    /// Describes the cell (an SDMX attribute), determined by the key.
    Attribute,
}

/// A descriptive column as a table declares it, before any value: what the writers, the
/// data package and the SDMX structure message are all generated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name in Parquet and CSV (`partner_country`).
    pub name: &'static str,
    /// SDMX concept (`COUNTERPART_AREA`).
    pub sdmx: &'static str,
    /// Key or description.
    pub role: Role,
    /// Codes from a code list, or counts.
    pub kind: ValueKind,
}

/// What a table's cells count: SIM cards (every table an operator's run publishes) or persons
/// (estimated from noisy SIM counts with stated factors, in a partnership's combined release).
/// Written in every row's `unit` column and as SDMX `UNIT_MEASURE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// SIM cards (subscriber identity modules), not persons.
    Sim,
    /// Persons, estimated from noisy counts of SIMs.
    Person,
}

impl Unit {
    /// The code in the `unit` column and in SDMX `UNIT_MEASURE`.
    pub const fn code(self) -> &'static str {
        match self {
            Unit::Sim => "SIM",
            Unit::Person => "PERSON",
        }
    }

    /// The code's name in the SDMX code list.
    pub const fn description(self) -> &'static str {
        match self {
            Unit::Sim => "SIM cards (subscriber identity modules), not persons",
            Unit::Person => {
                "Persons, estimated from noisy counts of SIMs with stated market shares and SIMs per person"
            }
        }
    }

    /// The unit in a sentence: `SIMs`, `persons`.
    pub const fn plural(self) -> &'static str {
        match self {
            Unit::Sim => "SIMs",
            Unit::Person => "persons",
        }
    }

    /// The column of the value in Parquet and CSV: `subscribers` or `persons`.
    pub const fn value_column(self) -> &'static str {
        match self {
            Unit::Sim => "subscribers",
            Unit::Person => "persons",
        }
    }

    /// The column of the value's error: the noise's σ for SIMs, the standard error (noise and
    /// factors) for persons.
    pub const fn error_column(self) -> &'static str {
        match self {
            Unit::Sim => "noise_sd",
            Unit::Person => "standard_error",
        }
    }
}

/// What one table of a release is, independent of any period's cells: its name, its SDMX
/// dataflow, what it counts and its descriptive columns in order. The structure message
/// ([`crate::sdmx`]) describes a release from these alone, so it can be written before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    /// File stem and table name: `categories`.
    pub name: &'static str,
    /// The default SDMX dataflow id (`DF_BORDERFLOW_CATEGORIES`), overridable per pipeline.
    pub dataflow: &'static str,
    /// A title for the dataflow.
    pub title: &'static str,
    /// What its cells count.
    pub unit: Unit,
    /// The descriptive columns, in order.
    pub columns: &'static [Column],
}

const fn key(name: &'static str, sdmx: &'static str, codes: Codelist) -> Column {
    Column {
        name,
        sdmx,
        role: Role::Dimension,
        kind: ValueKind::Code(codes),
    }
}

const fn attribute(name: &'static str, sdmx: &'static str, kind: ValueKind) -> Column {
    Column {
        name,
        sdmx,
        role: Role::Attribute,
        kind,
    }
}

/// `categories`: SIMs per mobility category and partner country.
pub const CATEGORIES: TableSchema = TableSchema {
    name: "categories",
    dataflow: "DF_BORDERFLOW_CATEGORIES",
    title: "SIMs by mobility category and partner country",
    unit: Unit::Sim,
    columns: &[
        key("category", "MOB_CATEGORY", Codelist::MobilityCategory),
        key("partner_country", "COUNTERPART_AREA", Codelist::Area),
    ],
};

/// `crossings`: SIMs seen crossing from one country to another.
pub const CROSSINGS: TableSchema = TableSchema {
    name: "crossings",
    dataflow: "DF_BORDERFLOW_CROSSINGS",
    title: "SIMs crossing between countries, by origin and destination",
    unit: Unit::Sim,
    columns: &[
        key("from_country", "ORIGIN_AREA", Codelist::Area),
        key("to_country", "DESTINATION_AREA", Codelist::Area),
    ],
};

/// `totals`: SIMs per category and per direction of flow.
pub const TOTALS: TableSchema = TableSchema {
    name: "totals",
    dataflow: "DF_BORDERFLOW_TOTALS",
    title: "SIMs by mobility category and by direction of flow, all partners",
    unit: Unit::Sim,
    columns: &[key("total", "MOB_TOTAL", Codelist::MobilityTotal)],
};

/// `corridors`: `categories` rolled up by partner group.
pub const CORRIDORS: TableSchema = TableSchema {
    name: "corridors",
    dataflow: "DF_BORDERFLOW_CORRIDORS",
    title: "SIMs by mobility category and partner-country group (region, income, Global South)",
    unit: Unit::Sim,
    columns: &[
        key("category", "MOB_CATEGORY", Codelist::MobilityCategory),
        key("grouping", "GROUPING", Codelist::Grouping),
        key(
            "partner_group",
            "COUNTERPART_GROUP",
            Codelist::CounterpartGroup,
        ),
        attribute("flow", "FLOW", ValueKind::Code(Codelist::Flow)),
        attribute(
            "direction",
            "FLOW_DIRECTION",
            ValueKind::Code(Codelist::FlowDirection),
        ),
        attribute("partner_cells", "CELLS", ValueKind::Count),
    ],
};

/// `persons`: persons per mobility category, by partner country and over all partners,
/// estimated from a partnership's combined noisy SIM counts (post-processing), each row with
/// the factors it used.
pub const PERSONS: TableSchema = TableSchema {
    name: "persons",
    dataflow: "DF_BORDERFLOW_PERSONS",
    title: "Persons by mobility category and partner country, estimated from SIM counts",
    unit: Unit::Person,
    columns: &[
        key("category", "MOB_CATEGORY", Codelist::MobilityCategory),
        key("partner_country", "COUNTERPART_AREA", Codelist::Area),
        attribute("margin_of_error_95", "MOE_95", ValueKind::Decimal),
        attribute("sims", "SIMS", ValueKind::Count),
        attribute("sims_noise_sd", "SIMS_NOISE_SD", ValueKind::Decimal),
        attribute("coverage", "COVERAGE", ValueKind::Decimal),
        attribute("sims_per_person", "SIMS_PER_PERSON", ValueKind::Decimal),
        attribute("per_1000_population", "RATE_PER_1000", ValueKind::Decimal),
        attribute("per_1000_margin_95", "RATE_MOE_95", ValueKind::Decimal),
    ],
};

/// Every table a release publishes, in the order it lists them.
pub const TABLES: [&TableSchema; 4] = [&CATEGORIES, &CROSSINGS, &TOTALS, &CORRIDORS];

/// Every table the SDMX structure message describes: [`TABLES`], and [`PERSONS`], which only
/// a partnership's combined release with persons factors holds.
pub const STRUCTURES: [&TableSchema; 5] = [&CATEGORIES, &CROSSINGS, &TOTALS, &CORRIDORS, &PERSONS];

/// The partner-country code of a `persons` row drawn from the category totals (all partners):
/// SDMX's `_T`.
pub const ALL_PARTNERS: &str = "_T";

/// One descriptive column of a table: its name in Parquet and CSV, its SDMX concept, its role,
/// and one value per cell (`None`: not applicable, e.g. the partner of `resident`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// Column name in Parquet and CSV (`partner_country`).
    pub column: &'static str,
    /// SDMX concept (`COUNTERPART_AREA`).
    pub sdmx: &'static str,
    /// Key or description.
    pub role: Role,
    /// What its values are: codes (text everywhere) or counts (integers in Parquet).
    pub kind: ValueKind,
    /// One value per cell.
    pub values: Vec<Option<String>>,
}

impl Dimension {
    /// The column `spec` with one value per cell.
    pub fn of(spec: &Column, values: Vec<Option<String>>) -> Self {
        Dimension {
            column: spec.name,
            sdmx: spec.sdmx,
            role: spec.role,
            kind: spec.kind,
            values,
        }
    }
}

/// The logical type of a [`Dimension`]'s values, so that every reader sees one type: a count
/// is a 64-bit integer column in Parquet (and an integer in CSV), never text a dataframe would
/// concatenate when summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A code or label (`KEN`, `south_to_south`): text, drawn from a code list.
    Code(Codelist),
    /// A count of cells or SIMs, written in decimal: an integer.
    Count,
    /// A measured quantity (a margin, a factor, a rate), written in decimal: a float.
    Decimal,
}

/// The code list a coded column draws its values from: the SDMX code list of its concept
/// (its codes and names are in [`crate::sdmx`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Codelist {
    /// ISO 3166-1 alpha-3 countries and territories, and `_Z` (not applicable).
    Area,
    /// The mobility categories.
    MobilityCategory,
    /// The categories and the two directions of flow (`totals`).
    MobilityTotal,
    /// The corridor groupings (`m49_region`, …).
    Grouping,
    /// Partner-country groups: UN M49 world, regions and sub-regions, World Bank income
    /// groups, the two sides of the North–South divide, and not allocated.
    CounterpartGroup,
    /// Inbound or outbound.
    Flow,
    /// `south_to_south` and the other three North–South directions.
    FlowDirection,
}

/// What a published cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStatus {
    /// A noisy value at or above the publication threshold.
    Published,
    /// The noisy value fell below the threshold: withheld (SDMX `OBS_STATUS` Q, confidential).
    Suppressed,
    /// Not measured by this release: the data exist but the window cannot observe them
    /// (return migrants without the previous window). No value and no noise (SDMX
    /// `OBS_STATUS` L, free).
    NotMeasured,
}

impl CellStatus {
    /// The code in the `status` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            CellStatus::Published => "published",
            CellStatus::Suppressed => "suppressed",
            CellStatus::NotMeasured => "not_measured",
        }
    }

    /// The SDMX `OBS_STATUS` code (the codes of SDMX's cross-domain CL_OBS_STATUS).
    pub const fn obs_status(self) -> &'static str {
        match self {
            CellStatus::Published => "A",
            CellStatus::Suppressed => "Q",
            CellStatus::NotMeasured => "L",
        }
    }

    /// The SDMX `CONF_STATUS` code: C confidential for a withheld value, F free otherwise.
    pub const fn conf_status(self) -> &'static str {
        match self {
            CellStatus::Suppressed => "C",
            _ => "F",
        }
    }
}

/// A published cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// The noisy count (or, in persons, the estimate rounded to a whole person), `None` when
    /// suppressed.
    pub subscribers: Option<i64>,
    /// Standard deviation of the noise in this value (sums: √ of summed variances; persons:
    /// the standard error from the noise and the factors); not written for a cell that was
    /// not measured.
    pub noise_sd: f64,
    /// Published, suppressed, or not measured.
    pub status: CellStatus,
}

impl Cell {
    /// Whether the cell was suppressed (noisy value below the threshold).
    pub fn suppressed(&self) -> bool {
        self.status == CellStatus::Suppressed
    }

    /// The noise's standard deviation, `None` for a cell that was not measured.
    pub fn noise_sd(&self) -> Option<f64> {
        (self.status != CellStatus::NotMeasured).then_some(self.noise_sd)
    }
}

/// A table of one release.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedTable {
    /// File stem and table name: `categories`, `crossings`, `corridors`.
    pub name: &'static str,
    /// The SDMX dataflow it belongs to (`DF_BORDERFLOW_CATEGORIES`).
    pub dataflow: &'static str,
    /// The reference period, `2025` or `2025-07`.
    pub period: String,
    /// The measuring country M.
    pub measuring_country: CountryCode,
    /// What its cells count.
    pub unit: Unit,
    /// Dimension columns, each as long as `cells`.
    pub dimensions: Vec<Dimension>,
    /// The cells, in the domain's order.
    pub cells: Vec<Cell>,
}

impl From<&ProtectedCell> for Cell {
    fn from(p: &ProtectedCell) -> Self {
        Cell {
            subscribers: p.subscribers,
            noise_sd: p.noise_sd,
            status: if p.suppressed {
                CellStatus::Suppressed
            } else {
                CellStatus::Published
            },
        }
    }
}

impl ReleasedTable {
    /// The `categories` table from its protected cells, in `domain` order.
    pub fn categories(
        domain: &Domain,
        protected: &[ProtectedCell],
        m: CountryCode,
        period: &str,
    ) -> Self {
        assert_eq!(domain.categories.len(), protected.len());
        let category = domain
            .categories
            .iter()
            .map(|c| Some(c.category.as_str().to_string()))
            .collect();
        let partner = domain
            .categories
            .iter()
            .map(|c| c.partner.map(|p| p.to_string()))
            .collect();
        ReleasedTable::of(
            &CATEGORIES,
            period,
            m,
            vec![category, partner],
            protected.iter().map(Cell::from).collect(),
        )
    }

    /// The `crossings` table from its protected cells, in `domain` order.
    pub fn crossings(
        domain: &Domain,
        protected: &[ProtectedCell],
        m: CountryCode,
        period: &str,
    ) -> Self {
        assert_eq!(domain.crossings.len(), protected.len());
        let side = |f: fn(&(CountryCode, CountryCode)) -> CountryCode| {
            domain
                .crossings
                .iter()
                .map(|p| Some(f(p).to_string()))
                .collect()
        };
        ReleasedTable::of(
            &CROSSINGS,
            period,
            m,
            vec![side(|p| p.0), side(|p| p.1)],
            protected.iter().map(Cell::from).collect(),
        )
    }

    /// A table of `schema` from one value list per column (in the schema's order) and its
    /// cells.
    pub fn of(
        schema: &TableSchema,
        period: &str,
        m: CountryCode,
        values: Vec<Vec<Option<String>>>,
        cells: Vec<Cell>,
    ) -> Self {
        assert_eq!(
            schema.columns.len(),
            values.len(),
            "one value list per column"
        );
        ReleasedTable {
            name: schema.name,
            dataflow: schema.dataflow,
            period: period.to_string(),
            measuring_country: m,
            unit: schema.unit,
            dimensions: schema
                .columns
                .iter()
                .zip(values)
                .map(|(c, v)| {
                    assert_eq!(v.len(), cells.len(), "one value per cell in {}", c.name);
                    Dimension::of(c, v)
                })
                .collect(),
            cells,
        }
    }

    /// Marks every cell of `category` not measured: no value, no noise. The category is found
    /// by the table's coded column of mobility categories (or totals); a table without one
    /// is left as it is.
    pub fn mark_not_measured(&mut self, category: Category) {
        let Some(d) = self.dimensions.iter().find(|d| {
            matches!(
                d.kind,
                ValueKind::Code(Codelist::MobilityCategory | Codelist::MobilityTotal)
            )
        }) else {
            return;
        };
        let hit: Vec<bool> = d
            .values
            .iter()
            .map(|v| v.as_deref() == Some(category.as_str()))
            .collect();
        for (cell, hit) in self.cells.iter_mut().zip(hit) {
            if hit {
                cell.subscribers = None;
                cell.status = CellStatus::NotMeasured;
            }
        }
    }

    /// The reference year of an annual table (`2025`), `None` for a month (`2025-07`): a
    /// year is written as an integer in every format, a month as text.
    pub fn period_year(&self) -> Option<i64> {
        period_year(&self.period)
    }

    /// The CSV/Parquet column names, in order.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut c = vec!["period", "measuring_country"];
        c.extend(self.dimensions.iter().map(|d| d.column));
        c.extend([
            "unit",
            self.unit.value_column(),
            self.unit.error_column(),
            "suppressed",
            "status",
        ]);
        c
    }

    /// Cells published (neither suppressed nor unmeasured).
    pub fn published(&self) -> usize {
        self.cells
            .iter()
            .filter(|c| c.status == CellStatus::Published)
            .count()
    }

    /// The dimension named `column`.
    pub fn dimension(&self, column: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.column == column)
    }
}

/// The year of an annual period (`2025`), `None` for a month (`2025-07`).
pub fn period_year(period: &str) -> Option<i64> {
    (period.len() == 4).then(|| period.parse().ok()).flatten()
}
