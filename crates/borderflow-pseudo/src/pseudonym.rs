//! Subscriber id → 16-byte pseudonym.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::PseudonymKey;

/// Domain-separation prefix: a future scheme gets a new tag, so pseudonyms of different
/// schemes never collide silently.
const DOMAIN: &[u8] = b"borderflow/v1/";

pub use borderflow_core::Pseudonym;

/// The normal form of a subscriber id, so that one SIM written two ways gets one pseudonym:
/// surrounding whitespace, a leading `+`, and the separators space, `-` and `.` removed;
/// ASCII letters lower-cased. Writes into `out` (cleared first) to avoid allocating per id.
pub fn normalise_id(id: &str, out: &mut Vec<u8>) {
    out.clear();
    let id = id.trim();
    let id = id.strip_prefix('+').unwrap_or(id);
    out.extend(
        id.bytes()
            .filter(|b| !matches!(b, b' ' | b'-' | b'.'))
            .map(|b| b.to_ascii_lowercase()),
    );
}

/// Pseudonymises ids with one key, keeping the keyed HMAC state so that each id costs two
/// SHA-256 compressions and no allocation.
#[derive(Clone)]
pub struct Pseudonymiser {
    keyed: Hmac<Sha256>,
    scratch: Vec<u8>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymiser")
    }
}

impl Pseudonymiser {
    /// A pseudonymiser for `key`.
    pub fn new(key: &PseudonymKey) -> Self {
        let mut keyed =
            <Hmac<Sha256> as Mac>::new_from_slice(key.secret()).expect("HMAC takes any key length");
        keyed.update(DOMAIN);
        Self {
            keyed,
            scratch: Vec::with_capacity(32),
        }
    }

    /// The pseudonym of one id. `None` when the id is empty after normalisation: such a row is
    /// quarantined, never given a shared pseudonym.
    pub fn pseudonym(&mut self, id: &str) -> Option<Pseudonym> {
        normalise_id(id, &mut self.scratch);
        if self.scratch.is_empty() {
            return None;
        }
        let mut mac = self.keyed.clone();
        mac.update(&self.scratch);
        let tag = mac.finalize().into_bytes();
        let mut p = [0u8; 16];
        p.copy_from_slice(&tag[..16]);
        Some(Pseudonym(p))
    }
}
