//! Typed errors of the library: what is wrong with the input, precisely where.

use std::path::PathBuf;

/// Why an evaluation data file could not be read. Every variant names the file
/// and, where it applies, the row (1-based data record) and the column.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file has no header (CSV) or no line at all (JSONL).
    #[error("{path}: the file is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The header has no row of data under it.
    #[error("{path}: no data rows after the header")]
    NoRows {
        /// The file.
        path: PathBuf,
    },
    /// A required column is not in the header.
    #[error("{path}: no column `{column}` (the {role}; choose another with {flag}); columns found: {found}")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column looked for.
        column: String,
        /// What it is used for.
        role: &'static str,
        /// The flag that renames it.
        flag: &'static str,
        /// Columns present in the header, comma separated.
        found: String,
    },
    /// A value in a known row and column is missing or malformed.
    #[error("{path}: row {row}, column `{column}`: {problem}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based data record number.
        row: usize,
        /// The column.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// A row cannot be parsed at all (broken CSV quoting, invalid JSON).
    #[error("{path}: row {row} (line {line}): {problem}")]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based data record number.
        row: usize,
        /// 1-based line in the file where the record starts.
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// The same id appears twice in one file.
    #[error("{path}: row {row}, column `{column}`: id `{id}` already used by row {first}")]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// 1-based data record number of the second occurrence.
        row: usize,
        /// The id column.
        column: String,
        /// The duplicated id.
        id: String,
        /// Row of the first occurrence.
        first: usize,
    },
    /// The format cannot be told from the file name.
    #[error(
        "{path}: cannot tell the format from the extension; pass --format csv or --format jsonl"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
}

/// Why a split cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// One side of the split has no rows.
    #[error("the {side} part of the split is empty ({rule}); check the dates or the files")]
    EmptySide {
        /// `train` or `test`.
        side: &'static str,
        /// The rule, human readable.
        rule: String,
    },
    /// The split's parameters contradict each other.
    #[error("invalid split: {0}")]
    Invalid(String),
}
