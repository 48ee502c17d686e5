//! Tunes the routing signal weights on a validation slice of the training
//! history (never on the test period), then reports the chosen weights.
//!
//! ```text
//! cargo run --release -p triage-eval --example tune_routing -- DATA.csv TRAIN_UNTIL VALID_FROM [DATA_DIR]
//! ```
//! Imports the rows before TRAIN_UNTIL into a case memory in DATA_DIR (reused
//! across runs), fits a head on the rows before VALID_FROM, and routes the rows
//! in [VALID_FROM, TRAIN_UNTIL) with neighbours restricted to cases received
//! before VALID_FROM: the same information the engine has online. Prints top-1
//! and top-3 for a grid of weights.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use appeal_triage::config::ModelConfig;
use appeal_triage::engine::{Engine, EngineConfig, RoutingConfig};
use appeal_triage::index::config::IndexConfig;
use appeal_triage::index::CaseFilter;
use appeal_triage::record::{AppealData, AppealStatus, Jurisdiction, Tenant};
use clap::Parser;
use triage_domain::routing::{
    AreaStats, LexicalHead, LexicalPlace, Neighbour, Roles, RoutingParams, ScoreInput, Scorer,
    SignalKind, SoftmaxHead,
};
use triage_eval::engine::place_of;
use triage_eval::input::{read_appeals, ColumnMap};
use triage_eval::timeparse::parse_timestamp_ms;
use triage_models::Role;

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    model: ModelConfig,
    #[command(flatten)]
    index: IndexConfig,
    #[command(flatten)]
    routing: RoutingConfig,
}

struct Case {
    label: String,
    district: Option<String>,
    global: Vec<Neighbour>,
    local: Vec<Neighbour>,
    input: Vec<f32>,
    lexical: triage_domain::routing::SparseVec,
    place: Vec<Neighbour>,
}

/// What routing learned from the cases before the validation period.
struct Models<'a> {
    head: &'a SoftmaxHead,
    lexical: &'a LexicalHead,
    areas: &'a AreaStats,
    roles: &'a Roles,
    confirmed_total: u64,
}

