//! The samplers against their exact distributions: mean, variance and tail frequencies from
//! fixed-seed draws (test mode only), within five standard errors, for σ below 1, around 1, and
//! above 1000.

use borderflow_privacy::sampler::bernoulli_exp;
use borderflow_privacy::{DiscreteGaussian, DiscreteLaplace, NoiseSource, Ratio};
use num_bigint::BigUint;
use num_traits::ToPrimitive;

/// The exact probability mass function `weight(x)` normalised over |x| ≤ `span`.
fn pmf(span: i64, weight: impl Fn(f64) -> f64) -> Vec<(i64, f64)> {
    let raw: Vec<(i64, f64)> = (-span..=span).map(|x| (x, weight(x as f64))).collect();
    let total: f64 = raw.iter().map(|(_, w)| w).sum();
    raw.into_iter().map(|(x, w)| (x, w / total)).collect()
}

/// Checks draws against a pmf: mean, variance and P(|X| ≥ k) for each k in `tails`.
fn check(name: &str, draws: &[i64], pmf: &[(i64, f64)], tails: &[i64]) {
    let n = draws.len() as f64;
    let moment = |k: i32| {
        pmf.iter()
            .map(|(x, p)| (*x as f64).powi(k) * p)
            .sum::<f64>()
    };
    let (var, m4) = (moment(2), moment(4));
    let mean_hat = draws.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var_hat = draws.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n;
    let mean_se = (var / n).sqrt();
    let var_se = ((m4 - var * var) / n).sqrt();
    println!(
        "{name}: mean {mean_hat:.4} (0 ± {:.4}), variance {var_hat:.4} ({var:.4} ± {:.4})",
        5.0 * mean_se,
        5.0 * var_se
    );
    assert!(
        mean_hat.abs() <= 5.0 * mean_se + 1e-12,
        "{name}: mean {mean_hat}"
    );
    assert!(
        (var_hat - var).abs() <= 5.0 * var_se + 1e-12,
        "{name}: variance {var_hat} vs {var}"
    );
    for &k in tails {
        let p: f64 = pmf
            .iter()
            .filter(|(x, _)| x.abs() >= k)
            .map(|(_, p)| p)
            .sum();
        let p_hat = draws.iter().filter(|x| x.abs() >= k).count() as f64 / n;
        let se = (p * (1.0 - p) / n).sqrt();
        println!("  P(|X| ≥ {k}) = {p_hat:.5} ({p:.5} ± {:.5})", 5.0 * se);
        assert!((p_hat - p).abs() <= 5.0 * se + 1e-12, "{name}: tail {k}");
    }
}

fn gaussian_draws(sigma2: Ratio, n: usize, seed: u64) -> Vec<i64> {
    let g = DiscreteGaussian::new(&sigma2).unwrap();
    let mut rng = NoiseSource::seeded_for_tests(seed);
    (0..n)
        .map(|_| g.sample(&mut rng).to_i64().unwrap())
        .collect()
}

#[test]
fn discrete_gaussian_small_sigma() {
    for (sigma2, seed) in [
        (Ratio::new(1u32, 4u32).unwrap(), 1),
        (Ratio::new(81u32, 100u32).unwrap(), 2),
    ] {
        let s2 = sigma2.to_f64();
        let draws = gaussian_draws(sigma2, 200_000, seed);
        let exact = pmf(40, |x| (-x * x / (2.0 * s2)).exp());
        check(&format!("gaussian σ²={s2}"), &draws, &exact, &[1, 2, 3]);
    }
}

#[test]
fn discrete_gaussian_moderate_sigma() {
    for (sigma2, seed, tails) in [
        (Ratio::from_decimal("2.25").unwrap(), 3, [2, 3, 5]),
        (Ratio::new(400u32, 1u32).unwrap(), 4, [20, 40, 60]),
        // σ = 4/√(2·0.25) for a sensitivity-4 table at ρ = 0.25: σ² = 32.
        (Ratio::new(32u32, 1u32).unwrap(), 5, [6, 12, 17]),
    ] {
        let s2 = sigma2.to_f64();
        let draws = gaussian_draws(sigma2, 100_000, seed);
        let span = (40.0 * s2.sqrt()) as i64 + 10;
        let exact = pmf(span, |x| (-x * x / (2.0 * s2)).exp());
        check(&format!("gaussian σ²={s2}"), &draws, &exact, &tails);
    }
}

#[test]
fn discrete_gaussian_large_sigma() {
    let sigma2 = Ratio::new(2500u32 * 2500, 1u32).unwrap();
    let draws = gaussian_draws(sigma2, 50_000, 6);
    let exact = pmf(40 * 2500, |x| (-x * x / (2.0 * 2500.0 * 2500.0)).exp());
    check("gaussian σ=2500", &draws, &exact, &[2500, 5000, 7500]);
}

#[test]
fn discrete_gaussian_of_zero_variance_is_zero() {
    let draws = gaussian_draws(Ratio::new(0u32, 1u32).unwrap(), 100, 7);
    assert!(draws.iter().all(|&x| x == 0));
}

