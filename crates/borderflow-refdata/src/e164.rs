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
    /// The same prefixes keyed by [`prefix_key`], for the per-event lookup.
    by_key: HashMap<u64, Option<CountryCode>>,
    /// By a number's first three digits: the length of the longest listed prefix that starts
    /// with them (0 if none is longer than three digits), so a lookup tries only lengths that
    /// can match — one or two probes for most numbers instead of seven.
    deepest: Vec<u8>,
    /// By a number's first three digits: what its longest listed prefix of at most three
    /// digits says (`None`: no such prefix), so most numbers need no hashing at all.
    by_head: Vec<Option<Option<CountryCode>>>,
}

/// A prefix of `len` digits with numeric value `value`, as one integer: no string to build or
/// hash for each of the up to seven lengths tried per number.
fn prefix_key(value: u64, len: usize) -> u64 {
    (value << 3) | len as u64
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
        let prefixes: HashMap<String, Option<CountryCode>> = table.into_iter().collect();
        let by_key: HashMap<u64, Option<CountryCode>> = prefixes
            .iter()
            .map(|(p, c)| {
                let value = p.bytes().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
                (prefix_key(value, p.len()), *c)
            })
            .collect();
        let mut deepest = vec![0u8; 1000];
        for p in prefixes.keys().filter(|p| p.len() > 3) {
            let head: usize = p[..3].parse().expect("digits");
            deepest[head] = deepest[head].max(p.len() as u8);
        }
        let by_head = (0..1000u64)
            .map(|head| {
                [(head, 3), (head / 10, 2), (head / 100, 1)]
                    .into_iter()
                    .find_map(|(value, len)| by_key.get(&prefix_key(value, len)).copied())
            })
            .collect();
        Ok(Self {
            prefixes,
            by_key,
            deepest,
            by_head,
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
        let mut longest = n.min(MAX_PREFIX);
        if longest >= 3 {
            let head = digits[..3]
                .iter()
                .fold(0usize, |v, b| v * 10 + usize::from(b - b'0'));
            // Lengths above three only where a longer prefix starts with these digits.
            let deepest = usize::from(self.deepest[head]).min(longest);
            if deepest > 3 {
                let mut value = digits[..deepest]
                    .iter()
                    .fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
                for len in (4..=deepest).rev() {
                    if let Some(hit) = self.by_key.get(&prefix_key(value, len)) {
                        return *hit;
                    }
                    value /= 10;
                }
            }
            return self.by_head[head].flatten();
        }
        let mut value = digits[..longest]
            .iter()
            .fold(0u64, |v, b| v * 10 + u64::from(b - b'0'));
        while longest > 0 {
            if let Some(hit) = self.by_key.get(&prefix_key(value, longest)) {
                return *hit;
            }
            value /= 10;
            longest -= 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Longest prefix by definition: every listed prefix compared as text.
    fn by_definition(codes: &CallingCodes, digits: &str) -> Option<CountryCode> {
        (1..=digits.len().min(MAX_PREFIX))
            .rev()
            .find_map(|len| codes.prefixes.get(&digits[..len]))
            .copied()
            .flatten()
    }

    #[test]
    fn the_table_lookups_agree_with_the_longest_prefix_by_definition() {
        let codes = CallingCodes::load(None, &|_| true).unwrap();
        let mut numbers: Vec<String> = (1..1000).map(|head| head.to_string()).collect();
        for head in 1..1000 {
            for tail in [
                "0", "5", "0000000", "2345678", "9876543", "6123456", "7271234",
            ] {
                numbers.push(format!("{head}{tail}"));
            }
        }
        for p in codes.prefixes.keys() {
            for tail in ["", "0", "1234567", "9999999"] {
                numbers.push(format!("{p}{tail}"));
            }
        }
        for n in numbers.iter().filter(|n| n.len() <= 15) {
            assert_eq!(codes.country_of(n), by_definition(&codes, n), "+{n}");
        }
    }
}
