//! Streaming writers for events and ground truth: batches of rows become Arrow record batches
//! written to CSV and Parquet as they fill, so memory stays flat however large the world.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, RecordBatch, StringBuilder, TimestampMillisecondBuilder, UInt16Builder,
};
use arrow::csv::WriterBuilder;
use borderflow_core::CountryCode;
use borderflow_core::schema::{event_schema, truth_schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::SynthError;
use crate::persona::Persona;
use crate::phone::{EVENT_TYPES, Event, Networks};

/// Rows per record batch.
const BATCH_ROWS: usize = 64 * 1024;

/// Which event files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFormats {
    /// Write `events.csv`.
    pub csv: bool,
    /// Write `events.parquet`.
    pub parquet: bool,
}

impl OutputFormats {
    /// Both CSV and Parquet.
    pub const BOTH: Self = Self {
        csv: true,
        parquet: true,
    };

    pub(crate) fn event_files(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.csv {
            v.push("events.csv");
        }
        if self.parquet {
            v.push("events.parquet");
        }
        v
    }
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> SynthError {
    SynthError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The Parquet settings of generated event files: ZSTD level 3, row groups of 1,048,576 rows.
pub fn events_parquet_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(1024 * 1024))
        .build()
}

/// A CSV writer of generated event files: a header line, timestamps in RFC 3339 UTC
/// (`2025-03-01T18:04:05Z`).
pub fn events_csv_writer<W: std::io::Write>(out: W) -> arrow::csv::Writer<W> {
    WriterBuilder::new()
        .with_header(true)
        .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%SZ".to_string())
        .build(out)
}

/// Writes CSV (RFC 3339 UTC timestamps) and/or Parquet from the same batches.
struct BatchSink {
    csv: Option<(arrow::csv::Writer<BufWriter<File>>, std::path::PathBuf)>,
    parquet: Option<(ArrowWriter<File>, std::path::PathBuf)>,
}

impl BatchSink {
    fn create(
        dir: &Path,
        stem: &str,
        formats: OutputFormats,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<Self, SynthError> {
        let open = |ext: &str| {
            let path = dir.join(format!("{stem}.{ext}"));
            File::create(&path)
                .map(|f| (f, path.clone()))
                .map_err(|e| write_error(&path, e))
        };
        let csv = if formats.csv {
            let (f, path) = open("csv")?;
            Some((
                events_csv_writer(BufWriter::with_capacity(1 << 20, f)),
                path,
            ))
        } else {
            None
        };
        let parquet = if formats.parquet {
            let (f, path) = open("parquet")?;
            let w = ArrowWriter::try_new(f, schema, Some(events_parquet_properties()))
                .map_err(|e| write_error(&path, e))?;
            Some((w, path))
        } else {
            None
        };
        Ok(Self { csv, parquet })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), SynthError> {
        if let Some((w, path)) = &mut self.csv {
            w.write(batch).map_err(|e| write_error(path, e))?;
        }
        if let Some((w, path)) = &mut self.parquet {
            w.write(batch).map_err(|e| write_error(path, e))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), SynthError> {
        if let Some((w, path)) = self.csv {
            let mut inner = w.into_inner();
            std::io::Write::flush(&mut inner).map_err(|e| write_error(&path, e))?;
        }
        if let Some((w, path)) = self.parquet {
            w.close().map_err(|e| write_error(&path, e))?;
        }
        Ok(())
    }
}

/// Accumulates events into Arrow builders and flushes full batches.
pub(crate) struct EventWriter<'a> {
    sink: BatchSink,
    nets: &'a Networks,
    rows: usize,
    total: u64,
    id: StringBuilder,
    time: TimestampMillisecondBuilder,
    home: StringBuilder,
    serving: StringBuilder,
    cell: StringBuilder,
    kind: StringBuilder,
    counterpart: StringBuilder,
    cell_buf: String,
}

impl<'a> EventWriter<'a> {
    pub(crate) fn create(
        dir: &Path,
        formats: OutputFormats,
        nets: &'a Networks,
    ) -> Result<Self, SynthError> {
        Ok(Self {
            sink: BatchSink::create(dir, "events", formats, event_schema())?,
            nets,
            rows: 0,
            total: 0,
            id: StringBuilder::new(),
            time: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            home: StringBuilder::new(),
            serving: StringBuilder::new(),
            cell: StringBuilder::new(),
            kind: StringBuilder::new(),
            counterpart: StringBuilder::new(),
            cell_buf: String::new(),
        })
    }

