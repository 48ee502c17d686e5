//! Limited-memory BFGS over `f32` parameter vectors (millions of entries: the
//! TF-IDF logistic regression has ~10 M), with a backtracking Armijo line
//! search. Vectors are `f32` to halve memory traffic, which is what bounds
//! every pass on this problem; dot products accumulate in `f64`.
//!
//! Stopping follows scipy's L-BFGS-B as sklearn calls it: the largest gradient
//! component at most `gtol` (sklearn's `tol`), or a relative decrease of the
//! objective below `ftol`, or `max_iter` iterations.

use std::collections::VecDeque;

use rayon::prelude::*;

/// A differentiable objective. `value` may keep state of the point it was
/// evaluated at, so `gradient` is only asked for at the last point `value` saw.
pub trait Objective {
    /// The objective at `x` (remembers what `gradient` needs).
    fn value(&mut self, x: &[f32]) -> f64;
    /// The gradient at `x`, the point of the last `value` call.
    fn gradient(&mut self, x: &[f32], grad: &mut [f32]);
}

/// Stopping rule and history length.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Iteration cap.
    pub max_iter: usize,
    /// Converged when the largest gradient component is at most this.
    pub gtol: f64,
    /// Stop when `(f_k - f_k+1) / max(|f_k|, 1)` is at most this.
    pub ftol: f64,
    /// Pairs `(s, y)` kept (scipy's `maxcor`, default 10).
    pub memory: usize,
}

/// What a monitor sees before each iteration.
pub struct Step<'a> {
    /// Iterations done so far.
    pub iteration: usize,
    /// The objective at `x`.
    pub value: f64,
    /// The largest gradient component at `x`.
    pub max_gradient: f64,
    /// The current point.
    pub x: &'a [f32],
}

/// Why the minimiser stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The gradient tolerance was reached.
    Converged,
    /// The iteration cap.
    MaxIter,
    /// The relative decrease fell below `ftol`, or no step decreased the objective.
    NoProgress,
    /// The monitor asked to stop (e.g. validation score on a plateau).
    Monitor,
}

/// Where the minimiser stopped.
#[derive(Debug, Clone)]
pub struct Minimum {
    /// The point.
    pub x: Vec<f32>,
    /// The objective there.
    pub value: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the gradient tolerance was reached.
    pub converged: bool,
    /// Why it stopped.
    pub stop: Stop,
}

const CHUNK: usize = 1 << 14;

/// `sum a_i b_i` of one block in eight f64 lanes (a single running sum
/// would be a serial chain of scalar adds: the compiler may not reorder them).
fn dot_block(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum();
    for (x, y) in ac.zip(bc) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += *x as f64 * *y as f64;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `a . b`, accumulated in f64, in parallel.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| dot_block(a, b))
        .sum()
}

/// `y += alpha * x`.
fn axpy(alpha: f64, x: &[f32], y: &mut [f32]) {
    let alpha = alpha as f32;
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| {
            for (yi, xi) in y.iter_mut().zip(x) {
                *yi = alpha.mul_add(*xi, *yi);
            }
        });
}

fn max_abs(v: &[f32]) -> f64 {
    v.par_chunks(CHUNK)
        .map(|c| {
            let mut m = [0.0f32; 8];
            let it = c.chunks_exact(8);
            let tail = it.remainder().iter().fold(0.0f32, |a, x| a.max(x.abs()));
            for x in it {
                for (m, x) in m.iter_mut().zip(x) {
                    *m = m.max(x.abs());
                }
            }
            m.iter().fold(tail, |a, x| a.max(*x))
        })
        .reduce(|| 0.0, f32::max) as f64
}

