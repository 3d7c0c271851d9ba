//! The presence store on disk: date partitions, the key fingerprint, replacement and retention.

use std::fs;
use std::path::{Path, PathBuf};

use borderflow_core::schema::presence::PARTITION_PREFIX;
use borderflow_core::{PathError, StagedDir, write_file_atomic};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The store could not be opened or changed. Messages name the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store was built with another key.
    #[error(
        "presence store {path} holds pseudonyms made with key fingerprint {store}, but this run's key has fingerprint {run}; refusing to mix pseudonyms (use the store's key, or a new state directory)"
    )]
    KeyMismatch {
        /// The store.
        path: String,
        /// The fingerprint of the store's key.
        store: String,
        /// The fingerprint of this run's key.
        run: String,
    },
    /// There is no store yet.
    #[error("no presence store at {path}: run `borderflow ingest` first")]
    Missing {
        /// Where the store would be.
        path: String,
    },
    /// A file-system operation failed.
    #[error("presence store {0}")]
    Io(#[from] PathError),
    /// `store.json` is not what a store writes.
    #[error("presence store {}: {source}", path.display())]
    Meta {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
    /// A partition's Parquet file does not read (truncated, overwritten, not Parquet).
    #[error(
        "presence store partition {} is corrupt ({message}): restore the state directory from a backup, or remove that date's directory and ingest the day's files again",
        path.display()
    )]
    CorruptPartition {
        /// The partition's file.
        path: PathBuf,
        /// What the Parquet reader said.
        message: String,
    },
    /// A directory in the store is named like a date partition but holds no date.
    #[error("presence store {}: not a date partition", path.display())]
    BadPartition {
        /// The directory.
        path: PathBuf,
    },
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    PathError::new(path, e).into()
}

fn meta(path: &Path, source: serde_json::Error) -> StoreError {
    StoreError::Meta {
        path: path.to_path_buf(),
        source,
    }
}

/// What `store.json` records about the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoreMeta {
    /// Version of the presence layout.
    format: u32,
    /// Fingerprint of the key that made the store's pseudonyms.
    key_fingerprint: String,
}

const FORMAT: u32 = 1;
/// The store's own description, beside its partitions.
const META_FILE: &str = "store.json";

/// Writes `store.json` for a store of the key with `fingerprint`.
fn write_meta(path: &Path, fingerprint: &str) -> Result<(), StoreError> {
    let meta = StoreMeta {
        format: FORMAT,
        key_fingerprint: fingerprint.to_string(),
    };
    Ok(write_file_atomic(
        path,
        &serde_json::to_vec_pretty(&meta).expect("serialises"),
    )?)
}

/// The partitioned presence store under `state/presence/`.
#[derive(Debug, Clone)]
pub struct PresenceStore {
    dir: PathBuf,
}

