//! The presence store on disk: date partitions holding one file per delivery, the register of
//! deliveries, the key fingerprint and binding, and retention.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use borderflow_core::schema::presence::PARTITION_PREFIX;
use borderflow_core::{DateWindow, PathError, sync_dir, write_file_atomic};
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
    /// No delivery of that id is in the store.
    #[error("presence store {path} holds no delivery {id:?} (`borderflow deliveries` lists them)")]
    UnknownDelivery {
        /// The store.
        path: String,
        /// The id asked for.
        id: String,
    },
    /// The store holds days but its description is gone: the key that made its pseudonyms,
    /// and what it is bound to, are unknown.
    #[error(
        "{}: missing, but the presence store beside it holds days: which key made their pseudonyms is unknown, so no run may add to them; restore store.json from a backup (docs/operations.md)",
        path.display()
    )]
    MetaMissing {
        /// Where `store.json` should be.
        path: PathBuf,
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
        "presence store partition {} is corrupt ({message}): restore the state directory from a backup (the files that gave it are recorded as taken, so delivering them again would not rebuild it)",
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
    /// The store was made for another measuring country or other operator networks.
    #[error(
        "presence store {path} holds the {held} and this pipeline names the {given}: a state directory is one operator's store for one measuring country; refusing to mix them (point state_dir at this pipeline's own directory)"
    )]
    Foreign {
        /// The store.
        path: String,
        /// What the store was made for, in words.
        held: String,
        /// What the pipeline names, in words.
        given: String,
    },
    /// The ledger beside the store is not the one its releases were accounted in.
    #[error(
        "presence store {path} was accounted in the ledger {held}, but the ledger beside it is {given}: the privacy budget would start again; restore the store's own ledger from a backup (docs/operations.md)"
    )]
    ForeignLedger {
        /// The store.
        path: String,
        /// The ledger the store was bound to.
        held: String,
        /// The ledger found.
        given: String,
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

/// What `store.json` records about the store: the key that made its pseudonyms, and what the
/// store is bound to at its first run (docs/operations.md, "One state directory, one store").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoreMeta {
    /// Version of the presence layout.
    format: u32,
    /// Fingerprint of the key that made the store's pseudonyms.
    key_fingerprint: String,
    /// The measuring country and the operator's networks; absent in a store made before
    /// stores were bound (it is bound by its next run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    binding: Option<StoreBinding>,
}

/// What a store is for: one operator's networks, measured from one country. A pipeline naming
/// anything else is refused before it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreBinding {
    /// The measuring country (ISO 3166-1 alpha-3).
    pub measuring_country: String,
    /// The operator's own PLMNs, sorted.
    pub operator_plmns: Vec<String>,
    /// The ledger the store's releases are accounted in (the ledger's identity: its kind
    /// and creation); `None` until a ledger exists beside the store. A ledger other than this
    /// one, or none, beside the store is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
}

impl StoreBinding {
    fn describe(&self) -> String {
        format!(
            "measuring country {} and operator networks [{}]",
            self.measuring_country,
            self.operator_plmns.join(", ")
        )
    }
}

/// Layout 2: several files per date, one per delivery (`part-<delivery>.parquet`), and the
/// register of deliveries. Layout 1 held one `part-0.parquet` per date.
const FORMAT: u32 = 2;
/// The store's own description, beside its partitions.
const META_FILE: &str = "store.json";

/// Dates moved into the store at once: moving one is mostly waiting for the disk to sync, so
/// many more than the cores. 365 dates of 5.15 M events on a virtual disk: 0.25 s one at a
/// time, 0.065–0.15 s eight at a time, 0.044–0.058 s 32 at a time. (Flushing each date's file
/// from threads beside the reduction's workers instead, as it was written, made whole runs
/// 3–6% slower: the flushes took the workers' cores.)
const DATE_MOVERS: usize = 32;
/// The register of deliveries, beside the partitions.
const REGISTER_FILE: &str = "deliveries.json";

/// Writes `store.json`.
fn write_meta(path: &Path, meta: &StoreMeta) -> Result<(), StoreError> {
    Ok(write_file_atomic(
        path,
        &serde_json::to_vec_pretty(meta).expect("serialises"),
    )?)
}

fn read_meta(path: &Path) -> Result<Option<StoreMeta>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).map_err(|e| meta(path, e))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

