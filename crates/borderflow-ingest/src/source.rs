//! Input files: discovery, formats, and streaming reads with the column mapping applied.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, Int64Array, RecordBatch, StringViewArray, TimestampSecondArray};
use arrow::compute::cast;
use arrow::csv::ReaderBuilder;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use borderflow_core::schema::event;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelectionPolicy, RowSelector,
};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};

use crate::config::{InputConfig, OPTIONAL, REQUIRED};
use crate::expr::{BoundExpr, Operand, is_binary};
use crate::fingerprint::{DUPLICATE_BLOCK_ROWS, RowGroupStarts};

/// Rows per batch read: small enough that a batch's decoded columns stay in the processor's
/// second-level cache while it is validated, and its buffers are reused by the allocator
/// instead of mapped and zeroed afresh.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Rows per part below which a Parquet file of one row group is read whole by one thread:
/// opening it twice and skipping to the middle would cost more than a second thread gains.
pub const SPLIT_MIN_ROWS: u64 = 256 * 1024;

/// An input file could not be found or read. The message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A path or pattern matched no file.
    #[error("input {0}: no such file, or the pattern matches no file")]
    NoMatch(String),
    /// A glob pattern is malformed.
    #[error("input pattern {pattern}: {source}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What the glob parser said.
        #[source]
        source: glob::PatternError,
    },
    /// A required column is missing.
    #[error("{file}: missing column {column:?} (mapped from canonical {canonical:?}); {found}")]
    MissingColumn {
        /// The file.
        file: String,
        /// The operator's column name looked for.
        column: String,
        /// The canonical column it is mapped to.
        canonical: String,
        /// The columns the file has.
        found: String,
    },
    /// A mapped column of a Parquet file has a type its values cannot be read from.
    #[error("{file}: column {column:?} is {found}; {expected}")]
    ColumnType {
        /// The file.
        file: String,
        /// The operator's column name.
        column: String,
        /// Its Arrow type.
        found: String,
        /// What the column must be, and the setting that would read it.
        expected: String,
    },
    /// The file is unreadable (truncated, corrupt, not the format its name says).
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file (with the row where one is known).
        file: String,
        /// What the reader said (the reader's own error where there is one).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The formats borderflow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Delimited text with a header row.
    Csv,
    /// Gzip-compressed delimited text.
    CsvGz,
    /// Apache Parquet.
    Parquet,
}

/// One input file, or a run of rows of a Parquet file (so one large file can be read by
/// several partitions at once, each still knowing the file's row numbers). It travels in a
/// cluster's ingest plan as it is: a path, row groups and rows, nothing read from the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// How it is read (from its extension).
    pub format: Format,
    /// Size in bytes (of the share, for a run of row groups).
    pub size: u64,
    /// The row groups `[start, end)` to read; `None` for the whole file.
    pub row_groups: Option<(usize, usize)>,
    /// The rows `[start, end)` of those row groups to read, counted from the first row of
    /// `row_groups.0`; `None` for all of them. A file whose row groups are fewer or larger than
    /// its shares is cut inside a row group, so that every share reads as many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<(u64, u64)>,
    /// Row number (1-based) of the first row read.
    pub first_row: u64,
    /// The only dates this file may still give the store, when the store has taken the same
    /// content before under another window; `None`: the run's whole window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::DateWindow>,
    /// The Hive partition keys and values of its folders (`year=2023/month=1/day=7`), which
    /// column expressions may read as columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<(String, String)>,
}

/// What cutting a Parquet file into pieces needs from its footer
/// ([`InputFile::parquet_layout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetLayout {
    /// Rows of each row group, in order.
    pub group_rows: Vec<u64>,
    /// Whether every column chunk has an offset index: then a reader starting inside a row
    /// group skips to its first row page by page, instead of decoding every row before it.
    pub offset_index: bool,
}

impl ParquetLayout {
    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.group_rows.iter().sum()
    }
}

fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".csv.gz") || name.ends_with(".tsv.gz") {
        Some(Format::CsvGz)
    } else if name.ends_with(".csv") || name.ends_with(".tsv") {
        Some(Format::Csv)
    } else if name.ends_with(".parquet") || name.ends_with(".pq") {
        Some(Format::Parquet)
    } else {
        None
    }
}

/// Expands files, directories (their CSV, CSV.gz and Parquet files, in sub-folders too, as a
/// Hive-partitioned lake keeps them) and glob patterns into a sorted list of files without
/// repeats. Names starting with `.` or `_` (checksums, `_SUCCESS` markers, temporary folders
/// of a writer) are passed over in folders. A path or pattern that matches nothing is an error.
pub fn discover(paths: &[String]) -> Result<Vec<InputFile>, SourceError> {
    let mut found = Vec::new();
    for p in paths {
        let before = found.len();
        let path = Path::new(p);
        if path.is_dir() {
            walk(path, &mut found).map_err(|e| SourceError::Read {
                file: p.clone(),
                source: e.into(),
            })?;
        } else if path.is_file() {
            found.push(path.to_path_buf());
        } else {
            let matches = glob::glob(p).map_err(|source| SourceError::Pattern {
                pattern: p.clone(),
                source,
            })?;
            found.extend(matches.flatten().filter(|f| f.is_file()));
        }
        if found.len() == before {
            return Err(SourceError::NoMatch(p.clone()));
        }
    }
    found.sort();
    found.dedup();
    found
        .into_iter()
        .map(|path| {
            let name = path.display().to_string();
            let format = format_of(&path).ok_or_else(|| SourceError::Read {
                file: name.clone(),
                source: "unknown format; expected .csv, .csv.gz or .parquet".into(),
            })?;
            let size = std::fs::metadata(&path)
                .map_err(|e| SourceError::Read {
                    file: name,
                    source: e.into(),
                })?
                .len();
            Ok(InputFile {
                partitions: crate::expr::partitions_of(&path),
                path,
                format,
                size,
                row_groups: None,
                rows: None,
                first_row: 1,
                window: None,
            })
        })
        .collect()
}

