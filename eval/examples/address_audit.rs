//! Audits the address reader on a real export: how many texts name an
//! address it reads, and a sample of them with the keys read, to check by
//! hand (printed to a local terminal only: the sample holds the texts as
//! written, redacted first).
//!
//! `cargo run --release -p triage-eval --example address_audit -- FILE [TEXT_COL] [SAMPLE]`

use triage_domain::address::keys;
use triage_domain::pii::redact;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: address_audit FILE [TEXT_COL] [SAMPLE]"))?;
    let col = args.get(2).map_or("text", String::as_str);
    let sample: usize = args.get(3).map_or(Ok(30), |s| s.parse())?;
    let mut rdr = csv::Reader::from_path(path)?;
    let headers = rdr.headers()?.clone();
    let i = headers
        .iter()
        .position(|h| h == col)
        .ok_or_else(|| anyhow::anyhow!("no column {col}"))?;
    let (mut texts, mut with_key) = (0usize, 0usize);
    let mut found = Vec::new();
    for row in rdr.records() {
        let row = row?;
        texts += 1;
        let text = redact(row.get(i).unwrap_or("")).text;
        let k = keys(&text);
        if !k.is_empty() {
            with_key += 1;
            found.push((text, k));
        }
    }
    println!(
        "{texts} texts, {with_key} name an address ({:.1}%)",
        100.0 * with_key as f64 / texts.max(1) as f64
    );
    let step = (found.len() / sample.max(1)).max(1);
    for (text, k) in found.iter().step_by(step).take(sample) {
        let short: String = text.chars().take(300).collect();
        println!("---\n{k:?}\n{}", short.replace('\n', " "));
    }
    Ok(())
}
