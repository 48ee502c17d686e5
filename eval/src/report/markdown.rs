//! `report.md`: the numbers as tables, for a pull request or a notebook.

use std::fmt::Write;

use super::{pct, Report};
use crate::metrics::breakdown::Group;

/// Renders the report as Markdown.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# triage-eval report\n");
    let _ = writeln!(
        s,
        "- created: {}\n- commit: {}\n- split: {} ({})\n- rows: {} read, {} train, {} test, {} dropped\n",
        r.created_at,
        r.git_commit.as_deref().unwrap_or("unknown"),
        r.split.rule,
        r.split.description,
        r.split.n_rows,
        r.split.n_train,
        r.split.n_test,
        r.split.n_dropped
    );
    let unseen: usize = r
        .split
        .folds
        .iter()
        .map(|f| f.unseen_test_labels.n_examples)
        .sum();
    if unseen > 0 {
        let _ = writeln!(s, "{unseen} test examples have a department absent from their train part (cannot be predicted):\n");
        for f in &r.split.folds {
            for (l, n) in &f.unseen_test_labels.labels {
                let _ = writeln!(s, "- fold {}: {l} ({n})", f.index);
            }
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Summary (percent, except ECE and latency)\n");
    let _ = writeln!(s, "| router | n_test | top1 | top3 | macro_f1 | ece | auto_share | auto_precision | conformal_coverage | mean_set_size | coverage @ target | p50 ms | p95 ms | p99 ms | predictions/s | fit s |");
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for x in r.routers() {
        let m = &x.metrics;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.4} | {} | {} | {} | {:.2} | {} | {:.3} | {:.3} | {:.3} | {:.0} | {:.1} |",
            x.name,
            m.n_test,
            pct(Some(m.top1)),
            pct(Some(m.top3)),
            pct(Some(m.macro_f1)),
            m.ece,
            pct(Some(m.auto_share)),
            pct(m.auto_precision),
            pct(Some(m.conformal_coverage)),
            m.mean_set_size,
            pct(Some(m.coverage_precision.coverage_at_target)),
            m.latency_ms.p50,
            m.latency_ms.p95,
            m.latency_ms.p99,
            x.throughput_per_s,
            x.fit_seconds
        );
    }
    for x in r.routers() {
        let m = &x.metrics;
        let _ = writeln!(s, "\n## {}\n", x.name);
        let cp = &m.coverage_precision;
        let _ = writeln!(
            s,
            "Confidence threshold for precision >= {}: {} (coverage {}%).\n",
            cp.target_precision,
            cp.threshold_at_target
                .map_or("unreachable".to_string(), |t| format!("{t:.4}")),
            pct(Some(cp.coverage_at_target))
        );
        group_table(&mut s, "language", &m.by_language);
        s.push('\n');
        group_table(&mut s, "district", &m.by_district);
        month_table(&mut s, &m.by_month);
        let _ = writeln!(s, "\n| department | support | predicted | precision | recall | f1 |\n|---|---:|---:|---:|---:|---:|");
        for d in &m.per_department {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                d.department.replace('|', "\\|"),
                d.support,
                d.predicted,
                pct(Some(d.precision)),
                pct(Some(d.recall)),
                pct(Some(d.f1))
            );
        }
    }
    s
}

/// Calibration and coverage per month, as a table.
fn month_table(s: &mut String, months: &[crate::metrics::monthly::Month]) {
    let _ = writeln!(
        s,
        "\n| month | n | top1 | ECE | coverage | mean set | auto_share | auto_precision |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for m in months {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4} | {} | {:.2} | {} | {} |",
            m.month,
            m.n,
            pct(Some(m.top1)),
            m.ece,
            pct(Some(m.conformal_coverage)),
            m.mean_set_size,
            pct(Some(m.auto_share)),
            pct(m.auto_precision)
        );
    }
}

/// A breakdown (per language, per district) as a table.
fn group_table(s: &mut String, key: &str, groups: &[Group]) {
    let _ = writeln!(
        s,
        "| {key} | n | top1 | top3 | auto_share |\n|---|---:|---:|---:|---:|"
    );
    for g in groups {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            g.key,
            g.n,
            pct(Some(g.top1)),
            pct(Some(g.top3)),
            pct(Some(g.auto_share))
        );
    }
}
