//! The mobility categories of docs/design.md §6: one per SIM per reference period.

use std::fmt;
use std::str::FromStr;

/// Which side of the measuring country's border a category describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Usual residents of the measuring country M (including those moving out).
    Resident,
    /// Non-residents present in M.
    Inbound,
}

/// A SIM's mobility category for one reference period, relative to the measuring country M.
///
/// Every category is a proxy: phones show presence, not labour-force status, citizenship or
/// purpose (see docs/methodology.md). The names are the codes used in released tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Resident of M with a domestic SIM and none of the outbound categories.
    Resident,
    /// Resident of M (≥183 nights) using a foreign SIM: a proxy for ICLS (a) migrant workers.
    ResidentForeignSim,
    /// Non-resident commuting into M on weekdays: ICLS (b) frontier-worker proxy.
    FrontierIn,
    /// Non-resident with one spell of 30–89 nights in M.
    SeasonalIn,
    /// Non-resident with a spell of ≥90 nights in M but <183 in all (UN short-term).
    TemporaryIn,
    /// Non-resident with any other presence in M.
    VisitorIn,
    /// Resident of M commuting abroad on weekdays.
    FrontierOut,
    /// Resident of M with one spell abroad of 30–89 nights.
    SeasonalOut,
    /// Resident of M with a spell abroad of ≥90 nights.
    TemporaryOut,
    /// Domestic SIM whose usual residence is abroad (≥183 nights abroad).
    Emigrant,
    /// Resident of M now, resident abroad in the previous window (needs 24 months of data).
    ReturnMigrant,
}

impl Category {
    /// Every category, in the order tables list them.
    pub const ALL: [Category; 11] = [
        Category::Resident,
        Category::ResidentForeignSim,
        Category::FrontierIn,
        Category::SeasonalIn,
        Category::TemporaryIn,
        Category::VisitorIn,
        Category::FrontierOut,
        Category::SeasonalOut,
        Category::TemporaryOut,
        Category::Emigrant,
        Category::ReturnMigrant,
    ];

    /// The code used in tables and files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Resident => "resident",
            Category::ResidentForeignSim => "resident_foreign_sim",
            Category::FrontierIn => "frontier_in",
            Category::SeasonalIn => "seasonal_in",
            Category::TemporaryIn => "temporary_in",
            Category::VisitorIn => "visitor_in",
            Category::FrontierOut => "frontier_out",
            Category::SeasonalOut => "seasonal_out",
            Category::TemporaryOut => "temporary_out",
            Category::Emigrant => "emigrant",
            Category::ReturnMigrant => "return_migrant",
        }
    }

    /// The category's name for readers of a report or a code list.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Resident => "Residents",
            Category::ResidentForeignSim => "Residents with a foreign SIM",
            Category::FrontierIn => "Frontier workers in",
            Category::SeasonalIn => "Seasonal stays in",
            Category::TemporaryIn => "Temporary stays in",
            Category::VisitorIn => "Visitors",
            Category::FrontierOut => "Frontier workers out",
            Category::SeasonalOut => "Seasonal stays abroad",
            Category::TemporaryOut => "Temporary stays abroad",
            Category::Emigrant => "Emigrants",
            Category::ReturnMigrant => "Return migrants",
        }
    }

    /// Whether the category describes residents of M or non-residents present in M.
    pub const fn side(self) -> Side {
        match self {
            Category::FrontierIn
            | Category::SeasonalIn
            | Category::TemporaryIn
            | Category::VisitorIn => Side::Inbound,
            _ => Side::Resident,
        }
    }
}

/// Why a text is not a category code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category {0:?}; expected one of resident, resident_foreign_sim, frontier_in, seasonal_in, temporary_in, visitor_in, frontier_out, seasonal_out, temporary_out, emigrant, return_migrant"
)]
pub struct CategoryError(pub String);

impl FromStr for Category {
    type Err = CategoryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| CategoryError(s.to_string()))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a SIM seen in the reference period is left unclassified: the data cannot tell its
/// category, and the rules say so rather than guess (docs/methodology.md, "Not classifiable").
/// Kept per SIM operator-side; only the noisy total of the unclassified is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unclassified {
    /// Seen too rarely (a median silence between days seen above the density rule) to tell a
    /// trip from a quiet phone.
    TooSparse,
    /// A foreign SIM seen in M by day only, over a stay's length, too rarely for its weekly
    /// rhythm to say whether it stayed or came and went.
    StayOrVisits,
    /// An own SIM seen at home only, over less of the period than residence needs: a phone
    /// new or given up in the period, or one that left and went unseen abroad.
    ShortPresence,
    /// An own SIM seen at home only, silent for a spell as long as a seasonal stay: away
    /// without roaming records, or not in use.
    LongSilence,
}

impl Unclassified {
    /// Every reason, in the order reports list them.
    pub const ALL: [Unclassified; 4] = [
        Unclassified::TooSparse,
        Unclassified::StayOrVisits,
        Unclassified::ShortPresence,
        Unclassified::LongSilence,
    ];

    /// The reason's code in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Unclassified::TooSparse => "too_sparse",
            Unclassified::StayOrVisits => "stay_or_visits",
            Unclassified::ShortPresence => "short_presence",
            Unclassified::LongSilence => "long_silence",
        }
    }
}

/// Why a text is not a reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown reason {0:?}; expected one of too_sparse, stay_or_visits, short_presence, long_silence"
)]
pub struct UnclassifiedError(pub String);

impl FromStr for Unclassified {
    type Err = UnclassifiedError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unclassified::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnclassifiedError(s.to_string()))
    }
}

impl fmt::Display for Unclassified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        assert!("migrant".parse::<Category>().is_err());
        for r in Unclassified::ALL {
            assert_eq!(r.as_str().parse::<Unclassified>().unwrap(), r);
        }
        assert!("unknown".parse::<Unclassified>().is_err());
    }

    #[test]
    fn inbound_categories_are_the_four_in() {
        let inbound: Vec<_> = Category::ALL
            .into_iter()
            .filter(|c| c.side() == Side::Inbound)
            .map(Category::as_str)
            .collect();
        assert_eq!(
            inbound,
            ["frontier_in", "seasonal_in", "temporary_in", "visitor_in"]
        );
    }
}
