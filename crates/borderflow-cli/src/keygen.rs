//! `borderflow keygen`: a fresh pseudonymisation key in a new owner-only file.

use std::path::PathBuf;

use anyhow::Result;
use borderflow_pseudo::PseudonymKey;

/// Arguments of `borderflow keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the key (32 random bytes, mode 0600). An existing file is never
    /// overwritten: pseudonyms made with a lost key can no longer be linked.
    path: PathBuf,
}

/// Writes the key and prints its fingerprint (never the key).
pub fn run(args: Args) -> Result<()> {
    let key = PseudonymKey::generate()?;
    key.write_new(&args.path)?;
    println!(
        "wrote key {} (fingerprint {}); keep it at least as long as the look-back window",
        args.path.display(),
        key.fingerprint()
    );
    Ok(())
}