    pub(crate) fn push(&mut self, id: &str, home: u16, e: &Event) -> Result<(), SynthError> {
        use std::fmt::Write;
        self.id.append_value(id);
        self.time.append_value(e.time * 1000);
        self.home.append_value(&self.nets.plmns[home as usize]);
        self.serving
            .append_value(&self.nets.plmns[e.serving as usize]);
        match e.cell {
            Some(c) => {
                self.cell_buf.clear();
                write!(self.cell_buf, "C{c:04}").expect("write to string");
                self.cell.append_value(&self.cell_buf);
            }
            None => self.cell.append_null(),
        }
        self.kind.append_value(EVENT_TYPES[e.event_type as usize]);
        self.counterpart.append_option(e.counterpart.as_deref());
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SynthError> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.home.finish()),
            Arc::new(self.serving.finish()),
            Arc::new(self.cell.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.counterpart.finish()),
        ];
        let batch = RecordBatch::try_new(event_schema(), columns).expect("columns match schema");
        self.sink.write(&batch)?;
        self.total += self.rows as u64;
        self.rows = 0;
        Ok(())
    }

    /// Flushes and closes the files; returns the number of events written.
    pub(crate) fn finish(mut self) -> Result<u64, SynthError> {
        self.flush()?;
        self.sink.finish()?;
        Ok(self.total)
    }
}

/// One SIM's ground truth.
pub(crate) struct TruthRow<'a> {
    pub subscriber_id: &'a str,
    pub persona: Persona,
    pub partner: Option<CountryCode>,
    pub sim_country: CountryCode,
    pub residence: CountryCode,
    pub nights_in_m: u16,
    pub effects: String,
}

impl<'a> TruthRow<'a> {
    /// The truth of SIM `id` of a holder of `persona` following `it`, measured from `m`.
    pub(crate) fn of(
        id: &'a str,
        persona: Persona,
        it: &crate::Itinerary,
        traits: &crate::phone::PhoneTraits,
        m: CountryCode,
    ) -> Self {
        TruthRow {
            subscriber_id: id,
            persona,
            partner: it.partner,
            sim_country: it.sim_country,
            residence: it.residence,
            nights_in_m: crate::persona::nights_in(it, m) as u16,
            effects: crate::effects_of(traits, it),
        }
    }
}

/// Writes `truth.csv` and `truth.parquet`.
pub(crate) struct TruthWriter {
    sink: BatchSink,
    rows: usize,
    id: StringBuilder,
    persona: StringBuilder,
    category: StringBuilder,
    partner: StringBuilder,
    sim: StringBuilder,
    residence: StringBuilder,
    nights: UInt16Builder,
    effects: StringBuilder,
}

impl TruthWriter {
    pub(crate) fn create(dir: &Path) -> Result<Self, SynthError> {
        Ok(Self {
            sink: BatchSink::create(dir, "truth", OutputFormats::BOTH, truth_schema())?,
            rows: 0,
            id: StringBuilder::new(),
            persona: StringBuilder::new(),
            category: StringBuilder::new(),
            partner: StringBuilder::new(),
            sim: StringBuilder::new(),
            residence: StringBuilder::new(),
            effects: StringBuilder::new(),
            nights: UInt16Builder::new(),
        })
    }

    pub(crate) fn push(&mut self, r: TruthRow) -> Result<(), SynthError> {
        self.id.append_value(r.subscriber_id);
        self.persona.append_value(r.persona.to_string());
        self.category.append_value(r.persona.category().as_str());
        self.partner.append_option(r.partner.map(|c| c.to_string()));
        self.sim.append_value(r.sim_country.as_str());
        self.residence.append_value(r.residence.as_str());
        self.nights.append_value(r.nights_in_m);
        self.effects.append_value(&r.effects);
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SynthError> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.persona.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.partner.finish()),
            Arc::new(self.sim.finish()),
            Arc::new(self.residence.finish()),
            Arc::new(self.nights.finish()),
            Arc::new(self.effects.finish()),
        ];
        let batch = RecordBatch::try_new(truth_schema(), columns).expect("columns match schema");
        self.sink.write(&batch)?;
        self.rows = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<(), SynthError> {
        self.flush()?;
        self.sink.finish()
    }
}