#[test]
fn discrete_laplace_matches_its_distribution() {
    for (scale, seed, tails) in [
        ("0.5", 8, [1, 2, 3]),
        ("1.5", 9, [1, 3, 6]),
        ("40", 10, [40, 80, 160]),
    ] {
        let r = Ratio::from_decimal(scale).unwrap();
        let b = r.to_f64();
        let l = DiscreteLaplace::new(&r).unwrap();
        let mut rng = NoiseSource::seeded_for_tests(seed);
        let draws: Vec<i64> = (0..100_000)
            .map(|_| l.sample(&mut rng).to_i64().unwrap())
            .collect();
        let exact = pmf((60.0 * b) as i64 + 20, |x| (-x.abs() / b).exp());
        check(&format!("laplace scale {scale}"), &draws, &exact, &tails);
    }
}

#[test]
fn bernoulli_exp_is_exact() {
    let mut rng = NoiseSource::seeded_for_tests(11);
    for (num, den) in [(1u32, 2u32), (1, 1), (5, 2), (7, 1)] {
        let p = (-(num as f64) / den as f64).exp();
        let n = 200_000;
        let hits = (0..n)
            .filter(|_| bernoulli_exp(&mut rng, &BigUint::from(num), &BigUint::from(den)))
            .count() as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((hits / n as f64 - p).abs() <= 5.0 * se, "exp(-{num}/{den})");
    }
}

#[test]
fn seeds_are_for_tests_only_and_reproducible() {
    assert!(NoiseSource::from_os().unwrap().for_publication());
    let s = NoiseSource::seeded_for_tests(42);
    assert!(!s.for_publication());
    assert_eq!(s.test_seed(), Some(42));
    let a = gaussian_draws(Ratio::new(9u32, 1u32).unwrap(), 50, 42);
    let b = gaussian_draws(Ratio::new(9u32, 1u32).unwrap(), 50, 42);
    let c = gaussian_draws(Ratio::new(9u32, 1u32).unwrap(), 50, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Two OS-seeded sources do not repeat each other.
    let g = DiscreteGaussian::new(&Ratio::new(1_000_000u32, 1u32).unwrap()).unwrap();
    let (mut x, mut y) = (
        NoiseSource::from_os().unwrap(),
        NoiseSource::from_os().unwrap(),
    );
    let xs: Vec<_> = (0..20).map(|_| g.sample(&mut x)).collect();
    let ys: Vec<_> = (0..20).map(|_| g.sample(&mut y)).collect();
    assert_ne!(xs, ys);
}

#[test]
fn decimals_are_read_exactly() {
    let r = Ratio::from_decimal("0.25").unwrap();
    assert_eq!((r.num().to_u32(), r.den().to_u32()), (Some(1), Some(4)));
    let r = Ratio::from_decimal("1e-9").unwrap();
    assert_eq!(
        (r.num().to_u64(), r.den().to_u64()),
        (Some(1), Some(1_000_000_000))
    );
    let r = Ratio::from_decimal("2.50E1").unwrap();
    assert_eq!((r.num().to_u32(), r.den().to_u32()), (Some(25), Some(1)));
    for bad in ["", ".", "-1", "abc", "1e", "0x10", "1.2.3"] {
        assert!(Ratio::from_decimal(bad).is_err(), "{bad:?}");
    }
    assert!(Ratio::new(1u32, 0u32).is_err());
    assert!(DiscreteLaplace::new(&Ratio::new(0u32, 1u32).unwrap()).is_err());
}

#[test]
fn accounting_matches_the_formulas() {
    use borderflow_privacy::accountant::{epsilon, rho_for, sigma2_for};
    // docs/design.md §7: ρ = 0.25 is ε ≈ 4.4 at δ = 1e-9.
    let e = epsilon(0.25, 1e-9);
    assert!((e - 4.44).abs() < 0.01, "{e}");
    // Tighter than the simple bound ρ + 2√(ρ ln 1/δ) = 4.80.
    assert!(e < 0.25 + 2.0 * (0.25f64 * (1e9f64).ln()).sqrt());
    assert_eq!(epsilon(0.0, 1e-9), 0.0);
    // σ² = Δ²/(2ρ): crossings (Δ = 2) at ρ = 0.1 → σ² = 20; categories (Δ = 1) → 5.
    let rho = Ratio::from_decimal("0.1").unwrap();
    assert_eq!(
        sigma2_for(&rho, 4).unwrap(),
        Ratio::new(20u32, 1u32).unwrap()
    );
    assert_eq!(
        sigma2_for(&rho, 1).unwrap(),
        Ratio::new(5u32, 1u32).unwrap()
    );
    assert_eq!(rho_for(&Ratio::new(20u32, 1u32).unwrap(), 4).unwrap(), rho);
    assert!(sigma2_for(&Ratio::new(0u32, 1u32).unwrap(), 1).is_err());
    // Composition is exact: 0.1 + 0.05 + 0.1 = 0.25, not 0.25000000000000006.
    let total = rho.add(&Ratio::from_decimal("0.05").unwrap()).add(&rho);
    assert_eq!(total, Ratio::from_decimal("0.25").unwrap());
    assert_eq!(total.to_fraction(), "1/4");
    assert_eq!(Ratio::from_fraction("1/4").unwrap(), total);
    assert!(
        total
            .checked_sub(&Ratio::from_decimal("0.3").unwrap())
            .is_none()
    );
}
