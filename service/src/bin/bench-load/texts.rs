//! The appeals the load sends: text and district of a CSV export (the shared
//! St Petersburg file's columns), cycled, each request with a unique external
//! id so the server stores and routes every one (none is an idempotent repeat).

use std::path::Path;

use anyhow::{bail, Context};
use serde::Serialize;

/// One appeal of the input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appeal {
    /// Text as the citizen wrote it.
    pub text: String,
    /// District, when the row names one.
    pub district: Option<String>,
}

/// Reads the `text` and `district` columns (found by header name; `district`
/// optional) of a CSV file, skipping empty texts.
pub fn load(path: &Path) -> anyhow::Result<Vec<Appeal>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("--texts {}: cannot open", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("--texts {}: no header row", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let Some(text_col) = column("text") else {
        bail!(
            "--texts {}: no `text` column (columns: {})",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        );
    };
    let district_col = column("district");
    let mut appeals = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("--texts {}: row {}", path.display(), i + 2))?;
        let text = row.get(text_col).unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let district = district_col
            .and_then(|c| row.get(c))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        appeals.push(Appeal {
            text: text.to_string(),
            district,
        });
    }
    if appeals.is_empty() {
        bail!("--texts {}: no appeal with a text", path.display());
    }
    Ok(appeals)
}

/// The JSON body of `POST /v1/appeals`.
#[derive(Serialize)]
struct Body<'a> {
    text: &'a str,
    external_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    place: Option<Place<'a>>,
    channel: &'static str,
}

#[derive(Serialize)]
struct Place<'a> {
    district: &'a str,
}

/// Request bodies cycling through the appeals, with external ids
/// `<run>-<n>` unique within the run (`run` makes them unique across runs).
#[derive(Debug)]
pub struct Bodies {
    appeals: Vec<Appeal>,
    run: String,
    sent: u64,
}

impl Bodies {
    /// Bodies over `appeals` (not empty) for the run named `run`.
    pub fn new(appeals: Vec<Appeal>, run: String) -> Self {
        Self {
            appeals,
            run,
            sent: 0,
        }
    }

    /// The next body; the phases of a run continue the same cycle.
    pub fn next_body(&mut self) -> Vec<u8> {
        let appeal = &self.appeals[(self.sent % self.appeals.len() as u64) as usize];
        let body = Body {
            text: &appeal.text,
            external_id: format!("{}-{}", self.run, self.sent),
            place: appeal
                .district
                .as_deref()
                .map(|district| Place { district }),
            channel: "web",
        };
        self.sent += 1;
        serde_json::to_vec(&body).expect("a struct of strings serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::Write;

    #[test]
    fn loads_text_and_district_by_header_and_cycles_with_unique_ids() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        write!(
            f,
            "id,text,district,department\n\
             1,\"Мусор, не вывозят\nнеделю\",Невский,a\n\
             2,   ,Приморский,b\n\
             3,Яма на дороге,,c\n"
        )
        .unwrap();
        let appeals = load(f.path()).unwrap();
        assert_eq!(
            appeals,
            vec![
                Appeal {
                    text: "Мусор, не вывозят\nнеделю".into(),
                    district: Some("Невский".into())
                },
                Appeal {
                    text: "Яма на дороге".into(),
                    district: None
                },
            ]
        );
        let mut bodies = Bodies::new(appeals, "bench-load-7".into());
        let v: Vec<serde_json::Value> = (0..5)
            .map(|_| serde_json::from_slice(&bodies.next_body()).unwrap())
            .collect();
        assert_eq!(v[0]["place"]["district"], "Невский");
        assert_eq!(v[0]["channel"], "web");
        assert!(v[1].get("place").is_none(), "no district, no place");
        assert_eq!(v[2]["text"], v[0]["text"], "the cycle restarts");
        let ids: HashSet<&str> = v
            .iter()
            .map(|b| b["external_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.contains("bench-load-7-4"));
    }

    #[test]
    fn a_file_without_a_text_column_is_refused_by_name() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "id,body\n1,x").unwrap();
        let e = load(f.path()).unwrap_err().to_string();
        assert!(
            e.contains("no `text` column") && e.contains("id, body"),
            "{e}"
        );
    }
}
