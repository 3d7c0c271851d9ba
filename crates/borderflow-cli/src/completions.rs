//! `borderflow completions SHELL`: the shell completion script, generated from the same clap
//! definition as the program itself, so it never falls behind a new option.

use anyhow::Result;
use clap_complete::Shell;

/// Arguments of `borderflow completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install, for example:
  bash:  borderflow completions bash > ~/.local/share/bash-completion/completions/borderflow
  zsh:   borderflow completions zsh > ~/.zfunc/_borderflow   (with fpath+=~/.zfunc)
  fish:  borderflow completions fish > ~/.config/fish/completions/borderflow.fish")]
pub struct Args {
    /// The shell to complete in.
    shell: Shell,
}

/// Writes the script for `args.shell` to stdout.
pub fn run(args: Args, mut command: clap::Command) -> Result<()> {
    clap_complete::generate(
        args.shell,
        &mut command,
        "borderflow",
        &mut std::io::stdout(),
    );
    Ok(())
}
