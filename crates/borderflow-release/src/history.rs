//! Earlier releases of a dataset, read back for the report's crossings over time.
//!
//! Each earlier release's `crossings.parquet` is read by column name; a release that cannot be
//! read (removed by hand, or of another layout) is left out of the chart, never guessed from.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::report::PeriodCrossings;
use crate::table::ReleasedTable;

/// Published crossings of every release in `dataset_dir` other than `period`, oldest first.
/// `is_period` tells a release directory's name from anything else beside it.
pub fn earlier_crossings(
    dataset_dir: &Path,
    period: &str,
    is_period: impl Fn(&str) -> bool,
) -> Vec<PeriodCrossings> {
    let Ok(dir) = std::fs::read_dir(dataset_dir) else {
        return Vec::new();
    };
    let mut out: Vec<PeriodCrossings> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == period || !is_period(&name) {
                return None;
            }
            let cells = read_published(&e.path().join("crossings.parquet"))?;
            Some(PeriodCrossings {
                period: name,
                cells,
            })
        })
        .collect();
    out.sort_by(|a, b| a.period.cmp(&b.period));
    out
}

/// The published (from, to, subscribers) cells of a released crossings file.
fn read_published(path: &Path) -> Option<Vec<(String, String, i64)>> {
    let f = File::open(path).ok()?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .ok()?
        .build()
        .ok()?;
    let mut cells = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.ok()?;
        let text = |name: &str| {
            cast(batch.column_by_name(name)?, &DataType::Utf8)
                .ok()
                .map(|a| a.as_string::<i32>().clone())
        };
        let (from, to) = (text("from_country")?, text("to_country")?);
        let values = cast(batch.column_by_name("subscribers")?, &DataType::Int64).ok()?;
        let values = values.as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            if from.is_valid(i) && to.is_valid(i) && values.is_valid(i) {
                cells.push((
                    from.value(i).to_string(),
                    to.value(i).to_string(),
                    values.value(i),
                ));
            }
        }
    }
    Some(cells)
}

/// The published cells of a crossings table about to be released.
pub fn published_crossings(t: &ReleasedTable) -> PeriodCrossings {
    let (f, to) = (&t.dimensions[0].values, &t.dimensions[1].values);
    PeriodCrossings {
        period: t.period.clone(),
        cells: t
            .cells
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((f[i].clone()?, to[i].clone()?, c.subscribers?)))
            .collect(),
    }
}
