//! Events' fingerprints and the window of recent ones that finds duplicate rows.
//!
//! A row equal to one accepted before it in its block of the duplicate window is a duplicate
//! ([`crate::Reason::Duplicate`]): blocks of [`DUPLICATE_BLOCK_ROWS`] rows counted from the
//! start of each row group, so a file gives the same verdicts however it is cut. Rows are
//! compared by a 64-bit fingerprint of everything that makes an event: the subscriber id, the
//! instant, the serving network, the event type, the cell and the counterpart number (texts
//! trimmed, an empty text the same as none).
//!
//! The fingerprint is computed once per accepted row: each field becomes one 128-bit word —
//! its bytes and length for texts of up to 15 bytes (ids, PLMNs, cells, numbers), a hash of
//! its bytes for longer ones — and the six words are folded into one with a multiply each.
//! Hashing the fields one by one through a general-purpose hasher showed as a sixth of the
//! reading threads' samples in profiles, but most of that was reaching the row's values in
//! the decoded batch, which any fingerprint must: the folded words took 9% of the samples
//! where the hasher took 10% (docs/performance.md).

use std::hash::BuildHasher;
use std::sync::Arc;

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

/// Rows in one block of the duplicate window, at most: a row is compared with the rows
/// accepted before it in its block. Blocks are counted from the first row of each row group
/// of a Parquet file (from the first row of a text file), so they are the same however the
/// file is cut into pieces, as long as pieces start where blocks do
/// ([`crate::InputFile::split`]).
pub const DUPLICATE_BLOCK_ROWS: u64 = 64 * 1024;

/// The fingerprints of the rows accepted so far in the block being read.
#[derive(Default)]
pub(crate) struct DuplicateWindow {
    seen: Fingerprints,
    /// Where the file's row groups start, in rows from its first row (0-based).
    groups: RowGroupStarts,
    /// The row (0-based, of the file) that starts the next block.
    next_block: u64,
}

impl DuplicateWindow {
    /// Counts one row read (accepted or not), `row` its number in the file from 0; the first
    /// row of a block forgets the fingerprints of the block before.
    #[inline]
    pub(crate) fn next_row(&mut self, row: u64) {
        if row >= self.next_block {
            self.seen.clear();
            self.next_block = self.groups.block_end(row, DUPLICATE_BLOCK_ROWS);
        }
    }

    /// Forgets every fingerprint: a new file, or piece of one, starts, its row groups
    /// starting at `groups`.
    pub(crate) fn start(&mut self, groups: RowGroupStarts) {
        self.seen.clear();
        self.groups = groups;
        self.next_block = 0;
    }

    /// The slot where [`Self::is_repeat`]'s probe for `fingerprint` will start (0 before the
    /// first fingerprint). Read only so that the processor fetches it ahead of the probe:
    /// a row's probe was one load missing the cache, waited for row after row
    /// (validation's look-ahead reads the slots of a thousand rows at once).
    #[inline]
    pub(crate) fn slot_ahead(&self, fingerprint: u64) -> u32 {
        if self.seen.slots.is_empty() {
            return 0;
        }
        self.seen.slots[self.seen.home(fingerprint)]
    }

    /// Whether an event with `fingerprint` was accepted before in this block; remembers it
    /// otherwise.
    #[inline]
    pub(crate) fn is_repeat(&mut self, fingerprint: u64) -> bool {
        !self.seen.insert(fingerprint)
    }
}

/// Where a file's row groups start, in rows from its first row (0-based), in order: the
/// duplicate window's blocks start afresh at each. Empty for a text file, one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowGroupStarts(pub(crate) Arc<[u64]>);

impl RowGroupStarts {
    /// The starts of row groups of `rows` rows each, in order.
    pub fn of_groups(rows: impl IntoIterator<Item = u64>) -> Self {
        let mut at = 0u64;
        Self(
            rows.into_iter()
                .map(|n| {
                    let start = at;
                    at += n;
                    start
                })
                .collect(),
        )
    }

    /// The first row of the row group `row` is in, and the next group's (`u64::MAX` after the
    /// last group).
    fn group_around(&self, row: u64) -> (u64, u64) {
        let later = self.0.partition_point(|s| *s <= row);
        let start = later.checked_sub(1).map_or(0, |g| self.0[g]);
        (start, self.0.get(later).copied().unwrap_or(u64::MAX))
    }

