//! Exponential forgetting by age, shared by the signals that weigh recent
//! cases above old ones (same-spot votes, department activity).

/// Milliseconds in a day.
const DAY_MS: f64 = 86_400_000.0;

/// The weight of something `age_ms` old when it halves every
/// `half_life_days` (a negative age counts as 0; the half-life must be > 0).
pub fn halved(age_ms: i64, half_life_days: f64) -> f64 {
    0.5f64.powf(age_ms.max(0) as f64 / DAY_MS / half_life_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_half_life_halves_and_the_future_is_now() {
        let day = DAY_MS as i64;
        assert_eq!(halved(0, 14.0), 1.0);
        assert!((halved(14 * day, 14.0) - 0.5).abs() < 1e-12);
        assert!((halved(28 * day, 14.0) - 0.25).abs() < 1e-12);
        assert_eq!(halved(-day, 14.0), 1.0);
    }
}