/// The input files under a folder, depth first.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(['.', '_']) {
            continue;
        }
        let f = entry.path();
        if f.is_dir() {
            walk(&f, found)?;
        } else if f.is_file() && format_of(&f).is_some() {
            found.push(f);
        }
    }
    Ok(())
}

/// Days a partition's date may lie outside the window and still hold rows of it: a row's
/// functional local date is up to a day from its UTC date (zones from −12 to +14 hours, a
/// functional day that starts hours after midnight), and a lake partitioned by another
/// clock is a day off at most.
pub const PARTITION_MARGIN_DAYS: i32 = 2;

impl InputFile {
    /// The dates (days since 1970-01-01, first and last) its Hive partition folders say its
    /// rows were made on: `year=`, `month=`, `day=` (a year, a month or a day), or `date=`
    /// (`YYYY-MM-DD`); `None` when its folders say no date.
    pub fn partition_dates(&self) -> Option<(i32, i32)> {
        use chrono::{Datelike, NaiveDate};
        let get = |key: &str| {
            self.partitions
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let days = |d: NaiveDate| d.num_days_from_ce() - 719_163;
        if let Some(d) = get("date").and_then(|v| v.parse::<NaiveDate>().ok()) {
            return Some((days(d), days(d)));
        }
        let year: i32 = get("year")?.parse().ok()?;
        let month: Option<u32> = get("month").and_then(|m| m.parse().ok());
        let day: Option<u32> = get("day").and_then(|d| d.parse().ok());
        let (first, last) = match (month, day) {
            (Some(m), Some(d)) => {
                let date = NaiveDate::from_ymd_opt(year, m, d)?;
                (date, date)
            }
            (Some(m), None) => {
                let first = NaiveDate::from_ymd_opt(year, m, 1)?;
                let next = first.checked_add_months(chrono::Months::new(1))?;
                (first, next.pred_opt()?)
            }
            _ => (
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year, 12, 31)?,
            ),
        };
        Some((days(first), days(last)))
    }

    /// Whether its partition folders leave it any chance of holding a row of `window`: always
    /// for a file in no dated partition; otherwise its dates, widened by
    /// [`PARTITION_MARGIN_DAYS`], must meet the window.
    pub fn may_hold(&self, window: &crate::DateWindow) -> bool {
        let Some((a, b)) = self.partition_dates() else {
            return true;
        };
        let widened = crate::DateWindow::from_range(
            a.saturating_sub(PARTITION_MARGIN_DAYS),
            b.saturating_add(PARTITION_MARGIN_DAYS),
        );
        !widened.intersect(window).is_empty()
    }

    /// What cutting a whole Parquet file needs from its footer, read once: its row groups'
    /// rows and whether it has an offset index. `None` for other files and for a piece of a
    /// file (already cut).
    pub fn parquet_layout(&self) -> Result<Option<ParquetLayout>, SourceError> {
        if self.format != Format::Parquet || self.row_groups.is_some() {
            return Ok(None);
        }
        let read_err = |e: Box<dyn std::error::Error + Send + Sync>| SourceError::Read {
            file: self.path.display().to_string(),
            source: e,
        };
        let file = File::open(&self.path).map_err(|e| read_err(e.into()))?;
        let metadata = ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .map_err(|e| read_err(e.into()))?;
        let groups = metadata.row_groups();
        Ok(Some(ParquetLayout {
            group_rows: groups.iter().map(|g| g.num_rows().max(0) as u64).collect(),
            offset_index: groups.iter().all(|g| {
                g.columns()
                    .iter()
                    .all(|c| c.offset_index_offset().is_some())
            }),
        }))
    }

    /// Splits a Parquet file into at most `parts` runs of consecutive rows of about equal
    /// length, cut inside a row group where they must (a file of five row groups read by two
    /// threads would otherwise leave one thread idle for a fifth of the file). Every run
    /// starts where a block of the duplicate window does (a whole number of
    /// [`DUPLICATE_BLOCK_ROWS`] from the start of a row group), so the file gives the same
    /// verdicts however many runs it is read in. A Parquet file without rows or of one row
    /// group under [`SPLIT_MIN_ROWS`] rows per part, and every other file, comes back whole
    /// (so that it is still read, and counted, once).
    pub fn split(&self, parts: usize) -> Result<Vec<InputFile>, SourceError> {
        Ok(match self.parquet_layout()? {
            Some(layout) => self.split_in(&layout, parts),
            None => vec![self.clone()],
        })
    }

    /// [`Self::split`] of a file whose footer gave `layout`.
    pub fn split_in(&self, layout: &ParquetLayout, parts: usize) -> Vec<InputFile> {
        self.split_in_blocks(layout, parts, DUPLICATE_BLOCK_ROWS)
    }

    /// [`Self::split_in`] with blocks of `block` rows.
    fn split_in_blocks(&self, layout: &ParquetLayout, parts: usize, block: u64) -> Vec<InputFile> {
        let groups = &layout.group_rows;
        let total: u64 = groups.iter().sum();
        if parts < 2 || total == 0 || (groups.len() < 2 && total < SPLIT_MIN_ROWS * parts as u64) {
            return vec![self.clone()];
        }
        let blocks = RowGroupStarts::of_groups(groups.iter().copied());
        let starts = &blocks.0;
        let group_of = |row: u64| starts.partition_point(|s| *s <= row) - 1;
        let mut cuts = vec![0];
        for k in 1..parts as u64 {
            // Each ideal cut moved on to the next start of a block.
            let ideal = (u128::from(total) * u128::from(k) / parts as u128) as u64;
            let at = blocks.block_start_at_or_after(ideal, block);
            if at > *cuts.last().expect("not empty") && at < total {
                cuts.push(at);
            }
        }
        cuts.push(total);
        cuts.windows(2)
            .map(|w| {
                self.run(
                    (groups, starts),
                    w[0],
                    w[1],
                    group_of(w[0]),
                    group_of(w[1] - 1),
                )
            })
            .collect()
    }

