//! `appeal-triage demo --embeddings`: a first look at the real model. A few
//! appeals in four languages are embedded and compared, so a new user sees on
//! their own machine that the model understands that "no heating" in Ukrainian
//! and in Russian are the same complaint.

use std::time::Instant;

use triage_models::{cosine, Embedder, Role};

/// The demo appeals: (label, text).
pub const APPEALS: [(&str, &str); 8] = [
    (
        "uk heating",
        "У нашому будинку вже тиждень немає опалення, в квартирі дуже холодно.",
    ),
    (
        "ru heating",
        "В нашем доме уже неделю нет отопления, в квартире очень холодно.",
    ),
    (
        "kk heating",
        "Біздің үйде бір апта бойы жылу жоқ, пәтерде өте суық.",
    ),
    (
        "en heating",
        "There has been no heating in our building for a week; the flat is freezing.",
    ),
    (
        "ru garbage",
        "Во дворе не вывозят мусор, контейнеры переполнены уже несколько дней.",
    ),
    (
        "uk pothole",
        "На вулиці Шевченка величезна яма на дорозі, машини пошкоджують колеса.",
    ),
    (
        "en pension",
        "I have not received my pension for two months, please explain why.",
    ),
    (
        "kk lights",
        "Көшедегі шамдар түнде жанбайды, жаяу жүргіншілерге қауіпті.",
    ),
];

/// Embeds [`APPEALS`] and renders a report: timings and the cosine matrix.
pub fn run(embedder: &Embedder) -> triage_models::Result<String> {
    let texts: Vec<&str> = APPEALS.iter().map(|(_, t)| *t).collect();
    let t0 = Instant::now();
    let vectors = embedder.embed(&texts, Role::Passage)?;
    let batch_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    embedder.embed(&texts[..1], Role::Query)?;
    let single_ms = t1.elapsed().as_secs_f64() * 1e3;
    let mut out = format!(
        "model {} ({}-dim, {} weights)\nembedded {} appeals in {batch_ms:.1} ms; one query in {single_ms:.1} ms\n\ncosine similarity:\n{:>12}",
        embedder.fingerprint().short(),
        embedder.dim(),
        embedder.options().weight_format,
        texts.len(),
        ""
    );
    for (label, _) in APPEALS {
        out.push_str(&format!("{:>11}", label));
    }
    out.push('\n');
    for (i, (label, _)) in APPEALS.iter().enumerate() {
        out.push_str(&format!("{label:>12}"));
        for v in &vectors {
            out.push_str(&format!("{:>11.3}", cosine(&vectors[i], v)));
        }
        out.push('\n');
    }
    out.push_str("\nnearest other appeal:\n");
    for (i, (label, _)) in APPEALS.iter().enumerate() {
        let (j, score) = vectors
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, v)| (j, cosine(&vectors[i], v)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((i, 1.0));
        out.push_str(&format!("{label:>12} -> {} ({score:.3})\n", APPEALS[j].0));
    }
    out.push_str(
        "\ne5 cosines bunch high (0.7-0.97): compare scores, never use one fixed threshold.\n",
    );
    Ok(out)
}
