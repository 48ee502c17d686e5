//! `report.html`: one self-contained page with the summary table and inline
//! SVG plots (reliability diagram, coverage-precision curve, confusion heatmap
//! of the top 20 departments, per-department F1 bars).

use std::fmt::Write;

use super::svg::{self, esc};
use super::{pct, Report};

/// Departments shown in the heatmap (by support).
pub const HEATMAP_DEPARTMENTS: usize = 20;

/// Renders the report as HTML.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>triage-eval report</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>");
    let _ = write!(
        s,
        "<h1>triage-eval report</h1><p>{} &middot; commit {} &middot; split <b>{}</b>: {} &middot; {} train, {} test</p>",
        esc(&r.created_at),
        esc(r.git_commit.as_deref().unwrap_or("unknown")),
        esc(&r.split.rule),
        esc(&r.split.description),
        r.split.n_train,
        r.split.n_test
    );
    s.push_str("<table><tr><th>router</th><th>top1 %</th><th>top3 %</th><th>macro-F1 %</th><th>ECE</th><th>auto share %</th><th>auto precision %</th><th>conformal coverage %</th><th>p50 ms</th><th>p95 ms</th></tr>");
    for x in r.routers() {
        let m = &x.metrics;
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            esc(&x.name),
            pct(Some(m.top1)),
            pct(Some(m.top3)),
            pct(Some(m.macro_f1)),
            m.ece,
            pct(Some(m.auto_share)),
            pct(m.auto_precision),
            pct(Some(m.conformal_coverage)),
            m.latency_ms.p50,
            m.latency_ms.p95
        );
    }
    s.push_str("</table>");
    let reliability: Vec<(String, Vec<(f64, f64)>)> = r
        .routers()
        .iter()
        .map(|x| {
            let pts = x
                .metrics
                .calibration
                .bins
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| (b.mean_confidence, b.accuracy))
                .collect();
            (x.name.clone(), pts)
        })
        .collect();
    let coverage: Vec<(String, Vec<(f64, f64)>)> = r
        .routers()
        .iter()
        .map(|x| {
            (
                x.name.clone(),
                x.metrics
                    .coverage_precision
                    .points
                    .iter()
                    .map(|p| (p.coverage, p.precision))
                    .collect(),
            )
        })
        .collect();
    s.push_str("<h2>Calibration and selective routing</h2><div>");
    s.push_str(&svg::line_chart(
        "Reliability diagram (15 bins)",
        "mean confidence",
        "accuracy",
        &reliability,
        true,
    ));
    s.push_str(&svg::line_chart(
        "Coverage vs precision",
        "coverage (confidence >= threshold)",
        "top-1 precision",
        &coverage,
        false,
    ));
    // Coverage per month, months spread over the x axis in time order.
    let over_time: Vec<(String, Vec<(f64, f64)>)> = r
        .routers()
        .into_iter()
        .map(|x| {
            let months = &x.metrics.by_month;
            let last = months.len().saturating_sub(1).max(1) as f64;
            let points = months
                .iter()
                .enumerate()
                .map(|(i, m)| (i as f64 / last, m.conformal_coverage))
                .collect();
            (x.name.clone(), points)
        })
        .collect();
    let span = r
        .routers()
        .first()
        .and_then(|x| Some((x.metrics.by_month.first()?, x.metrics.by_month.last()?)))
        .map_or(String::new(), |(a, b)| {
            format!("{} .. {}", a.month, b.month)
        });
    s.push_str(&svg::line_chart(
        "Prediction-set coverage per month",
        &format!("test month ({span})"),
        "coverage",
        &over_time,
        false,
    ));
    s.push_str("</div>");
    for x in r.routers() {
        let m = &x.metrics;
        let _ = write!(s, "<h2>{}</h2>", esc(&x.name));
        let k = m.confusion.labels.len().min(HEATMAP_DEPARTMENTS);
        let labels = m.confusion.labels[..k].to_vec();
        let matrix: Vec<Vec<usize>> = m.confusion.matrix[..k]
            .iter()
            .map(|row| row[..k].to_vec())
            .collect();
        s.push_str(&svg::heatmap(
            &format!("Confusion, top {k} departments by support"),
            &labels,
            &matrix,
        ));
        let f1: Vec<(String, f64)> = m
            .per_department
            .iter()
            .map(|d| (format!("{} ({})", d.department, d.support), d.f1))
            .collect();
        s.push_str("<br>");
        s.push_str(&svg::bars("F1 per department (support)", &f1));
    }
    s.push_str("</body></html>\n");
    s
}