    /// Splits a Parquet file into at most `parts` runs of whole row groups, each group in the
    /// part its first row falls in, so no reader skips rows inside a group; `None` for other
    /// files and for a Parquet file already cut or without rows.
    pub fn split_by_row_groups(&self, parts: usize) -> Result<Option<Vec<InputFile>>, SourceError> {
        Ok(self
            .parquet_layout()?
            .and_then(|layout| self.split_by_row_groups_in(&layout, parts)))
    }

    /// [`Self::split_by_row_groups`] of a file whose footer gave `layout`.
    pub fn split_by_row_groups_in(
        &self,
        layout: &ParquetLayout,
        parts: usize,
    ) -> Option<Vec<InputFile>> {
        let groups = &layout.group_rows;
        let total: u64 = groups.iter().sum();
        if total == 0 {
            return None;
        }
        let starts = &RowGroupStarts::of_groups(groups.iter().copied()).0;
        let part_of = |g: usize| u128::from(starts[g]) * parts.max(1) as u128 / u128::from(total);
        let mut out = Vec::new();
        let mut first = 0;
        for next in 1..=groups.len() {
            if next == groups.len() || part_of(next) != part_of(first) {
                let end = starts[next - 1] + groups[next - 1];
                out.push(self.run((groups, starts), starts[first], end, first, next - 1));
                first = next;
            }
        }
        Some(out)
    }

    /// The run of this file's rows `start..end` (from its first row), which lie in row groups
    /// `first..=last` of `groups` (rows per group, starting at `starts`).
    fn run(
        &self,
        (groups, starts): (&[u64], &[u64]),
        start: u64,
        end: u64,
        first: usize,
        last: usize,
    ) -> InputFile {
        let total: u64 = groups.iter().sum();
        let whole = start == starts[first] && end == starts[last] + groups[last];
        InputFile {
            path: self.path.clone(),
            format: self.format,
            // In u128: a file's bytes times its rows can pass u64 for files of many GB.
            size: (u128::from(self.size) * u128::from(end - start) / u128::from(total)) as u64,
            row_groups: Some((first, last + 1)),
            rows: (!whole).then(|| (start - starts[first], end - starts[first])),
            first_row: start + 1,
            window: self.window.clone(),
            partitions: self.partitions.clone(),
        }
    }
}

/// The event time column as read.
#[derive(Debug, Clone)]
pub enum TimeColumn {
    /// Text to parse with the configured format.
    Text(StringViewArray),
    /// Integers (epoch seconds or milliseconds, per the configured format).
    Integer(Int64Array),
    /// Instants already typed (Parquet timestamps), in seconds UTC.
    Instant(TimestampSecondArray),
}

/// A batch of rows with the canonical columns, before validation. Raw ids live only here.
#[derive(Debug, Clone)]
pub struct RawBatch {
    /// Row number (1-based, header excluded) of the first row in the file.
    pub first_row: u64,
    /// Subscriber ids.
    pub subscriber_id: StringViewArray,
    /// Event times.
    pub event_time: TimeColumn,
    /// Home PLMNs.
    pub home_plmn: StringViewArray,
    /// Serving PLMNs.
    pub serving_plmn: StringViewArray,
    /// Cells, where the file has them.
    pub cell_id: Option<StringViewArray>,
    /// Event types, where the file has them.
    pub event_type: Option<StringViewArray>,
    /// Counterpart numbers, where the file has them.
    pub counterpart_number: Option<StringViewArray>,
}

impl RawBatch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.subscriber_id.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads a file batch by batch, mapping columns. Errors name the file.
pub struct FileReader {
    name: String,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + Send>,
    /// How each canonical column is made from the file's batches (None: optional and
    /// absent).
    columns: [Option<BoundExpr>; 7],
    first_row: u64,
    next_row: u64,
    /// How far the read has got, for progress displays.
    extent: Extent,
    /// The last byte of a text file's (decompressed) content, once read to its end: a file
    /// whose last row lacks its newline was cut short.
    tail: Option<Arc<LastByte>>,
    /// Where the file's row groups start (the duplicate window's blocks start afresh at each).
    row_groups: RowGroupStarts,
}

/// The last byte a text reader passed on (`NONE` before any).
#[derive(Debug)]
struct LastByte(std::sync::atomic::AtomicU16);

impl LastByte {
    const NONE: u16 = u16::MAX;

    fn new() -> Self {
        Self(std::sync::atomic::AtomicU16::new(Self::NONE))
    }

    /// Whether the content ends a row: a line feed, or a carriage return (CRLF files end
    /// with LF; files with carriage returns alone, old Mac exports, end with CR and are read
    /// row by row as the CSV reader takes any of the three as a row's end).
    fn ends_row(&self) -> bool {
        matches!(self.0.load(Ordering::Relaxed), Self::NONE | 0x0a | 0x0d)
    }
}

