//! A series made ready to draw: decimated per pixel column (or read from the analysis blocks)
//! into a raw min/max envelope and the smoothed line, with a y range robust to spikes; and the
//! drawing of that pair on a panel.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::DrawResult;
use super::axes::YAxis;
use super::legend::legend_line;
use crate::diagnose::rebound::Prepared;
use crate::model::{Run, Series};
use crate::report::decimate::Columns;
use crate::report::plot_layout::Legend;
use crate::stats::smooth::{DebiasedEma, default_weight};

/// A series prepared for drawing: decimated raw envelope and smoothed line, and a robust y range.
pub(super) struct Curve {
    pub(super) name: String,
    pub(super) raw: Vec<(f64, f64)>,
    pub(super) smooth: Vec<(f64, f64)>,
    pub(super) lo: f64,
    pub(super) hi: f64,
}

/// The curve of an analysed series from its blocks (min/max envelope and the analysis's smoothed
/// curve at the block centres) — no second pass over millions of points — when the analysis kept
/// at least as much resolution as a figure shows (1000 blocks, or every point of a shorter series).
pub(super) fn curve_from_blocks(name: &str, prepared: &Prepared) -> Option<Curve> {
    let b = &prepared.blocks;
    if b.is_empty() || b.len() < b.points.min(1000) {
        return None;
    }
    let mut raw = Vec::with_capacity(2 * b.len());
    for i in 0..b.len() {
        raw.push((b.steps[i], b.mins[i]));
        if b.maxs[i] != b.mins[i] {
            raw.push((b.steps[i], b.maxs[i]));
        }
    }
    Some(finish_curve(
        name,
        raw,
        analysed_smooth(prepared),
        &b.mins,
        &b.maxs,
    ))
}

/// The smoothed line of an analysed series: the detector's de-spiked zero-phase curve, so the
/// figure shows the very numbers the text and JSON report (start, minimum, end).
pub(super) fn analysed_smooth(prepared: &Prepared) -> Vec<(f64, f64)> {
    prepared.smoothed_line().collect()
}

/// The curve of a series by one pass over its points (decimated per pixel column); the smoothed
/// line is the analysis's when the series was analysed.
pub(super) fn curve(
    series: &Series,
    run: &Run,
    x: (f64, f64),
    columns: usize,
    smoothing: Option<f64>,
    prepared: Option<&Prepared>,
) -> Option<Curve> {
    let n = series.finite_count();
    if n == 0 {
        return None;
    }
    let weight = smoothing.unwrap_or_else(|| default_weight(n));
    let mut raw = Columns::new(x.0, x.1, columns);
    let mut smooth = Columns::new(x.0, x.1, columns);
    let mut ema = DebiasedEma::new(weight);
    for (step, v) in series.finite_points(&run.steps) {
        let s = step as f64;
        raw.push(s, v);
        smooth.push(s, ema.push(v));
    }
    let (mins, maxs) = raw.extremes();
    let smooth = prepared.map_or_else(|| smooth.means(), analysed_smooth);
    Some(finish_curve(
        &series.name,
        raw.envelope(),
        smooth,
        &mins,
        &maxs,
    ))
}

/// A curve with a robust y range: from the 0.5% quantile of the lows to the 99% quantile of the
/// highs (so one spike does not flatten the rest), always including the smoothed line.
pub(super) fn finish_curve(
    name: &str,
    raw: Vec<(f64, f64)>,
    smooth: Vec<(f64, f64)>,
    mins: &[f64],
    maxs: &[f64],
) -> Curve {
    let q = |v: &[f64], f: f64| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * f).round() as usize]
    };
    let smooth_hi = smooth.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let smooth_lo = smooth.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let lo = q(mins, 0.005).min(smooth_lo);
    let hi = q(maxs, 0.99).max(smooth_hi);
    Curve {
        name: name.to_string(),
        raw,
        smooth,
        lo,
        hi,
    }
}

pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A curve's raw envelope (clamped to the axis) and smoothed line, with their legend entries.
pub(super) fn draw_curve_lines<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    c: &Curve,
    y: &YAxis,
    raw: RGBColor,
    smooth: RGBColor,
    legend: &mut Legend,
    x: (f64, f64),
) -> DrawResult<DB> {
    let raw_points: Vec<(f64, f64)> = c
        .raw
        .iter()
        .map(|(s, v)| (*s, y.clamp(y.map(*v))))
        .collect();
    let smooth_points: Vec<(f64, f64)> = c.smooth.iter().map(|(s, v)| (*s, y.map(*v))).collect();
    legend.line(&raw_points, x, (y.lo, y.hi));
    legend.line(&smooth_points, x, (y.lo, y.hi));
    chart
        .draw_series(LineSeries::new(raw_points, raw.stroke_width(1)))?
        .label(legend.label(format!("{} (raw)", c.name)))
        .legend(legend_line(raw.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(smooth_points, smooth.stroke_width(3)))?
        .label(legend.label(format!("{} (smoothed)", c.name)))
        .legend(legend_line(smooth.stroke_width(3)));
    Ok(())
}
