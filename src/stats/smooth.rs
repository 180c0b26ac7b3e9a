//! Smoothing: TensorBoard's debiased exponential moving average, its zero-phase (forward-backward)
//! form, and the Hampel filter that keeps spikes from moving a trend.
//!
//! **Debiased EMA** (TensorBoard's scalar smoothing): with weight `s` in [0, 1),
//! `last = s·last + (1−s)·y_i`, `out_i = last / (1 − s^k)` where `k` counts the finite values seen
//! so far; non-finite values pass through unsmoothed and do not enter `last`. The division removes
//! the bias toward the zero start.
//!
//! **Zero-phase EMA**: the debiased EMA run forward, then backward over its output (as
//! `filtfilt` does for linear filters). The causal EMA lags a falling-then-rising curve by about
//! `1/(1−s)` points, which would shift a located minimum to the right; running it both ways
//! cancels the lag.
//!
//! **Hampel filter** (Hampel 1974; Pearson 2002, "Outliers in process modeling and
//! identification"): a point further than `k·σ̂` from the median of its window, with
//! `σ̂ = 1.4826·MAD`, is an outlier and is replaced by that median.

/// Scale factor making the MAD a consistent estimator of σ for normal data (1/Φ⁻¹(3/4)).
pub const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// TensorBoard's debiased EMA with smoothing weight `weight` (0 = none).
pub fn ema_debiased(values: &[f64], weight: f64) -> Vec<f64> {
    let mut ema = DebiasedEma::new(weight);
    values
        .iter()
        .map(|&y| if y.is_finite() { ema.push(y) } else { y })
        .collect()
}

/// TensorBoard's debiased EMA one point at a time (the formula of the module doc), for passes
/// that do not hold the series: the block reduction and the figure's per-pixel curve.
/// [`ema_debiased`] is this over a slice.
#[derive(Clone, Copy, Debug)]
pub struct DebiasedEma {
    weight: f64,
    last: f64,
    debias: f64,
}

impl DebiasedEma {
    /// An EMA with smoothing weight `weight` in [0, 1) (clamped; 0 = none), before any value.
    pub fn new(weight: f64) -> DebiasedEma {
        DebiasedEma {
            weight: weight.clamp(0.0, 0.999_999_999),
            last: 0.0,
            debias: 1.0,
        }
    }

    /// Takes the next finite value `y` and returns the smoothed value at it.
    pub fn push(&mut self, y: f64) -> f64 {
        self.last = self.last * self.weight + (1.0 - self.weight) * y;
        self.debias *= self.weight;
        self.last / (1.0 - self.debias)
    }
}

/// The debiased EMA run forward then backward: no lag, same smoothness class.
pub fn ema_zero_phase(values: &[f64], weight: f64) -> Vec<f64> {
    let forward = ema_debiased(values, weight);
    let mut reversed: Vec<f64> = forward.into_iter().rev().collect();
    reversed = ema_debiased(&reversed, weight);
    reversed.reverse();
    reversed
}

/// The EMA weight whose time constant is `span` points: `1 − 1/span` (0 for span ≤ 1).
pub fn weight_for_span(span: f64) -> f64 {
    if span <= 1.0 { 0.0 } else { 1.0 - 1.0 / span }
}

/// The time constant (in points) of an EMA weight: `1/(1−s)`.
pub fn span_for_weight(weight: f64) -> f64 {
    1.0 / (1.0 - weight.clamp(0.0, 0.999_999_999))
}

/// Default display smoothing for a series of `n` points: a time constant of 1% of the series.
pub fn default_weight(n: usize) -> f64 {
    weight_for_span(n as f64 / 100.0)
}

/// What [`hampel`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Hampel {
    /// The series with outliers replaced by their window median.
    pub filtered: Vec<f64>,
    /// Indices of the outliers.
    pub outliers: Vec<usize>,
}

/// Which deviations a [`hampel`] filter treats as outliers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tails {
    Both,
    /// Only values above the window median (loss spikes go up).
    Upper,
}

