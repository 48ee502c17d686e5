//! `triage-eval`: evaluation tools for data scientists (metrics, baselines, plots).
//! See docs/eval.md.

mod cli;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use clap::Parser;
use triage_eval::baselines::{self, BaselineConfig};
use triage_eval::engine::{engine_router, EngineOptions};
use triage_eval::input::read_appeals;
use triage_eval::report::{self, Report, RouterReport, Tool};
use triage_eval::router::Router;
use triage_eval::runner::{self, RouterRun};
use triage_eval::shadow::{shadow_router, ShadowOptions};
use triage_eval::split::{self, Fold, SplitInfo};
use triage_eval::{compare, timeparse};

use cli::{Cli, Command, CompareArgs, RunArgs};

fn main() {
    appeal_triage::telemetry::init_logging("warn");
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Run(args) => run(&args),
        Command::Compare(args) => compare_cmd(&args),
        Command::Aliases(args) => aliases_cmd(&args),
    };
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn date(flag: &str, s: &str) -> anyhow::Result<i64> {
    timeparse::parse_timestamp_ms(s).with_context(|| {
        format!("{flag}: cannot parse date `{s}` (expected ISO 8601, e.g. 2021-02-01)")
    })
}

fn make_split(args: &RunArgs) -> anyhow::Result<(Vec<Fold>, SplitInfo)> {
    let mut cols = args.columns();
    // K-fold needs no time: without a date column rows keep file order.
    cols.date_optional = args.folds.is_some();
    anyhow::ensure!(
        cols.category.len() <= triage_eval::input::MAX_CATEGORY_COLS,
        "--category-cols names {} columns; at most {} levels are read",
        cols.category.len(),
        triage_eval::input::MAX_CATEGORY_COLS
    );
    match (&args.data, &args.train, &args.test) {
        (Some(data), None, None) => {
            let rows = read_appeals(data, args.format, &cols)?;
            match (&args.train_until, args.folds) {
                (Some(until), None) => {
                    let until = date("--train-until", until)?;
                    let from = match &args.test_from {
                        Some(f) => date("--test-from", f)?,
                        None => until,
                    };
                    Ok(split::by_time(rows, until, from)?)
                }
                (None, Some(k)) => Ok(split::grouped_k_fold(rows, k)?),
                _ => bail!("with --data, give either --train-until DATE [--test-from DATE] or --folds K"),
            }
        }
        (None, Some(train), Some(test)) => {
            let a = read_appeals(train, args.format, &cols)?;
            let b = read_appeals(test, args.format, &cols)?;
            Ok(split::by_files(a, b, &train.display().to_string(), &test.display().to_string())?)
        }
        _ => bail!("choose a split: --data FILE --train-until DATE, --data FILE --folds K, or --train A --test B"),
    }
}

