//! Events' fingerprints and the window of recent ones that finds duplicate rows.
//!
//! A row equal to one accepted in the same batch or the batch before is a duplicate
//! ([`crate::Reason::Duplicate`]). Rows are compared by a 64-bit fingerprint of everything
//! that makes an event: the subscriber id, the instant, the serving network, the event type,
//! the cell and the counterpart number (texts trimmed, an empty text the same as none).
//!
//! The fingerprint is computed once per accepted row: each field becomes one 128-bit word —
//! its bytes and length for texts of up to 15 bytes (ids, PLMNs, cells, numbers), a hash of
//! its bytes for longer ones — and the six words are folded into one with a multiply each.
//! Hashing the fields one by one through a general-purpose hasher showed as a sixth of the
//! reading threads' samples in profiles, but most of that was reaching the row's values in
//! the decoded batch, which any fingerprint must: the folded words took 9% of the samples
//! where the hasher took 10% (docs/performance.md).

use std::hash::{BuildHasher, Hasher};

/// Seed and constants of the fold (hexadecimal digits of π). Fixed, so that a file gives the
/// same verdicts on every run.
const SEED: u64 = 0x6266_6c6f_7721;
const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x1319_8a2e_0370_7344;

/// A text of at most 15 bytes as one word: its bytes, little-endian from the lowest byte,
/// and its length in the top byte. `None` for longer texts.
#[inline]
pub(crate) fn short_word(b: &[u8]) -> Option<u128> {
    let n = b.len();
    // Overlapping word loads, shifted into place: building the word through memory (a copy
    // into an array) stalled on store forwarding at every row.
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().expect("4")));
    let (lo, hi) = match n {
        0..4 => (b.iter().rev().fold(0u64, |v, x| v << 8 | u64::from(*x)), 0),
        4..8 => (half(0) | (half(n - 4) >> (8 * (8 - n))) << 32, 0),
        8 => (word(0), 0),
        9..16 => (word(0), word(n - 8) >> (8 * (16 - n))),
        _ => return None,
    };
    Some(u128::from(lo) | u128::from(hi | (n as u64) << 56) << 64)
}

/// Any text as one word: [`short_word`], or for a longer text a hash of its bytes with a top
/// byte no short word has (so a long text never equals a short one).
#[inline]
pub(crate) fn text_word(b: &[u8]) -> u128 {
    short_word(b).unwrap_or_else(|| {
        let hash = foldhash::quality::FixedState::with_seed(SEED).hash_one(b);
        u128::from(hash) | u128::from(!(b.len() as u64) | 0xFF << 56) << 64
    })
}

/// The folded multiply: the high and low halves of a 128-bit product, xored.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ (p >> 64) as u64
}

/// The fingerprint of an event: its subscriber id as a word ([`text_word`] of the trimmed id),
/// its instant in seconds UTC and its serving PLMN, event type, cell and counterpart number
/// (trimmed texts, empty when absent).
#[inline]
pub(crate) fn fingerprint(id: u128, time: i64, texts: [&[u8]; 4]) -> u64 {
    let [serving, event_type, cell, counterpart] = texts.map(text_word);
    let mut acc = SEED;
    for w in [
        id,
        time as u64 as u128,
        serving,
        event_type,
        cell,
        counterpart,
    ] {
        // The high word's top byte is a length (0–15), 0xFF or, for the time, 0, so it never
        // equals K1 and the product never collapses to zero.
        acc = fold(acc ^ w as u64 ^ K0, (w >> 64) as u64 ^ K1);
    }
    fold(acc ^ K1, K0)
}

/// Rows of a file or piece in one block of the duplicate window: a row is compared with the
/// rows accepted before it in its block and in the block before.
pub(crate) const DUPLICATE_BLOCK_ROWS: usize = 64 * 1024;

/// The fingerprints of the rows accepted in the block of [`DUPLICATE_BLOCK_ROWS`] rows being
/// read and the block before, whatever the size of the batches they are read in.
#[derive(Default)]
pub(crate) struct DuplicateWindow {
    current: Fingerprints,
    previous: Fingerprints,
    /// Rows read in the current block.
    rows: usize,
}

impl DuplicateWindow {
    /// Counts one row read (accepted or not); the first row of a new block makes the current
    /// block's fingerprints the previous ones.
    #[inline]
    pub(crate) fn next_row(&mut self) {
        if self.rows == DUPLICATE_BLOCK_ROWS {
            // The older set is emptied and becomes the current one (keeping its capacity).
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
            self.rows = 0;
        }
        self.rows += 1;
    }