    /// The row after the last of the block `row` is in, blocks being `block` rows long
    /// counted from the start of each row group: `block` rows from the block's start, or the
    /// next row group's first row, whichever comes first.
    pub(crate) fn block_end(&self, row: u64, block: u64) -> u64 {
        let (start, next) = self.group_around(row);
        (start + (row - start) / block * block + block).min(next)
    }

    /// The first row at or after `row` where a block of `block` rows starts (the rule of
    /// [`Self::block_end`]); past the last row of the file when none is left in it.
    pub(crate) fn block_start_at_or_after(&self, row: u64, block: u64) -> u64 {
        let (start, _) = self.group_around(row);
        if (row - start).is_multiple_of(block) {
            row
        } else {
            self.block_end(row, block)
        }
    }
}

/// A set of fingerprints, as an open-addressing table probed linearly. Fingerprints are
/// hashes already, so a fingerprint's top bits are its slot. The fingerprints themselves are
/// kept in the order they came; a slot holds the place of one in that list and a few other
/// bits of it (a tag), in 32 bits, so that the slots — the part reached at random, once a row
/// — are half the size the fingerprints would take (512 KiB for a block of the duplicate
/// window instead of 1 MiB), and stay in the processor's nearest caches more often. A slot
/// whose tag matches is checked against the whole fingerprint. A standard hash set probed its
/// control bytes and then its keys, two cache misses a row where this has one: the set was
/// 7.9% of the reading threads' samples at 51.7 M events.
#[derive(Default)]
struct Fingerprints {
    /// Twice as many slots as fingerprints at most, a power of two (empty until the first).
    /// 0 is an empty slot; else the fingerprint's tag above its place in `held` plus one.
    slots: Vec<u32>,
    /// The fingerprints in the set, in the order they were added.
    held: Vec<u64>,
}

impl Fingerprints {
    /// Slots of a new table: enough for a whole block of the duplicate window at half load.
    const FIRST_SLOTS: usize = 2 * DUPLICATE_BLOCK_ROWS as usize;

