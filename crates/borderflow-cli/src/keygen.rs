//! `borderflow keygen`: a fresh pseudonymisation key in a new owner-only file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use borderflow_pseudo::PseudonymKey;

/// Arguments of `borderflow keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the key (32 random bytes, mode 0600; a missing directory is made with
    /// mode 0700). An existing file is never overwritten: pseudonyms made with a lost key can
    /// no longer be linked.
    path: PathBuf,
}

/// Writes the key and prints its fingerprint (never the key). A missing directory for it is
/// made, readable by its owner only, as the key is.
pub fn run(args: Args) -> Result<()> {
    if let Some(dir) = args.path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the key's directory {}", dir.display()))?;
    }
    let key = PseudonymKey::generate()?;
    key.write_new(&args.path)?;
    println!(
        "wrote key {} (fingerprint {}); keep it at least as long as the look-back window",
        args.path.display(),
        key.fingerprint()
    );
    Ok(())
}
