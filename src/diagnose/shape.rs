//! The shape of the loss beyond the rebound: collapse, sudden drops (and periodic crashes), and how
//! the run ends (plateau or still descending). All on the detector's de-spiked block series.
//!
//! - **Sudden drop**: a scan for places where the loss falls, within a window of 1% of the run,
//!   below what the trend just before predicts by at least 10% of the run's descent and 6 noise σ
//!   (σ from second differences), from a level held for several windows (the end of a short burst
//!   is not a drop). Four or more at regular intervals are periodic crashes (see [`drop_period`]).
//!   Collapse is read in [`super::collapse`].
//! - **End of the run** (last 25% of the steps): Mann–Kendall (Hamed–Rao) and Sen's slope. No
//!   significant trend (p ≥ 0.05) or a change under 2% of the descent is a plateau; a significant
//!   fall of at least 10% of the descent is a slow descent (more steps would still pay).

use crate::stats::changepoint::noise_variance;
use crate::stats::period::regular_period;
use crate::stats::smooth::median;
use crate::stats::trend::{hamed_rao_conservative, sens_slope_xy};

use super::rebound::Prepared;

/// The highest and the lowest level of the smoothed curve (−∞ and +∞ when it is empty): the
/// run's scale, against which drops, endings and spikes are measured.
pub fn smoothed_range(prepared: &Prepared) -> (f64, f64) {
    let high = prepared
        .smoothed
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let low = prepared
        .smoothed
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    (high, low)
}

/// A sudden downward level shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drop {
    pub step: u64,
    pub before: f64,
    pub after: f64,
    /// Drop below the trend's prediction, as a share of the run's descent.
    pub share_of_descent: f64,
}

/// Sudden drops of the prepared loss after `after_step`: a scan over the de-spiked block medians.
/// At each block `k` (window `w` = 1% of the blocks, at least 3) the level before is the median
/// of the `w` blocks before `k`, extrapolated along their Sen slope when it falls; the low after
/// is the lowest 3-block running median of the `w` blocks from `k`. A drop is a low at least 10%
/// of the run's descent and 6 noise σ below that prediction, from a level the loss held for a
/// while (the median 1–4 windows before `k` also sits that far above the low, so the end of a
/// short upward burst is not a drop). The scan resumes one window after each drop's low, so every
/// crash of a sawtooth is counted once.
pub fn sudden_drops(prepared: &Prepared, after_step: u64) -> Vec<Drop> {
    let c = &prepared.cleaned;
    let b = c.len();
    if b < 20 {
        return Vec::new();
    }
    let (start, min) = smoothed_range(prepared);
    let descent = start - min;
    let sigma = noise_variance(c).sqrt();
    if descent.is_nan() || descent <= 0.0 {
        return Vec::new();
    }
    let w = (b / 100).max(3);
    let r3: Vec<f64> = (0..b)
        .map(|k| median(&c[k.saturating_sub(1)..(k + 2).min(b)]))
        .collect();
    let threshold = (0.1 * descent).max(6.0 * sigma);
    let mut drops = Vec::new();
    let mut k = 2 * w;
    while k + w <= b {
        if prepared.blocks.first_step[k] < after_step {
            k += 1;
            continue;
        }
        let before = median(&c[k - w..k]);
        let (bottom, low) = (k..k + w)
            .map(|j| (j, r3[j]))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .unwrap_or((k, r3[k]));
        let slope = sens_slope_xy(&prepared.blocks.steps[k - 2 * w..k], &c[k - 2 * w..k]);
        let gap = prepared.blocks.steps[bottom] - prepared.blocks.steps[k - 1 - w / 2];
        let predicted = before + slope.min(0.0) * gap;
        let below = predicted - low;
        let held = k < 4 * w || median(&c[k - 4 * w..k - w]) - low >= threshold;
        // The drop happens at `k` itself: the block there is already well below the level.
        if below >= threshold && held && before - c[k] >= 0.5 * below {
            drops.push(Drop {
                step: prepared.blocks.first_step[k],
                before,
                after: low,
                share_of_descent: below / descent,
            });
            k = bottom + w;
        } else {
            k += 1;
        }
    }
    drops
}

/// Median interval of regular drops ([`crate::stats::period::regular_period`] of their steps).
pub fn drop_period(drops: &[Drop]) -> Option<f64> {
    let steps: Vec<u64> = drops.iter().map(|d| d.step).collect();
    regular_period(&steps)
}

/// How the last quarter of the run behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ending {
    Plateau { p: f64, change: f64 },
    SlowDescent { p: f64, change: f64 },
    Other { p: f64, change: f64 },
}

/// The ending of the prepared loss over its last 25% of steps, with the overall descent for scale.
pub fn ending(prepared: &Prepared) -> Option<(Ending, u64, u64, f64)> {
    let b = prepared.cleaned.len();
    if b < 16 {
        return None;
    }
    let last = prepared.blocks.last_step[b - 1];
    let first = prepared.blocks.first_step[0];
    let from = last - (last - first) / 4;
    let k = prepared.blocks.first_at_or_after(from)?;
    if b - k < 8 {
        return None;
    }
    let tail = &prepared.cleaned[k..];
    let mk = hamed_rao_conservative(tail);
    let slope = sens_slope_xy(&prepared.blocks.steps[k..], tail);
    let change = slope * (last - prepared.blocks.first_step[k]) as f64;
    let (start, min) = smoothed_range(prepared);
    let descent = (start - min).max(f64::MIN_POSITIVE);
    let e = if mk.p >= 0.05 || change.abs() < 0.02 * descent {
        Ending::Plateau { p: mk.p, change }
    } else if mk.z < 0.0 && mk.p < 0.01 && -change >= 0.1 * descent {
        Ending::SlowDescent { p: mk.p, change }
    } else {
        Ending::Other { p: mk.p, change }
    };
    Some((e, prepared.blocks.first_step[k], last, descent))
}
