//! Streaming readers of appeal exports (CSV and JSON Lines).
//!
//! Memory stays bounded whatever the file size: input is read in fixed 64 KiB
//! chunks and one record is held at a time, never more than
//! [`ReaderLimits::max_record_bytes`]. A longer record is consumed without being
//! stored and reported as [`RowError::RecordTooLarge`], so one runaway row (or a
//! quote that never closes) cannot exhaust memory, and the rows after it are
//! still read.
//!
//! Readers only know formats: they hand out the raw values of the logical
//! columns in [`Field`] order; what the values mean is `mapping`'s business.

mod csv;
mod jsonl;

use std::collections::HashMap;
use std::io::Read;

pub use csv::CsvSource;
pub use jsonl::JsonlSource;

/// The logical columns an import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The source system's id (the idempotency key).
    Id,
    /// The appeal text.
    Text,
    /// When it was received.
    Date,
    /// District.
    District,
    /// Municipality.
    Municipality,
    /// Latitude.
    Lat,
    /// Longitude.
    Lon,
    /// The department that handled it.
    Department,
    /// Our appeal status (optional override of `imported`).
    Status,
    /// First (most general) level of the portal's category.
    Category1,
    /// Second level of the category.
    Category2,
    /// Third level of the category.
    Category3,
    /// Fourth (most specific) level of the category.
    Category4,
}

/// Number of logical fields.
pub const FIELDS: usize = 13;

impl Field {
    /// Every field, in the order of [`RawRow::values`].
    pub const ALL: [Field; FIELDS] = [
        Field::Id,
        Field::Text,
        Field::Date,
        Field::District,
        Field::Municipality,
        Field::Lat,
        Field::Lon,
        Field::Department,
        Field::Status,
        Field::Category1,
        Field::Category2,
        Field::Category3,
        Field::Category4,
    ];

    /// The category levels, general to specific.
    pub const CATEGORY: [Field; 4] = [
        Field::Category1,
        Field::Category2,
        Field::Category3,
        Field::Category4,
    ];

    /// Position in [`RawRow::values`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Fields without which a row cannot become an appeal: their columns must
    /// exist in a CSV header.
    pub fn required(self) -> bool {
        matches!(self, Field::Id | Field::Text | Field::Date)
    }

    /// The command-line flag that names this field's column.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Id => "--id-col",
            Field::Text => "--text-col",
            Field::Date => "--date-col",
            Field::District => "--district-col",
            Field::Municipality => "--municipality-col",
            Field::Lat => "--lat-col",
            Field::Lon => "--lon-col",
            Field::Department => "--department-col",
            Field::Status => "--status-col",
            Field::Category1 | Field::Category2 | Field::Category3 | Field::Category4 => {
                "--category-cols"
            }
        }
    }
}

/// Source column name of each logical field (`None`: not imported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    names: [Option<String>; FIELDS],
}

impl Default for ColumnMap {
    /// Fits the St Petersburg portal export (`id, created_at, text, district,
    /// municipality, lat, lon, …, department, final_status`); no status column
    /// (the portal's statuses are not ours).
    fn default() -> Self {
        let mut m = Self {
            names: Default::default(),
        };
        for (f, n) in [
            (Field::Id, "id"),
            (Field::Text, "text"),
            (Field::Date, "created_at"),
            (Field::District, "district"),
            (Field::Municipality, "municipality"),
            (Field::Lat, "lat"),
            (Field::Lon, "lon"),
            (Field::Department, "department"),
        ] {
            m.set(f, Some(n.to_string()));
        }
        m
    }
}

impl ColumnMap {
    /// Sets (or clears, with `None` or an empty name) the column of `field`.
    pub fn set(&mut self, field: Field, name: Option<String>) {
        self.names[field.index()] = name.filter(|n| !n.is_empty());
    }

    /// The column of `field`.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.names[field.index()].as_deref()
    }

    /// Reads the category from these columns, general to specific (at most
    /// four; an empty list reads none).
    pub fn set_category(&mut self, columns: &[String]) {
        for (i, field) in Field::CATEGORY.into_iter().enumerate() {
            self.set(field, columns.get(i).cloned());
        }
    }
}

