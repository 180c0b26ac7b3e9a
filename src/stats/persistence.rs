//! Trend and level-shift tests whose size holds under the persistence training curves have.
//!
//! Why: Mann–Kendall assumes independent points. Training losses are autocorrelated (AR(1)
//! coefficients of 0.5–0.99 at the analysis resolution are common) and the Hamed–Rao correction
//! ([`super::trend::hamed_rao`]) estimates the autocorrelation from the same short series, which
//! under-corrects badly: at α = 0.01 it rejects 6–20% of trend-free AR(1) series (φ 0.5–0.99).
//!
//! **Method.** The noise is modelled as AR(1) and its coefficient is estimated *conservatively*:
//! 1. Remove the structure the alternatives put in the series — the best least-squares fit of a
//!    line, a quadratic, a cubic, a two-slope hinge, a clamped ramp or one level shift
//!    ([`structure_residual`]) — and take the lag-1 autocorrelation `r` of the residual, leaving
//!    out points beyond [`OUTLIER_MADS`] robust standard deviations (what a fit cannot follow,
//!    such as the ramp of a jump, is not noise).
//! 2. Correct the known downward bias of `r` once a mean and a slope are fitted (Shaman & Stine
//!    1988, *JASA* 83:842: `E r ≈ φ − (2 + 4φ)/n`, so `φ̃ = r + (2 + 4r)/n`), and use its
//!    one-sided upper confidence bound
//!    `φ_u = φ̃ + z·√((1 − φ̃²)/n)` with `z` = [`PHI_CONFIDENCE_Z`] (Bartlett's variance of `r`).
//!    A persistence seen on a longer stretch can raise the bound ([`persistent_trend_at_least`]):
//!    the rebound detector passes the plateau's integrated autocorrelation time
//!    ([`integrated_time`], Geyer 1992 initial positive sequence) as the AR(1) coefficient with the
//!    same time ([`equivalent_phi`]), so a slow wander that the short post-minimum span cannot see
//!    as persistence still counts as one (see [`super::rise`]).
//! 3. **Trend**: Mann–Kendall `S` with the variance inflated by the Hamed–Rao factor for that
//!    AR(1) model (Yue & Wang 2004, *Water Resour. Manag.* 18:201, "effective sample size"):
//!    `n/n* = 1 + 2/(n(n−1)(n−2)) · Σ_k (n−k)(n−k−1)(n−k−2)·ρ_k`, with the rank autocorrelation
//!    of a Gaussian AR(1) `ρ_k = (6/π)·asin(φ_u^k / 2)` (Pearson's relation between Spearman's and
//!    Pearson's correlation).
//! 4. **Level shift**: Pettitt's rank test (Pettitt 1979, *Appl. Statist.* 28:126):
//!    `U_t = 2·Σ_{i≤t} r_i − t(n+1)`, `K = max|U_t|`, `p ≈ 2·exp(−6K² / ((n³ + n²)·f))`, where the
//!    long-run variance factor of the ranks `f = 1 + 2·Σ_k (1 − k/n)·ρ_k` (the partial sums of a
//!    dependent series converge to a Brownian bridge scaled by its long-run variance).
//!    Pettitt's `K` is weak for shifts near either end (it grows like `t(n−t)`), so the shift
//!    p-value also takes the standardised statistic `Z_t = U_t / √(t(n−t)(n+1)/3 · f)` (the
//!    Mann–Whitney z of the split at `t`) at its largest `|Z_t|` over `3 ≤ t ≤ n−3`, with a
//!    Bonferroni factor for the `n − 5` splits tried: `p_shift = min(p_Pettitt, (n−5)·2(1−Φ(|Z|)))`.
//! 5. One p-value: `p = min(1, 3·min(p_trend, p_Pettitt, p_maxZ))` (Bonferroni over the three).
//!
//! The size is measured, not assumed: `tests/calibration.rs` simulates trend-free AR(1) series
//! (φ 0–0.99, Gaussian and Student-t noise, slow sinusoidal wander) and prints the false-alarm
//! table recorded in `docs/statistics.md`. Near a unit root the bound `φ_u` approaches 1 and the
//! inflation makes significance unreachable: the test then says it lacks power
//! ([`PersistentTrend::min_attainable_p`]) rather than guessing.

