//! Changepoints: PELT with least-squares segment costs, and the turn of a curve by a hinge fit.
//!
//! **PELT** (Killick, Fearnhead & Eckley 2012, "Optimal detection of changepoints with a linear
//! computational cost", JASA 107:1590) finds the segmentation `0 = t_0 < t_1 < … < t_m = n`
//! minimising `Σ_j [C(y[t_j..t_{j+1}]) + β]` exactly, discarding candidate last-changepoints `t`
//! with `F(t) + C(y[t..s]) > F(s)` (valid because these costs satisfy `C(a..b) + C(b..c) ≤ C(a..c)`).
//! The recursion, candidate set and tie-breaking follow ruptures' `Pelt` with `jump = 1` (Truong,
//! Oudre & Vayatis 2020), so the breakpoints agree with it; they are returned like ruptures does:
//! the end index of every segment, `n` last.
//!
//! Costs (Gaussian log-likelihood with known variance, up to constants):
//! - [`MeanShift`]: `C = Σ (y_i − ȳ)²` — changes in level (ruptures `"l2"`);
//! - [`LinearTrend`]: `C = Σ (y_i − a − b·x_i)²` — changes in level or slope (ruptures `"linear"`
//!   with covariates `[x, 1]`); a descent, a floor and a rebound are three segments.
//!
//! Penalty (BIC-type): `β = p · σ̂² · ln n` with `p` the parameters a segment adds (2 for a mean
//! and its location, 3 for a line and its location) and `σ̂²` the noise variance estimated from
//! second differences, `σ̂ = MAD(Δ²y) / Φ⁻¹(3/4) / √6`, which neither trends nor level shifts
//! inflate. Both costs are O(1) per segment from prefix sums, so PELT is O(n) when changepoints
//! keep coming and O(n²) only in the worst case.
//!
//! **Hinge fit**: the continuous two-segment line `y = a + b·x + c·(x − τ)₊` minimising the squared
//! error over knots `τ` at the data points — the turn of the curve. [`flat_then_rise`] fits the
//! constrained `y = a + c·(x − τ)₊` (flat, then a slope), whose knot is where a rise sets in. Each
//! is O(n) with suffix sums.

use super::smooth::median_in_place;

/// Φ⁻¹(3/4): the MAD of a standard normal.
const MAD_NORMAL: f64 = 0.674_489_750_196_081_7;

/// A cost of a segment `[start, end)` of a fixed series.
pub trait SegmentCost {
    fn cost(&self, start: usize, end: usize) -> f64;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Parameters a segment adds (for the BIC-type penalty).
    fn parameters(&self) -> f64;
}

/// Squared deviation from the segment mean.
pub struct MeanShift {
    /// Prefix sums `[Σy, Σy²]` of the first `i` points at index `i`.
    prefix: Vec<[f64; 2]>,
}

impl MeanShift {
    pub fn new(y: &[f64]) -> MeanShift {
        let centre = mean(y);
        let mut prefix = Vec::with_capacity(y.len() + 1);
        let (mut s, mut q) = (0.0, 0.0);
        prefix.push([0.0, 0.0]);
        for v in y {
            let v = v - centre;
            s += v;
            q += v * v;
            prefix.push([s, q]);
        }
        MeanShift { prefix }
    }
}

impl SegmentCost for MeanShift {
    #[inline]
    fn cost(&self, start: usize, end: usize) -> f64 {
        let m = (end - start) as f64;
        let (a, b) = (&self.prefix[start], &self.prefix[end]);
        let s = b[0] - a[0];
        let q = b[1] - a[1];
        (q - s * s / m).max(0.0)
    }
    fn len(&self) -> usize {
        self.prefix.len() - 1
    }
    fn parameters(&self) -> f64 {
        2.0
    }
}

/// Squared residual of the least-squares line through the segment (x = index).
pub struct LinearTrend {
    /// Prefix sums `[Σx, Σx², Σy, Σy², Σxy]` of the first `i` points at index `i`, side by side so
    /// that a segment's cost reads two neighbouring records (PELT reads one of them per candidate).
    prefix: Vec<[f64; 5]>,
}

