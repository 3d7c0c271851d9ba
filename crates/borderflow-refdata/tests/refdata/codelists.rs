//! The embedded code lists give the answers a statistician would look up by hand, and user
//! overrides amend them or fail with an error naming the file and line.

use std::io::Write;

use borderflow_core::CountryCode;
use borderflow_refdata::{
    GlobalSouth, HdiGroup, IncomeGroup, Overrides, PlmnCountry, RefData, South,
};

fn cc(s: &str) -> CountryCode {
    s.parse().unwrap()
}

fn plmn(rd: &RefData, s: &str) -> PlmnCountry {
    rd.plmn.country_of_str(s).unwrap()
}

#[test]
fn plmns_resolve_to_the_network_country() {
    let rd = RefData::embedded();
    assert_eq!(plmn(&rd, "63902"), PlmnCountry::Country(cc("KEN")));
    assert_eq!(plmn(&rd, "64101"), PlmnCountry::Country(cc("UGA")));
    assert_eq!(plmn(&rd, "64004"), PlmnCountry::Country(cc("TZA")));
    assert_eq!(plmn(&rd, "310260"), PlmnCountry::Country(cc("USA")));
    // A network on a US MCC that belongs to Bermuda.
    assert_eq!(plmn(&rd, "31059"), PlmnCountry::Country(cc("BMU")));
    // A network on a Ukrainian MCC that the lists place in Moldova.
    assert_eq!(plmn(&rd, "25500"), PlmnCountry::Country(cc("MDA")));
    assert_eq!(plmn(&rd, "42501"), PlmnCountry::Country(cc("ISR")));
    // An MNC the lists do not know still resolves through its MCC.
    assert_eq!(plmn(&rd, "63999"), PlmnCountry::Country(cc("KEN")));
    // International satellite networks and an MCC several territories share: unknown.
    assert_eq!(plmn(&rd, "90103"), PlmnCountry::NonGeographic);
    assert_eq!(plmn(&rd, "34001"), PlmnCountry::NonGeographic);
    // An MCC in no list.
    assert_eq!(plmn(&rd, "99912"), PlmnCountry::NonGeographic);
    assert_eq!(plmn(&rd, "12345"), PlmnCountry::Unlisted);
}

#[test]
fn malformed_plmns_are_refused() {
    let rd = RefData::embedded();
    for bad in ["", "6390", "6390212", "63a02", " 63902"] {
        let err = rd.plmn.country_of_str(bad).unwrap_err();
        assert!(err.to_string().contains("expected 5 or 6 digits"), "{err}");
    }
}

#[test]
fn calling_codes_use_the_longest_prefix() {
    let rd = RefData::embedded();
    let of = |n: &str| rd.calling_codes.country_of(n).map(|c| c.to_string());
    assert_eq!(of("+254712345678").as_deref(), Some("KEN"));
    assert_eq!(of("00256 772 123456").as_deref(), Some("UGA"));
    assert_eq!(of("+44 20 7946 0000").as_deref(), Some("GBR"));
    assert_eq!(of("+44 1534 123456").as_deref(), Some("JEY"));
    // The +1 zone: the Bahamas, Canada, Puerto Rico and the United States.
    assert_eq!(of("+1 242 555 0100").as_deref(), Some("BHS"));
    assert_eq!(of("+1 416 555 0100").as_deref(), Some("CAN"));
    assert_eq!(of("+1 787 555 0100").as_deref(), Some("PRI"));
    assert_eq!(of("+1 212 555 0100").as_deref(), Some("USA"));
    // The +7 zone: Kazakhstan's 6xx/7xx, Russia otherwise.
    assert_eq!(of("+7 727 123 4567").as_deref(), Some("KAZ"));
    assert_eq!(of("+7 495 123 4567").as_deref(), Some("RUS"));
    // Non-geographic and shared codes are unknown, not guessed.
    assert_eq!(of("+1 800 555 0100"), None);
    assert_eq!(of("+882 1234 5678"), None);
    assert_eq!(of("+590 590 12 34 56"), None);
    // Malformed numbers.
    assert_eq!(of(""), None);
    assert_eq!(of("+0254712345678"), None);
    assert_eq!(of("+2547123456789012"), None);
    assert_eq!(of("call me"), None);
    assert_eq!(rd.calling_codes.code_of(cc("KEN")), Some("254"));
}

#[test]
fn countries_carry_their_m49_regions() {
    let rd = RefData::embedded();
    let ken = rd.countries.get(cc("KEN")).unwrap();
    assert_eq!(ken.name, "Kenya");
    assert_eq!(ken.alpha2, "KE");
    assert_eq!(ken.numeric, "404");
    assert_eq!(
        (ken.region.as_str(), ken.sub_region.as_str()),
        ("Africa", "Sub-Saharan Africa")
    );
    assert_eq!(ken.intermediate_region, "Eastern Africa");
    let mex = rd.countries.get(cc("MEX")).unwrap();
    assert_eq!(mex.sub_region, "Latin America and the Caribbean");
    assert_eq!(mex.intermediate_region, "Central America");
    assert_eq!(rd.countries.by_alpha2("ug").unwrap().alpha3, cc("UGA"));
    assert_eq!(rd.countries.len(), 250);
}