mod structure;

pub use structure::structure_residual;

use std::f64::consts::PI;

use super::trend::{MannKendall, average_ranks, finish, score, two_sided_p, variance};

/// One-sided upper confidence quantile for the AR(1) coefficient (z of 0.999).
pub const PHI_CONFIDENCE_Z: f64 = 3.09;

/// Residuals beyond this many robust standard deviations (MAD/Φ⁻¹(3/4)) are left out of the
/// lag-1 autocorrelation.
pub const OUTLIER_MADS: f64 = 4.0;

/// Largest AR(1) coefficient used (near a unit root the inflation is effectively infinite).
pub const PHI_MAX: f64 = 0.9995;

/// The conservatively estimated AR(1) coefficient of a series's noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ar1Bound {
    /// Lag-1 autocorrelation of the residual (after removing a line or one level shift).
    pub phi_hat: f64,
    /// Bias-corrected upper confidence bound, in `[0, PHI_MAX]`.
    pub phi_upper: f64,
}

impl Ar1Bound {
    /// Integrated autocorrelation time `(1 + φ_u)/(1 − φ_u)`: how many points carry the
    /// information of one independent point.
    pub fn correlation_length(&self) -> f64 {
        (1.0 + self.phi_upper) / (1.0 - self.phi_upper)
    }
}

/// The trend test with its level-shift companion and the combined p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PersistentTrend {
    /// Mann–Kendall with the variance inflated for the AR(1) bound.
    pub mk: MannKendall,
    /// Pettitt's p-value (two-sided), inflated likewise.
    pub p_shift: f64,
    /// Index of the first point after the most likely level shift.
    pub shift_at: usize,
    /// Whether the points after the shift are higher (median of each side).
    pub shift_up: bool,
    /// `min(1, 3·min(mk.p, p_Pettitt, p_maxZ))`.
    pub p: f64,
    pub ar1: Ar1Bound,
    /// The Mann–Kendall variance factor `n/n*`.
    pub factor: f64,
    /// The smallest combined p-value this many points with this persistence could give.
    pub min_attainable_p: f64,
    /// Integrated autocorrelation time of the surrounding plateau when the caller supplied one
    /// (see [`super::rise`]), else 1.
    pub plateau_tau: f64,
}

impl PersistentTrend {
    /// Points worth one independent point each: `n / factor`.
    pub fn effective_points(&self) -> f64 {
        self.mk.n as f64 / self.factor
    }
    /// Whether the evidence points upward (trend or shift, whichever is stronger).
    pub fn upward(&self) -> bool {
        if self.p_shift < self.mk.p {
            self.shift_up
        } else {
            self.mk.z > 0.0
        }
    }
}

/// The trend-and-shift test on `y` (finite values, in order). Fewer than 3 points give p = 1.
pub fn persistent_trend(y: &[f64]) -> PersistentTrend {
    persistent_trend_at_least(y, 0.0)
}

/// [`persistent_trend`] with the AR(1) bound raised to at least `phi_floor` (a persistence
/// known from a longer stretch than `y`, such as the plateau's: [`equivalent_phi`]).
pub fn persistent_trend_at_least(y: &[f64], phi_floor: f64) -> PersistentTrend {
    let n = y.len();
    let residual = structure_residual(y);
    // A series the fit follows exactly (no noise at all) has no persistence to estimate.
    let scale = y.iter().map(|v| v.abs()).fold(0.0f64, f64::max);
    let exact = residual.iter().all(|r| r.abs() <= 1e-9 * scale);
    let ar1 = if exact {
        Ar1Bound {
            phi_hat: 0.0,
            phi_upper: 0.0,
        }
    } else {
        ar1_upper(&residual)
    };
    let ar1 = Ar1Bound {
        phi_upper: ar1.phi_upper.max(phi_floor.clamp(0.0, PHI_MAX)),
        ..ar1
    };
    let rho = rank_autocorrelations(ar1.phi_upper, n);
    let factor = mann_kendall_factor(&rho, n);
    let mk = finish(n, score(y), variance(y) * factor);
    let lrv = long_run_factor(&rho, n);
    let (k, shift_at) = pettitt_statistic(y);
    let p_shift = pettitt_p(k, n, lrv).min(max_z_p(y, lrv));
    let shift_up = n >= 2 && {
        let (a, b) = y.split_at(shift_at.clamp(1, n - 1));
        super::smooth::median(b) > super::smooth::median(a)
    };
    let min_mk = min_attainable(n, factor);
    let nf = n as f64;
    let min_pt = pettitt_p(nf * nf / 4.0, n, lrv);
    PersistentTrend {
        mk,
        p_shift,
        shift_at,
        shift_up,
        p: combined_p(mk.p, p_shift),
        ar1,
        factor,
        min_attainable_p: combined_p(min_mk, min_pt),
        plateau_tau: 1.0,
    }
}

