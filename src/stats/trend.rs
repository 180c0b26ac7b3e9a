//! Trend significance: the Mann–Kendall test, its Hamed–Rao correction for autocorrelated series,
//! and Sen's slope.
//!
//! **Mann–Kendall** (Mann 1945; Kendall 1975): `S = Σ_{i<j} sign(y_j − y_i)`, with variance under
//! "no trend" `Var S = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18` (tie groups of size `t_g`),
//! continuity-corrected `Z = (S − sign S)/√Var S`, two-sided `p = 2·(1 − Φ(|Z|))` (Φ from statrs),
//! Kendall's `τ = S / (n(n−1)/2)`.
//!
//! **Hamed–Rao** (Hamed & Rao 1998, J. Hydrology 204:182): positive autocorrelation makes the test
//! far too eager. The series is detrended with Sen's slope, ranked, and the variance multiplied by
//! `n/n* = 1 + 2/(n(n−1)(n−2)) · Σ_{k} (n−k)(n−k−1)(n−k−2)·ρ_k`, summing only the rank
//! autocorrelations `ρ_k` outside `±Φ⁻¹(1−α/2)/√n` (α = 0.05). This follows pymannkendall's
//! `hamed_rao_modification_test` (all lags), which our reference values come from;
//! [`hamed_rao`] returns the exact correction, and [`hamed_rao_conservative`] never lets it
//! shrink the variance (factor ≥ 1), which is what the detectors use.
//!
//! **Sen's slope** (Theil 1950; Sen 1968): the median of pairwise slopes `(y_j − y_i)/(x_j − x_i)`;
//! the intercept is `median(y) − median(x)·slope` (Conover 1980).
//!
//! All three are O(n²) in the number of points given: callers pass block summaries (at most
//! [`super::blocks::DEFAULT_MAX_BLOCKS`] points), never raw 10M-point series.

use statrs::distribution::{ContinuousCDF, Normal};

use super::smooth::median_in_place;

/// Result of a Mann–Kendall test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannKendall {
    pub n: usize,
    pub s: f64,
    pub var_s: f64,
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    pub tau: f64,
}

fn standard_normal() -> Normal {
    // Parameters are constants: construction cannot fail.
    Normal::standard()
}

/// Two-sided p-value of a standard normal statistic.
pub fn two_sided_p(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { 1.0 } else { 0.0 };
    }
    (2.0 * standard_normal().sf(z.abs())).min(1.0)
}

/// The Mann–Kendall test with tie-corrected variance. NaN values must be removed beforehand.
pub fn mann_kendall(y: &[f64]) -> MannKendall {
    let n = y.len();
    let s = score(y);
    let var_s = variance(y);
    finish(n, s, var_s)
}

fn finish(n: usize, s: f64, var_s: f64) -> MannKendall {
    let z = if var_s <= 0.0 || s == 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else {
        (s + 1.0) / var_s.sqrt()
    };
    let pairs = (n as f64) * (n as f64 - 1.0) / 2.0;
    MannKendall {
        n,
        s,
        var_s,
        z,
        p: two_sided_p(z),
        tau: if pairs > 0.0 { s / pairs } else { 0.0 },
    }
}

/// `S = Σ_{i<j} sign(y_j − y_i)`.
fn score(y: &[f64]) -> f64 {
    let mut s: i64 = 0;
    for (i, a) in y.iter().enumerate() {
        for b in &y[i + 1..] {
            s += (b > a) as i64 - (b < a) as i64;
        }
    }
    s as f64
}

/// Tie-corrected variance of S.
fn variance(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let ties: f64 = sorted
        .chunk_by(|a, b| a == b)
        .map(|g| g.len() as f64)
        .filter(|t| *t > 1.0)
        .map(|t| t * (t - 1.0) * (2.0 * t + 5.0))
        .sum();
    (n * (n - 1.0) * (2.0 * n + 5.0) - ties) / 18.0
}

/// Mann–Kendall with the Hamed–Rao variance correction, exactly as published (the factor may be
/// below 1 for negatively autocorrelated series). Also returns the factor `n/n*`.
pub fn hamed_rao(y: &[f64], acf_alpha: f64) -> (MannKendall, f64) {
    let n = y.len();
    let s = score(y);
    let var_s = variance(y);
    if n < 3 {
        return (finish(n, s, var_s), 1.0);
    }
    let (slope, _) = sens_slope(y);
    let detrended: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v - (i + 1) as f64 * slope)
        .collect();
    let ranks = average_ranks(&detrended);
    let acf = autocorrelation(&ranks);
    let nf = n as f64;
    let bound = standard_normal().inverse_cdf(1.0 - acf_alpha / 2.0) / nf.sqrt();
    let mut sum = 0.0;
    for (k, rho) in acf.iter().enumerate().skip(1) {
        if rho.abs() > bound {
            let m = (n - k) as f64;
            sum += m * (m - 1.0) * (m - 2.0) * rho;
        }
    }
    let factor = 1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum;
    (finish(n, s, var_s * factor), factor)
}

