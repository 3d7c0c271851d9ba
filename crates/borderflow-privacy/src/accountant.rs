//! Privacy accounting in ρ-zero-concentrated differential privacy (Bun and Steinke 2016).
//!
//! - A Gaussian mechanism of L2 sensitivity Δ and noise σ costs ρ = Δ²/(2σ²); conversely
//!   σ² = Δ²/(2ρ). Kept exact as rationals, so the ledger adds costs without rounding.
//! - Costs add up across tables and releases (composition).
//! - For display, ρ-zCDP implies (ε, δ)-DP with
//!   ε = inf over α > 1 of αρ + (ln(1/δ) + (α−1)·ln(1−1/α) − ln α)/(α−1)
//!   (Canonne, Kamath and Steinke 2020, Corollary 13), tighter than ρ + 2√(ρ ln(1/δ)).

use crate::sampler::{Ratio, SamplerError};

/// σ² = Δ²/(2ρ) for a table whose squared L2 sensitivity is `delta_sq` (Δ²), released at
/// cost `rho`. Squared, so that Δ = √k of a SIM in up to k cells stays exact.
pub fn sigma2_for(rho: &Ratio, delta_sq: u32) -> Result<Ratio, SamplerError> {
    if rho.is_zero() {
        return Err(SamplerError::BadScale(
            "a release needs ρ above 0 (ρ = 0 would mean infinite noise)".into(),
        ));
    }
    let d2 = u64::from(delta_sq);
    Ratio::new(
        rho.den() * num_bigint::BigUint::from(d2),
        rho.num() * num_bigint::BigUint::from(2u32),
    )
}

/// ρ = Δ²/(2σ²) for a table of squared L2 sensitivity `delta_sq` (Δ²) released with noise
/// σ² = `sigma2`.
pub fn rho_for(sigma2: &Ratio, delta_sq: u32) -> Result<Ratio, SamplerError> {
    if sigma2.is_zero() {
        return Err(SamplerError::BadScale(
            "σ = 0 is no noise at all: its privacy cost is unbounded".into(),
        ));
    }
    let d2 = u64::from(delta_sq);
    Ratio::new(
        sigma2.den() * num_bigint::BigUint::from(d2),
        sigma2.num() * num_bigint::BigUint::from(2u32),
    )
}

/// The ε of (ε, δ)-DP implied by ρ-zCDP (display only; floats are fine here).
pub fn epsilon(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    let log_inv_delta = (1.0 / delta).ln();
    let at =
        |a: f64| a * rho + (log_inv_delta + (a - 1.0) * (1.0 - 1.0 / a).ln() - a.ln()) / (a - 1.0);
    // The objective is convex in α: golden-section search over a wide bracket.
    let (mut lo, mut hi) = (1.0 + 1e-9, 1e6_f64.max(10.0 * log_inv_delta / rho));
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..300 {
        let (x1, x2) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
        if at(x1) < at(x2) {
            hi = x2;
        } else {
            lo = x1;
        }
    }
    let classic = rho + 2.0 * (rho * log_inv_delta).sqrt();
    at((lo + hi) / 2.0).min(classic)
}

/// The normal quantile of a two-sided 95% interval, as statistical offices round it: 1.96,
/// exactly [`Z_95_NUM`]/[`Z_95_DEN`]. Every margin of error and reliability test uses it.
pub const Z_95: f64 = 1.96;
/// Numerator of [`Z_95`] as an exact fraction (49/25).
pub const Z_95_NUM: u32 = 49;
/// Denominator of [`Z_95`] as an exact fraction (49/25).
pub const Z_95_DEN: u32 = 25;

/// Half-width of the 95% margin of error of a noisy count with noise standard deviation σ.
pub fn margin_of_error_95(sigma: f64) -> f64 {
    Z_95 * sigma
}
