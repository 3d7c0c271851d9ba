//! The engines: a tokio runtime and a DataFusion session, local or on a cluster.
//!
//! The local session runs under the pipeline's memory limit, with a spill pool so inputs
//! larger than memory finish rather than fail. Spill files (pseudonymised rows) go to a
//! directory of the state, never the system's temporary one: they stay operator-side, and a
//! run killed mid-spill leaves them where the next run removes them.
//!
//! A Ballista session ([`borderflow_cluster::remote_session`]) plans against the scheduler of
//! `engine.scheduler`; its executors' memory and spill directories are their own settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use borderflow_core::{PathError, WithPath};

use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::{EngineConfig, EngineKind};

/// Why an engine could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The local runtime or session could not be built.
    #[error("engine: {0}")]
    Local(#[source] DataFusionError),
    /// The cluster session could not be built.
    #[error("engine.scheduler: {0}")]
    Cluster(#[source] borderflow_cluster::ClusterError),
    /// The engine wrote some SIM's facts more than once (a task run again after it had
    /// written): the stage fails rather than count a SIM twice.
    #[error(
        "{}: the engine wrote {repeated} SIM(s) more than once (a task run again after a lost worker); nothing was committed: run the stage again",
        path.display()
    )]
    Repeated {
        /// The facts file at fault.
        path: std::path::PathBuf,
        /// SIM rows beyond the first of each pseudonym.
        repeated: u64,
    },
}

impl borderflow_core::FailureKind for EngineError {
    fn failure(&self) -> borderflow_core::Failure {
        match self {
            // Threads or memory the machine refuses: not the data's fault nor the state's.
            EngineError::Local(_) => borderflow_core::Failure::Internal,
            // The scheduler named in the pipeline file.
            EngineError::Cluster(_) => borderflow_core::Failure::Config,
            // As any engine failure mid-stage (a lost worker): run again.
            EngineError::Repeated { .. } => borderflow_core::Failure::State,
        }
    }
}

/// The runtime and session of the pipeline's engine: local under its limits (spilling into
/// `spill_dir`), or a session on the Ballista cluster of `engine.scheduler`.
pub fn engine_session(
    config: &EngineConfig,
    spill_dir: &Path,
) -> Result<(tokio::runtime::Runtime, SessionContext), EngineError> {
    match (config.kind, &config.scheduler) {
        (EngineKind::Ballista, Some(url)) => cluster_session(url, partitions(config)),
        _ => session(config, partitions(config), spill_dir).map_err(EngineError::Local),
    }
}

/// A runtime and a session on the Ballista cluster of the scheduler at `url`, planning
/// `partitions` partitions per stage; the executors spill to their own directories.
pub fn cluster_session(
    url: &str,
    partitions: usize,
) -> Result<(tokio::runtime::Runtime, SessionContext), EngineError> {
    // Ballista connects at the first query; a scheduler that is not there is a setting to
    // fix, said now rather than as an engine failure mid-stage.
    borderflow_cluster::scheduler_reachable(url, std::time::Duration::from_secs(10))
        .map_err(EngineError::Cluster)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Local(e.into()))?;
    let ctx = runtime
        .block_on(borderflow_cluster::remote_session(url, partitions))
        .map_err(EngineError::Cluster)?;
    Ok((runtime, ctx))
}

/// `path` as an engine's workers must name it: absolute (relative to this process's working
/// directory), since a cluster's executors run in other processes and other directories.
pub fn worker_path(path: &Path) -> Result<PathBuf, PathError> {
    std::path::absolute(path).with_path(path)
}

/// Worker threads for `config`: its `target_partitions`, or every core when 0.
pub fn partitions(config: &EngineConfig) -> usize {
    if config.target_partitions > 0 {
        config.target_partitions
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

/// A runtime with `partitions` workers and a session limited to `memory_limit_mb`, spilling
/// into `spill_dir`.
pub fn session(
    config: &EngineConfig,
    partitions: usize,
    spill_dir: &Path,
) -> Result<(tokio::runtime::Runtime, SessionContext), DataFusionError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(partitions)
        .enable_all()
        .build()?;
    let limit =
        usize::try_from(config.memory_limit_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let env = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(limit)))
        .with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![spill_dir.to_path_buf()])),
        )
        .build_arc()?;
    let session = SessionConfig::new().with_target_partitions(partitions);
    Ok((runtime, SessionContext::new_with_config_rt(session, env)))
}
