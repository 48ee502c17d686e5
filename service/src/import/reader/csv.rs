//! The CSV reader (RFC 4180 quoting through `csv-core`, bounded records).

use std::io::Read;

use super::*;

/// One CSV record as csv-core produced it, or its overflow.
enum CsvRecord {
    Fields,
    TooLarge(u64),
    TooManyFields,
    End,
}

/// Streaming CSV reader (RFC 4180 quoting, `\n` / `\r\n` line ends, UTF-8 with
/// or without BOM).
pub struct CsvSource<R> {
    input: Chunked<R>,
    core: csv_core::Reader,
    limits: ReaderLimits,
    record: Vec<u8>,
    ends: Vec<usize>,
    header_len: usize,
    /// Header position of each logical field's column.
    positions: [Option<usize>; FIELDS],
    absent: Vec<String>,
    row: u64,
    /// Line where the last record read starts.
    record_line: u64,
}

impl<R: Read> CsvSource<R> {
    /// Reads the header and resolves `columns` against it: a missing required
    /// column fails here, before any row is imported.
    pub fn new(input: R, columns: &ColumnMap, limits: ReaderLimits) -> Result<Self, SourceError> {
        let mut s = Self {
            input: Chunked::new(input),
            core: csv_core::Reader::new(),
            limits,
            record: Vec::new(),
            ends: Vec::new(),
            header_len: 0,
            positions: [None; FIELDS],
            absent: Vec::new(),
            row: 0,
            record_line: 1,
        };
        match s.read_record()? {
            CsvRecord::Fields => {}
            CsvRecord::End => return Err(SourceError::Empty),
            CsvRecord::TooLarge(_) => {
                return Err(SourceError::BadHeader(format!(
                    "longer than {} bytes (is this a CSV file?)",
                    limits.max_record_bytes
                )))
            }
            CsvRecord::TooManyFields => {
                return Err(SourceError::BadHeader(format!(
                    "more than {} columns",
                    limits.max_fields
                )))
            }
        }
        let header: Vec<String> = (0..s.ends.len())
            .map(|i| String::from_utf8_lossy(s.field(i)).trim().to_string())
            .collect();
        s.header_len = header.len();
        for field in Field::ALL {
            let Some(name) = columns.get(field) else {
                if field.required() {
                    return Err(SourceError::Unmapped {
                        field,
                        flag: field.flag(),
                    });
                }
                continue;
            };
            match header.iter().position(|h| h == name) {
                Some(p) => s.positions[field.index()] = Some(p),
                None if field.required() => {
                    return Err(SourceError::MissingColumn {
                        field,
                        flag: field.flag(),
                        column: name.to_string(),
                        found: header.join(","),
                    })
                }
                None => s.absent.push(name.to_string()),
            }
        }
        Ok(s)
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.record[start..self.ends[i]]
    }

    /// Reads one record into `record`/`ends`, or consumes an oversized one.
    fn read_record(&mut self) -> Result<CsvRecord, SourceError> {
        use csv_core::ReadRecordResult as R;
        self.record.clear();
        self.ends.clear();
        let mut out_len = 0usize;
        let mut nends = 0usize;
        // Once over a limit, output goes to scratch buffers and is dropped.
        let mut overflow: Option<CsvRecord> = None;
        let mut scratch = Vec::new();
        let mut scratch_ends = Vec::new();
        let mut total: u64 = 0;
        let mut newlines: u64 = 0;
        loop {
            if overflow.is_none() {
                if out_len == self.record.len() {
                    let grown = (self.record.len() * 2)
                        .max(4096)
                        .min(self.limits.max_record_bytes);
                    if grown <= self.record.len() {
                        overflow = Some(CsvRecord::TooLarge(0));
                    } else {
                        self.record.resize(grown, 0);
                    }
                }
                if nends == self.ends.len() {
                    let grown = (self.ends.len() * 2).max(16).min(self.limits.max_fields);
                    if grown <= self.ends.len() {
                        overflow = Some(CsvRecord::TooManyFields);
                    } else {
                        self.ends.resize(grown, 0);
                    }
                }
                if overflow.is_some() {
                    scratch.resize(CHUNK, 0);
                    scratch_ends.resize(1024, 0);
                }
            }
            let input = self.input.fill()?;
            let (res, nin, nout, nend) = match overflow {
                None => self.core.read_record(
                    input,
                    &mut self.record[out_len..],
                    &mut self.ends[nends..],
                ),
                Some(_) => self
                    .core
                    .read_record(input, &mut scratch, &mut scratch_ends),
            };
            let ended_on_lf = nin > 0 && input[nin - 1] == b'\n';
            self.input.consume(nin);
            total += nout as u64;
            let written = match overflow {
                None => &self.record[out_len..out_len + nout],
                Some(_) => &scratch[..nout],
            };
            newlines += written.iter().filter(|&&b| b == b'\n').count() as u64;
            if overflow.is_none() {
                out_len += nout;
                nends += nend;
            }
            match res {
                R::InputEmpty | R::OutputFull | R::OutputEndsFull => {}
                R::Record => {
                    // The line the record starts on: where it ends (not counting
                    // its terminator) less the line breaks inside quoted values.
                    let end = self.core.line() - u64::from(ended_on_lf);
                    self.record_line = end.saturating_sub(newlines).max(1);
                    return Ok(match overflow {
                        None => {
                            self.record.truncate(out_len);
                            self.ends.truncate(nends);
                            CsvRecord::Fields
                        }
                        Some(CsvRecord::TooLarge(_)) => CsvRecord::TooLarge(total),
                        Some(other) => other,
                    });
                }
                R::End => return Ok(CsvRecord::End),
            }
        }
    }
}

impl<R: Read> RowSource for CsvSource<R> {
    fn next_row(&mut self) -> Result<Option<Item>, SourceError> {
        let rec = self.read_record()?;
        let line = self.record_line;
        self.row += 1;
        let bad = |error| {
            Ok(Some(Err(BadRow {
                row: self.row,
                line,
                error,
            })))
        };
        match rec {
            CsvRecord::End => {
                self.row -= 1;
                Ok(None)
            }
            CsvRecord::TooLarge(bytes) => bad(RowError::RecordTooLarge {
                bytes,
                limit: self.limits.max_record_bytes,
            }),
            CsvRecord::TooManyFields => bad(RowError::FieldCount {
                got: self.limits.max_fields + 1,
                want: self.header_len,
            }),
            CsvRecord::Fields if self.ends.len() != self.header_len => bad(RowError::FieldCount {
                got: self.ends.len(),
                want: self.header_len,
            }),
            CsvRecord::Fields => {
                let mut values: [Option<String>; FIELDS] = Default::default();
                for field in Field::ALL {
                    let Some(p) = self.positions[field.index()] else {
                        continue;
                    };
                    match std::str::from_utf8(self.field(p)) {
                        Ok(s) => values[field.index()] = Some(s.to_string()),
                        Err(_) => {
                            let column = format!("{field:?}").to_lowercase();
                            return bad(RowError::InvalidUtf8 { column });
                        }
                    }
                }
                Ok(Some(Ok(RawRow {
                    row: self.row,
                    line,
                    values,
                })))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        self.input.consumed
    }

    fn absent_columns(&self) -> Vec<String> {
        self.absent.clone()
    }
}
