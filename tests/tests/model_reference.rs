//! Our embedder against the independent numpy forward pass
//! (`scripts/reference/`), on the tiny fixture and on the real model.
//! The real-model tests need `appeal-triage model install`; they fail, loudly,
//! without it: they are never skipped.

use triage_models::{cosine, Embedder, EmbedderOptions, Role, WeightFormat};
use triage_tests::*;

fn check(embedder: &Embedder, reference: &Reference, min_cos: f32) {
    let scores = agreement(embedder, reference);
    let (worst_id, worst) = &scores[0];
    eprintln!(
        "worst agreement: {worst_id} {worst:.6}; best: {:?}",
        scores.last()
    );
    assert!(
        *worst >= min_cos,
        "{worst_id}: cosine {worst} < {min_cos} vs reference; all: {scores:?}"
    );
    assert_eq!(scores.len(), reference.items.len());
}

fn real(format: WeightFormat) -> Embedder {
    Embedder::load(
        &real_model_dir(),
        EmbedderOptions {
            weight_format: format,
            ..EmbedderOptions::default()
        },
    )
    .expect("real model loads")
}

fn real_reference() -> Reference {
    Reference::load(&workspace_root().join("fixtures/reference/e5-small-reference.json"))
}

#[test]
fn tiny_model_matches_numpy_reference_in_every_format() {
    let reference = Reference::load(&tiny_model_dir().join("reference.json"));
    assert_eq!(reference.overlap, 16);
    assert!(
        reference.items.iter().any(|i| i.n_windows >= 3),
        "fixture has long texts"
    );
    for format in [WeightFormat::Q4, WeightFormat::Q4Candle, WeightFormat::F32] {
        let e = tiny_embedder(EmbedderOptions {
            weight_format: format,
            ..EmbedderOptions::default()
        });
        check(&e, &reference, 0.999);
    }
}

#[test]
fn real_model_matches_numpy_reference_q4() {
    let reference = real_reference();
    let e = real(WeightFormat::Q4);
    assert_eq!(e.fingerprint().as_str().len(), 64);
    assert_eq!(e.dim(), 384);
    check(&e, &reference, 0.999);
}

#[test]
fn real_model_matches_numpy_reference_f32() {
    check(&real(WeightFormat::F32), &real_reference(), 0.999);
}

#[test]
fn real_model_tokenizes_like_the_reference() {
    let reference = real_reference();
    let e = real(WeightFormat::Q4);
    for item in &reference.items {
        let counts = e.token_counts(&[&item.text], item.role()).unwrap();
        if item.n_windows == 1 {
            assert_eq!(counts[0], item.token_ids.len(), "{}", item.id);
        } else {
            assert!(counts[0] > 512, "{}: long text spans windows", item.id);
        }
    }
}

#[test]
fn real_model_paraphrase_beats_unrelated() {
    let reference = real_reference();
    let e = real(WeightFormat::Q4);
    let embed = |id: &str| {
        let item = reference.item(id);
        e.embed(&[&item.text], item.role()).unwrap().remove(0)
    };
    let [a, b] = &reference.pairs.paraphrase;
    let [c, d] = &reference.pairs.unrelated;
    let para = cosine(&embed(a), &embed(b));
    let unrelated = cosine(&embed(c), &embed(d));
    assert!(para > 0.9, "uk/ru paraphrase cosine {para}");
    assert!(
        para > unrelated + 0.1,
        "paraphrase {para} vs unrelated {unrelated}"
    );
    // Roles matter: the same text as query and as passage are close but not equal.
    let t = &reference.item(a).text;
    let q = e.embed(&[t], Role::Query).unwrap().remove(0);
    let p = e.embed(&[t], Role::Passage).unwrap().remove(0);
    let qp = cosine(&q, &p);
    assert!(qp < 0.9999 && qp > 0.8, "query/passage cosine {qp}");
}

#[test]
fn real_model_matches_numpy_reference_q4_candle() {
    check(&real(WeightFormat::Q4Candle), &real_reference(), 0.999);
}
