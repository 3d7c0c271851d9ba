//! What both engines are given to read, reduce and stage a run's input, and what they give
//! back before anything is committed.

use std::collections::BTreeMap;
use std::path::Path;

use borderflow_ingest::ShareCounts;

use crate::reports::InputDigest;

/// What reading and reducing a run's input gave, before anything is committed: the
/// accounting of every share read to its end, how many shares each file was cut into, and the
/// presence partitions written under the staging directory.
pub(crate) struct Reduced {
    /// Per file: rows read, accepted and quarantined, and shares read to their end.
    pub counts: ShareCounts,
    /// Per file: the shares it was cut into.
    pub expected_shares: BTreeMap<String, usize>,
    /// Presence rows written.
    pub presence_rows: u64,
    /// Bytes the reduction spilled to disk.
    pub spilled_bytes: u64,
    /// The input files' digests, when the engine took them while reading (a cluster's
    /// tasks); `None` when they are taken beside the run.
    pub digests: Option<BTreeMap<String, InputDigest>>,
}

/// Where a run reads, reduces and stages: what both engines are given.
pub(crate) struct Staging<'a> {
    /// The run's scratch directory in the state directory.
    pub dir: &'a Path,
    /// Where quarantine files go (`part-<share>.parquet`).
    pub quarantine: &'a Path,
    /// Where the presence partitions go (`local_date=YYYY-MM-DD/part-0.parquet`).
    pub presence: &'a Path,
    /// Accepted functional local dates, days since 1970-01-01, both ends included.
    pub window: (i32, i32),
    /// The name of each date's file: the delivery's ([`borderflow_presence::segment_file`]).
    pub part_file: String,
}
