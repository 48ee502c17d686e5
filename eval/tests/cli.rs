//! End to end: the `triage-eval` binary on the committed fixture
//! (`fixtures/eval/appeals.csv`: 150 synthetic appeals, 7 departments that
//! depend on topic and district, Dec 2020 - Feb 2021).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/eval/appeals.csv")
}

fn eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triage-eval"))
        .args(args)
        // The tiny fixture model's windows need a small overlap.
        .env("APPEAL_TRIAGE_WINDOW_OVERLAP", "16")
        .output()
        .expect("binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = eval(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Test rows of the fixture's February split, counted independently of the tool.
fn february_rows() -> usize {
    let text = std::fs::read_to_string(fixture()).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1).is_some_and(|d| d >= "2021-02-01"))
        .count()
}

#[test]
fn time_split_run_writes_the_documented_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let fx = fixture();
    ok(&[
        "run",
        "--data",
        fx.to_str().unwrap(),
        "--train-until",
        "2021-02-01",
        "--test-from",
        "2021-02-01",
        "--out",
        out.to_str().unwrap(),
        "--baselines-only",
    ]);
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["schema_version"], 1);
    assert!(r["engine"].is_null(), "--baselines-only leaves engine null");
    assert_eq!(r["split"]["rule"], "time");
    let n_test = february_rows();
    assert!(n_test > 10);
    assert_eq!(r["split"]["n_test"], n_test);
    assert_eq!(r["split"]["n_train"], 150 - n_test);
    for name in ["majority", "tfidf_text", "tfidf_text_district"] {
        let b = &r["baselines"][name];
        for key in [
            "top1",
            "top3",
            "macro_f1",
            "ece",
            "auto_share",
            "conformal_coverage",
            "mean_set_size",
            "throughput_per_s",
        ] {
            let v = b[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{name}.{key} missing"));
            assert!(
                v >= 0.0 && (key == "throughput_per_s" || key == "mean_set_size" || v <= 1.0),
                "{name}.{key} = {v}"
            );
        }
        assert_eq!(b["n_test"], n_test);
        assert!(
            b["latency_ms"]["p50"].as_f64().unwrap() <= b["latency_ms"]["p99"].as_f64().unwrap()
        );
        assert_eq!(b["calibration"]["bins"].as_array().unwrap().len(), 15);
        assert!(b["info"].is_object());
    }
    let top1 = |n: &str| r["baselines"][n]["top1"].as_f64().unwrap();
    // The department depends on the district: text + district must beat the majority clearly.
    assert!(
        top1("tfidf_text_district") > top1("majority") + 0.2,
        "{} vs {}",
        top1("tfidf_text_district"),
        top1("majority")
    );
    assert!(top1("tfidf_text_district") >= top1("tfidf_text"));
    assert!(r["baselines"]["tfidf_text"]["info"]["chosen_c"]
        .as_f64()
        .is_some());
    let lines = std::fs::read_to_string(out.join("predictions.jsonl")).unwrap();
    // majority, tfidf_text, tfidf_text_district and, with coordinates in
    // the fixture, nearest_same_category.
    assert!(r["baselines"]["nearest_same_category"]["top1"].is_number());
    assert_eq!(lines.lines().count(), 4 * n_test);
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["id"].is_string() && first["top"].is_array() && first["label"].is_string());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 2 + 2 * 3,
        "reliability, coverage, then heatmap + F1 bars per router"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| tfidf_text_district |"));

    // Comparing a run with itself: paired, zero deltas, nothing moved.
    let table = ok(&[
        "compare",
        out.to_str().unwrap(),
        out.join("report.json").to_str().unwrap(),
        "--resamples",
        "200",
    ]);
    assert!(table.contains("paired_bootstrap"), "{table}");
    assert!(
        !table.contains("better") && !table.contains("worse"),
        "{table}"
    );
    let json: Value = serde_json::from_str(&ok(&[
        "compare",
        out.to_str().unwrap(),
        out.to_str().unwrap(),
        "--json",
        "--resamples",
        "50",
    ]))
    .unwrap();
    let diffs = json.as_array().unwrap();
    assert_eq!(diffs.len(), 4 * 8, "4 baselines x 8 metrics");
    assert!(diffs
        .iter()
        .all(|d| d["delta"].as_f64().is_none_or(|x| x == 0.0)));
}

