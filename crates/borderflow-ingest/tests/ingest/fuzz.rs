//! The ingest parsers under property tests: whatever the bytes of a file, and whatever its
//! times, networks and numbers look like, reading never panics, and every row read is either
//! accepted or quarantined with a reason (the counts reconcile); a file that cannot be read at
//! all fails with an error naming it.

use std::io::Write;

use borderflow_core::SimRegistry;
use borderflow_ingest::{FileCounts, InputConfig, TimeFormat, Validator, discover};
use borderflow_pseudo::{PseudonymKey, Pseudonymiser};
use borderflow_refdata::RefData;
use proptest::prelude::*;

const HEADER: &str =
    "subscriber_id,event_time,home_plmn,serving_plmn,cell_id,event_type,counterpart_number\n";

/// Reads `bytes` as a CSV file under `format`; the counts, or the error's message.
fn read(bytes: &[u8], format: TimeFormat) -> Result<FileCounts, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.csv");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    let cfg = InputConfig {
        paths: vec![path.display().to_string()],
        time_format: format.clone(),
        ..toml::from_str("paths = []").unwrap()
    };
    let rd = RefData::embedded();
    let key = PseudonymKey::from_bytes([3; 32]);
    let sims = SimRegistry::new();
    let mut v = Validator::new(
        &rd,
        "KEN".parse().unwrap(),
        (20_089, 20_453),
        format,
        chrono_tz::Africa::Nairobi,
        Pseudonymiser::new(&key),
        &sims,
    );
    let mut counts = FileCounts::default();
    for f in discover(&cfg.paths).map_err(|e| e.to_string())? {
        let mut r = f.open(&cfg).map_err(|e| e.to_string())?;
        while let Some(b) = r.next_batch() {
            let out = v.validate(r.name(), &b.map_err(|e| e.to_string())?);
            counts.add(&out.map_err(|e| e.to_string())?.counts);
        }
    }
    Ok(counts)
}

/// Field texts that look like what operators write, and what they write by mistake.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[0-9]{5,6}",
        "[0-9]{10,15}",
        r"\+[0-9]{6,14}",
        "2025-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](Z|[+-][01][0-9]:[03]0)",
        "2025-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]",
        "-?[0-9]{1,19}",
        "[a-z_]{1,12}",
        ".{0,20}",
        Just("\"quoted, with a comma\"".to_string()),
        Just("63902".to_string()),
        Just("64101".to_string()),
    ]
}

fn row() -> impl Strategy<Value = String> {
    prop::collection::vec(field(), 5..9).prop_map(|fields| {
        fields
            .into_iter()
            .map(|f| f.replace(['\n', '\r'], " "))
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn time_format() -> impl Strategy<Value = TimeFormat> {
    prop_oneof![
        Just(TimeFormat::Rfc3339),
        Just(TimeFormat::EpochSeconds),
        Just(TimeFormat::EpochMillis),
        Just(TimeFormat::Pattern("%Y-%m-%d %H:%M:%S".into())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Rows of any shape: the file is refused with its name (a ragged row), or every row is
    /// accepted or quarantined.
    #[test]
    fn every_row_is_accepted_quarantined_or_the_file_refused(
        rows in prop::collection::vec(row(), 0..40),
        format in time_format(),
    ) {
        let mut text = HEADER.to_string();
        for r in &rows {
            text.push_str(r);
            text.push('\n');
        }
        match read(text.as_bytes(), format) {
            Ok(c) => {
                prop_assert!(c.reconciles(), "{c:?}");
                prop_assert_eq!(c.read, rows.len() as u64);
            }
            Err(e) => prop_assert!(e.contains("fuzz.csv"), "{}", e),
        }
    }

    /// Arbitrary bytes after a valid header never panic; an error names the file.
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(&body);
        if let Err(e) = read(&bytes, TimeFormat::Rfc3339) {
            prop_assert!(e.contains("fuzz.csv"), "{}", e);
        }
    }

    /// Arbitrary bytes as a whole file, header included.
    #[test]
    fn arbitrary_files_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = read(&bytes, TimeFormat::EpochSeconds) {
            prop_assert!(e.contains("fuzz.csv"), "{}", e);
        }
    }
}
