//! The integration tests of `borderflow-refdata`, gathered in one test binary (one link of the
//! heavy dependencies instead of one per file); each module is what was a test file.

mod codelists;
mod fuzz;
