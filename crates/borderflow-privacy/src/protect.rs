//! The mechanism applied to a table: exact discrete Gaussian noise on every cell of the public
//! domain, then the threshold k on the noisy values.

use num_traits::ToPrimitive;
use rand::{CryptoRng, RngCore};

use crate::sampler::{DiscreteGaussian, Ratio, SamplerError};

/// One protected cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProtectedCell {
    /// The noisy count, or `None` when suppressed (noisy value below k).
    pub subscribers: Option<i64>,
    /// The noise's scale σ (its standard deviation, to within 1% for σ ≥ 1).
    pub noise_sd: f64,
    /// Whether the cell was suppressed.
    pub suppressed: bool,
    /// The noisy count whether published or not. Differentially private like every noisy
    /// value, so sums of it (roll-ups) are free post-processing; but below k it is kept
    /// operator-side and never written to a release.
    pub noisy: i64,
}

/// Noises every cell of `counts` (the whole public domain, zeros included) with a discrete
/// Gaussian of variance parameter `sigma2`, and suppresses noisy values below `k` (k ≥ 1, so
/// a negative value is never published). Thresholding the noisy value is post-processing: it
/// costs no privacy.
pub fn protect<R: RngCore + CryptoRng>(
    counts: &[u64],
    sigma2: &Ratio,
    k: u32,
    rng: &mut R,
) -> Result<Vec<ProtectedCell>, SamplerError> {
    if k == 0 {
        return Err(SamplerError::BadScale(
            "k must be at least 1: a negative or zero count is never published".into(),
        ));
    }
    let noisy = draw(counts, sigma2, &[], rng)?;
    Ok(threshold(&noisy, sigma2, &[], i64::from(k)))
}

/// The noisy values of `counts`: cell i plus a discrete Gaussian of variance parameter
/// `sigma2`·`scales[i]`² (scale 1 where `scales` is empty). This is the mechanism; what
/// follows from its output is post-processing.
pub fn draw<R: RngCore + CryptoRng>(
    counts: &[u64],
    sigma2: &Ratio,
    scales: &[u64],
    rng: &mut R,
) -> Result<Vec<i64>, SamplerError> {
    let unit = DiscreteGaussian::new(sigma2)?;
    let mut scaled: Vec<(u64, DiscreteGaussian)> = Vec::new();
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let scale = scales.get(i).copied().unwrap_or(1);
            let z = if scale == 1 {
                unit.sample(rng)
            } else {
                if !scaled.iter().any(|(s, _)| *s == scale) {
                    let s2 = Ratio::new(sigma2.num() * scale * scale, sigma2.den().clone())?;
                    scaled.push((scale, DiscreteGaussian::new(&s2)?));
                }
                let g = &scaled
                    .iter()
                    .find(|(s, _)| *s == scale)
                    .expect("just made")
                    .1;
                g.sample(rng)
            };
            let z = z.to_i64().ok_or_else(|| {
                SamplerError::BadScale("noise beyond the 64-bit range (σ far too large)".into())
            })?;
            Ok(i64::try_from(c).unwrap_or(i64::MAX).saturating_add(z))
        })
        .collect()
}

/// The protected cells of noisy values: suppressed below `threshold` (at least 1, so a
/// negative or zero value is never published). Post-processing: it costs no privacy.
pub fn threshold(
    noisy: &[i64],
    sigma2: &Ratio,
    scales: &[u64],
    threshold: i64,
) -> Vec<ProtectedCell> {
    let sd = sigma2.to_f64().sqrt();
    let threshold = threshold.max(1);
    noisy
        .iter()
        .enumerate()
        .map(|(i, &noisy)| {
            let suppressed = noisy < threshold;
            ProtectedCell {
                subscribers: (!suppressed).then_some(noisy),
                noise_sd: sd * scales.get(i).copied().unwrap_or(1) as f64,
                suppressed,
                noisy,
            }
        })
        .collect()
}
