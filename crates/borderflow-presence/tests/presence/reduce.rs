//! The local engine's reduction gives exactly the rows of its definition as a DataFusion plan
//! (`reduce_sql`), whatever its memory budget: in memory, spilling, or in several passes.

use std::path::Path;
use std::sync::Arc;

use borderflow_core::{AcceptedEvent, FunctionalDay, SimRegistry, accepted_batch};
use borderflow_ingest::{InputConfig, Validator, discover};
use borderflow_presence::{ReduceSummary, Reduction, reduce_sql};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::RefData;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

/// A generated world's events, validated as ingest validates them.
fn accepted(dir: &Path, sims: &SimRegistry) -> Vec<AcceptedEvent> {
    // More SIMs than one byte of ranks: the reduction's radix sort takes two passes.
    let scenario = borderflow_synth::Scenario {
        subscribers: 400,
        seed: 11,
        ..borderflow_synth::Scenario::default()
    };
    let rd = RefData::embedded();
    let formats = borderflow_synth::OutputFormats {
        csv: false,
        parquet: true,
    };
    borderflow_synth::generate(&scenario, &rd, dir, formats).unwrap();
    let input: InputConfig = toml::from_str(&format!(
        "paths = [{:?}]",
        dir.join("events.parquet").display().to_string()
    ))
    .unwrap();
    let key = PseudonymKey::from_bytes([5; 32]);
    let mut v = Validator::new(
        &rd,
        scenario.measuring_country,
        (i32::MIN, i32::MAX),
        input.time_format.clone(),
        chrono_tz::UTC,
        Pseudonymiser::new(&key),
        sims,
    );
    let mut events = Vec::new();
    for f in discover(&input.paths).unwrap() {
        let mut r = f.open(&input).unwrap();
        while let Some(b) = r.next_batch() {
            events.extend(v.validate(r.name(), &b.unwrap()).unwrap().accepted);
        }
    }
    events
}

/// Every row of `batches` as text, with `date` appended when given; sorted.
fn lines(batches: &[RecordBatch], date: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut cells: Vec<String> = (0..b.num_columns())
                .map(|c| {
                    let col = b.column(c);
                    if col.is_null(i) {
                        "∅".into()
                    } else {
                        array_value_to_string(col, i).unwrap()
                    }
                })
                .collect();
            cells.extend(date.map(str::to_string));
            out.push(cells.join(","));
        }
    }
    out.sort();
    out
}

/// The presence rows written under `dir`, as text lines with their date.
fn written(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let date = name.strip_prefix("local_date=").unwrap().to_string();
        let files: Vec<_> = std::fs::read_dir(entry.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "one file per date");
        let path = entry.path().join("part-0.parquet");
        let file = std::fs::File::open(&path).unwrap();
        let batches: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
                .unwrap()
                .map(Result::unwrap)
                .collect();
        assert_in_store_order(&path, &batches);
        assert_encoded_without_codec(&path);
        out.extend(lines(&batches, Some(&date)));
    }
    out.sort();
    out
}

/// The rows of one written file are in the store's order (`STORE_ORDER`: pseudonym bytes,
/// then country, SIM country and counterpart country, nulls last), and its every row group
/// declares the pseudonym's order in its metadata.
fn assert_in_store_order(path: &Path, batches: &[RecordBatch]) {
    use datafusion::arrow::array::{AsArray, StringArray};
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    for group in parquet::file::reader::FileReader::metadata(&reader).row_groups() {
        let sorting = group.sorting_columns().expect("sorting columns declared");
        assert_eq!(sorting.len(), 1);
        assert_eq!(
            (sorting[0].column_idx, sorting[0].descending),
            (0, false),
            "{}",
            path.display()
        );
    }
    let text = |a: &StringArray, i: usize| (a.is_null(i), a.value(i).to_string());
    let mut keys = Vec::new();
    for b in batches {
        let pseudonym = b.column(0).as_fixed_size_binary();
        let sim_country = b.column(1).as_string::<i32>();
        let country = b.column(2).as_string::<i32>();
        let counterpart = b.column(3).as_string::<i32>();
        for i in 0..b.num_rows() {
            keys.push((
                pseudonym.value(i).to_vec(),
                text(country, i),
                text(sim_country, i),
                text(counterpart, i),
            ));
        }
    }
    assert!(!keys.is_empty(), "{}", path.display());
    assert!(
        keys.is_sorted(),
        "{} is not in the store's order",
        path.display()
    );
}

