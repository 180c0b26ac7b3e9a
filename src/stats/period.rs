//! The period of recurring events (spikes of a loss, the crashes of a sawtooth): one rule for
//! every detector that reports "every ~N steps", so two findings never disagree on what regular
//! means.
//!
//! **Rule**: with event steps `t₁ < … < t_k` (k ≥ 4) and gaps `gᵢ = tᵢ₊₁ − tᵢ`, the period is the
//! median gap `g̃` when at least 70% of the gaps lie within ±40% of it. The median and the share
//! (rather than the mean and a coefficient of variation) keep one late first event or one missed
//! crash — a single gap of 2·g̃ — from hiding a period the rest of the run shows.

use super::smooth::median;

/// Fewest events that can show a period.
pub const MIN_EVENTS: usize = 4;

/// Median interval between `steps` (increasing, in steps) when they recur regularly (see the
/// module doc); `None` for fewer than [`MIN_EVENTS`] events or irregular gaps.
pub fn regular_period(steps: &[u64]) -> Option<f64> {
    if steps.len() < MIN_EVENTS {
        return None;
    }
    let gaps: Vec<f64> = steps
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]) as f64)
        .collect();
    let typical = median(&gaps);
    let regular = gaps
        .iter()
        .filter(|g| (*g - typical).abs() <= 0.4 * typical)
        .count();
    (typical > 0.0 && regular as f64 >= 0.7 * gaps.len() as f64).then_some(typical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_steps_have_their_median_gap_as_period() {
        assert_eq!(regular_period(&[100, 200, 300, 400, 500]), Some(100.0));
        // One missed event (a gap of 2×) does not hide the period.
        assert_eq!(regular_period(&[0, 100, 200, 400, 500, 600]), Some(100.0));
    }

    #[test]
    fn few_or_irregular_events_have_no_period() {
        assert_eq!(regular_period(&[100, 200, 300]), None);
        assert_eq!(regular_period(&[0, 10, 200, 230, 900, 1000]), None);
        assert_eq!(regular_period(&[5, 5, 5, 5]), None);
    }
}