/// Minimises `obj` from `x0`. `monitor` sees every iterate (before the
/// convergence test) and stops the run by returning `false`.
pub fn minimize(
    obj: &mut dyn Objective,
    x0: Vec<f32>,
    s: &Settings,
    monitor: &mut dyn FnMut(&Step<'_>) -> bool,
) -> Minimum {
    let dim = x0.len();
    let mut x = x0;
    let mut f = obj.value(&x);
    let mut g = vec![0.0f32; dim];
    obj.gradient(&x, &mut g);
    // (s, y, 1 / s.y), oldest first.
    let mut hist: VecDeque<(Vec<f32>, Vec<f32>, f64)> = VecDeque::new();
    let mut dir = vec![0.0f32; dim];
    let mut next = vec![0.0f32; dim];
    let mut g_next = vec![0.0f32; dim];
    let (mut iterations, mut stop) = (0, Stop::MaxIter);
    for it in 0..=s.max_iter {
        let gmax = max_abs(&g);
        let view = Step {
            iteration: it,
            value: f,
            max_gradient: gmax,
            x: &x,
        };
        if gmax <= s.gtol {
            monitor(&view);
            stop = Stop::Converged;
            break;
        }
        if !monitor(&view) {
            stop = Stop::Monitor;
            break;
        }
        if it == s.max_iter {
            break;
        }
        // Two-loop recursion: dir = -H g.
        dir.copy_from_slice(&g);
        let mut alphas = Vec::with_capacity(hist.len());
        for (sv, yv, rho) in hist.iter().rev() {
            let a = rho * dot(sv, &dir);
            axpy(-a, yv, &mut dir);
            alphas.push(a);
        }
        if let Some((sv, yv, _)) = hist.back() {
            let gamma = (dot(sv, yv) / dot(yv, yv)) as f32;
            dir.par_iter_mut().for_each(|v| *v *= gamma);
        }
        for ((sv, yv, rho), a) in hist.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(yv, &dir);
            axpy(a - b, sv, &mut dir);
        }
        dir.par_iter_mut().for_each(|v| *v = -*v);
        let mut gd = dot(&g, &dir);
        if gd >= 0.0 || !gd.is_finite() {
            // Not a descent direction (curvature information gone stale): restart.
            hist.clear();
            dir.par_iter_mut().zip(&g).for_each(|(v, gi)| *v = -gi);
            gd = -dot(&g, &g);
        }
        let mut step = if hist.is_empty() {
            (1.0 / (-gd).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..40 {
            let st = step as f32;
            next.par_chunks_mut(CHUNK)
                .zip(x.par_chunks(CHUNK))
                .zip(dir.par_chunks(CHUNK))
                .for_each(|((t, xs), ds)| {
                    for ((t, xi), di) in t.iter_mut().zip(xs).zip(ds) {
                        *t = st.mul_add(*di, *xi);
                    }
                });
            let f_next = obj.value(&next);
            if f_next <= f + 1e-4 * step * gd {
                accepted = Some(f_next);
                break;
            }
            step *= 0.5;
        }
        iterations = it + 1;
        let Some(f_next) = accepted else {
            // No decrease along the direction: at the precision floor.
            stop = Stop::NoProgress;
            break;
        };
        obj.gradient(&next, &mut g_next);
        // Reuse the oldest pair's buffers when the history is full.
        let (mut sv, mut yv) = if hist.len() == s.memory {
            let (a, b, _) = hist.pop_front().expect("non-empty");
            (a, b)
        } else {
            (vec![0.0f32; dim], vec![0.0f32; dim])
        };
        sv.par_chunks_mut(CHUNK)
            .zip(next.par_chunks(CHUNK))
            .zip(x.par_chunks(CHUNK))
            .for_each(|((o, a), b)| {
                for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                    *o = a - b;
                }
            });
        yv.par_chunks_mut(CHUNK)
            .zip(g_next.par_chunks(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|((o, a), b)| {
                for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                    *o = a - b;
                }
            });
        let sy = dot(&sv, &yv);
        if sy > 1e-12 {
            hist.push_back((sv, yv, 1.0 / sy));
        }
        let decrease = f - f_next;
        std::mem::swap(&mut x, &mut next);
        std::mem::swap(&mut g, &mut g_next);
        f = f_next;
        if decrease <= s.ftol * f.abs().max(1.0) {
            stop = Stop::NoProgress;
            break;
        }
    }
    Minimum {
        x,
        value: f,
        iterations,
        converged: stop == Stop::Converged,
        stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(x) = sum_i a_i (x_i - i)^2 / 2`, badly conditioned (a from 1 to 1000).
    struct Quadratic;

    impl Objective for Quadratic {
        fn value(&mut self, x: &[f32]) -> f64 {
            x.iter()
                .enumerate()
                .map(|(i, v)| {
                    let a = 1.0 + 999.0 * i as f64 / 9.0;
                    0.5 * a * (*v as f64 - i as f64).powi(2)
                })
                .sum()
        }
        fn gradient(&mut self, x: &[f32], g: &mut [f32]) {
            for (i, (gi, v)) in g.iter_mut().zip(x).enumerate() {
                let a = 1.0 + 999.0 * i as f64 / 9.0;
                *gi = (a * (*v as f64 - i as f64)) as f32;
            }
        }
    }

    #[test]
    fn finds_the_minimum_of_an_ill_conditioned_quadratic() {
        let s = Settings {
            max_iter: 200,
            gtol: 1e-3,
            ftol: 0.0,
            memory: 5,
        };
        let m = minimize(&mut Quadratic, vec![0.0; 10], &s, &mut |_| true);
        assert!(m.converged, "{m:?}");
        for (i, v) in m.x.iter().enumerate() {
            assert!((*v - i as f32).abs() < 1e-3, "x[{i}] = {v}");
        }
        // Started at the minimum: converged with no iteration.
        let x0: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let m = minimize(&mut Quadratic, x0, &s, &mut |_| true);
        assert_eq!((m.iterations, m.converged), (0, true));
        // A monitor stopping at iteration 3 gets 3 iterations.
        let m = minimize(&mut Quadratic, vec![0.0; 10], &s, &mut |st| {
            st.iteration < 3
        });
        assert_eq!((m.iterations, m.stop), (3, Stop::Monitor));
    }
}