/// A written file carries no compression codec (which costs a zstd context per column chunk
/// written and read) and no statistics (which nothing reads): countries are dictionaries,
/// counts and minutes are delta-packed, and pseudonyms are plain bytes.
fn assert_encoded_without_codec(path: &Path) {
    use borderflow_core::schema::presence::*;
    use parquet::basic::{Compression, Encoding};
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    for group in parquet::file::reader::FileReader::metadata(&reader).row_groups() {
        for chunk in group.columns() {
            let name = chunk.column_path().string();
            assert_eq!(chunk.compression(), Compression::UNCOMPRESSED, "{name}");
            assert!(chunk.statistics().is_none(), "{name}: statistics written");
            assert!(
                chunk.column_index_offset().is_none(),
                "{name}: column index written"
            );
            let values = match name.as_str() {
                PSEUDONYM => Encoding::PLAIN,
                SIM_COUNTRY | COUNTRY | COUNTERPART_COUNTRY => Encoding::RLE_DICTIONARY,
                EVENTS | NIGHT_EVENTS | WEEKDAY_DAY_EVENTS | FIRST_MINUTE | LAST_MINUTE => {
                    Encoding::DELTA_BINARY_PACKED
                }
                other => panic!("unexpected column {other}"),
            };
            assert!(
                chunk.encodings().any(|e| e == values),
                "{name} in {}: {:?}",
                path.display(),
                chunk.encodings().collect::<Vec<_>>()
            );
        }
    }
}

/// The presence rows of `events` by their definition, run by DataFusion.
fn defined(events: &[AcceptedEvent], sims: &SimRegistry) -> Vec<String> {
    let batch = accepted_batch(events, &sims.snapshot());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ctx = SessionContext::new();
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("events", Arc::new(table)).unwrap();
        let rows = ctx
            .sql(&reduce_sql(&FunctionalDay::default()))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        lines(&rows, None)
    })
}

/// Runs the reduction with `budget` bytes, the events dealt to two shards in turns of 1,000.
fn reduce(
    events: &[AcceptedEvent],
    sims: &SimRegistry,
    budget: usize,
    out: &Path,
) -> ReduceSummary {
    let spill = out.with_extension("spill");
    let r = Reduction::new(budget, &spill);
    let mut shards = [r.shard(0), r.shard(1)];
    for (i, chunk) in events.chunks(1000).enumerate() {
        shards[i % 2].push_all(chunk).unwrap();
    }
    let parts = shards
        .map(|s| s.into_parts().unwrap())
        .into_iter()
        .collect();
    let summary = r.finish(parts, &sims.snapshot(), out, 2).unwrap();
    // Spill files are removed once read.
    if spill.exists() {
        assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);
    }
    summary
}

#[test]
fn the_reduction_equals_its_sql_definition_at_any_budget() {
    let dir = tempfile::tempdir().unwrap();
    let sims = SimRegistry::new();
    let events = accepted(&dir.path().join("world"), &sims);
    assert!(events.len() > 100_000, "{} events", events.len());

    let expected = defined(&events, &sims);
    // The plan ends with the date; the files hold it in their directory name.
    assert!(expected[0].matches(',').count() == 9);

    // In memory.
    let roomy = reduce(&events, &sims, 1 << 30, &dir.path().join("roomy"));
    assert_eq!(roomy.spilled_bytes, 0);
    assert_eq!(roomy.multi_pass_dates, 0);
    assert_eq!(roomy.rows, expected.len() as u64);
    assert_eq!(written(&dir.path().join("roomy")), expected);

    // A budget of 16 KiB: buckets spill again and again, and every date is aggregated in
    // several passes, each over one range of pseudonyms (the files stay in pseudonym order).
    let tight = reduce(&events, &sims, 16 << 10, &dir.path().join("tight"));
    assert!(
        tight.spilled_bytes > 12 * events.len() as u64 / 2,
        "{tight:?}"
    );
    assert!(tight.multi_pass_dates > 300, "{tight:?}");
    assert_eq!(tight.rows, roomy.rows);
    assert_eq!(tight.dates, roomy.dates);
    assert_eq!(written(&dir.path().join("tight")), expected);
}

/// Dates 1,024 and 2,048 days apart, in turns, keep their own buckets: a shard remembers its
/// recent dates at their place modulo 1,024 days, and dates sharing a place take it from
/// each other at every event (found again through the shard's map of dates).
#[test]
fn dates_years_apart_in_turns_keep_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let sims = SimRegistry::new();
    let mut events = accepted(&dir.path().join("world"), &sims);
    events.truncate(60_000);
    for (i, e) in events.iter_mut().enumerate() {
        e.local_date += 1024 * (i % 3) as i32;
    }
    let expected = defined(&events, &sims);
    let summary = reduce(&events, &sims, 1 << 30, &dir.path().join("store"));
    assert_eq!(summary.rows, expected.len() as u64);
    assert_eq!(written(&dir.path().join("store")), expected);
    let first = summary.dates[0];
    for apart in [1024, 2048] {
        assert!(summary.dates.contains(&(first + apart)), "{apart}");
    }
}
