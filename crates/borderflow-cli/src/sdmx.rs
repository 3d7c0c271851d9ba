//! `borderflow sdmx structures`: the SDMX-ML 3.0 structure message of a pipeline's releases —
//! the same file every release carries as `structure.sdmx.xml` — written before any run, so a
//! registry can be loaded with the dataflows, data structure definitions and code lists
//! first.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use borderflow_pipeline::Pipeline;
use borderflow_refdata::RefData;
use borderflow_release::sdmx::{STRUCTURE_FILE, structure_message};
use borderflow_release::{STRUCTURES, SdmxCodes};

/// Arguments of `borderflow sdmx`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write the structure message (dataflows, DSDs, concept scheme, code lists) of a
    /// pipeline's releases, with its `[sdmx]` agency, version and dataflow ids.
    Structures {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Override a pipeline setting, e.g. --set sdmx.agency=KNBS (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Where to write it (never overwriting); `-` or nothing: standard output.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs `borderflow sdmx`.
pub fn run(args: Args) -> Result<()> {
    let Command::Structures {
        pipeline,
        sets,
        out,
    } = args.command;
    let p = Pipeline::load(&pipeline, &sets)?;
    let rd = RefData::load(&p.refdata)?;
    let prepared = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let xml = structure_message(&p.sdmx, &SdmxCodes::new(&rd), &STRUCTURES, &prepared, false);
    match out {
        Some(path) if path.as_os_str() != "-" => {
            if path.exists() {
                bail!(
                    "{}: already exists; remove it or choose another --out (a release carries it as {STRUCTURE_FILE})",
                    path.display()
                );
            }
            borderflow_release::write::write_file(&path, xml.as_bytes())
                .with_context(|| format!("{}: cannot write", path.display()))?;
            // Structures are published before any release: readable by everyone.
            borderflow_core::make_public(&path)?;
            println!(
                "wrote {} ({} dataflows, agency {}, version {})",
                path.display(),
                STRUCTURES.len(),
                p.sdmx.agency,
                p.sdmx.version
            );
        }
        _ => print!("{xml}"),
    }
    Ok(())
}
