//! SDMX for a release: the SDMX-CSV 2.0 data files and the SDMX-ML 3.0 structure message that
//! describes them — one data structure definition and dataflow per table, the concept scheme,
//! and every code list a value is drawn from — so an SDMX registry or library can load the
//! structures and check every observation against them.
//!
//! The ids are the pipeline's ([`SdmxConfig`]: agency, version, dataflow ids). Codes:
//! countries are ISO 3166-1 alpha-3; partner groups are UN M49 codes (`001` world, `002`
//! Africa, `202` Sub-Saharan Africa), World Bank income codes (`LIC` …), `SOUTH`/`NORTH`, and
//! `_X` for a country a grouping does not allocate; `_Z` is SDMX's "not applicable" (the partner
//! of `resident`). `OBS_STATUS` and `CONF_STATUS` use the codes of SDMX's cross-domain code
//! lists (A normal, Q suppressed, L not collected; F free, C confidential), carried in the
//! message under the pipeline's agency so it loads with no external reference.
//!
//! The XML is written by hand: it is one fixed shape of about a hundred elements, and a
//! general XML or SDMX crate would add more than it saves (none on crates.io writes SDMX 3.0
//! structures).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use borderflow_core::Category;
use borderflow_refdata::RefData;
use serde::{Deserialize, Serialize};

use crate::corridors::{GROUPINGS, UNCLASSIFIED};
use crate::report::esc;
use crate::table::{
    ALL_PARTNERS, CellStatus, Codelist, ReleasedTable, Role, STRUCTURES, TABLES, TableSchema, Unit,
    ValueKind,
};
use crate::totals::Flow;
use crate::write::{WriteError, write_file, write_lines};

/// File name of the structure message in a release directory.
pub const STRUCTURE_FILE: &str = "structure.sdmx.xml";
/// SDMX code for "not applicable" (the partner of `resident`).
pub const NOT_APPLICABLE: &str = "_Z";
/// SDMX code for "not allocated": a partner country the grouping does not classify.
pub const NOT_ALLOCATED: &str = "_X";
/// UN M49 code of the world.
pub const WORLD: &str = "001";

/// The SDMX identity of a pipeline's releases: who maintains the dataflows, their version,
/// and the dataflow id of each table. In the pipeline file as `[sdmx]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SdmxConfig {
    /// The maintenance agency (`KNBS`, `ESTAT`): an SDMX nested NCName.
    pub agency: String,
    /// The version of the structures, `MAJOR.MINOR.PATCH` (SDMX 3.0 semantic versioning).
    pub version: String,
    /// Dataflow id per table name (`categories = "DF_MOBILITY_CAT"`); tables not listed keep
    /// their default id (`DF_BORDERFLOW_CATEGORIES`).
    pub dataflows: BTreeMap<String, String>,
}

impl Default for SdmxConfig {
    fn default() -> Self {
        SdmxConfig {
            agency: "BORDERFLOW".into(),
            version: "1.0.0".into(),
            dataflows: BTreeMap::new(),
        }
    }
}

impl SdmxConfig {
    /// Whether it is the default (left out of a serialised pipeline).
    pub fn is_default(&self) -> bool {
        *self == SdmxConfig::default()
    }

