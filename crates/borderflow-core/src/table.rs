//! The tables of a release, by name once: [`TableId`] says which table, [`Noised`] holds one
//! value per table the privacy mechanism noises (its plan, its exact cells, its draws), so a
//! table is never looked up by a string or a position.
//!
//! The names are what the ledger stores, the manifest's keys and the file stems; they are
//! spelt only in [`TableId::name`].

use std::fmt;

/// One table of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TableId {
    /// SIMs per mobility category and partner country.
    Categories,
    /// SIMs crossing from one country to another.
    Crossings,
    /// SIMs per category and per direction of flow (the headline totals).
    Totals,
    /// `categories` rolled up by partner-country group (post-processing, never noised).
    Corridors,
    /// The quality totals of `quality.json`: SIMs seen, too sparse to classify, on open
    /// spells, SIM-days observed.
    Quality,
    /// SIMs seen on each day of the look-back (`quality.json`).
    Daily,
}

impl TableId {
    /// The tables the mechanism noises, in the order they are noised and reserved.
    pub const NOISED: [TableId; 5] = [
        TableId::Categories,
        TableId::Crossings,
        TableId::Totals,
        TableId::Quality,
        TableId::Daily,
    ];

    /// The tables written as Parquet, CSV and SDMX-CSV files, in the order a release lists
    /// them.
    pub const PUBLISHED: [TableId; 4] = [
        TableId::Categories,
        TableId::Crossings,
        TableId::Totals,
        TableId::Corridors,
    ];

    /// The table's name: its file stem, its key in the manifests and in the ledger.
    pub const fn name(self) -> &'static str {
        match self {
            TableId::Categories => "categories",
            TableId::Crossings => "crossings",
            TableId::Totals => "totals",
            TableId::Corridors => "corridors",
            TableId::Quality => "quality",
            TableId::Daily => "daily",
        }
    }

    /// The table of a name (as the ledger stores it).
    pub fn from_name(name: &str) -> Option<TableId> {
        [
            TableId::Categories,
            TableId::Crossings,
            TableId::Totals,
            TableId::Corridors,
            TableId::Quality,
            TableId::Daily,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per noised table ([`TableId::NOISED`]): a table's plan, exact cells or noisy
/// values are fields, not entries of a map keyed by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Noised<T> {
    /// `categories`.
    pub categories: T,
    /// `crossings`.
    pub crossings: T,
    /// `totals`.
    pub totals: T,
    /// `quality`.
    pub quality: T,
    /// `daily`.
    pub daily: T,
}

impl<T> Noised<T> {
    /// Each table's value from `f`, called in [`TableId::NOISED`] order.
    pub fn from_fn(mut f: impl FnMut(TableId) -> T) -> Self {
        Self {
            categories: f(TableId::Categories),
            crossings: f(TableId::Crossings),
            totals: f(TableId::Totals),
            quality: f(TableId::Quality),
            daily: f(TableId::Daily),
        }
    }

    /// As [`Noised::from_fn`] for a fallible `f`: the first error stops.
    pub fn try_from_fn<E>(mut f: impl FnMut(TableId) -> Result<T, E>) -> Result<Self, E> {
        Ok(Self {
            categories: f(TableId::Categories)?,
            crossings: f(TableId::Crossings)?,
            totals: f(TableId::Totals)?,
            quality: f(TableId::Quality)?,
            daily: f(TableId::Daily)?,
        })
    }

    /// The value of a noised table; `None` for [`TableId::Corridors`], which is never noised.
    pub fn get(&self, id: TableId) -> Option<&T> {
        match id {
            TableId::Categories => Some(&self.categories),
            TableId::Crossings => Some(&self.crossings),
            TableId::Totals => Some(&self.totals),
            TableId::Quality => Some(&self.quality),
            TableId::Daily => Some(&self.daily),
            TableId::Corridors => None,
        }
    }

    /// Every table's value with its id, in [`TableId::NOISED`] order.
    pub fn iter(&self) -> impl Iterator<Item = (TableId, &T)> {
        [
            (TableId::Categories, &self.categories),
            (TableId::Crossings, &self.crossings),
            (TableId::Totals, &self.totals),
            (TableId::Quality, &self.quality),
            (TableId::Daily, &self.daily),
        ]
        .into_iter()
    }

    /// A value per table from each table's value, taken.
    pub fn into_map<U>(self, mut f: impl FnMut(TableId, T) -> U) -> Noised<U> {
        Noised {
            categories: f(TableId::Categories, self.categories),
            crossings: f(TableId::Crossings, self.crossings),
            totals: f(TableId::Totals, self.totals),
            quality: f(TableId::Quality, self.quality),
            daily: f(TableId::Daily, self.daily),
        }
    }

    /// A value per table from each table's value.
    pub fn map<U>(&self, mut f: impl FnMut(TableId, &T) -> U) -> Noised<U> {
        Noised {
            categories: f(TableId::Categories, &self.categories),
            crossings: f(TableId::Crossings, &self.crossings),
            totals: f(TableId::Totals, &self.totals),
            quality: f(TableId::Quality, &self.quality),
            daily: f(TableId::Daily, &self.daily),
        }
    }
}

/// The cells of the `quality` table, by what each counts: exact counts operator-side, noisy
/// totals in a release. The table's cell order is spelt only in [`QualityTotals::cells`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QualityTotals<T> {
    /// SIMs seen in the window.
    pub sims: T,
    /// SIMs too sparse to classify.
    pub too_sparse: T,
    /// SIMs on a spell still open at the window's end.
    pub open_spells: T,
    /// SIM-days observed.
    pub sim_days: T,
}

/// Cells of the `quality` table.
pub const QUALITY_CELLS: usize = 4;

impl<T: Copy> QualityTotals<T> {
    /// The table's cells, in its order: SIMs, too sparse, open spells, SIM-days.
    pub fn cells(&self) -> [T; QUALITY_CELLS] {
        [self.sims, self.too_sparse, self.open_spells, self.sim_days]
    }

    /// The totals from the table's cells, in [`QualityTotals::cells`] order.
    pub fn from_cells(cells: [T; QUALITY_CELLS]) -> Self {
        let [sims, too_sparse, open_spells, sim_days] = cells;
        Self {
            sims,
            too_sparse,
            open_spells,
            sim_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_reads_back_from_its_name_and_the_noised_ones_are_fields() {
        for t in TableId::NOISED.into_iter().chain(TableId::PUBLISHED) {
            assert_eq!(TableId::from_name(t.name()), Some(t));
        }
        assert_eq!(TableId::from_name("Categories"), None);
        let n = Noised::from_fn(|t| t.name().len());
        assert_eq!(n.get(TableId::Crossings), Some(&9));
        assert_eq!(n.get(TableId::Corridors), None);
        let order: Vec<TableId> = n.iter().map(|(t, _)| t).collect();
        assert_eq!(order, TableId::NOISED);
        let q = QualityTotals::from_cells([1, 2, 3, 4]);
        assert_eq!(
            (q.sims, q.too_sparse, q.open_spells, q.sim_days),
            (1, 2, 3, 4)
        );
        assert_eq!(q.cells(), [1, 2, 3, 4]);
    }
}