#[test]
fn grouped_folds_and_two_files_split_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture();
    let out = dir.path().join("folds");
    ok(&[
        "run",
        "--data",
        fx.to_str().unwrap(),
        "--folds",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--baselines-only",
        "--c-grid",
        "10",
    ]);
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["split"]["rule"], "group_kfold");
    assert_eq!(r["split"]["n_test"], 150);
    assert_eq!(r["split"]["folds"].as_array().unwrap().len(), 3);
    assert_eq!(r["baselines"]["majority"]["n_test"], 150);

    // Two files: the fixture cut in two by line.
    let text = std::fs::read_to_string(&fx).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&a, format!("{header}\n{}\n", body[..100].join("\n"))).unwrap();
    std::fs::write(&b, format!("{header}\n{}\n", body[100..].join("\n"))).unwrap();
    let out = dir.path().join("files");
    ok(&[
        "run",
        "--train",
        a.to_str().unwrap(),
        "--test",
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--baselines-only",
        "--c-grid",
        "10",
    ]);
    let r = read_json(&out.join("report.json"));
    assert_eq!(
        (
            r["split"]["rule"].as_str(),
            r["split"]["n_train"].as_u64(),
            r["split"]["n_test"].as_u64()
        ),
        (Some("files"), Some(100), Some(50))
    );
}

#[test]
fn bad_input_fails_with_row_and_column_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,created_at,text,department\n1,2021-01-01,a,D\n2,2021-01-02,b,\n",
    )
    .unwrap();
    let out = eval(&[
        "run",
        "--data",
        bad.to_str().unwrap(),
        "--train-until",
        "2021-01-02",
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--baselines-only",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 2, column `department`: empty label"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A test department never seen in train is reported, not a crash.
    let unseen = dir.path().join("unseen.csv");
    std::fs::write(&unseen, "id,created_at,text,department\n1,2021-01-01,яма,A\n2,2021-01-02,свет,B\n3,2021-01-03,лифт,A\n4,2021-02-02,новое,Z\n5,2021-02-03,яма,A\n").unwrap();
    let o = dir.path().join("u");
    ok(&[
        "run",
        "--data",
        unseen.to_str().unwrap(),
        "--train-until",
        "2021-02-01",
        "--out",
        o.to_str().unwrap(),
        "--baselines-only",
        "--c-grid",
        "1",
    ]);
    let r = read_json(&o.join("report.json"));
    assert_eq!(
        r["split"]["folds"][0]["unseen_test_labels"]["n_examples"],
        1
    );
    assert_eq!(
        r["split"]["folds"][0]["unseen_test_labels"]["labels"][0][0],
        "Z"
    );
}

/// The fixture's model: the tiny random-weight BERT (the whole inference path, fast).
fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tiny-e5")
}

#[test]
fn the_engine_runs_every_fold_in_a_fresh_case_memory() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture();
    let out = dir.path().join("engine-folds");
    ok(&[
        "run",
        "--data",
        fx.to_str().unwrap(),
        "--folds",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--engine-only",
        "--model-dir",
        tiny_model().to_str().unwrap(),
    ]);
    let r = read_json(&out.join("report.json"));
    // Before: the second fold failed ("recorded but not routed yet"), its
    // test appeals having been imported as the first fold's history.
    assert_eq!(r["engine"]["n_test"], 150);
    assert_eq!(r["engine"]["info"]["refused"], 0);
    let months = r["engine"]["by_month"].as_array().unwrap();
    assert_eq!(months.len(), 3, "Dec, Jan, Feb: {months:?}");
    let n: u64 = months.iter().map(|m| m["n"].as_u64().unwrap()).sum();
    assert_eq!(n, 150);
}

