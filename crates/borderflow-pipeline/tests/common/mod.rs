//! Helpers shared by the pipeline's end-to-end tests.

use std::collections::{HashMap, HashSet};

/// The first needle found anywhere in `bytes`, if any. One pass per distinct needle length
/// with a hash set of needles, so thousands of identifiers can be searched in megabytes of
/// output quickly even in a debug build.
pub fn find_any<'a>(bytes: &[u8], needles: &'a [Vec<u8>]) -> Option<&'a [u8]> {
    let mut by_len: HashMap<usize, HashSet<&[u8]>> = HashMap::new();
    for n in needles.iter().filter(|n| !n.is_empty()) {
        by_len.entry(n.len()).or_default().insert(n.as_slice());
    }
    for (len, set) in &by_len {
        if let Some(w) = bytes.windows(*len).find(|w| set.contains(w)) {
            return needles.iter().find(|n| n.as_slice() == w).map(|n| &n[..]);
        }
    }
    None
}

/// Writes the key file `root/key` and a generated world under `root/world`.
pub fn key_and_world(
    root: &std::path::Path,
    key: [u8; 32],
    subscribers: u32,
    seed: u64,
    formats: borderflow_synth::OutputFormats,
) {
    borderflow_pseudo::PseudonymKey::from_bytes(key)
        .write_new(&root.join("key"))
        .unwrap();
    let scenario = borderflow_synth::Scenario {
        subscribers,
        seed,
        ..borderflow_synth::Scenario::default()
    };
    borderflow_synth::generate(
        &scenario,
        &borderflow_refdata::RefData::embedded(),
        &root.join("world"),
        formats,
    )
    .unwrap();
}