/// The file of a delivery's rows in a date partition: `part-<delivery>.parquet`.
pub fn segment_file(delivery: &str) -> String {
    format!("part-{delivery}.parquet")
}

/// One content of input file the store has taken, known by its SHA-256 digest whatever its
/// name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenFile {
    /// Bytes.
    pub size: u64,
    /// The names it was delivered under.
    pub names: Vec<String>,
    /// The dates it has given the store: the windows it was read under.
    pub covered: DateWindow,
    /// The first and last date of its rows (inside those windows or not), when any row had
    /// one: beyond them, reading it again could give nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<(i32, i32)>,
}

impl TakenFile {
    /// The dates of `window` this content could still give the store: none when it has been
    /// read for all of them before, or has no row on them.
    pub fn still_to_give(&self, window: &DateWindow) -> DateWindow {
        let left = window.minus(&self.covered);
        match self.dates {
            Some((a, b)) => left.intersect(&DateWindow::from_range(a, b)),
            None => DateWindow::default(),
        }
    }
}

/// One file of a delivery, as the register records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredFile {
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// Its name in this delivery.
    pub name: String,
    /// The dates it was read for.
    pub window: DateWindow,
    /// The first and last date of its rows, when any row had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<(i32, i32)>,
}

/// Whether a delivery's files are in the store for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Its files are being moved in: a run that finds it so was killed, and its files are
    /// removed before anything reads the store.
    Pending,
    /// In the store.
    Committed,
}

/// One ingest run's contribution to the store: a file per date it gave rows to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id (the ingest run's), naming its files (`part-<id>.parquet`).
    pub id: String,
    /// Whether it is in the store for good.
    pub state: DeliveryState,
    /// The files read.
    pub files: Vec<DeliveredFile>,
}

/// The register of every delivery in the store and every file content taken
/// (`presence/deliveries.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRegister {
    /// The deliveries, oldest first.
    pub deliveries: Vec<Delivery>,
    /// Every content taken, by SHA-256.
    pub files: std::collections::BTreeMap<String, TakenFile>,
}

