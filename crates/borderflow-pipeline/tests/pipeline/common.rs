//! Helpers shared by the pipeline's end-to-end tests.

#![allow(dead_code)] // each test module uses its own share of the helpers

use std::collections::{HashMap, HashSet};

/// The first needle found anywhere in `bytes`, if any. One pass per distinct needle length
/// with a hash set of needles, so thousands of identifiers can be searched in megabytes of
/// output quickly even in a debug build.
pub fn find_any<'a>(bytes: &[u8], needles: &'a [Vec<u8>]) -> Option<&'a [u8]> {
    let mut by_len: HashMap<usize, HashSet<&[u8]>> = HashMap::new();
    for n in needles.iter().filter(|n| !n.is_empty()) {
        by_len.entry(n.len()).or_default().insert(n.as_slice());
    }
    for (len, set) in &by_len {
        if let Some(w) = bytes.windows(*len).find(|w| set.contains(w)) {
            return needles.iter().find(|n| n.as_slice() == w).map(|n| &n[..]);
        }
    }
    None
}

/// Writes the key file `root/key` and a generated world under `root/world`.
pub fn key_and_world(
    root: &std::path::Path,
    key: [u8; 32],
    subscribers: u32,
    seed: u64,
    formats: borderflow_synth::OutputFormats,
) {
    borderflow_pseudo::PseudonymKey::from_bytes(key)
        .write_new(&root.join("key"))
        .unwrap();
    let scenario = borderflow_synth::Scenario {
        subscribers,
        seed,
        ..borderflow_synth::Scenario::default()
    };
    borderflow_synth::generate(
        &scenario,
        &borderflow_refdata::RefData::embedded(),
        &root.join("world"),
        formats,
    )
    .unwrap();
}

/// A file's bytes, followed — for Parquet — by every decoded value of every column, each
/// ended by `|`: what a search for a raw id must look through, since compressed pages hide
/// plain text from a byte search.
pub fn bytes_and_decoded_values(path: &std::path::Path) -> Vec<u8> {
    let mut out = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "parquet") {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            std::fs::File::open(path).unwrap(),
            1024,
        )
        .unwrap();
        for b in reader {
            let b = b.unwrap();
            for c in b.columns() {
                for i in 0..c.len() {
                    let v = datafusion::arrow::util::display::array_value_to_string(c, i).unwrap();
                    out.extend_from_slice(v.as_bytes());
                    out.push(b'|');
                }
            }
        }
    }
    out
}

/// Every batch of a Parquet file.
pub fn read_parquet(path: &std::path::Path) -> Vec<datafusion::arrow::array::RecordBatch> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap()
    .map(|b| b.unwrap())
    .collect()
}
