//! A released table: dimension columns and protected cells, in the form every writer
//! (Parquet, CSV, SDMX-CSV) and the report read. Only published values are in it: a suppressed
//! cell has no value here, whatever its noisy value was.

use borderflow_core::CountryCode;
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

/// The logical type of a [`Dimension`]'s values, so that every reader sees one type: a count
/// is a 64-bit integer column in Parquet (and an integer in CSV), never text a dataframe would
/// concatenate when summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A code or label (`KEN`, `south_to_south`): text.
    Code,
    /// A count of cells or SIMs, written in decimal: an integer.
    Count,
}

/// A published cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// The noisy count, `None` when suppressed.
    pub subscribers: Option<i64>,
    /// Standard deviation of the noise in this value (sums: √ of summed variances).
    pub noise_sd: f64,
    /// Whether the cell was suppressed (noisy value below k).
    pub suppressed: bool,
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
            suppressed: p.suppressed,
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
        ReleasedTable {
            name: "categories",
            dataflow: "DF_BORDERFLOW_CATEGORIES",
            period: period.to_string(),
            measuring_country: m,
            dimensions: vec![
                Dimension {
                    column: "category",
                    sdmx: "MOB_CATEGORY",
                    role: Role::Dimension,
                    kind: ValueKind::Code,
                    values: category,
                },
                Dimension {
                    column: "partner_country",
                    sdmx: "COUNTERPART_AREA",
                    role: Role::Dimension,
                    kind: ValueKind::Code,
                    values: partner,
                },
            ],
            cells: protected.iter().map(Cell::from).collect(),
        }
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
        ReleasedTable {
            name: "crossings",
            dataflow: "DF_BORDERFLOW_CROSSINGS",
            period: period.to_string(),
            measuring_country: m,
            dimensions: vec![
                Dimension {
                    column: "from_country",
                    sdmx: "ORIGIN_AREA",
                    role: Role::Dimension,
                    kind: ValueKind::Code,
                    values: side(|p| p.0),
                },
                Dimension {
                    column: "to_country",
                    sdmx: "DESTINATION_AREA",
                    role: Role::Dimension,
                    kind: ValueKind::Code,
                    values: side(|p| p.1),
                },
            ],
            cells: protected.iter().map(Cell::from).collect(),
        }
    }

    /// The CSV/Parquet column names, in order.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut c = vec!["period", "measuring_country"];
        c.extend(self.dimensions.iter().map(|d| d.column));
        c.extend(["subscribers", "noise_sd", "suppressed"]);
        c
    }

    /// Cells published (not suppressed).
    pub fn published(&self) -> usize {
        self.cells.iter().filter(|c| !c.suppressed).count()
    }

    /// The dimension named `column`.
    pub fn dimension(&self, column: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.column == column)
    }
}
