//! # borderflow-pseudo
//!
//! Keyed pseudonymisation (docs/design.md §5): the operator's secret [`PseudonymKey`] and the
//! [`Pseudonym`] it turns each subscriber id into. A pseudonym is the first 16 bytes of
//! HMAC-SHA256(key, `"borderflow/v1/"` ‖ normalised id): fixed-size, so presence tables stay
//! compact, and unlinkable to the raw id without the key.
//!
//! The key never leaves its file: it has no `Serialize`, its `Debug` shows only the
//! [fingerprint](PseudonymKey::fingerprint), its bytes are zeroized on drop, and a key file that
//! the group or others can read is refused. There is no default key.
//!
//! ```
//! use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
//!
//! let key = PseudonymKey::from_bytes([7; 32]);
//! let mut p = Pseudonymiser::new(&key);
//! // One SIM written two ways gets one pseudonym; an empty id gets none.
//! assert_eq!(p.pseudonym("+254 700-000 001"), p.pseudonym("254700000001"));
//! assert_eq!(p.pseudonym("  "), None);
//! ```

mod key;
mod pseudonym;

pub use key::{KEY_ENV, KeyError, KeyFingerprint, PseudonymKey};
pub use pseudonym::{Pseudonym, Pseudonymiser, normalise_id};
