//! One run at a time per state directory: an advisory lock on `state/.lock`, released by the
//! operating system when the process ends, however it ends (so a crash leaves no stale lock).
//!
//! The lock is taken before anything in the state directory is created, and a whole run
//! holds it from its first check to its last write ([`StateLock::for_run`]): its stages ask
//! for it again and share it, while any other holder is refused at once.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use borderflow_core::layout::STAGING_PREFIX;
use borderflow_core::{PathError, StateLayout, WithPath, is_atomic_temp};

/// Holds the state directory's lock until dropped (the last holder in this process drops
/// it).
#[derive(Debug)]
pub struct StateLock {
    _file: Arc<File>,
}

/// The locks held by runs of this process ([`StateLock::for_run`]), by state directory: the
/// stages of the run share them.
static HELD: Mutex<Vec<(PathBuf, Weak<File>)>> = Mutex::new(Vec::new());

/// Creates the state directory readable by its owner only (it holds pseudonyms and exact
/// counts), whatever the umask, and makes an existing one so.
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "another borderflow run is using {0}; this run stopped without changing anything (try again when it has finished)"
    )]
    Busy(String),
    /// The lock file could not be opened.
    #[error("{}: cannot lock: {source}", path.display())]
    Io {
        /// The state directory.
        path: std::path::PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Removes, under `dir`, every file a write killed before its rename left
/// ([`is_atomic_temp`]). Returns how many went.
fn remove_atomic_temps(dir: &Path) -> Result<usize, PathError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).with_path(dir)?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            removed += remove_atomic_temps(&path)?;
        } else if is_atomic_temp(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(&path).with_path(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

impl StateLock {
    /// Removes what crashed runs left in the state directory: every staging directory and
    /// file of its top level ([`STAGING_PREFIX`]), spill directories included, and, anywhere
    /// below, every file a write was killed before renaming into place
    /// ([`borderflow_core::is_atomic_temp`]). Only the holder of the lock may, since only
    /// then is no other run writing there. Returns how many went.
    pub fn clear_leftovers(&self, state: &StateLayout) -> Result<usize, PathError> {
        let mut removed = 0;
        let root = state.root();
        for entry in std::fs::read_dir(root).with_path(root)?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(STAGING_PREFIX) {
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).with_path(&path)?;
                } else {
                    std::fs::remove_file(&path).with_path(&path)?;
                }
                removed += 1;
            } else if path.is_dir() {
                removed += remove_atomic_temps(&path)?;
            } else if is_atomic_temp(&name) {
                std::fs::remove_file(&path).with_path(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Takes the lock of `state_dir` for a whole run: until it is dropped, the stages of the
    /// run ([`Self::acquire`] in this process) share it, and every other holder is refused.
    pub fn for_run(state_dir: &Path) -> Result<Self, LockError> {
        let lock = Self::acquire(state_dir)?;
        let key = state_dir.canonicalize().map_err(|source| LockError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if !held.iter().any(|(k, _)| *k == key) {
            held.push((key, Arc::downgrade(&lock._file)));
        }
        Ok(lock)
    }

    /// Takes the lock of `state_dir` (created if missing, owner-only) without waiting; shares
    /// it with the run of this process that holds it ([`Self::for_run`]).
    pub fn acquire(state_dir: &Path) -> Result<Self, LockError> {
        let io = |source: std::io::Error| LockError::Io {
            path: state_dir.to_path_buf(),
            source,
        };
        create_private(state_dir).map_err(io)?;
        let key = state_dir.canonicalize().map_err(io)?;
        {
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            held.retain(|(_, w)| w.strong_count() > 0);
            if let Some(file) = held
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, w)| w.upgrade())
            {
                return Ok(Self { _file: file });
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(borderflow_core::StateLayout::new(state_dir).lock())
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                _file: Arc::new(file),
            }),
            Err(TryLockError::WouldBlock) => Err(LockError::Busy(state_dir.display().to_string())),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

impl borderflow_core::FailureKind for LockError {
    fn failure(&self) -> borderflow_core::Failure {
        match self {
            LockError::Busy(_) => borderflow_core::Failure::Busy,
            LockError::Io { .. } => borderflow_core::Failure::State,
        }
    }
}
