//! # borderflow-cluster
//!
//! borderflow's heavy stages on an existing distributed engine, Apache DataFusion Ballista
//! (55, paired with the DataFusion 55 the workspace pins), with no scheduler of our own. This
//! crate owns the three places a cluster meets borderflow:
//!
//! - [`remote_session`]: the driver's session, planning against a scheduler at
//!   `df://host:port`, with borderflow's functions registered so its plans name them;
//! - [`serve_scheduler`]: a Ballista scheduler whose sessions know the same functions, so it
//!   can decode and plan what the driver sends;
//! - [`serve_executor`]: a Ballista executor whose function registry holds them, so its tasks
//!   decode and run them.
//!
//! What runs on the executors:
//!
//! - [`ingest`]: the ingest scan, one task per share of the input, validating and
//!   pseudonymising with the executor's own key; the presence reduction runs over it, so
//!   only pseudonymised rows are ever shuffled;
//! - [`functions`]: the classification aggregate ([`borderflow_classify::aggregate`]), so
//!   executors classify each SIM where its rows are, and the tabulation aggregate
//!   ([`borderflow_release::aggregate`]), so they tabulate the facts where they are and only
//!   the exact tables reach the driver.
//!
//! [`codec`] carries the ingest scan across the cluster. Noise, suppression, the ledger and
//! publication never run here: they stay on the driver (docs/scale-out.md says why).
//!
//! Nothing secret crosses the cluster: the pseudonymisation key is neither in a plan nor in a
//! session option (Ballista ships every session option to every task and may log it). Each
//! executor loads its own ([`ExecutorOptions::key`]) and the plan carries its fingerprint, so
//! an executor with another key refuses to ingest. The `borderflow-executor` binary (package
//! `borderflow-cli`) starts either process.

pub mod codec;
pub mod ingest;

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use borderflow_pseudo::PseudonymKey;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::{SessionConfig, SessionContext};

/// The port a Ballista scheduler listens on unless told otherwise.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// Why a cluster process or session could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// DataFusion refused the session (a function registered twice, a bad option).
    #[error("cluster session: {0}")]
    Session(#[source] DataFusionError),
    /// Ballista failed to start or serve (a port in use, the scheduler unreachable).
    #[error("ballista: {0}")]
    Ballista(#[source] ballista_core::error::BallistaError),
    /// An address that does not parse.
    #[error("{0}")]
    Address(String),
    /// Nothing answers at the scheduler's address.
    #[error(
        "nothing answers at {url}: {source} (is `borderflow-executor scheduler` running there?)"
    )]
    Unreachable {
        /// The scheduler, as configured.
        url: String,
        /// What the connection attempt said.
        #[source]
        source: std::io::Error,
    },
}

/// Whether a scheduler listens at `url` (`df://host:port`): one TCP connection, given up
/// after `timeout`. It proves the port is open, not that executors are registered.
pub fn scheduler_reachable(url: &str, timeout: std::time::Duration) -> Result<(), ClusterError> {
    use std::net::ToSocketAddrs;
    let (host, port) = scheduler_host_port(url)?;
    let unreachable = |source| ClusterError::Unreachable {
        url: url.to_string(),
        source,
    };
    let mut last = None;
    for address in (host.as_str(), port)
        .to_socket_addrs()
        .map_err(unreachable)?
    {
        match std::net::TcpStream::connect_timeout(&address, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(unreachable(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
    })))
}

/// borderflow's functions a cluster must know: each plan that names one is decoded by name
/// on the scheduler and on every executor.
pub fn functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(borderflow_classify::aggregate::classify_sim()),
        Arc::new(borderflow_release::aggregate::tabulate_udaf()),
    ]
}

/// Ballista's default functions and borderflow's, for an executor.
pub fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in functions() {
        registry.aggregate_functions.insert(f.name().to_string(), f);
    }
    registry
}

/// The scheduler's session builder: Ballista's default session, with borderflow's
/// functions registered.
pub fn session_builder() -> SessionBuilder {
    Arc::new(|config: SessionConfig| {
        let mut state = ballista_core::utils::default_session_builder(config)?;
        for f in functions() {
            state.register_udaf(f)?;
        }
        Ok(state)
    })
}

/// A driver session planning against the scheduler at `url` (`df://host:port`), with
/// `target_partitions` partitions per stage and borderflow's functions registered.
pub async fn remote_session(
    url: &str,
    target_partitions: usize,
) -> Result<SessionContext, ClusterError> {
    let config = SessionConfig::new_with_ballista()
        .with_target_partitions(target_partitions)
        .with_ballista_logical_extension_codec(Arc::new(codec::LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()));
    let mut state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .build();
    for f in functions() {
        state.register_udaf(f).map_err(ClusterError::Session)?;
    }
    SessionContext::remote_with_state(url, state)
        .await
        .map_err(ClusterError::Session)
}

