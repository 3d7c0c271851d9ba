//! Reading one share of a run's input: a list of files (or runs of a Parquet file's row
//! groups) read front to back by one validator, its quarantined rows written to one file.
//!
//! The local engine reads one share per thread; a cluster reads one share per task, on
//! whichever executor runs it. Both go through [`read_share`], so a row is validated,
//! counted and quarantined the same way wherever it is read.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use borderflow_core::TooManySims;
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use serde::{Deserialize, Serialize};

use crate::fingerprint::DUPLICATE_BLOCK_ROWS;
use crate::validate::quarantine_schema;
use crate::{FileCounts, InputConfig, InputFile, SourceError, Validated, Validator};

/// A quarantine file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct QuarantineError {
    /// The quarantine file.
    pub path: PathBuf,
    /// What the Parquet writer (or the file system) said.
    #[source]
    pub source: ParquetError,
}

/// Why a share could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// An input file is unreadable, or a batch of it malformed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// More distinct SIMs than one run can number.
    #[error(transparent)]
    TooManySims(#[from] TooManySims),
    /// The share's quarantine file could not be written.
    #[error(transparent)]
    Quarantine(#[from] QuarantineError),
}

/// What the reader does after a batch: go on, or stop because the run is failing elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next batch.
    Continue,
    /// Stop now; the share is not read to its end.
    Stop,
}

/// One file's part of a share: its rows' accounting and how many of the file's shares this
/// counts (a Parquet file split by row groups is read in several shares).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileShares {
    /// Rows read, accepted and quarantined by reason.
    pub counts: FileCounts,
    /// Shares of the file read to their end.
    pub shares: usize,
}

/// The accounting of shares read to their end, by file name.
pub type ShareCounts = BTreeMap<String, FileShares>;

/// Adds `more` into `into`, file by file.
pub fn add_share_counts(into: &mut ShareCounts, more: &ShareCounts) {
    for (name, f) in more {
        let entry = into.entry(name.clone()).or_default();
        entry.counts.add(&f.counts);
        entry.shares += f.shares;
    }
}

/// Reads `files` in order with `validator`, writing quarantined rows to `quarantine` (created
/// only if a row is quarantined) and handing every validated batch to `on_batch`, with the
/// index in `files` of the piece it came from and the bytes of that piece read so far. Returns the share's accounting, or `None` when `on_batch` said
/// stop (then nothing of the share counts, and the quarantine file may be partial).
pub fn read_share<E>(
    validator: &mut Validator<'_>,
    input: &InputConfig,
    files: &[InputFile],
    quarantine: &Path,
    mut on_batch: impl FnMut(&Validated, usize, u64) -> Result<Flow, E>,
) -> Result<Option<ShareCounts>, E>
where
    E: From<ShareError>,
{
    let quarantine_error = |source| {
        ShareError::Quarantine(QuarantineError {
            path: quarantine.to_path_buf(),
            source,
        })
    };
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut out = ShareCounts::new();
    for (piece, f) in files.iter().enumerate() {
        let mut reader = f.open(input).map_err(ShareError::from)?;
        validator.start_file(f.window.clone(), reader.row_group_starts());
        let mut counts = FileCounts::default();
        while let Some(batch) = reader.next_batch() {
            let batch = batch.map_err(ShareError::from)?;
            let validated = validator
                .validate(reader.name(), &batch)
                .map_err(ShareError::from)?;
            counts.add(&validated.counts);
            if validated.quarantine.num_rows() > 0 {
                if writer.is_none() {
                    let file = File::create(quarantine)
                        .map_err(|e| quarantine_error(ParquetError::External(Box::new(e))))?;
                    writer = Some(
                        ArrowWriter::try_new(file, quarantine_schema(), None)
                            .map_err(quarantine_error)?,
                    );
                }
                let w = writer.as_mut().expect("created above");
                w.write(&validated.quarantine).map_err(quarantine_error)?;
            }
            if on_batch(&validated, piece, reader.bytes_read())? == Flow::Stop {
                return Ok(None);
            }
        }
        let entry = out.entry(reader.name().to_string()).or_default();
        entry.counts.add(&counts);
        entry.shares += 1;
    }
    if let Some(w) = writer {
        w.close().map_err(quarantine_error)?;
    }
    Ok(Some(out))
}

/// A run's input dealt into shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dealt {
    /// The non-empty shares, each read front to back by one reader.
    pub shares: Vec<Vec<InputFile>>,
    /// Per file: the pieces it was cut into (what "read to its end" means for it).
    pub pieces: BTreeMap<String, usize>,
}

/// Pieces per reading thread a Parquet file is cut into for [`cut_pieces`], at most (one row
/// group each when it has fewer).
pub const PIECES_PER_THREAD: usize = 16;

/// Row groups per reading thread a Parquet file needs to be cut between row groups only.
pub const MIN_GROUPS_PER_THREAD: usize = 4;

/// Rows a piece cut inside row groups has at least (four reader batches, four blocks of the
/// duplicate window): pieces that small would cost more in opening than they balance.
pub const MIN_PIECE_ROWS: u64 = 4 * DUPLICATE_BLOCK_ROWS;