#[test]
fn income_and_hdi_groups_carry_their_vintage() {
    let rd = RefData::embedded();
    let ig = |c| rd.income_groups.of(cc(c));
    assert_eq!(ig("UGA"), Some((IncomeGroup::Low, "WB FY2026")));
    assert_eq!(ig("KEN"), Some((IncomeGroup::LowerMiddle, "WB FY2026")));
    assert_eq!(ig("BRA"), Some((IncomeGroup::UpperMiddle, "WB FY2026")));
    assert_eq!(ig("DEU"), Some((IncomeGroup::High, "WB FY2026")));
    assert_eq!(ig("ATA"), None);
    assert_eq!(
        rd.hdi_groups.of(cc("NER")),
        Some((HdiGroup::Low, "HDR 2025"))
    );
    assert_eq!(
        rd.hdi_groups.of(cc("NOR")),
        Some((HdiGroup::VeryHigh, "HDR 2025"))
    );
}

#[test]
fn the_three_global_south_definitions_differ_where_they_should() {
    let rd = RefData::embedded();
    let gs = |c, d| rd.global_south(cc(c), d);
    use GlobalSouth::*;
    for def in GlobalSouth::ALL {
        assert_eq!(gs("KEN", def), Some(South::South), "{def:?}");
        assert_eq!(gs("DEU", def), Some(South::North), "{def:?}");
    }
    // Saudi Arabia: in a UN developing region, but high income with very high HDI.
    assert_eq!(gs("SAU", UnRegions), Some(South::South));
    assert_eq!(gs("SAU", WorldBankLmic), Some(South::North));
    assert_eq!(gs("SAU", UndpHdi), Some(South::North));
    // Ukraine: in Europe, yet middle income.
    assert_eq!(gs("UKR", UnRegions), Some(South::North));
    assert_eq!(gs("UKR", WorldBankLmic), Some(South::South));
    assert_eq!(gs("JPN", UnRegions), Some(South::North));
    assert_eq!(gs("AUS", UnRegions), Some(South::North));
    assert_eq!(gs("FJI", UnRegions), Some(South::South));
    assert_eq!(gs("ATA", UnRegions), None);
}

#[test]
fn every_listed_country_has_a_time_zone_where_people_live() {
    let rd = RefData::embedded();
    assert_eq!(
        rd.time_zones.of(cc("KEN")).unwrap().name(),
        "Africa/Nairobi"
    );
    assert_eq!(rd.time_zones.of(cc("RUS")).unwrap().name(), "Europe/Moscow");
    let missing: Vec<_> = rd
        .countries
        .iter()
        .filter(|c| rd.time_zones.of(c.alpha3).is_none())
        .map(|c| c.alpha3.to_string())
        .collect();
    // Uninhabited territories only.
    assert_eq!(missing, ["BVT", "HMD"]);
}

fn write_csv(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn user_overrides_amend_the_embedded_lists() {
    // An operator's own MVNO on a code the lists do not know, and a corrected income group.
    let plmn = write_csv("mcc,mnc,alpha3\n639,99,UGA\n");
    let income = write_csv("alpha3,income_group,vintage\nKEN,UMC,NSO 2026\n");
    let rd = RefData::load(&Overrides {
        plmn: Some(plmn.path().into()),
        income_groups: Some(income.path().into()),
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(plmn_of(&rd, "63999"), PlmnCountry::Country(cc("UGA")));
    assert_eq!(plmn_of(&rd, "63902"), PlmnCountry::Country(cc("KEN")));
    assert_eq!(
        rd.income_groups.of(cc("KEN")),
        Some((IncomeGroup::UpperMiddle, "NSO 2026"))
    );
}

fn plmn_of(rd: &RefData, s: &str) -> PlmnCountry {
    plmn(rd, s)
}

#[test]
fn a_malformed_override_names_the_file_and_line() {
    let cases = [
        (
            "mcc,mnc,alpha3\n639,01,KEN\n63,02,KEN\n",
            "3: MCC \"63\" is not 3 digits",
        ),
        (
            "mcc,mnc,alpha3\n639,01,KEN\n639,02,ZZZ\n",
            "3: ZZZ is not in the country list",
        ),
        (
            "mcc,mnc,alpha3\n639,01,Kenya\n",
            "2: \"Kenya\" is not an ISO 3166-1 alpha-3",
        ),
        ("mcc,alpha3\n639,KEN\n", "1: missing column \"mnc\""),
        ("mcc,mnc,alpha3\n639,01\n", "found record with 2 fields"),
    ];
    for (text, want) in cases {
        let f = write_csv(text);
        let err = RefData::load(&Overrides {
            plmn: Some(f.path().into()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        let file = f.path().display().to_string();
        assert!(err.starts_with(&file), "{err:?} does not name {file}");
        assert!(err.contains(want), "{err:?} lacks {want:?}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
    }
    let err = RefData::load(&Overrides {
        time_zones: Some("/nonexistent/zones.csv".into()),
        ..Overrides::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("/nonexistent/zones.csv: cannot read"),
        "{err}"
    );
}
