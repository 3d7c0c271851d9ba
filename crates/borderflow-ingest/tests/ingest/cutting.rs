//! A file gives the same verdicts however it is cut into pieces: by one reading thread or
//! four, by the local engine's queue of pieces or a cluster's shares. The duplicate check is
//! the verdict that depends on the rows around a row, so the files here are full of exact
//! copies placed where pieces are cut and blocks of the duplicate window begin.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use borderflow_core::SimRegistry;
use borderflow_ingest::{
    Flow, InputConfig, InputFile, ShareError, TimeFormat, Validator, cut_pieces, deal_shares,
    discover, read_share,
};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::RefData;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::validate::cfg;

/// Rows in a block of the duplicate window (the engine's constant, restated as the number a
/// user reads in the docs).
const BLOCK: u64 = 65_536;

/// Rows (numbered from 0) that are exact copies of the row before them: every thousandth
/// row, where most cuts fall, and the first row of every block counted from the file's
/// start; never a copy of a copy.
fn is_copy(row: u64) -> bool {
    let wanted = |r: u64| r > 0 && (r.is_multiple_of(1000) || r.is_multiple_of(BLOCK));
    wanted(row) && !wanted(row - 1)
}

/// A Parquet file of `rows` events in row groups of `group` rows, of 1,000 SIMs one second
/// apart, with the copies of [`is_copy`].
fn write_file(dir: &std::path::Path, rows: u64, group: usize) -> String {
    let mut ids = Vec::with_capacity(rows as usize);
    let mut times = Vec::with_capacity(rows as usize);
    let start = chrono::DateTime::parse_from_rfc3339("2025-02-01T00:00:00Z").unwrap();
    for row in 0..rows {
        let source = if is_copy(row) { row - 1 } else { row };
        ids.push(format!("63902{:010}", source % 1000));
        let t = start + chrono::Duration::seconds(source as i64);
        times.push(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    let schema = Arc::new(Schema::new(
        ["IMSI", "TS", "HPLMN", "VPLMN", "CELL"]
            .map(|n| Field::new(n, DataType::Utf8, false))
            .to_vec(),
    ));
    let text = |v: Vec<String>| Arc::new(StringArray::from(v)) as Arc<dyn Array>;
    let fixed = |s: &str| text(vec![s.to_string(); rows as usize]);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text(ids),
            text(times),
            fixed("63902"),
            fixed("63902"),
            fixed("C1"),
        ],
    )
    .unwrap();
    let path = dir.join(format!("events-{rows}-{group}.parquet"));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path.display().to_string()
}

/// Reads `shares` as the engines do, one validator per share, and returns every quarantined
/// row as (file, row number, reason), sorted, with the rows accepted.
fn verdicts(cfg: &InputConfig, shares: &[Vec<InputFile>]) -> (Vec<(String, u64, String)>, u64) {
    let rd = RefData::embedded();
    let key = PseudonymKey::from_bytes([9; 32]);
    let sims = SimRegistry::new();
    let dir = tempfile::tempdir().unwrap();
    let mut quarantined = Vec::new();
    let mut accepted = 0;
    for (n, share) in shares.iter().enumerate() {
        let mut v = Validator::new(
            &rd,
            "KEN".parse().unwrap(),
            (20_089, 20_453),
            TimeFormat::default(),
            chrono_tz::UTC,
            Pseudonymiser::new(&key),
            &sims,
        );
        let q = dir.path().join(format!("q{n}.parquet"));
        read_share(&mut v, cfg, share, &q, |b, _, _| {
            accepted += b.counts.accepted;
            let q = &b.quarantine;
            let file = q.column_by_name("file").unwrap().as_string::<i32>();
            let row = q
                .column_by_name("row")
                .unwrap()
                .as_primitive::<UInt64Type>();
            let reason = q.column_by_name("reason").unwrap().as_string::<i32>();
            for i in 0..q.num_rows() {
                quarantined.push((
                    file.value(i).to_string(),
                    row.value(i),
                    reason.value(i).to_string(),
                ));
            }
            Ok::<_, ShareError>(Flow::Continue)
        })
        .unwrap()
        .expect("read to its end");
    }
    quarantined.sort();
    (quarantined, accepted)
}

#[test]
fn a_files_verdicts_do_not_depend_on_how_it_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    // Six row groups of 100,000 rows (not a whole number of blocks); two of 550,000, cut
    // inside them; one group of 400,000.
    let paths = vec![
        write_file(dir.path(), 600_000, 100_000),
        write_file(dir.path(), 1_100_000, 550_000),
        write_file(dir.path(), 400_000, 1_000_000),
    ];
    let cfg = cfg(paths.clone());
    let files = discover(&cfg.paths).unwrap();
    let whole: Vec<Vec<InputFile>> = files.iter().map(|f| vec![f.clone()]).collect();
    let (want, accepted) = verdicts(&cfg, &whole);
    // Every quarantined row is a copy, and a copy is caught unless it begins a block of the
    // duplicate window: blocks of 65,536 rows counted from the start of each row group.
    assert!(want.iter().all(|(_, _, reason)| reason == "duplicate"));
    let copies_caught = |rows: u64, group: u64| {
        (0..rows)
            .filter(|r| is_copy(*r) && !(r % group).is_multiple_of(BLOCK))
            .count()
    };
    let expected = copies_caught(600_000, 100_000)
        + copies_caught(1_100_000, 550_000)
        + copies_caught(400_000, 1_000_000);
    assert_eq!(want.len(), expected);
    assert_eq!(accepted + want.len() as u64, 2_100_000);
    for threads in 2..=4 {
        let dealt = cut_pieces(&files, threads).unwrap();
        assert!(
            dealt.shares.len() > files.len(),
            "{threads} threads cut the files"
        );
        assert_eq!(
            verdicts(&cfg, &dealt.shares),
            (want.clone(), accepted),
            "the local engine's pieces for {threads} threads"
        );
        let dealt = deal_shares(&files, threads).unwrap();
        assert_eq!(
            verdicts(&cfg, &dealt.shares),
            (want.clone(), accepted),
            "a cluster's {threads} shares"
        );
    }
}