/// Serves a scheduler on `address` until the process is stopped. Its cluster state is in
/// memory: a restarted scheduler forgets its executors until they register again (they do,
/// with each heartbeat) and fails the jobs it was running.
pub async fn serve_scheduler(options: SchedulerOptions) -> Result<(), ClusterError> {
    let address = options.address;
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: options
            .external_host
            .unwrap_or_else(|| address.ip().to_string()),
        executor_timeout_seconds: options.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: options.expire_dead_executor_interval_seconds,
        no_executors_grace_period_seconds: options.executor_timeout_seconds,
        override_session_builder: Some(session_builder()),
        override_logical_codec: Some(Arc::new(codec::LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(codec::PhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ClusterError::Ballista)?;
    ballista_scheduler::scheduler_process::start_server(cluster, address, Arc::new(config))
        .await
        .map_err(ClusterError::Ballista)
}

/// Where a scheduler listens, and when it gives an executor up for lost.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The address it listens on.
    pub address: SocketAddr,
    /// The name executors and drivers reach it by (its bind address when not set).
    pub external_host: Option<String>,
    /// Seconds without a heartbeat after which an executor is lost and its tasks run
    /// elsewhere (Ballista's default: 180); longer than the executors' heartbeat interval.
    pub executor_timeout_seconds: u64,
    /// Seconds between checks for lost executors (Ballista's default: 15).
    pub expire_dead_executor_interval_seconds: u64,
}

/// Where an executor listens, which scheduler it serves, and how much it takes on.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `df://host:port`.
    pub scheduler: String,
    /// The address its services bind to.
    pub bind_host: String,
    /// The name other processes reach it by (its bind address when not set).
    pub external_host: Option<String>,
    /// Its Arrow Flight port (shuffle data is fetched from it).
    pub flight_port: u16,
    /// Its gRPC port.
    pub grpc_port: u16,
    /// Tasks it runs at once.
    pub concurrent_tasks: usize,
    /// Directory for its shuffle files (pseudonymised rows: keep it operator-side).
    pub work_dir: Option<String>,
    /// Memory its tasks may use together before they spill, in bytes.
    pub memory_bytes: Option<u64>,
    /// Seconds between its heartbeats to the scheduler (Ballista's default: 60).
    pub heartbeat_interval_seconds: u64,
    /// The store's pseudonymisation key, from the executor's own key file or environment;
    /// without it the executor runs every task but ingest's, which it refuses.
    pub key: Option<Arc<PseudonymKey>>,
}

/// The host and port of a `df://host:port` address.
pub fn scheduler_host_port(url: &str) -> Result<(String, u16), ClusterError> {
    let bad = || ClusterError::Address(format!("scheduler {url:?} is not df://host:port"));
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Serves an executor until the process is stopped or its scheduler goes away for good.
pub async fn serve_executor(options: ExecutorOptions) -> Result<(), ClusterError> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let (scheduler_host, scheduler_port) = scheduler_host_port(&options.scheduler)?;
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host,
        scheduler_port,
        vcores: options.concurrent_tasks,
        work_dir: options.work_dir.clone(),
        memory_pool_size: options.memory_bytes,
        executor_heartbeat_interval_seconds: options.heartbeat_interval_seconds,
        override_function_registry: Some(Arc::new(function_registry())),
        override_logical_codec: Some(Arc::new(codec::LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(codec::PhysicalCodec::default())),
        override_config_producer: Some(config_producer(options.key.clone())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ClusterError::Ballista)
}

/// Each task's session configuration on an executor: Ballista's default, with the executor's
/// key as an extension when it has one (extensions are the process's own: never shipped,
/// never logged).
fn config_producer(key: Option<Arc<PseudonymKey>>) -> ballista_core::ConfigProducer {
    Arc::new(move || {
        let config = ballista_core::utils::default_config_producer();
        match &key {
            Some(key) => config.with_extension(Arc::new(ingest::ExecutorKey(Arc::clone(key)))),
            None => config,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses_parse_or_are_refused() {
        assert_eq!(
            scheduler_host_port("df://10.0.0.5:50050").unwrap(),
            ("10.0.0.5".to_string(), 50050)
        );
        for bad in ["10.0.0.5:50050", "df://:50050", "df://host", "df://host:0"] {
            assert!(scheduler_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn executors_and_schedulers_know_the_classification() {
        let name = borderflow_classify::aggregate::CLASSIFY_SIM;
        assert!(function_registry().aggregate_functions.contains_key(name));
        let state = session_builder()(SessionConfig::new()).unwrap();
        assert!(state.udaf(name).is_ok());
        // Ballista's own functions are still there.
        assert!(function_registry().aggregate_functions.contains_key("sum"));
    }
}