/// A reader that remembers the last byte it passed on.
struct Tail<R> {
    inner: R,
    last: Arc<LastByte>,
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last.0.store(u16::from(buf[n - 1]), Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// How a reader knows how much of its file it has read.
enum Extent {
    /// Bytes taken from the file so far (text files; compressed bytes for CSV.gz).
    Bytes(Arc<AtomicU64>),
    /// Rows of the share's row groups and the share's bytes (Parquet): estimated from rows.
    Rows { rows: u64, bytes: u64 },
}

/// A reader that counts the bytes taken from the one it wraps.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl InputFile {
    /// Opens the file for streaming reads with `cfg`'s mapping. Fails when the file cannot be
    /// opened, is not of its format, or lacks a required column.
    pub fn open(&self, cfg: &InputConfig) -> Result<FileReader, SourceError> {
        let name = self.path.display().to_string();
        let read_err = |e: Box<dyn std::error::Error + Send + Sync>| SourceError::Read {
            file: name.clone(),
            source: e,
        };
        let file = File::open(&self.path).map_err(|e| read_err(e.into()))?;
        let mut tail = None;
        // A text file is one row group.
        let mut row_groups = RowGroupStarts::default();
        type Batches =
            Box<dyn Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + Send>;
        let (names, batches, extent): (Vec<String>, Batches, Extent) = match self.format {
            Format::Parquet => {
                // Text columns are read as string views: a dictionary-encoded column's values
                // are then referenced, not copied row by row.
                // A share that starts inside a row group skips to its first row by the offset
                // index, where the file has one, instead of decoding the rows before it.
                let pages = match self.rows {
                    Some(_) => PageIndexPolicy::Optional,
                    None => PageIndexPolicy::Skip,
                };
                let metadata = ArrowReaderMetadata::load(
                    &file,
                    ArrowReaderOptions::new().with_offset_index_policy(pages),
                )
                .map_err(|e| read_err(e.into()))?;
                let viewed = Arc::new(Schema::new(
                    metadata
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| match f.data_type() {
                            DataType::Utf8 | DataType::LargeUtf8 => {
                                f.as_ref().clone().with_data_type(DataType::Utf8View)
                            }
                            _ => f.as_ref().clone(),
                        })
                        .collect::<Vec<_>>(),
                ));
                let metadata = ArrowReaderMetadata::try_new(
                    metadata.metadata().clone(),
                    ArrowReaderOptions::new().with_schema(viewed),
                )
                .map_err(|e| read_err(e.into()))?;
                let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata);
                let schema = builder.schema().clone();
                let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                check_types(&name, &schema, cfg)?;
                let wanted: Vec<usize> = REQUIRED
                    .iter()
                    .chain(OPTIONAL.iter())
                    .flat_map(|c| {
                        let e = cfg.columns.expr(c);
                        e.columns()
                            .into_iter()
                            .filter_map(|col| names.iter().position(|n| n == col))
                            .collect::<Vec<_>>()
                    })
                    .collect::<std::collections::BTreeSet<usize>>()
                    .into_iter()
                    .collect();
                // A required column missing is named with the file's own columns, before the
                // projection keeps only the mapped ones.
                bind_columns(&name, &names, &self.partitions, cfg)?;
                let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.clone());
                let groups = builder.metadata().row_groups();
                row_groups =
                    RowGroupStarts::of_groups(groups.iter().map(|g| g.num_rows().max(0) as u64));
                let (a, b) = self.row_groups.unwrap_or((0, groups.len()));
                let in_groups: u64 = groups[a..b]
                    .iter()
                    .map(|g| g.num_rows().max(0) as u64)
                    .sum();
                let builder = match self.row_groups {
                    Some((a, b)) => builder.with_row_groups((a..b).collect()),
                    None => builder,
                };
                let (rows, builder) = match self.rows {
                    Some((start, end)) => {
                        let end = end.min(in_groups);
                        let start = start.min(end);
                        let selection = RowSelection::from(vec![
                            RowSelector::skip(start as usize),
                            RowSelector::select((end - start) as usize),
                        ]);
                        // Selectors, not a mask: reading stops at the share's last row.
                        let builder = builder
                            .with_row_selection(selection)
                            .with_row_selection_policy(RowSelectionPolicy::Selectors);
                        (end - start, builder)
                    }
                    None => (in_groups, builder),
                };
                let reader = builder
                    .with_projection(mask)
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .map_err(|e| read_err(e.into()))?;
                let projected = wanted.iter().map(|i| names[*i].clone()).collect();
                let extent = Extent::Rows {
                    rows,
                    bytes: self.size,
                };
                (projected, Box::new(reader), extent)
            }
            Format::Csv | Format::CsvGz => {
                let delimiter = cfg.delimiter.unwrap_or(',');
                if !delimiter.is_ascii() {
                    return Err(read_err("the delimiter must be one ASCII character".into()));
                }
                let open = |count: Arc<AtomicU64>,
                            last: Arc<LastByte>|
                 -> Result<Box<dyn Read + Send>, SourceError> {
                    let mut f = file.try_clone().map_err(|e| read_err(e.into()))?;
                    f.rewind().map_err(|e| read_err(e.into()))?;
                    let buffered = BufReader::with_capacity(1 << 20, Counted { inner: f, count });
                    let content: Box<dyn Read + Send> = if self.format == Format::CsvGz {
                        Box::new(flate2::read::MultiGzDecoder::new(buffered))
                    } else {
                        Box::new(buffered)
                    };
                    Ok(Box::new(BufReader::with_capacity(
                        1 << 20,
                        Tail {
                            inner: content,
                            last,
                        },
                    )))
                };
                let count = Arc::new(AtomicU64::new(0));
                let names = csv_header(
                    open(Arc::default(), Arc::new(LastByte::new()))?,
                    delimiter as u8,
                )
                .map_err(|e| read_err(e.into()))?;
                tail = Some(Arc::new(LastByte::new()));
                let schema = Arc::new(Schema::new(
                    names
                        .iter()
                        .map(|n| Field::new(n, DataType::Utf8View, true))
                        .collect::<Vec<_>>(),
                ));
                let reader = ReaderBuilder::new(schema)
                    .with_header(true)
                    .with_delimiter(delimiter as u8)
                    .with_batch_size(BATCH_ROWS)
                    .build(open(count.clone(), tail.clone().expect("set above"))?)
                    .map_err(|e| read_err(e.into()))?;
                // Parsing text is half the work of a CSV row: it runs on a thread of its own,
                // a couple of batches ahead of validation (17.6 s → 11.8 s on a 3.4 GB file).
                (
                    names,
                    Box::new(ReadAhead::spawn(reader)),
                    Extent::Bytes(count),
                )
            }
        };
        let columns = bind_columns(&name, &names, &self.partitions, cfg)?;
        Ok(FileReader {
            name,
            batches,
            columns,
            first_row: self.first_row,
            next_row: self.first_row,
            extent,
            tail,
            row_groups,
        })
    }
}