impl DeliveryRegister {
    /// Forgets every content taken and takes again those of the committed deliveries (after
    /// one was removed).
    fn retake(&mut self) {
        self.files.clear();
        let ids: Vec<String> = self
            .deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Committed)
            .map(|d| d.id.clone())
            .collect();
        for id in ids {
            self.commit(&id);
        }
    }

    /// Records `delivery` as committed: its files become taken for their windows.
    fn commit(&mut self, id: &str) {
        let Some(d) = self.deliveries.iter_mut().find(|d| d.id == id) else {
            return;
        };
        d.state = DeliveryState::Committed;
        for f in &d.files {
            let taken = self
                .files
                .entry(f.sha256.clone())
                .or_insert_with(|| TakenFile {
                    size: f.size,
                    names: Vec::new(),
                    covered: DateWindow::default(),
                    dates: None,
                });
            if !taken.names.contains(&f.name) {
                taken.names.push(f.name.clone());
            }
            taken.covered = taken.covered.union(&f.window);
            taken.dates = match (taken.dates, f.dates) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (x, y) => x.or(y),
            };
        }
    }
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
        let store = Self {
            dir: dir.to_path_buf(),
        };
        match read_meta(&meta_path)? {
            Some(mut meta) => {
                let empty = store.dates()?.is_empty();
                if meta.key_fingerprint != fingerprint && !empty {
                    return Err(StoreError::KeyMismatch {
                        path: dir.display().to_string(),
                        store: meta.key_fingerprint,
                        run: fingerprint.to_string(),
                    });
                }
                if meta.format < FORMAT {
                    store.upgrade_register()?;
                }
                if meta.key_fingerprint != fingerprint || meta.format != FORMAT {
                    // No pseudonym was ever stored (a first run failed before its first
                    // day was written): nothing can be mixed, the store takes this key.
                    meta.key_fingerprint = fingerprint.to_string();
                    meta.format = FORMAT;
                    write_meta(&meta_path, &meta)?;
                }
            }
            None if !store.dates()?.is_empty() => {
                return Err(StoreError::MetaMissing {
                    path: meta_path.clone(),
                });
            }
            None => {
                let meta = StoreMeta {
                    format: FORMAT,
                    key_fingerprint: fingerprint.to_string(),
                    binding: None,
                };
                write_meta(&meta_path, &meta)?;
            }
        }
        Ok(store)
    }

    /// Opens a store that ingest has already made, for reading; returns it with the
    /// fingerprint of the key that made its pseudonyms. No key is needed to read it.
    pub fn existing(dir: &Path) -> Result<(Self, String), StoreError> {
        let meta_path = dir.join(META_FILE);
        let Some(meta) = read_meta(&meta_path)? else {
            let store = Self {
                dir: dir.to_path_buf(),
            };
            if dir.is_dir() && !store.dates()?.is_empty() {
                return Err(StoreError::MetaMissing { path: meta_path });
            }
            return Err(StoreError::Missing {
                path: dir.display().to_string(),
            });
        };
        Ok((
            Self {
                dir: dir.to_path_buf(),
            },
            meta.key_fingerprint,
        ))
    }

    /// [`Self::existing`], or `None` where there is no store yet: no directory, or one with
    /// neither a description nor a date (a first run killed between making the directory and
    /// describing it; the next run's [`Self::open`] makes the store in it).
    pub fn existing_if_any(dir: &Path) -> Result<Option<(Self, String)>, StoreError> {
        match Self::existing(dir) {
            Ok(found) => Ok(Some(found)),
            Err(StoreError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What the store at `dir` is bound to, if it exists and is bound.
    pub fn binding_at(dir: &Path) -> Result<Option<StoreBinding>, StoreError> {
        Ok(read_meta(&dir.join(META_FILE))?.and_then(|m| m.binding))
    }

    /// Refuses `given` when the store is bound to another measuring country, other operator
    /// networks or another ledger. Changes nothing.
    pub fn check_binding(dir: &Path, given: &StoreBinding) -> Result<(), StoreError> {
        let Some(held) = Self::binding_at(dir)? else {
            return Ok(());
        };
        let path = dir.display().to_string();
        if held.measuring_country != given.measuring_country
            || held.operator_plmns != given.operator_plmns
        {
            return Err(StoreError::Foreign {
                path,
                held: held.describe(),
                given: given.describe(),
            });
        }
        if let (Some(h), Some(g)) = (&held.ledger, &given.ledger)
            && h != g
        {
            return Err(StoreError::ForeignLedger {
                path,
                held: h.clone(),
                given: g.clone(),
            });
        }
        Ok(())
    }

    /// Binds the store to `given` if it is not bound yet; refuses another binding.
    pub fn bind(&self, given: &StoreBinding) -> Result<(), StoreError> {
        Self::check_binding(&self.dir, given)?;
        let meta_path = self.dir.join(META_FILE);
        let Some(mut meta) = read_meta(&meta_path)? else {
            return Err(StoreError::Missing {
                path: self.dir.display().to_string(),
            });
        };
        let bound = match meta.binding.clone() {
            None => given.clone(),
            Some(held) => StoreBinding {
                ledger: held.ledger.or_else(|| given.ledger.clone()),
                ..held
            },
        };
        if meta.binding.as_ref() != Some(&bound) {
            meta.binding = Some(bound);
            write_meta(&meta_path, &meta)?;
        }
        Ok(())
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

    fn date_dir(&self, d: NaiveDate) -> PathBuf {
        self.dir.join(format!("{PARTITION_PREFIX}{d}"))
    }

    /// The Parquet files of a date, one per delivery, in name order.
    pub fn date_files(&self, d: NaiveDate) -> Result<Vec<PathBuf>, StoreError> {
        let dir = self.date_dir(d);
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| io(&dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        files.sort();
        Ok(files)
    }

    /// The dates held, after reading the Parquet footer of every file of every partition: a
    /// file that is truncated or corrupt, or a date without a file, is named.
    pub fn check_partitions(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let dates = self.dates()?;
        for d in &dates {
            let files = self.date_files(*d)?;
            if files.is_empty() {
                let path = self.date_dir(*d).join(segment_file("*"));
                return Err(io(
                    &path,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no presence file"),
                ));
            }
            for path in files {
                let file = fs::File::open(&path).map_err(|e| io(&path, e))?;
                parquet::file::reader::SerializedFileReader::new(file).map_err(|e| {
                    StoreError::CorruptPartition {
                        path: path.clone(),
                        message: e.to_string(),
                    }
                })?;
            }
        }
        Ok(dates)
    }

    /// The register of deliveries (empty for a new store).
    pub fn register(&self) -> Result<DeliveryRegister, StoreError> {
        let path = self.dir.join(REGISTER_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| meta(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DeliveryRegister::default()),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn write_register(&self, register: &DeliveryRegister) -> Result<(), StoreError> {
        Ok(write_file_atomic(
            &self.dir.join(REGISTER_FILE),
            &serde_json::to_vec_pretty(register).expect("serialises"),
        )?)
    }

    /// A store of layout 1 kept no register: the files its ingest reports name (beside the
    /// store, `../ingest/*.json`) are recorded as taken for every date, so delivering them
    /// again adds nothing. Their one file per date is kept as the delivery `0`.
    fn upgrade_register(&self) -> Result<(), StoreError> {
        let mut register = self.register()?;
        let reports = self.dir.with_file_name("ingest");
        let mut files = Vec::new();
        if let Ok(entries) = fs::read_dir(&reports) {
            for e in entries.flatten() {
                let Ok(bytes) = fs::read(e.path()) else {
                    continue;
                };
                let Ok(report) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                let Some(inputs) = report.get("inputs").and_then(|v| v.as_object()) else {
                    continue;
                };
                for (name, digest) in inputs {
                    let (Some(sha), Some(size)) = (
                        digest.get("sha256").and_then(|v| v.as_str()),
                        digest.get("bytes").and_then(|v| v.as_u64()),
                    ) else {
                        continue;
                    };
                    files.push(DeliveredFile {
                        sha256: sha.to_string(),
                        size,
                        name: name.clone(),
                        window: DateWindow::from_range(i32::MIN, i32::MAX),
                        dates: Some((i32::MIN, i32::MAX)),
                    });
                }
            }
        }
        register.deliveries.push(Delivery {
            id: "0".into(),
            state: DeliveryState::Committed,
            files,
        });
        register.commit("0");
        self.write_register(&register)
    }

    /// Records `delivery` as pending, before its files are moved in: a run killed while
    /// moving them leaves a pending delivery, and [`Self::roll_back`] removes its files.
    pub fn begin(&self, delivery: Delivery) -> Result<(), StoreError> {
        let mut register = self.register()?;
        register.deliveries.retain(|d| d.id != delivery.id);
        register.deliveries.push(Delivery {
            state: DeliveryState::Pending,
            ..delivery
        });
        self.write_register(&register)
    }

    /// Moves every date file written under `staging` (`local_date=D/part-<id>.parquet`) into
    /// the store beside the files other deliveries gave that date: a delivery adds to a date,
    /// never replaces it. Each file is flushed, then renamed in. Returns the dates given.
    pub fn add_from(&self, staging: &Path) -> Result<Vec<NaiveDate>, StoreError> {
        let entries = fs::read_dir(staging).map_err(|e| io(staging, e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(PARTITION_PREFIX))
            .collect();
        names.sort();
        let dates = names
            .iter()
            .map(|name| {
                name[PARTITION_PREFIX.len()..]
                    .parse::<NaiveDate>()
                    .map_err(|_| StoreError::BadPartition {
                        path: staging.join(name),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Moving a date is waiting on the disk (a directory made, files and directories
        // synced), so several are moved at once; the store's own directory is synced last.
        let (next, moved, failed) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicBool::new(false),
        );
        let move_dates = || -> Result<(), StoreError> {
            while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                self.move_date(&staging.join(name), &self.dir.join(name))
                    .inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
                if moved.fetch_add(1, Ordering::Relaxed) == 0 {
                    borderflow_core::failpoint::hit("ingest:swapping");
                }
            }
            Ok(())
        };
        let results: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let movers: Vec<_> = (0..DATE_MOVERS.min(names.len()))
                .map(|_| s.spawn(move_dates))
                .collect();
            movers
                .into_iter()
                .map(|m| m.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        results.into_iter().collect::<Result<(), _>>()?;
        sync_dir(&self.dir)?;
        Ok(dates)
    }

    /// Moves one staged date's files into the store's date directory, each synced before its
    /// rename, then the directory synced. A date the store does not hold yet (every date of a
    /// first delivery, and of each new month) takes the staged directory whole: one rename
    /// instead of a directory made and a rename per file (making the staging and store
    /// directories was 6% of a yearly run's CPU samples on ext4, half of it here).
    fn move_date(&self, from_dir: &Path, to_dir: &Path) -> Result<(), StoreError> {
        let mut files = Vec::new();
        for entry in fs::read_dir(from_dir).map_err(|e| io(from_dir, e))? {
            let from = entry.map_err(|e| io(from_dir, e))?.path();
            fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(&from, e))?;
            files.push(from);
        }
        // Renaming onto a directory another delivery filled fails (ENOTEMPTY); then, or when
        // the date is already held, the files go one by one.
        let whole = !to_dir.exists() && fs::rename(from_dir, to_dir).is_ok();
        if !whole {
            fs::create_dir_all(to_dir).map_err(|e| io(to_dir, e))?;
            for from in files {
                let to = to_dir.join(from.file_name().expect("a file"));
                fs::rename(&from, &to).map_err(|e| io(&to, e))?;
            }
        }
        sync_dir(to_dir)?;
        Ok(())
    }

    /// Marks the pending delivery `id` committed: its files are the store's for good, and its
    /// file contents are taken for the windows they were read under.
    pub fn commit(&self, id: &str) -> Result<(), StoreError> {
        let mut register = self.register()?;
        register.commit(id);
        self.write_register(&register)
    }

    /// Removes the files of every pending delivery (a run killed before its delivery was
    /// committed) and forgets the delivery. Only a run holding the state directory's lock may.
    /// Returns the deliveries rolled back.
    pub fn roll_back(&self) -> Result<usize, StoreError> {
        let mut register = self.register()?;
        let pending: Vec<String> = register
            .deliveries
            .iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| d.id.clone())
            .collect();
        if pending.is_empty() {
            return Ok(0);
        }
        for d in self.dates()? {
            let dir = self.date_dir(d);
            for id in &pending {
                let path = dir.join(segment_file(id));
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path, e)),
                }
            }
            if self.date_files(d)?.is_empty() {
                fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
            }
        }
        register
            .deliveries
            .retain(|d| d.state != DeliveryState::Pending);
        self.write_register(&register)?;
        Ok(pending.len())
    }

    /// The dates a delivery gave rows to (those still held).
    pub fn dates_of(&self, id: &str) -> Result<Vec<NaiveDate>, StoreError> {
        let file = segment_file(id);
        Ok(self
            .dates()?
            .into_iter()
            .filter(|d| self.date_dir(*d).join(&file).is_file())
            .collect())
    }

    /// Takes the committed delivery `id` out of the store: its file of every date, and its
    /// contents from the register, so delivering them again reads them afresh (how a wrong
    /// delivery is corrected). Marked pending first, so a run killed half-way is finished by
    /// the next one's [`Self::roll_back`]. Only a run holding the state directory's lock may.
    /// Returns the dates it had given rows to.
    pub fn remove_delivery(&self, id: &str) -> Result<Vec<NaiveDate>, StoreError> {
        let mut register = self.register()?;
        let Some(d) = register.deliveries.iter_mut().find(|d| d.id == id) else {
            return Err(StoreError::UnknownDelivery {
                path: self.dir.display().to_string(),
                id: id.to_string(),
            });
        };
        d.state = DeliveryState::Pending;
        register.retake();
        self.write_register(&register)?;
        let dates = self.dates_of(id)?;
        self.roll_back()?;
        Ok(dates)
    }

    /// Removes the partitions of dates before `oldest_kept`: the retention rule, applied from
    /// the period a run releases (never from the dates the data happen to hold). Returns the
    /// dates removed.
    pub fn retain_from(&self, oldest_kept: NaiveDate) -> Result<Vec<NaiveDate>, StoreError> {
        let mut removed = Vec::new();
        for d in self.dates()?.into_iter().filter(|d| *d < oldest_kept) {
            let p = self.date_dir(d);
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
            StoreError::KeyMismatch { .. }
            | StoreError::Foreign { .. }
            | StoreError::UnknownDelivery { .. } => Failure::Config,
            StoreError::Missing { .. }
            | StoreError::MetaMissing { .. }
            | StoreError::Io(_)
            | StoreError::Meta { .. }
            | StoreError::BadPartition { .. }
            | StoreError::ForeignLedger { .. }
            | StoreError::CorruptPartition { .. } => Failure::State,
        }
    }
}
