//! Helpers shared by the tests that run the `appeal-triage` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tenant the tests import into.
pub const TENANT: &str = "spb";

/// The tiny real BERT fixture.
pub fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join("tiny-e5")
}

/// The binary with the data dir and the tiny model configured.
pub fn cli(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_appeal-triage"));
    c.arg("--data-dir")
        .arg(data)
        .arg("--model-dir")
        .arg(tiny_model())
        .args(["--window-overlap", "16"])
        .env("RUST_LOG", "error")
        .env_remove("APPEAL_TRIAGE_INDEX")
        .env_remove("RUST_BACKTRACE");
    c
}

/// A CSV of `n` appeals with distinct ids and texts.
pub fn write_csv(path: &Path, n: usize) {
    let topics = [
        "Мусор во дворе",
        "Не горит фонарь",
        "Яма на дороге",
        "Протекает крыша",
        "Сосульки",
    ];
    let districts = ["Приморский", "Невский", "Колпинский", "Центральный"];
    let mut s = String::from("id,created_at,text,district,municipality,lat,lon,department\n");
    for i in 0..n {
        s += &format!(
            "{},2020-11-{:02}T10:00:00,\"{} у дома {}, подъезд {}\",{},МО,59.9,30.3,Отдел {}\n",
            100_000 + i,
            1 + i % 28,
            topics[i % topics.len()],
            i,
            i % 7,
            districts[i % districts.len()],
            i % 5
        );
    }
    std::fs::write(path, s).unwrap();
}

/// A new API key of `role` for [`TENANT`], made by the CLI.
pub fn create_key(data: &Path, role: &str) -> String {
    let out = cli(data)
        .args(["keys", "create", "--tenant", TENANT, "--role", role])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
