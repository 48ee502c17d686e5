//! A full disk under a running `serve`, with the real binary and the tiny
//! real BERT fixture.

use std::process::Stdio;
use std::time::{Duration, Instant};

use appeal_triage::record::Record;

mod common;
use common::{cli, create_key, free_port, write_csv, TENANT};

/// Sets the soft limit on the size of any file `pid` writes (`None`: back to
/// its hard limit, which is left as it is, so no privilege is needed).
fn limit_file_size(pid: u32, bytes: Option<u64>) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a child of this process with valid pointers.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            std::ptr::null(),
            &mut old,
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    let limit = libc::rlimit {
        rlim_cur: bytes.map_or(old.rlim_max, |b| b.min(old.rlim_max)),
        rlim_max: old.rlim_max,
    };
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// A full disk under a running `serve`: the writes it cannot commit are
/// refused with 503 (never 500, never a dropped connection), `/readyz` says
/// so, and once space is back it recovers by itself, with every appeal it
/// acknowledged stored once and a refused one storable on retry. The disk
/// is "full" through RLIMIT_FSIZE on the server process (no mount needed):
/// writes past the limit fail with EFBIG, which SQLite reports as an I/O
/// error on commit, as it does for ENOSPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_with_503_and_recovered_from_without_losing_anything() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("history.csv");
    write_csv(&csv, 50);
    let data = dir.path().join("data");
    let out = cli(&data)
        .args([
            "import",
            "--tenant",
            TENANT,
            "--create-tenant",
            "--no-optimize",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let portal = create_key(&data, "portal");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let port = free_port();
    let mut cmd = cli(&data);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--rate-limit-per-sec", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec. A write past
    // the size limit raises SIGXFSZ, which would kill the server; ignored, the
    // write fails with EFBIG instead (an ignored signal stays so across exec).
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !matches!(http.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let submit = |n: usize| {
        let (http, base, portal) = (http.clone(), base.clone(), portal.clone());
        async move {
            let r = http
                .post(format!("{base}/v1/appeals"))
                .bearer_auth(&portal)
                .json(&serde_json::json!({
                    "text": format!("Яма на дороге у дома {n}"),
                    "external_id": format!("full-{n}"),
                    "place": { "district": "Невский" },
                }))
                .send()
                .await
                .expect("the server answers every request");
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.expect("a JSON body");
            (status, body)
        }
    };
    let mut acked = Vec::new();
    for n in 0..3 {
        let (status, body) = submit(n).await;
        assert_eq!(status, 201, "{body}");
        acked.push(n);
    }
    let wal = std::fs::metadata(data.join("record.db-wal")).unwrap().len();
    limit_file_size(child.id(), Some(wal + 16 * 1024));
    let mut refused = None;
    for n in 3..200 {
        let (status, body) = submit(n).await;
        match status {
            201 => acked.push(n),
            503 => {
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                refused = Some(n);
                break;
            }
            s => panic!("a full disk answered {s}: {body}"),
        }
    }
    let refused = refused.expect("the limit was reached");
    // Every later write is refused the same way (the writer is not wedged),
    // and readiness says the record cannot write.
    for n in refused + 1..refused + 4 {
        let (status, body) = submit(n).await;
        assert_eq!(status, 503, "{body}");
    }
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ready["record_writable"], false, "{ready}");
    // Space is back: readiness recovers and the refused appeal stores on retry.
    limit_file_size(child.id(), None);
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = submit(refused).await;
    assert_eq!(status, 201, "{body}");
    acked.push(refused);
    let (status, body) = submit(0).await;
    assert_eq!(
        status, 200,
        "an acknowledged appeal is not stored twice: {body}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let record = Record::open(&format!("sqlite:{}", data.join("record.db").display()))
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM appeals WHERE external_id LIKE 'full-%' ORDER BY id",
    )
    .fetch_all(record.pool())
    .await
    .unwrap();
    let expected: Vec<String> = acked.iter().map(|n| format!("full-{n}")).collect();
    assert_eq!(
        ids, expected,
        "every acknowledged appeal once, nothing refused stored"
    );
}
