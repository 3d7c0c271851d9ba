//! How borderflow's own plan nodes cross the cluster: codecs wrapping Ballista's, so every
//! node Ballista knows is encoded as Ballista encodes it and borderflow's ingest scan
//! ([`IngestTable`] in the driver's logical plan, [`IngestExec`] in the scheduler's stages)
//! as its [`IngestTask`] in JSON behind a tag.
//!
//! The driver encodes with [`LogicalCodec`], the scheduler decodes with it and encodes its
//! stages with [`PhysicalCodec`], and executors decode with [`PhysicalCodec`]. What the tag
//! carries is public (paths, the column mapping, the window, the key's fingerprint); the key
//! itself is never in a plan.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::ingest::{IngestExec, IngestTable, IngestTask};

/// The tag in front of an encoded ingest table.
const INGEST_TABLE_TAG: &[u8] = b"borderflow:ingest-table:1\n";
/// The tag in front of an encoded ingest scan.
const INGEST_EXEC_TAG: &[u8] = b"borderflow:ingest-exec:1\n";

fn task_json(task: &IngestTask) -> Result<Vec<u8>> {
    serde_json::to_vec(task).map_err(|e| DataFusionError::Internal(format!("ingest task: {e}")))
}

fn task_of(json: &[u8]) -> Result<IngestTask> {
    serde_json::from_slice(json)
        .map_err(|e| DataFusionError::Internal(format!("ingest task does not decode: {e}")))
}

/// Ballista's logical codec, plus borderflow's ingest table.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.strip_prefix(INGEST_TABLE_TAG) {
            Some(json) => Ok(Arc::new(IngestTable::new(task_of(json)?))),
            None => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = (node.as_ref() as &dyn std::any::Any).downcast_ref::<IngestTable>() {
            buf.extend_from_slice(INGEST_TABLE_TAG);
            buf.extend(task_json(table.task())?);
            return Ok(());
        }
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec, plus borderflow's ingest scan.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(INGEST_EXEC_TAG) {
            Some(rest) => {
                let encoded: EncodedExec = serde_json::from_slice(rest).map_err(|e| {
                    DataFusionError::Internal(format!("ingest scan does not decode: {e}"))
                })?;
                Ok(Arc::new(IngestExec::new(
                    Arc::new(encoded.task),
                    encoded.projection,
                )?))
            }
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(exec) = node.downcast_ref::<IngestExec>() {
            let encoded = EncodedExec {
                task: exec.task().clone(),
                projection: exec.projection().map(<[usize]>::to_vec),
            };
            buf.extend_from_slice(INGEST_EXEC_TAG);
            buf.extend(
                serde_json::to_vec(&encoded)
                    .map_err(|e| DataFusionError::Internal(format!("ingest scan: {e}")))?,
            );
            return Ok(());
        }
        self.inner.try_encode(node, buf, proto_converter)
    }
}

/// An ingest scan as it travels: the task and the columns it emits.
#[derive(serde::Serialize, serde::Deserialize)]
struct EncodedExec {
    task: IngestTask,
    projection: Option<Vec<usize>>,
}
