//! The shape of the loss beyond the rebound: collapse, sudden drops (and periodic crashes), and how
//! the run ends (plateau or still descending). All on the detector's de-spiked block series.
//!
//! - **Sudden drop**: PELT with the mean-shift cost (see [`crate::stats::changepoint`]) proposes
//!   level changes; one counts as a sudden drop when the level right after it lies below what the
//!   trend just before it predicts by at least 20% of the run's descent and 6 noise σ (σ from
//!   second differences), from a level held for several windows (the end of a short burst is not a
//!   drop). Four or more with regular intervals (CV < 0.25) are periodic crashes.
//! - **Collapse**: the regularization monitor ends near 1 (≥ 0.9, having risen by ≥ 0.3 — V-JEPA's
//!   reg-loss is `mean(relu(1 − std))`, 1 when predictions are constant); or a sudden drop takes
//!   the loss below 10% of its start and it stays below 15%.
//! - **End of the run** (last 25% of the steps): Mann–Kendall (Hamed–Rao) and Sen's slope. No
//!   significant trend (p ≥ 0.05) or a change under 2% of the descent is a plateau; a significant
//!   fall of at least 10% of the descent is a slow descent (more steps would still pay).

use crate::stats::changepoint::{MeanShift, changepoints, noise_variance};
use crate::stats::smooth::median;
use crate::stats::trend::{hamed_rao_conservative, sens_slope_xy};

use super::rebound::Prepared;

/// A sudden downward level shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drop {
    pub step: u64,
    pub before: f64,
    pub after: f64,
    /// Drop below the trend's prediction, as a share of the run's descent.
    pub share_of_descent: f64,
}

/// Sudden drops of the prepared loss after `after_step`.
pub fn sudden_drops(p: &Prepared, after_step: u64) -> Vec<Drop> {
    let c = &p.cleaned;
    let b = c.len();
    if b < 20 {
        return Vec::new();
    }
    let start = p.smoothed.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = p.smoothed.iter().copied().fold(f64::INFINITY, f64::min);
    let descent = start - min;
    let sigma = noise_variance(c).sqrt();
    if descent.is_nan() || descent <= 0.0 {
        return Vec::new();
    }
    let w = (b / 100).max(3);
    let mut drops = Vec::new();
    for k in changepoints(c, MeanShift::new, w, 0.01) {
        if k < 2 * w || k + w > b || p.blocks.first_step[k] < after_step {
            continue;
        }
        let before = median(&c[k - w..k]);
        let after = median(&c[k..k + w]);
        // A crash leaves a level the loss held for a while; the end of a short burst (the loss
        // jumped up for less than a few windows and came back) is part of the instability, not a
        // drop: require the level 1–4 windows before to sit above `after` as well.
        if k >= 4 * w && median(&c[k - 4 * w..k - w]) - after < 0.2 * descent {
            continue;
        }
        let slope = sens_slope_xy(&p.blocks.steps[k - 2 * w..k], &c[k - 2 * w..k]);
        let gap = p.blocks.steps[k + w / 2] - p.blocks.steps[k - 1 - w / 2];
        let predicted = before + slope.min(0.0) * gap;
        let below = predicted - after;
        if below >= 0.2 * descent && below >= 6.0 * sigma {
            drops.push(Drop {
                step: p.blocks.first_step[k],
                before,
                after,
                share_of_descent: below / descent,
            });
        }
    }
    drops
}

/// Median interval of regular drops (≥ 4 drops, CV of the intervals < 0.25).
pub fn drop_period(drops: &[Drop]) -> Option<f64> {
    if drops.len() < 4 {
        return None;
    }
    let gaps: Vec<f64> = drops
        .windows(2)
        .map(|w| (w[1].step - w[0].step) as f64)
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
    (mean > 0.0 && sd / mean < 0.25).then(|| median(&gaps))
}

/// How the regularization monitor ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegEnd {
    pub end: f64,
    pub lowest: f64,
    /// Whether the series lives in [0, 1] (V-JEPA's reg-loss).
    pub unit_range: bool,
}

/// The end level (median of the last 5% of blocks) and the lowest smoothed level of `reg`.
pub fn reg_end(reg: &Prepared, unit_range: bool) -> Option<RegEnd> {
    let b = reg.cleaned.len();
    if b < 5 {
        return None;
    }
    let tail = (b / 20).max(3).min(b);
    Some(RegEnd {
        end: median(&reg.cleaned[b - tail..]),
        lowest: reg.smoothed.iter().copied().fold(f64::INFINITY, f64::min),
        unit_range,
    })
}

/// The first step, after its lowest point, where the monitor is past halfway to its end level.
pub fn reg_rise_step(reg: &Prepared, r: &RegEnd) -> Option<u64> {
    let lowest_at =
        (0..reg.smoothed.len()).min_by(|a, b| reg.smoothed[*a].total_cmp(&reg.smoothed[*b]))?;
    let half = r.lowest + 0.5 * (r.end - r.lowest);
    let k = (lowest_at..reg.cleaned.len()).find(|k| reg.smoothed[*k] >= half)?;
    Some(reg.blocks.first_step[k])
}

/// Collapse by the monitor: it ends at ≥ 0.9 after rising by ≥ 0.3 (unit-range monitors only).
pub fn reg_says_collapse(r: &RegEnd) -> bool {
    r.unit_range && r.end >= 0.9 && r.end - r.lowest >= 0.3
}

/// How the last quarter of the run behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ending {
    Plateau { p: f64, change: f64 },
    SlowDescent { p: f64, change: f64 },
    Other { p: f64, change: f64 },
}

/// The ending of the prepared loss over its last 25% of steps, with the overall descent for scale.
pub fn ending(p: &Prepared) -> Option<(Ending, u64, u64, f64)> {
    let b = p.cleaned.len();
    if b < 16 {
        return None;
    }
    let last = p.blocks.last_step[b - 1];
    let first = p.blocks.first_step[0];
    let from = last - (last - first) / 4;
    let k = p.blocks.steps.iter().position(|s| *s >= from as f64)?;
    if b - k < 8 {
        return None;
    }
    let tail = &p.cleaned[k..];
    let mk = hamed_rao_conservative(tail);
    let slope = sens_slope_xy(&p.blocks.steps[k..], tail);
    let change = slope * (last - p.blocks.first_step[k]) as f64;
    let start = p.smoothed.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = p.smoothed.iter().copied().fold(f64::INFINITY, f64::min);
    let descent = (start - min).max(f64::MIN_POSITIVE);
    let e = if mk.p >= 0.05 || change.abs() < 0.02 * descent {
        Ending::Plateau { p: mk.p, change }
    } else if mk.z < 0.0 && mk.p < 0.01 && -change >= 0.1 * descent {
        Ending::SlowDescent { p: mk.p, change }
    } else {
        Ending::Other { p: mk.p, change }
    };
    Some((e, p.blocks.first_step[k], last, descent))
}
