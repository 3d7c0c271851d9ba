//! The tabulation plan a cluster runs (`borderflow_release::aggregate`) against the reader
//! publish uses on one machine (`read_facts`): the same totals, cell for cell, on facts that
//! hold every case the per-SIM rule treats (clamped, dropped, unclassified, unseen, history
//! only), stored in an order the plan does not see; and the same refusals of facts that are
//! not what classify writes.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeBinaryArray, Int32Array, RecordBatch, StringArray,
};
use borderflow_core::schema::facts::{CATEGORY, CROSSINGS_FILE, SIMS_FILE, TO_COUNTRY};
use borderflow_core::schema::{facts_crossings_schema, facts_sims_schema};
use borderflow_core::{Category, CountryCode};
use borderflow_release::{
    Domain, FactTotals, FactsError, TabulateParams, read_facts, tabulate_facts,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

fn c(s: &str) -> CountryCode {
    s.parse().unwrap()
}

/// One SIM's row of `sims.parquet`: pseudonym byte, category, partner, open spell, days seen.
type Sim = (u8, Option<&'static str>, Option<&'static str>, bool, i32);

/// One row of `crossings.parquet`: pseudonym byte, from, to.
type Crossing = (u8, &'static str, &'static str);

/// Facts that a reader must refuse, and the refusal it gives.
type Refusal = (Vec<Sim>, Vec<Crossing>, String);

/// Writes the facts in row groups of 2 rows, so the plan reads them in several partitions.
fn write_facts(dir: &Path, sims: &[Sim], crossings: &[(u8, &str, &str)]) {
    let p = |b: u8| [b; 16];
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let sims_batch = RecordBatch::try_new(
        facts_sims_schema(),
        vec![
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    sims.iter().map(|s| Some(p(s.0))),
                    16,
                )
                .unwrap(),
            ) as ArrayRef,
            Arc::new(StringArray::from_iter_values(sims.iter().map(|_| "KEN"))),
            Arc::new(StringArray::from_iter_values(sims.iter().map(|_| "KEN"))),
            Arc::new(StringArray::from_iter(sims.iter().map(|s| s.1))),
            Arc::new(StringArray::from_iter(sims.iter().map(|s| s.2))),
            Arc::new(Int32Array::from_iter_values(sims.iter().map(|_| 0))),
            Arc::new(Int32Array::from_iter_values(sims.iter().map(|s| s.4))),
            Arc::new(BooleanArray::from_iter(sims.iter().map(|s| Some(s.3)))),
            // The reason a SIM is not classified: the tabulation counts those SIMs whatever
            // their reason, so any code serves.
            Arc::new(StringArray::from_iter(
                sims.iter().map(|s| s.1.is_none().then_some("too_sparse")),
            )),
        ],
    )
    .unwrap();
    let crossings_batch = RecordBatch::try_new(
        facts_crossings_schema(),
        vec![
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    crossings.iter().map(|x| Some(p(x.0))),
                    16,
                )
                .unwrap(),
            ) as ArrayRef,
            Arc::new(StringArray::from_iter_values(crossings.iter().map(|x| x.1))),
            Arc::new(StringArray::from_iter_values(crossings.iter().map(|x| x.2))),
        ],
    )
    .unwrap();
    for (name, batch) in [(SIMS_FILE, sims_batch), (CROSSINGS_FILE, crossings_batch)] {
        let f = File::create(dir.join(name)).unwrap();
        let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props.clone())).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
}

fn countries() -> Vec<CountryCode> {
    ["KEN", "UGA", "TZA", "ARE", "RWA"].map(c).to_vec()
}

const MAX_PAIRS: usize = 2;
const MAX_DAYS: u64 = 365;

fn by_plan(dir: &Path) -> Result<FactTotals, FactsError> {
    let config = SessionConfig::new()
        .with_target_partitions(4)
        .with_batch_size(2);
    let ctx = SessionContext::new_with_config(config);
    let params = TabulateParams::new(c("KEN"), &countries(), MAX_PAIRS, MAX_DAYS);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(tabulate_facts(&ctx, dir, &params))
}

fn by_reader(dir: &Path) -> Result<FactTotals, FactsError> {
    let domain = Domain::new(c("KEN"), &countries());
    read_facts(dir, &domain, MAX_PAIRS, MAX_DAYS)
}

