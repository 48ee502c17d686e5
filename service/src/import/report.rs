//! What an import did: per-row rejections (to a CSV file and a stderr summary)
//! and the final counts.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::reader::{BadRow, RowError};

/// Why a row was not imported.
#[derive(Debug, Clone, PartialEq)]
pub enum RejectReason {
    /// The row could not be read (malformed CSV or JSON, oversized record, bad UTF-8).
    Unreadable(RowError),
    /// No id: the row could never be matched on a re-run, so it is refused.
    MissingId,
    /// The id is longer than the limit.
    IdTooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Empty or whitespace-only text.
    MissingText,
    /// A text with no letter or digit once control characters are dropped
    /// (nothing to route on).
    NoContent,
    /// A category path that is not valid (too many levels, an empty or
    /// overlong level).
    BadCategory(String),
    /// Text over the configured `max_text_bytes`.
    TextTooLarge {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// No date.
    MissingDate,
    /// A date in no accepted format.
    BadDate(String),
    /// A latitude or longitude that is not a number in range.
    BadCoordinate {
        /// `lat` or `lon`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A status that is not one of ours.
    BadStatus(String),
    /// The id is already stored with a different text: importing would silently
    /// keep the old one, so it is reported instead.
    ConflictingDuplicate {
        /// The stored appeal's record id.
        existing: i64,
    },
    /// The id repeats an earlier row of the same batch with a different text.
    ConflictingRepeat {
        /// The earlier row.
        first_row: u64,
    },
}

impl RejectReason {
    /// Short stable code, the first column of the rejects file.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable(RowError::RecordTooLarge { .. }) => "record_too_large",
            Self::Unreadable(RowError::FieldCount { .. }) => "malformed_row",
            Self::Unreadable(RowError::InvalidUtf8 { .. }) => "invalid_utf8",
            Self::Unreadable(RowError::Json(_)) => "malformed_json",
            Self::MissingId => "missing_id",
            Self::IdTooLong { .. } => "id_too_long",
            Self::MissingText => "missing_text",
            Self::NoContent => "no_content",
            Self::BadCategory(_) => "bad_category",
            Self::TextTooLarge { .. } => "text_too_large",
            Self::MissingDate => "missing_date",
            Self::BadDate(_) => "bad_date",
            Self::BadCoordinate { .. } => "bad_coordinate",
            Self::BadStatus(_) => "bad_status",
            Self::ConflictingDuplicate { .. } => "conflicting_duplicate",
            Self::ConflictingRepeat { .. } => "conflicting_duplicate",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(e) => e.fmt(f),
            Self::MissingId => f.write_str("missing id"),
            Self::IdTooLong { bytes, limit } => write!(f, "id of {bytes} bytes exceeds {limit}"),
            Self::MissingText => f.write_str("missing text"),
            Self::NoContent => f.write_str("text has no letter or digit"),
            Self::BadCategory(e) => f.write_str(e),
            Self::TextTooLarge { bytes, limit } => {
                write!(f, "text of {bytes} bytes exceeds the {limit}-byte limit")
            }
            Self::MissingDate => f.write_str("missing date"),
            Self::BadDate(v) => write!(
                f,
                "unparseable date {v:?} (expected RFC 3339, YYYY-MM-DD[THH:MM:SS[.f]] or YYYY-MM-DD)"
            ),
            Self::BadCoordinate { field, value } => {
                write!(f, "{field} {value:?} is not a coordinate")
            }
            Self::BadStatus(v) => write!(f, "unknown status {v:?}"),
            Self::ConflictingDuplicate { existing } => write!(
                f,
                "id already stored (appeal {existing}) with a different text; not overwritten"
            ),
            Self::ConflictingRepeat { first_row } => {
                write!(f, "id repeats row {first_row} with a different text")
            }
        }
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// 1-based data row number.
    pub row: u64,
    /// Line where the row starts.
    pub line: u64,
    /// The row's id, when it could be read.
    pub external_id: Option<String>,
    /// Why.
    pub reason: RejectReason,
}

impl From<BadRow> for Reject {
    fn from(b: BadRow) -> Self {
        Self {
            row: b.row,
            line: b.line,
            external_id: None,
            reason: RejectReason::Unreadable(b.error),
        }
    }
}

/// Where rejections go: counted by reason, the first few kept for the stderr
/// summary, all of them written to the optional rejects CSV as they happen (so
/// the list never grows in memory).
pub struct RejectLog {
    file: Option<csv::Writer<std::fs::File>>,
    first: Vec<Reject>,
    by_code: std::collections::BTreeMap<&'static str, u64>,
    total: u64,
}

/// Rejections kept in memory for the summary.
const KEPT: usize = 10;

impl RejectLog {
    /// A log writing every rejection to `path` (CSV: row, line, id, code, reason)
    /// when given.
    pub fn new(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => {
                let mut w = csv::Writer::from_path(p).map_err(std::io::Error::other)?;
                w.write_record(["row", "line", "id", "code", "reason"])
                    .map_err(std::io::Error::other)?;
                Some(w)
            }
            None => None,
        };
        Ok(Self {
            file,
            first: Vec::new(),
            by_code: Default::default(),
            total: 0,
        })
    }

