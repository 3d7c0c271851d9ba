//! MCC/MNC (PLMN identity) → country of the network.

use std::collections::BTreeMap;
use std::fmt;

use borderflow_core::CountryCode;

use crate::csvload::{RefDataError, country, load_table};

pub(crate) const EMBEDDED: &str = include_str!("../data/plmn.csv");

/// A PLMN identity: a 3-digit MCC followed by a 2- or 3-digit MNC, held without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plmn {
    digits: [u8; 6],
    len: u8,
}

/// Why a text is not a PLMN identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed PLMN {0:?}: expected 5 or 6 digits (MCC + MNC)")]
pub struct PlmnError(pub String);

impl Plmn {
    /// Parses 5 or 6 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, PlmnError> {
        let b = s.as_bytes();
        if !(5..=6).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
            return Err(PlmnError(s.to_string()));
        }
        let mut digits = [0u8; 6];
        digits[..b.len()].copy_from_slice(b);
        Ok(Self {
            digits,
            len: b.len() as u8,
        })
    }

    /// The mobile country code.
    pub fn mcc(&self) -> &str {
        std::str::from_utf8(&self.digits[..3]).expect("digits")
    }

    /// The mobile network code (2 or 3 digits).
    pub fn mnc(&self) -> &str {
        std::str::from_utf8(&self.digits[3..self.len as usize]).expect("digits")
    }
}

impl fmt::Display for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.mcc(), self.mnc())
    }
}

impl fmt::Debug for Plmn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plmn({self})")
    }
}

/// Where a PLMN's network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlmnCountry {
    /// A network of this country.
    Country(CountryCode),
    /// A listed code that names no single country (MCC 901 satellite networks, one MCC
    /// shared by several territories): explicitly unknown.
    NonGeographic,
    /// The MCC is in no list: the row carrying it is quarantined as an unknown PLMN.
    Unlisted,
}

/// MCC → country, with MCC+MNC entries where a network belongs elsewhere than its MCC.
#[derive(Debug, Clone)]
pub struct PlmnTable {
    /// (mcc, mnc, mnc digits) → country; 0 mnc digits is the MCC's default; None is
    /// non-geographic. Numeric keys keep lookups free of allocation.
    entries: BTreeMap<(u16, u16, u8), Option<CountryCode>>,
}

impl PlmnTable {
    pub(crate) fn load(
        user: Option<(String, String)>,
        known: &dyn Fn(CountryCode) -> bool,
    ) -> Result<Self, RefDataError> {
        let entries = load_table(
            "plmn.csv",
            EMBEDDED,
            user,
            &["mcc", "mnc", "alpha3"],
            |row| {
                let (mcc, mnc) = (row.get(0), row.get(1));
                if mcc.len() != 3 || !mcc.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(row.error(format!("MCC {mcc:?} is not 3 digits")));
                }
                if !(mnc.is_empty()
                    || (2..=3).contains(&mnc.len()) && mnc.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(row.error(format!("MNC {mnc:?} is not 2 or 3 digits")));
                }
                let alpha3 = if row.get(2).is_empty() {
                    None
                } else {
                    Some(country(row, 2, known)?)
                };
                Ok((key(mcc, mnc), alpha3))
            },
        )?;
        Ok(Self { entries })
    }

    /// The country of a PLMN: the MCC+MNC entry if there is one, else the MCC's.
    pub fn country_of(&self, plmn: Plmn) -> PlmnCountry {
        let hit = self
            .entries
            .get(&key(plmn.mcc(), plmn.mnc()))
            .or_else(|| self.entries.get(&key(plmn.mcc(), "")));
        match hit {
            Some(Some(c)) => PlmnCountry::Country(*c),
            Some(None) => PlmnCountry::NonGeographic,
            None => PlmnCountry::Unlisted,
        }
    }

    /// Parses `text` and looks it up.
    pub fn country_of_str(&self, text: &str) -> Result<PlmnCountry, PlmnError> {
        Ok(self.country_of(Plmn::parse(text)?))
    }

    /// The MCCs whose default country is `country` (used to make PLMNs for synthetic worlds).
    pub fn mccs_of(&self, country: CountryCode) -> Vec<String> {
        self.entries
            .iter()
            .filter(|((_, _, mnc_len), c)| *mnc_len == 0 && **c == Some(country))
            .map(|((mcc, _, _), _)| format!("{mcc:03}"))
            .collect()
    }
}

/// The numeric key of an MCC and MNC already checked to be digits.
fn key(mcc: &str, mnc: &str) -> (u16, u16, u8) {
    (
        mcc.parse().unwrap_or(0),
        mnc.parse().unwrap_or(0),
        mnc.len() as u8,
    )
}
