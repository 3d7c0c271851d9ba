//! Run-local SIM numbers: each distinct pseudonym of an ingest run gets a 32-bit number, so an
//! accepted event carries 4 bytes for its SIM instead of 16 and daily presence groups on an
//! integer. The numbers mean nothing outside the run; the presence store holds pseudonyms.

use std::sync::Mutex;

use crate::Pseudonym;
use foldhash::HashMap;

/// Lock shards: threads that meet new SIMs at the same moment rarely wait for each other.
const SHARDS: usize = 64;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// The number of a SIM within one ingest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SimNumber(pub u32);

/// Too many distinct SIMs for 32-bit numbers (about 4 billion).
#[derive(Debug, Clone, thiserror::Error)]
#[error("more than {} distinct SIMs in one ingest run", u32::MAX)]
pub struct TooManySims;

#[derive(Debug, Default)]
struct Shard {
    numbers: HashMap<Pseudonym, u32>,
    pseudonyms: Vec<Pseudonym>,
}

/// Numbers the distinct pseudonyms of a run, from any thread; maps numbers back to pseudonyms.
/// Each reading thread asks once per distinct id it meets (its validator caches the answer).
#[derive(Debug)]
pub struct SimRegistry {
    shards: Vec<Mutex<Shard>>,
}

impl Default for SimRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl SimRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// The number of `p`, given now if `p` is new.
    pub fn number(&self, p: Pseudonym) -> Result<SimNumber, TooManySims> {
        let s = usize::from(p.0[0]) % SHARDS;
        let mut shard = self.shards[s].lock().expect("not poisoned");
        if let Some(n) = shard.numbers.get(&p) {
            return Ok(SimNumber(*n));
        }
        let local = u32::try_from(shard.pseudonyms.len()).map_err(|_| TooManySims)?;
        if local >= 1 << (32 - SHARD_BITS) {
            return Err(TooManySims);
        }
        let n = local << SHARD_BITS | s as u32;
        shard.pseudonyms.push(p);
        shard.numbers.insert(p, n);
        Ok(SimNumber(n))
    }

    /// The pseudonym numbered `n` (one lock; [`Self::snapshot`] reads many without).
    pub fn pseudonym(&self, n: SimNumber) -> Pseudonym {
        let shard = self.shards[(n.0 as usize) % SHARDS]
            .lock()
            .expect("not poisoned");
        shard.pseudonyms[(n.0 >> SHARD_BITS) as usize]
    }

    /// Every pseudonym by number, for reading without locks once numbering is over.
    pub fn snapshot(&self) -> PseudonymsByNumber {
        PseudonymsByNumber {
            shards: self
                .shards
                .iter()
                .map(|s| s.lock().expect("not poisoned").pseudonyms.clone())
                .collect(),
        }
    }
}

/// What maps a run's SIM numbers back to pseudonyms: a [`SimRegistry`] while numbering goes
/// on, a [`PseudonymsByNumber`] once it is over.
pub trait PseudonymOf {
    /// The pseudonym numbered `n`.
    fn pseudonym_of(&self, n: SimNumber) -> Pseudonym;
}

impl PseudonymOf for SimRegistry {
    fn pseudonym_of(&self, n: SimNumber) -> Pseudonym {
        self.pseudonym(n)
    }
}

impl PseudonymOf for PseudonymsByNumber {
    fn pseudonym_of(&self, n: SimNumber) -> Pseudonym {
        self.get(n)
    }
}

/// A read-only copy of a registry's numbering.
#[derive(Debug, Clone)]
pub struct PseudonymsByNumber {
    shards: Vec<Vec<Pseudonym>>,
}

impl PseudonymsByNumber {
    /// The pseudonym numbered `n`.
    pub fn get(&self, n: SimNumber) -> Pseudonym {
        self.shards[(n.0 as usize) % SHARDS][(n.0 >> SHARD_BITS) as usize]
    }

    /// Every number given and its pseudonym, in no particular order.
    pub fn numbered(&self) -> impl Iterator<Item = (SimNumber, Pseudonym)> + '_ {
        self.shards.iter().enumerate().flat_map(|(s, pseudonyms)| {
            pseudonyms
                .iter()
                .enumerate()
                .map(move |(local, p)| (SimNumber((local as u32) << SHARD_BITS | s as u32), *p))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_number_per_pseudonym_and_back() {
        let r = SimRegistry::new();
        let ps: Vec<Pseudonym> = (0..1000u32)
            .map(|i| {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&i.to_le_bytes());
                b[15] = 7;
                Pseudonym(b)
            })
            .collect();
        let ns: Vec<SimNumber> = ps.iter().map(|p| r.number(*p).unwrap()).collect();
        let again: Vec<SimNumber> = ps.iter().map(|p| r.number(*p).unwrap()).collect();
        assert_eq!(ns, again);
        let mut distinct = ns.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 1000);
        let snap = r.snapshot();
        for (p, n) in ps.iter().zip(&ns) {
            assert_eq!(snap.get(*n), *p);
            assert_eq!(r.pseudonym(*n), *p);
        }
        let mut listed: Vec<(SimNumber, Pseudonym)> = snap.numbered().collect();
        listed.sort_by_key(|(n, _)| *n);
        let mut given: Vec<(SimNumber, Pseudonym)> = ns.iter().copied().zip(ps).collect();
        given.sort_by_key(|(n, _)| *n);
        assert_eq!(listed, given);
    }
}