/// Binds each canonical column's expression to a file whose batches have columns `names`
/// and whose folders carry `partitions`. A required column whose source is missing fails,
/// named with the file's own columns; an optional one whose sources are all missing is
/// absent, and one missing some of them (half a concatenation) fails.
fn bind_columns(
    file: &str,
    names: &[String],
    partitions: &[(String, String)],
    cfg: &InputConfig,
) -> Result<[Option<BoundExpr>; 7], SourceError> {
    let find = |col: &str| {
        names
            .iter()
            .position(|n| n == col)
            .map(Operand::Batch)
            .or_else(|| {
                partitions
                    .iter()
                    .rev()
                    .find(|(k, _)| k == col)
                    .map(|(_, v)| Operand::Partition(v.clone()))
            })
    };
    let mut columns: [Option<BoundExpr>; 7] = Default::default();
    for (k, canonical) in REQUIRED.iter().chain(OPTIONAL.iter()).enumerate() {
        let expr = cfg.columns.expr(canonical);
        match BoundExpr::bind(&expr, find) {
            Ok(b) => columns[k] = Some(b),
            Err(missing) => {
                let required = k < REQUIRED.len();
                let all_missing = expr.columns().iter().all(|c| find(c).is_none());
                if required || !all_missing {
                    return Err(SourceError::MissingColumn {
                        file: file.to_string(),
                        column: missing,
                        canonical: canonical.to_string(),
                        found: describe_header(names),
                    });
                }
            }
        }
    }
    Ok(columns)
}

/// Checks that every column a Parquet file's mapping reads has a type its values can be read
/// from: text, integers or booleans (ids as binary under `hex`), the time as a timestamp,
/// as integers under `epoch_seconds`/`epoch_millis`, or as text under the other formats. An
/// integer time read under `rfc3339` would otherwise be taken for seconds, or quarantined row
/// by row.
fn check_types(file: &str, schema: &Schema, cfg: &InputConfig) -> Result<(), SourceError> {
    use crate::TimeFormat;
    use crate::expr::Source;
    for canonical in REQUIRED.iter().chain(OPTIONAL.iter()) {
        let expr = cfg.columns.expr(canonical);
        for column in expr.columns() {
            let Ok(field) = schema.field_with_name(column) else {
                continue;
            };
            let t = field.data_type();
            let text = matches!(
                t,
                DataType::Utf8
                    | DataType::Utf8View
                    | DataType::LargeUtf8
                    | DataType::Null
                    | DataType::Boolean
            ) || t.is_integer()
                || matches!(t, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View));
            let expected = match &expr.source {
                Source::Hex(_) if is_binary(t) => None,
                Source::Hex(_) => Some(format!(
                    "input.columns.{canonical} reads it with hex, which needs a binary column"
                )),
                _ if is_binary(t) => Some(format!(
                    "bytes, not text: set input.columns.{canonical} = {{ hex = {column:?} }}"
                )),
                Source::Column(_)
                    if *canonical == event::EVENT_TIME && expr.plain_column().is_some() =>
                {
                    let epoch = matches!(
                        cfg.time_format,
                        TimeFormat::EpochSeconds | TimeFormat::EpochMillis
                    );
                    match t {
                        DataType::Timestamp(_, _) | DataType::Date64 => None,
                        t if t.is_integer() && epoch => None,
                        t if t.is_integer() => Some(
                            "a number of the epoch, which input.time_format = \"rfc3339\" or a pattern does not read: set input.time_format = \"epoch_seconds\" or \"epoch_millis\"".to_string(),
                        ),
                        _ if text => None,
                        _ => Some("event_time must be a timestamp, integers of the epoch or text".into()),
                    }
                }
                _ if text => None,
                _ => Some(format!(
                    "{canonical} must be read from text, integers or booleans"
                )),
            };
            if let Some(expected) = expected {
                return Err(SourceError::ColumnType {
                    file: file.to_string(),
                    column: column.to_string(),
                    found: t.to_string(),
                    expected,
                });
            }
        }
    }
    Ok(())
}

/// What an error may say about a header that lacks a mapped column. A file without a header
/// row has a data row in its place, subscriber id included: a "header" holding long digit runs
/// (ids, numbers, timestamps) is never echoed, so no raw id reaches an error message.
fn describe_header(names: &[String]) -> String {
    let looks_like_data = names.iter().any(|n| {
        n.contains('+')
            || n.len() > 64
            || n.as_bytes()
                .windows(5)
                .any(|w| w.iter().all(u8::is_ascii_digit))
    });
    // A header read as one field that holds another usual delimiter: the wrong delimiter.
    if let [only] = names {
        for (d, shown) in [(';', ";"), ('\t', "\\t"), ('|', "|"), (',', ",")] {
            if only.contains(d) {
                return format!(
                    "the header row is one field holding {shown:?}: the file looks delimited by {shown:?} (set input.delimiter = \"{shown}\")"
                );
            }
        }
    }
    if looks_like_data {
        format!(
            "its first row ({} fields) looks like data, not a header row, and is not shown",
            names.len()
        )
    } else {
        format!("the file has columns {}", names.join(","))
    }
}

/// What a reader's error says, in the file's terms: the CSV reader's "incorrect number of
/// fields for line N" counts the file's lines from 1 with the header, so line N is data row
/// N − 1 in the numbering of the quarantine; any other error says from which row on the batch
/// that failed began.
fn reader_message(error: &str, next_row: u64) -> String {
    let error = error.strip_prefix("Csv error: ").unwrap_or(error);
    if let Some(rest) = error.strip_prefix("incorrect number of fields for line ")
        && let Some((line, counts)) = rest.split_once(", expected ")
        && let Some((expected, got)) = counts.split_once(" got ")
        && let Ok(line) = line.parse::<u64>()
    {
        return format!(
            "line {line} (data row {}) has {got} fields where the header has {expected} (a ragged or cut row)",
            line.saturating_sub(1)
        );
    }
    let hint = if error.contains("invalid UTF-8") || error.contains("invalid utf-8") {
        " (the file is not UTF-8, Latin-1 perhaps: export it as UTF-8)"
    } else {
        ""
    };
    format!("in the rows from row {next_row} on: {error}{hint}")
}