impl LinearTrend {
    pub fn new(y: &[f64]) -> LinearTrend {
        let centre = mean(y);
        let mut prefix = Vec::with_capacity(y.len() + 1);
        let mut s = [0.0f64; 5];
        prefix.push(s);
        for (i, v) in y.iter().enumerate() {
            let (x, v) = (i as f64, v - centre);
            s[0] += x;
            s[1] += x * x;
            s[2] += v;
            s[3] += v * v;
            s[4] += x * v;
            prefix.push(s);
        }
        LinearTrend { prefix }
    }
}

impl SegmentCost for LinearTrend {
    #[inline]
    fn cost(&self, start: usize, end: usize) -> f64 {
        let m = (end - start) as f64;
        let (a, b) = (&self.prefix[start], &self.prefix[end]);
        let (sx, sxx, sy, syy, sxy) = (
            b[0] - a[0],
            b[1] - a[1],
            b[2] - a[2],
            b[3] - a[3],
            b[4] - a[4],
        );
        let cxx = sxx - sx * sx / m;
        let cxy = sxy - sx * sy / m;
        let cyy = syy - sy * sy / m;
        let sse = if cxx > 1e-12 {
            cyy - cxy * cxy / cxx
        } else {
            cyy
        };
        sse.max(0.0)
    }
    fn len(&self) -> usize {
        self.prefix.len() - 1
    }
    fn parameters(&self) -> f64 {
        3.0
    }
}

/// Optimal segmentation under `cost` with penalty `penalty` per segment and segments of at least
/// `min_size` points. Returns the end index of each segment (the last is `n`), like ruptures.
pub fn pelt(cost: &impl SegmentCost, penalty: f64, min_size: usize) -> Vec<usize> {
    let n = cost.len();
    let min_size = min_size.max(1);
    if n == 0 {
        return Vec::new();
    }
    if n < 2 * min_size {
        return vec![n];
    }
    // total[t]: optimal penalised cost of y[..t]; back[t]: its last changepoint.
    let mut total = vec![f64::NAN; n + 1];
    let mut back = vec![0usize; n + 1];
    total[0] = 0.0;
    let mut admissible: Vec<usize> = Vec::new();
    let mut candidates: Vec<f64> = Vec::new();
    let ends = (min_size..n).chain(std::iter::once(n));
    for end in ends {
        let newest = end - min_size;
        if newest == 0 || newest >= min_size {
            admissible.push(newest);
        }
        candidates.clear();
        let (mut best, mut best_t) = (f64::INFINITY, 0usize);
        for &t in &admissible {
            let c = total[t] + (cost.cost(t, end) + penalty);
            candidates.push(c);
            if c < best {
                best = c;
                best_t = t;
            }
        }
        total[end] = best;
        back[end] = best_t;
        let mut k = 0;
        admissible.retain(|_| {
            let keep = candidates[k] <= best + penalty;
            k += 1;
            keep
        });
    }
    let mut breakpoints = vec![n];
    let mut t = back[n];
    while t > 0 {
        breakpoints.push(t);
        t = back[t];
    }
    breakpoints.reverse();
    breakpoints
}

/// Noise variance from second differences: `(MAD(Δ²y)/Φ⁻¹(3/4))² / 6`. NaN below 3 points.
pub fn noise_variance(y: &[f64]) -> f64 {
    if y.len() < 3 {
        return f64::NAN;
    }
    let mut d2: Vec<f64> = y.windows(3).map(|w| w[2] - 2.0 * w[1] + w[0]).collect();
    let med = median_in_place(&mut d2);
    for v in d2.iter_mut() {
        *v = (*v - med).abs();
    }
    let mad = median_in_place(&mut d2);
    (mad / MAD_NORMAL).powi(2) / 6.0
}

/// The BIC-type penalty of a cost over `n` points with noise variance `sigma2`.
pub fn bic_penalty(cost: &impl SegmentCost, sigma2: f64) -> f64 {
    let n = cost.len().max(2) as f64;
    cost.parameters() * sigma2 * n.ln()
}

