//! ISO 3166-1 countries with their UN M49 region, sub-region and intermediate region.

use std::collections::BTreeMap;

use borderflow_core::CountryCode;

use crate::csvload::{RefDataError, load_table};

pub(crate) const EMBEDDED: &str = include_str!("../data/countries.csv");
const COLUMNS: &[&str] = &[
    "alpha2",
    "alpha3",
    "numeric",
    "name",
    "region",
    "sub_region",
    "intermediate_region",
    "region_code",
    "sub_region_code",
    "intermediate_region_code",
];

/// One country or territory of ISO 3166-1 and where UN M49 places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code.
    pub alpha2: String,
    /// ISO 3166-1 alpha-3 code, the key used everywhere in borderflow.
    pub alpha3: CountryCode,
    /// ISO 3166-1 numeric code (= M49 code), empty for user-assigned codes such as XKX.
    pub numeric: String,
    /// English short name.
    pub name: String,
    /// M49 region (Africa, Americas, Asia, Europe, Oceania); empty for Antarctica.
    pub region: String,
    /// M49 sub-region (Eastern Africa, Latin America and the Caribbean, …).
    pub sub_region: String,
    /// M49 intermediate region where one exists (Caribbean, Eastern Africa, …).
    pub intermediate_region: String,
    /// M49 code of the region (`002` Africa), empty where the region is.
    pub region_code: String,
    /// M49 code of the sub-region (`202` Sub-Saharan Africa), empty where the sub-region is.
    pub sub_region_code: String,
}

impl Country {
    /// The name a reader knows the country by, for charts and tables: ISO's English short
    /// name where it is already short, the common form where ISO's is long or inverted
    /// (`United Kingdom`, `Tanzania`, `DR Congo`, `Bolivia`).
    pub fn short_name(&self) -> &str {
        let common = match self.alpha3.as_str() {
            "BES" => "Caribbean Netherlands",
            "BOL" => "Bolivia",
            "COD" => "DR Congo",
            "FSM" => "Micronesia",
            "GBR" => "United Kingdom",
            "HMD" => "Heard and McDonald Is.",
            "IOT" => "British Indian Ocean Ter.",
            "IRN" => "Iran",
            "KOR" => "South Korea",
            "LAO" => "Laos",
            "MDA" => "Moldova",
            "NLD" => "Netherlands",
            "PRK" => "North Korea",
            "PSE" => "Palestine",
            "RUS" => "Russia",
            "SGS" => "South Georgia",
            "SHN" => "Saint Helena",
            "SYR" => "Syria",
            "TWN" => "Taiwan",
            "TZA" => "Tanzania",
            "UMI" => "US Minor Outlying Is.",
            "USA" => "United States",
            "VEN" => "Venezuela",
            "VGB" => "British Virgin Islands",
            "VIR" => "US Virgin Islands",
            _ => "",
        };
        if common.is_empty() {
            &self.name
        } else {
            common
        }
    }
}

/// The country list, keyed by alpha-3.
#[derive(Debug, Clone)]
pub struct Countries {
    by_alpha3: BTreeMap<CountryCode, Country>,
}

impl Countries {
    pub(crate) fn load(user: Option<(String, String)>) -> Result<Self, RefDataError> {
        let by_alpha3 = load_table("countries.csv", EMBEDDED, user, COLUMNS, |row| {
            let alpha3: CountryCode = row.get(1).parse().map_err(|e| row.error(format!("{e}")))?;
            let alpha2 = row.get(0);
            if alpha2.len() != 2 || !alpha2.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(row.error(format!("{alpha2:?} is not an alpha-2 code")));
            }
            if row.get(3).is_empty() {
                return Err(row.error(format!("{alpha3} has no name")));
            }
            Ok((
                alpha3,
                Country {
                    alpha2: alpha2.to_string(),
                    alpha3,
                    numeric: row.get(2).to_string(),
                    name: row.get(3).to_string(),
                    region: row.get(4).to_string(),
                    sub_region: row.get(5).to_string(),
                    intermediate_region: row.get(6).to_string(),
                    region_code: row.get(7).to_string(),
                    sub_region_code: row.get(8).to_string(),
                },
            ))
        })?;
        Ok(Self { by_alpha3 })
    }

    /// The country with this alpha-3 code.
    pub fn get(&self, code: CountryCode) -> Option<&Country> {
        self.by_alpha3.get(&code)
    }

    /// The country with this alpha-2 code (linear scan; for configuration, not hot paths).
    pub fn by_alpha2(&self, alpha2: &str) -> Option<&Country> {
        self.by_alpha3
            .values()
            .find(|c| c.alpha2.eq_ignore_ascii_case(alpha2))
    }

    /// Every country, ordered by alpha-3: the public domain of country dimensions.
    pub fn iter(&self) -> impl Iterator<Item = &Country> {
        self.by_alpha3.values()
    }

    /// Number of countries and territories listed.
    pub fn len(&self) -> usize {
        self.by_alpha3.len()
    }

    /// Whether the list is empty (never, for the embedded list).
    pub fn is_empty(&self) -> bool {
        self.by_alpha3.is_empty()
    }
}
