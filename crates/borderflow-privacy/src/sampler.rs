//! Exact samplers over the integers: Bernoulli(p) and Bernoulli(exp(−γ)) for rational p and
//! γ, the discrete Laplace and the discrete Gaussian, after Canonne, Kamath and Steinke, "The
//! Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1–3.
//!
//! Every step is integer arithmetic on arbitrary-precision numbers and uniform integer draws
//! from a cryptographically secure generator: no floating point anywhere in the sampling path,
//! so the output distribution is exactly the one the privacy analysis assumes (floating-point
//! samplers leak through their rounding, Mironov 2012).

use num_bigint::{BigInt, BigUint};
use num_integer::Integer;
use num_traits::{One, Zero};
use rand::{CryptoRng, RngCore};

/// Why a sampler cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamplerError {
    /// A rational with a zero denominator, or a value that is not a decimal number.
    #[error("{0}")]
    BadRational(String),
    /// A scale outside what the samplers accept.
    #[error("{0}")]
    BadScale(String),
}

/// A non-negative rational `num / den` (den > 0), kept exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: BigUint,
    den: BigUint,
}

impl Ratio {
    /// `num / den`, reduced. Refuses a zero denominator.
    pub fn new(num: impl Into<BigUint>, den: impl Into<BigUint>) -> Result<Self, SamplerError> {
        let (num, den) = (num.into(), den.into());
        if den.is_zero() {
            return Err(SamplerError::BadRational("zero denominator".into()));
        }
        let g = num.gcd(&den);
        if g.is_zero() {
            return Ok(Self {
                num,
                den: BigUint::one(),
            });
        }
        Ok(Self {
            num: &num / &g,
            den: &den / &g,
        })
    }

