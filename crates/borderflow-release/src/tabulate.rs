//! Exact tables over the public domain (docs/design.md §7): every cell the code lists allow is listed,
//! zeros included, so whether a row exists says nothing about anyone; and each SIM adds to
//! exactly one `categories` cell and to at most `max_pairs` `crossings` cells.

use std::collections::HashMap;

use borderflow_core::{Category, CountryCode};

/// Why a SIM's facts do not fit the domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TabulateError {
    /// A partner or crossing country outside the code lists (a code list changed between
    /// classification and tabulation).
    #[error("{what} {country} is not in the code lists the release is tabulated over")]
    UnknownCountry {
        /// Which country of the SIM's facts (partner or crossing).
        what: &'static str,
        /// Its code.
        country: String,
    },
    /// A SIM with more crossing pairs than the bound the privacy analysis relies on.
    #[error("a SIM has {pairs} crossing pairs, above the bound of {max}")]
    TooManyPairs {
        /// Pairs the SIM has.
        pairs: usize,
        /// The bound.
        max: usize,
    },
    /// A resident with a partner country, or another category without one.
    #[error("category {category} with partner {partner:?} does not fit the domain")]
    BadPartner {
        /// The category.
        category: &'static str,
        /// The partner it came with.
        partner: Option<String>,
    },
}

/// A cell of `categories`: a category and its partner country (none for `resident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CategoryCell {
    /// The category.
    pub category: Category,
    /// Its partner country; `None` for `resident`.
    pub partner: Option<CountryCode>,
}

/// The public domain of a release: the cells of both tables, in a fixed order.
#[derive(Debug, Clone)]
pub struct Domain {
    /// `resident` (no partner), then every other category × every country but M.
    pub categories: Vec<CategoryCell>,
    /// Every ordered pair of distinct countries.
    pub crossings: Vec<(CountryCode, CountryCode)>,
    category_index: HashMap<CategoryCell, usize>,
    /// Each country's place in the sorted code list: a crossing's cell is computed from its
    /// two countries' places ([`Self::crossing_cell`]) instead of looked up in a table of
    /// all 62,250 pairs, which took 15 ms to build at the start of every run.
    place: HashMap<CountryCode, usize>,
}

impl Domain {
    /// The domain for measuring country `m` over the code list `countries`.
    pub fn new(m: CountryCode, countries: &[CountryCode]) -> Self {
        let mut countries = countries.to_vec();
        countries.sort();
        countries.dedup();
        let mut categories = vec![CategoryCell {
            category: Category::Resident,
            partner: None,
        }];
        for category in Category::ALL
            .into_iter()
            .filter(|c| *c != Category::Resident)
        {
            for &c in countries.iter().filter(|c| **c != m) {
                categories.push(CategoryCell {
                    category,
                    partner: Some(c),
                });
            }
        }
        let mut crossings = Vec::with_capacity(countries.len() * countries.len());
        for &a in &countries {
            for &b in countries.iter().filter(|b| **b != a) {
                crossings.push((a, b));
            }
        }
        let category_index = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i))
            .collect();
        let place = countries.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        Self {
            categories,
            crossings,
            category_index,
            place,
        }
    }

    /// The cell of the crossing from `a` to `b` in [`Self::crossings`]: the pairs are listed
    /// by `a`'s place, then by `b`'s among the other countries. `None` when either country
    /// is outside the code lists or both are the same.
    pub fn crossing_cell(&self, a: CountryCode, b: CountryCode) -> Option<usize> {
        let (from, to) = (*self.place.get(&a)?, *self.place.get(&b)?);
        let others = self.place.len() - 1;
        (from != to).then(|| from * others + to - usize::from(to > from))
    }
}

/// Exact counts over a [`Domain`], cell by cell in the domain's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// SIMs per `categories` cell.
    pub categories: Vec<u64>,
    /// SIMs per `crossings` cell.
    pub crossings: Vec<u64>,
    /// SIMs too sparse to classify (in no `categories` cell; counted for quality only).
    pub unclassified: u64,
}

impl Tables {
    /// Empty tables over `domain`.
    pub fn new(domain: &Domain) -> Self {
        Self {
            categories: vec![0; domain.categories.len()],
            crossings: vec![0; domain.crossings.len()],
            unclassified: 0,
        }
    }

    /// Adds one SIM: its category and partner (None when too sparse to classify) and the
    /// directed pairs it crossed (distinct, at most `max_pairs`).
    pub fn add(
        &mut self,
        domain: &Domain,
        category: Option<Category>,
        partner: Option<CountryCode>,
        crossings: &[(CountryCode, CountryCode)],
        max_pairs: usize,
    ) -> Result<(), TabulateError> {
        if crossings.len() > max_pairs {
            return Err(TabulateError::TooManyPairs {
                pairs: crossings.len(),
                max: max_pairs,
            });
        }
        // Everything is checked before anything is counted: a refused SIM changes nothing.
        let category_cell = match category {
            None => None,
            Some(category) => {
                let cell = CategoryCell { category, partner };
                match domain.category_index.get(&cell) {
                    Some(&i) => Some(i),
                    None if (category == Category::Resident) == partner.is_none() => {
                        return Err(TabulateError::UnknownCountry {
                            what: "partner country",
                            country: partner.map_or("-".into(), |p| p.to_string()),
                        });
                    }
                    None => {
                        return Err(TabulateError::BadPartner {
                            category: category.as_str(),
                            partner: partner.map(|p| p.to_string()),
                        });
                    }
                }
            }
        };
        let mut cells = Vec::with_capacity(crossings.len());
        for (i, pair) in crossings.iter().enumerate() {
            if crossings[..i].contains(pair) {
                continue; // a SIM counts once per pair
            }
            let cell = domain.crossing_cell(pair.0, pair.1).ok_or_else(|| {
                let known = |c: CountryCode| domain.place.contains_key(&c);
                TabulateError::UnknownCountry {
                    what: "crossing country",
                    country: if known(pair.0) { pair.1 } else { pair.0 }.to_string(),
                }
            })?;
            cells.push(cell);
        }
        for cell in cells {
            self.crossings[cell] += 1;
        }
        match category_cell {
            Some(i) => self.categories[i] += 1,
            None => self.unclassified += 1,
        }
        Ok(())
    }
}

impl borderflow_core::FailureKind for TabulateError {
    /// The facts do not fit the code list the pipeline configures (a country dropped from an
    /// override, say).
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::Config
    }
}
