//! Step 1 of the persistence-calibrated tests ([`super`]): what the alternatives put in a series
//! is fitted and removed before the noise's persistence is estimated, so that a rise is not
//! mistaken for autocorrelation. The shapes are those a rise takes — a line, a polynomial, a
//! two-slope hinge, a clamped ramp, one level shift — each a small least-squares fit.

use crate::stats::changepoint::hinge;

/// The residual of `y` after the best least-squares fit among the shapes a rise takes: a line, a
/// quadratic, a continuous hinge (two slopes) and one level shift — the smallest sum of squares
/// wins. Each has at most three parameters plus the knot, so little of a stationary noise's own
/// wander is absorbed (the bias correction covers it; `tests/calibration.rs` measures the rest).
pub fn structure_residual(y: &[f64]) -> Vec<f64> {
    let n = y.len();
    if n < 8 {
        return y.to_vec();
    }
    let nf = n as f64;
    let x: Vec<f64> = (0..n).map(|i| (i as f64 - (nf - 1.0) / 2.0) / nf).collect();
    let mut best = ols_residual(y, &[&x]);
    let mut keep = |r: Vec<f64>| {
        if sum_sq(&r) < sum_sq(&best) {
            best = r;
        }
    };
    let x2: Vec<f64> = x.iter().map(|v| v * v).collect();
    let x3: Vec<f64> = x.iter().map(|v| v * v * v).collect();
    keep(ols_residual(y, &[&x, &x2]));
    keep(ols_residual(y, &[&x, &x2, &x3]));
    if let Some(ramp) = clamped_ramp(&x, y) {
        keep(ols_residual(y, &[&ramp]));
    }
    if let Some(h) = hinge(&x, y, 3) {
        let xk = x[h.knot];
        let after: Vec<f64> = x.iter().map(|v| (v - xk).max(0.0)).collect();
        let after2: Vec<f64> = after.iter().map(|v| v * v).collect();
        keep(ols_residual(y, &[&x, &after]));
        keep(ols_residual(y, &[&x, &after, &after2]));
    }
    let split = best_split(y);
    let shift: Vec<f64> = (0..n).map(|i| if i < split { 0.0 } else { 1.0 }).collect();
    keep(ols_residual(y, &[&shift]));
    best
}

/// Knot positions tried by [`clamped_ramp`] (a grid over the series).
const RAMP_GRID: usize = 40;

/// The best regressor `clamp(x, x_a, x_b)` (flat, a linear ramp from knot `a` to knot `b`, flat
/// again) over a grid of knot pairs: the shape of a jump with a width and of a rise that levels
/// off, which a line, a polynomial or a sharp shift leave in the residual as spurious
/// persistence. Each candidate is a one-column least-squares fit, `SSE = S_yy − S_zy²/S_zz`,
/// scored in O(1) from prefix sums (O(n + grid²) in all). `x` is increasing.
fn clamped_ramp(x: &[f64], y: &[f64]) -> Option<Vec<f64>> {
    let n = x.len();
    if n < 2 * RAMP_GRID {
        return None;
    }
    let prefix = |f: &dyn Fn(usize) -> f64| {
        let mut acc = vec![0.0; n + 1];
        for i in 0..n {
            acc[i + 1] = acc[i] + f(i);
        }
        acc
    };
    let (sy, sx, sxx, sxy) = (
        prefix(&|i| y[i]),
        prefix(&|i| x[i]),
        prefix(&|i| x[i] * x[i]),
        prefix(&|i| x[i] * y[i]),
    );
    let nf = n as f64;
    let knots: Vec<usize> = (0..=RAMP_GRID).map(|g| g * (n - 1) / RAMP_GRID).collect();
    let mut best: Option<(f64, usize, usize)> = None;
    for (i, &a) in knots.iter().enumerate() {
        for &b in &knots[i + 1..] {
            // z = x[a] on [0, a], x on (a, b), x[b] on [b, n).
            let (lo, hi) = (x[a], x[b]);
            let (na, nb) = ((a + 1) as f64, (n - b) as f64);
            let sz = lo * na + (sx[b] - sx[a + 1]) + hi * nb;
            let szz = lo * lo * na + (sxx[b] - sxx[a + 1]) + hi * hi * nb;
            let szy = lo * sy[a + 1] + (sxy[b] - sxy[a + 1]) + hi * (sy[n] - sy[b]);
            let czz = szz - sz * sz / nf;
            let czy = szy - sz * sy[n] / nf;
            if czz <= 1e-12 * (1.0 + szz) {
                continue;
            }
            let explained = czy * czy / czz;
            if best.is_none_or(|(e, _, _)| explained > e) {
                best = Some((explained, a, b));
            }
        }
    }
    best.map(|(_, a, b)| {
        let (lo, hi) = (x[a], x[b]);
        x.iter().map(|v| v.clamp(lo, hi)).collect()
    })
}

fn sum_sq(r: &[f64]) -> f64 {
    r.iter().map(|v| v * v).sum()
}

/// The split maximising the between-segment sum of squares `t(n−t)/n·(m₁ − m₂)²`.
fn best_split(y: &[f64]) -> usize {
    let n = y.len();
    let nf = n as f64;
    let mean = y.iter().sum::<f64>() / nf;
    let total: f64 = y.iter().map(|v| v - mean).sum();
    let (mut prefix, mut best, mut split) = (0.0, 0.0f64, n / 2);
    for t in 1..n {
        prefix += y[t - 1] - mean;
        let tf = t as f64;
        let (m1, m2) = (prefix / tf, (total - prefix) / (nf - tf));
        let between = tf * (nf - tf) / nf * (m1 - m2).powi(2);
        if between > best {
            best = between;
            split = t;
        }
    }
    split
}

/// Residual of the least-squares fit of `y` on an intercept and `columns` (at most 3), by the
/// normal equations on centred columns; a singular system leaves the mean-removed `y`.
fn ols_residual(y: &[f64], columns: &[&[f64]]) -> Vec<f64> {
    let n = y.len() as f64;
    let centre = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / n;
        v.iter().map(|x| x - m).collect::<Vec<f64>>()
    };
    let yc = centre(y);
    let cols: Vec<Vec<f64>> = columns.iter().map(|c| centre(c)).collect();
    let k = cols.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    // Augmented matrix [XᵀX | Xᵀy], Gauss–Jordan with partial pivoting.
    let mut a: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            let mut row: Vec<f64> = (0..k).map(|j| dot(&cols[i], &cols[j])).collect();
            row.push(dot(&cols[i], &yc));
            row
        })
        .collect();
    for c in 0..k {
        let Some(p) = (c..k).max_by(|i, j| a[*i][c].abs().total_cmp(&a[*j][c].abs())) else {
            return yc;
        };
        if a[p][c].abs() < 1e-12 {
            return yc;
        }
        a.swap(c, p);
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, p) in row.iter_mut().zip(&pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    let beta: Vec<f64> = (0..k).map(|i| a[i][k] / a[i][i]).collect();
    yc.iter()
        .enumerate()
        .map(|(t, v)| v - (0..k).map(|i| beta[i] * cols[i][t]).sum::<f64>())
        .collect()
}
