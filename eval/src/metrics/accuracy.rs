//! Top-k accuracy.

use std::borrow::Borrow;

use super::ratio;
use crate::outcome::Outcome;

/// Share of examples whose true department is among the first `k` ranked.
pub fn top_k<O: Borrow<Outcome>>(outcomes: &[O], k: usize) -> f64 {
    ratio(
        outcomes.iter().filter(|o| (*o).borrow().hit_at(k)).count(),
        outcomes.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn top1_and_top3_by_hand() {
        // Right first choice: #1, #3, #5 -> 3/6. In top 3: all but #6 (B not in C, A, D) -> 5/6.
        assert_eq!(top_k(&six(), 1), 0.5);
        assert!((top_k(&six(), 3) - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(top_k::<Outcome>(&[], 1), 0.0);
    }
}