/// The Bonferroni-combined p-value of the drift and the two shift statistics (`p_shift` is
/// already the smaller of Pettitt's and the max-Z one).
pub fn combined_p(p_trend: f64, p_shift: f64) -> f64 {
    (3.0 * p_trend.min(p_shift)).min(1.0)
}

/// The max-Z shift p-value (step 4): the largest standardised Mann–Whitney split statistic,
/// Bonferroni-corrected for the splits tried.
fn max_z_p(y: &[f64], f: f64) -> f64 {
    let n = y.len();
    if n < 8 {
        return 1.0;
    }
    let nf = n as f64;
    let ranks = average_ranks(y);
    let (mut u, mut best) = (0.0f64, 0.0f64);
    for (t, r) in ranks.iter().enumerate().take(n - 3) {
        u += 2.0 * r - (nf + 1.0);
        let t = t + 1;
        if t >= 3 {
            let tf = t as f64;
            let z = u.abs() / (tf * (nf - tf) * (nf + 1.0) / 3.0 * f).sqrt();
            best = best.max(z);
        }
    }
    ((nf - 5.0) * two_sided_p(best)).min(1.0)
}

/// Bias-corrected upper confidence bound of the AR(1) coefficient of `residual` (step 2 above).
pub fn ar1_upper(residual: &[f64]) -> Ar1Bound {
    let n = residual.len();
    if n < 4 {
        return Ar1Bound {
            phi_hat: 0.0,
            phi_upper: 0.0,
        };
    }
    let nf = n as f64;
    let centre = super::smooth::median(residual);
    let mut dev: Vec<f64> = residual.iter().map(|v| (v - centre).abs()).collect();
    let limit = OUTLIER_MADS * super::smooth::median_in_place(&mut dev) / 0.674_489_750_196_081_7;
    // Points a fit left far out (the ramp of a jump, a burst) are not the noise's persistence.
    let inside = |v: f64| limit <= 0.0 || (v - centre).abs() <= limit;
    let kept: Vec<f64> = residual.iter().copied().filter(|v| inside(*v)).collect();
    let mean = kept.iter().sum::<f64>() / kept.len().max(1) as f64;
    let c0: f64 = kept.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / kept.len().max(1) as f64;
    let (mut c1, mut pairs) = (0.0, 0usize);
    for w in residual.windows(2) {
        if inside(w[0]) && inside(w[1]) {
            c1 += (w[0] - mean) * (w[1] - mean);
            pairs += 1;
        }
    }
    let r = if c0 > 0.0 && pairs > 0 {
        c1 / pairs as f64 / c0
    } else {
        0.0
    };
    let corrected = (r + (4.0 + 6.0 * r) / nf).clamp(-0.99, PHI_MAX);
    let se = ((1.0 - corrected * corrected).max(0.0) / nf).sqrt();
    Ar1Bound {
        phi_hat: r,
        phi_upper: (corrected + PHI_CONFIDENCE_Z * se).clamp(0.0, PHI_MAX),
    }
}