    /// The exact value of a non-negative decimal such as `0.25`, `4` or `1e-3`. Configuration
    /// values are decimals, and their exact value (not a binary approximation) is what the
    /// ledger records and the samplers use.
    pub fn from_decimal(text: &str) -> Result<Self, SamplerError> {
        let bad = || SamplerError::BadRational(format!("{text:?} is not a non-negative decimal"));
        let t = text.trim();
        let (mantissa, exponent) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (t, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let digits: BigUint = format!("{int}{frac}").parse().map_err(|_| bad())?;
        let scale = exponent - frac.len() as i32;
        if scale.unsigned_abs() > 400 {
            return Err(bad());
        }
        let ten = BigUint::from(10u32);
        if scale >= 0 {
            Self::new(digits * ten.pow(scale as u32), 1u32)
        } else {
            Self::new(digits, ten.pow(scale.unsigned_abs()))
        }
    }

    /// Numerator.
    pub fn num(&self) -> &BigUint {
        &self.num
    }

    /// Denominator.
    pub fn den(&self) -> &BigUint {
        &self.den
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.num.is_zero()
    }

    /// The sum of two rationals.
    pub fn add(&self, other: &Ratio) -> Ratio {
        Ratio::new(
            &self.num * &other.den + &other.num * &self.den,
            &self.den * &other.den,
        )
        .expect("product of non-zero denominators")
    }

    /// `self − other`, or `None` when that would be negative.
    pub fn checked_sub(&self, other: &Ratio) -> Option<Ratio> {
        let (a, b) = (&self.num * &other.den, &other.num * &self.den);
        (a >= b).then(|| Ratio::new(a - b, &self.den * &other.den).expect("non-zero"))
    }

    /// The value as `num/den` text (exact; what the ledger stores).
    pub fn to_fraction(&self) -> String {
        format!("{}/{}", self.num, self.den)
    }

    /// Reads `num/den` (or a decimal) text back.
    pub fn from_fraction(text: &str) -> Result<Self, SamplerError> {
        match text.split_once('/') {
            Some((n, d)) => {
                let parse = |x: &str| {
                    x.trim().parse::<BigUint>().map_err(|_| {
                        SamplerError::BadRational(format!("{text:?} is not a fraction"))
                    })
                };
                Self::new(parse(n)?, parse(d)?)
            }
            None => Self::from_decimal(text),
        }
    }

    /// The value as a float, for display and tests only (never for sampling).
    pub fn to_f64(&self) -> f64 {
        // Shift both to at most 64 significant bits so the division keeps full precision.
        let shift = self.num.bits().max(self.den.bits()).saturating_sub(64);
        let n = (&self.num >> shift)
            .to_string()
            .parse::<f64>()
            .unwrap_or(f64::INFINITY);
        let d = (&self.den >> shift)
            .to_string()
            .parse::<f64>()
            .unwrap_or(f64::INFINITY);
        n / d
    }
}

/// A uniform integer in `0..n` (n > 0), by rejection from random bits: exactly uniform.
pub fn uniform_below<R: RngCore + CryptoRng>(rng: &mut R, n: &BigUint) -> BigUint {
    debug_assert!(!n.is_zero());
    if let Ok(small) = u64::try_from(n) {
        return BigUint::from(uniform_below_u64(rng, small));
    }
    let bits = n.bits();
    let bytes = bits.div_ceil(8) as usize;
    let excess = (bytes as u64 * 8 - bits) as u32;
    let mut buf = vec![0u8; bytes];
    loop {
        rng.fill_bytes(&mut buf);
        buf[0] &= 0xff >> excess;
        let x = BigUint::from_bytes_be(&buf);
        if &x < n {
            return x;
        }
    }
}

fn uniform_below_u64<R: RngCore>(rng: &mut R, n: u64) -> u64 {
    // Rejection of the incomplete last block of 2^64: exactly uniform.
    let zone = u64::MAX - (u64::MAX - n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// Bernoulli(num / den), 0 ≤ num ≤ den.
pub fn bernoulli<R: RngCore + CryptoRng>(rng: &mut R, num: &BigUint, den: &BigUint) -> bool {
    &uniform_below(rng, den) < num
}

/// Bernoulli(exp(−γ)) for a rational γ = num/den ≥ 0 (CKS 2020, Algorithm 1).
pub fn bernoulli_exp<R: RngCore + CryptoRng>(rng: &mut R, num: &BigUint, den: &BigUint) -> bool {
    if num <= den {
        // γ ≤ 1: K counts successes of Bernoulli(γ/k); exp(−γ) = P(K odd).
        let mut k = BigUint::one();
        loop {
            if !bernoulli(rng, num, &(den * &k)) {
                break;
            }
            k += 1u32;
        }
        k.is_odd()
    } else {
        // γ > 1: exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋)).
        let (whole, rest) = num.div_rem(den);
        let one = BigUint::one();
        let mut i = BigUint::zero();
        while i < whole {
            if !bernoulli_exp(rng, &one, &one) {
                return false;
            }
            i += 1u32;
        }
        bernoulli_exp(rng, &rest, den)
    }
}

/// The discrete Laplace distribution on the integers, P(x) ∝ exp(−|x| / scale), for a
/// rational scale > 0 (CKS 2020, Algorithm 2).
#[derive(Debug, Clone)]
pub struct DiscreteLaplace {
    /// scale = t / s.
    t: BigUint,
    s: BigUint,
}

impl DiscreteLaplace {
    /// A sampler of scale `scale` (> 0).
    pub fn new(scale: &Ratio) -> Result<Self, SamplerError> {
        if scale.is_zero() {
            return Err(SamplerError::BadScale(
                "the discrete Laplace needs a scale above 0".into(),
            ));
        }
        Ok(Self {
            t: scale.num.clone(),
            s: scale.den.clone(),
        })
    }

    /// One draw.
    pub fn sample<R: RngCore + CryptoRng>(&self, rng: &mut R) -> BigInt {
        let one = BigUint::one();
        loop {
            let u = uniform_below(rng, &self.t);
            if !bernoulli_exp(rng, &u, &self.t) {
                continue;
            }
            let mut v = BigUint::zero();
            while bernoulli_exp(rng, &one, &one) {
                v += 1u32;
            }
            let x = u + &self.t * v;
            let y = x / &self.s;
            let negative = bernoulli(rng, &one, &BigUint::from(2u32));
            if negative && y.is_zero() {
                continue;
            }
            let y = BigInt::from(y);
            return if negative { -y } else { y };
        }
    }
}

/// The discrete Gaussian on the integers, P(x) ∝ exp(−x² / 2σ²), for a rational variance
/// parameter σ² ≥ 0 (CKS 2020, Algorithm 3). σ² = 0 always gives 0.
#[derive(Debug, Clone)]
pub struct DiscreteGaussian {
    /// σ² = a / b.
    a: BigUint,
    b: BigUint,
    /// ⌊σ⌋ + 1, the scale of the Laplace proposal.
    t: BigUint,
    proposal: Option<DiscreteLaplace>,
}

impl DiscreteGaussian {
    /// A sampler with variance parameter `sigma2` (= σ²).
    pub fn new(sigma2: &Ratio) -> Result<Self, SamplerError> {
        let (a, b) = (sigma2.num.clone(), sigma2.den.clone());
        // ⌊σ⌋ = ⌊√⌊a/b⌋⌋ (the floor of a square root only depends on the integer part).
        let t = (&a / &b).sqrt() + 1u32;
        let proposal = if a.is_zero() {
            None
        } else {
            Some(DiscreteLaplace::new(&Ratio::new(t.clone(), 1u32)?)?)
        };
        Ok(Self { a, b, t, proposal })
    }

    /// One draw.
    pub fn sample<R: RngCore + CryptoRng>(&self, rng: &mut R) -> BigInt {
        let Some(proposal) = &self.proposal else {
            return BigInt::zero();
        };
        // Accept Y with probability exp(−(|Y| − σ²/t)² / 2σ²); with σ² = a/b this is
        // exp(−(|Y|·b·t − a)² / (2·a·b·t²)), integers throughout.
        let den = BigUint::from(2u32) * &self.a * &self.b * &self.t * &self.t;
        loop {
            let y = proposal.sample(rng);
            let abs = y.magnitude() * &self.b * &self.t;
            let diff = if abs >= self.a {
                &abs - &self.a
            } else {
                &self.a - &abs
            };
            if bernoulli_exp(rng, &(&diff * &diff), &den) {
                return y;
            }
        }
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.num * &other.den).cmp(&(&other.num * &self.den))
    }
}

impl borderflow_core::FailureKind for SamplerError {
    /// A noise scale the privacy settings make unusable.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::Config
    }
}
