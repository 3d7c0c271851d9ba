//! A whole process measured from outside: wall time, CPU time and peak resident memory, as
//! the kernel accounts them (`wait4`), with what it printed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// What one process cost.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Cost {
    /// Wall seconds from spawn to exit.
    pub wall_s: f64,
    /// User and system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set size in MiB.
    pub peak_mib: f64,
}

/// A finished process: its cost and standard output.
pub(super) struct Finished {
    pub cost: Cost,
    pub stdout: String,
}

/// Arguments of `borderflow bench measure` (hidden): runs a program and writes its cost.
#[derive(Debug, clap::Args)]
pub struct MeasureArgs {
    /// Where to write the cost, as JSON.
    #[arg(long)]
    cost_file: PathBuf,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

/// Runs `program` with `args` to its end and measures it; a non-zero exit is an error that
/// gives its exit code and quotes the last line it wrote on standard error.
///
/// Linux counts in a process's peak memory that of the process it was started from, up to
/// its `exec` — a bench that has generated a world would lend its peak to every program it
/// starts. So each program is started by a fresh, small `borderflow bench measure`, which
/// waits for it and writes what it cost.
pub(super) fn measure(program: &Path, args: &[OsString], what: &str) -> Result<Finished> {
    let cost_file = tempfile::NamedTempFile::new()?;
    let exe = std::env::current_exe().context("cannot find the borderflow binary")?;
    let output = Command::new(exe)
        .args(["bench", "measure", "--cost-file"])
        .arg(cost_file.path())
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        let code = output
            .status
            .code()
            .map_or("killed".to_string(), |c| format!("exit code {c}"));
        bail!("{what} failed ({code}): {last}");
    }
    let text = std::fs::read_to_string(cost_file.path())?;
    let cost = serde_json::from_str(&text).context("the cost of a measured program")?;
    Ok(Finished { cost, stdout })
}

/// `borderflow bench measure`: runs the program with this process's standard streams, waits
/// for it with `wait4`, writes its cost, and exits with its exit code, adding nothing to its
/// standard error (so that the program's own last line, its error, is the one quoted); a
/// program killed by a signal is an error naming the signal.
pub fn run_measured(args: MeasureArgs) -> Result<()> {
    let (program, rest) = args
        .command
        .split_first()
        .context("no program to measure")?;
    let started = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("cannot start {}", Path::new(program).display()))?;
    let mut status = 0;
    // SAFETY: `rusage` is plain old data, and zero is a valid value of each field.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the two locals above.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall_s = started.elapsed().as_secs_f64();
    if pid < 0 {
        bail!(
            "waiting for the measured program: {}",
            std::io::Error::last_os_error()
        );
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cost = Cost {
        wall_s,
        cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        // Linux gives ru_maxrss in KiB.
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
    };
    std::fs::write(&args.cost_file, serde_json::to_string(&cost)?)?;
    if libc::WIFSIGNALED(status) {
        bail!(
            "the measured program was killed by signal {}",
            libc::WTERMSIG(status)
        );
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        code => std::process::exit(code),
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
pub(super) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
