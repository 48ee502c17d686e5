//! Reads labelled appeals from CSV or JSONL, one record at a time (a 2 GB file
//! is never held in memory beyond the parsed rows), and checks every value,
//! naming the row and the column of anything wrong.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::InputError;
use crate::progress;
use crate::router::LabelledAppeal;
use crate::timeparse::parse_timestamp_ms;

/// File format of the evaluation data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma separated, first line is the header, RFC 4180 quoting.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format implied by the file extension (`.csv`; `.jsonl`, `.ndjson`).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// Which column holds what. Defaults match `spb-appeals-dev.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMap {
    /// Appeal id (required, unique per file).
    pub id: String,
    /// Appeal text (required; may be empty).
    pub text: String,
    /// Department label (required, non-empty).
    pub label: String,
    /// Creation timestamp (required).
    pub date: String,
    /// District (optional column).
    pub district: String,
    /// Municipality (optional column).
    pub municipality: String,
    /// Latitude (optional column).
    pub lat: String,
    /// Longitude (optional column).
    pub lon: String,
    /// Columns of the portal's category, general to specific (at most
    /// [`MAX_CATEGORY_COLS`]; empty: no category is read).
    pub category: Vec<String>,
    /// The date column may be missing (k-fold needs no time): rows then get
    /// their row number as their time, so they keep file order.
    #[serde(skip)]
    pub date_optional: bool,
}

/// Most category columns read (the levels of a category path).
pub const MAX_CATEGORY_COLS: usize = 4;

/// Values read per record: id, text, label, date, district, municipality,
/// lat, lon, then the category levels.
const FIELDS: usize = 8 + MAX_CATEGORY_COLS;

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            id: "id".into(),
            text: "text".into(),
            label: "department".into(),
            date: "created_at".into(),
            district: "district".into(),
            municipality: "municipality".into(),
            lat: "lat".into(),
            lon: "lon".into(),
            category: Vec::new(),
            date_optional: false,
        }
    }
}

/// A required column: name, role (for messages) and the flag renaming it.
struct Required<'a> {
    name: &'a str,
    role: &'static str,
    flag: &'static str,
}

impl ColumnMap {
    /// The column of each value read, in `FIELDS` order.
    fn names(&self) -> [Option<&str>; FIELDS] {
        let fixed = [
            &self.id,
            &self.text,
            &self.label,
            &self.date,
            &self.district,
            &self.municipality,
            &self.lat,
            &self.lon,
        ];
        std::array::from_fn(|i| match fixed.get(i) {
            Some(name) => Some(name.as_str()),
            None => self.category.get(i - fixed.len()).map(String::as_str),
        })
    }

    fn required(&self) -> Vec<Required<'_>> {
        let mut all = vec![
            Required {
                name: &self.id,
                role: "appeal id",
                flag: "--id-col",
            },
            Required {
                name: &self.text,
                role: "appeal text",
                flag: "--text-col",
            },
            Required {
                name: &self.label,
                role: "department label",
                flag: "--label-col",
            },
            Required {
                name: &self.date,
                role: "creation date",
                flag: "--date-col",
            },
        ];
        if self.date_optional {
            all.pop();
        }
        all
    }
}

/// Reads every appeal of `path`; `format` overrides the extension.
pub fn read_appeals(
    path: &Path,
    format: Option<Format>,
    cols: &ColumnMap,
) -> Result<Vec<LabelledAppeal>, InputError> {
    let format =
        format
            .or_else(|| Format::from_path(path))
            .ok_or_else(|| InputError::UnknownFormat {
                path: path.to_path_buf(),
            })?;
    let file = File::open(path).map_err(|source| InputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress::bytes(len, &format!("reading {}", short_name(path)));
    let mut builder = Builder {
        path: path.to_path_buf(),
        cols,
        seen: HashMap::new(),
        rows: Vec::new(),
    };
    let res = match format {
        Format::Csv => read_csv(file, &mut builder, &bar),
        Format::Jsonl => read_jsonl(file, &mut builder, &bar),
    };
    bar.finish_and_clear();
    res?;
    if builder.rows.is_empty() {
        return Err(InputError::NoRows {
            path: path.to_path_buf(),
        });
    }
    Ok(builder.rows)
}

fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_csv(
    file: File,
    b: &mut Builder<'_>,
    bar: &indicatif::ProgressBar,
) -> Result<(), InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let headers = rdr.headers().map_err(|e| csv_error(&b.path, 0, e))?.clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].trim().is_empty()) {
        return Err(InputError::Empty {
            path: b.path.clone(),
        });
    }
    let index: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let found = headers.iter().collect::<Vec<_>>().join(", ");
    for r in b.cols.required() {
        if !index.contains_key(r.name) {
            return Err(InputError::MissingColumn {
                path: b.path.clone(),
                column: r.name.to_string(),
                role: r.role,
                flag: r.flag,
                found,
            });
        }
    }
    let pos = |name: &str| index.get(name).copied();
    let cols = b.cols;
    for c in &cols.category {
        if !index.contains_key(c.as_str()) {
            return Err(InputError::MissingColumn {
                path: b.path.clone(),
                column: c.clone(),
                role: "category level",
                flag: "--category-cols",
                found,
            });
        }
    }
    let names = cols.names();
    let at: [Option<usize>; FIELDS] = std::array::from_fn(|i| names[i].and_then(pos));
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(&b.path, row + 1, e)),
        }
        row += 1;
        let get = |i: usize| at[i].and_then(|j| record.get(j));
        let fields: [Option<&str>; FIELDS] = std::array::from_fn(get);
        b.push(row, fields)?;
        if row.is_multiple_of(4096) {
            bar.set_position(record.position().map(|p| p.byte()).unwrap_or(0));
        }
    }
    Ok(())
}

