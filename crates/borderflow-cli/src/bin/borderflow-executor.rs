//! `borderflow-executor`: the processes of a Ballista cluster that runs borderflow's heavy
//! stages — `borderflow-executor scheduler` and `borderflow-executor executor` — each with
//! borderflow's functions registered. A pipeline reaches the cluster with
//! `[engine] kind = "ballista", scheduler = "df://host:port"`; docs/scale-out.md shows a
//! deployment.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use borderflow_cluster::{
    DEFAULT_SCHEDULER_PORT, ExecutorOptions, SchedulerOptions, serve_executor, serve_scheduler,
};
use clap::{Parser, Subcommand};

/// Processes of a Ballista cluster for borderflow.
#[derive(Debug, Parser)]
#[command(name = "borderflow-executor", version, about)]
struct Cli {
    #[command(subcommand)]
    process: Process,
}

#[derive(Debug, Subcommand)]
enum Process {
    /// A scheduler: plans the jobs a pipeline sends and hands their tasks to executors.
    Scheduler {
        /// IP address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// Port to listen on (the pipeline's `engine.scheduler` names it).
        #[arg(long, default_value_t = DEFAULT_SCHEDULER_PORT)]
        port: u16,
        /// Name executors and drivers reach it by, when not its bind address.
        #[arg(long)]
        external_host: Option<String>,
        /// Seconds without a heartbeat after which an executor is lost and its tasks are
        /// run elsewhere; longer than the executors' --heartbeat-interval-seconds.
        #[arg(long, default_value_t = 180)]
        executor_timeout_seconds: u64,
        /// Seconds between checks for lost executors.
        #[arg(long, default_value_t = 15)]
        expire_dead_executor_interval_seconds: u64,
    },
    /// An executor: runs tasks, keeps their shuffle files, serves them to other executors.
    Executor {
        /// The scheduler, df://host:port.
        #[arg(long, default_value = "df://127.0.0.1:50050")]
        scheduler: String,
        /// IP address its services bind to.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// Name other processes reach it by, when not its bind address.
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (shuffle data is fetched from it).
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        /// gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (default: one per core).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Directory for shuffle files; they hold pseudonymised rows, so keep it on the
        /// operator's premises (default: a temporary directory).
        #[arg(long)]
        work_dir: Option<String>,
        /// Memory its tasks may use together before they spill, in MiB.
        #[arg(long)]
        memory_limit_mb: Option<u64>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 60)]
        heartbeat_interval_seconds: u64,
        /// The store's pseudonymisation key (owner-only file, as `borderflow keygen` writes
        /// it), for ingest tasks; the environment variable BORDERFLOW_KEY (hex) serves when
        /// no file is given. Without either, the executor refuses ingest tasks and runs the
        /// others.
        #[arg(long)]
        key_file: Option<std::path::PathBuf>,
    },
}

/// Runs the process; a failure (a port in use, an address that is not an IP, the scheduler
/// gone for good) is one line on standard error and exit status 1.
fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.process {
        Process::Scheduler {
            bind_host,
            port,
            external_host,
            executor_timeout_seconds,
            expire_dead_executor_interval_seconds,
        } => {
            let address: SocketAddr = format!("{bind_host}:{port}")
                .parse()
                .with_context(|| format!("--bind-host {bind_host} --port {port}"))?;
            runtime
                .block_on(serve_scheduler(SchedulerOptions {
                    address,
                    external_host,
                    executor_timeout_seconds,
                    expire_dead_executor_interval_seconds,
                }))
                .context("scheduler")?;
        }
        Process::Executor {
            scheduler,
            bind_host,
            external_host,
            flight_port,
            grpc_port,
            concurrent_tasks,
            work_dir,
            memory_limit_mb,
            heartbeat_interval_seconds,
            key_file,
        } => {
            use borderflow_pseudo::{KEY_ENV, PseudonymKey};
            // The key is loaded here, by the executor, and never leaves the process.
            let key = match key_file {
                Some(path) => Some(PseudonymKey::load_file(&path).context("--key-file")?),
                None if std::env::var_os(KEY_ENV).is_some() => {
                    Some(PseudonymKey::load_env(KEY_ENV).context(KEY_ENV)?)
                }
                None => None,
            };
            match &key {
                Some(k) => {
                    tracing::info!(fingerprint = %k.fingerprint(), "pseudonymisation key loaded")
                }
                None => tracing::info!("no pseudonymisation key: ingest tasks will be refused"),
            }
            let concurrent_tasks = concurrent_tasks
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            runtime
                .block_on(serve_executor(ExecutorOptions {
                    scheduler,
                    bind_host,
                    external_host,
                    flight_port,
                    grpc_port,
                    concurrent_tasks,
                    work_dir,
                    memory_bytes: memory_limit_mb.map(|m| m << 20),
                    heartbeat_interval_seconds,
                    key: key.map(std::sync::Arc::new),
                }))
                .context("executor")?;
        }
    }
    Ok(())
}
