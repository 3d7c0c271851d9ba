//! Sets of functional local dates: a run's window, and what a file may still give the
//! presence store.
//!
//! A run accepts the dates of its period's look-back (the run's window). A file the store has
//! already taken under an earlier window is read again only for the dates that window did not
//! cover, so a delivery is never counted twice (docs/ingest.md, "Deliveries"). Those dates
//! need not be one interval, hence a set of ranges rather than a pair.

use serde::{Deserialize, Serialize};

/// A set of functional local dates (days since 1970-01-01) as sorted, disjoint, inclusive
/// ranges.
///
/// ```
/// use borderflow_core::DateWindow;
///
/// let read_before = DateWindow::from_range(10, 20);
/// let now = DateWindow::from_range(15, 30);
/// let left = now.minus(&read_before);
/// assert_eq!(left.ranges(), &[(21, 30)]);
/// assert!(left.contains(25) && !left.contains(20));
/// assert!(now.minus(&now.union(&read_before)).is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    ranges: Vec<(i32, i32)>,
}

impl DateWindow {
    /// The dates from `first` to `last`, both included (none when `first > last`).
    pub fn from_range(first: i32, last: i32) -> Self {
        if first > last {
            return Self::default();
        }
        Self {
            ranges: vec![(first, last)],
        }
    }

    /// The ranges, sorted and disjoint.
    pub fn ranges(&self) -> &[(i32, i32)] {
        &self.ranges
    }

    /// Whether no date is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `day` is in the set.
    pub fn contains(&self, day: i32) -> bool {
        // Few ranges (one, nearly always): a scan beats a search.
        self.ranges.iter().any(|&(a, b)| a <= day && day <= b)
    }

    /// The dates of either set.
    pub fn union(&self, other: &DateWindow) -> DateWindow {
        let mut all: Vec<(i32, i32)> = self.ranges.iter().chain(&other.ranges).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(i32, i32)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                Some(last) if i64::from(a) <= i64::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        DateWindow { ranges: out }
    }

    /// The dates of `self` that are not in `other`.
    pub fn minus(&self, other: &DateWindow) -> DateWindow {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            let mut start = i64::from(a);
            let end = i64::from(b);
            for &(x, y) in &other.ranges {
                let (x, y) = (i64::from(x), i64::from(y));
                if y < start || x > end {
                    continue;
                }
                if x > start {
                    out.push((start as i32, (x - 1) as i32));
                }
                start = start.max(y + 1);
                if start > end {
                    break;
                }
            }
            if start <= end {
                out.push((start as i32, end as i32));
            }
        }
        DateWindow { ranges: out }
    }

    /// The dates of `self` that are also in `other`.
    pub fn intersect(&self, other: &DateWindow) -> DateWindow {
        self.minus(&self.minus(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_arithmetic_keeps_ranges_sorted_and_disjoint() {
        let a = DateWindow::from_range(1, 10).union(&DateWindow::from_range(20, 30));
        let b = DateWindow::from_range(5, 25);
        assert_eq!(a.minus(&b).ranges(), &[(1, 4), (26, 30)]);
        assert_eq!(b.minus(&a).ranges(), &[(11, 19)]);
        assert_eq!(a.intersect(&b).ranges(), &[(5, 10), (20, 25)]);
        assert_eq!(a.union(&b).ranges(), &[(1, 30)]);
        // Adjacent ranges merge; an empty range is no range.
        assert_eq!(
            DateWindow::from_range(1, 2)
                .union(&DateWindow::from_range(3, 4))
                .ranges(),
            &[(1, 4)]
        );
        assert!(DateWindow::from_range(3, 2).is_empty());
        // The extremes do not overflow.
        let all = DateWindow::from_range(i32::MIN, i32::MAX);
        assert!(all.minus(&all).is_empty());
        assert_eq!(
            all.minus(&DateWindow::from_range(0, 0)).ranges(),
            &[(i32::MIN, -1), (1, i32::MAX)]
        );
    }
}