fn csv_error(path: &Path, row: usize, e: csv::Error) -> InputError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => InputError::Io { path: path.to_path_buf(), source },
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => InputError::BadRow {
            path: path.to_path_buf(),
            row,
            line,
            problem: format!(
                "has {len} fields but the header has {expected_len} (an unclosed or stray quote, or a missing separator?)"
            ),
        },
        csv::ErrorKind::Utf8 { err, .. } => InputError::BadRow {
            path: path.to_path_buf(),
            row,
            line,
            problem: format!("not valid UTF-8 ({err})"),
        },
        other => InputError::BadRow {
            path: path.to_path_buf(),
            row,
            line,
            problem: format!("{other:?}"),
        },
    }
}

fn read_jsonl(
    file: File,
    b: &mut Builder<'_>,
    bar: &indicatif::ProgressBar,
) -> Result<(), InputError> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    let (mut line_no, mut row, mut bytes) = (0u64, 0usize, 0u64);
    let cols = b.cols.clone();
    let names = cols.names();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|source| InputError::Io {
                path: b.path.clone(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        bytes += n as u64;
        if line.trim().is_empty() {
            continue;
        }
        row += 1;
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&line).map_err(|e| InputError::BadRow {
                path: b.path.clone(),
                row,
                line: line_no,
                problem: format!("not a JSON object: {e}"),
            })?;
        let mut owned: [Option<String>; FIELDS] = Default::default();
        for (slot, name) in owned.iter_mut().zip(names) {
            let Some(name) = name else { continue };
            *slot = match obj.get(name) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    Some(v.to_string())
                }
                Some(_) => {
                    return Err(InputError::BadValue {
                        path: b.path.clone(),
                        row,
                        column: name.to_string(),
                        problem: "expected a string or a number, found an array or object".into(),
                    })
                }
            };
        }
        for (i, r) in cols.required().iter().enumerate() {
            if owned[i].is_none() && i != 1 {
                return Err(InputError::BadValue {
                    path: b.path.clone(),
                    row,
                    column: r.name.to_string(),
                    problem: format!(
                        "missing or null (the {}; choose another key with {})",
                        r.role, r.flag
                    ),
                });
            }
        }
        if !obj.contains_key(cols.text.as_str()) {
            return Err(InputError::BadValue {
                path: b.path.clone(),
                row,
                column: cols.text.clone(),
                problem: "missing (the appeal text; choose another key with --text-col)".into(),
            });
        }
        let fields: [Option<&str>; FIELDS] = std::array::from_fn(|i| owned[i].as_deref());
        b.push(row, fields)?;
        if row.is_multiple_of(4096) {
            bar.set_position(bytes);
        }
    }
    if line_no == 0 {
        return Err(InputError::Empty {
            path: b.path.clone(),
        });
    }
    Ok(())
}

/// A value trimmed, `None` when empty.
fn opt_str(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Validates one record's fields and collects the appeal.
struct Builder<'a> {
    path: PathBuf,
    cols: &'a ColumnMap,
    seen: HashMap<String, usize>,
    rows: Vec<LabelledAppeal>,
}

