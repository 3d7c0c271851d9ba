//! # borderflow
//!
//! The command-line front of borderflow: each subcommand is a thin shell over a library
//! crate, so everything it does can also be done, and tested, from Rust.
//!
//! Exit status: 0 on success; otherwise one line `error: …` on stderr and a status that says
//! what kind of failure it was (2 configuration, 3 input, 4 over budget, 5 another run holds
//! the state, 6 the state or release directory, 1 a defect; see [`exit`]). Nothing in an error
//! names a raw subscriber id or the key.

mod bench;
mod budget;
mod classify;
mod completions;
mod deliveries;
mod demo;
mod evaluate;
mod exit;
mod generate;
mod ingest;
mod keygen;
mod manual;
mod mirror;
mod partnership;
mod progress;
mod publish;
mod refdata;
mod run;
mod sdmx;
mod series;
mod summary;
mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// mimalloc instead of the system allocator: DataFusion's many small allocations from parallel
/// threads contend on glibc malloc's locks (seen in profiles of `ingest`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Official statistics on cross-border mobility and labour migration from mobile-operator
/// records, pseudonymised at ingest and protected by differential privacy.
#[derive(Debug, Parser)]
#[command(name = "borderflow", version, about, long_about = None, after_help = EXIT_STATUSES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole product on a synthetic world into ./demo-out (needs nothing else).
    Demo(demo::Args),
    /// One scheduled run: ingest → classify → protect → publish for one period.
    #[command(after_help = EXIT_STATUSES)]
    Run(run::Args),
    /// Generate a synthetic world (events in CSV and Parquet, plus ground truth).
    Generate(generate::Args),
    /// Read operator files into the pseudonymised daily presence store.
    Ingest(ingest::Args),
    /// List the deliveries in the presence store, or take a wrong one out (--remove ID).
    Deliveries(deliveries::Args),
    /// Measure the whole run against a reference job over input shapes (or `bench stages`).
    Bench(bench::Args),
    /// Show the privacy budget: spent and remaining per year, in ρ and (ε, δ), and releases.
    Budget(budget::Args),
    /// Classify a world whose truth is known and print the confusion matrix against it.
    Evaluate(evaluate::Args),
    /// Classify every SIM in the presence store for a reference period (kept operator-side).
    Classify(classify::Args),
    /// Protect a classified period (noise, threshold, budget) and publish its tables.
    Publish(publish::Args),
    /// Check a pipeline, its inputs, key and state before scheduling it (writes nothing).
    #[command(after_help = EXIT_STATUSES)]
    Validate(validate::Args),
    /// Create a new 32-byte pseudonymisation key file, readable by its owner only.
    Keygen(keygen::Args),
    /// Look up, check or export the code lists (countries, PLMNs, calling codes, groupings).
    Refdata(refdata::Args),
    /// Stack one table over every published period of a dataset (Parquet, CSV or SDMX-CSV).
    Series(series::Args),
    /// Export a published release's noisy cells for a partnership's statistics office.
    Export(partnership::ExportArgs),
    /// Combine operators' partner exports into one national release (statistics office).
    Combine(partnership::CombineArgs),
    /// Lay two countries' releases of one period side by side (mirror statistics, HTML page).
    Mirror(mirror::Args),
    /// SDMX: write the structure message (DSDs, code lists) of a pipeline's releases.
    Sdmx(sdmx::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(completions::Args),
    /// Write the manual pages (borderflow.1 and one per subcommand) into a directory.
    Man(manual::Args),
}

/// The exit statuses, as `--help` shows them (docs/operations.md has what to do on each).
const EXIT_STATUSES: &str = "\
Exit status:
  0  published, or already published (nothing read, noised or spent)
  1  internal error (a defect: report it)
  2  configuration: the pipeline file, a --set, the command line, the key
  3  input: a file missing, unreadable, malformed or without a usable row
  4  over budget: the ledger refuses the release; nothing published or spent
  5  busy: another run holds the state directory; nothing changed, retry later
  6  state: the state or release directory cannot be read or written";

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_e`, the same in mimalloc v2 and
/// in v3, the version the `mimalloc` crate builds).
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// Bytes of free memory the C library's allocator keeps at the top of its heaps instead of
/// returning them to the OS, and the size from which it maps an allocation on its own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const C_HEAP_KEEP_BYTES: libc::c_int = 64 << 20;

/// Keeps the memory of the C library's allocator for reuse. Only C code allocates there: zstd
/// makes a compression and a decompression context of a few hundred KiB for every column chunk
/// the Parquet crate reads or writes in zstd (the input's, the facts' and the release's; the
/// presence store's files use no codec since docs/performance.md's "store written with
/// Parquet's encodings"), and glibc's defaults returned each one to the OS when it was freed,
/// so the next one faulted and zeroed its pages again: 36,700 page faults in a run of 5 M
/// events when the store was zstd too, 3,500 with this.
fn keep_c_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets process-wide options of the C allocator before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, C_HEAP_KEEP_BYTES);
        libc::mallopt(libc::M_MMAP_THRESHOLD, C_HEAP_KEEP_BYTES / 2);
    }
}

fn main() -> ExitCode {
    // Memory freed by one stage step is soon needed by the next: returning it to the OS after
    // the default 10 ms (or even 1 s) made ingest fault and zero the same pages again and again
    // (15–30% of its time in profiles, 2.5 s → 1.9 s on 10 M events). Ten seconds keeps it for
    // reuse within a run and still returns it when a long job idles; peak memory is unchanged.
    // SAFETY: sets a process-wide option of the allocator before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
    keep_c_heap();
    // Output piped into `head` or `grep -q` ends quietly when the reader leaves, as Unix tools
    // do, instead of a panic about a broken pipe (Rust ignores SIGPIPE by default).
    // SAFETY: restores the default action of one signal before any other thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL)
    };
    // Everything written under the state directory holds pseudonyms or exact counts: it is
    // created readable by its owner only, whatever the user's umask. What is published (a
    // release, its index, a series) is opened to everyone explicitly where it is written.
    // SAFETY: sets the process's file-creation mask before any other thread exists.
    #[cfg(unix)]
    unsafe {
        libc::umask(0o077)
    };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Run(args) => run::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Deliveries(args) => deliveries::run(args),
        Command::Classify(args) => classify::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Budget(args) => budget::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Publish(args) => publish::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Export(args) => partnership::export(args),
        Command::Combine(args) => partnership::combine(args),
        Command::Mirror(args) => mirror::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Refdata(args) => refdata::run(args),
        Command::Sdmx(args) => sdmx::run(args),
        Command::Series(args) => series::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => manual::run(args, Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", exit::one_line(&e));
            ExitCode::from(exit::failure_of(&e).exit_code())
        }
    }
}