/// Batches read by a thread of their own, at most [`READ_AHEAD`] ahead of the consumer.
struct ReadAhead {
    batches: std::sync::mpsc::Receiver<Result<RecordBatch, arrow::error::ArrowError>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Batches parsed ahead of validation.
const READ_AHEAD: usize = 2;

impl ReadAhead {
    fn spawn<I>(inner: I) -> Self
    where
        I: Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD);
        let thread = std::thread::spawn(move || {
            for batch in inner {
                if tx.send(batch).is_err() {
                    return; // the consumer stopped reading
                }
            }
        });
        Self {
            batches: rx,
            thread: Some(thread),
        }
    }
}

impl Iterator for ReadAhead {
    type Item = Result<RecordBatch, arrow::error::ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.batches.recv() {
            Ok(batch) => Some(batch),
            // The thread is done: at the end of the file, or because it panicked, which must
            // not pass for the end of the file.
            Err(_) => {
                let thread = self.thread.take()?;
                match thread.join() {
                    Ok(()) => None,
                    Err(_) => Some(Err(arrow::error::ArrowError::ExternalError(
                        "the reading thread failed".into(),
                    ))),
                }
            }
        }
    }
}

/// The header row of a delimited file (empty file: an error).
fn csv_header(mut r: impl Read, delimiter: u8) -> Result<Vec<String>, String> {
    // A byte-order mark of UTF-16 or UTF-32 names the encoding better than any parse error.
    let mut start = [0u8; 4];
    let n = r.read(&mut start).map_err(|e| e.to_string())?;
    let encoding = match &start[..n] {
        [0xFF, 0xFE, 0, 0] | [0, 0, 0xFE, 0xFF] => Some("UTF-32"),
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => Some("UTF-16"),
        _ => None,
    };
    if let Some(encoding) = encoding {
        return Err(format!(
            "the file is {encoding} (it starts with a byte-order mark): export it as UTF-8"
        ));
    }
    let r = std::io::Cursor::new(start[..n].to_vec()).chain(r);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(r);
    let headers = reader.headers().map_err(|e| e.to_string())?;
    if headers.is_empty() || headers.iter().all(|h| h.trim().is_empty()) {
        return Err("empty file: no header row".into());
    }
    Ok(headers.iter().map(|h| h.trim().to_string()).collect())
}

impl FileReader {
    /// Where the whole file's row groups start, in rows from its first row (0-based); empty
    /// for a text file, one group. What [`crate::Validator::start_file`] needs.
    pub fn row_group_starts(&self) -> RowGroupStarts {
        self.row_groups.clone()
    }

    /// The file's name as errors show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes of the file (of the share, for a run of row groups) read so far: counted for text
    /// files, estimated from the rows read for Parquet. For progress displays.
    pub fn bytes_read(&self) -> u64 {
        match &self.extent {
            Extent::Bytes(count) => count.load(Ordering::Relaxed),
            Extent::Rows { rows, bytes } => {
                let done = self.next_row - self.first_row;
                (u128::from(*bytes) * u128::from(done) / u128::from((*rows).max(1))) as u64
            }
        }
    }

    /// The next batch, or `None` at the end of the file.
    pub fn next_batch(&mut self) -> Option<Result<RawBatch, SourceError>> {
        let Some(next) = self.batches.next() else {
            // Read to its end: a text file must end its last row with a newline, as every
            // export does; one that does not was cut short, and its last row with it.
            let tail = self.tail.take();
            let cut = tail.is_some_and(|t| !t.ends_row());
            return cut.then(|| {
                Err(SourceError::Read {
                    file: self.name.clone(),
                    source: format!(
                        "ends inside row {} (no newline after it): the file was cut short; replace it with a complete copy",
                        self.next_row - 1
                    )
                    .into(),
                })
            });
        };
        let batch = match next {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(SourceError::Read {
                    file: self.name.clone(),
                    source: reader_message(&e.to_string(), self.next_row).into(),
                }));
            }
        };
        let first_row = self.next_row;
        self.next_row += batch.num_rows() as u64;
        Some(self.map(batch, first_row))
    }

    fn map(&self, batch: RecordBatch, first_row: u64) -> Result<RawBatch, SourceError> {
        let rows = batch.num_rows();
        let err = |e: arrow::error::ArrowError| SourceError::Read {
            file: self.name.clone(),
            source: e.into(),
        };
        let text = |k: usize| -> Result<Option<StringViewArray>, SourceError> {
            self.columns[k]
                .as_ref()
                .map(|e| {
                    e.text(batch.columns(), rows)
                        .map_err(|e| SourceError::Read {
                            file: format!("{} (rows {first_row}…)", self.name),
                            source: format!(
                                "{}: {e}",
                                REQUIRED
                                    .iter()
                                    .chain(OPTIONAL.iter())
                                    .nth(k)
                                    .expect("seven")
                            )
                            .into(),
                        })
                })
                .transpose()
        };
        let time = self.columns[1].as_ref().expect("required");
        let event_time = match time.as_is().map(|i| batch.column(i)) {
            Some(time_col)
                if matches!(
                    time_col.data_type(),
                    DataType::Timestamp(_, _) | DataType::Date64
                ) =>
            {
                let c = cast(
                    time_col,
                    &DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
                )
                .map_err(err)?;
                TimeColumn::Instant(
                    c.as_any()
                        .downcast_ref::<TimestampSecondArray>()
                        .expect("cast to timestamp")
                        .clone(),
                )
            }
            Some(time_col) if time_col.data_type().is_integer() => {
                let c = cast(time_col, &DataType::Int64).map_err(err)?;
                TimeColumn::Integer(
                    c.as_any()
                        .downcast_ref::<Int64Array>()
                        .expect("cast to Int64")
                        .clone(),
                )
            }
            _ => TimeColumn::Text(text(1)?.expect("required")),
        };
        Ok(RawBatch {
            first_row,
            subscriber_id: text(0)?.expect("required"),
            event_time,
            home_plmn: text(2)?.expect("required"),
            serving_plmn: text(3)?.expect("required"),
            cell_id: text(4)?,
            event_type: text(5)?,
            counterpart_number: text(6)?,
        })
    }
}

