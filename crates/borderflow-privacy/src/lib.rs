//! # borderflow-privacy
//!
//! The privacy engine's foundations (docs/design.md §7): exact integer samplers for the discrete
//! Laplace and discrete Gaussian mechanisms, and the source of their randomness.
//!
//! - [`sampler`]: Bernoulli, Bernoulli(exp(−γ)), discrete Laplace and discrete Gaussian after
//!   Canonne, Kamath and Steinke (2020), in exact rational arithmetic with no floating point.
//! - [`accountant`]: ρ-zCDP costs (σ² = Δ²/2ρ, exact), composition, and (ε, δ) for display.
//! - [`ledger`]: the SQLite release ledger of a store: budgets per calendar year of data,
//!   reserve → sampled → published, refusal over budget, no refund once noise is drawn, noisy
//!   values kept and reused, test stores apart from production ones.
//! - [`plan`]: the `[privacy]` settings and the [`ReleasePlan`] drawn from them: each table's
//!   sensitivity Δ² under the unit of privacy (one SIM's data in one calendar year), exact
//!   cost ρ, noise σ and threshold max(k, τ) bounding phantom cells.
//! - [`protect`](mod@protect): the mechanism on a table: noise on every cell, then the threshold k on
//!   noisy values.
//! - [`NoiseSource`]: a ChaCha20 CSPRNG seeded from the operating system. A fixed seed exists
//!   only as an explicit test mode, and a source made that way says it is not for publication,
//!   so a release made with it can be marked NOT FOR PUBLICATION.
//!
//! Why these are written here rather than taken from a crate is in docs/privacy.md.
//!
//! ```
//! use borderflow_privacy::{DiscreteGaussian, NoiseSource, Ratio};
//!
//! // σ² = 5 (ρ = 0.1 for a table of sensitivity 1), from a test seed: never for publication.
//! let mut noise = NoiseSource::seeded_for_tests(1);
//! assert!(!noise.for_publication());
//! let gaussian = DiscreteGaussian::new(&Ratio::from_decimal("5").unwrap()).unwrap();
//! let draws: Vec<i64> = (0..2000)
//!     .map(|_| i64::try_from(gaussian.sample(&mut noise)).unwrap())
//!     .collect();
//! let mean = draws.iter().sum::<i64>() as f64 / 2000.0;
//! assert!(mean.abs() < 0.5, "centred on zero: {mean}");
//! ```

pub mod accountant;
pub mod ledger;
pub mod plan;
pub mod protect;
pub mod sampler;

pub use ledger::{
    Charge, Ledger, LedgerError, ReleaseRecord, ReleaseRequest, Reservation, ReservedTable, Status,
    StoreKind, TableRequest,
};
pub use plan::{DomainSizes, PrivacyConfig, ReleasePlan, Span, TableNoise, TablePlan, Threshold};
pub use protect::{ProtectedCell, draw, protect, threshold};
pub use sampler::{DiscreteGaussian, DiscreteLaplace, Ratio, SamplerError};

use rand::{CryptoRng, RngCore, SeedableRng, TryRngCore};
use rand_chacha::ChaCha20Rng;

/// Where noise comes from: the operating system's entropy (for publication) or a fixed seed
/// (tests only; whatever it noises is not for publication).
pub struct NoiseSource {
    rng: ChaCha20Rng,
    seed: Option<u64>,
}

impl NoiseSource {
    /// A ChaCha20 generator keyed with 32 bytes from the operating system.
    pub fn from_os() -> Result<Self, rand::rand_core::OsError> {
        let mut key = [0u8; 32];
        rand::rand_core::OsRng.try_fill_bytes(&mut key)?;
        Ok(Self {
            rng: ChaCha20Rng::from_seed(key),
            seed: None,
        })
    }

    /// A generator from a fixed seed, for reproducible tests. Output noised with it must never
    /// be published: [`NoiseSource::for_publication`] is false.
    pub fn seeded_for_tests(seed: u64) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
            seed: Some(seed),
        }
    }

    /// Whether noise from this source may be published (it came from the OS).
    pub fn for_publication(&self) -> bool {
        self.seed.is_none()
    }

    /// The test seed, if this is a test source.
    pub fn test_seed(&self) -> Option<u64> {
        self.seed
    }
}

impl RngCore for NoiseSource {
    fn next_u32(&mut self) -> u32 {
        self.rng.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.rng.fill_bytes(dst)
    }
}

impl CryptoRng for NoiseSource {}
