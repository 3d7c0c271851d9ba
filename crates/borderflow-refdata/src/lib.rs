//! # borderflow-refdata
//!
//! The code lists borderflow needs to turn network codes and phone numbers into countries, and
//! countries into the groupings official statistics are published by. All of them are compiled
//! into the binary (so `borderflow demo` needs nothing else) and each can be amended by a user CSV
//! with the same columns: rows of the user file replace embedded rows with the same key and add
//! new ones.
//!
//! | table | key | source (see docs/reference-data.md) |
//! |---|---|---|
//! | [`Countries`] | alpha-3 | ISO 3166-1 with UN M49 regions |
//! | [`PlmnTable`] | MCC (+MNC) | public MCC/MNC lists |
//! | [`CallingCodes`] | E.164 prefix | ITU-T E.164 country codes, NANP area codes |
//! | [`IncomeGroups`] | alpha-3 | World Bank income classification, with vintage |
//! | [`HdiGroups`] | alpha-3 | UNDP Human Development Report groups, with vintage |
//! | [`TimeZones`] | alpha-3 | principal IANA zone (tzdata zone.tab) |
//!
//! Codes that cannot be placed (MCC 901, shared calling codes such as +590) resolve to an
//! explicit unknown, never a guess.
//!
//! ```
//! use borderflow_refdata::{PlmnCountry, RefData};
//!
//! let rd = RefData::embedded();
//! // 639 is Kenya's mobile country code; 901 is for networks of no country.
//! assert_eq!(rd.plmn.country_of_str("63902").unwrap(), PlmnCountry::Country("KEN".parse().unwrap()));
//! assert_eq!(rd.plmn.country_of_str("90101").unwrap(), PlmnCountry::NonGeographic);
//! ```

mod countries;
mod csvload;
mod e164;
mod groups;
mod plmn;
mod timezones;

use std::path::{Path, PathBuf};

pub use countries::{Countries, Country};
pub use csvload::RefDataError;
pub use e164::CallingCodes;
pub use groups::{GlobalSouth, HdiGroup, HdiGroups, IncomeGroup, IncomeGroups, South};
pub use plmn::{Plmn, PlmnCountry, PlmnError, PlmnTable};
pub use timezones::TimeZones;

/// User CSV files that amend the embedded code lists; `None` keeps the embedded table as is.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Amends the country list (columns as `countries.csv`).
    pub countries: Option<PathBuf>,
    /// Amends MCC/MNC → country (columns `mcc,mnc,alpha3`).
    pub plmn: Option<PathBuf>,
    /// Amends E.164 prefix → country (columns `prefix,alpha3`).
    pub calling_codes: Option<PathBuf>,
    /// Amends income groups (columns `alpha3,income_group,vintage`).
    pub income_groups: Option<PathBuf>,
    /// Amends HDI groups (columns `alpha3,hdi_group,vintage`).
    pub hdi_groups: Option<PathBuf>,
    /// Amends time zones (columns `alpha3,time_zone`).
    pub time_zones: Option<PathBuf>,
}

/// Every code list, loaded and cross-checked: each country code used by another table is in
/// the country list.
#[derive(Debug, Clone)]
pub struct RefData {
    /// ISO 3166-1 countries with their M49 regions.
    pub countries: Countries,
    /// MCC/MNC → country.
    pub plmn: PlmnTable,
    /// E.164 prefix → country.
    pub calling_codes: CallingCodes,
    /// World Bank income groups.
    pub income_groups: IncomeGroups,
    /// UNDP HDI groups.
    pub hdi_groups: HdiGroups,
    /// Principal time zone per country.
    pub time_zones: TimeZones,
}

impl RefData {
    /// The code lists compiled into the binary.
    pub fn embedded() -> Self {
        Self::load(&Overrides::default()).expect("embedded code lists are valid (tested)")
    }

    /// The embedded code lists amended by the user files in `overrides`.
    pub fn load(overrides: &Overrides) -> Result<Self, RefDataError> {
        let src = |p: &Option<PathBuf>| -> Result<Option<(String, String)>, RefDataError> {
            p.as_deref().map(read_override).transpose()
        };
        let countries = Countries::load(src(&overrides.countries)?)?;
        let known = |c| countries.get(c).is_some();
        let plmn = PlmnTable::load(src(&overrides.plmn)?, &known)?;
        let calling_codes = CallingCodes::load(src(&overrides.calling_codes)?, &known)?;
        let income_groups = IncomeGroups::load(src(&overrides.income_groups)?, &known)?;
        let hdi_groups = HdiGroups::load(src(&overrides.hdi_groups)?, &known)?;
        let time_zones = TimeZones::load(src(&overrides.time_zones)?, &known)?;
        Ok(Self {
            countries,
            plmn,
            calling_codes,
            income_groups,
            hdi_groups,
            time_zones,
        })
    }

    /// Whether `country` is in the Global South under `definition`; `None` where the
    /// definition does not classify it (a territory without an income group, say).
    pub fn global_south(
        &self,
        country: borderflow_core::CountryCode,
        definition: GlobalSouth,
    ) -> Option<South> {
        groups::global_south(self, country, definition)
    }
}

/// The embedded tables as (file name, CSV text), for users who start an override from them.
pub fn embedded_tables() -> [(&'static str, &'static str); 6] {
    [
        ("countries.csv", countries::EMBEDDED),
        ("plmn.csv", plmn::EMBEDDED),
        ("e164.csv", e164::EMBEDDED),
        ("income_groups.csv", groups::EMBEDDED_INCOME),
        ("hdi_groups.csv", groups::EMBEDDED_HDI),
        ("timezones.csv", timezones::EMBEDDED),
    ]
}

fn read_override(path: &Path) -> Result<(String, String), RefDataError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RefDataError::Read {
        file: name.clone(),
        message: e.to_string(),
    })?;
    Ok((name, text))
}
