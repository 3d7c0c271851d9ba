//! Named points where a test can kill the process, to prove that a crash at each step of a
//! run leaves the store, the ledger and the disk consistent (docs/privacy.md, "No refund after
//! noise"; docs/operations.md), and a full disk a test can simulate on chosen files.
//!
//! In builds with debug assertions (the test profile), [`hit`] aborts the process — as a
//! `kill -9` would — when the environment variable [`FAILPOINT_VAR`] names the point. In
//! release builds it compiles to nothing: no environment variable can stop a production run.

/// The environment variable naming the point to abort at.
pub const FAILPOINT_VAR: &str = "BORDERFLOW_FAILPOINT";

/// Aborts the process here if [`FAILPOINT_VAR`] names `point` (debug builds only).
#[inline]
pub fn hit(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var(FAILPOINT_VAR).is_ok_and(|v| v == point) {
        eprintln!("failpoint {point}: aborting");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// The environment variable naming the files whose writes fail as on a full disk: every file
/// written through [`crate::write_file_atomic`] or [`crate::write_file_synced`] whose path
/// contains its value (debug builds only).
pub const DISK_FULL_VAR: &str = "BORDERFLOW_DISK_FULL";

/// Fails like a full disk (`StorageFull`, ENOSPC) if [`DISK_FULL_VAR`] is part of `path`
/// (debug builds only; release builds never fail here).
#[inline]
pub fn disk_full(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    if let Ok(v) = std::env::var(DISK_FULL_VAR)
        && !v.is_empty()
        && path.to_string_lossy().contains(&v)
    {
        return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
    }
    #[cfg(not(debug_assertions))]
    let _ = path;
    Ok(())
}