    /// Forgets every fingerprint (a new file or piece of one starts).
    pub(crate) fn forget(&mut self) {
        self.current.clear();
        self.previous.clear();
        self.rows = 0;
    }

    /// Whether an event with `fingerprint` was seen in this batch or the one before;
    /// remembers it otherwise.
    #[inline]
    pub(crate) fn is_repeat(&mut self, fingerprint: u64) -> bool {
        self.previous.contains(&fingerprint) || !self.current.insert(fingerprint)
    }
}

/// Fingerprints kept as they are: they are hashes already, and hashing them again cost a tenth
/// of the duplicate check.
type Fingerprints = std::collections::HashSet<u64, std::hash::BuildHasherDefault<Prehashed>>;

/// The hasher of a value that is itself a well-mixed hash: it keeps the value.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed with it; any other input is still hashed, plainly.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_equal_words_exactly_when_they_are_equal() {
        let long = "a cell id longer than fifteen bytes";
        // Texts of every length from 0 to 16 bytes and two longer ones, pairs that differ only
        // in their first or last byte, and NUL bytes.
        let texts = [
            "",
            "\0",
            "\0\0",
            "C",
            "C0",
            "C07",
            "C074",
            "C0742",
            "C07420",
            "C074201",
            "sms_out",
            "sms_outX",
            "call_in12",
            "+254655998",
            "+2546559982",
            "+25465599821",
            "+254655998215",
            "+254655998216",
            "-254655998215",
            "+2546559982150",
            "+25465599821500",
            "1234567890123456",
            "1234567890123457",
            long,
            &long[1..],
        ];
        for a in texts {
            for b in texts {
                assert_eq!(
                    text_word(a.as_bytes()) == text_word(b.as_bytes()),
                    a == b,
                    "{a:?} {b:?}"
                );
            }
            assert_eq!(short_word(a.as_bytes()).is_some(), a.len() < 16, "{a:?}");
        }
    }

    #[test]
    fn every_field_changes_the_fingerprint() {
        let id = text_word(b"639021190127389");
        let base = fingerprint(id, 1_744_790_387, [b"63902", b"data", b"C0742", b""]);
        assert_eq!(
            base,
            fingerprint(id, 1_744_790_387, [b"63902", b"data", b"C0742", b""]),
            "the same event, the same fingerprint"
        );
        let others = [
            fingerprint(
                text_word(b"639021190127388"),
                1_744_790_387,
                [b"63902", b"data", b"C0742", b""],
            ),
            fingerprint(id, 1_744_790_388, [b"63902", b"data", b"C0742", b""]),
            fingerprint(id, 1_744_790_387, [b"63903", b"data", b"C0742", b""]),
            fingerprint(id, 1_744_790_387, [b"63902", b"sms", b"C0742", b""]),
            fingerprint(id, 1_744_790_387, [b"63902", b"data", b"C0743", b""]),
            fingerprint(id, 1_744_790_387, [b"63902", b"data", b"C0742", b"+254"]),
            // The same bytes in another field.
            fingerprint(id, 1_744_790_387, [b"63902", b"C0742", b"data", b""]),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(base, *other, "field change {i}");
        }
    }

    #[test]
    fn a_repeat_is_found_in_this_block_and_the_one_before_only() {
        let mut window = DuplicateWindow::default();
        // Rows (numbered from 0) whose fingerprint is their row number's, but for these.
        let first = 5; // of block 0
        let second = DUPLICATE_BLOCK_ROWS + 7; // of block 1
        let third = 2 * DUPLICATE_BLOCK_ROWS; // first row of block 2
        let fourth = 3 * DUPLICATE_BLOCK_ROWS - 1; // last row of block 2
        let fifth = 3 * DUPLICATE_BLOCK_ROWS; // first row of block 3
        let mut repeats = Vec::new();
        for row in 0..4 * DUPLICATE_BLOCK_ROWS {
            window.next_row();
            let fingerprint = match row {
                r if r == second || r == third => 1_000_000_001, // as row 5
                r if r == fourth || r == fifth => 1_000_000_002,
                r if r == first => 1_000_000_001,
                r => r as u64,
            };
            if window.is_repeat(fingerprint) {
                repeats.push(row);
            }
        }
        // Row `second` repeats `first` (the block before); `third` is two blocks after `first`
        // and the block before it holds `second` only as a repeat, not remembered again.
        // `fifth` repeats `fourth`, the last row of the block before.
        assert_eq!(repeats, [second, fifth]);
        window.forget();
        assert!(!window.is_repeat(1_000_000_002), "forgotten");
    }
}