/// Reads a cell catalogue: columns `cell_id` and `time_zone` (IANA names) in a CSV, or in
/// Parquet files (one, or a folder of them such as a MultiMNO network table with a
/// `time_zone` column added; other columns are passed over). A cell listed twice must keep
/// its zone. Errors name the file and line (row, for Parquet).
pub fn read_cell_catalogue(
    path: &Path,
) -> Result<foldhash::HashMap<Box<str>, chrono_tz::Tz>, SourceError> {
    if path.is_dir() || format_of(path) == Some(Format::Parquet) {
        let mut cells = foldhash::HashMap::default();
        for f in discover(&[path.display().to_string()])? {
            if f.format == Format::Parquet {
                read_parquet_catalogue(&f.path, &mut cells)?;
            }
        }
        return Ok(cells);
    }
    let name = path.display().to_string();
    let err = |line: u64, message: String| SourceError::Read {
        file: if line > 0 {
            format!("{name}:{line}")
        } else {
            name.clone()
        },
        source: message.into(),
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| err(0, e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let column = |want: &str| {
        headers
            .iter()
            .position(|h| h.trim() == want)
            .ok_or_else(|| {
                err(
                    1,
                    format!("missing column {want:?} (need cell_id,time_zone)"),
                )
            })
    };
    let (cell, zone) = (column("cell_id")?, column("time_zone")?);
    let mut cells = foldhash::HashMap::default();
    for record in reader.records() {
        let record = record.map_err(|e| err(0, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let id = record.get(cell).unwrap_or("").trim();
        let tz_name = record.get(zone).unwrap_or("").trim();
        if id.is_empty() {
            return Err(err(line, "empty cell_id".into()));
        }
        let tz: chrono_tz::Tz = tz_name
            .parse()
            .map_err(|_| err(line, format!("unknown IANA time zone {tz_name:?}")))?;
        cells.insert(id.into(), tz);
    }
    Ok(cells)
}

/// Adds the cells of one Parquet catalogue file to `cells`.
fn read_parquet_catalogue(
    path: &Path,
    cells: &mut foldhash::HashMap<Box<str>, chrono_tz::Tz>,
) -> Result<(), SourceError> {
    let name = path.display().to_string();
    let err = |row: u64, message: String| SourceError::Read {
        file: if row > 0 {
            format!("{name} row {row}")
        } else {
            name.clone()
        },
        source: message.into(),
    };
    let file = File::open(path).map_err(|e| err(0, e.to_string()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(0, e.to_string()))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let column = |want: &str| {
        names.iter().position(|n| n == want).ok_or_else(|| {
            err(
                0,
                format!(
                    "missing column {want:?} (a cell catalogue needs cell_id and time_zone; a MultiMNO network table has coordinates, not zones: add a time_zone column, docs/ingest.md)"
                ),
            )
        })
    };
    let (cell, zone) = (column("cell_id")?, column("time_zone")?);
    let mask = ProjectionMask::roots(builder.parquet_schema(), [cell, zone]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| err(0, e.to_string()))?;
    let (ci, zi) = if cell < zone { (0, 1) } else { (1, 0) };
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| err(row + 1, e.to_string()))?;
        let text = |i: usize| {
            cast(batch.column(i), &DataType::Utf8)
                .map_err(|e| err(row + 1, e.to_string()))
                .map(|a| {
                    a.as_any()
                        .downcast_ref::<arrow::array::StringArray>()
                        .expect("cast to Utf8")
                        .clone()
                })
        };
        let (ids, zones) = (text(ci)?, text(zi)?);
        for i in 0..batch.num_rows() {
            row += 1;
            let id = if ids.is_null(i) {
                ""
            } else {
                ids.value(i).trim()
            };
            if id.is_empty() {
                return Err(err(row, "empty cell_id".into()));
            }
            let tz_name = if zones.is_null(i) {
                ""
            } else {
                zones.value(i).trim()
            };
            let tz: chrono_tz::Tz = tz_name
                .parse()
                .map_err(|_| err(row, format!("unknown IANA time zone {tz_name:?}")))?;
            if let Some(before) = cells.insert(id.into(), tz)
                && before != tz
            {
                return Err(err(
                    row,
                    format!("a cell listed before with zone {before} is now in {tz}"),
                ));
            }
        }
    }
    Ok(())
}

impl borderflow_core::FailureKind for SourceError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            // A pattern that does not parse is the pipeline's fault; a path that matches
            // nothing is a file not (yet) delivered: an input failure a scheduler can retry.
            SourceError::Pattern { .. } => Failure::Config,
            _ => Failure::Input,
        }
    }
}

