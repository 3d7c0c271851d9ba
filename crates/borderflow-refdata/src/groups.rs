//! Country groupings for roll-ups: World Bank income groups, UNDP HDI groups, and the three
//! "Global South" definitions built on them.

use std::collections::BTreeMap;
use std::fmt;

use borderflow_core::CountryCode;

use crate::RefData;
use crate::csvload::{RefDataError, Row, country, load_table};

pub(crate) const EMBEDDED_INCOME: &str = include_str!("../data/income_groups.csv");
pub(crate) const EMBEDDED_HDI: &str = include_str!("../data/hdi_groups.csv");

/// World Bank income group (GNI per capita, Atlas method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncomeGroup {
    /// Low income.
    Low,
    /// Lower-middle income.
    LowerMiddle,
    /// Upper-middle income.
    UpperMiddle,
    /// High income.
    High,
}

impl IncomeGroup {
    /// The World Bank's code (LIC, LMC, UMC, HIC).
    pub const fn code(self) -> &'static str {
        match self {
            IncomeGroup::Low => "LIC",
            IncomeGroup::LowerMiddle => "LMC",
            IncomeGroup::UpperMiddle => "UMC",
            IncomeGroup::High => "HIC",
        }
    }
}

/// UNDP Human Development Index group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HdiGroup {
    /// HDI below 0.550.
    Low,
    /// HDI 0.550–0.699.
    Medium,
    /// HDI 0.700–0.799.
    High,
    /// HDI 0.800 and above.
    VeryHigh,
}

impl HdiGroup {
    /// The code used in the table (`low`, `medium`, `high`, `very_high`).
    pub const fn code(self) -> &'static str {
        match self {
            HdiGroup::Low => "low",
            HdiGroup::Medium => "medium",
            HdiGroup::High => "high",
            HdiGroup::VeryHigh => "very_high",
        }
    }
}

/// A grouping with the edition of the source it was taken from.
#[derive(Debug, Clone)]
struct Vintaged<G> {
    groups: BTreeMap<CountryCode, (G, String)>,
}

impl<G: Copy> Vintaged<G> {
    fn load(
        name: &str,
        embedded: &str,
        user: Option<(String, String)>,
        column: &str,
        known: &dyn Fn(CountryCode) -> bool,
        parse: impl Fn(&str) -> Option<G>,
    ) -> Result<Self, RefDataError> {
        let groups = load_table(
            name,
            embedded,
            user,
            &["alpha3", column, "vintage"],
            |row: &Row| {
                let c = country(row, 0, known)?;
                let g = parse(row.get(1))
                    .ok_or_else(|| row.error(format!("unknown {column} {:?}", row.get(1))))?;
                if row.get(2).is_empty() {
                    return Err(row.error("vintage is empty"));
                }
                Ok((c, (g, row.get(2).to_string())))
            },
        )?;
        Ok(Self { groups })
    }

    fn of(&self, c: CountryCode) -> Option<(G, &str)> {
        self.groups.get(&c).map(|(g, v)| (*g, v.as_str()))
    }
}

/// World Bank income groups, each with the fiscal-year classification it comes from.
#[derive(Debug, Clone)]
pub struct IncomeGroups(Vintaged<IncomeGroup>);

impl IncomeGroups {
    pub(crate) fn load(
        user: Option<(String, String)>,
        known: &dyn Fn(CountryCode) -> bool,
    ) -> Result<Self, RefDataError> {
        Vintaged::load(
            "income_groups.csv",
            EMBEDDED_INCOME,
            user,
            "income_group",
            known,
            |s| {
                [
                    IncomeGroup::Low,
                    IncomeGroup::LowerMiddle,
                    IncomeGroup::UpperMiddle,
                    IncomeGroup::High,
                ]
                .into_iter()
                .find(|g| g.code() == s)
            },
        )
        .map(Self)
    }

    /// The income group of `c` and its vintage (e.g. `WB FY2026`); `None` if unclassified.
    pub fn of(&self, c: CountryCode) -> Option<(IncomeGroup, &str)> {
        self.0.of(c)
    }
}

/// UNDP HDI groups, each with the Human Development Report edition it comes from.
#[derive(Debug, Clone)]
pub struct HdiGroups(Vintaged<HdiGroup>);

impl HdiGroups {
    pub(crate) fn load(
        user: Option<(String, String)>,
        known: &dyn Fn(CountryCode) -> bool,
    ) -> Result<Self, RefDataError> {
        Vintaged::load(
            "hdi_groups.csv",
            EMBEDDED_HDI,
            user,
            "hdi_group",
            known,
            |s| {
                [
                    HdiGroup::Low,
                    HdiGroup::Medium,
                    HdiGroup::High,
                    HdiGroup::VeryHigh,
                ]
                .into_iter()
                .find(|g| g.code() == s)
            },
        )
        .map(Self)
    }

    /// The HDI group of `c` and its vintage (e.g. `HDR 2025`); `None` if not ranked.
    pub fn of(&self, c: CountryCode) -> Option<(HdiGroup, &str)> {
        self.0.of(c)
    }
}

/// The three published definitions of the "Global South" borderflow rolls up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalSouth {
    /// UN M49 developing regions: Africa, the Americas except Northern America, Asia except
    /// Japan, Oceania except Australia and New Zealand.
    UnRegions,
    /// World Bank low- and middle-income economies (LIC, LMC, UMC).
    WorldBankLmic,
    /// UNDP: countries outside the "very high" human development group.
    UndpHdi,
}

impl GlobalSouth {
    /// Every definition, in the order tables list them.
    pub const ALL: [GlobalSouth; 3] = [
        GlobalSouth::UnRegions,
        GlobalSouth::WorldBankLmic,
        GlobalSouth::UndpHdi,
    ];

    /// The code used in the `corridors` table.
    pub const fn code(self) -> &'static str {
        match self {
            GlobalSouth::UnRegions => "un_m49",
            GlobalSouth::WorldBankLmic => "wb_income",
            GlobalSouth::UndpHdi => "undp_hdi",
        }
    }
}

/// A country's side of the North–South divide under one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum South {
    /// Global South.
    South,
    /// Global North.
    North,
}

impl fmt::Display for South {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            South::South => "South",
            South::North => "North",
        })
    }
}

pub(crate) fn global_south(rd: &RefData, c: CountryCode, def: GlobalSouth) -> Option<South> {
    let side = |south: bool| if south { South::South } else { South::North };
    match def {
        GlobalSouth::UnRegions => {
            let country = rd.countries.get(c)?;
            match country.region.as_str() {
                "Africa" => Some(South::South),
                "Europe" => Some(South::North),
                "Americas" => Some(side(country.sub_region != "Northern America")),
                "Asia" => Some(side(c.as_str() != "JPN")),
                "Oceania" => Some(side(country.sub_region != "Australia and New Zealand")),
                _ => None,
            }
        }
        GlobalSouth::WorldBankLmic => rd
            .income_groups
            .of(c)
            .map(|(g, _)| side(g != IncomeGroup::High)),
        GlobalSouth::UndpHdi => rd
            .hdi_groups
            .of(c)
            .map(|(g, _)| side(g != HdiGroup::VeryHigh)),
    }
}
