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
//! Cost: `S` is counted in O(n log n) (a Fenwick tree over ranks); Sen's slope enumerates the
//! `n(n−1)/2` slopes only up to [`SEN_EXACT_MAX_POINTS`] points (≤ 16 MiB) and above that selects
//! the median slope by bisection on its value, counting the slopes below a candidate `θ` as the
//! inversions of `y − θ·x` (Cole, Salowe, Steiger & Szemerédi 1989 give the idea; we bisect on
//! the IEEE-754 order, 64 steps of O(n log n)), so memory stays O(n) for every `--max-blocks`.
//! The Hamed–Rao correction sums all lags (O(n²) time, O(n) memory), as pymannkendall does; the
//! detectors use the calibrated test of [`super::persistence`] instead.

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

pub(crate) fn finish(n: usize, s: f64, var_s: f64) -> MannKendall {
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

/// `S = Σ_{i<j} sign(y_j − y_i)`, in O(n log n): walking `j` forward, a Fenwick tree over the
/// dense ranks of `y` counts the earlier values below and above `y_j`.
pub(crate) fn score(y: &[f64]) -> f64 {
    let n = y.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| y[*a].total_cmp(&y[*b]));
    let mut rank = vec![0usize; n];
    let mut distinct = 0usize;
    for (k, &i) in order.iter().enumerate() {
        if k == 0 || y[i] != y[order[k - 1]] {
            distinct += 1;
        }
        rank[i] = distinct; // 1-based dense rank
    }
    let mut tree = vec![0i64; distinct + 1];
    let prefix = |tree: &[i64], mut r: usize| {
        let mut c = 0i64;
        while r > 0 {
            c += tree[r];
            r &= r - 1;
        }
        c
    };
    let mut s: i64 = 0;
    for (seen, &r) in rank.iter().enumerate() {
        let below = prefix(&tree, r - 1);
        let at_or_below = prefix(&tree, r);
        let above = seen as i64 - at_or_below;
        s += below - above;
        let mut k = r;
        while k <= distinct {
            tree[k] += 1;
            k += k & k.wrapping_neg();
        }
    }
    s as f64
}

