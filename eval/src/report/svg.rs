//! Small self-made SVG charts (no plotting dependency): line charts on the unit
//! square, a heatmap and horizontal bars. Output is inline `<svg>` markup.

use std::fmt::Write;

/// Series colours, in order.
const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// Escapes text for XML content and attributes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Line chart over [0, 1] x [0, 1]; `diagonal` draws y = x (perfect calibration).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    diagonal: bool,
) -> String {
    let (w, h, left, top, size) = (520.0, 420.0, 60.0, 40.0, 320.0);
    let px = |x: f64| left + x.clamp(0.0, 1.0) * size;
    let py = |y: f64| top + (1.0 - y.clamp(0.0, 1.0)) * size;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        left,
        esc(title)
    );
    for i in 0..=5 {
        let t = i as f64 / 5.0;
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            px(0.0),
            py(t),
            px(1.0),
            py(t)
        );
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            px(t),
            py(0.0),
            px(t),
            py(1.0)
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{t:.1}</text>"#,
            px(0.0) - 5.0,
            py(t) + 4.0
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{t:.1}</text>"#,
            px(t),
            py(0.0) + 16.0
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#333"/>"##
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        px(0.5),
        py(0.0) + 34.0,
        esc(x_label)
    );
    let _ = write!(
        s,
        r#"<text x="15" y="{}" text-anchor="middle" transform="rotate(-90 15 {})">{}</text>"#,
        py(0.5),
        py(0.5),
        esc(y_label)
    );
    if diagonal {
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 4"/>"##,
            px(0.0),
            py(0.0),
            px(1.0),
            py(1.0)
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        if pts.len() <= 30 {
            for &(x, y) in pts {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"#,
                    px(x),
                    py(y)
                );
            }
        }
        let ly = top + 14.0 + i as f64 * 18.0;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{c}"/>"#,
            left + size + 12.0,
            ly - 10.0
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{ly}">{}</text>"#,
            left + size + 28.0,
            esc(&truncate(name, 22))
        );
    }
    s.push_str("</svg>");
    s
}

/// Heatmap of a confusion matrix, cells shaded by the share of their row
/// (recall view), counts written in non-empty cells.
pub fn heatmap(title: &str, labels: &[String], matrix: &[Vec<usize>]) -> String {
    let n = labels.len();
    let (cell, left, top) = (22.0, 260.0, 50.0);
    let (w, h) = (left + n as f64 * cell + 20.0, top + n as f64 * cell + 200.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="10">"#
    );
    let _ = write!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="10" y="38">rows: true department; columns: predicted; shade: share of the row</text>"#
    );
    for (i, row) in matrix.iter().enumerate() {
        let total: usize = row.iter().sum();
        let y = top + i as f64 * cell;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 4.0,
            y + 15.0,
            esc(&truncate(&labels[i], 42))
        );
        for (j, &v) in row.iter().enumerate() {
            let share = if total > 0 {
                v as f64 / total as f64
            } else {
                0.0
            };
            let shade = (255.0 * (1.0 - share)).round() as u8;
            let x = left + j as f64 * cell;
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({shade},{shade},255)" stroke="#eee"><title>{} -> {}: {v}</title></rect>"##,
                esc(&labels[i]),
                esc(&labels[j])
            );
            if v > 0 {
                let fg = if share > 0.5 { "white" } else { "black" };
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle" fill="{fg}">{v}</text>"#,
                    x + cell / 2.0,
                    y + 15.0
                );
            }
        }
    }
    for (j, l) in labels.iter().enumerate() {
        let x = left + j as f64 * cell + 14.0;
        let y = top + n as f64 * cell + 6.0;
        let _ = write!(
            s,
            r#"<text x="{x}" y="{y}" transform="rotate(60 {x} {y})">{}</text>"#,
            esc(&truncate(l, 30))
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of values in [0, 1] with their labels.
pub fn bars(title: &str, items: &[(String, f64)]) -> String {
    let (bar_h, left, top, width) = (16.0, 300.0, 40.0, 360.0);
    let h = top + items.len() as f64 * bar_h + 20.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{h}" font-family="sans-serif" font-size="11">"#,
        left + width + 60.0
    );
    let _ = write!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#,
        esc(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = top + i as f64 * bar_h;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 4.0,
            y + 12.0,
            esc(&truncate(label, 48))
        );
        let _ = write!(
            s,
            r##"<rect x="{left}" y="{y}" width="{:.1}" height="{}" fill="#1f77b4"/>"##,
            v.clamp(0.0, 1.0) * width,
            bar_h - 3.0
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}">{v:.2}</text>"#,
            left + v.clamp(0.0, 1.0) * width + 4.0,
            y + 12.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_and_escaped() {
        let l = line_chart(
            "a<b",
            "x",
            "y",
            &[("s&1".into(), vec![(0.0, 0.0), (1.0, 0.5)])],
            true,
        );
        assert!(l.starts_with("<svg") && l.ends_with("</svg>"));
        assert!(l.contains("a&lt;b") && l.contains("s&amp;1") && !l.contains("a<b"));
        // (1.0, 0.5) -> x = 60 + 320, y = 40 + 160.
        assert!(l.contains("380.0,200.0"), "{l}");
        let m = heatmap("cm", &["A".into(), "B".into()], &[vec![3, 1], vec![0, 2]]);
        assert_eq!(m.matches("<rect").count(), 4);
        assert!(m.contains("rgb(64,64,255)"), "A row: 3/4 -> shade 64");
        let b = bars("f1", &[("A".into(), 0.5)]);
        assert!(b.contains(r#"width="180.0""#));
    }
}
