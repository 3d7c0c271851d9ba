//! The engines: a tokio runtime and a DataFusion session, local or on a cluster.
//!
//! [`Engine`] is the one place the pipeline's `[engine]` setting is read: every stage asks it
//! for a session and for what differs between the two (how classification is planned, whether
//! the heavy work runs here or where the data are). The work itself stays in its stage, each
//! engine's beside the other's: ingest's local reduction and `ingest::cluster`; the local
//! facts reader and the cluster's tabulation; the sorted and the grouped classification plan.
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

use borderflow_classify::plan::ClassifyPlan;

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

/// The engine a pipeline's heavy stages run on.
#[derive(Debug, Clone, Copy)]
pub enum Engine<'a> {
    /// This process, under `engine.memory_limit_mb`, spilling into the state directory.
    Local(&'a EngineConfig),
    /// The Ballista cluster of the scheduler at `scheduler`, planning `partitions` partitions
    /// per stage; its executors hold their own memory limits and spill directories.
    Cluster {
        /// The scheduler's URL, `df://host:port`.
        scheduler: &'a str,
        /// Partitions per stage.
        partitions: usize,
    },
}

impl<'a> Engine<'a> {
    /// The engine `config` sets (a pipeline file is refused unless `kind = "ballista"` comes
    /// with a scheduler and only then).
    pub fn of(config: &'a EngineConfig) -> Self {
        match (config.kind, &config.scheduler) {
            (EngineKind::Ballista, Some(url)) => Engine::Cluster {
                scheduler: url,
                partitions: partitions(config),
            },
            _ => Engine::Local(config),
        }
    }

    /// A runtime and a session on this engine; the local one spills into `spill_dir`.
    pub fn session(
        self,
        spill_dir: &Path,
    ) -> Result<(tokio::runtime::Runtime, SessionContext), EngineError> {
        match self {
            Engine::Local(config) => {
                session(config, partitions(config), spill_dir).map_err(EngineError::Local)
            }
            Engine::Cluster {
                scheduler,
                partitions,
            } => cluster_session(scheduler, partitions),
        }
    }

    /// How classification is planned on this engine: sorted and folded here, grouped where
    /// the rows are on a cluster.
    pub fn classify_plan(self) -> ClassifyPlan {
        match self {
            Engine::Local(_) => ClassifyPlan::Scan,
            Engine::Cluster { .. } => ClassifyPlan::Grouped,
        }
    }

    /// The engine's name in reports (`local`, `ballista`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Local(_) => "local",
            Engine::Cluster { .. } => "ballista",
        }
    }

    /// Checks, within `timeout`, that the engine can be reached (a cluster's scheduler
    /// answers), and says what it is, for `borderflow validate`.
    pub fn check(self, timeout: std::time::Duration) -> Result<String, EngineError> {
        match self {
            Engine::Local(config) => Ok(format!(
                "local: {} partitions, {} MiB before spilling",
                partitions(config),
                config.memory_limit_mb
            )),
            Engine::Cluster { scheduler, .. } => {
                borderflow_cluster::scheduler_reachable(scheduler, timeout)
                    .map_err(EngineError::Cluster)?;
                Ok(format!(
                    "ballista: the scheduler at {scheduler} answers (classification runs on its executors)"
                ))
            }
        }
    }
}

/// A runtime and a session on the Ballista cluster of the scheduler at `url`, planning
/// `partitions` partitions per stage; the executors spill to their own directories.
fn cluster_session(
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