impl Builder<'_> {
    /// `f` holds id, text, label, date, district, municipality, lat, lon and
    /// the category levels.
    fn push(&mut self, row: usize, f: [Option<&str>; FIELDS]) -> Result<(), InputError> {
        let bad = |column: &str, problem: String| InputError::BadValue {
            path: self.path.clone(),
            row,
            column: column.to_string(),
            problem,
        };
        let id = f[0].unwrap_or("").trim();
        if id.is_empty() {
            return Err(bad(&self.cols.id, "empty id".into()));
        }
        let label = f[2].unwrap_or("").trim();
        if label.is_empty() {
            return Err(bad(
                &self.cols.label,
                "empty label (every evaluation row needs its department)".into(),
            ));
        }
        let date_raw = f[3].unwrap_or("");
        let created_at = if self.cols.date_optional && date_raw.trim().is_empty() {
            Some(row as i64)
        } else {
            parse_timestamp_ms(date_raw)
        };
        let created_at = created_at.ok_or_else(|| {
            bad(
                &self.cols.date,
                format!("cannot parse date `{date_raw}` (expected ISO 8601 or unix milliseconds)"),
            )
        })?;
        let coord = |i: usize, column: &str, limit: f64| -> Result<Option<f64>, InputError> {
            match f[i].map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v.is_finite() && v.abs() <= limit => Ok(Some(v)),
                    _ => Err(bad(
                        column,
                        format!("`{s}` is not a coordinate in [-{limit}, {limit}]"),
                    )),
                },
            }
        };
        // As the import reads them: 0/0 is no coordinates.
        let (lat, lon) = triage_domain::known_coordinates(
            coord(6, &self.cols.lat, 90.0)?,
            coord(7, &self.cols.lon, 180.0)?,
        );
        if let Some(first) = self.seen.get(id) {
            return Err(InputError::DuplicateId {
                path: self.path.clone(),
                row,
                column: self.cols.id.clone(),
                id: id.to_string(),
                first: *first,
            });
        }
        self.seen.insert(id.to_string(), row);
        let opt = |i: usize| opt_str(f[i]);
        self.rows.push(LabelledAppeal {
            row,
            id: id.to_string(),
            text: f[1].unwrap_or("").to_string(),
            label: label.to_string(),
            created_at,
            district: opt(4),
            municipality: opt(5),
            lat,
            lon,
            category: f[8..]
                .iter()
                .map_while(|v| opt_str(*v))
                .map(|l| triage_domain::category::truncate_level(&l))
                .collect(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(ext: &str, body: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(body.as_bytes()).unwrap();
        f
    }

    fn read(ext: &str, body: &str) -> Result<Vec<LabelledAppeal>, InputError> {
        let f = file(ext, body);
        read_appeals(f.path(), None, &ColumnMap::default())
    }

    const HEADER: &str = "id,created_at,text,district,lat,lon,department\n";

    #[test]
    fn zero_zero_is_no_coordinates_as_in_the_import() {
        let rows = read(
            ".csv",
            &format!("{HEADER}1,2021-01-01,a,,0,0,D\n2,2021-01-01,b,,0,30.5,D\n"),
        )
        .unwrap();
        assert_eq!((rows[0].lat, rows[0].lon), (None, None));
        assert_eq!((rows[1].lat, rows[1].lon), (Some(0.0), Some(30.5)));
    }

    #[test]
    fn reads_csv_with_quotes_newlines_and_optional_fields() {
        let rows = read(
            ".csv",
            &format!("{HEADER}1,2021-01-01T10:00:00,\"two\nlines, \"\"quoted\"\"\",Приморский,59.9,30.2,Dept A\n2,2021-01-02,plain,,,,Dept B\n"),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "two\nlines, \"quoted\"");
        assert_eq!(rows[0].district.as_deref(), Some("Приморский"));
        assert_eq!(rows[0].lat, Some(59.9));
        assert_eq!(rows[1].row, 2);
        assert_eq!(rows[1].district, None);
        assert_eq!(rows[1].lon, None);
        assert_eq!(rows[1].municipality, None, "absent optional column is None");
    }

    #[test]
    fn reads_jsonl_with_numbers_and_nulls() {
        let rows = read(
            ".jsonl",
            "{\"id\": 7, \"created_at\": \"2021-01-01\", \"text\": \"t\", \"department\": \"D\", \"lat\": 59.5, \"district\": null}\n\n{\"id\": \"8\", \"created_at\": 1612137600000, \"text\": \"\", \"department\": \"E\"}\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "7");
        assert_eq!(rows[0].lat, Some(59.5));
        assert_eq!(rows[0].district, None);
        assert_eq!(rows[1].created_at, 1_612_137_600_000);
    }

    fn err(ext: &str, body: &str) -> String {
        read(ext, body).unwrap_err().to_string()
    }

    #[test]
    fn bad_input_names_row_and_column() {
        let e = err(".csv", "id,text,created_at\n1,a,2021-01-01\n");
        assert!(
            e.contains("no column `department`") && e.contains("--label-col"),
            "{e}"
        );
        let e = err(
            ".csv",
            &format!("{HEADER}1,2021-01-01,a,,,,D\n2,2021-01-01,b,,,, \n"),
        );
        assert!(e.contains("row 2, column `department`: empty label"), "{e}");
        let e = err(".csv", &format!("{HEADER}1,01/02/2021,a,,,,D\n"));
        assert!(
            e.contains("row 1, column `created_at`: cannot parse date `01/02/2021`"),
            "{e}"
        );
        let e = err(
            ".csv",
            &format!("{HEADER}1,2021-01-01,a,,,,D\n2,2021-01-01,b,,,,D\n1,2021-01-01,c,,,,D\n"),
        );
        assert!(
            e.contains("row 3, column `id`: id `1` already used by row 1"),
            "{e}"
        );
        let e = err(
            ".csv",
            &format!("{HEADER}1,2021-01-01,\"open quote,,,,D\n2,2021-01-01,b,,,,D\n"),
        );
        assert!(e.contains("row 1 (line 2)") && e.contains("quote"), "{e}");
        let e = err(".csv", &format!("{HEADER}1,2021-01-01,a,,91.5,,D\n"));
        assert!(e.contains("row 1, column `lat`"), "{e}");
        assert!(err(".csv", "").contains("the file is empty"));
        assert!(err(".csv", HEADER).contains("no data rows"));
        assert!(err(".jsonl", "").contains("the file is empty"));
        let e = err(
            ".jsonl",
            "{\"id\":1,\"created_at\":\"2021-01-01\",\"text\":\"a\",\"department\":\"D\"}\n{oops\n",
        );
        assert!(e.contains("row 2 (line 2): not a JSON object"), "{e}");
        let e = err(
            ".jsonl",
            "{\"id\":1,\"created_at\":\"2021-01-01\",\"text\":\"a\"}\n",
        );
        assert!(e.contains("row 1, column `department`: missing"), "{e}");
        assert!(err(".txt", "x").contains("--format"));
    }

    /// A 2 GB input is streamed: fed through a pipe by a writer that would
    /// write 2 GB, the reader reports the bad row 1001 (row and column) after
    /// the writer has written only a few megabytes, i.e. without loading the
    /// file first. (A pipe, so the test needs no disk space.)
    #[cfg(unix)]
    #[test]
    fn a_2gb_input_is_streamed_and_fails_at_its_bad_row() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        const TOTAL: u64 = 2 << 30;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("big.csv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let written = Arc::new(AtomicU64::new(0));
        let writer = {
            let (fifo, written) = (fifo.clone(), written.clone());
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
                let mut chunk = String::from(HEADER);
                for i in 1..=1000 {
                    chunk.push_str(&format!("{i},2021-01-01,яма во дворе номер {i},,,,D\n"));
                }
                chunk.push_str("1001,someday,bad date,,,,D\n");
                let mut n = 1002u64;
                while written.load(Ordering::Relaxed) < TOTAL {
                    if f.write_all(chunk.as_bytes()).is_err() {
                        return; // the reader is gone
                    }
                    written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    chunk.clear();
                    for _ in 0..1000 {
                        chunk.push_str(&format!("{n},2021-01-01,ещё одна строка {n},,,,D\n"));
                        n += 1;
                    }
                }
            })
        };
        let e = read_appeals(&fifo, Some(Format::Csv), &ColumnMap::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 1001, column `created_at`: cannot parse date `someday`"),
            "{e}"
        );
        writer.join().unwrap();
        let w = written.load(Ordering::Relaxed);
        assert!(
            w < 64 << 20,
            "the reader stopped the writer after {w} bytes of {TOTAL}"
        );
    }

    #[test]
    fn column_mapping_and_format_override() {
        let f = file(".txt", "key,body,when,to\nk1,hello,2021-01-01,X\n");
        let cols = ColumnMap {
            id: "key".into(),
            text: "body".into(),
            date: "when".into(),
            label: "to".into(),
            ..ColumnMap::default()
        };
        let rows = read_appeals(f.path(), Some(Format::Csv), &cols).unwrap();
        assert_eq!(
            (
                rows[0].id.as_str(),
                rows[0].text.as_str(),
                rows[0].label.as_str()
            ),
            ("k1", "hello", "X")
        );
    }
}
