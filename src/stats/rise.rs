//! What follows a data-chosen minimum: the selection gap, the plateau and its wander, and the
//! range of the flat bottom. Pure functions on the post-minimum slices the rebound detector holds.
//!
//! **Selection.** The minimum is the lowest point of the smoothed curve, so the points right after
//! it are low *because they were chosen*: on a trend-free series the next stretch climbs back to
//! the mean on its own (by the smoothing span, and by the noise's correlation time). The test is
//! therefore made on a span that starts a **selection gap** after the minimum,
//! `g = ⌈2·max(span, τ)⌉` points (at most a third of the span), with `span` the smoothing time
//! constant and `τ = (1+φ_u)/(1−φ_u)` the correlation length of the noise from
//! [`super::persistence::ar1_upper`]: after two time constants the influence of the chosen point
//! has decayed below `e⁻²` of itself; a persistence longer than that is left to the test's own
//! variance inflation. The level-shift test skips only the two smoothing spans, so a jump soon
//! after the minimum is inside its span (its calibration includes that choice too). The minimum
//! search itself is part of the null distribution in `tests/calibration.rs`, which runs the whole
//! choice (de-spike, smooth, pick the minimum after warmup, gap, test) on trend-free series.
//!
//! **Persistence of the plateau.** A plateau that wanders in slow oscillations is not AR(1)
//! noise, and the span after a minimum in one of its troughs can be shorter than one period: fit
//! there, the persistence looks small and a trough-to-crest climb looks like a trend. So the
//! plateau (below) less its unimodal fit ([`unimodal_residual`]) gives an integrated
//! autocorrelation time ([`super::persistence::integrated_time`], Geyer 1992), and the AR(1)
//! coefficient with that time is a floor for the test's bound: the printed p-value is calibrated on
//! wandering plateaus too (`tests/calibration.rs`, table 2), not only the decision.
//!
//! **Effect size against the plateau.** The plateau is the stretch from where the descent comes
//! within [`PLATEAU_BAND`] of the descent of the minimum to the end of the run. It is fitted with
//! a unimodal curve — the decreasing isotonic regression up to the minimum, the increasing one
//! after it (pool-adjacent-violators; Barlow et al. 1972; Stout 2008 for the unimodal case). The
//! increasing fit's value at the minimum is the **plateau level** (the pooled level of a flat
//! bottom); the peak-to-peak of the smoothed curve around the unimodal fit is the **wander**. A
//! descent, a flat bottom and a rise all fit a unimodal curve and leave only smoothed noise; a
//! plateau that oscillates (minimum in a trough, end on a crest) leaves its whole oscillation,
//! so "ends above the plateau by more than twice the wander" rejects it. The share of the
//! descent given back, `(end − min)/(start − min)`, stays the headline number.
//!
//! **The minimum as a range.** On a flat bottom the argmin is one point of many equally low ones:
//! [`within_noise`] returns the contiguous run of points around it whose smoothed level is within
//! the noise of the minimum.

use super::persistence::{
    PersistentTrend, ar1_upper, equivalent_phi, integrated_time, persistent_trend_at_least,
    structure_residual,
};

/// The plateau starts where the smoothed curve first comes within this share of the descent of
/// the minimum.
pub const PLATEAU_BAND: f64 = 0.25;

/// Fewest points the trend test keeps after the selection gap.
pub const MIN_TEST_POINTS: usize = 6;

/// The rise after a minimum, as the detector decides it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rise {
    /// Points skipped after the minimum before the test span starts.
    pub gap: usize,
    /// Points skipped before the level-shift test: two smoothing spans only, so a jump soon
    /// after the minimum stays inside the tested span.
    pub shift_gap: usize,
    /// The drift test on `cleaned[gap..]`, with the level-shift test on `cleaned[shift_gap..]`
    /// (its `shift_at` counts from `shift_gap`).
    pub test: PersistentTrend,
    /// Isotonic (increasing) fit of the smoothed curve at the minimum.
    pub plateau_level: f64,
    /// Peak-to-peak of the smoothed plateau around its unimodal fit.
    pub wander: f64,
}

/// The selection gap for a post-minimum series (see the module notes): `⌈2·max(span, τ)⌉`, with
/// `τ` estimated on the points after two smoothing spans, and at most a third of the series (a
/// longer persistence is left to the test's own variance inflation).
pub fn selection_gap(post_cleaned: &[f64], span: f64) -> usize {
    let n = post_cleaned.len();
    let skip = ((2.0 * span).ceil() as usize).min(n / 3);
    let tau = ar1_upper(&structure_residual(&post_cleaned[skip..])).correlation_length();
    let gap = (2.0 * span.max(tau)).ceil();
    let cap = (n / 3).min(n.saturating_sub(MIN_TEST_POINTS));
    if gap.is_finite() {
        (gap as usize).min(cap)
    } else {
        cap
    }
}