impl PresenceStore {
    /// Opens (or creates) the store in `dir` for a key with `fingerprint`; refuses a store made
    /// with another key.
    pub fn open(dir: &Path, fingerprint: &str) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let meta_path = dir.join(META_FILE);
        match fs::read(&meta_path) {
            Ok(bytes) => {
                let meta: StoreMeta =
                    serde_json::from_slice(&bytes).map_err(|e| meta(&meta_path, e))?;
                let empty = Self {
                    dir: dir.to_path_buf(),
                }
                .dates()?
                .is_empty();
                if meta.key_fingerprint != fingerprint && !empty {
                    return Err(StoreError::KeyMismatch {
                        path: dir.display().to_string(),
                        store: meta.key_fingerprint,
                        run: fingerprint.to_string(),
                    });
                }
                if meta.key_fingerprint != fingerprint {
                    // No pseudonym was ever stored (a first run failed before its first
                    // day was written): nothing can be mixed, the store takes this key.
                    write_meta(&meta_path, fingerprint)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_meta(&meta_path, fingerprint)?;
            }
            Err(e) => return Err(io(&meta_path, e)),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Opens a store that ingest has already made, for reading; returns it with the
    /// fingerprint of the key that made its pseudonyms. No key is needed to read it.
    pub fn existing(dir: &Path) -> Result<(Self, String), StoreError> {
        let meta_path = dir.join(META_FILE);
        let bytes = fs::read(&meta_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::Missing {
                    path: dir.display().to_string(),
                }
            } else {
                io(&meta_path, e)
            }
        })?;
        let meta: StoreMeta = serde_json::from_slice(&bytes).map_err(|e| meta(&meta_path, e))?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
            },
            meta.key_fingerprint,
        ))
    }

    /// The store's directory (a hive-partitioned Parquet dataset).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The dates held, oldest first.
    pub fn dates(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let mut dates: Vec<NaiveDate> = fs::read_dir(&self.dir)
            .map_err(|e| io(&self.dir, e))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(PARTITION_PREFIX)?.parse().ok()
            })
            .collect();
        dates.sort();
        Ok(dates)
    }

    /// The dates held, after reading the Parquet footer of every partition: a partition that
    /// is truncated, corrupt or missing its file is named.
    pub fn check_partitions(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let dates = self.dates()?;
        for d in &dates {
            let path = self
                .dir
                .join(format!("{PARTITION_PREFIX}{d}"))
                .join(borderflow_core::schema::presence::PART_FILE);
            let file = fs::File::open(&path).map_err(|e| io(&path, e))?;
            parquet::file::reader::SerializedFileReader::new(file).map_err(|e| {
                StoreError::CorruptPartition {
                    path: path.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        Ok(dates)
    }

    /// Moves every date partition written under `staging` into the store. Each date replaces
    /// the store's partition for that date in two renames, so a reader sees the old day or the
    /// new day, never a mixture. Returns the dates replaced.
    pub fn replace_from(&self, staging: &Path) -> Result<Vec<NaiveDate>, StoreError> {
        let mut moved = Vec::new();
        let entries = fs::read_dir(staging).map_err(|e| io(staging, e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(PARTITION_PREFIX))
            .collect();
        names.sort();
        for name in names {
            let date: NaiveDate =
                name[PARTITION_PREFIX.len()..]
                    .parse()
                    .map_err(|_| StoreError::BadPartition {
                        path: staging.join(&name),
                    })?;
            // Flushed to disk, then swapped in whole: the old day is moved aside first.
            StagedDir::adopt(staging.join(&name), &self.dir.join(&name)).commit()?;
            moved.push(date);
            if moved.len() == 1 {
                borderflow_core::failpoint::hit("ingest:swapping");
            }
        }
        Ok(moved)
    }

    /// Removes partitions more than `lookback_days` before the newest date held. Returns the
    /// dates removed.
    pub fn retain(&self, lookback_days: u32) -> Result<Vec<NaiveDate>, StoreError> {
        let dates = self.dates()?;
        let Some(newest) = dates.last().copied() else {
            return Ok(Vec::new());
        };
        let oldest_kept = newest - chrono::Days::new(u64::from(lookback_days.saturating_sub(1)));
        let mut removed = Vec::new();
        for d in dates.into_iter().filter(|d| *d < oldest_kept) {
            let p = self.dir.join(format!("{PARTITION_PREFIX}{d}"));
            fs::remove_dir_all(&p).map_err(|e| io(&p, e))?;
            removed.push(d);
        }
        Ok(removed)
    }
}

impl borderflow_core::FailureKind for StoreError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            // The run's key is not the store's: the pipeline names the wrong key.
            StoreError::KeyMismatch { .. } => Failure::Config,
            StoreError::Missing { .. }
            | StoreError::Io(_)
            | StoreError::Meta { .. }
            | StoreError::BadPartition { .. }
            | StoreError::CorruptPartition { .. } => Failure::State,
        }
    }
}