/// Cuts a run's input into pieces for `threads` reading threads that take them from a queue,
/// one at a time (the local engine): each piece a share of its own, largest first. A Parquet
/// file with [`MIN_GROUPS_PER_THREAD`] row groups per thread or more is cut into runs of whole
/// row groups, up to [`PIECES_PER_THREAD`] per thread; one with fewer into as many runs of
/// rows cut inside its row groups, of at least [`MIN_PIECE_ROWS`] rows, where its footer has
/// an offset index and its rows make more pieces than threads, else into one run of rows per
/// thread ([`InputFile::split_in`]); other files are pieces whole. Every piece starts where a
/// block of the duplicate window does, so the verdicts are those of the whole file read by
/// one thread. Small pieces taken in turn leave no thread idle long at the end: with one
/// fixed share each, one thread read on for over half a second after the other was done at
/// 51.7 M events. Each file's footer is read once.
pub fn cut_pieces(files: &[InputFile], threads: usize) -> Result<Dealt, SourceError> {
    let threads = threads.max(1);
    let mut pieces = Vec::new();
    let mut expected = BTreeMap::new();
    for f in files {
        let split = match f.parquet_layout()? {
            None => vec![f.clone()],
            Some(layout) => match f.split_by_row_groups_in(&layout, threads * PIECES_PER_THREAD) {
                Some(runs) if runs.len() >= threads * MIN_GROUPS_PER_THREAD => runs,
                // Too few row groups to balance the threads: runs of rows cut inside them, as
                // many as whole groups would have given, where the file lets a reader skip to
                // a piece's first page. A file too small for more pieces than threads, or
                // without an offset index, is cut into one run per thread.
                _ => {
                    let parts = (threads * PIECES_PER_THREAD)
                        .min(usize::try_from(layout.rows() / MIN_PIECE_ROWS).unwrap_or(usize::MAX));
                    if threads > 1 && parts > threads && layout.offset_index {
                        f.split_in(&layout, parts)
                    } else {
                        f.split_in(&layout, threads)
                    }
                }
            },
        };
        expected.insert(f.path.display().to_string(), split.len());
        pieces.extend(split);
    }
    pieces.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(a.path.cmp(&b.path))
            .then(a.first_row.cmp(&b.first_row))
    });
    Ok(Dealt {
        shares: pieces.into_iter().map(|p| vec![p]).collect(),
        pieces: expected,
    })
}

/// Deals `files` into at most `partitions` shares of about equal bytes: large Parquet files
/// split by row groups so one file keeps every partition busy, then the pieces dealt out
/// largest first to the least-loaded share.
pub fn deal_shares(files: &[InputFile], partitions: usize) -> Result<Dealt, SourceError> {
    let partitions = partitions.max(1);
    let mut pieces = Vec::new();
    let mut expected = BTreeMap::new();
    for f in files {
        let split = f.split(partitions)?;
        expected.insert(f.path.display().to_string(), split.len());
        pieces.extend(split);
    }
    let mut shares: Vec<(u64, Vec<InputFile>)> = vec![(0, Vec::new()); partitions];
    pieces.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
    for f in pieces {
        let share = shares
            .iter_mut()
            .min_by_key(|s| s.0)
            .expect("partitions > 0");
        share.0 += f.size;
        share.1.push(f);
    }
    let shares = shares
        .into_iter()
        .map(|(_, files)| files)
        .filter(|files| !files.is_empty())
        .collect();
    Ok(Dealt {
        shares,
        pieces: expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tests::{grouped, grouped_indexed};

    #[test]
    fn a_file_of_few_row_groups_is_cut_inside_them_on_duplicate_window_blocks() {
        let dir = tempfile::tempdir().unwrap();
        // Two row groups for two threads: too few to balance them whole. A million rows make
        // three pieces of at least MIN_PIECE_ROWS, each starting a whole number of blocks
        // from the start of its row group: the cuts at a third and two thirds of the rows
        // move on to the next block's start.
        let file = grouped(dir.path(), 1_000_000, 500_000);
        let dealt = cut_pieces(std::slice::from_ref(&file), 2).unwrap();
        let block = DUPLICATE_BLOCK_ROWS;
        let firsts: Vec<u64> = dealt.shares.iter().map(|s| s[0].first_row).collect();
        // Largest first: the first piece is a block longer than the other two.
        assert_eq!(firsts, [1, 6 * block + 1, 500_000 + 3 * block + 1]);
        assert_eq!(dealt.pieces[&file.path.display().to_string()], 3);
        // One thread reads the file whole.
        let alone = cut_pieces(std::slice::from_ref(&file), 1).unwrap();
        assert_eq!(alone.shares, [vec![file]]);
        // Without an offset index a piece starting mid-group would decode the rows before it:
        // one run of rows per thread, as few as can balance them.
        let plain = grouped_indexed(dir.path(), 1_000_000, 500_000, false);
        let dealt = cut_pieces(std::slice::from_ref(&plain), 2).unwrap();
        let firsts: Vec<u64> = dealt.shares.iter().map(|s| s[0].first_row).collect();
        assert_eq!(firsts, [1, 500_001]);
        // Nor is a file cut finer when it has rows for no more pieces than threads.
        let small = grouped(dir.path(), 600_000, 300_000);
        let dealt = cut_pieces(std::slice::from_ref(&small), 2).unwrap();
        let firsts: Vec<u64> = dealt.shares.iter().map(|s| s[0].first_row).collect();
        assert_eq!(firsts, [1, 300_001]);
    }
}
