//! Bad input to the embedder: every case either embeds or returns a typed
//! error; none panics. Runs on the tiny fixture (same code path as the real model).

use triage_models::{Embedder, EmbedderOptions, ModelError, Role};
use triage_tests::*;

fn tiny() -> Embedder {
    tiny_embedder(EmbedderOptions::default())
}

fn is_unit(v: &[f32]) -> bool {
    let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (n - 1.0).abs() < 1e-4 && v.iter().all(|x| x.is_finite())
}

#[test]
fn non_utf8_bytes_are_a_typed_error_naming_the_text() {
    let e = tiny();
    let err = e
        .embed_bytes(&[b"fine", b"bad \xff\xfe bytes"], Role::Query)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::InvalidUtf8 {
                index: 1,
                offset: 4
            }
        ),
        "{err:?}"
    );
    assert!(e.embed_bytes(&["valid".as_bytes()], Role::Query).is_ok());
}

#[test]
fn nul_and_control_characters_embed_like_spaces() {
    let e = tiny();
    let v = e
        .embed(&["light\0is\u{1}broken", "light is broken"], Role::Passage)
        .unwrap();
    assert!(is_unit(&v[0]));
    assert_eq!(v[0], v[1], "control characters read as spaces");
}

#[test]
fn empty_whitespace_and_nul_only_texts_are_errors() {
    let e = tiny();
    for (i, bad) in ["", "   \n\t ", "\0\0\0"].iter().enumerate() {
        let err = e.embed(&["ok", bad], Role::Passage).unwrap_err();
        assert!(
            matches!(err, ModelError::EmptyText { index: 1 }),
            "case {i}: {err:?}"
        );
    }
}

#[test]
fn one_megabyte_text_is_rejected_by_the_configured_limit() {
    let e = tiny();
    let big = "я".repeat(512 * 1024); // 1 MiB of UTF-8
    let err = e.embed(&[&big], Role::Passage).unwrap_err();
    assert!(
        matches!(err, ModelError::TextTooLong { index: 0, len, limit } if len == 1 << 20 && limit == 65_536),
        "{err:?}"
    );
    // Raising the limit makes the same text embed (in many windows).
    let e = tiny_embedder(EmbedderOptions {
        max_text_bytes: 2 << 20,
        ..EmbedderOptions::default()
    });
    let text = "світло не горить ".repeat(4000);
    let v = e.embed(&[&text], Role::Passage).unwrap();
    assert!(is_unit(&v[0]));
}

#[test]
fn emoji_only_and_punctuation_only_texts_embed() {
    let e = tiny();
    let v = e
        .embed(&["😡😡🔥🚧", "?!...,,;;", "№ 5"], Role::Query)
        .unwrap();
    assert!(v.iter().all(|v| is_unit(v)));
    assert_ne!(v[0], v[1]);
}

#[test]
fn ten_thousand_tiny_texts_in_one_batch() {
    let e = tiny();
    let texts: Vec<String> = (0..10_000).map(|i| format!("ямa {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let v = e.embed(&refs, Role::Passage).unwrap();
    assert_eq!(v.len(), 10_000);
    assert!(v.iter().all(|v| is_unit(v)));
    // Batching must not change results: the same text alone gives the same vector.
    let alone = e.embed(&[refs[1234]], Role::Passage).unwrap();
    let cos = triage_models::cosine(&alone[0], &v[1234]);
    assert!(cos > 0.99999, "batched vs alone: {cos}");
}

#[test]
fn batch_over_the_limit_is_a_typed_error() {
    let e = tiny_embedder(EmbedderOptions {
        max_batch_texts: 3,
        ..EmbedderOptions::default()
    });
    let err = e.embed(&["a", "b", "c", "d"], Role::Query).unwrap_err();
    assert!(
        matches!(err, ModelError::BatchTooLarge { len: 4, limit: 3 }),
        "{err:?}"
    );
}

#[test]
fn long_text_is_windowed_not_truncated() {
    let e = tiny();
    let head = "вода не тече з крана. ".repeat(20);
    let a = format!("{head} сміття не вивозять з двору.");
    let b = format!("{head} собака гавкає вночі.");
    let counts = e.token_counts(&[&a], Role::Passage).unwrap();
    assert!(
        counts[0] > 64,
        "text spans several 64-position windows: {counts:?}"
    );
    let v = e.embed(&[&a, &b], Role::Passage).unwrap();
    // With truncation the differing tails would be cut off and the vectors equal.
    assert!(triage_models::cosine(&v[0], &v[1]) < 0.99999);
}

#[test]
fn concurrent_calls_from_many_threads_agree_with_sequential_ones() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Embedder>();
    let e = std::sync::Arc::new(tiny());
    let texts: Vec<String> = (0..8).map(|i| format!("звернення номер {i}")).collect();
    let handles: Vec<_> = texts
        .iter()
        .cloned()
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || e.embed(&[&t], Role::Query).unwrap().remove(0))
        })
        .collect();
    let parallel: Vec<Vec<f32>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (t, p) in texts.iter().zip(&parallel) {
        let s = e.embed(&[t], Role::Query).unwrap().remove(0);
        assert_eq!(&s, p, "{t}");
    }
}
