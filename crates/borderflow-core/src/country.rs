//! ISO 3166-1 alpha-3 country codes as a fixed-size value type.

use std::fmt;
use std::str::FromStr;

/// An ISO 3166-1 alpha-3 code (`KEN`, `UGA`, …), stored as three ASCII capital letters.
///
/// Fixed-size and `Copy`, so tables keyed by country cost no allocation. Every released
/// country column holds these codes (docs/design.md §8). `XKX` (Kosovo) is accepted like any other
/// three-letter code: it is the user-assigned code the World Bank, IMF and EU use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 3]);

/// Why a text is not an alpha-3 country code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 3166-1 alpha-3 code (three capital letters)")]
pub struct CountryCodeError(pub String);

impl CountryCode {
    /// Builds a code from three bytes, checking they are ASCII capital letters.
    pub const fn from_bytes(bytes: [u8; 3]) -> Option<Self> {
        let mut i = 0;
        while i < 3 {
            if !bytes[i].is_ascii_uppercase() {
                return None;
            }
            i += 1;
        }
        Some(Self(bytes))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII capitals, so always valid UTF-8.
        std::str::from_utf8(&self.0).expect("country code is ASCII")
    }

    /// The three bytes of the code.
    pub const fn bytes(&self) -> [u8; 3] {
        self.0
    }
}

impl FromStr for CountryCode {
    type Err = CountryCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 3 {
            return Err(CountryCodeError(s.to_string()));
        }
        Self::from_bytes([b[0], b[1], b[2]]).ok_or_else(|| CountryCodeError(s.to_string()))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

impl serde::Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_alpha3() {
        let ken: CountryCode = "KEN".parse().unwrap();
        assert_eq!(ken.to_string(), "KEN");
        assert_eq!(ken.bytes(), *b"KEN");
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in ["", "KE", "KENY", "ken", "K3N", "KÉN"] {
            assert!(bad.parse::<CountryCode>().is_err(), "{bad:?} accepted");
        }
    }
}
