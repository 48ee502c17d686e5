//! Loading from damaged or incomplete model directories: typed errors, no panic;
//! the fingerprint identifies the exact files.

use std::path::Path;

use triage_models::{Embedder, EmbedderOptions, ModelError};
use triage_tests::*;

fn copy_tiny(to: &Path) {
    for f in ["model.e5s1", "tokenizer.json"] {
        std::fs::copy(tiny_model_dir().join(f), to.join(f)).unwrap();
    }
}

fn load(dir: &Path) -> Result<Embedder, ModelError> {
    Embedder::load(
        dir,
        EmbedderOptions {
            window_overlap: 16,
            ..EmbedderOptions::default()
        },
    )
}

#[test]
fn missing_files_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path()).err().unwrap();
    assert!(matches!(err, ModelError::MissingFile(ref p) if p.ends_with("model.e5s1")));
    assert!(err.to_string().contains("model install"));
}

#[test]
fn truncated_and_corrupted_weights_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let weights = dir.path().join("model.e5s1");
    let bytes = std::fs::read(&weights).unwrap();
    // Truncated at many points: header, tokenizer block, directory, tensor data.
    for cut in [0, 3, 20, 100, 5_000, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&weights, &bytes[..cut]).unwrap();
        let err = load(dir.path())
            .err()
            .unwrap_or_else(|| panic!("cut at {cut} loaded"));
        assert!(
            matches!(err, ModelError::BadContainer { .. }),
            "cut {cut}: {err:?}"
        );
    }
    let mut bad = bytes.clone();
    bad[..4].copy_from_slice(b"GGUF");
    std::fs::write(&weights, &bad).unwrap();
    let err = load(dir.path()).err().unwrap();
    assert!(err.to_string().contains("magic"), "{err}");
}

#[test]
fn garbage_tokenizer_is_a_tokenizer_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    std::fs::write(dir.path().join("tokenizer.json"), b"{ not json").unwrap();
    assert!(matches!(
        load(dir.path()).err().unwrap(),
        ModelError::Tokenizer(_)
    ));
}

#[test]
fn fingerprint_is_stable_and_tracks_the_files() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let a = load(dir.path()).unwrap().fingerprint().clone();
    let b = load(&tiny_model_dir()).unwrap().fingerprint().clone();
    assert_eq!(a, b, "same files, same fingerprint");
    // One changed bias value (last tensor bytes) changes the fingerprint.
    let weights = dir.path().join("model.e5s1");
    let mut bytes = std::fs::read(&weights).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 0x01;
    std::fs::write(&weights, &bytes).unwrap();
    let c = load(dir.path()).unwrap().fingerprint().clone();
    assert_ne!(a, c);
}