    /// Checks the ids against SDMX's patterns; the error names the key at fault.
    pub fn check(&self) -> Result<(), String> {
        let ncname = |s: &str| {
            let mut c = s.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic())
                && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        };
        if self.agency.split('.').any(|part| !ncname(part)) {
            return Err(format!(
                "sdmx.agency: {:?} is not an SDMX agency id (letters, digits, _ and -, starting with a letter; dots between levels)",
                self.agency
            ));
        }
        let parts: Vec<&str> = self.version.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "sdmx.version: {:?} is not MAJOR.MINOR.PATCH (SDMX 3.0 versions, e.g. 1.0.0)",
                self.version
            ));
        }
        for (table, id) in &self.dataflows {
            if !TABLES.iter().any(|t| t.name == table) {
                let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
                return Err(format!(
                    "sdmx.dataflows.{table}: no such table; expected one of {}",
                    names.join(", ")
                ));
            }
            if !is_id(id) {
                return Err(format!(
                    "sdmx.dataflows.{table}: {id:?} is not an SDMX id (letters, digits, _, @, $ and -)"
                ));
            }
        }
        Ok(())
    }

    /// The dataflow id of `table`.
    pub fn dataflow<'a>(&'a self, table: &'a TableSchema) -> &'a str {
        self.dataflows
            .get(table.name)
            .map_or(table.dataflow, String::as_str)
    }

    /// The SDMX-CSV `STRUCTURE_ID` of `table`: `AGENCY:DATAFLOW(VERSION)`.
    pub fn structure_id(&self, table: &TableSchema) -> String {
        format!("{}:{}({})", self.agency, self.dataflow(table), self.version)
    }

    fn urn(&self, class: &str, id: &str) -> String {
        format!(
            "urn:sdmx:org.sdmx.infomodel.{class}={}:{id}({})",
            self.agency, self.version
        )
    }
}

/// SDMX's `IDType`: letters, digits, `_`, `@`, `$`, `-`.
fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@$-".contains(c))
}

/// An SDMX code for a label: upper case, anything but letters, digits and `_` turned into `_`
/// (`south_to_south` → `SOUTH_TO_SOUTH`).
pub fn sdmx_code(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        let c = ch.to_ascii_uppercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// SDMX frequency of a period: `A` for a year, `M` for a month.
pub fn sdmx_freq(period: &str) -> &'static str {
    if period.len() == 4 { "A" } else { "M" }
}

/// The codes of every code list, built once from the reference data: the country list and
/// the M49 regions and sub-regions it names.
#[derive(Debug, Clone)]
pub struct SdmxCodes {
    areas: Vec<(String, String)>,
    groups: Vec<(String, String)>,
    group_code: BTreeMap<String, String>,
}

impl SdmxCodes {
    /// The code lists of `rd`.
    pub fn new(rd: &RefData) -> Self {
        let mut areas: Vec<(String, String)> = rd
            .countries
            .iter()
            .map(|c| (c.alpha3.to_string(), c.name.clone()))
            .collect();
        areas.push((NOT_APPLICABLE.into(), "Not applicable".into()));
        areas.push((ALL_PARTNERS.into(), "Total: all partner countries".into()));

        let mut group_code = BTreeMap::new();
        let mut groups = vec![(WORLD.to_string(), "World".to_string())];
        group_code.insert("world".to_string(), WORLD.to_string());
        let mut regions = BTreeMap::new();
        let mut sub_regions = BTreeMap::new();
        for c in rd.countries.iter() {
            for (name, code, into) in [
                (&c.region, &c.region_code, &mut regions),
                (&c.sub_region, &c.sub_region_code, &mut sub_regions),
            ] {
                if !name.is_empty() {
                    let code = if code.is_empty() {
                        sdmx_code(name)
                    } else {
                        code.clone()
                    };
                    into.insert(code, name.clone());
                }
            }
        }
        for (code, name) in regions.into_iter().chain(sub_regions) {
            group_code.insert(name.clone(), code.clone());
            groups.push((code, name));
        }
        for (code, name) in [
            ("LIC", "Low income (World Bank)"),
            ("LMC", "Lower-middle income (World Bank)"),
            ("UMC", "Upper-middle income (World Bank)"),
            ("HIC", "High income (World Bank)"),
        ] {
            group_code.insert(code.to_string(), code.to_string());
            groups.push((code.into(), name.into()));
        }
        for (label, code, name) in [
            (
                "South",
                "SOUTH",
                "Global South (under the grouping's definition)",
            ),
            (
                "North",
                "NORTH",
                "Global North (under the grouping's definition)",
            ),
            (
                UNCLASSIFIED,
                NOT_ALLOCATED,
                "Not allocated: the grouping does not classify the country",
            ),
        ] {
            group_code.insert(label.to_string(), code.to_string());
            groups.push((code.into(), name.into()));
        }
        SdmxCodes {
            areas,
            groups,
            group_code,
        }
    }

