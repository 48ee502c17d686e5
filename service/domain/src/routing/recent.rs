//! Recent outcomes: how often the confidence routing gave was right on the
//! latest confirmed appeals, so the confidence shown and the auto-routing
//! threshold follow drift between refits.
//!
//! The fitted calibration (a temperature, [`super::calibration`]) is learned
//! once per refit on held-out cases that are older than every appeal routed
//! with it. When the months change it stays sure where it should not be: on
//! Kyiv's later weeks, with every confirmation fed back at once, answers at
//! 0.80-0.95 confidence were right 72% of the time while those under 0.5 were
//! right *more* often than they said (docs/routing.md, session 12). A
//! temperature can only sharpen or flatten all of them together: adapted
//! online toward mean accuracy it rose (the low end pulled it) and the
//! calibration error grew. So the shape is learned instead: an isotonic
//! (pool-adjacent-violators) map from the fitted confidence to how often
//! recent appeals at that confidence were right, over a window of the most
//! recent confirmed outcomes, with a few identity points as a prior. The
//! auto-routing threshold is read from the same window with the rule used
//! at calibration (Wilson lower bound on precision; a smaller margin, as it
//! is learned again every few confirmations), so what is sent on
//! without review keeps its promised precision as the world drifts, and
//! nothing is auto-routed while recent outcomes show the target out of reach.
//!
//! The window starts with the calibration cases' outcomes; it takes over from
//! the fitted calibration once `min_live` confirmations have arrived since
//! the start (before that nothing changes), and each confirmation pushes the
//! oldest outcome out.

use std::collections::VecDeque;

use super::calibration::precision_threshold;

/// Recompute the map and threshold after this many confirmations.
const REFRESH_EVERY: usize = 10;
/// Identity points (confidence = accuracy at 0.1, 0.2, ... 0.9) the map is
/// learned with, so a thin stretch of the window cannot bend it far.
const PRIOR_POINTS: usize = 9;
/// Fewest points an isotonic block may hold (see [`isotonic`]).
const MIN_BLOCK: f64 = 30.0;
/// Standard errors of margin the window's threshold keeps (the Wilson lower
/// bound of precision at this z must reach the target). The calibration's
/// threshold keeps z = 2, as it stands unchecked until the next refit; this
/// one is learned again every few confirmations, so a shortfall is seen and
/// corrected, and z = 2 here gave away automation for nothing: replayed over
/// St Petersburg's February with feedback (docs/routing.md, session 12),
/// z = 2 auto-routed 54.5% at precision 0.960, z = 1.28 58.1% at 0.957.
const THRESHOLD_Z: f64 = 1.28;
/// Outcomes at or above a threshold needed before it can be learned.
const THRESHOLD_MIN_CASES: usize = 50;

/// The window of recent outcomes of one tenant and what it learned.
#[derive(Debug, Clone, Default)]
pub struct RecentOutcomes {
    capacity: usize,
    min_live: usize,
    target: f64,
    seeds: Vec<(f64, bool)>,
    live: VecDeque<(f64, bool)>,
    since_refresh: usize,
    /// Isotonic blocks (mean fitted confidence, share right), ascending.
    map: Vec<(f64, f64)>,
    threshold: Option<f64>,
}

impl RecentOutcomes {
    /// A window of `capacity` outcomes (0: off, the fitted calibration always
    /// applies) that takes over after `min_live` confirmations, learning
    /// the auto-routing threshold for precision `target`.
    pub fn new(capacity: usize, min_live: usize, target: f64) -> Self {
        Self {
            capacity,
            // A minimum above the window could never be reached: the window
            // would stay off whatever came back.
            min_live: min_live.clamp(1, capacity.max(1)),
            target,
            ..Self::default()
        }
    }

    /// Replaces the calibration outcomes the window starts with (a refit
    /// brings new ones); confirmations already seen stay.
    pub fn seed(&mut self, outcomes: &[(f32, bool)]) {
        self.seeds = outcomes.iter().map(|&(c, ok)| (f64::from(c), ok)).collect();
        self.refresh();
    }

    /// Learns from one confirmed appeal: the confidence the fitted
    /// calibration gave its top candidate, and whether that was right.
    pub fn observe(&mut self, fitted: f64, right: bool) {
        if self.capacity == 0 || !fitted.is_finite() {
            return;
        }
        self.live.push_back((fitted.clamp(0.0, 1.0), right));
        while self.live.len() > self.capacity {
            self.live.pop_front();
        }
        self.since_refresh += 1;
        if self.since_refresh >= REFRESH_EVERY || self.live.len() == self.min_live {
            self.refresh();
        }
    }

    /// Confirmations seen since the start (at most the window's capacity).
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Whether recent outcomes have taken over from the fitted calibration.
    pub fn active(&self) -> bool {
        self.capacity > 0 && self.live.len() >= self.min_live
    }