/// Geyer's initial-positive-sequence estimate of the integrated autocorrelation time
/// `τ = 1 + 2·Σ_k ρ_k` of `residual` (Geyer 1992, *Statist. Sci.* 7:473, §3.3): the sums of
/// adjacent autocorrelations `Γ_m = ρ_{2m} + ρ_{2m+1}` are added while they stay positive.
/// Unlike the lag-1 AR(1) fit it sees a persistence that is not AR(1): white noise on top of a
/// slow oscillation has a modest `ρ_1` but positive autocorrelations for a quarter period, and
/// `τ` grows with that period. Fewer than 8 points give 1.
pub fn integrated_time(residual: &[f64]) -> f64 {
    let n = residual.len();
    if n < 8 {
        return 1.0;
    }
    let mean = residual.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = residual.iter().map(|v| v - mean).collect();
    let c0 = d.iter().map(|v| v * v).sum::<f64>();
    if c0 <= 0.0 {
        return 1.0;
    }
    let rho = |k: usize| d.iter().zip(&d[k..]).map(|(a, b)| a * b).sum::<f64>() / c0;
    let mut tau = -1.0;
    let mut m = 0;
    while 2 * m + 1 < n / 2 {
        let gamma = if m == 0 { 1.0 } else { rho(2 * m) } + rho(2 * m + 1);
        if gamma <= 0.0 {
            break;
        }
        tau += 2.0 * gamma;
        m += 1;
    }
    tau.max(1.0)
}

/// The AR(1) coefficient with the same integrated autocorrelation time `τ`:
/// `(1 + φ)/(1 − φ) = τ`, so `φ = (τ − 1)/(τ + 1)`.
pub fn equivalent_phi(tau: f64) -> f64 {
    ((tau - 1.0) / (tau + 1.0)).clamp(0.0, PHI_MAX)
}

/// Rank autocorrelations `ρ_k = (6/π)·asin(φ^k/2)`, k = 1.., until they vanish (< 1e-7).
fn rank_autocorrelations(phi: f64, n: usize) -> Vec<f64> {
    let mut out = Vec::new();
    let mut pk = phi;
    for _ in 1..n {
        let rho = 6.0 / PI * (pk / 2.0).asin();
        if rho.abs() < 1e-7 {
            break;
        }
        out.push(rho);
        pk *= phi;
    }
    out
}

/// Hamed–Rao's `n/n*` for rank autocorrelations `rho[k−1] = ρ_k`.
fn mann_kendall_factor(rho: &[f64], n: usize) -> f64 {
    if n < 3 {
        return 1.0;
    }
    let nf = n as f64;
    let sum: f64 = rho
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let m = (n - (i + 1)) as f64;
            m * (m - 1.0) * (m - 2.0) * r
        })
        .sum();
    (1.0 + 2.0 / (nf * (nf - 1.0) * (nf - 2.0)) * sum).max(1.0)
}

/// Long-run variance factor of the ranks, `1 + 2·Σ_k (1 − k/n)·ρ_k`.
fn long_run_factor(rho: &[f64], n: usize) -> f64 {
    let nf = n as f64;
    let sum: f64 = rho
        .iter()
        .enumerate()
        .map(|(i, r)| (1.0 - (i + 1) as f64 / nf) * r)
        .sum();
    (1.0 + 2.0 * sum).max(1.0)
}

/// Pettitt's `K = max_t |U_t|` and the index after the argmax (the first point of the second
/// segment). Ties share their average rank.
pub fn pettitt_statistic(y: &[f64]) -> (f64, usize) {
    let n = y.len();
    if n < 2 {
        return (0.0, 0);
    }
    let ranks = average_ranks(y);
    let (mut u, mut best, mut at) = (0.0f64, 0.0f64, 1usize);
    for (t, r) in ranks.iter().enumerate().take(n - 1) {
        u += 2.0 * r - (n as f64 + 1.0);
        if u.abs() > best {
            best = u.abs();
            at = t + 1;
        }
    }
    (best, at)
}

/// Pettitt's approximate two-sided p-value, the variance scaled by the long-run factor `f`.
pub fn pettitt_p(k: f64, n: usize, f: f64) -> f64 {
    if n < 3 {
        return 1.0;
    }
    let nf = n as f64;
    (2.0 * (-6.0 * k * k / ((nf.powi(3) + nf * nf) * f)).exp()).min(1.0)
}

/// The Mann–Kendall p-value of a perfectly monotone series of `n` points with the variance
/// inflated by `factor`.
fn min_attainable(n: usize, factor: f64) -> f64 {
    if n < 2 {
        return 1.0;
    }
    let nf = n as f64;
    let s = nf * (nf - 1.0) / 2.0;
    let var_s = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0 * factor;
    two_sided_p((s - 1.0) / var_s.sqrt())
}

#[cfg(test)]
mod tests;
