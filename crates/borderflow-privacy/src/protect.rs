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
    let gaussian = DiscreteGaussian::new(sigma2)?;
    let noise_sd = sigma2.to_f64().sqrt();
    counts
        .iter()
        .map(|&c| {
            let z = gaussian.sample(rng).to_i64().ok_or_else(|| {
                SamplerError::BadScale("noise beyond the 64-bit range (σ far too large)".into())
            })?;
            let noisy = i64::try_from(c).unwrap_or(i64::MAX).saturating_add(z);
            let suppressed = noisy < i64::from(k);
            Ok(ProtectedCell {
                subscribers: (!suppressed).then_some(noisy),
                noise_sd,
                suppressed,
                noisy,
            })
        })
        .collect()
}