    /// The confidence to show for a fitted one: how often recent appeals at
    /// that fitted confidence were right (the fitted one itself until the
    /// window is active).
    pub fn confidence(&self, fitted: f64) -> f64 {
        if !self.active() || self.map.is_empty() {
            return fitted;
        }
        let m = &self.map;
        let y = match m.iter().position(|&(x, _)| fitted <= x) {
            Some(0) => m[0].1,
            Some(i) => {
                let ((x0, y0), (x1, y1)) = (m[i - 1], m[i]);
                if x1 > x0 {
                    y0 + (y1 - y0) * (fitted - x0) / (x1 - x0)
                } else {
                    y1
                }
            }
            None => m[m.len() - 1].1,
        };
        y.clamp(0.0, 1.0)
    }

    /// The auto-routing threshold recent outcomes set, on the fitted
    /// confidence: `None` while the window is not active (the calibration's
    /// applies), `Some(None)` when the target precision is out of reach
    /// (nothing is auto-routed).
    pub fn auto_threshold(&self) -> Option<Option<f64>> {
        self.active().then_some(self.threshold)
    }

    /// The window: the newest seeds that fit beside the live outcomes, then
    /// the live ones.
    fn window(&self) -> Vec<(f64, bool)> {
        let room = self.capacity.saturating_sub(self.live.len());
        let skip = self.seeds.len().saturating_sub(room);
        self.seeds[skip..]
            .iter()
            .chain(self.live.iter())
            .copied()
            .collect()
    }

    fn refresh(&mut self) {
        self.since_refresh = 0;
        if self.capacity == 0 {
            return;
        }
        let mut window = self.window();
        let mut points: Vec<(f64, f64)> = window
            .iter()
            .map(|&(c, ok)| (c, if ok { 1.0 } else { 0.0 }))
            .chain((1..=PRIOR_POINTS).map(|i| {
                let x = i as f64 / (PRIOR_POINTS + 1) as f64;
                (x, x)
            }))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.map = isotonic(&points);
        self.threshold =
            precision_threshold(&mut window, self.target, THRESHOLD_MIN_CASES, THRESHOLD_Z);
    }
}

/// Pool adjacent violators: the non-decreasing step fit of `points` (sorted
/// by x), as blocks (mean x, mean y). Equal x are one point; a block of fewer
/// than [`MIN_BLOCK`] points is then pooled with the neighbour closest to it
/// (pooling neighbours keeps the fit non-decreasing): isotonic fits overfit
/// at the ends, where a handful of right answers at the top would otherwise
/// read as certainty.
fn isotonic(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    // (sum x, sum y, count)
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for &(x, y) in points {
        if let Some(last) = blocks.last_mut() {
            if last.0 / last.2 == x {
                *last = (last.0 + x, last.1 + y, last.2 + 1.0);
                pool_back(&mut blocks);
                continue;
            }
        }
        blocks.push((x, y, 1.0));
        pool_back(&mut blocks);
    }
    while blocks.len() > 1 {
        let Some(i) = (0..blocks.len())
            .filter(|&i| blocks[i].2 < MIN_BLOCK)
            .min_by(|&a, &b| blocks[a].2.total_cmp(&blocks[b].2))
        else {
            break;
        };
        let mean = |b: (f64, f64, f64)| b.1 / b.2;
        let j = match (i.checked_sub(1), (i + 1 < blocks.len()).then_some(i + 1)) {
            (Some(l), Some(r)) => {
                if (mean(blocks[l]) - mean(blocks[i])).abs()
                    <= (mean(blocks[r]) - mean(blocks[i])).abs()
                {
                    l
                } else {
                    r
                }
            }
            (Some(l), None) => l,
            (None, Some(r)) => r,
            (None, None) => break,
        };
        let (lo, hi) = (i.min(j), i.max(j));
        let b = blocks.remove(hi);
        let a = blocks[lo];
        blocks[lo] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
    }
    blocks.iter().map(|&(x, y, n)| (x / n, y / n)).collect()
}

