//! The mechanism on tables: threshold on noisy values, and a differencing attack that the
//! noise defeats (and that succeeds when the noise is switched off).

use std::collections::HashMap;

use borderflow_privacy::accountant::{epsilon, sigma2_for};
use borderflow_privacy::{NoiseSource, Ratio, protect};

/// The largest |ln P_a(x)/P_b(x)| over outputs x seen at least `min` times in either world,
/// with add-one smoothing: an empirical privacy loss.
fn empirical_loss(a: &[i64], b: &[i64], min: u64) -> f64 {
    let hist = |xs: &[i64]| {
        let mut h: HashMap<i64, u64> = HashMap::new();
        for &x in xs {
            *h.entry(x).or_default() += 1;
        }
        h
    };
    let (ha, hb) = (hist(a), hist(b));
    ha.keys()
        .chain(hb.keys())
        .filter_map(|x| {
            let (ca, cb) = (*ha.get(x).unwrap_or(&0), *hb.get(x).unwrap_or(&0));
            (ca.max(cb) >= min).then(|| ((ca as f64 + 1.0) / (cb as f64 + 1.0)).ln().abs())
        })
        .fold(0.0, f64::max)
}

/// Releases one cell of a table whose true count is `count`, `n` times over (fresh noise each
/// time, which a real run never does), returning the published values (suppressed as -1).
fn releases(count: u64, sigma2: &Ratio, n: usize, seed: u64) -> Vec<i64> {
    let mut rng = NoiseSource::seeded_for_tests(seed);
    (0..n)
        .map(|_| {
            let cell = protect(&[count], sigma2, 16, &mut rng).unwrap()[0];
            cell.subscribers.unwrap_or(-1)
        })
        .collect()
}

#[test]
fn worlds_one_sim_apart_are_hard_to_tell_apart() {
    // A categories cell (Δ = 1) released at ρ = 0.1: σ² = 5.
    let rho = Ratio::from_decimal("0.1").unwrap();
    let sigma2 = sigma2_for(&rho, 1).unwrap();
    let eps = epsilon(0.1, 1e-9);
    let with = releases(40, &sigma2, 200_000, 1);
    let without = releases(39, &sigma2, 200_000, 2);
    let loss = empirical_loss(&with, &without, 500);
    println!("empirical privacy loss {loss:.3}, allowed ε = {eps:.3}");
    assert!(loss <= eps, "{loss} > {eps}");

    // The same attack without noise tells the worlds apart every time.
    let none = Ratio::new(0u32, 1u32).unwrap();
    let with = releases(40, &none, 1000, 3);
    let without = releases(39, &none, 1000, 4);
    let loss = empirical_loss(&with, &without, 500);
    assert!(loss > eps, "without noise the loss is {loss}");
}

#[test]
fn only_noisy_values_of_at_least_k_are_published() {
    let sigma2 = Ratio::new(5u32, 1u32).unwrap();
    let mut rng = NoiseSource::seeded_for_tests(9);
    let counts: Vec<u64> = (0..20_000).map(|i| i % 40).collect();
    let cells = protect(&counts, &sigma2, 16, &mut rng).unwrap();
    assert_eq!(
        cells.len(),
        counts.len(),
        "every cell of the domain, zeros included"
    );
    let mut suppressed_by_count = [0u32; 40];
    for (c, cell) in counts.iter().zip(&cells) {
        assert!((cell.noise_sd - 5f64.sqrt()).abs() < 1e-12);
        match cell.subscribers {
            Some(v) => {
                assert!(v >= 16 && !cell.suppressed);
            }
            None => {
                assert!(cell.suppressed);
                suppressed_by_count[*c as usize] += 1;
            }
        }
    }
    // The decision is on noisy values: true counts of 15 are sometimes published and true
    // counts of 17 sometimes suppressed; zeros never published.
    assert_eq!(suppressed_by_count[0], 500);
    assert!(suppressed_by_count[15] < 500 && suppressed_by_count[15] > 0);
    assert!(suppressed_by_count[17] > 0);
    assert_eq!(suppressed_by_count[39], 0);
    assert!(protect(&counts, &sigma2, 0, &mut rng).is_err());
}
