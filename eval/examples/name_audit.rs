//! Audits person-name masking on a real export: how many texts and names
//! are masked, and a sample of masked texts to check by hand (printed to a
//! local terminal only: the sample holds the texts as written).
//!
//! `cargo run --release -p triage-eval --example name_audit -- FILE [TEXT_COL] [SAMPLE]`

use triage_domain::pii::{redact, PiiKind};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: name_audit FILE [TEXT_COL] [SAMPLE]"))?;
    let col = args.get(2).map_or("text", String::as_str);
    let sample: usize = args.get(3).map_or(Ok(40), |s| s.parse())?;
    let mut rdr = csv::Reader::from_path(path)?;
    let headers = rdr.headers()?.clone();
    let i = headers
        .iter()
        .position(|h| h == col)
        .ok_or_else(|| anyhow::anyhow!("no column {col}"))?;
    let (mut texts, mut with_names, mut names) = (0usize, 0usize, 0usize);
    let mut masked = Vec::new();
    for row in rdr.records() {
        let row = row?;
        let text = row.get(i).unwrap_or("");
        texts += 1;
        let r = redact(text);
        let n = r.count(PiiKind::Name);
        if n > 0 {
            with_names += 1;
            names += n;
            masked.push((text.to_string(), r.text));
        }
    }
    println!("{texts} texts, {with_names} with a masked name, {names} names masked");
    // Every k-th masked text: a fixed, spread sample.
    let step = (masked.len() / sample.max(1)).max(1);
    for (before, after) in masked.iter().step_by(step).take(sample) {
        println!("---\n{before}\n=> {after}");
    }
    Ok(())
}