/// Bounds on what one record may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Longest record (CSV row or JSON line) in bytes; longer ones are skipped
    /// and reported, never buffered.
    pub max_record_bytes: usize,
    /// Most fields in one CSV row.
    pub max_fields: usize,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        Self {
            max_record_bytes: 1 << 20,
            max_fields: 1024,
        }
    }
}

/// The values of one source row, by logical field (`None`: column absent or null).
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// 1-based number of the data row (the CSV header is not counted).
    pub row: u64,
    /// Line of the file where the row starts (1-based).
    pub line: u64,
    /// Values in [`Field::ALL`] order.
    pub values: [Option<String>; FIELDS],
}

impl RawRow {
    /// The value of `field`, if present.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.values[field.index()].as_deref()
    }
}

/// Why a source row could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The record exceeds [`ReaderLimits::max_record_bytes`].
    RecordTooLarge {
        /// Bytes seen (at least the limit).
        bytes: u64,
        /// The limit.
        limit: usize,
    },
    /// A CSV row with another number of fields than the header (typically a
    /// broken quote that swallowed a separator or a line break).
    FieldCount {
        /// Fields in the row.
        got: usize,
        /// Fields in the header.
        want: usize,
    },
    /// A value is not valid UTF-8.
    InvalidUtf8 {
        /// The column.
        column: String,
    },
    /// A JSON line that is not a JSON object.
    Json(String),
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::RecordTooLarge { bytes, limit } => {
                write!(f, "record of {bytes} bytes exceeds the {limit}-byte limit")
            }
            RowError::FieldCount { got, want } => write!(
                f,
                "malformed row: {got} fields where the header has {want} (broken quote?)"
            ),
            RowError::InvalidUtf8 { column } => write!(f, "column {column:?} is not valid UTF-8"),
            RowError::Json(e) => write!(f, "malformed JSON line: {e}"),
        }
    }
}

/// A row that could not be read, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based data row number.
    pub row: u64,
    /// Line where it starts.
    pub line: u64,
    /// What is wrong.
    pub error: RowError,
}

/// Errors that stop an import before or while reading (not per-row problems).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file cannot be read.
    #[error("reading the input: {0}")]
    Io(#[from] std::io::Error),
    /// A CSV file with no header row.
    #[error("the file is empty: a CSV import needs a header row naming its columns")]
    Empty,
    /// A required column is not in the header.
    #[error(
        "the header has no column {column:?} for the {field:?} ({flag}); columns are: {found}"
    )]
    MissingColumn {
        /// Logical field.
        field: Field,
        /// Its flag.
        flag: &'static str,
        /// The column looked for.
        column: String,
        /// The header, comma-separated.
        found: String,
    },
    /// A required field has no column configured.
    #[error("no column configured for the {field:?} ({flag})")]
    Unmapped {
        /// Logical field.
        field: Field,
        /// Its flag.
        flag: &'static str,
    },
    /// The CSV header itself is unreadable.
    #[error("bad CSV header: {0}")]
    BadHeader(String),
}

/// One item read from a source.
pub type Item = Result<RawRow, BadRow>;

/// A stream of rows from some format.
pub trait RowSource {
    /// The next row, `Ok(None)` at the end of input.
    fn next_row(&mut self) -> Result<Option<Item>, SourceError>;
    /// Bytes of input consumed so far (for progress).
    fn bytes_read(&self) -> u64;
    /// Optional mapped columns absent from the input (CSV header), for a warning.
    fn absent_columns(&self) -> Vec<String> {
        Vec::new()
    }
}

const CHUNK: usize = 64 * 1024;

/// Fixed-size chunked input with a byte counter.
struct Chunked<R> {
    input: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    consumed: u64,
}

