//! The integration tests of `borderflow-pipeline`, gathered in one test binary (one link of the
//! heavy dependencies instead of one per file); each module is what was a test file.

mod budget_audit;
mod classify;
mod common;
mod fuzz;
mod ingest;
mod partnership;
mod phantoms;
mod profiles;
mod publish;
mod scenarios;