impl Case {
    /// The scorer's input for this appeal, with its `k` nearest neighbours of
    /// each kind.
    fn input<'a>(&'a self, k: usize, m: &Models<'a>) -> ScoreInput<'a> {
        ScoreInput {
            neighbours: &self.global[..k.min(self.global.len())],
            local_neighbours: &self.local[..k.min(self.local.len())],
            place_neighbours: &self.place,
            place_category_neighbours: &[],
            area_neighbours: &[],
            area_category_neighbours: &[],
            head: Some((m.head, &self.input)),
            lexical: Some((m.lexical, &self.lexical)),
            district: self.district.as_deref(),
            category: None,
            departments: &[],
            areas: m.areas,
            confirmed_total: m.confirmed_total,
            activity: None,
            roles: m.roles,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = PathBuf::from(&args[1]);
    let until = parse_timestamp_ms(&args[2]).context("TRAIN_UNTIL")?;
    let valid_from = parse_timestamp_ms(&args[3]).context("VALID_FROM")?;
    let dir = args.get(4).cloned().unwrap_or("/tmp/tune-routing".into());
    let rows = read_appeals(&data, None, &ColumnMap::default())?;
    let train: Vec<_> = rows.into_iter().filter(|r| r.created_at < until).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let flags = Flags::try_parse_from(["tune", "--data-dir", &dir])?;
    // The place lookup honours APPEAL_TRIAGE_SPOT_RADIUS_M / _SPOT_MAX_CASES.
    let (spot_radius_m, spot_max_cases) =
        (flags.routing.spot_radius_m, flags.routing.spot_max_cases);
    let cfg = EngineConfig {
        model: flags.model,
        index: flags.index,
        database_url: None,
        routing: flags.routing,
    };
    let engine: Arc<Engine> = rt
        .block_on(Engine::open(&cfg))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let memory = engine.memory().clone();
    let t0 = std::time::Instant::now();
    rt.block_on(async {
        memory
            .record()
            .upsert_tenant(&Tenant {
                id: "tune".into(),
                name: "tune".into(),
                jurisdiction: Jurisdiction::Ru,
                alpha: 0.1,
                auto_threshold: 0.9,
            })
            .await?;
        let have = memory.record().count_appeals("tune").await? as usize;
        if have < train.len() {
            for (i, chunk) in train.chunks(512).enumerate() {
                for a in chunk {
                    let data = AppealData {
                        tenant_id: "tune".into(),
                        external_id: Some(a.id.clone()),
                        text: a.text.clone(),
                        redacted_text: triage_domain::pii::redact(&a.text).text,
                        language: None,
                        place: place_of(a),
                        channel: None,
                        applicant_category: None,
                        category: a.category.clone(),
                        received_at: a.created_at,
                        status: AppealStatus::Imported,
                        department: Some(a.label.clone()),
                        submitted_by: None,
                    };
                    memory.record().insert_appeal(&data, "tune").await?;
                }
                memory.drain_outbox().await?;
                eprintln!(
                    "imported {} rows, {:.0} s",
                    (i + 1) * 512,
                    t0.elapsed().as_secs_f64()
                );
            }
            memory.index().optimize().await?;
            memory.index().flush().await?;
        }
        anyhow::Ok(())
    })?;
    eprintln!("import ready after {:.0} s", t0.elapsed().as_secs_f64());
    // TUNE_REFIT=1: run the engine's own refit on the imported history and
    // print what it learned (weights per text length, temperature, conformal
    // quantile, auto-routing threshold), then stop.
    if std::env::var("TUNE_REFIT").is_ok_and(|v| v == "1") {
        let model = rt
            .block_on(engine.refit("tune"))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("{:#?}", model.calibration);
        // TUNE_CORRECTION=N (on a scratch copy of the data dir: it writes):
        // for N validation appeals, a supervisor overrides the suggestion
        // with the runner-up; does the same text, sent again, follow it?
        let n: usize = std::env::var("TUNE_CORRECTION")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (mut followed, mut tried) = (0, 0);
        // Appeals from after TRAIN_UNTIL: texts the history has not seen.
        let later = read_appeals(&data, None, &ColumnMap::default())?;
        for a in later.iter().filter(|r| r.created_at >= until).step_by(37) {
            if tried >= n {
                break;
            }
            let appeal = appeal_triage::engine::NewAppeal {
                external_id: Some(format!("probe-{}", a.id)),
                text: a.text.clone(),
                place: place_of(a),
                ..Default::default()
            };
            let s = rt
                .block_on(engine.submit("tune", appeal.clone(), "probe"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some(other) = s.decision.alternatives.get(1).map(|x| x.department.clone()) else {
                continue;
            };
            rt.block_on(engine.decide("tune", s.appeal_id, &other, None, "probe"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let again = rt
                .block_on(engine.preview("tune", &appeal))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tried += 1;
            if std::env::var("TUNE_VERBOSE").is_ok() {
                eprintln!(
                    "{:?} -> {other:?}: again {:?} {:.2}; {:?}",
                    s.decision.department,
                    again.department,
                    again.confidence,
                    again
                        .evidence
                        .signals
                        .iter()
                        .map(|x| format!(
                            "{} {:.2} w{:.2}",
                            x.name,
                            x.probability,
                            x.weight.unwrap_or(0.0)
                        ))
                        .collect::<Vec<_>>()
                );
            }
            if again.department.as_deref() == Some(other.as_str()) {
                followed += 1;
            }
        }
        if n > 0 {
            println!("corrections followed by the next identical appeal: {followed} of {tried}");
        }
        return Ok(());
    }

    // Head and areas on the cases before the validation period.
    let mut points = Vec::new();
    let mut offset = None;
    loop {
        let page = rt.block_on(
            memory
                .index()
                .scroll(CaseFilter::tenant("tune"), offset, 4096),
        )?;
        points.extend(page.points);
        match page.next_offset {
            Some(o) => offset = Some(o),
            None => break,
        }
    }
    let before: Vec<_> = points
        .iter()
        .filter(|p| p.payload.received_at < valid_from)
        .collect();
    let t1 = std::time::Instant::now();
    let before_cases: Vec<_> = before.iter().map(|p| (*p).clone()).collect();
    let texts = rt.block_on(appeal_triage::engine::case_texts(
        &memory,
        &before_cases,
        true,
    ))?;
    let fitted = appeal_triage::engine::fit_router(&before_cases, &texts, &[]);
    let head = fitted.head.expect("a head");
    let lexical = fitted.lexical.expect("a lexical model");
    let roles = fitted.roles;
    eprintln!(
        "head fitted on {} cases in {:.1} s, {} families",
        before.len(),
        t1.elapsed().as_secs_f64(),
        roles.families().len()
    );
    let mut areas = AreaStats::new();
    for p in &before {
        areas.add(
            p.payload.department.as_deref().unwrap(),
            p.payload.district.as_deref(),
        );
    }
    let valid: Vec<_> = train
        .iter()
        .filter(|r| r.created_at >= valid_from)
        .collect();
    let stride: usize = std::env::var("TUNE_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let valid: Vec<_> = valid.into_iter().step_by(stride).collect();
    let texts: Vec<String> = valid
        .iter()
        .map(|a| triage_domain::pii::redact(&a.text).text)
        .collect();
    let vectors = rt.block_on(memory.embed(texts.clone(), Role::Query))?;
    let k = 60;
    let mut cases = Vec::new();
    for ((a, v), text) in valid.iter().zip(vectors).zip(&texts) {
        let search = |district: Option<String>| {
            let filter = CaseFilter {
                statuses: vec!["imported".into()],
                district,
                received_before: Some(valid_from),
                ..CaseFilter::tenant("tune")
            };
            rt.block_on(memory.search(&v, filter, k)).map(|hits| {
                hits.into_iter()
                    .map(|h| Neighbour {
                        id: h.id as i64,
                        department: h.payload.department.unwrap_or_default(),
                        district: h.payload.district,
                        similarity: h.score,
                        received_at: h.payload.received_at,
                        decided: false,
                    })
                    .collect::<Vec<_>>()
            })
        };
        let global = search(None)?;
        let local = match &a.district {
            Some(d) => search(Some(d.clone()))?,
            None => Vec::new(),
        };
        let input = head.input(&v, a.district.as_deref());
        let lex = lexical.features(
            text,
            LexicalPlace {
                district: a.district.as_deref(),
                municipality: a.municipality.as_deref(),
                ..LexicalPlace::default()
            },
        );
        let place = match appeal_triage::engine::valid_spot(a.lat, a.lon) {
            Some((lat, lon)) => {
                let spot = appeal_triage::engine::Spot::Coordinates(lat, lon);
                let q = appeal_triage::engine::SpotQuery {
                    spot: &spot,
                    radius_m: spot_radius_m,
                    limit: spot_max_cases,
                    before: Some(valid_from),
                    exclude: None,
                    category: &[],
                    area: (0.0, 0),
                };
                rt.block_on(appeal_triage::engine::place_neighbours(
                    &memory, "tune", &v, q,
                ))?
                .all
            }
            None => Vec::new(),
        };
        cases.push(Case {
            lexical: lex,
            place,
            label: a.label.clone(),
            district: a.district.clone(),
            global,
            local,
            input,
        });
    }
    eprintln!("{} validation appeals prepared", cases.len());
    let models = Models {
        head: &head,
        lexical: &lexical,
        areas: &areas,
        roles: &roles,
        confirmed_total: before.len() as u64,
    };
    let eval = |p: &RoutingParams| {
        let scorer = Scorer::new(p.clone());
        let (mut top1, mut top3) = (0usize, 0usize);
        for c in &cases {
            let s = scorer.score(&c.input(p.knn_k, &models));
            let mut order: Vec<usize> = (0..s.scores.len()).collect();
            order.sort_by(|&a, &b| s.scores[b].total_cmp(&s.scores[a]));
            if order.first().map(|&i| &s.candidates[i]) == Some(&c.label) {
                top1 += 1;
            }
            if order.iter().take(3).any(|&i| s.candidates[i] == c.label) {
                top3 += 1;
            }
        }
        (
            top1 as f64 / cases.len() as f64,
            top3 as f64 / cases.len() as f64,
        )
    };
    // TUNE_DUMP=FILE writes each validation appeal's per-signal probabilities
    // under the default weights (JSON lines), for offline study of the combination.
    if let Ok(path) = std::env::var("TUNE_DUMP") {
        use std::io::Write;
        let scorer = Scorer::new(RoutingParams::default());
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let soft_scorer = Scorer::new(RoutingParams {
            knn_temperature: 0.1,
            ..RoutingParams::default()
        });
        for c in &cases {
            let input = c.input(scorer.params.knn_k, &models);
            let s = scorer.score(&input);
            let sig = &s.signals;
            // The votes again at a softer temperature, for the study.
            let soft = soft_scorer.score(&ScoreInput {
                head: None,
                lexical: None,
                ..input
            });
            let soft_of = |k: SignalKind| {
                soft.signals.get(k).map(|p| {
                    s.candidates
                        .iter()
                        .map(|c| {
                            soft.candidates
                                .iter()
                                .position(|x| x == c)
                                .map_or(0.0, |i| p[i])
                        })
                        .collect::<Vec<f64>>()
                })
            };
            let row = serde_json::json!({
                "knn_soft": soft_of(SignalKind::Knn), "local_soft": soft_of(SignalKind::Local),
                "label": c.label, "district": c.district, "candidates": s.candidates,
                "scores": s.scores, "knn": sig.get(SignalKind::Knn), "local": sig.get(SignalKind::Local),
                "near": sig.get(SignalKind::Near), "geo": sig.get(SignalKind::Geo),
                "head": sig.get(SignalKind::Head), "lexical": sig.get(SignalKind::Lexical),
                "place": sig.get(SignalKind::Place),
                "best_sim": input.neighbours.first().map(|n| n.similarity),
            });
            writeln!(out, "{row}")?;
        }
        eprintln!("dumped {} appeals to {path}", cases.len());
    }
    let base = RoutingParams::default();
    println!("k\ttemp\tw_knn\tw_local\tw_head\tw_place\tw_lex\tw_geo\ttop1\ttop3");
    let mut best = (0.0, base.clone());
    // Each axis of the grid can be set by an env var (comma-separated values).
    let axis = |name: &str, default: &[f64]| -> Vec<f64> {
        std::env::var(name)
            .ok()
            .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_else(|| default.to_vec())
    };
    let ks: Vec<usize> = axis("TUNE_K", &[40.0])
        .iter()
        .map(|&k| k as usize)
        .collect();
    let temps = axis("TUNE_T", &[0.02]);
    let wk = axis("TUNE_W_KNN", &[0.5, 1.0, 1.5, 2.0]);
    let wl = axis("TUNE_W_LOCAL", &[0.0, 0.5, 1.0]);
    let wh = axis("TUNE_W_HEAD", &[0.5, 1.0, 1.5]);
    let wp = axis("TUNE_W_PLACE", &[0.0, 0.5, 1.0]);
    let wx = axis("TUNE_W_LEX", &[0.5, 1.0, 1.5]);
    let wg = axis("TUNE_W_GEO", &[0.0, 1.0, 2.0]);
    let mut grid = Vec::new();
    for &knn_k in &ks {
        for &knn_temperature in &temps {
            for (&w_knn, &w_local) in wk.iter().flat_map(|a| wl.iter().map(move |b| (a, b))) {
                for (&w_head, &w_place) in wh.iter().flat_map(|a| wp.iter().map(move |b| (a, b))) {
                    for (&w_lex, &w_geo) in wx.iter().flat_map(|a| wg.iter().map(move |b| (a, b))) {
                        let weights = base
                            .weights
                            .with(SignalKind::Knn, w_knn)
                            .with(SignalKind::Local, w_local)
                            .with(SignalKind::Head, w_head)
                            .with(SignalKind::Place, w_place)
                            .with(SignalKind::Lexical, w_lex)
                            .with(SignalKind::Geo, w_geo);
                        grid.push(RoutingParams {
                            knn_k,
                            knn_temperature,
                            weights,
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for p in grid {
        let (t1, t3) = eval(&p);
        let w = |k| p.weights.get(k);
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{t1:.4}\t{t3:.4}",
            p.knn_k,
            p.knn_temperature,
            w(SignalKind::Knn),
            w(SignalKind::Local),
            w(SignalKind::Head),
            w(SignalKind::Place),
            w(SignalKind::Lexical),
            w(SignalKind::Geo)
        );
        if t1 > best.0 {
            best = (t1, p);
        }
    }
    println!("best top1 {:.4}: {:?}", best.0, best.1);
    Ok(())
}
