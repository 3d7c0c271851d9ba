//! Writing a directory or a file so that readers see all of it or none of it.
//!
//! Every stage that writes into the state or release directory does it the same way: the new
//! content is written beside its target under a staging name, every file and the staging
//! directory are flushed to disk (`fsync`), and one rename puts it in place. A staging
//! directory that is dropped without being committed is removed, so an error or a panic leaves
//! the target as it was.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An I/O operation failed on a path.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct PathError {
    /// The file or directory at fault.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: io::Error,
}

impl PathError {
    /// `source` on `path`.
    pub fn new(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            path: path.into(),
            source,
        }
    }
}

/// Attaches a path to an I/O result.
pub trait WithPath<T> {
    /// The error, with the path it happened on.
    fn with_path(self, path: &Path) -> Result<T, PathError>;
}

impl<T> WithPath<T> for io::Result<T> {
    fn with_path(self, path: &Path) -> Result<T, PathError> {
        self.map_err(|e| PathError::new(path, e))
    }
}

/// Flushes a directory's entries to disk (a rename into it is durable only after this).
pub fn sync_dir(dir: &Path) -> Result<(), PathError> {
    File::open(dir).and_then(|d| d.sync_all()).with_path(dir)
}

/// The end of the name of the sibling file [`write_file_atomic`] writes before its rename.
pub const ATOMIC_TEMP_SUFFIX: &str = ".tmp";

/// Whether `name` is a file written before its rename into place ([`atomic_temp`]): one still
/// there was left by a process killed mid-write, and the next holder of the state's lock
/// removes it.
pub fn is_atomic_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(ATOMIC_TEMP_SUFFIX)
}

/// The one temporary name of a file written whole and then renamed to `path`:
/// `.<name>.<pid>-<nanos>.tmp` beside it, hidden, recognised by [`is_atomic_temp`], and unique
/// to the writing process and moment (two attempts of one cluster task never share one).
pub fn atomic_temp(path: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    path.with_file_name(format!(
        ".{name}.{}-{nanos}{ATOMIC_TEMP_SUFFIX}",
        std::process::id()
    ))
}

/// Makes `path` readable by everyone, as a publication is: a directory (and everything
/// below it) `rwxr-xr-x`, a file `rw-r--r--`. The state directory is kept owner-only (the
/// binary runs with umask 077); what is published is opened up explicitly, by this.
pub fn make_public(path: &Path) -> Result<(), PathError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path).with_path(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = if meta.is_dir() { 0o755 } else { 0o644 };
    if meta.permissions().mode() & 0o777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).with_path(path)?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path).with_path(path)? {
            make_public(&entry.with_path(path)?.path())?;
        }
    }
    Ok(())
}

/// Creates `dir` and its missing parents readable and searchable by everyone (`rwxr-xr-x`,
/// whatever the umask), for a publication's directories; directories that exist are left as
/// they are.
pub fn create_public_dir_all(dir: &Path) -> Result<(), PathError> {
    use std::os::unix::fs::PermissionsExt;
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            r => r.with_path(d)?,
        }
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).with_path(d)?;
    }
    Ok(())
}

/// Makes the directory `dir` itself (not what it holds) readable and searchable by everyone;
/// a directory this user may not change (another owner's) is left as it is.
pub fn make_dir_public(dir: &Path) -> Result<(), PathError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(dir).with_path(dir)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o755 == 0o755 {
        return Ok(());
    }
    match fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o755)) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        r => r.with_path(dir),
    }
}

/// Writes `bytes` to `path` atomically: a sibling staging file, fsynced, renamed into place,
/// and the parent directory fsynced.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), PathError> {
    let parent = parent_of(path);
    fs::create_dir_all(&parent).with_path(&parent)?;
    let tmp = atomic_temp(path);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        crate::failpoint::disk_full(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    })()
    .with_path(&tmp);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(PathError::new(path, e));
    }
    sync_dir(&parent)
}