/// Hampel filter with windows of `half_window` points on each side and threshold `n_sigmas`.
/// Windows shrink at the ends. A window whose MAD is 0 flags nothing (flat data is not spiky).
/// O(n·w log w).
pub fn hampel(values: &[f64], half_window: usize, n_sigmas: f64, tails: Tails) -> Hampel {
    let n = values.len();
    let mut filtered = values.to_vec();
    let mut outliers = Vec::new();
    let mut window = Vec::with_capacity(2 * half_window + 1);
    for i in 0..n {
        let lo = i.saturating_sub(half_window);
        let hi = (i + half_window + 1).min(n);
        window.clear();
        window.extend(values[lo..hi].iter().copied().filter(|v| v.is_finite()));
        if window.len() < 3 || !values[i].is_finite() {
            continue;
        }
        let med = median_in_place(&mut window);
        for v in window.iter_mut() {
            *v = (*v - med).abs();
        }
        let sigma = MAD_TO_SIGMA * median_in_place(&mut window);
        let deviation = match tails {
            Tails::Both => (values[i] - med).abs(),
            Tails::Upper => values[i] - med,
        };
        if sigma > 0.0 && deviation > n_sigmas * sigma {
            filtered[i] = med;
            outliers.push(i);
        }
    }
    Hampel { filtered, outliers }
}

/// Median of `values` (reordered in place); NaN for an empty slice. Even counts average the two
/// middle values.
pub fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower_max + upper)
    }
}

/// Median of a slice, without reordering it.
pub fn median(values: &[f64]) -> f64 {
    median_in_place(&mut values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_matches_tensorboard_by_hand() {
        // s = 0.5: last = 0.5, 1.25, 2.125; debias 0.5, 0.75, 0.875.
        let out = ema_debiased(&[1.0, 2.0, 3.0], 0.5);
        assert!((out[0] - 1.0).abs() < 1e-12);
        assert!((out[1] - 1.25 / 0.75).abs() < 1e-12);
        assert!((out[2] - 2.125 / 0.875).abs() < 1e-12);
    }

    #[test]
    fn ema_passes_non_finite_values_through_without_absorbing_them() {
        let out = ema_debiased(&[1.0, f64::NAN, 1.0, f64::INFINITY, 1.0], 0.9);
        assert!(out[1].is_nan());
        assert_eq!(out[3], f64::INFINITY);
        for i in [0, 2, 4] {
            assert!((out[i] - 1.0).abs() < 1e-12, "{out:?}");
        }
    }

    #[test]
    fn zero_phase_does_not_lag_a_symmetric_minimum() {
        let v: Vec<f64> = (0..201).map(|i| ((i as f64) - 100.0).abs()).collect();
        let causal = ema_debiased(&v, 0.9);
        let both = ema_zero_phase(&v, 0.9);
        let argmin = |x: &[f64]| (0..x.len()).min_by(|a, b| x[*a].total_cmp(&x[*b]));
        assert!(argmin(&causal) > Some(105), "the causal EMA lags");
        assert_eq!(argmin(&both), Some(100));
    }

    #[test]
    fn hampel_replaces_a_spike_and_keeps_a_step() {
        let mut v: Vec<f64> = (0..40).map(|i| if i < 20 { 1.0 } else { 0.5 }).collect();
        for (i, x) in v.iter_mut().enumerate() {
            *x += 0.01 * ((i * 7 % 5) as f64 - 2.0);
        }
        v[10] = 5.0;
        let h = hampel(&v, 3, 3.0, Tails::Both);
        assert_eq!(h.outliers, vec![10]);
        assert!((h.filtered[10] - 1.0).abs() < 0.05);
        assert!((h.filtered[25] - v[25]).abs() < 1e-12);
        v[30] = -5.0;
        assert_eq!(hampel(&v, 3, 3.0, Tails::Upper).outliers, vec![10]);
        assert_eq!(hampel(&v, 3, 3.0, Tails::Both).outliers, vec![10, 30]);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn spans_and_weights() {
        assert_eq!(weight_for_span(1.0), 0.0);
        assert!((span_for_weight(weight_for_span(20.0)) - 20.0).abs() < 1e-9);
        assert_eq!(default_weight(50), 0.0);
        assert!((default_weight(10_000) - 0.99).abs() < 1e-12);
    }
}
