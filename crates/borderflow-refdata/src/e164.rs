//! E.164 country calling codes → country, by longest prefix.

use foldhash::HashMap;

use borderflow_core::CountryCode;

use crate::csvload::{RefDataError, country, load_table};

pub(crate) const EMBEDDED: &str = include_str!("../data/e164.csv");

/// Longest prefix listed (Christmas Island's +61 8 9164 has seven digits).
const MAX_PREFIX: usize = 7;

/// E.164 prefixes → country. Shared zones are split where the numbering plan allows it:
/// +1 by NANP area code (Canada, the Caribbean and US territories; other geographic +1 numbers
/// are the United States), +7 6/7 Kazakhstan (else Russia), +44 1481/1534/1624 the Crown
/// Dependencies. Non-geographic codes (+800, +881, +882, +1 800, …) and codes several
/// territories share without a public split (+590, +599, +262) map to an explicit unknown.
#[derive(Debug, Clone)]
pub struct CallingCodes {
    prefixes: HashMap<String, Option<CountryCode>>,
}

impl CallingCodes {
    pub(crate) fn load(
        user: Option<(String, String)>,
        known: &dyn Fn(CountryCode) -> bool,
    ) -> Result<Self, RefDataError> {
        let table = load_table("e164.csv", EMBEDDED, user, &["prefix", "alpha3"], |row| {
            let prefix = row.get(0).trim_start_matches('+');
            if prefix.is_empty()
                || prefix.len() > MAX_PREFIX
                || !prefix.bytes().all(|b| b.is_ascii_digit())
                || prefix.starts_with('0')
            {
                return Err(row.error(format!(
                    "prefix {:?} is not 1 to {MAX_PREFIX} digits of an international number",
                    row.get(0)
                )));
            }
            let alpha3 = if row.get(1).is_empty() {
                None
            } else {
                Some(country(row, 1, known)?)
            };
            Ok((prefix.to_string(), alpha3))
        })?;
        Ok(Self {
            prefixes: table.into_iter().collect(),
        })
    }

    /// The country of an international number (`+254…`, `00254…` or bare `254…`; spaces,
    /// dashes, dots and brackets ignored). `None` when the number is malformed, its code is
    /// unassigned, or it is non-geographic or shared: the caller records it as unknown.
    pub fn country_of(&self, number: &str) -> Option<CountryCode> {
        let mut digits = [0u8; MAX_PREFIX];
        let mut n = 0;
        let body = number.trim();
        let body = body
            .strip_prefix('+')
            .or_else(|| body.strip_prefix("00"))
            .unwrap_or(body);
        for b in body.bytes() {
            match b {
                b'0'..=b'9' => {
                    if n < MAX_PREFIX {
                        digits[n] = b;
                    }
                    n += 1;
                }
                b' ' | b'-' | b'.' | b'(' | b')' => {}
                _ => return None,
            }
        }
        // E.164 numbers are at most 15 digits; a country code never starts with 0.
        if n == 0 || n > 15 || digits[0] == b'0' {
            return None;
        }
        for len in (1..=n.min(MAX_PREFIX)).rev() {
            let prefix = std::str::from_utf8(&digits[..len]).expect("digits");
            if let Some(hit) = self.prefixes.get(prefix) {
                return *hit;
            }
        }
        None
    }

    /// The shortest listed prefix of a country (its country calling code), for making
    /// synthetic numbers.
    pub fn code_of(&self, country: CountryCode) -> Option<&str> {
        self.prefixes
            .iter()
            .filter(|(_, c)| **c == Some(country))
            .map(|(p, _)| p.as_str())
            .min_by_key(|p| (p.len(), *p))
    }
}
