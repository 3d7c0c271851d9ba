//! The integration tests of `borderflow-release`, gathered in one test binary (one link of the
//! heavy dependencies instead of one per file); each module is what was a test file.

mod corridors;
mod sdmx;
mod tabulate;
mod tabulate_plan;