/// Changepoints (segment starts, excluding 0) of `y` under `cost`, with segments of at least
/// `min_size` points and the penalty `max(BIC-type, min_gain × C(y))`: besides beating the noise,
/// a changepoint must remove at least `min_gain` of the cost of fitting the whole series as one
/// segment. Smooth curves (an exponential descent) are not piecewise linear, and with thousands of
/// quiet points the BIC alone would cut them into many pieces; the floor keeps the regimes a
/// reader cares about. A series without noise (σ̂ = 0) gets a tiny variance floor as well.
pub fn changepoints<C: SegmentCost>(
    y: &[f64],
    make: impl Fn(&[f64]) -> C,
    min_size: usize,
    min_gain: f64,
) -> Vec<usize> {
    if y.len() < 2 * min_size.max(1) {
        return Vec::new();
    }
    let cost = make(y);
    let scale = y.iter().map(|v| v.abs()).fold(0.0f64, f64::max).max(1e-300);
    let sigma2 = noise_variance(y).max((1e-9 * scale).powi(2));
    let penalty = bic_penalty(&cost, sigma2).max(min_gain * cost.cost(0, y.len()));
    let mut bkps = pelt(&cost, penalty, min_size);
    bkps.pop();
    bkps
}

/// A two-segment continuous line fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hinge {
    /// Index of the knot in the input.
    pub knot: usize,
    /// Slope before and after the knot, in y per unit of x.
    pub slope_before: f64,
    pub slope_after: f64,
    pub sse: f64,
}

/// Running sums over the points after a knot.
struct Tail {
    m: f64,
    sx: f64,
    sxx: f64,
    sy: f64,
    sxy: f64,
}

/// Best continuous hinge `y = a + b·x + c·(x − x_k)₊` over knots `x_k` with at least `min_side`
/// points on each side; `None` when there are too few points.
pub fn hinge(x: &[f64], y: &[f64], min_side: usize) -> Option<Hinge> {
    fit_hinge(x, y, min_side, true)
}

/// Best `y = a + c·(x − x_k)₊` (flat, then a line): the knot is where a rise (or fall) sets in.
pub fn flat_then_rise(x: &[f64], y: &[f64], min_side: usize) -> Option<Hinge> {
    fit_hinge(x, y, min_side, false)
}

fn fit_hinge(x: &[f64], y: &[f64], min_side: usize, slope_before: bool) -> Option<Hinge> {
    let n = x.len().min(y.len());
    let min_side = min_side.max(2);
    if n < 2 * min_side + 1 {
        return None;
    }
    // Normalise x to [0, 1] and centre y for conditioning.
    let (x0, x1) = (x[0], x[n - 1]);
    let span = if x1 > x0 { x1 - x0 } else { 1.0 };
    let xs: Vec<f64> = x[..n].iter().map(|v| (v - x0) / span).collect();
    let yc = mean(&y[..n]);
    let ys: Vec<f64> = y[..n].iter().map(|v| v - yc).collect();
    let nf = n as f64;
    let (sx, sxx, sy, syy, sxy) = xs
        .iter()
        .zip(&ys)
        .fold((0.0, 0.0, 0.0, 0.0, 0.0), |a, (x, y)| {
            (a.0 + x, a.1 + x * x, a.2 + y, a.3 + y * y, a.4 + x * y)
        });
    let cxx = sxx - sx * sx / nf;
    let cxy = sxy - sx * sy / nf;
    let cyy = syy - sy * sy / nf;
    let mut tail = Tail {
        m: 0.0,
        sx: 0.0,
        sxx: 0.0,
        sy: 0.0,
        sxy: 0.0,
    };
    let mut best: Option<(f64, usize, f64, f64)> = None;
    // Walk knots from the right so `tail` holds the points after knot k.
    for k in (0..n).rev() {
        if k + 1 >= min_side && k + min_side < n {
            let xk = xs[k];
            let sh = tail.sx - tail.m * xk;
            let shh = tail.sxx - 2.0 * xk * tail.sx + tail.m * xk * xk;
            let shy = tail.sxy - xk * tail.sy;
            let sxh = tail.sxx - xk * tail.sx;
            let chh = shh - sh * sh / nf;
            let chy = shy - sh * sy / nf;
            let cxh = sxh - sx * sh / nf;
            let fit = if slope_before {
                let det = cxx * chh - cxh * cxh;
                (det.abs() > 1e-18).then(|| {
                    let b = (cxy * chh - chy * cxh) / det;
                    let c = (chy * cxx - cxy * cxh) / det;
                    (cyy - b * cxy - c * chy, b, b + c)
                })
            } else {
                (chh > 1e-18).then(|| {
                    let c = chy / chh;
                    (cyy - c * chy, 0.0, c)
                })
            };
            if let Some((sse, before, after)) = fit
                && best.is_none_or(|b| sse < b.0)
            {
                best = Some((sse, k, before, after));
            }
        }
        tail.m += 1.0;
        tail.sx += xs[k];
        tail.sxx += xs[k] * xs[k];
        tail.sy += ys[k];
        tail.sxy += xs[k] * ys[k];
    }
    best.map(|(sse, knot, before, after)| Hinge {
        knot,
        slope_before: before / span,
        slope_after: after / span,
        sse: sse.max(0.0),
    })
}

