//! Conformal prediction sets: empirical coverage and size.

use std::borrow::Borrow;

use super::ratio;
use crate::outcome::Outcome;

/// Share of examples whose true department is in the prediction set.
pub fn coverage<O: Borrow<Outcome>>(outcomes: &[O]) -> f64 {
    ratio(
        outcomes.iter().filter(|o| (*o).borrow().in_set()).count(),
        outcomes.len(),
    )
}

/// Mean number of departments in the prediction set.
pub fn mean_set_size<O: Borrow<Outcome>>(outcomes: &[O]) -> f64 {
    ratio(
        outcomes.iter().map(|o| o.borrow().set.len()).sum(),
        outcomes.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn coverage_and_size_by_hand() {
        // Truth in set: #1, #2, #3, #5 (not #4: C not in B A; not #6: B not in C A) -> 4/6.
        // Sizes 1+2+1+2+1+2 = 9 -> 1.5.
        assert!((coverage(&six()) - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(mean_set_size(&six()), 1.5);
    }
}
