//! Named points where a test can kill the process, to prove that a crash at each step of a
//! release leaves the ledger and the disk consistent (docs/privacy.md, "No refund after
//! noise").
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
