//! The end-to-end tests of the `borderflow` binary, gathered in one test binary (one link of
//! the heavy dependencies instead of one per file); each module is what was a test file, and
//! `common` their shared fixtures.

mod cli;
mod cluster;
mod common;
mod crash;
mod layout;
mod operations;
mod privacy;
mod release;
mod soak;
