//! The y axes of the figure: linear or log10 (when positive values span more than a factor 30,
//! or `--log-y`), padded, with tick labels that stay readable on either.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::DrawResult;
use crate::human;

/// A panel's grid and axis labels, the same in every panel: faint major lines, steps as ticks,
/// `y` labelled as the axis maps them, `y_desc` beside the axis. Sizes follow `font` (pixels).
pub(super) fn draw_mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    y: &YAxis,
    y_desc: String,
    font: f64,
) -> DrawResult<DB> {
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .y_desc(y_desc)
        .y_label_formatter(&|v| y.label(*v))
        .x_label_formatter(&|v| human::tick(*v))
        .label_style(("sans-serif", font * 0.8))
        .axis_desc_style(("sans-serif", font * 0.85))
        .draw()
}

/// Maps y values to the axis: log10 when the axis is logarithmic.
#[derive(Clone, Copy)]
pub(crate) struct YAxis {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
}

impl YAxis {
    pub(crate) fn new(lo: f64, hi: f64) -> YAxis {
        YAxis::with_log(lo, hi, false)
    }
    /// `force_log` (`--log-y`): logarithmic whenever the values are positive.
    pub(crate) fn with_log(lo: f64, hi: f64, force_log: bool) -> YAxis {
        let log = lo > 0.0 && (force_log || hi / lo > 30.0);
        let (lo, hi) = if log {
            (lo.log10(), hi.log10())
        } else {
            (lo, hi)
        };
        let pad = ((hi - lo) * 0.06).max(1e-12);
        YAxis {
            log,
            lo: lo - pad,
            hi: hi + pad,
        }
    }
    pub(crate) fn map(&self, y: f64) -> f64 {
        if self.log {
            y.max(f64::MIN_POSITIVE).log10()
        } else {
            y
        }
    }
    /// Tick label: on a log axis spanning two decades or more only whole decades are labelled
    /// (`1e-3`, `0.01`, `0.1`, `1`); on a narrower one every tick, to two significant digits.
    pub(crate) fn label(&self, v: f64) -> String {
        if !self.log {
            return human::tick(v);
        }
        if self.hi - self.lo < 2.0 {
            let x = 10f64.powf(v);
            let digits = 10f64.powi(x.log10().floor() as i32 - 1);
            return human::tick((x / digits).round() * digits);
        }
        if (v - v.round()).abs() > 1e-6 {
            return String::new();
        }
        let x = 10f64.powi(v.round() as i32);
        human::tick(x)
    }
    pub(crate) fn clamp(&self, y: f64) -> f64 {
        y.clamp(self.lo, self.hi)
    }
}