/// Writes `bytes` to a new file and flushes it to disk.
pub fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<(), PathError> {
    File::create(path)
        .and_then(|mut f| {
            crate::failpoint::disk_full(path)?;
            f.write_all(bytes)?;
            f.sync_all()
        })
        .with_path(path)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A directory being written beside its target, put in place by [`StagedDir::commit`] and
/// removed if dropped before.
#[derive(Debug)]
pub struct StagedDir {
    staging: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Creates an empty staging directory for `target`, in `target`'s parent and named
    /// `.staging-<name>-<pid>`. A leftover of the same name (a crashed run of this process id)
    /// is removed first.
    pub fn create(target: &Path) -> Result<Self, PathError> {
        let parent = parent_of(target);
        let name = target
            .file_name()
            .map_or("dir".into(), |n| n.to_string_lossy());
        let staging = parent.join(format!(
            "{}{name}-{}",
            crate::layout::STAGING_PREFIX,
            std::process::id()
        ));
        Self::create_at(staging, target)
    }

    /// Removes what crashed runs left staging beside `target` (directories named
    /// `.staging-<target name>-<pid>`); returns how many.
    pub fn remove_stale(target: &Path) -> Result<usize, PathError> {
        let parent = parent_of(target);
        let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return Ok(0);
        };
        let prefix = format!("{}{name}-", crate::layout::STAGING_PREFIX);
        let Ok(entries) = fs::read_dir(&parent) else {
            return Ok(0);
        };
        let mut n = 0;
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                fs::remove_dir_all(e.path()).with_path(&e.path())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// As [`StagedDir::create`], with the staging directory at `staging` (on the same file
    /// system as `target`).
    pub fn create_at(staging: PathBuf, target: &Path) -> Result<Self, PathError> {
        if staging.exists() {
            fs::remove_dir_all(&staging).with_path(&staging)?;
        }
        fs::create_dir_all(&staging).with_path(&staging)?;
        Ok(Self {
            staging,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Takes over a directory already written at `staging` (on the same file system as
    /// `target`): committed like one made by [`StagedDir::create`], removed if dropped.
    pub fn adopt(staging: PathBuf, target: &Path) -> Self {
        Self {
            staging,
            target: target.to_path_buf(),
            committed: false,
        }
    }

    /// Where to write the content.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The directory it will become.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes every file in the staging directory (recursively) and the directory itself, then
    /// renames it into place and flushes the parent. An existing target is replaced: moved
    /// aside first, removed after the rename, so a reader sees the old or the new directory.
    pub fn commit(mut self) -> Result<PathBuf, PathError> {
        sync_tree(&self.staging)?;
        let parent = parent_of(&self.target);
        fs::create_dir_all(&parent).with_path(&parent)?;
        let old = self.staging.with_extension("old");
        let replacing = self.target.exists();
        if replacing {
            fs::rename(&self.target, &old).with_path(&self.target)?;
        }
        if let Err(e) = fs::rename(&self.staging, &self.target) {
            if replacing {
                let _ = fs::rename(&old, &self.target);
            }
            return Err(PathError::new(&self.target, e));
        }
        self.committed = true;
        if replacing {
            fs::remove_dir_all(&old).with_path(&old)?;
        }
        sync_dir(&parent)?;
        Ok(self.target.clone())
    }
}

impl StagedDir {
    /// As [`StagedDir::commit`], but never replaces: a target that exists with anything in it
    /// is an error and stays as it is (a release directory is written once).
    pub fn commit_new(mut self) -> Result<PathBuf, PathError> {
        sync_tree(&self.staging)?;
        let parent = parent_of(&self.target);
        fs::rename(&self.staging, &self.target).with_path(&self.target)?;
        self.committed = true;
        sync_dir(&parent)?;
        Ok(self.target.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// A working directory of one run (spill files, staged parts), removed when dropped whatever
/// happened: nothing in it is ever put in place as it is.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `path` empty (a leftover of a crashed run is removed first).
    pub fn create(path: PathBuf) -> Result<Self, PathError> {
        if path.exists() {
            fs::remove_dir_all(&path).with_path(&path)?;
        }
        fs::create_dir_all(&path).with_path(&path)?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the files `names` (relative to this directory) into `dir`, each flushed to disk
    /// first and replacing a file of the same name, then flushes `dir`. For outputs that
    /// join a directory holding other things (a generated world beside the user's files).
    pub fn move_files_into(&self, names: &[PathBuf], dir: &Path) -> Result<(), PathError> {
        for name in names {
            let from = self.path.join(name);
            File::open(&from)
                .and_then(|f| f.sync_all())
                .with_path(&from)?;
            let to = dir.join(name);
            fs::rename(&from, &to).with_path(&to)?;
        }
        sync_dir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Flushes every file below `dir` and every directory, `dir` included.
fn sync_tree(dir: &Path) -> Result<(), PathError> {
    for entry in fs::read_dir(dir).with_path(dir)? {
        let entry = entry.with_path(dir)?;
        let path = entry.path();
        if entry.file_type().with_path(&path)?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .with_path(&path)?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_directory_replaces_its_target_whole() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("release");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("old.csv"), "old").unwrap();
        let staged = StagedDir::create(&target).unwrap();
        fs::create_dir(staged.path().join("sub")).unwrap();
        write_file_synced(&staged.path().join("sub/new.csv"), b"new").unwrap();
        assert!(
            target.join("old.csv").exists(),
            "not in place before commit"
        );
        staged.commit().unwrap();
        assert_eq!(
            fs::read_to_string(target.join("sub/new.csv")).unwrap(),
            "new"
        );
        assert!(!target.join("old.csv").exists());
        let names: Vec<_> = fs::read_dir(root.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "nothing staged is left beside the target");
    }

    #[test]
    fn a_new_directory_never_replaces_one_with_content() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("2025");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("stray.txt"), "x").unwrap();
        let staged = StagedDir::create(&target).unwrap();
        fs::write(staged.path().join("manifest.json"), "{}").unwrap();
        assert!(staged.commit_new().is_err());
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            1,
            "only the stray file"
        );
        assert_eq!(
            fs::read_dir(root.path()).unwrap().count(),
            1,
            "staging removed"
        );
    }

    #[test]
    fn a_dropped_directory_leaves_the_target_as_it_was() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("facts");
        {
            let staged = StagedDir::create(&target).unwrap();
            fs::write(staged.path().join("half.parquet"), "x").unwrap();
        }
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_atomic_file_write_leaves_no_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("store.json");
        write_file_atomic(&path, b"{}").unwrap();
        write_file_atomic(&path, b"{\"a\":1}").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
        let e = write_file_atomic(&root.path().join("no/such\0dir/x"), b"").unwrap_err();
        assert!(
            std::error::Error::source(&e).is_some(),
            "keeps the io::Error"
        );
    }
}
