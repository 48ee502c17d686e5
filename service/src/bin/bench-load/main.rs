//! Open-loop load benchmark of the HTTP service: single appeals at a constant
//! arrival rate against `POST /v1/appeals`, on loopback.
//!
//! ```text
//! APPEAL_TRIAGE_RATE_LIMIT_PER_SEC=0 cargo run --release -p appeal-triage -- demo  # prints the portal key
//! bench-load --api-key PORTAL_KEY --pid $(pgrep -f 'appeal-triage demo') [--rate 200]
//!            [--duration 60] [--warmup 5] [--texts ../shared/data/spb-appeals-dev.csv] [--saturate]
//! ```
//! Requests leave on schedule (request `i` at `i / rate` s), each in its own
//! task, and their latency runs from the due time, so a server that falls
//! behind cannot slow the arrivals and hide its queueing (no coordinated
//! omission). Texts and districts cycle through the CSV; every request has a
//! unique external id, so each one is stored and routed. Prints a markdown
//! table (offered and achieved rate, errors by status and code, p50/p95/p99/max
//! of the successful answers), the server's RSS after the warm-up, in the
//! middle and at the end (`--pid`), and with `--saturate` steps the rate up
//! (15 s a step) and reports the highest rate whose p99 stays below 150 ms with
//! under 1% errors and an achieved rate within 5% of the offered one.
//! Build with `--release`; the generator runs on one thread to leave the
//! cores to the server.
//!
//! `--compare-embedder` first measures the embedder alone (the same model,
//! in this process, the same texts, batches of 32, both cores), then the
//! service's saturation on texts the tenant has never seen (pass a file it
//! did not import), none sent twice: the texts are deduplicated and the run
//! is refused when the steps need more than there are. It reads the service's
//! `triage_embed_cache_hits_total` before and after and refuses to report if
//! the vector cache answered any of them. Its last line is
//! `service/embedder saturation ratio: X.XX (service N req/s at p99 < 150 ms,
//! embedder M texts/s)`.

mod embedder;
mod fire;
mod rss;
mod schedule;
mod summary;
mod texts;

#[path = "../common/bench_support.rs"]
#[allow(dead_code)] // shared with the other bench binaries; only `percentile` is used here
mod bench_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Parser;

use fire::{fire, Plan, Target};
use rss::RssReport;
use schedule::Schedule;
use summary::{Answer, Criteria, Summary, HEADER};
use texts::Bodies;

/// Flags (each with an `APPEAL_TRIAGE_BENCH_*` env twin).
#[derive(Debug, Parser)]
#[command(
    name = "bench-load",
    about = "Open-loop load benchmark of POST /v1/appeals"
)]
struct Args {
    /// Base URL of the running service.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_BENCH_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// A portal key of the tenant to submit to (the demo prints one at each start).
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Arrival rate of the fixed-rate run, requests per second.
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_RATE", default_value_t = 200.0)]
    rate: f64,
    /// Measured length of the fixed-rate run, seconds (0: skip it, e.g. with --saturate).
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_DURATION", default_value_t = 60)]
    duration: u64,
    /// Warm-up at the same rate before the measurement, seconds (sent, not summarised).
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_WARMUP", default_value_t = 5)]
    warmup: u64,
    /// CSV of appeals: the `text` and `district` columns are sent, cycled.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_BENCH_TEXTS",
        default_value = "../shared/data/spb-appeals-dev.csv"
    )]
    texts: PathBuf,
    /// Process id of the server, to sample its RSS from /proc/PID/status every second.
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_PID")]
    pid: Option<u32>,
    /// After the fixed-rate run, step the rate up to find the saturation throughput.
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_SATURATE")]
    saturate: bool,
    /// Rates of the saturation steps, requests per second, ascending; stops at the first failing step.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_BENCH_STEPS",
        value_delimiter = ',',
        default_value = "100,150,200,250,300,400,500,600,800,1000"
    )]
    steps: Vec<f64>,
    /// Length of each saturation step, seconds.
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_STEP_SECS", default_value_t = 15)]
    step_secs: u64,
    /// Latency target: p99 of the successful answers below this, milliseconds.
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_P99_MS", default_value_t = 150.0)]
    p99_ms: f64,
    /// A request without an answer after this many seconds counts as a timeout error.
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_TIMEOUT_SECS", default_value_t = 10)]
    timeout_secs: u64,
    /// Most requests in flight; one due beyond it is not sent and counts as an error.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_BENCH_MAX_IN_FLIGHT",
        default_value_t = 4096
    )]
    max_in_flight: usize,
    /// Measure the embedder alone first and end with the service/embedder
    /// saturation ratio on unseen, unrepeated texts (implies --saturate and
    /// no fixed-rate run).
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_COMPARE_EMBEDDER")]
    compare_embedder: bool,
    /// The model the service runs, for --compare-embedder.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_MODEL_DIR",
        default_value = "data/models/multilingual-e5-small"
    )]
    model_dir: PathBuf,
    /// Seconds the embedder alone is measured for (--compare-embedder).
    #[arg(long, env = "APPEAL_TRIAGE_BENCH_EMBED_SECS", default_value_t = 20)]
    embed_secs: u64,
}

