//! # borderflow-release
//!
//! What becomes a release. So far: [`tabulate`], the exact counts of the `categories` and
//! `crossings` tables over the **public domain** — every (category × partner) and (from × to)
//! cell the code lists allow, zeros included — with each SIM's contribution bounded, ready for
//! the privacy mechanism (`borderflow-privacy`). Nothing here is published as it is: only the
//! noisy counts are.

pub mod tabulate;

pub use tabulate::{CategoryCell, Domain, Tables, TabulateError};
