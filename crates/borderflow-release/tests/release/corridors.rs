//! Corridors on a hand-built domain: exact sums of noisy cells, σ√n, the direction of each
//! flow relative to M, and suppression; and the SDMX codes the writers use.

use borderflow_core::{Category, CountryCode};
use borderflow_privacy::ProtectedCell;
use borderflow_refdata::RefData;
use borderflow_release::sdmx::{sdmx_code, sdmx_freq, sdmx_header};
use borderflow_release::{Domain, ReleasedTable, corridors};
use borderflow_release::{SdmxCodes, SdmxConfig};

fn c(s: &str) -> CountryCode {
    s.parse().unwrap()
}

/// Cells with noisy value `v(category, partner)`, σ = 2 each.
fn protected(domain: &Domain, v: impl Fn(Category, Option<&str>) -> i64) -> Vec<ProtectedCell> {
    domain
        .categories
        .iter()
        .map(|cell| {
            let p = cell.partner.map(|p| p.to_string());
            let noisy = v(cell.category, p.as_deref());
            ProtectedCell {
                subscribers: (noisy >= 16).then_some(noisy),
                noise_sd: 2.0,
                suppressed: noisy < 16,
                noisy,
            }
        })
        .collect()
}

fn row<'a>(
    t: &'a ReleasedTable,
    cat: &str,
    grouping: &str,
    group: &str,
) -> (usize, Vec<Option<&'a str>>) {
    let col = |n: &str| t.dimension(n).unwrap();
    let i = (0..t.cells.len())
        .find(|&i| {
            col("category").values[i].as_deref() == Some(cat)
                && col("grouping").values[i].as_deref() == Some(grouping)
                && col("partner_group").values[i].as_deref() == Some(group)
        })
        .unwrap_or_else(|| panic!("no corridor {cat}/{grouping}/{group}"));
    (
        i,
        ["flow", "direction", "partner_cells"]
            .iter()
            .map(|n| col(n).values[i].as_deref())
            .collect(),
    )
}

#[test]
fn corridors_sum_noisy_cells_with_their_direction() {
    let rd = RefData::embedded();
    let m = c("KEN");
    let domain = Domain::new(m, &[c("KEN"), c("UGA"), c("TZA"), c("DEU")]);
    let cells = protected(&domain, |cat, p| match (cat, p) {
        (Category::FrontierIn, Some("UGA")) => 40,
        (Category::FrontierIn, Some("TZA")) => 7,
        (Category::FrontierIn, Some("DEU")) => -3,
        (Category::Emigrant, Some("DEU")) => 30,
        (Category::SeasonalIn, Some("DEU")) => 12,
        _ => 0,
    });
    let t = corridors(&domain, &cells, 16, 0.5, &rd, m, "2025");

    // Uganda and Tanzania are South under UN M49, Germany North; Kenya is South.
    let (i, attrs) = row(&t, "frontier_in", "south_un_m49", "South");
    assert_eq!(
        t.cells[i].subscribers,
        Some(47),
        "suppressed cells count too"
    );
    assert_eq!(attrs, [Some("inbound"), Some("south_to_south"), Some("2")]);
    assert!((t.cells[i].noise_sd - 2.0 * 2f64.sqrt()).abs() < 1e-12);

    let (i, attrs) = row(&t, "frontier_in", "all", "world");
    assert_eq!(
        t.cells[i].subscribers,
        Some(44),
        "negative noisy values count too"
    );
    assert_eq!(attrs, [Some("inbound"), None, Some("3")]);

    let (i, attrs) = row(&t, "emigrant", "south_un_m49", "North");
    assert_eq!(t.cells[i].subscribers, Some(30));
    assert_eq!(attrs, [Some("outbound"), Some("south_to_north"), Some("1")]);

    let (i, attrs) = row(&t, "seasonal_in", "south_wb_income", "North");
    assert!(t.cells[i].suppressed(), "12 is below k");
    assert_eq!(t.cells[i].subscribers, None);
    assert_eq!(attrs[1], Some("north_to_south"));

    let (i, _) = row(&t, "frontier_in", "wb_income", "HIC");
    assert!(t.cells[i].suppressed(), "Germany's −3 is suppressed");
    let (_, attrs) = row(&t, "frontier_in", "m49_region", "Africa");
    assert_eq!(attrs[2], Some("2"));
    // Every category but resident × every group of every grouping, and nothing else.
    assert!(
        t.dimension("category")
            .unwrap()
            .values
            .iter()
            .all(|v| v.as_deref() != Some("resident"))
    );
}