    /// Records one rejection.
    pub fn push(&mut self, r: Reject) -> std::io::Result<()> {
        self.total += 1;
        *self.by_code.entry(r.reason.code()).or_default() += 1;
        if let Some(w) = &mut self.file {
            w.write_record([
                r.row.to_string(),
                r.line.to_string(),
                r.external_id.clone().unwrap_or_default(),
                r.reason.code().to_string(),
                r.reason.to_string(),
            ])
            .map_err(std::io::Error::other)?;
        }
        if self.first.len() < KEPT {
            self.first.push(r);
        }
        Ok(())
    }

    /// Flushes the rejects file.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(w) = &mut self.file {
            w.flush()?;
        }
        Ok(())
    }

    /// Rejections so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts by reason code.
    pub fn by_code(&self) -> &std::collections::BTreeMap<&'static str, u64> {
        &self.by_code
    }

    /// The first rejections (at most 10), for the summary.
    pub fn first(&self) -> &[Reject] {
        &self.first
    }

    /// A human summary: counts by reason and the first few rows.
    pub fn write_summary(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.total == 0 {
            return Ok(());
        }
        writeln!(out, "rejected rows by reason:")?;
        for (code, n) in &self.by_code {
            writeln!(out, "  {code}: {n}")?;
        }
        writeln!(out, "first rejected rows:")?;
        for r in &self.first {
            writeln!(
                out,
                "  row {} (line {}){}: {}",
                r.row,
                r.line,
                r.external_id
                    .as_deref()
                    .map(|id| format!(" id {id}"))
                    .unwrap_or_default(),
                r.reason
            )?;
        }
        Ok(())
    }
}

/// Counts of a finished (or interrupted) import.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportStats {
    /// Data rows read (good or bad).
    pub read: u64,
    /// New appeals committed to the record (and indexed).
    pub imported: u64,
    /// Rows whose id was already in the record before this run (a resumed import).
    pub already_present: u64,
    /// Rows repeating an id seen earlier in this file with the same text.
    pub duplicates: u64,
    /// Rows refused (see the rejects log).
    pub rejected: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl ImportStats {
    /// New appeals per second of wall time.
    pub fn rate(&self) -> f64 {
        self.imported as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Rows skipped without change (already present + duplicates).
    pub fn skipped(&self) -> u64 {
        self.already_present + self.duplicates
    }
}

impl std::fmt::Display for ImportStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {}, imported {}, skipped {} (already present {}, duplicates in file {}), \
             rejected {}, {:.1} s, {:.1} appeals/s",
            self.read,
            self.imported,
            self.skipped(),
            self.already_present,
            self.duplicates,
            self.rejected,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}
