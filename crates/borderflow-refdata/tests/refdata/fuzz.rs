//! The code-list parsers under property tests: any text as a PLMN or an E.164 number is either
//! resolved or refused, never a panic, and what is accepted has the shape its standard gives.

use borderflow_refdata::{Plmn, RefData};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_plmn_is_five_or_six_digits_or_refused(text in ".{0,10}|[0-9]{4,7}") {
        match Plmn::parse(&text) {
            Ok(p) => {
                prop_assert!((5..=6).contains(&text.len()));
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(format!("{}{}", p.mcc(), p.mnc()), text.clone());
                // Every parsed PLMN has an answer in the table (a country, or none).
                let _ = RefData::embedded().plmn.country_of(p);
            }
            Err(e) => prop_assert!(e.to_string().contains("malformed PLMN")),
        }
    }

    #[test]
    fn any_number_resolves_to_a_country_or_none(text in r"\+?[0-9 ()-]{0,18}|.{0,20}") {
        let rd = RefData::embedded();
        if let Some(c) = rd.calling_codes.country_of(&text) {
            prop_assert!(rd.countries.get(c).is_some(), "{} resolved to {} outside the list", text, c);
        }
    }
}
