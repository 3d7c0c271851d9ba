//! The public domain and the contribution bounds of the tables.

use borderflow_core::{Category, CountryCode};
use borderflow_release::{CategoryCell, Domain, Tables, TabulateError};

fn c(s: &str) -> CountryCode {
    s.parse().unwrap()
}

#[test]
fn the_domain_lists_every_cell_zeros_included() {
    let countries = [c("KEN"), c("UGA"), c("TZA"), c("ARE")];
    let d = Domain::new(c("KEN"), &countries);
    // resident, then 10 categories × 3 partners (M is never a partner).
    assert_eq!(d.categories.len(), 1 + 10 * 3);
    assert_eq!(
        d.categories[0],
        CategoryCell {
            category: Category::Resident,
            partner: None
        }
    );
    assert!(
        d.categories
            .iter()
            .all(|cell| cell.partner != Some(c("KEN")))
    );
    // 4 × 3 ordered pairs of distinct countries.
    assert_eq!(d.crossings.len(), 12);
    assert!(d.crossings.iter().all(|(a, b)| a != b));
    let t = Tables::new(&d);
    assert_eq!(t.categories, vec![0; 31]);
    assert_eq!(t.crossings, vec![0; 12]);
    // Each pair's cell is its place in the list; a country outside the code lists, or a
    // pair of one country with itself, has none.
    for (i, (a, b)) in d.crossings.iter().enumerate() {
        assert_eq!(d.crossing_cell(*a, *b), Some(i), "{a}→{b}");
    }
    // Sorted ARE, KEN, TZA, UGA: UGA's pairs come last, to ARE, KEN, TZA.
    assert_eq!(d.crossing_cell(c("UGA"), c("KEN")), Some(10));
    assert_eq!(d.crossing_cell(c("UGA"), c("UGA")), None);
    assert_eq!(d.crossing_cell(c("UGA"), c("DEU")), None);
    assert_eq!(d.crossing_cell(c("DEU"), c("UGA")), None);
}

#[test]
fn each_sim_adds_one_category_cell_and_bounded_crossings() {
    let countries = [c("KEN"), c("UGA"), c("TZA"), c("ARE")];
    let d = Domain::new(c("KEN"), &countries);
    let mut t = Tables::new(&d);
    t.add(&d, Some(Category::Resident), None, &[], 4).unwrap();
    t.add(
        &d,
        Some(Category::FrontierIn),
        Some(c("UGA")),
        &[(c("UGA"), c("KEN")), (c("KEN"), c("UGA"))],
        4,
    )
    .unwrap();
    // A repeated pair counts once for its SIM.
    t.add(
        &d,
        Some(Category::SeasonalOut),
        Some(c("ARE")),
        &[(c("KEN"), c("ARE")), (c("KEN"), c("ARE"))],
        4,
    )
    .unwrap();
    t.add(&d, None, None, &[(c("KEN"), c("TZA"))], 4).unwrap();
    assert_eq!(t.categories.iter().sum::<u64>(), 3);
    assert_eq!(t.unclassified, 1);
    assert_eq!(t.crossings.iter().sum::<u64>(), 4);
    let idx = |a: &str, b: &str| d.crossings.iter().position(|p| *p == (c(a), c(b))).unwrap();
    assert_eq!(t.crossings[idx("KEN", "ARE")], 1);
    assert_eq!(t.crossings[idx("KEN", "TZA")], 1);

    let five = [
        (c("KEN"), c("UGA")),
        (c("UGA"), c("KEN")),
        (c("KEN"), c("TZA")),
        (c("TZA"), c("KEN")),
        (c("KEN"), c("ARE")),
    ];
    assert_eq!(
        t.add(&d, Some(Category::Resident), None, &five, 4),
        Err(TabulateError::TooManyPairs { pairs: 5, max: 4 })
    );
    assert_eq!(
        t.add(
            &d,
            Some(Category::VisitorIn),
            Some(c("FRA")),
            &[(c("KEN"), c("UGA"))],
            4
        )
        .unwrap_err()
        .to_string(),
        "partner country FRA is not in the code lists the release is tabulated over"
    );
    assert!(matches!(
        t.add(&d, Some(Category::Resident), Some(c("UGA")), &[], 4),
        Err(TabulateError::BadPartner { .. })
    ));
    assert_eq!(
        t.add(&d, None, None, &[(c("KEN"), c("FRA"))], 4)
            .unwrap_err()
            .to_string(),
        "crossing country FRA is not in the code lists the release is tabulated over"
    );
    // Refused SIMs changed nothing.
    assert_eq!(t.categories.iter().sum::<u64>(), 3);
    assert_eq!(t.crossings.iter().sum::<u64>(), 4);
    assert_eq!(t.unclassified, 1);
}
