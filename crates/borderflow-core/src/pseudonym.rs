//! The pseudonym of a SIM: the only identity a SIM has after ingest.

use std::fmt;

/// A SIM's keyed pseudonym: the first 16 bytes of HMAC-SHA256(key, "borderflow/v1/" ‖
/// normalised id), made by `borderflow-pseudo` at ingest. Every stage after ingest knows a SIM
/// only by this value; it exists only inside the operator-side state directory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(pub [u8; 16]);

/// Bytes in a [`Pseudonym`]: the width of every `pseudonym` column (`FixedSizeBinary(16)`).
pub const PSEUDONYM_BYTES: i32 = 16;

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", hex::encode(self.0))
    }
}