    /// The SDMX code of `value` in `list`.
    pub fn code(&self, list: Codelist, value: &str) -> String {
        match list {
            Codelist::Area => value.to_string(),
            Codelist::CounterpartGroup => self
                .group_code
                .get(value)
                .cloned()
                .unwrap_or_else(|| sdmx_code(value)),
            _ => sdmx_code(value),
        }
    }

    /// Every (code, name) of `list`.
    pub fn codes(&self, list: Codelist) -> Vec<(String, String)> {
        let own = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(v, n)| (sdmx_code(v), n.to_string()))
                .collect::<Vec<_>>()
        };
        let categories = || {
            Category::ALL
                .iter()
                .map(|c| (sdmx_code(c.as_str()), c.name().to_string()))
                .collect::<Vec<_>>()
        };
        match list {
            Codelist::Area => self.areas.clone(),
            Codelist::CounterpartGroup => self.groups.clone(),
            Codelist::MobilityCategory => categories(),
            Codelist::MobilityTotal => {
                let mut c = categories();
                c.extend(own(&[
                    (Flow::Inbound.as_str(), "All inbound categories"),
                    (Flow::Outbound.as_str(), "All outbound categories"),
                ]));
                c
            }
            Codelist::Grouping => GROUPINGS
                .iter()
                .map(|g| (sdmx_code(g), grouping_name(g).to_string()))
                .collect(),
            Codelist::Flow => own(&[
                ("inbound", "Into the measuring country"),
                ("outbound", "Out of the measuring country"),
            ]),
            Codelist::FlowDirection => own(&[
                ("south_to_south", "South to South"),
                ("south_to_north", "South to North"),
                ("north_to_south", "North to South"),
                ("north_to_north", "North to North"),
            ]),
        }
    }
}

fn grouping_name(g: &str) -> &'static str {
    match g {
        "all" => "All partner countries",
        "m49_region" => "UN M49 region",
        "m49_sub_region" => "UN M49 sub-region",
        "wb_income" => "World Bank income group",
        "south_un_m49" => "Global South: UN M49 developing regions",
        "south_wb_income" => "Global South: World Bank low and middle income",
        _ => "Global South: UNDP HDI below very high",
    }
}

impl Codelist {
    /// Every code list, in the order the structure message lists them.
    pub const ALL: [Codelist; 7] = [
        Codelist::Area,
        Codelist::MobilityCategory,
        Codelist::MobilityTotal,
        Codelist::Grouping,
        Codelist::CounterpartGroup,
        Codelist::Flow,
        Codelist::FlowDirection,
    ];

    /// The code list's SDMX id.
    pub const fn id(self) -> &'static str {
        match self {
            Codelist::Area => "CL_AREA",
            Codelist::MobilityCategory => "CL_MOB_CATEGORY",
            Codelist::MobilityTotal => "CL_MOB_TOTAL",
            Codelist::Grouping => "CL_GROUPING",
            Codelist::CounterpartGroup => "CL_COUNTERPART_GROUP",
            Codelist::Flow => "CL_FLOW",
            Codelist::FlowDirection => "CL_FLOW_DIRECTION",
        }
    }

    /// The code list's name.
    pub const fn name(self) -> &'static str {
        match self {
            Codelist::Area => "Countries and territories (ISO 3166-1 alpha-3)",
            Codelist::MobilityCategory => "Mobility categories (ICLS 2018 proxies)",
            Codelist::MobilityTotal => "Mobility categories and directions of flow",
            Codelist::Grouping => "Groupings of partner countries",
            Codelist::CounterpartGroup => {
                "Partner-country groups (UN M49, World Bank income, North-South)"
            }
            Codelist::Flow => "Direction of flow relative to the measuring country",
            Codelist::FlowDirection => "Direction across the North-South divide",
        }
    }
}