    /// Adds `fingerprint`; whether it was not in the set yet.
    #[inline]
    fn insert(&mut self, fingerprint: u64) -> bool {
        if 2 * (self.held.len() + 1) > self.slots.len() {
            self.grow();
        }
        let place_bits = self.slots.len().trailing_zeros();
        let tag = self.tag(fingerprint);
        let mask = self.slots.len() - 1;
        let mut at = self.home(fingerprint);
        loop {
            match self.slots[at] {
                0 => {
                    // Fewer fingerprints than half the slots: the place fits its bits.
                    self.slots[at] = tag | (self.held.len() as u32 + 1);
                    self.held.push(fingerprint);
                    return true;
                }
                slot if slot >> place_bits << place_bits == tag
                    && self.held[(slot & ((1 << place_bits) - 1)) as usize - 1] == fingerprint =>
                {
                    return false;
                }
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// The slot where `fingerprint`'s probe starts: its top bits.
    #[inline]
    fn home(&self, fingerprint: u64) -> usize {
        (fingerprint >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    /// The fingerprint's tag: its low bits, above the bits of a place in the list.
    #[inline]
    fn tag(&self, fingerprint: u64) -> u32 {
        (fingerprint as u32) << self.slots.len().trailing_zeros()
    }

    /// Doubles the slots (or makes the first), placing the fingerprints again.
    #[cold]
    fn grow(&mut self) {
        let slots = (2 * self.slots.len()).max(Self::FIRST_SLOTS);
        assert!(slots < 1 << 31, "fewer than 2^30 fingerprints in a block");
        self.slots = vec![0; slots];
        let mask = slots - 1;
        for (place, &fingerprint) in self.held.iter().enumerate() {
            let mut at = self.home(fingerprint);
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = self.tag(fingerprint) | (place as u32 + 1);
        }
    }

    /// Forgets every fingerprint, keeping the slots: all at once when many are in use, else
    /// slot by slot, each fingerprint found again by its probe, the last added first (its
    /// probe passes only slots of fingerprints added before it, still in place).
    fn clear(&mut self) {
        if self.held.len() < self.slots.len() / 16 {
            let mask = self.slots.len() - 1;
            let place_mask = (1u32 << self.slots.len().trailing_zeros()) - 1;
            for (place, &fingerprint) in self.held.iter().enumerate().rev() {
                let mut at = self.home(fingerprint);
                while self.slots[at] & place_mask != place as u32 + 1 {
                    at = (at + 1) & mask;
                }
                self.slots[at] = 0;
            }
        } else {
            self.slots.fill(0);
        }
        self.held.clear();
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
    fn the_fingerprint_set_is_a_set_through_growth_and_clearing() {
        // Every fingerprint from a small range (so many repeat), 0 among them, and more than
        // a first table holds at half load, so it grows; checked against a standard set.
        let mut set = Fingerprints::default();
        let mut model = std::collections::HashSet::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..3 {
            for _ in 0..300_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Values 0..200,000 spread over the whole word, so they probe all slots.
                let f = (x % 200_000).wrapping_mul(0x2545_f491_4f6c_dd1d);
                assert_eq!(set.insert(f), model.insert(f), "round {round}, {f:#x}");
            }
            assert!(set.insert(0) == model.insert(0));
            assert!(!set.insert(0));
            set.clear();
            model.clear();
            // A few after clearing, so the next clear goes slot by slot.
            for f in [5u64, 5, 0, u64::MAX, u64::MAX] {
                assert_eq!(set.insert(f), model.insert(f));
            }
            set.clear();
            model.clear();
        }
        // Fingerprints with the same slot and the same tag (the same top and low bits) that
        // differ in between are told apart by the whole fingerprint.
        let (a, b) = (0x8000_0000_0000_0001u64, 0x8000_0001_0000_0001u64);
        assert_eq!(set.home(a), set.home(b));
        assert_eq!(set.tag(a), set.tag(b));
        assert!(set.insert(a) && set.insert(b));
        assert!(!set.insert(a) && !set.insert(b));
        set.clear();
        assert!(
            set.slots.len() > Fingerprints::FIRST_SLOTS,
            "the table grew"
        );
        assert!(set.slots.iter().all(|s| *s == 0));
    }

    #[test]
    fn a_repeat_is_found_in_its_block_only_and_blocks_restart_at_each_row_group() {
        const B: u64 = DUPLICATE_BLOCK_ROWS;
        // Row groups of 100,000 rows: blocks start at 0, B, 100,000, 100,000 + B, 200,000.
        let groups = RowGroupStarts::of_groups([100_000, 100_000, 50_000]);
        // (row, fingerprint) of the rows that repeat one before them; all others are unique.
        let copies = [
            (10, 5),                        // row 5's fingerprint, same block: a repeat
            (B - 1, 7),                     // same block as row 7: a repeat
            (B, B - 2),        // first row of block 2, as the row before its block: new
            (B + 3, B - 2),    // and now a repeat of row B (its own block)
            (100_000, 99_999), // a row group starts: a new block
            (100_000 + B, 100_001), // a block of the second group starts
            (200_000 - 1, 100_000 + B + 1), // same block
        ];
        let fingerprint_of = |row: u64| {
            copies
                .iter()
                .find(|(r, _)| *r == row)
                .map_or(row, |(_, source)| *source)
        };
        let read = |first: u64, last: u64| {
            let mut window = DuplicateWindow::default();
            window.start(groups.clone());
            let mut repeats = Vec::new();
            for row in first..last {
                window.next_row(row);
                if window.is_repeat(fingerprint_of(row)) {
                    repeats.push(row);
                }
            }
            repeats
        };
        let whole = read(0, 250_000);
        assert_eq!(whole, [10, B - 1, B + 3, 200_000 - 1]);
        // Pieces starting where blocks do give the same verdicts.
        let mut pieces = read(0, B);
        pieces.extend(read(B, 100_000));
        pieces.extend(read(100_000, 100_000 + B));
        pieces.extend(read(100_000 + B, 250_000));
        assert_eq!(pieces, whole);
        // A text file is one group: blocks every B rows from its first.
        let mut window = DuplicateWindow::default();
        window.start(RowGroupStarts::default());
        assert_eq!(window.groups.block_end(0, B), B);
        assert_eq!(window.groups.block_end(3 * B + 1, B), 4 * B);
        // The next block's start from any row: itself where one starts, else the block's end.
        assert_eq!(groups.block_start_at_or_after(B, B), B);
        assert_eq!(groups.block_start_at_or_after(B + 1, B), 100_000);
        assert_eq!(groups.block_start_at_or_after(100_001, B), 100_000 + B);
    }
}