/// Hamed–Rao with the correction factor floored at 1: autocorrelation can only make the test
/// more cautious.
pub fn hamed_rao_conservative(y: &[f64]) -> MannKendall {
    let (_, factor) = hamed_rao(y, 0.05);
    let var_s = variance(y) * factor.max(1.0);
    finish(y.len(), score(y), var_s)
}

/// Sen's slope per index step and the Conover intercept `median(y) − median(index)·slope`.
pub fn sens_slope(y: &[f64]) -> (f64, f64) {
    let n = y.len();
    if n < 2 {
        return (0.0, y.first().copied().unwrap_or(f64::NAN));
    }
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            slopes.push((y[j] - y[i]) / (j - i) as f64);
        }
    }
    let slope = median_in_place(&mut slopes);
    let mut yy = y.to_vec();
    let intercept = median_in_place(&mut yy) - (n as f64 - 1.0) / 2.0 * slope;
    (slope, intercept)
}

/// Sen's slope with explicit abscissae (pairs with equal x are skipped).
pub fn sens_slope_xy(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                slopes.push((y[j] - y[i]) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return 0.0;
    }
    median_in_place(&mut slopes)
}

/// The smallest two-sided p-value Mann–Kendall can give for `n` untied points (a perfectly
/// monotone series): with 5 points or fewer no trend reaches p < 0.01, however clear.
pub fn min_attainable_p(n: usize) -> f64 {
    if n < 2 {
        return 1.0;
    }
    let nf = n as f64;
    let s = nf * (nf - 1.0) / 2.0;
    let var_s = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    two_sided_p((s - 1.0) / var_s.sqrt())
}

/// Ranks 1..n, ties sharing their average rank (scipy's `rankdata`).
fn average_ranks(y: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|a, b| y[*a].total_cmp(&y[*b]));
    let mut ranks = vec![0.0; y.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && y[order[j + 1]] == y[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Sample autocorrelation at lags 0..n−1 (biased: every lag divided by n).
fn autocorrelation(y: &[f64]) -> Vec<f64> {
    let n = y.len();
    let m = y.iter().sum::<f64>() / n as f64;
    let c: Vec<f64> = y.iter().map(|v| v - m).collect();
    let c0: f64 = c.iter().map(|v| v * v).sum::<f64>();
    if c0 == 0.0 {
        return vec![0.0; n];
    }
    (0..n)
        .map(|k| {
            c[..n - k]
                .iter()
                .zip(&c[k..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / c0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotone_series() {
        let y: Vec<f64> = (0..10).map(f64::from).collect();
        let mk = mann_kendall(&y);
        assert_eq!(mk.s, 45.0);
        assert_eq!(mk.tau, 1.0);
        assert!((mk.var_s - 10.0 * 9.0 * 25.0 / 18.0).abs() < 1e-12);
        assert!((mk.p - min_attainable_p(10)).abs() < 1e-15);
        assert_eq!(sens_slope(&y), (1.0, 0.0));
    }

    #[test]
    fn ties_reduce_the_variance() {
        let y = [1.0, 1.0, 2.0, 2.0, 2.0, 3.0];
        let mk = mann_kendall(&y);
        let n = 6.0;
        let expected =
            (n * (n - 1.0) * (2.0 * n + 5.0) - 2.0 * 1.0 * 9.0 - 3.0 * 2.0 * 11.0) / 18.0;
        assert!((mk.var_s - expected).abs() < 1e-12);
    }

    #[test]
    fn short_series_cannot_reach_one_percent() {
        assert!(min_attainable_p(4) > 0.05);
        assert!(min_attainable_p(5) > 0.01);
        assert!(min_attainable_p(6) < 0.01);
        assert!(min_attainable_p(12) < 1e-3);
    }

    #[test]
    fn average_ranks_like_scipy() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
    }

    #[test]
    fn sen_slope_with_steps() {
        // One outlier among five points does not move the median of the ten pairwise slopes.
        let x = [0.0, 100.0, 200.0, 300.0, 400.0];
        let y = [1.0, 1.2, 1.4, 1.6, 9.0];
        assert!((sens_slope_xy(&x, &y) - 0.002).abs() < 1e-12);
    }
}