/// The fixed columns of every dataflow, before the table's own dimensions (`FREQ`,
/// `REF_AREA`) and after them (`TIME_PERIOD`, the measure and the observation attributes).
const OBS_ATTRIBUTES: [&str; 4] = ["OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE", "NOISE_SD"];

/// The SDMX-CSV 2.0 header of a table.
pub fn sdmx_header(table: &ReleasedTable) -> Vec<&'static str> {
    let mut h = vec!["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ", "REF_AREA"];
    h.extend(
        table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Dimension)
            .map(|d| d.sdmx),
    );
    h.extend(["TIME_PERIOD", "OBS_VALUE"]);
    h.extend(OBS_ATTRIBUTES);
    h.extend(
        table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Attribute)
            .map(|d| d.sdmx),
    );
    h
}

/// Writes the table as SDMX-CSV 2.0 against its dataflow under `ids`, codes from `codes`.
pub fn write_sdmx_csv(
    table: &ReleasedTable,
    ids: &SdmxConfig,
    codes: &SdmxCodes,
    path: &Path,
) -> Result<(), WriteError> {
    let schema = STRUCTURES
        .iter()
        .find(|t| t.name == table.name)
        .expect("every released table has a schema");
    let structure_id = ids.structure_id(schema);
    let m = table.measuring_country.to_string();
    let freq = sdmx_freq(&table.period);
    let value = |d: &crate::table::Dimension, i: usize| match (&d.values[i], d.kind) {
        (None, ValueKind::Code(Codelist::Area)) => NOT_APPLICABLE.to_string(),
        (None, _) => String::new(),
        (Some(v), ValueKind::Code(list)) => codes.code(list, v),
        (Some(v), ValueKind::Count | ValueKind::Decimal) => v.clone(),
    };
    let rows = table.cells.iter().enumerate().map(|(i, c)| {
        let mut f = vec![
            "dataflow".to_string(),
            structure_id.clone(),
            "I".to_string(),
            freq.to_string(),
            m.clone(),
        ];
        for d in table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Dimension)
        {
            f.push(value(d, i));
        }
        f.push(table.period.clone());
        f.push(c.subscribers.map_or(String::new(), |v| v.to_string()));
        f.push(c.status.obs_status().to_string());
        f.push(c.status.conf_status().to_string());
        f.push(table.unit.code().to_string());
        f.push(c.noise_sd().map_or(String::new(), |s| s.to_string()));
        for d in table
            .dimensions
            .iter()
            .filter(|d| d.role == Role::Attribute)
        {
            f.push(value(d, i));
        }
        f.join(",")
    });
    write_lines(
        path,
        std::iter::once(sdmx_header(table).join(",")).chain(rows),
    )
}

/// A code list as written: its id, its name, and its (code, name) pairs.
type ListEntries = (&'static str, &'static str, Vec<(String, String)>);

const NS: &str = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0";