/// Pools the last block into the one before while their means are out of order.
fn pool_back(blocks: &mut Vec<(f64, f64, f64)>) {
    while blocks.len() > 1 {
        let (a, b) = (blocks[blocks.len() - 2], blocks[blocks.len() - 1]);
        if a.1 / a.2 < b.1 / b.2 {
            break;
        }
        blocks.pop();
        let last = blocks.len() - 1;
        blocks[last] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcomes at fitted confidence `c`, right with probability `acc`
    /// (deterministic: every k-th of `n` is wrong).
    fn stream(r: &mut RecentOutcomes, c: f64, acc: f64, n: usize) {
        let mut owed = 0.0;
        for _ in 0..n {
            owed += 1.0 - acc;
            let wrong = owed >= 1.0;
            if wrong {
                owed -= 1.0;
            }
            r.observe(c, !wrong);
        }
    }

    #[test]
    fn nothing_changes_until_enough_confirmations_arrive() {
        let mut r = RecentOutcomes::new(1000, 100, 0.9);
        r.seed(&[(0.9, false); 500]);
        assert!(!r.active());
        assert_eq!(r.confidence(0.9), 0.9);
        assert_eq!(r.auto_threshold(), None);
        stream(&mut r, 0.95, 0.6, 99);
        assert_eq!(r.confidence(0.95), 0.95);
        stream(&mut r, 0.95, 0.6, 1);
        assert!(r.active());
        assert!(r.confidence(0.95) < 0.9, "{}", r.confidence(0.95));
        // Off: never active.
        let mut off = RecentOutcomes::new(0, 1, 0.9);
        stream(&mut off, 0.95, 0.0, 50);
        assert!(!off.active());
        assert_eq!(off.confidence(0.95), 0.95);
    }

    #[test]
    fn overconfident_answers_are_shown_as_often_right_as_they_were() {
        let mut r = RecentOutcomes::new(2000, 200, 0.9);
        // Confident answers right 70% of the time, unsure ones 40% (they
        // said 20%): no temperature fixes both.
        stream(&mut r, 0.95, 0.7, 1000);
        stream(&mut r, 0.2, 0.4, 1000);
        let high = r.confidence(0.95);
        let low = r.confidence(0.2);
        assert!((high - 0.7).abs() < 0.03, "{high}");
        assert!((low - 0.4).abs() < 0.03, "{low}");
        // Monotone in between.
        let mut last = 0.0;
        for i in 0..=20 {
            let c = r.confidence(i as f64 / 20.0);
            assert!(c >= last - 1e-12, "{c} after {last}");
            last = c;
        }
        // 0.9 precision is out of reach: nothing auto-routes.
        assert_eq!(r.auto_threshold(), Some(None));
    }

    #[test]
    fn the_threshold_follows_where_precision_holds_and_the_window_forgets() {
        let mut r = RecentOutcomes::new(1000, 100, 0.9);
        // Right 99% of the time above 0.8, 50% below.
        for _ in 0..10 {
            stream(&mut r, 0.85, 0.99, 50);
            stream(&mut r, 0.5, 0.5, 50);
        }
        let t = r.auto_threshold().flatten().expect("reachable");
        assert!(t > 0.5 && t <= 0.85, "{t}");
        // The world changes: answers at 0.85 become wrong half the time;
        // after a window's worth of them the threshold is out of reach.
        stream(&mut r, 0.85, 0.5, 1000);
        assert_eq!(r.auto_threshold(), Some(None));
        assert_eq!(r.live(), 1000);
    }

    #[test]
    fn a_minimum_above_the_window_is_the_window() {
        let mut r = RecentOutcomes::new(50, 200, 0.9);
        for _ in 0..50 {
            r.observe(0.9, true);
        }
        assert!(r.active(), "50 live outcomes fill a window of 50");
    }

    #[test]
    fn seeds_fill_the_window_beside_live_outcomes() {
        let mut r = RecentOutcomes::new(100, 10, 0.9);
        r.seed(&[(0.5, true); 200]);
        stream(&mut r, 0.5, 0.0, 10);
        // 90 seeds (all right) and 10 live (all wrong), with the prior (its
        // points below 0.5 pull the interpolation down a little).
        let c = r.confidence(0.5);
        assert!(c > 0.8 && c <= 0.9, "{c}");
        // A refit's new seeds replace the old ones; the live stay.
        r.seed(&[(0.5, false); 200]);
        assert!(r.confidence(0.5) < 0.15, "{}", r.confidence(0.5));
    }

    #[test]
    fn isotonic_pools_violators() {
        // 40 points each: right, wrong, right: the first two pool.
        let mut pts = Vec::new();
        for (x, y) in [(0.1, 1.0), (0.2, 0.0), (0.3, 1.0)] {
            pts.extend((0..40).map(|i| (x + i as f64 * 1e-4, y)));
        }
        let b = isotonic(&pts);
        assert_eq!(b.len(), 2, "{b:?}");
        assert!((b[0].1 - 0.5).abs() < 1e-12, "{b:?}");
        // A short run of right answers at the top does not read as certainty.
        let mut pts: Vec<(f64, f64)> = (0..300).map(|i| (0.9, f64::from(i % 2))).collect();
        pts.extend((0..5).map(|i| (0.99 + i as f64 * 1e-3, 1.0)));
        let b = isotonic(&pts);
        assert!(b.last().unwrap().1 < 0.6, "{b:?}");
    }
}
