//! The JSON Lines reader (one object per line, bounded records).

use std::io::Read;

use super::*;

/// Streaming JSON Lines reader: one JSON object per line, keys named by the
/// column map; blank lines are skipped.
pub struct JsonlSource<R> {
    input: Chunked<R>,
    limits: ReaderLimits,
    keys: Vec<(Field, String)>,
    line_buf: Vec<u8>,
    line: u64,
    row: u64,
}

impl<R: Read> JsonlSource<R> {
    /// A reader of `input`; required fields must have a key configured.
    pub fn new(input: R, columns: &ColumnMap, limits: ReaderLimits) -> Result<Self, SourceError> {
        let mut keys = Vec::new();
        for field in Field::ALL {
            match columns.get(field) {
                Some(k) => keys.push((field, k.to_string())),
                None if field.required() => {
                    return Err(SourceError::Unmapped {
                        field,
                        flag: field.flag(),
                    })
                }
                None => {}
            }
        }
        Ok(Self {
            input: Chunked::new(input),
            limits,
            keys,
            line_buf: Vec::new(),
            line: 0,
            row: 0,
        })
    }

    /// Reads one line (without its terminator); `Ok(None)` at end of input,
    /// `Ok(Some(Err(bytes)))` for a line over the limit (consumed, not kept).
    fn read_line(&mut self) -> std::io::Result<Option<Result<(), u64>>> {
        self.line_buf.clear();
        let mut total: u64 = 0;
        let mut too_long = false;
        loop {
            let chunk = self.input.fill()?;
            if chunk.is_empty() {
                if total == 0 {
                    return Ok(None);
                }
                break;
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            total += take as u64;
            if !too_long && total as usize > self.limits.max_record_bytes {
                too_long = true;
                self.line_buf = Vec::new();
            }
            if !too_long {
                self.line_buf.extend_from_slice(&chunk[..take]);
            }
            self.input.consume(take + done as usize);
            if done {
                break;
            }
        }
        self.line += 1;
        if too_long {
            return Ok(Some(Err(total)));
        }
        if self.line_buf.last() == Some(&b'\r') {
            self.line_buf.pop();
        }
        Ok(Some(Ok(())))
    }

    fn parse(&self) -> Result<[Option<String>; FIELDS], RowError> {
        let text = std::str::from_utf8(&self.line_buf).map_err(|_| RowError::InvalidUtf8 {
            column: "(line)".into(),
        })?;
        let obj: HashMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| RowError::Json(e.to_string()))?;
        let mut values: [Option<String>; FIELDS] = Default::default();
        for (field, key) in &self.keys {
            values[field.index()] = match obj.get(key) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    Some(v.to_string())
                }
                Some(_) => {
                    return Err(RowError::Json(format!(
                        "key {key:?} holds an object or array, not a value"
                    )))
                }
            };
        }
        Ok(values)
    }
}

impl<R: Read> RowSource for JsonlSource<R> {
    fn next_row(&mut self) -> Result<Option<Item>, SourceError> {
        loop {
            let Some(read) = self.read_line()? else {
                return Ok(None);
            };
            let line = self.line;
            if read.is_ok() && self.line_buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.row += 1;
            let row = self.row;
            let item = match read {
                Err(bytes) => Err(BadRow {
                    row,
                    line,
                    error: RowError::RecordTooLarge {
                        bytes,
                        limit: self.limits.max_record_bytes,
                    },
                }),
                Ok(()) => match self.parse() {
                    Ok(values) => Ok(RawRow { row, line, values }),
                    Err(error) => Err(BadRow { row, line, error }),
                },
            };
            return Ok(Some(item));
        }
    }

    fn bytes_read(&self) -> u64 {
        self.input.consumed
    }
}