/// The SDMX-ML 3.0 structure message for `tables` under `ids`: code lists, the concept
/// scheme, one dataflow and one data structure definition per table. `prepared` is the
/// header's timestamp (RFC 3339); `test` marks the message as a test's (`<mes:Test>`), as in
/// a release made with a test seed.
pub fn structure_message(
    ids: &SdmxConfig,
    codes: &SdmxCodes,
    tables: &[&TableSchema],
    prepared: &str,
    test: bool,
) -> String {
    let mut x = String::new();
    let w = &mut x;
    let ag = esc(&ids.agency);
    let ver = esc(&ids.version);
    let _ = writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        w,
        r#"<mes:Structure xmlns:mes="{NS}/message" xmlns:str="{NS}/structure" xmlns:com="{NS}/common">"#
    );
    let _ = writeln!(
        w,
        "<mes:Header><mes:ID>BORDERFLOW_STRUCTURES</mes:ID><mes:Test>{test}</mes:Test><mes:Prepared>{}</mes:Prepared><mes:Sender id=\"{ag}\"/></mes:Header>",
        esc(prepared)
    );
    let _ = writeln!(w, "<mes:Structures>");
    let maintainable = |w: &mut String, tag: &str, class: &str, id: &str, name: &str| {
        let _ = writeln!(
            w,
            r#"<str:{tag} urn="{}" isExternalReference="false" agencyID="{ag}" id="{id}" version="{ver}"><com:Name xml:lang="en">{}</com:Name>"#,
            esc(&ids.urn(class, id)),
            esc(name)
        );
    };

    // Code lists: the table's own, then the observation attributes'.
    let _ = writeln!(w, "<str:Codelists>");
    let used: Vec<Codelist> = Codelist::ALL
        .into_iter()
        .filter(|l| {
            *l == Codelist::Area
                || tables
                    .iter()
                    .any(|t| t.columns.iter().any(|c| c.kind == ValueKind::Code(*l)))
        })
        .collect();
    let status_lists: [ListEntries; 4] = [
        (
            "CL_FREQ",
            "Frequency",
            vec![
                ("A".into(), "Annual".into()),
                ("M".into(), "Monthly".into()),
            ],
        ),
        (
            "CL_OBS_STATUS",
            "Observation status (codes of SDMX CL_OBS_STATUS)",
            [
                CellStatus::Published,
                CellStatus::Suppressed,
                CellStatus::NotMeasured,
            ]
            .iter()
            .map(|s| (s.obs_status().to_string(), obs_status_name(*s).to_string()))
            .collect(),
        ),
        (
            "CL_CONF_STATUS",
            "Confidentiality status (codes of SDMX CL_CONF_STATUS)",
            vec![
                ("F".into(), "Free".into()),
                ("C".into(), "Confidential statistical information".into()),
            ],
        ),
        (
            "CL_UNIT_MEASURE",
            "Unit of measure",
            [Unit::Sim, Unit::Person]
                .iter()
                .map(|u| (u.code().to_string(), u.description().to_string()))
                .collect(),
        ),
    ];
    let lists = used
        .iter()
        .map(|l| (l.id(), l.name(), codes.codes(*l)))
        .chain(status_lists);
    for (id, name, entries) in lists {
        maintainable(w, "Codelist", "codelist.Codelist", id, name);
        for (code, label) in entries {
            let _ = writeln!(
                w,
                r#"<str:Code urn="{}.{}" id="{}"><com:Name xml:lang="en">{}</com:Name></str:Code>"#,
                esc(&ids.urn("codelist.Code", id)),
                esc(&code),
                esc(&code),
                esc(&label)
            );
        }
        let _ = writeln!(w, "</str:Codelist>");
    }
    let _ = writeln!(w, "</str:Codelists>");

    // The concept scheme: every concept any table uses.
    let mut concepts: BTreeMap<&str, &str> = [
        ("FREQ", "Frequency"),
        (
            "REF_AREA",
            "Measuring country (whose operator's records these are)",
        ),
        ("TIME_PERIOD", "Reference period"),
        (
            "OBS_VALUE",
            "Value: a noisy count of SIMs (differential privacy), or persons estimated from such counts; UNIT_MEASURE says which",
        ),
        ("OBS_STATUS", "Observation status"),
        ("CONF_STATUS", "Confidentiality status"),
        ("UNIT_MEASURE", "Unit of measure"),
        (
            "NOISE_SD",
            "Standard deviation of the noise in the value; for persons, the standard error from the noise and the factors (95% margin: 1.96 times it)",
        ),
    ]
    .into_iter()
    .collect();
    for t in tables {
        for c in t.columns {
            concepts.insert(c.sdmx, concept_name(c.sdmx));
        }
    }
    let _ = writeln!(w, "<str:ConceptSchemes>");
    maintainable(
        w,
        "ConceptScheme",
        "conceptscheme.ConceptScheme",
        "CS_BORDERFLOW",
        "Concepts of cross-border mobility statistics from mobile network data",
    );
    for (id, name) in &concepts {
        let _ = writeln!(
            w,
            r#"<str:Concept urn="{}.{id}" id="{id}"><com:Name xml:lang="en">{}</com:Name></str:Concept>"#,
            esc(&ids.urn("conceptscheme.Concept", "CS_BORDERFLOW")),
            esc(name)
        );
    }
    let _ = writeln!(w, "</str:ConceptScheme>\n</str:ConceptSchemes>");

    let _ = writeln!(w, "<str:Dataflows>");
    for t in tables {
        let df = ids.dataflow(t);
        maintainable(w, "Dataflow", "datastructure.Dataflow", df, t.title);
        let _ = writeln!(
            w,
            "<str:Structure>{}</str:Structure>\n</str:Dataflow>",
            esc(&ids.urn("datastructure.DataStructure", &dsd_id(t)))
        );
    }
    let _ = writeln!(w, "</str:Dataflows>");

    let _ = writeln!(w, "<str:DataStructures>");
    for t in tables {
        write_dsd(w, ids, t);
    }
    let _ = writeln!(w, "</str:DataStructures>");
    let _ = writeln!(w, "</mes:Structures>\n</mes:Structure>");
    x
}

