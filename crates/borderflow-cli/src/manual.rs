//! `borderflow man DIR`: the manual pages, generated from the clap definition (options, help
//! text and exit statuses as `--help` shows them): `borderflow.1` for the program and
//! `borderflow-SUBCOMMAND.1` for each subcommand, ready for `/usr/share/man/man1`.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Arguments of `borderflow man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created if missing; pages already there are
    /// replaced).
    dir: PathBuf,
}

/// Writes one page for the program and one per subcommand into `args.dir`.
pub fn run(args: Args, command: clap::Command) -> Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let command = command.version(env!("CARGO_PKG_VERSION"));
    let mut pages = vec![("borderflow".to_string(), command.clone())];
    for sub in command.get_subcommands() {
        let name = format!("borderflow-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut bytes)
            .with_context(|| format!("rendering {name}.1"))?;
        let path = args.dir.join(format!("{name}.1"));
        borderflow_core::write_file_atomic(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
