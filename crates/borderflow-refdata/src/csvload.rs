//! Reading code-list CSVs, embedded or user-supplied, with errors that name file and line.

use std::collections::BTreeMap;

/// A code list could not be read; the message names the file and, where it applies, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefDataError {
    /// The file could not be read at all.
    #[error("{file}: cannot read code list: {message}")]
    Read {
        /// The file.
        file: String,
        /// What failed.
        message: String,
    },
    /// A row of the file is malformed.
    #[error("{file}:{line}: {message}")]
    Row {
        /// The file.
        file: String,
        /// The line (1 = the header).
        line: u64,
        /// What is wrong with the row.
        message: String,
    },
}

/// One data row with the line it came from, for error messages.
pub(crate) struct Row<'a> {
    pub file: &'a str,
    pub line: u64,
    record: csv::StringRecord,
    columns: &'a [usize],
}

impl Row<'_> {
    /// The value of the i-th expected column, trimmed.
    pub fn get(&self, i: usize) -> &str {
        self.record.get(self.columns[i]).unwrap_or("").trim()
    }

    /// An error about this row.
    pub fn error(&self, message: impl Into<String>) -> RefDataError {
        RefDataError::Row {
            file: self.file.to_string(),
            line: self.line,
            message: message.into(),
        }
    }
}

/// Turns one row into a key and value.
type ParseRow<'p, K, V> = dyn FnMut(&Row) -> Result<(K, V), RefDataError> + 'p;

/// Parses `text` (named `file` in errors), requiring the `expected` columns in any order, and
/// hands each row to `parse`, which returns a key and value.
fn parse_into<K: Ord, V>(
    file: &str,
    text: &str,
    expected: &[&str],
    map: &mut BTreeMap<K, V>,
    parse: &mut ParseRow<'_, K, V>,
) -> Result<(), RefDataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header_error = |message: String| RefDataError::Row {
        file: file.to_string(),
        line: 1,
        message,
    };
    let headers = reader
        .headers()
        .map_err(|e| header_error(e.to_string()))?
        .clone();
    let mut columns = Vec::with_capacity(expected.len());
    for want in expected {
        match headers.iter().position(|h| h.trim() == *want) {
            Some(i) => columns.push(i),
            None => {
                return Err(header_error(format!(
                    "missing column {want:?}; expected columns {}",
                    expected.join(",")
                )));
            }
        }
    }
    for record in reader.records() {
        let record = record.map_err(|e| RefDataError::Row {
            file: file.to_string(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let row = Row {
            file,
            line,
            record,
            columns: &columns,
        };
        let (k, v) = parse(&row)?;
        map.insert(k, v);
    }
    Ok(())
}

/// Loads the embedded table, then the user's amendments (rows with the same key replace).
pub(crate) fn load_table<K: Ord, V>(
    embedded_name: &str,
    embedded: &str,
    user: Option<(String, String)>,
    expected: &[&str],
    mut parse: impl FnMut(&Row) -> Result<(K, V), RefDataError>,
) -> Result<BTreeMap<K, V>, RefDataError> {
    let mut map = BTreeMap::new();
    parse_into(embedded_name, embedded, expected, &mut map, &mut parse)?;
    if let Some((name, text)) = user {
        parse_into(&name, &text, expected, &mut map, &mut parse)?;
    }
    Ok(map)
}

/// Parses an alpha-3 column that must name a listed country.
pub(crate) fn country(
    row: &Row,
    i: usize,
    known: &dyn Fn(borderflow_core::CountryCode) -> bool,
) -> Result<borderflow_core::CountryCode, RefDataError> {
    let code: borderflow_core::CountryCode =
        row.get(i).parse().map_err(|e| row.error(format!("{e}")))?;
    if !known(code) {
        return Err(row.error(format!("{code} is not in the country list")));
    }
    Ok(code)
}

impl borderflow_core::FailureKind for RefDataError {
    /// A code-list override named by the pipeline is unreadable or malformed.
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::Config
    }
}