fn obs_status_name(s: CellStatus) -> &'static str {
    match s {
        CellStatus::Published => "Normal value",
        CellStatus::Suppressed => "Missing value; suppressed",
        CellStatus::NotMeasured => "Missing value; data exist but were not collected",
    }
}

fn concept_name(id: &str) -> &'static str {
    match id {
        "MOB_CATEGORY" => "Mobility category",
        "COUNTERPART_AREA" => "Partner country",
        "ORIGIN_AREA" => "Country crossed from",
        "DESTINATION_AREA" => "Country crossed to",
        "MOB_TOTAL" => "Mobility category or direction of flow",
        "GROUPING" => "Grouping of partner countries",
        "COUNTERPART_GROUP" => "Partner-country group",
        "FLOW" => "Direction of flow",
        "FLOW_DIRECTION" => "Direction across the North-South divide",
        "CELLS" => "Partner-country cells summed",
        "MOE_95" => "Half-width of the 95% interval of the value",
        "SIMS" => "Noisy count of SIMs the persons are estimated from",
        "SIMS_NOISE_SD" => "Standard deviation of the noise in the count of SIMs",
        "COVERAGE" => "Share of the population's SIMs the combined operators carry",
        "SIMS_PER_PERSON" => "SIMs per person (multi-SIM factor)",
        "RATE_PER_1000" => "Persons per 1,000 of the reference population",
        "RATE_MOE_95" => "Half-width of the 95% interval of the rate per 1,000",
        _ => "Concept",
    }
}

/// The data structure definition id of a table: `DSD_BORDERFLOW_CATEGORIES`.
pub fn dsd_id(t: &TableSchema) -> String {
    format!("DSD_BORDERFLOW_{}", sdmx_code(t.name))
}

