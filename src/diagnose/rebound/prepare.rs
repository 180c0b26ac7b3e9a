//! Step 1–2 of the rebound detector ([`super`]): a series's finite points reduced to block
//! medians, spikes replaced by a Hampel filter, and the zero-phase debiased EMA on top — the curve
//! the detector decides on and the reports draw.

use super::ReboundSettings;
use crate::model::{Series, StepAxis};
use crate::stats::blocks::{self, Blocks};
use crate::stats::smooth::{
    Tails, default_weight, ema_zero_phase, hampel, span_for_weight, weight_for_span,
};

/// The JEPA loss reduced and smoothed the way the detector sees it (also drawn by reports).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepared {
    pub blocks: Blocks,
    /// Block medians with spikes replaced (Hampel).
    pub cleaned: Vec<f64>,
    /// Indices of blocks the Hampel filter replaced.
    pub spikes: Vec<usize>,
    /// Zero-phase smoothed `cleaned`.
    pub smoothed: Vec<f64>,
    /// Smoothing time constant in blocks.
    pub span_blocks: f64,
}

impl Prepared {
    /// The smoothed curve as `(step, value)` pairs, one per block (steps as `f64` for drawing):
    /// the line the figure, the Markdown curve and `compare`'s overlay draw.
    pub fn smoothed_line(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.blocks
            .steps
            .iter()
            .copied()
            .zip(self.smoothed.iter().copied())
    }
}

/// Hampel threshold for spikes in the block series, in robust standard deviations.
pub const SPIKE_SIGMAS: f64 = 5.0;

/// Hampel half-window for `b` blocks: 1% of the series, at least 3.
pub fn hampel_half_window(b: usize) -> usize {
    (b / 100).max(3)
}

/// Fewest finite points worth analysing.
pub const MIN_POINTS: usize = 5;

/// Reduces, de-spikes and smooths a series's finite points.
pub fn prepare(series: &Series, axis: &StepAxis, settings: &ReboundSettings) -> Prepared {
    let n = series.finite_count();
    // The display curve: TensorBoard's EMA on the raw points, at the weight the user chose or
    // one time constant of 1% of the series.
    let display = settings.smoothing.unwrap_or_else(|| default_weight(n));
    let blocks = blocks::reduce(series.finite_points(axis), n, settings.max_blocks, display);
    let b = blocks.len();
    if b == 0 {
        return Prepared::default();
    }
    let span_points = match settings.smoothing {
        Some(w) => span_for_weight(w),
        None => (n as f64 / 80.0).max(1.0),
    };
    let per_block = n as f64 / b as f64;
    finish_prepare(blocks, (span_points / per_block).max(1.0))
}

/// [`prepare`] for a bare slice at full resolution (step = index), with the smoothing time
/// constant `span_blocks` given: the detector at the statistics level, for calibration.
pub fn prepare_values(values: &[f64], span_blocks: f64) -> Prepared {
    let n = values.len();
    let points = values.iter().enumerate().map(|(i, v)| (i as u64, *v));
    let blocks = blocks::reduce(points, n, n.max(1), 0.0);
    if blocks.is_empty() {
        return Prepared::default();
    }
    finish_prepare(blocks, span_blocks.max(1.0))
}

fn finish_prepare(blocks: Blocks, span_blocks: f64) -> Prepared {
    let b = blocks.len();
    let h = hampel(
        &blocks.medians,
        hampel_half_window(b),
        SPIKE_SIGMAS,
        Tails::Upper,
    );
    let smoothed = ema_zero_phase(&h.filtered, weight_for_span(span_blocks));
    Prepared {
        blocks,
        cleaned: h.filtered,
        spikes: h.outliers,
        smoothed,
        span_blocks,
    }
}
