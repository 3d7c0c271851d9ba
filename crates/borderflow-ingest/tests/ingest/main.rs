//! The integration tests of `borderflow-ingest`, gathered in one test binary (one link of the
//! heavy dependencies instead of one per file); each module is what was a test file.

mod cutting;
mod fuzz;
mod validate;
