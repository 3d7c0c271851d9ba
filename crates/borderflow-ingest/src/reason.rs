//! Why a row was quarantined, and the per-file accounting of rows.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a row was quarantined. The code is what the quarantine file and manifest carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The subscriber id is empty.
    EmptyId,
    /// The event time is missing or cannot be parsed.
    BadTime,
    /// The event's functional local date lies outside the run's window.
    OutsideWindow,
    /// A PLMN is not 5–6 digits.
    MalformedPlmn,
    /// A PLMN's MCC is in no code list, or names no country.
    UnknownPlmn,
    /// A foreign SIM on a foreign network: the operator cannot have carried this event.
    ForeignOnForeign,
    /// The same event (id, time, network, type, cell, counterpart) as a row shortly before it.
    Duplicate,
    /// A row of a file the store has already taken, on a date it took it for: the same
    /// content delivered again adds nothing.
    AlreadyIngested,
}

impl Reason {
    /// Every reason, in report order.
    pub const ALL: [Reason; 8] = [
        Reason::EmptyId,
        Reason::BadTime,
        Reason::OutsideWindow,
        Reason::MalformedPlmn,
        Reason::UnknownPlmn,
        Reason::ForeignOnForeign,
        Reason::Duplicate,
        Reason::AlreadyIngested,
    ];

    /// The reason code.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::EmptyId => "empty_id",
            Reason::BadTime => "bad_time",
            Reason::OutsideWindow => "outside_window",
            Reason::MalformedPlmn => "malformed_plmn",
            Reason::UnknownPlmn => "unknown_plmn",
            Reason::ForeignOnForeign => "foreign_on_foreign",
            Reason::Duplicate => "duplicate",
            Reason::AlreadyIngested => "already_ingested",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

/// Rows of one input file: read = accepted + quarantined (summed over reasons).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    /// Data rows read (header excluded).
    pub read: u64,
    /// Rows accepted as canonical events.
    pub accepted: u64,
    /// Rows quarantined, by reason.
    pub quarantined: BTreeMap<Reason, u64>,
    /// The first and last functional local date (days since 1970-01-01) of the rows whose
    /// date could be told (a time and known networks), inside the window or not: what the
    /// file could ever give the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<(i32, i32)>,
}

impl FileCounts {
    /// Rows quarantined for any reason.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Adds another count into this one.
    pub fn add(&mut self, other: &FileCounts) {
        self.read += other.read;
        self.accepted += other.accepted;
        for (r, n) in &other.quarantined {
            *self.quarantined.entry(*r).or_default() += n;
        }
        self.dates = match (self.dates, other.dates) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, y) => x.or(y),
        };
    }

    /// Rows set aside as the store's already (`already_ingested`): counted, not bad.
    pub fn already_ingested(&self) -> u64 {
        self.quarantined
            .get(&Reason::AlreadyIngested)
            .copied()
            .unwrap_or(0)
    }

    /// Whether every row is accounted for.
    pub fn reconciles(&self) -> bool {
        self.read == self.accepted + self.quarantined_total()
    }
}