impl<R: Read> Chunked<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            buf: vec![0; CHUNK].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            consumed: 0,
        }
    }

    /// The unconsumed buffered bytes, refilling when empty; empty at end of input.
    fn fill(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.len && !self.eof {
            self.pos = 0;
            self.len = loop {
                match self.input.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            self.eof = self.len == 0;
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.consumed += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> ReaderLimits {
        ReaderLimits {
            max_record_bytes: max,
            max_fields: 64,
        }
    }

    fn all<S: RowSource>(mut s: S) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(item) = s.next_row().unwrap() {
            out.push(item);
        }
        out
    }

    const HEADER: &str = "id,created_at,text,district\n";

    #[test]
    fn csv_rows_map_by_header_name_with_quotes_bom_and_crlf() {
        let data = format!(
            "\u{feff}{HEADER}1,2020-10-18,\"multi\nline, \"\"quoted\"\"\",A\r\n\r\n2,2020-10-19,plain,\n"
        );
        let rows =
            all(CsvSource::new(data.as_bytes(), &ColumnMap::default(), limits(1024)).unwrap());
        assert_eq!(rows.len(), 2);
        let r1 = rows[0].as_ref().unwrap();
        assert_eq!(r1.get(Field::Text), Some("multi\nline, \"quoted\""));
        assert_eq!(r1.get(Field::District), Some("A"));
        assert_eq!(r1.get(Field::Lat), None, "absent optional column");
        let r2 = rows[1].as_ref().unwrap();
        assert_eq!(
            (r2.row, r2.line),
            (2, 5),
            "after a 2-line row and a blank line"
        );
        assert_eq!(r2.get(Field::District), Some(""));
    }

    #[test]
    fn oversized_record_is_skipped_and_reading_continues() {
        let big = "x".repeat(10_000);
        let data = format!("{HEADER}1,d,{big},A\n2,d,small,B\n");
        let rows =
            all(CsvSource::new(data.as_bytes(), &ColumnMap::default(), limits(5000)).unwrap());
        assert!(matches!(
            rows[0],
            Err(BadRow { row: 1, error: RowError::RecordTooLarge { bytes, .. }, .. }) if bytes >= 10_000
        ));
        let r2 = rows[1].as_ref().unwrap();
        assert_eq!((r2.get(Field::Text), r2.line), (Some("small"), 3));
    }

    #[test]
    fn broken_quote_is_a_malformed_row_not_a_panic() {
        let data = format!("{HEADER}1,d,\"never closed,A\n2,d,ok,B\n3,d,fine,C\n");
        let rows =
            all(CsvSource::new(data.as_bytes(), &ColumnMap::default(), limits(4096)).unwrap());
        assert!(matches!(
            rows[0],
            Err(BadRow {
                error: RowError::FieldCount { want: 4, .. },
                ..
            })
        ));
    }

    #[test]
    fn missing_required_column_fails_at_the_header() {
        let err = CsvSource::new(
            &b"id,created_at,body\n1,d,x\n"[..],
            &ColumnMap::default(),
            limits(64),
        )
        .err()
        .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("\"text\"") && msg.contains("--text-col"),
            "{msg}"
        );
        assert!(matches!(
            CsvSource::new(&b""[..], &ColumnMap::default(), limits(64)),
            Err(SourceError::Empty)
        ));
    }

    #[test]
    fn jsonl_reads_values_and_reports_bad_lines() {
        let data =
            "{\"id\": 7, \"text\": \"a\", \"created_at\": \"2020-10-18\", \"lat\": 59.9}\n\n\
                    not json\n{\"id\": \"8\", \"text\": \"b\", \"created_at\": null}\n";
        let rows =
            all(JsonlSource::new(data.as_bytes(), &ColumnMap::default(), limits(1024)).unwrap());
        assert_eq!(rows.len(), 3);
        let r = rows[0].as_ref().unwrap();
        assert_eq!(
            (r.get(Field::Id), r.get(Field::Lat)),
            (Some("7"), Some("59.9"))
        );
        assert!(matches!(
            rows[1],
            Err(BadRow {
                row: 2,
                line: 3,
                error: RowError::Json(_)
            })
        ));
        assert_eq!(rows[2].as_ref().unwrap().get(Field::Date), None);
    }
}