/// Prints suggested department aliases (`alias,department` CSV) for labels
/// that differ only in legal-form words, quotes, case and punctuation.
fn aliases_cmd(args: &cli::AliasArgs) -> anyhow::Result<()> {
    let cols = triage_eval::input::ColumnMap {
        label: args.label_col.clone(),
        ..triage_eval::input::ColumnMap::default()
    };
    let rows = read_appeals(&args.data, None, &cols)?;
    let mut counts = std::collections::BTreeMap::new();
    for r in &rows {
        *counts.entry(r.label.clone()).or_insert(0u64) += 1;
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    println!("alias,department");
    for group in triage_domain::aliases::suggest(&counts) {
        for alias in &group[1..] {
            println!("{},{}", quote(alias), quote(&group[0]));
        }
    }
    Ok(())
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.target_precision) {
        bail!(
            "--target-precision must be in [0, 1], got {}",
            args.target_precision
        );
    }
    if !(0.0 < args.conformal_alpha && args.conformal_alpha < 1.0) {
        bail!(
            "--conformal-alpha must be in (0, 1), got {}",
            args.conformal_alpha
        );
    }
    if args.c_grid.is_empty() || args.c_grid.iter().any(|c| !(*c > 0.0 && c.is_finite())) {
        bail!("--c-grid needs positive values, got {:?}", args.c_grid);
    }
    let (mut folds, split_info) = make_split(args)?;
    if let Some(path) = &args.department_aliases {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--department-aliases {}", path.display()))?;
        let aliases = triage_domain::aliases::Aliases::parse(&text)
            .with_context(|| format!("--department-aliases {}", path.display()))?;
        eprintln!(
            "labels merged by {} ({} aliases)",
            path.display(),
            aliases.len()
        );
        for f in &mut folds {
            for a in f.train.iter_mut().chain(f.test.iter_mut()) {
                a.label = aliases.resolve(&a.label).to_string();
            }
        }
    }
    eprintln!(
        "split: {} ({} train, {} test, {} dropped)",
        split_info.description, split_info.n_train, split_info.n_test, split_info.n_dropped
    );
    let cfg = BaselineConfig {
        c_grid: args.c_grid.clone(),
        min_df: args.min_df,
        max_iter: args.max_iter,
        patience: args.patience,
        target_precision: args.target_precision,
        conformal_alpha: args.conformal_alpha,
        ..BaselineConfig::default()
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let engine_dir = args.out.join("engine-data");
    let mut routers: Vec<Box<dyn Router>> = Vec::new();
    if let (false, Some(url)) = (args.baselines_only, &args.url) {
        if !(args.http_timeout > 0.0 && args.http_timeout.is_finite()) {
            bail!("--http-timeout must be positive, got {}", args.http_timeout);
        }
        let opts = ShadowOptions {
            url: url.clone(),
            api_key: args.api_key.clone().unwrap_or_default(),
            timeout: std::time::Duration::from_secs_f64(args.http_timeout),
        };
        routers.push(Box::new(shadow_router(&opts).context("shadow mode")?));
    } else if !args.baselines_only {
        let opts = EngineOptions {
            model_dir: args.model_dir.clone(),
            feedback: args.feedback,
            auto_feedback_days: args.auto_feedback_days,
            not_request_categories: args.not_request_categories.clone(),
            data_dir: engine_dir.clone(),
            target_precision: args.target_precision,
            conformal_alpha: args.conformal_alpha,
        };
        routers.push(engine_router(&opts).context("engine")?);
    }
    if !args.engine_only {
        let with_coordinates = folds
            .iter()
            .any(|f| f.train.iter().any(|r| r.lat.is_some() && r.lon.is_some()));
        routers.extend(baselines::all(
            &cfg,
            !args.category_cols.is_empty(),
            with_coordinates,
        ));
    }
    let mut runs: Vec<RouterRun> = Vec::new();
    for r in &mut routers {
        runs.push(runner::evaluate(r.as_mut(), &folds, args.feedback)?);
    }
    // The engine flushes its index when dropped: drop it before its
    // directory goes, or the flush fails (an ERROR line on a clean run).
    drop(routers);
    if engine_dir.exists() {
        let _ = std::fs::remove_dir_all(&engine_dir);
    }
    let mut engine = None;
    let mut baselines_map = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let rep = RouterReport::of(run, args.target_precision);
        if i == 0 && !args.baselines_only {
            engine = Some(rep);
        } else {
            baselines_map.insert(run.name.clone(), rep);
        }
    }
    let report = Report {
        schema_version: report::SCHEMA_VERSION,
        tool: Tool {
            name: "triage-eval".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        created_at: timeparse::format_ms(chrono_now_ms()),
        git_commit: report::git_commit(),
        config: serde_json::json!({ "args": args, "columns": args.columns(), "baselines": cfg }),
        split: split_info,
        engine,
        baselines: baselines_map,
    };
    report::write_all(&args.out, &report, &runs)?;
    print_summary(&report, &args.out);
    Ok(())
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn print_summary(r: &Report, out: &Path) {
    println!(
        "{:<22} {:>7} {:>7} {:>7} {:>9} {:>7} {:>9} {:>8} {:>8}",
        "router", "top1", "top3", "macroF1", "ECE", "auto", "auto_prec", "p50 ms", "fit s"
    );
    for x in r.routers() {
        let m = &x.metrics;
        println!(
            "{:<22} {:>7.4} {:>7.4} {:>7.4} {:>9.4} {:>7.4} {:>9} {:>8.3} {:>8.1}",
            x.name,
            m.top1,
            m.top3,
            m.macro_f1,
            m.ece,
            m.auto_share,
            m.auto_precision.map_or("-".into(), |v| format!("{v:.4}")),
            m.latency_ms.p50,
            x.fit_seconds
        );
    }
    println!("report: {}", out.join("report.json").display());
}

fn compare_cmd(args: &CompareArgs) -> anyhow::Result<()> {
    let diffs = compare::compare(&args.a, &args.b, args.resamples, args.seed)?;
    if diffs.is_empty() {
        bail!("the two reports have no router in common");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diffs)?);
    } else {
        print!("{}", compare::table(&diffs));
    }
    Ok(())
}
