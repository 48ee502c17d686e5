//! The binary's configuration: a TOML file under env under flags, printed
//! with where each value came from and secrets redacted; a bad file is
//! refused naming the key.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_appeal-triage"));
    // Tests set their own configuration: none leaks in from the shell.
    for (k, _) in std::env::vars() {
        if k.starts_with("APPEAL_TRIAGE_") || k.starts_with("QDRANT_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn config_print_layers_file_env_and_flags_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("triage.toml");
    std::fs::write(
        &file,
        "max_in_flight = 8\nknn_k = 21\n[http]\ncors_origins = [\"https://a.example\", \"https://b.example\"]\n\
         [store]\ndatabase_url = \"postgres://triage:hunter2@db/triage\"\n",
    )
    .unwrap();
    let out = bin()
        .arg("--config")
        .arg(&file)
        .env("APPEAL_TRIAGE_KNN_K", "30")
        .args(["config", "print", "--listen", "0.0.0.0:9000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "max_in_flight = 8  # file",
        "knn_k = 30  # env",
        "listen = \"0.0.0.0:9000\"  # flag",
        "cors_origins = \"https://a.example,https://b.example\"  # file",
        "database_url = \"<redacted>\"  # file",
        "request_timeout_secs = 30  # default",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn a_bad_config_file_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("triage.toml");
    std::fs::write(&file, "max_inflight = 8\n").unwrap();
    let out = bin()
        .env("APPEAL_TRIAGE_CONFIG", &file)
        .args(["config", "print"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_inflight"), "{err}");
    // A value clap cannot parse is clap's error, naming the flag.
    std::fs::write(&file, "max_in_flight = \"many\"\n").unwrap();
    let out = bin()
        .env("APPEAL_TRIAGE_CONFIG", &file)
        .args(["config", "print"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max-in-flight"), "{err}");
}

#[test]
fn outbox_list_on_a_fresh_data_directory_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["outbox", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
}