#[test]
fn the_plan_tabulates_what_the_reader_tabulates_cell_for_cell() {
    let dir = tempfile::tempdir().unwrap();
    let sims: Vec<Sim> = vec![
        (1, Some("resident"), None, false, 300),
        (2, Some("frontier_in"), Some("UGA"), true, 200),
        // Three distinct pairs, stored out of code order and one repeated: clamped to the
        // first two in code order (ARE>KEN, KEN>ARE), counted as too_many_pairs.
        (3, Some("seasonal_out"), Some("ARE"), false, 400),
        (4, None, None, false, 3),
        // Not seen in the look-back: not counted at all.
        (5, Some("resident"), None, false, 0),
        // A partner outside the code list, and a resident with a partner: in no table.
        (6, Some("frontier_in"), Some("ZAF"), false, 10),
        (7, Some("resident"), Some("UGA"), false, 10),
    ];
    let crossings = vec![
        (2, "UGA", "KEN"),
        (2, "KEN", "UGA"),
        (3, "KEN", "TZA"),
        (3, "KEN", "ARE"),
        (3, "ARE", "KEN"),
        (3, "KEN", "ARE"),
        (4, "KEN", "RWA"),
        (6, "KEN", "UGA"),
        // A SIM with crossings but no row in sims.parquet (history only): not counted.
        (9, "KEN", "UGA"),
    ];
    write_facts(dir.path(), &sims, &crossings);
    let reader = by_reader(dir.path()).unwrap();
    let plan = by_plan(dir.path()).unwrap();
    assert_eq!(plan, reader);

    // The exact values, so both agreeing on something wrong fails too.
    let domain = Domain::new(c("KEN"), &countries());
    let cat = |category: Category, partner: Option<&str>| {
        let i = domain
            .categories
            .iter()
            .position(|cell| cell.category == category && cell.partner == partner.map(c))
            .unwrap();
        plan.tables.categories[i]
    };
    let cross = |a: &str, b: &str| {
        let i = domain
            .crossings
            .iter()
            .position(|p| *p == (c(a), c(b)))
            .unwrap();
        plan.tables.crossings[i]
    };
    assert_eq!(plan.sims, 6);
    assert_eq!(plan.sim_days, 300 + 200 + 365 + 3 + 10 + 10);
    assert_eq!(plan.open_spells, 1);
    assert_eq!(plan.tables.unclassified, 1);
    assert_eq!(cat(Category::Resident, None), 1);
    assert_eq!(cat(Category::FrontierIn, Some("UGA")), 1);
    assert_eq!(cat(Category::SeasonalOut, Some("ARE")), 1);
    assert_eq!(plan.tables.categories.iter().sum::<u64>(), 3);
    assert_eq!(cross("ARE", "KEN"), 1);
    assert_eq!(cross("KEN", "ARE"), 1);
    assert_eq!(cross("KEN", "TZA"), 0, "the third pair is clamped away");
    assert_eq!(cross("UGA", "KEN"), 1);
    assert_eq!(
        cross("KEN", "UGA"),
        1,
        "SIM 2 only: SIM 6 is dropped, 9 unseen"
    );
    assert_eq!(cross("KEN", "RWA"), 1);
    assert_eq!(plan.tables.crossings.iter().sum::<u64>(), 5);
    let dropped: Vec<(&str, u64)> = plan.dropped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        dropped,
        [
            ("bad_partner", 1),
            ("too_many_pairs", 1),
            ("unknown_country", 1)
        ]
    );
}

#[test]
fn empty_facts_tabulate_to_zero_tables() {
    let dir = tempfile::tempdir().unwrap();
    write_facts(dir.path(), &[], &[]);
    let plan = by_plan(dir.path()).unwrap();
    assert_eq!(plan, by_reader(dir.path()).unwrap());
    assert_eq!(plan.sims, 0);
    assert!(plan.tables.categories.iter().all(|n| *n == 0));
}

fn refusal(e: FactsError) -> String {
    match e {
        FactsError::DuplicateSim { path } => format!("duplicate in {}", file(&path)),
        FactsError::Column { path, column } => format!("{column} in {}", file(&path)),
        other => format!("other: {other}"),
    }
}

fn file(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn the_plan_refuses_what_the_reader_refuses_naming_the_file_and_column() {
    let cases: Vec<Refusal> = vec![
        (
            vec![
                (1, Some("resident"), None, false, 3),
                (1, Some("resident"), None, false, 4),
            ],
            vec![],
            format!("duplicate in {SIMS_FILE}"),
        ),
        (
            vec![(1, Some("astronaut"), None, false, 3)],
            vec![],
            format!("{CATEGORY} in {SIMS_FILE}"),
        ),
        (
            vec![(1, Some("resident"), None, false, 3)],
            vec![(1, "KEN", "Uganda")],
            format!("{TO_COUNTRY} in {CROSSINGS_FILE}"),
        ),
    ];
    for (sims, crossings, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_facts(dir.path(), &sims, &crossings);
        let plan = refusal(by_plan(dir.path()).unwrap_err());
        let reader = refusal(by_reader(dir.path()).unwrap_err());
        assert_eq!(plan, expected);
        assert_eq!(reader, expected);
        let message = by_plan(dir.path()).unwrap_err().to_string();
        assert!(
            !message.contains("astronaut") && !message.contains("Uganda"),
            "a refusal names the column, never the value: {message}"
        );
    }
}
