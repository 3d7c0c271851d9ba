//! Input shapes: the same events in another row order, split over one file or many, as
//! Parquet, CSV or gzipped CSV — the ways operators and tools hand records over.
//!
//! Each shape is written once, from one sorted Parquet copy of the world, with the generator's
//! own conventions (`borderflow_synth::events_csv_writer`, `events_parquet_properties`), and
//! kept under `shapes/`. Files cut the rows into contiguous runs, as hourly or daily dumps do.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use flate2::write::GzEncoder;

use super::world::{Format, sorted_copy};

/// The order of the rows in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RowOrder {
    /// Each SIM's events together, as the generator writes them.
    Subscriber,
    /// By event time, as operators' switches dump them.
    Time,
    /// In random order.
    Shuffled,
}

impl RowOrder {
    fn name(self) -> &'static str {
        match self {
            RowOrder::Subscriber => "subscriber",
            RowOrder::Time => "time",
            RowOrder::Shuffled => "shuffled",
        }
    }
}

/// The file format of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub(super) enum FileFormat {
    /// Parquet (ZSTD).
    #[value(name = "parquet")]
    #[serde(rename = "parquet")]
    Parquet,
    /// Plain CSV.
    #[value(name = "csv")]
    #[serde(rename = "csv")]
    Csv,
    /// Gzipped CSV.
    #[value(name = "csv.gz")]
    #[serde(rename = "csv.gz")]
    CsvGz,
}

impl FileFormat {
    /// The file name's extension.
    pub(super) fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
            FileFormat::CsvGz => "csv.gz",
        }
    }
}

/// One input shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(super) struct Shape {
    /// Row order.
    pub order: RowOrder,
    /// Number of files the rows are cut into.
    pub files: usize,
    /// File format.
    pub format: FileFormat,
}

impl Shape {
    /// `time-8-csv.gz`.
    pub(super) fn name(&self) -> String {
        format!(
            "{}-{}-{}",
            self.order.name(),
            self.files,
            self.format.extension()
        )
    }

    /// The directory of the shape's files under `world` (written by [`materialise`]).
    pub(super) fn dir(&self, world: &Path) -> PathBuf {
        world.join("shapes").join(self.name())
    }

    /// A glob of the shape's files, as a reference job is given them.
    pub(super) fn glob(&self, world: &Path) -> String {
        format!(
            "{}/*.{}",
            self.dir(world).display(),
            self.format.extension()
        )
    }
}

/// One file of a shape being written.
enum Part {
    Parquet(Box<ArrowWriter<File>>),
    Csv(Box<datafusion::arrow::csv::Writer<BufWriter<File>>>),
    CsvGz(Box<datafusion::arrow::csv::Writer<GzEncoder<BufWriter<File>>>>),
}

impl Part {
    fn create(path: &Path, format: FileFormat, batch: &RecordBatch) -> Result<Part> {
        let file = File::create(path).with_context(|| path.display().to_string())?;
        Ok(match format {
            FileFormat::Parquet => Part::Parquet(Box::new(ArrowWriter::try_new(
                file,
                batch.schema(),
                Some(borderflow_synth::events_parquet_properties()),
            )?)),
            FileFormat::Csv => Part::Csv(Box::new(borderflow_synth::events_csv_writer(
                BufWriter::with_capacity(1 << 20, file),
            ))),
            FileFormat::CsvGz => Part::CsvGz(Box::new(borderflow_synth::events_csv_writer(
                GzEncoder::new(
                    BufWriter::with_capacity(1 << 20, file),
                    flate2::Compression::new(6),
                ),
            ))),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Part::Parquet(w) => w.write(batch)?,
            Part::Csv(w) => w.write(batch)?,
            Part::CsvGz(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        use std::io::Write;
        match self {
            Part::Parquet(w) => {
                w.close()?;
            }
            Part::Csv(w) => w.into_inner().flush()?,
            Part::CsvGz(w) => w.into_inner().finish()?.flush()?,
        }
        Ok(())
    }
}

/// Writes `shape` of the world whose events are `events` (typed Parquet), unless it is there
/// already; returns its directory. The sorted copy it is cut from is kept beside `events`.
pub(super) fn materialise(events: &Path, shape: Shape) -> Result<PathBuf> {
    let world = events.parent().context("the events file has no folder")?;
    let dir = shape.dir(world);
    if dir.exists() {
        return Ok(dir);
    }
    let source = match shape.order {
        RowOrder::Subscriber => events.to_path_buf(),
        RowOrder::Time => sorted_copy(events, "by-time", "event_time", Format::Parquet)?,
        RowOrder::Shuffled => sorted_copy(events, "shuffled", "random()", Format::Parquet)?,
    };
    let started = Instant::now();
    let tmp = dir.with_file_name(format!(".{}", shape.name()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let open = File::open(&source).with_context(|| source.display().to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(open)?;
    let total = reader.metadata().file_metadata().num_rows().max(1) as usize;
    let files = shape.files.max(1);
    // Row r goes to file r·files/total: contiguous runs of equal length.
    let part_of = |row: usize| row * files / total;
    let mut part: Option<(usize, Part)> = None;
    let mut row = 0usize;
    for batch in reader.with_batch_size(65536).build()? {
        let batch = batch?;
        let mut start = 0;
        while start < batch.num_rows() {
            let index = part_of(row + start);
            // The rows of this batch that stay in file `index`.
            let mut end = start;
            while end < batch.num_rows() && part_of(row + end) == index {
                end += 1;
            }
            if part.as_ref().is_none_or(|(i, _)| *i != index) {
                if let Some((_, done)) = part.take() {
                    done.finish()?;
                }
                let path = tmp.join(format!("part-{index:04}.{}", shape.format.extension()));
                part = Some((index, Part::create(&path, shape.format, &batch)?));
            }
            if let Some((_, w)) = part.as_mut() {
                w.write(&batch.slice(start, end - start))?;
            }
            start = end;
        }
        row += batch.num_rows();
    }
    if let Some((_, done)) = part.take() {
        done.finish()?;
    }
    std::fs::rename(&tmp, &dir)?;
    println!(
        "wrote shape {} in {:.1} s",
        shape.name(),
        started.elapsed().as_secs_f64()
    );
    Ok(dir)
}
