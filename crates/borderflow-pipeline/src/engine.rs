//! The local engine: a tokio runtime and a DataFusion session under the pipeline's memory
//! limit, with a spill pool so inputs larger than memory finish rather than fail. Spill files
//! (pseudonymised rows) go to a directory of the state, never the system's temporary one: they
//! stay operator-side, and a run killed mid-spill leaves them where the next run removes them.

use std::path::Path;
use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::EngineConfig;

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