#[test]
fn auto_routed_outcomes_come_back_after_the_given_days_without_a_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let fx = fixture();
    let run = |days: &str| {
        let out = dir.path().join(format!("auto-{days}"));
        ok(&[
            "run",
            "--data",
            fx.to_str().unwrap(),
            "--train-until",
            "2021-02-01",
            "--out",
            out.to_str().unwrap(),
            "--engine-only",
            "--model-dir",
            tiny_model().to_str().unwrap(),
            "--auto-feedback-days",
            days,
        ]);
        read_json(&out.join("report.json"))["engine"].clone()
    };
    let off = run("0");
    assert_eq!(off["info"]["auto_sent_back"], 0);
    assert_eq!(off["info"]["auto_confirmed_by_silence"], 0);
    assert_eq!(off["info"]["recent_outcomes_live"], 0);
    let on = run("2");
    let info = &on["info"];
    let auto = (on["auto_share"].as_f64().unwrap() * on["n_test"].as_f64().unwrap()).round() as u64;
    assert!(auto > 0, "the fixture auto-routes: {on}");
    let back = info["auto_sent_back"].as_u64().unwrap();
    let silent = info["auto_confirmed_by_silence"].as_u64().unwrap();
    // Every auto-routed appeal older than two days came back one way or the
    // other, once; those of the last two days had not yet.
    assert!(back + silent > 0 && back + silent <= auto, "{info}");
    let wrong = (auto as f64 * (1.0 - on["auto_precision"].as_f64().unwrap())).round() as u64;
    assert!(back <= wrong, "only wrong ones are sent back: {info}");
    // Each came back to the routing as an outcome of its suggestion.
    assert_eq!(info["recent_outcomes_live"], back + silent, "{info}");
}

#[test]
fn the_category_reaches_the_engine_and_its_two_baselines() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture with a portal category: the department's first word.
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let with_category = dir.path().join("with-category.csv");
    let mut w = csv::Writer::from_path(&with_category).unwrap();
    let mut header = rdr.headers().unwrap().clone();
    header.push_field("category");
    w.write_record(&header).unwrap();
    for row in rdr.records() {
        let mut row = row.unwrap();
        let first = row[7].split_whitespace().next().unwrap().to_string();
        row.push_field(&first);
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    let split = [
        "run",
        "--data",
        with_category.to_str().unwrap(),
        "--train-until",
        "2021-02-01",
        "--category-cols",
        "category",
        "--c-grid",
        "10",
    ];
    let base = dir.path().join("baselines");
    let mut args = split.to_vec();
    args.extend(["--out", base.to_str().unwrap(), "--baselines-only"]);
    ok(&args);
    let r = read_json(&base.join("report.json"));
    for name in [
        "category_lookup",
        "tfidf_text_district_category",
        "nearest_same_category",
    ] {
        assert_eq!(
            r["baselines"][name]["n_test"].as_u64(),
            Some(february_rows() as u64),
            "{name}"
        );
    }
    // The category names the department's kind; with the district, the
    // lookup is nearly always right on this fixture.
    let lookup = r["baselines"]["category_lookup"]["top1"].as_f64().unwrap();
    let majority = r["baselines"]["majority"]["top1"].as_f64().unwrap();
    assert!(lookup > majority + 0.2, "{lookup} vs {majority}");

    let engine = dir.path().join("engine");
    let mut args = split.to_vec();
    let tiny = tiny_model();
    args.extend([
        "--out",
        engine.to_str().unwrap(),
        "--engine-only",
        "--model-dir",
        tiny.to_str().unwrap(),
    ]);
    ok(&args);
    let r = read_json(&engine.join("report.json"));
    assert_eq!(r["engine"]["n_test"].as_u64(), Some(february_rows() as u64));
    let preds = std::fs::read_to_string(engine.join("predictions.jsonl")).unwrap();
    assert!(preds.lines().count() >= february_rows());
}

#[test]
fn k_fold_needs_no_date_column() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture without its date column.
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let undated = dir.path().join("undated.csv");
    let mut w = csv::Writer::from_path(&undated).unwrap();
    let header = rdr.headers().unwrap().clone();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| &header[i] != "created_at")
        .collect();
    w.write_record(keep.iter().map(|&i| &header[i])).unwrap();
    for row in rdr.records() {
        let row = row.unwrap();
        w.write_record(keep.iter().map(|&i| &row[i])).unwrap();
    }
    w.flush().unwrap();
    let out = dir.path().join("folds");
    ok(&[
        "run",
        "--data",
        undated.to_str().unwrap(),
        "--folds",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--baselines-only",
        "--c-grid",
        "10",
    ]);
    let r = read_json(&out.join("report.json"));
    assert_eq!(r["split"]["n_test"], 150);
    // A time split still needs the date.
    let e = eval(&[
        "run",
        "--data",
        undated.to_str().unwrap(),
        "--train-until",
        "2021-02-01",
        "--out",
        dir.path().join("t").to_str().unwrap(),
        "--baselines-only",
    ]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("--date-col"));
}