#[test]
fn a_sum_that_noise_alone_could_make_is_suppressed() {
    let rd = RefData::embedded();
    let m = c("KEN");
    let countries: Vec<CountryCode> = rd.countries.iter().map(|x| x.alpha3).collect();
    let domain = Domain::new(m, &countries);
    // 249 partners each at 1: σ√n = 2·√249 ≈ 31.6, so an empty corridor reaches k = 16 by
    // noise alone a third of the time; τ for a few hundred corridors at phantom rate 0.5 is
    // about three such σ: 249 clears it, 40 does not.
    let t = corridors(
        &domain,
        &protected(&domain, |_, _| 1),
        16,
        0.5,
        &rd,
        m,
        "2025",
    );
    let (i, _) = row(&t, "visitor_in", "all", "world");
    assert!(!t.cells[i].suppressed());
    assert_eq!(t.cells[i].subscribers, Some(249));
    let t = corridors(
        &domain,
        &protected(&domain, |_, p| i64::from(p == Some("UGA")) * 40),
        16,
        0.5,
        &rd,
        m,
        "2025",
    );
    let (i, _) = row(&t, "visitor_in", "all", "world");
    assert!(t.cells[i].suppressed(), "40 is below τ ≈ 3 × 31.6");
}

#[test]
fn sdmx_codes_are_upper_case_identifiers() {
    assert_eq!(sdmx_code("Sub-Saharan Africa"), "SUB_SAHARAN_AFRICA");
    assert_eq!(
        sdmx_code("Latin America and the Caribbean"),
        "LATIN_AMERICA_AND_THE_CARIBBEAN"
    );
    assert_eq!(sdmx_code("south_to_south"), "SOUTH_TO_SOUTH");
    assert_eq!(sdmx_freq("2025"), "A");
    assert_eq!(sdmx_freq("2025-07"), "M");
    let domain = Domain::new(c("KEN"), &[c("KEN"), c("UGA")]);
    let cells = protected(&domain, |_, _| 20);
    let t = ReleasedTable::categories(&domain, &cells, c("KEN"), "2025");
    assert_eq!(
        sdmx_header(&t).join(","),
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,MOB_CATEGORY,COUNTERPART_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS,UNIT_MEASURE,NOISE_SD"
    );
    let dir = tempfile::tempdir().unwrap();
    let codes = SdmxCodes::new(&RefData::embedded());
    borderflow_release::write_all(&t, &SdmxConfig::default(), &codes, dir.path()).unwrap();
    let sdmx = std::fs::read_to_string(dir.path().join("categories.sdmx.csv")).unwrap();
    let lines: Vec<&str> = sdmx.lines().collect();
    assert_eq!(lines.len(), 1 + 1 + 10);
    assert_eq!(
        lines[1],
        "dataflow,BORDERFLOW:DF_BORDERFLOW_CATEGORIES(1.0.0),I,A,KEN,RESIDENT,_Z,2025,20,A,F,SIM,2"
    );
    assert_eq!(
        lines[2],
        "dataflow,BORDERFLOW:DF_BORDERFLOW_CATEGORIES(1.0.0),I,A,KEN,RESIDENT_FOREIGN_SIM,UGA,2025,20,A,F,SIM,2"
    );
    let csv = std::fs::read_to_string(dir.path().join("categories.csv")).unwrap();
    assert_eq!(
        csv.lines().nth(1).unwrap(),
        "2025,KEN,resident,,SIM,20,2,false,published"
    );
}

#[test]
fn partner_cells_is_an_integer_column_in_parquet() {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Int64Type};
    let rd = RefData::embedded();
    let m = c("KEN");
    let domain = Domain::new(m, &[c("KEN"), c("UGA"), c("TZA"), c("DEU")]);
    let cells = protected(&domain, |_, _| 0);
    let t = corridors(&domain, &cells, 16, 0.5, &rd, m, "2025");
    let batch = borderflow_release::write::to_batch(&t);
    let column = batch.column_by_name("partner_cells").unwrap();
    assert_eq!(column.data_type(), &DataType::Int64);
    // A reader summing it adds numbers: the world totals of the category sum all three
    // partner cells.
    let (i, _) = row(&t, "frontier_in", "all", "world");
    let values: &Int64Array = column.as_primitive::<Int64Type>();
    assert_eq!(values.value(i), 3);
    // Every code column stays text.
    for name in ["category", "grouping", "partner_group", "flow", "direction"] {
        assert_eq!(
            batch.column_by_name(name).unwrap().data_type(),
            &DataType::Utf8
        );
    }
}