fn mean(y: &[f64]) -> f64 {
    if y.is_empty() {
        0.0
    } else {
        y.iter().sum::<f64>() / y.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic uniform noise in [-0.5, 0.5) (xorshift), for tests.
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        crate::stats::test_uniform_noise(len, seed)
            .into_iter()
            .map(|u| u - 0.5)
            .collect()
    }

    #[test]
    fn pelt_finds_clean_level_shifts() {
        let mut y = vec![0.0; 30];
        y.extend(vec![5.0; 30]);
        y.extend(vec![1.0; 20]);
        for (v, e) in y.iter_mut().zip(noise(80, 7)) {
            *v += 0.2 * e;
        }
        assert_eq!(changepoints(&y, MeanShift::new, 3, 0.0), vec![30, 60]);
    }

    #[test]
    fn linear_trend_sees_a_v_as_two_segments() {
        let noisy: Vec<f64> = (0..100)
            .zip(noise(100, 11))
            .map(|(i, e)| if i < 60 { 10.0 - 0.1 * i as f64 } else { 4.0 + 0.05 * (i - 60) as f64 } + 0.05 * e)
            .collect();
        // The V's apex (index 60) lies on both lines: either side of it is an exact split.
        let found = changepoints(&noisy, LinearTrend::new, 3, 0.0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].abs_diff(60) <= 1, "{found:?}");
    }

    #[test]
    fn the_gain_floor_keeps_an_exponential_descent_in_few_pieces() {
        let y: Vec<f64> = (0..1000)
            .zip(noise(1000, 3))
            .map(|(i, e)| 0.2 + (-(i as f64) / 120.0).exp() + 0.002 * e)
            .collect();
        let bic_only = changepoints(&y, LinearTrend::new, 20, 0.0);
        let floored = changepoints(&y, LinearTrend::new, 20, 0.01);
        assert!(bic_only.len() > 5, "{bic_only:?}");
        assert!((1..=4).contains(&floored.len()), "{floored:?}");
    }

    #[test]
    fn hinge_locates_the_turn() -> Result<(), Box<dyn std::error::Error>> {
        let x: Vec<f64> = (0..200).map(|i| 10.0 * i as f64).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|x| {
                if *x < 1300.0 {
                    1.0 - 0.0005 * x
                } else {
                    0.35 + 0.0002 * (x - 1300.0)
                }
            })
            .collect();
        let h = hinge(&x, &y, 5).ok_or("no hinge")?;
        assert_eq!(h.knot, 130);
        assert!((h.slope_before + 0.0005).abs() < 1e-9, "{h:?}");
        assert!((h.slope_after - 0.0002).abs() < 1e-9, "{h:?}");
        let flat: Vec<f64> = x
            .iter()
            .map(|x| {
                if *x < 800.0 {
                    0.3
                } else {
                    0.3 + 0.001 * (x - 800.0)
                }
            })
            .collect();
        assert_eq!(flat_then_rise(&x, &flat, 5).map(|h| h.knot), Some(80));
        Ok(())
    }

    #[test]
    fn noise_variance_ignores_trends() {
        let y: Vec<f64> = (0..500).map(|i| 3.0 * i as f64).collect();
        assert_eq!(noise_variance(&y), 0.0);
    }
}
