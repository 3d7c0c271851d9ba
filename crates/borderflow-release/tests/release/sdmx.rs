//! The SDMX structure message against the data it describes: every code an SDMX-CSV file
//! writes is a code of its component's code list, partner groups are M49 codes, the pipeline's
//! agency, version and dataflow ids reach both files, bad ids are refused by key, and
//! not-measured cells are missing (status L, no noise) rather than withheld.

use std::collections::{BTreeMap, BTreeSet};

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::ProtectedCell;
use borderflow_refdata::RefData;
use borderflow_release::sdmx::{sdmx_header, structure_message};
use borderflow_release::{
    CATEGORIES, CORRIDORS, Codelist, Domain, ReleasedTable, SdmxCodes, SdmxConfig, TABLES,
    corridors,
};

fn c(s: &str) -> CountryCode {
    s.parse().unwrap()
}

fn cells(domain: &Domain, noisy: i64) -> Vec<ProtectedCell> {
    domain
        .categories
        .iter()
        .map(|_| ProtectedCell {
            subscribers: Some(noisy),
            noise_sd: 2.0,
            suppressed: false,
            noisy,
        })
        .collect()
}

/// The codes of each code list in a structure message, read back from its XML.
fn codelists(xml: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for block in xml.split("<str:Codelist ").skip(1) {
        let id = block.split(" id=\"").nth(1).unwrap();
        let id = id[..id.find('"').unwrap()].to_string();
        let body = &block[..block.find("</str:Codelist>").unwrap()];
        let codes = body
            .split("<str:Code ")
            .skip(1)
            .map(|c| {
                let id = c.split(" id=\"").nth(1).unwrap();
                id[..id.find('"').unwrap()].to_string()
            })
            .collect();
        out.insert(id, codes);
    }
    out
}

#[test]
fn every_code_the_data_writes_is_in_its_code_list() {
    let rd = RefData::embedded();
    let m = c("KEN");
    let countries: Vec<CountryCode> = rd.countries.iter().map(|c| c.alpha3).collect();
    let domain = Domain::new(m, &countries);
    let noisy = cells(&domain, 40);
    let tables = [
        ReleasedTable::categories(&domain, &noisy, m, "2025"),
        corridors(&domain, &noisy, 16, 0.5, &rd, m, "2025"),
    ];
    let codes = SdmxCodes::new(&rd);
    let ids = SdmxConfig::default();
    let xml = structure_message(&ids, &codes, &TABLES, "2026-01-01T00:00:00Z", false);
    let lists = codelists(&xml);
    for list in Codelist::ALL {
        assert!(lists.contains_key(list.id()), "{} missing", list.id());
    }
    for id in [
        "CL_FREQ",
        "CL_OBS_STATUS",
        "CL_CONF_STATUS",
        "CL_UNIT_MEASURE",
    ] {
        assert!(lists.contains_key(id), "{id} missing");
    }
    assert_eq!(
        lists["CL_OBS_STATUS"],
        ["A", "L", "Q"].map(String::from).into()
    );
    assert_eq!(lists["CL_AREA"].len(), countries.len() + 2, "+ _Z and _T");
    assert_eq!(
        lists["CL_UNIT_MEASURE"],
        ["PERSON", "SIM"].map(String::from).into()
    );
    let dir = tempfile::tempdir().unwrap();
    for t in &tables {
        borderflow_release::write_all(t, &ids, &codes, dir.path()).unwrap();
        let text =
            std::fs::read_to_string(dir.path().join(format!("{}.sdmx.csv", t.name))).unwrap();
        let header = sdmx_header(t);
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            for d in &t.dimensions {
                let borderflow_release::ValueKind::Code(list) = d.kind else {
                    continue;
                };
                let at = header.iter().position(|h| *h == d.sdmx).unwrap();
                let code = fields[at];
                assert!(
                    code.is_empty() || lists[list.id()].contains(code),
                    "{}: {} = {code:?} is not in {}",
                    t.name,
                    d.sdmx,
                    list.id()
                );
            }
        }
    }
    // Partner groups are M49 codes, not names.
    let groups = &lists["CL_COUNTERPART_GROUP"];
    for code in [
        "001", "002", "142", "150", "202", "LIC", "HIC", "SOUTH", "NORTH", "_X",
    ] {
        assert!(groups.contains(code), "{code} missing from {groups:?}");
    }
    assert_eq!(
        codes.code(Codelist::CounterpartGroup, "Sub-Saharan Africa"),
        "202"
    );
    assert_eq!(codes.code(Codelist::CounterpartGroup, "Africa"), "002");
    assert_eq!(codes.code(Codelist::CounterpartGroup, "world"), "001");
    assert_eq!(codes.code(Codelist::CounterpartGroup, "unclassified"), "_X");
    let corridors = std::fs::read_to_string(dir.path().join("corridors.sdmx.csv")).unwrap();
    assert!(
        corridors.contains(",FRONTIER_IN,M49_SUB_REGION,202,2025,"),
        "Sub-Saharan Africa is 202"
    );
    assert!(!corridors.contains("SUB_SAHARAN_AFRICA"));
    // Every dataflow names its DSD, and every DSD is in the message.
    for t in TABLES {
        assert!(
            xml.contains(&format!("id=\"{}\"", t.dataflow)),
            "{}",
            t.name
        );
        assert!(xml.contains(&format!(
            "DataStructure=BORDERFLOW:DSD_BORDERFLOW_{}(1.0.0)",
            t.name.to_uppercase()
        )));
    }
}