fn write_dsd(w: &mut String, ids: &SdmxConfig, t: &TableSchema) {
    let dsd = dsd_id(t);
    let ag = esc(&ids.agency);
    let ver = esc(&ids.version);
    let dsd_urn = ids.urn("datastructure.DataStructure", &dsd);
    let concept = |id: &str| {
        format!(
            "<str:ConceptIdentity>{}.{id}</str:ConceptIdentity>",
            esc(&ids.urn("conceptscheme.Concept", "CS_BORDERFLOW"))
        )
    };
    let enumeration = |cl: &str| {
        format!(
            "<str:LocalRepresentation><str:Enumeration>{}</str:Enumeration></str:LocalRepresentation>",
            esc(&ids.urn("codelist.Codelist", cl))
        )
    };
    let text = |kind: &str| {
        format!(
            r#"<str:LocalRepresentation><str:TextFormat textType="{kind}"/></str:LocalRepresentation>"#
        )
    };
    let _ = writeln!(
        w,
        r#"<str:DataStructure urn="{}" isExternalReference="false" agencyID="{ag}" id="{dsd}" version="{ver}"><com:Name xml:lang="en">{}</com:Name>"#,
        esc(&dsd_urn),
        esc(t.title)
    );
    let _ = writeln!(w, "<str:DataStructureComponents>");
    let _ = writeln!(
        w,
        r#"<str:DimensionList urn="{}" id="DimensionDescriptor">"#,
        esc(&format!(
            "urn:sdmx:org.sdmx.infomodel.datastructure.DimensionDescriptor={}:{dsd}({}).DimensionDescriptor",
            ids.agency, ids.version
        ))
    );
    let mut dims: Vec<(&str, String)> = vec![
        ("FREQ", enumeration("CL_FREQ")),
        ("REF_AREA", enumeration(Codelist::Area.id())),
    ];
    for c in t.columns.iter().filter(|c| c.role == Role::Dimension) {
        let rep = match c.kind {
            ValueKind::Code(l) => enumeration(l.id()),
            ValueKind::Count => text("Integer"),
            ValueKind::Decimal => text("Double"),
        };
        dims.push((c.sdmx, rep));
    }
    for (pos, (id, rep)) in dims.iter().enumerate() {
        let _ = writeln!(
            w,
            r#"<str:Dimension id="{id}" position="{}">{}{rep}</str:Dimension>"#,
            pos + 1,
            concept(id)
        );
    }
    let _ = writeln!(
        w,
        r#"<str:TimeDimension id="TIME_PERIOD">{}{}</str:TimeDimension>"#,
        concept("TIME_PERIOD"),
        text("ObservationalTimePeriod")
    );
    let _ = writeln!(w, "</str:DimensionList>");
    let _ = writeln!(w, r#"<str:AttributeList id="AttributeDescriptor">"#);
    let mut attrs: Vec<(&str, &str, String)> = vec![
        ("OBS_STATUS", "mandatory", enumeration("CL_OBS_STATUS")),
        ("CONF_STATUS", "mandatory", enumeration("CL_CONF_STATUS")),
        ("UNIT_MEASURE", "mandatory", enumeration("CL_UNIT_MEASURE")),
        ("NOISE_SD", "optional", text("Double")),
    ];
    for c in t.columns.iter().filter(|c| c.role == Role::Attribute) {
        let rep = match c.kind {
            ValueKind::Code(l) => enumeration(l.id()),
            ValueKind::Count => text("Integer"),
            ValueKind::Decimal => text("Double"),
        };
        attrs.push((c.sdmx, "optional", rep));
    }
    for (id, usage, rep) in &attrs {
        let _ = writeln!(
            w,
            r#"<str:Attribute id="{id}" usage="{usage}">{}{rep}<str:AttributeRelationship><str:Observation/></str:AttributeRelationship></str:Attribute>"#,
            concept(id)
        );
    }
    let _ = writeln!(w, "</str:AttributeList>");
    let _ = writeln!(
        w,
        r#"<str:MeasureList id="MeasureDescriptor"><str:Measure id="OBS_VALUE" usage="optional">{}{}</str:Measure></str:MeasureList>"#,
        concept("OBS_VALUE"),
        text("Integer")
    );
    let _ = writeln!(w, "</str:DataStructureComponents>\n</str:DataStructure>");
}

/// Writes the structure message for every release table to `path` (`test` as in
/// [`structure_message`]).
pub fn write_structures(
    ids: &SdmxConfig,
    codes: &SdmxCodes,
    prepared: &str,
    test: bool,
    path: &Path,
) -> Result<(), WriteError> {
    write_file(
        path,
        structure_message(ids, codes, &STRUCTURES, prepared, test).as_bytes(),
    )
}