/// Tie-corrected variance of S.
pub(crate) fn variance(y: &[f64]) -> f64 {
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

/// Above this many points Sen's slope is selected by bisection instead of enumerating the slopes
/// (2048 points = 2.1 M slopes = 16 MiB).
pub const SEN_EXACT_MAX_POINTS: usize = 2048;

/// Sen's slope per index step and the Conover intercept `median(y) − median(index)·slope`.
pub fn sens_slope(y: &[f64]) -> (f64, f64) {
    let n = y.len();
    if n < 2 {
        return (0.0, y.first().copied().unwrap_or(f64::NAN));
    }
    let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let slope = sens_slope_xy(&x, y);
    let mut yy = y.to_vec();
    let intercept = median_in_place(&mut yy) - (n as f64 - 1.0) / 2.0 * slope;
    (slope, intercept)
}

/// Sen's slope with explicit abscissae (pairs with equal x are skipped). `x` must be
/// non-decreasing when there are more than [`SEN_EXACT_MAX_POINTS`] points.
pub fn sens_slope_xy(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n > SEN_EXACT_MAX_POINTS && x[..n].windows(2).all(|w| w[0] <= w[1]) {
        return sen_by_bisection(&x[..n], &y[..n]);
    }
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

/// The median pairwise slope of `(x, y)` (x non-decreasing) in O(n log n) memory O(n): the
/// k-th smallest slope is the least `θ` with at least `k` pairs `i < j`, `x_i < x_j`, whose slope
/// is ≤ θ, i.e. `y_j − θx_j ≤ y_i − θx_i`; that count is a merge-sort inversion count.
fn sen_by_bisection(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    // Pairs with equal x satisfy the inequality whatever θ is: count them once, remove them.
    let mut equal_x_pairs = 0u64;
    let mut same_x_le = 0u64;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && x[end] == x[start] {
            end += 1;
        }
        let m = (end - start) as u64;
        equal_x_pairs += m * (m - 1) / 2;
        same_x_le += count_non_increasing_pairs(y[start..end].to_vec());
        start = end;
    }
    let total = (n as u64) * (n as u64 - 1) / 2 - equal_x_pairs;
    if total == 0 {
        return 0.0;
    }
    let (lo, hi) = slope_bounds(x, y);
    let count_le = |theta: f64| {
        let z: Vec<f64> = x.iter().zip(y).map(|(x, y)| y - theta * x).collect();
        count_non_increasing_pairs(z).saturating_sub(same_x_le)
    };
    let kth = |k: u64| {
        // Smallest θ (in IEEE order) with count_le(θ) ≥ k.
        let (mut a, mut b) = (order_key(lo), order_key(hi));
        while a < b {
            let mid = a + (b - a) / 2;
            if count_le(from_order_key(mid)) >= k {
                b = mid;
            } else {
                a = mid + 1;
            }
        }
        from_order_key(a)
    };
    if total % 2 == 1 {
        kth(total / 2 + 1)
    } else {
        0.5 * (kth(total / 2) + kth(total / 2 + 1))
    }
}

/// Bounds on every pairwise slope: the steepest change over the narrowest x gap.
fn slope_bounds(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (ymin, ymax) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let gap = x
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let r = ((ymax - ymin) / gap).abs();
    if r.is_finite() {
        (-r, r)
    } else {
        (f64::MIN, f64::MAX)
    }
}

fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Pairs `i < j` with `z_j ≤ z_i`, by merge sort (consumes `z`).
fn count_non_increasing_pairs(mut z: Vec<f64>) -> u64 {
    let mut buf = vec![0.0; z.len()];
    merge_count(&mut z, &mut buf)
}

fn merge_count(z: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = z.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count = {
        let (l, r) = z.split_at_mut(mid);
        let (bl, br) = buf.split_at_mut(mid);
        merge_count(l, bl) + merge_count(r, br)
    };
    // Both halves sorted ascending: for each right element, count left elements ≥ it.
    let (l, r) = z.split_at(mid);
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < l.len() && j < r.len() {
        if l[i] < r[j] {
            buf[k] = l[i];
            i += 1;
        } else {
            count += (l.len() - i) as u64;
            buf[k] = r[j];
            j += 1;
        }
        k += 1;
    }
    buf[k..k + l.len() - i].copy_from_slice(&l[i..]);
    k += l.len() - i;
    buf[k..k + r.len() - j].copy_from_slice(&r[j..]);
    z.copy_from_slice(&buf[..n]);
    count
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
pub(crate) fn average_ranks(y: &[f64]) -> Vec<f64> {
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

    /// Deterministic uniform noise in [0, 1) (xorshift).
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        crate::stats::test_uniform_noise(len, seed)
    }

    #[test]
    fn fast_score_equals_the_pair_sum() {
        for (len, seed) in [(0, 1), (1, 2), (7, 3), (200, 4)] {
            // Rounded to create ties.
            let y: Vec<f64> = noise(len, seed)
                .iter()
                .map(|v| (v * 20.0).round())
                .collect();
            let mut s = 0i64;
            for i in 0..len {
                for j in i + 1..len {
                    s += (y[j] > y[i]) as i64 - (y[j] < y[i]) as i64;
                }
            }
            assert_eq!(score(&y), s as f64);
        }
    }

    #[test]
    fn sen_by_bisection_equals_enumeration() {
        for (len, seed) in [(50, 5), (301, 6), (400, 7)] {
            let x: Vec<f64> = (0..len).map(|i| (i / 3) as f64 * 2.5).collect();
            let y: Vec<f64> = noise(len, seed)
                .iter()
                .enumerate()
                .map(|(i, v)| 0.01 * i as f64 + v)
                .collect();
            let exact = sens_slope_xy(&x, &y);
            let fast = sen_by_bisection(&x, &y);
            assert!(
                (exact - fast).abs() <= 1e-12 * exact.abs().max(1.0),
                "{exact} vs {fast}"
            );
        }
    }

    #[test]
    fn sen_slope_on_many_points_stays_in_memory() {
        let n = 100_000;
        let y: Vec<f64> = noise(n, 9)
            .iter()
            .enumerate()
            .map(|(i, v)| 3e-5 * i as f64 + v)
            .collect();
        let (slope, _) = sens_slope(&y);
        assert!((slope - 3e-5).abs() < 2e-6, "{slope}");
    }

    #[test]
    fn sen_slope_with_steps() {
        // One outlier among five points does not move the median of the ten pairwise slopes.
        let x = [0.0, 100.0, 200.0, 300.0, 400.0];
        let y = [1.0, 1.2, 1.4, 1.6, 9.0];
        assert!((sens_slope_xy(&x, &y) - 0.002).abs() < 1e-12);
    }
}