#[test]
fn the_pipelines_ids_reach_the_structures_and_the_data() {
    let rd = RefData::embedded();
    let m = c("KEN");
    let domain = Domain::new(m, &[c("KEN"), c("UGA")]);
    let ids = SdmxConfig {
        agency: "KNBS".into(),
        version: "2.1.0".into(),
        dataflows: [("categories".to_string(), "DF_MOB_CAT".to_string())].into(),
    };
    ids.check().unwrap();
    assert_eq!(ids.structure_id(&CATEGORIES), "KNBS:DF_MOB_CAT(2.1.0)");
    assert_eq!(
        ids.structure_id(&CORRIDORS),
        "KNBS:DF_BORDERFLOW_CORRIDORS(2.1.0)"
    );
    let codes = SdmxCodes::new(&rd);
    let t = ReleasedTable::categories(&domain, &cells(&domain, 20), m, "2025-07");
    let dir = tempfile::tempdir().unwrap();
    borderflow_release::write_all(&t, &ids, &codes, dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join("categories.sdmx.csv")).unwrap();
    assert_eq!(
        text.lines().nth(1).unwrap(),
        "dataflow,KNBS:DF_MOB_CAT(2.1.0),I,M,KEN,RESIDENT,_Z,2025-07,20,A,F,SIM,2"
    );
    let xml = structure_message(&ids, &codes, &TABLES, "2026-01-01T00:00:00Z", false);
    assert!(xml.contains(r#"agencyID="KNBS" id="DF_MOB_CAT" version="2.1.0""#));
    assert!(!xml.contains("agencyID=\"BORDERFLOW\""));

    let refused = |ids: SdmxConfig| ids.check().unwrap_err();
    let bad_agency = refused(SdmxConfig {
        agency: "1KNBS".into(),
        ..SdmxConfig::default()
    });
    assert!(
        bad_agency.starts_with("sdmx.agency: \"1KNBS\""),
        "{bad_agency}"
    );
    let bad_version = refused(SdmxConfig {
        version: "1.0".into(),
        ..SdmxConfig::default()
    });
    assert!(
        bad_version.starts_with("sdmx.version: \"1.0\""),
        "{bad_version}"
    );
    let bad_table = refused(SdmxConfig {
        dataflows: [("people".to_string(), "DF_X".to_string())].into(),
        ..SdmxConfig::default()
    });
    assert!(
        bad_table.starts_with("sdmx.dataflows.people: no such table"),
        "{bad_table}"
    );
    let bad_id = refused(SdmxConfig {
        dataflows: [("totals".to_string(), "DF X".to_string())].into(),
        ..SdmxConfig::default()
    });
    assert!(
        bad_id.starts_with("sdmx.dataflows.totals: \"DF X\""),
        "{bad_id}"
    );
}

#[test]
fn a_cell_not_measured_is_missing_not_withheld() {
    let rd = RefData::embedded();
    let m = c("KEN");
    let domain = Domain::new(m, &[c("KEN"), c("UGA")]);
    let mut t = ReleasedTable::categories(&domain, &cells(&domain, 30), m, "2025");
    t.mark_not_measured(Category::ReturnMigrant);
    assert_eq!(
        t.published(),
        t.cells.len() - 1,
        "one return-migrant cell (UGA)"
    );
    let dir = tempfile::tempdir().unwrap();
    let codes = SdmxCodes::new(&rd);
    borderflow_release::write_all(&t, &SdmxConfig::default(), &codes, dir.path()).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("categories.csv")).unwrap();
    assert_eq!(
        csv.lines().last().unwrap(),
        "2025,KEN,return_migrant,UGA,SIM,,,false,not_measured"
    );
    let sdmx = std::fs::read_to_string(dir.path().join("categories.sdmx.csv")).unwrap();
    assert_eq!(
        sdmx.lines().last().unwrap(),
        "dataflow,BORDERFLOW:DF_BORDERFLOW_CATEGORIES(1.0.0),I,A,KEN,RETURN_MIGRANT,UGA,2025,,L,F,SIM,"
    );
    // Every other cell keeps its value and noise.
    assert!(csv.contains("2025,KEN,emigrant,UGA,SIM,30,2,false,published"));
}