/// Seconds the server gets to drain between saturation steps.
const STEP_PAUSE: Duration = Duration::from_secs(3);

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.compare_embedder {
        args.saturate = true;
        args.duration = 0;
    }
    let Some(fixed) = Schedule::new(args.rate) else {
        bail!("--rate {}: must be a positive number", args.rate);
    };
    let steps: Vec<Schedule> = args
        .steps
        .iter()
        .map(|&r| Schedule::new(r).with_context(|| format!("--steps: {r} is not a positive rate")))
        .collect::<anyhow::Result<_>>()?;
    if args.saturate && (steps.is_empty() || args.step_secs == 0) {
        bail!("--saturate needs --steps and a --step-secs above 0");
    }
    if args.max_in_flight == 0 {
        bail!("--max-in-flight must be at least 1");
    }
    let mut appeals = texts::load(&args.texts)?;
    let mut embedder_rate = None;
    if args.compare_embedder {
        let mut seen = std::collections::HashSet::new();
        appeals.retain(|a| seen.insert(a.text.clone()));
        // Every request of the steps, plus the preflight, needs its own text.
        let needed: f64 = 1.0
            + args.steps.first().map_or(0.0, |r| r * args.warmup as f64)
            + args
                .steps
                .iter()
                .map(|r| r * args.step_secs as f64)
                .sum::<f64>();
        if needed > appeals.len() as f64 {
            bail!(
                "--compare-embedder: the steps send up to {needed:.0} appeals but {} holds {} distinct texts; \
                 none may repeat (a repeat is answered from the vector cache): fewer or shorter steps, or a bigger file",
                args.texts.display(),
                appeals.len()
            );
        }
        let texts: Vec<String> = appeals.iter().map(|a| a.text.clone()).collect();
        println!(
            "embedder alone: {} in-process, batches of {}, {} s ...",
            args.model_dir.display(),
            embedder::BATCH,
            args.embed_secs
        );
        let rate = embedder::throughput(
            &args.model_dir,
            &texts,
            Duration::from_secs(args.embed_secs),
        )?;
        println!("embedder alone: {rate:.1} texts/s");
        embedder_rate = Some(rate);
    }
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    println!(
        "{} appeals from {}; external ids bench-load-{stamp}-N",
        appeals.len(),
        args.texts.display()
    );
    let mut bodies = Bodies::new(appeals, format!("bench-load-{stamp}"));
    let target = Arc::new(Target::new(
        &args.url,
        &args.api_key,
        Duration::from_secs(args.timeout_secs),
    )?);
    target.check_ready().await?;
    let cache_hits_before = target.cache_hits().await?;
    preflight(&target, &mut bodies).await?;
    if let Some(pid) = args.pid {
        if rss::rss_mib(pid).is_none() {
            bail!("--pid {pid}: cannot read /proc/{pid}/status");
        }
    }
    let target_criteria = Criteria {
        p99_ms: args.p99_ms,
        max_error_share: 0.0,
        min_achieved_share: 0.95,
    };
    let step_criteria = Criteria {
        max_error_share: 0.01,
        ..target_criteria
    };
    let mut rate_limited = false;

    if args.duration > 0 {
        let warmup = Duration::from_secs(args.warmup);
        let measure = Duration::from_secs(args.duration);
        println!(
            "\nfixed rate: {} req/s, {} s warm-up + {} s measured, p99 target {} ms",
            args.rate, args.warmup, args.duration, args.p99_ms
        );
        let fired = fire(
            &target,
            &mut bodies,
            Plan {
                schedule: fixed,
                warmup,
                measure,
                max_in_flight: args.max_in_flight,
            },
            args.pid,
        )
        .await;
        let warm = Summary::of(&fired.outcomes, args.rate, Duration::ZERO, warmup);
        let s = Summary::of(&fired.outcomes, args.rate, warmup, measure);
        rate_limited |= is_rate_limited(&s);
        let why = target_criteria.failures(&s);
        let rss = RssReport::of(
            &fired.rss,
            warmup,
            warmup + measure + Duration::from_millis(500),
        );
        println!("{HEADER}");
        if args.warmup > 0 {
            println!("{}", warm.row("warm-up", "not counted"));
        }
        println!("{}", s.row(&format!("{} s", args.duration), &verdict(&why)));
        print_generator(&fired, s.repeats);
        match (args.pid, rss) {
            (Some(pid), Some(r)) => println!(
                "server RSS (pid {pid}), MiB: after warm-up {:.0}, middle {:.0}, end {:.0}, max {:.0}: {}",
                r.start,
                r.middle,
                r.end,
                r.max,
                if r.is_flat() {
                    "flat (end within 10% of after warm-up)"
                } else {
                    "NOT flat (end more than 10% above after warm-up)"
                }
            ),
            (Some(pid), None) => println!("server RSS (pid {pid}): no sample (did it exit?)"),
            (None, _) => println!("server RSS: not sampled (pass --pid)"),
        }
        let memory_ok = rss.is_none_or(|r| r.is_flat());
        println!(
            "target (p99 < {} ms, no errors, achieved within 5%{}): {}",
            args.p99_ms,
            if args.pid.is_some() {
                ", memory flat"
            } else {
                ""
            },
            if why.is_empty() && memory_ok {
                "MET"
            } else {
                "MISSED"
            }
        );
    }

    if args.saturate {
        println!(
            "\nsaturation: steps of {} s at {:?} req/s, pass = p99 < {} ms, errors < 1%, achieved >= 95% of offered",
            args.step_secs, args.steps, args.p99_ms
        );
        println!("{HEADER}");
        let mut best: Option<f64> = None;
        let mut peak_achieved = 0.0f64;
        for (i, step) in steps.into_iter().enumerate() {
            tokio::time::sleep(STEP_PAUSE).await;
            let measure = Duration::from_secs(args.step_secs);
            // The first step starts with the warm-up (sent, not counted): a
            // cold server's first seconds are not its saturation.
            let warmup = if i == 0 {
                Duration::from_secs(args.warmup)
            } else {
                Duration::ZERO
            };
            let fired = fire(
                &target,
                &mut bodies,
                Plan {
                    schedule: step,
                    warmup,
                    measure,
                    max_in_flight: args.max_in_flight,
                },
                args.pid,
            )
            .await;
            let s = Summary::of(&fired.outcomes, step.rate(), warmup, measure);
            rate_limited |= is_rate_limited(&s);
            peak_achieved = peak_achieved.max(s.achieved);
            let why = step_criteria.failures(&s);
            let rss = fired
                .rss
                .last()
                .map_or(String::new(), |(_, m)| format!(", RSS {m:.0} MiB"));
            println!(
                "{}",
                s.row(&format!("step {}/s{rss}", step.rate()), &verdict(&why))
            );
            if !why.is_empty() {
                break;
            }
            best = Some(step.rate());
        }
        match best {
            Some(r) => println!("saturation: highest passing rate {r} req/s; peak achieved {peak_achieved:.1} req/s"),
            None => println!("saturation: no step passed; peak achieved {peak_achieved:.1} req/s"),
        }
        if let Some(embedder) = embedder_rate {
            let hits = target.cache_hits().await? - cache_hits_before;
            if hits > 0.0 {
                bail!(
                    "the service's vector cache answered {hits:.0} texts during the run \
                     (triage_embed_cache_hits_total): the texts were not all unseen, no ratio"
                );
            }
            let service = best.unwrap_or(0.0);
            println!(
                "vector cache hits during the run: 0 (checked on /metrics); every text sent once"
            );
            println!(
                "service/embedder saturation ratio: {:.2} (service {service} req/s at p99 < {} ms, embedder {embedder:.0} texts/s)",
                service / embedder,
                args.p99_ms
            );
        }
    }
    if rate_limited {
        println!(
            "\nNOTE: 429 rate_limited answers: the server's per-key rate limit capped the load; \
             start it with APPEAL_TRIAGE_RATE_LIMIT_PER_SEC=0 (or --rate-limit-per-sec 0)."
        );
    }
    Ok(())
}

/// One request before the load, to fail fast on a wrong key, tenant or body.
async fn preflight(target: &Target, bodies: &mut Bodies) -> anyhow::Result<()> {
    match target.submit(bodies.next_body()).await {
        Answer::Status(201, _) => Ok(()),
        Answer::Status(s @ (401 | 403), code) => bail!(
            "the service refused the key ({s} {}): pass a portal key of a tenant (--api-key)",
            code.unwrap_or_default()
        ),
        other => bail!("a first POST /v1/appeals answered {other:?} instead of 201"),
    }
}

fn is_rate_limited(s: &Summary) -> bool {
    s.errors.keys().any(|k| k.ends_with("rate_limited"))
}

fn verdict(why: &[String]) -> String {
    if why.is_empty() {
        "pass".into()
    } else {
        format!("FAIL: {}", why.join("; "))
    }
}

fn print_generator(fired: &fire::Fired, repeats: usize) {
    println!(
        "generator: latest send {:.1} ms after due, peak {} in flight{}",
        fired.max_send_lag.as_secs_f64() * 1000.0,
        fired.peak_in_flight,
        if repeats > 0 {
            format!(", {repeats} answers 200 (external id already known!)")
        } else {
            String::new()
        }
    );
}