/// An input file's size and content digest, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputDigest {
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// Reads the file at `path` once to its end: its size and SHA-256. An input that cannot be
/// read is the input's failure, named by its path.
pub fn digest_file(path: &Path) -> Result<InputDigest, SourceError> {
    use sha2::{Digest, Sha256};
    let unreadable = |e: std::io::Error| SourceError::Read {
        file: path.display().to_string(),
        source: e.into(),
    };
    let mut file = File::open(path).map_err(unreadable)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        h.update(&buf[..n]);
    }
    Ok(InputDigest {
        bytes,
        sha256: hex::encode(h.finalize()),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn catalogue(dir: &Path, name: &str, cells: &[(&str, &str)]) -> PathBuf {
        let schema = Arc::new(Schema::new(vec![
            Field::new("latitude", DataType::Utf8, true),
            Field::new("time_zone", DataType::Utf8, true),
            Field::new("cell_id", DataType::Utf8, true),
        ]));
        let ids: Vec<&str> = cells.iter().map(|c| c.0).collect();
        let zones: Vec<&str> = cells.iter().map(|c| c.1).collect();
        let lat = vec!["0.0"; cells.len()];
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(lat)),
                Arc::new(StringArray::from(zones)),
                Arc::new(StringArray::from(ids)),
            ],
        )
        .unwrap();
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(File::create(&path).unwrap(), schema, None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path
    }

    #[test]
    fn a_network_table_in_parquet_folders_is_a_cell_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("mno_network");
        catalogue(
            &net,
            "year=2025/month=1/day=1/part-0.parquet",
            &[("c1", "America/Guayaquil"), ("c2", "Pacific/Galapagos")],
        );
        catalogue(
            &net,
            "year=2025/month=1/day=2/part-0.parquet",
            &[("c1", "America/Guayaquil")],
        );
        let cells = read_cell_catalogue(&net).unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells["c2"], chrono_tz::Pacific::Galapagos);

        catalogue(
            &net,
            "year=2025/month=1/day=3/part-0.parquet",
            &[("c1", "Pacific/Galapagos")],
        );
        let err = read_cell_catalogue(&net).unwrap_err().to_string();
        assert!(
            err.contains("day=3/part-0.parquet row 1") && err.contains("now in Pacific/Galapagos"),
            "{err}"
        );
    }

    /// A Parquet file of `rows` rows in row groups of `group` rows.
    pub(crate) fn grouped(dir: &Path, rows: usize, group: usize) -> InputFile {
        grouped_indexed(dir, rows, group, true)
    }

    /// [`grouped`], its footer with an offset index or without.
    pub(crate) fn grouped_indexed(
        dir: &Path,
        rows: usize,
        group: usize,
        offset_index: bool,
    ) -> InputFile {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true)]));
        let values: Vec<String> = (0..rows).map(|i| i.to_string()).collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(values))])
            .unwrap();
        let path = dir.join(format!("grouped-{rows}-{group}-{offset_index}.parquet"));
        let statistics = if offset_index {
            parquet::file::properties::EnabledStatistics::Page
        } else {
            parquet::file::properties::EnabledStatistics::Chunk
        };
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .set_statistics_enabled(statistics)
            .set_offset_index_disabled(!offset_index)
            .build();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(File::create(&path).unwrap(), schema, Some(props))
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        InputFile {
            path,
            format: Format::Parquet,
            size,
            row_groups: None,
            rows: None,
            first_row: 1,
            window: None,
            partitions: Vec::new(),
        }
    }

    /// `file`'s parts for `parts` readers with blocks of `block` rows, as (row groups, rows
    /// of them, first row).
    fn cut(file: &InputFile, parts: usize, block: u64) -> Vec<CutAt> {
        let layout = file.parquet_layout().unwrap().unwrap();
        file.split_in_blocks(&layout, parts, block)
            .iter()
            .map(|p| (p.row_groups, p.rows, p.first_row))
            .collect()
    }

    type CutAt = (Option<(usize, usize)>, Option<(u64, u64)>, u64);

    #[test]
    fn a_file_of_five_row_groups_is_split_into_equal_shares_inside_a_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let file = grouped(dir.path(), 15, 3);
        // Blocks of one row: cut in the middle of the third group.
        assert_eq!(
            cut(&file, 2, 1),
            [
                (Some((0, 3)), Some((0, 7)), 1),
                (Some((2, 5)), Some((1, 9)), 8)
            ]
        );
        // Shares that end on row-group boundaries read whole groups.
        let even = grouped(dir.path(), 18, 3);
        let thirds: Vec<_> = cut(&even, 3, 1).iter().map(|p| p.1).collect();
        assert_eq!(thirds, [None, None, None]);
        // Cut by row groups: runs of whole row groups, each group in the part its first row
        // falls in.
        let many = grouped(dir.path(), 123, 3);
        let runs: Vec<_> = many
            .split_by_row_groups(8)
            .unwrap()
            .unwrap()
            .iter()
            .map(|p| (p.row_groups.unwrap(), p.rows, p.first_row))
            .collect();
        let bounds = [0, 6, 11, 16, 21, 26, 31, 36, 41];
        let expected: Vec<_> = bounds
            .windows(2)
            .map(|b| ((b[0], b[1]), None, 3 * b[0] as u64 + 1))
            .collect();
        assert_eq!(runs, expected);
        // A small file of one row group is read whole.
        let small = grouped(dir.path(), 15, 15);
        assert_eq!(small.split(2).unwrap(), std::slice::from_ref(&small));
    }

    #[test]
    fn parts_start_where_blocks_of_the_duplicate_window_do() {
        let dir = tempfile::tempdir().unwrap();
        // Row groups of 5 rows; blocks of 2 rows start at rows 0, 2, 4, 5, 7, 9, 10, 12, 14.
        let file = grouped(dir.path(), 15, 5);
        // Two parts: the cut at row 7 is a block's start.
        assert_eq!(
            cut(&file, 2, 2),
            [
                (Some((0, 2)), Some((0, 7)), 1),
                (Some((1, 3)), Some((2, 10)), 8)
            ]
        );
        // Four parts: the cuts at rows 3, 7 and 11 (a quarter, a half and three quarters,
        // rounded down) move on to the blocks starting at 4, 7 and 12.
        let firsts: Vec<u64> = cut(&file, 4, 2).iter().map(|p| p.2).collect();
        assert_eq!(firsts, [1, 5, 8, 13]);
        // Blocks as long as the groups: only whole groups.
        let firsts: Vec<u64> = cut(&file, 4, 5).iter().map(|p| p.2).collect();
        assert_eq!(firsts, [1, 6, 11]);
        // With the engine's blocks, far longer than these groups, too.
        let firsts: Vec<u64> = file.split(2).unwrap().iter().map(|p| p.first_row).collect();
        assert_eq!(firsts, [1, 11]);
    }

    #[test]
    fn the_layout_tells_an_offset_index_from_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        let layout = |indexed| {
            grouped_indexed(dir.path(), 15, 4, indexed)
                .parquet_layout()
                .unwrap()
                .unwrap()
        };
        assert_eq!(
            layout(true),
            ParquetLayout {
                group_rows: vec![4, 4, 4, 3],
                offset_index: true
            }
        );
        assert!(!layout(false).offset_index);
        // A piece of a file is cut already.
        let piece = grouped(dir.path(), 15, 3).split(2).unwrap()[1].clone();
        assert_eq!(piece.parquet_layout().unwrap(), None);
    }
}