/// Tests and measures the rise. `cleaned` / `smoothed` are the de-spiked and smoothed series
/// (equal lengths), `m` the minimum's index, `from` the first index the minimum was searched
/// from (after warmup), `span` the smoothing time constant in points.
pub fn assess(cleaned: &[f64], smoothed: &[f64], m: usize, from: usize, span: f64) -> Rise {
    let post_cleaned = &cleaned[m..];
    let gap = selection_gap(post_cleaned, span);
    let shift_gap = ((2.0 * span).ceil() as usize).min(gap);
    let start_level = smoothed[from..=m]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let band = smoothed[m] + PLATEAU_BAND * (start_level - smoothed[m]);
    let f = (from..=m).find(|k| smoothed[*k] <= band).unwrap_or(m);
    let plateau_tau = integrated_time(&unimodal_residual(&cleaned[f..], m - f));
    let floor = equivalent_phi(plateau_tau);
    let mut test = persistent_trend_at_least(&post_cleaned[gap..], floor);
    test.plateau_tau = plateau_tau;
    if shift_gap < gap {
        let shift = persistent_trend_at_least(&post_cleaned[shift_gap..], floor);
        test.p_shift = shift.p_shift;
        test.shift_at = shift.shift_at;
        test.shift_up = shift.shift_up;
        test.p = super::persistence::combined_p(test.mk.p, test.p_shift);
        test.min_attainable_p = test.min_attainable_p.min(shift.min_attainable_p);
    }
    let before: Vec<f64> = smoothed[f..=m].iter().map(|v| -v).collect();
    let falling = isotonic_increasing(&before);
    let iso = isotonic_increasing(&smoothed[m..]);
    let residuals = before
        .iter()
        .zip(&falling)
        .map(|(v, fit)| fit - v)
        .chain(smoothed[m..].iter().zip(&iso).map(|(s, fit)| s - fit));
    let (lo, hi) = residuals.fold((0.0f64, 0.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    Rise {
        gap,
        shift_gap,
        test,
        plateau_level: iso.first().copied().unwrap_or(f64::NAN),
        wander: hi - lo,
    }
}

/// `y` less its unimodal fit with the mode at `mode`: the decreasing isotonic regression up to
/// the mode, the increasing one from it. What is left of a plateau is its noise and any wander
/// that is not one descent and one rise.
pub fn unimodal_residual(y: &[f64], mode: usize) -> Vec<f64> {
    let before: Vec<f64> = y[..=mode].iter().map(|v| -v).collect();
    let falling = isotonic_increasing(&before);
    let rising = isotonic_increasing(&y[mode..]);
    before
        .iter()
        .zip(&falling)
        .map(|(v, fit)| fit - v)
        .chain(
            y[mode + 1..]
                .iter()
                .zip(&rising[1..])
                .map(|(v, fit)| v - fit),
        )
        .collect()
}

/// The least-squares non-decreasing fit of `y` (pool adjacent violators), O(n).
pub fn isotonic_increasing(y: &[f64]) -> Vec<f64> {
    // Blocks of (sum, count), merged while a block's mean falls below its predecessor's.
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(y.len());
    for v in y {
        blocks.push((*v, 1));
        while blocks.len() > 1 {
            let (s2, c2) = blocks[blocks.len() - 1];
            let (s1, c1) = blocks[blocks.len() - 2];
            if s1 / c1 as f64 <= s2 / c2 as f64 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, c1 + c2);
        }
    }
    blocks
        .iter()
        .flat_map(|(s, c)| std::iter::repeat_n(s / *c as f64, *c))
        .collect()
}

/// The contiguous index range `[a, b]` around `m` where `smoothed ≤ smoothed[m] + tolerance`.
pub fn within_noise(smoothed: &[f64], m: usize, tolerance: f64) -> (usize, usize) {
    let limit = smoothed[m] + tolerance.max(0.0);
    let mut a = m;
    while a > 0 && smoothed[a - 1] <= limit {
        a -= 1;
    }
    let mut b = m;
    while b + 1 < smoothed.len() && smoothed[b + 1] <= limit {
        b += 1;
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators() {
        assert_eq!(
            isotonic_increasing(&[1.0, 3.0, 2.0, 4.0, 0.0]),
            vec![1.0, 2.25, 2.25, 2.25, 2.25]
        );
        let up: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(isotonic_increasing(&up), up);
    }

    #[test]
    fn an_oscillation_wanders_as_much_as_it_rises() {
        // One and a half cycles from a trough to a crest.
        let y: Vec<f64> = (0..300)
            .map(|i| -(3.0 * std::f64::consts::PI * i as f64 / 299.0).cos())
            .collect();
        // A minimum in the last trough: the oscillations before it are wander.
        let m = 200;
        let r = assess(&y, &y, m, 0, 5.0);
        let end = y[299];
        assert!(end - r.plateau_level < r.wander * 1.5, "{r:?}");
        // A descent, then a straight rise: unimodal, no wander.
        let v: Vec<f64> = (0..300).map(|i| (i as f64 - 100.0).abs() / 299.0).collect();
        let r = assess(&v, &v, 100, 0, 5.0);
        assert!(r.wander < 1e-12 && r.plateau_level == 0.0, "{r:?}");
    }

    #[test]
    fn the_flat_bottom_is_a_range() {
        let s = [5.0, 3.0, 1.02, 1.0, 1.01, 1.03, 2.0, 4.0];
        assert_eq!(within_noise(&s, 3, 0.05), (2, 5));
        assert_eq!(within_noise(&s, 3, 0.0), (3, 3));
    }
}
