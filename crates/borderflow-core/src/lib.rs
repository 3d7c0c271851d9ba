//! # borderflow-core
//!
//! The vocabulary every other borderflow crate speaks: ISO 3166-1 alpha-3 [`CountryCode`]s, the
//! mobility [`Category`] of DESIGN §6, and the canonical Arrow schemas of the events that enter the
//! pipeline and of the synthetic ground truth ([`schema`]).
//!
//! It owns no I/O and no policy: code lists live in `borderflow-refdata`, rules in
//! `borderflow-classify`. Keeping this crate small lets every stage depend on it without pulling
//! in the others, so the data path stays one-directional.

pub mod category;
pub mod country;
pub mod schema;

pub use category::{Category, Side};
pub use country::{CountryCode, CountryCodeError};
