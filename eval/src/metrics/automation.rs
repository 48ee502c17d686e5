//! Automatic routing: how much would go without a human, and how right it is.

use std::borrow::Borrow;

use super::ratio;
use crate::outcome::Outcome;

/// Share of examples the router would route automatically.
pub fn auto_share<O: Borrow<Outcome>>(outcomes: &[O]) -> f64 {
    ratio(
        outcomes.iter().filter(|o| (*o).borrow().auto).count(),
        outcomes.len(),
    )
}

/// Top-1 accuracy among automatically routed examples; `None` when there are none.
pub fn auto_precision<O: Borrow<Outcome>>(outcomes: &[O]) -> Option<f64> {
    let auto: Vec<&Outcome> = outcomes
        .iter()
        .map(Borrow::borrow)
        .filter(|o| o.auto)
        .collect();
    (!auto.is_empty()).then(|| ratio(auto.iter().filter(|o| o.hit_at(1)).count(), auto.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn auto_share_and_precision_by_hand() {
        // Auto: #1 (right), #3 (right), #4 (wrong) -> share 3/6, precision 2/3.
        assert_eq!(auto_share(&six()), 0.5);
        assert!((auto_precision(&six()).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        let none: Vec<Outcome> = six().into_iter().filter(|o| !o.auto).collect();
        assert_eq!(auto_precision(&none), None);
    }
}
