//! Audits the PII masker on a real export: how many phone numbers survive
//! masking, in the shapes Kyiv's 1551 texts use (`067-123-45-67`,
//! `(044) 123 45 67`, `+380...`, `0671234567`).
//!
//! `cargo run --release -p triage-eval --example pii_audit -- FILE [TEXT_COL]`
//!
//! Prints counts, and each survivor's *shape* only (digits as `d`), never the
//! number or the text around it: the output can be pasted into a note.

use std::collections::BTreeMap;

/// A match not cut out of a longer run of digits (a 13-digit document
/// number holds a 10-digit "phone").
fn standalone(text: &str, m: &regex::Match<'_>) -> bool {
    let before = text[..m.start()].chars().next_back();
    let after = text[m.end()..].chars().next();
    !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: pii_audit FILE [TEXT_COL]"))?;
    let col = args.get(2).map_or("text", String::as_str);
    // Ukrainian mobile and Kyiv landline numbers as written in the data:
    // an optional +38 / 38 / 8, then 0XX or (0XX), then 7 digits grouped by
    // spaces or dashes; or 10 digits starting with 0 in one run.
    let phone = regex::Regex::new(
        r"(?x)
        (?:\+?3?8[\s-]?)?
        (?:\(0\d{2}\)|0\d{2})[\s-]?
        \d{3}[\s-]?\d{2}[\s-]?\d{2}
        |\+380\d{9}
        ",
    )?;
    let mut rdr = csv::Reader::from_path(path)?;
    let headers = rdr.headers()?.clone();
    let i = headers
        .iter()
        .position(|h| h == col)
        .ok_or_else(|| anyhow::anyhow!("no column {col:?}"))?;
    let (mut texts, mut before, mut after) = (0usize, 0usize, 0usize);
    let mut masked_kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    for row in rdr.records() {
        let row = row?;
        let text = triage_domain::text::normalise(&row[i]).text;
        texts += 1;
        before += phone
            .find_iter(&text)
            .filter(|m| standalone(&text, m))
            .count();
        let r = triage_domain::pii::redact(&text);
        for k in [
            triage_domain::pii::PiiKind::Phone,
            triage_domain::pii::PiiKind::Email,
        ] {
            *masked_kinds.entry(k.as_str().to_string()).or_default() += r.count(k);
        }
        for m in phone.find_iter(&r.text).filter(|m| standalone(&r.text, m)) {
            after += 1;
            // The number with two characters of context on each side, as a
            // shape: digits `d`, letters `a`.
            let lo = r.text[..m.start()]
                .char_indices()
                .rev()
                .nth(1)
                .map_or(0, |(i, _)| i);
            let hi = r.text[m.end()..]
                .char_indices()
                .nth(2)
                .map_or(r.text.len(), |(i, _)| m.end() + i);
            let shape: String = r.text[lo..hi]
                .chars()
                .map(|c| match c {
                    c if c.is_ascii_digit() => 'd',
                    c if c.is_alphabetic() => 'a',
                    c => c,
                })
                .collect();
            *shapes.entry(shape).or_default() += 1;
        }
    }
    println!("texts: {texts}");
    println!("phone-shaped numbers before masking: {before}");
    println!("masked by kind: {masked_kinds:?}");
    println!("phone-shaped numbers left after masking: {after}");
    let mut by_count: Vec<(&String, &usize)> = shapes.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    for (shape, n) in by_count.into_iter().take(25) {
        println!("  {n:>6}  {shape}");
    }
    Ok(())
}
