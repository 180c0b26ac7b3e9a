//! `--plot FILE.png|.svg`: the loss report as a figure (DESIGN §8), drawn with plotters and the
//! DejaVu Sans font embedded in the binary (no system fonts needed).
//!
//! Panel 1: the JEPA loss, raw (thin, light) and smoothed (thick: the analysis's zero-phase curve,
//! the numbers the text reports; a series not analysed gets TensorBoard's debiased EMA); the
//! minimum marked and labelled, the rebound span shaded with its magnitude and p-value in the
//! legend, changepoints as dashed lines, spikes marked (at the top edge when off the scale),
//! warmup shaded; epochs on a secondary axis when known; a log y axis when the loss spans decades.
//! Panel 2: the regularization series with its trend over the rebound span. Panel 3: the learning
//! rate (logged, or rebuilt from the config when not logged) and the grad norms.
//! Long series are decimated per pixel column ([`super::decimate`]); the analysis is untouched.
//! The file is written to a temporary sibling and renamed, so a failed render leaves nothing.

use std::io;
use std::path::Path;
use std::sync::Once;

use plotters::chart::SeriesLabelStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::decimate::Columns;
use super::plot_layout::{Legend, clipped, non_finite_marks};
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Verdict;
use crate::diagnose::rebound::Prepared;
use crate::fmt;
use crate::model::{Role, Run, Series};
use crate::stats::smooth::{DebiasedEma, default_weight};

/// Size and smoothing of the figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotOptions {
    pub width: u32,
    pub height: u32,
    /// EMA weight of the drawn smoothed line (`--smoothing`); `None` chooses from the length.
    pub smoothing: Option<f64>,
    /// `--log-y`: logarithmic y axes for the loss and regularization panels (else only when a
    /// positive series spans more than a factor 30).
    pub log_y: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            width: 1600,
            height: 1000,
            smoothing: None,
            log_y: false,
        }
    }
}

/// The image format, from the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Png,
    Svg,
}

impl PlotFormat {
    pub fn from_path(path: &Path) -> Option<PlotFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(PlotFormat::Png),
            "svg" => Some(PlotFormat::Svg),
            _ => None,
        }
    }
}

static FONTS: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' "sans-serif" (once).
fn register_fonts() {
    FONTS.call_once(|| {
        // The bytes are a valid font shipped by the dejavu crate; a failure would only mean
        // falling back to plotters' error on the first text, reported as a render error.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// A figure that can be drawn on any plotters backend (the loss report, the `compare` overlay).
pub trait Figure {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on `root` (PNG and SVG alike).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Renders `figure` to `path` (PNG or SVG by extension), atomically, with the embedded font.
pub fn write_figure(path: &Path, figure: &impl Figure) -> io::Result<()> {
    register_fonts();
    let format = PlotFormat::from_path(path)
        .ok_or_else(|| io::Error::other("the plot file must end in .png or .svg"))?;
    let (w, h) = figure.size();
    match format {
        PlotFormat::Png => {
            let mut pixels = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
                figure
                    .draw(&root)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                root.present()
                    .map_err(|e| io::Error::other(e.to_string()))?;
            }
            super::output::write_file(path, |out| {
                super::png_encode::encode_rgb8(out, &pixels, w, h)
            })
        }
        PlotFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                figure
                    .draw(&root)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                root.present()
                    .map_err(|e| io::Error::other(e.to_string()))?;
            }
            super::output::write_file(path, |out| out.write_all(svg.as_bytes()))
        }
    }
}

/// The loss report of one run.
struct Report<'a> {
    run: &'a Run,
    diagnosis: &'a Diagnosis,
    opts: PlotOptions,
}

impl Figure for Report<'_> {
    fn size(&self) -> (u32, u32) {
        (self.opts.width, self.opts.height)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw(root, self.run, self.diagnosis, self.opts)
    }
}

/// Renders the loss report to `path` (PNG or SVG by extension), atomically.
pub fn write(path: &Path, run: &Run, d: &Diagnosis, opts: PlotOptions) -> io::Result<()> {
    write_figure(
        path,
        &Report {
            run,
            diagnosis: d,
            opts,
        },
    )
}

/// What drawing on a backend returns.
pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

const BLUE_RAW: RGBColor = RGBColor(150, 180, 225);
const BLUE: RGBColor = RGBColor(25, 70, 160);
const GREEN_RAW: RGBColor = RGBColor(160, 205, 170);
const GREEN: RGBColor = RGBColor(30, 120, 60);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const CRIMSON: RGBColor = RGBColor(200, 30, 40);
const PURPLE: RGBColor = RGBColor(110, 60, 160);
const BROWN: RGBColor = RGBColor(150, 110, 80);
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);

/// A series prepared for drawing: decimated raw envelope and smoothed line, and a robust y range.
struct Curve {
    name: String,
    raw: Vec<(f64, f64)>,
    smooth: Vec<(f64, f64)>,
    lo: f64,
    hi: f64,
}

/// The curve of an analysed series from its blocks (min/max envelope and the analysis's smoothed
/// curve at the block centres) — no second pass over millions of points — when the analysis kept
/// at least as much resolution as a figure shows (1000 blocks, or every point of a shorter series).
fn curve_from_blocks(name: &str, p: &Prepared) -> Option<Curve> {
    let b = &p.blocks;
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
        analysed_smooth(p),
        &b.mins,
        &b.maxs,
    ))
}

/// The smoothed line of an analysed series: the detector's de-spiked zero-phase curve, so the
/// figure shows the very numbers the text and JSON report (start, minimum, end).
fn analysed_smooth(p: &Prepared) -> Vec<(f64, f64)> {
    p.blocks
        .steps
        .iter()
        .copied()
        .zip(p.smoothed.iter().copied())
        .collect()
}

/// The curve of a series by one pass over its points (decimated per pixel column); the smoothed
/// line is the analysis's when the series was analysed.
fn curve(
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
fn finish_curve(
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
            return fmt::tick(v);
        }
        if self.hi - self.lo < 2.0 {
            let x = 10f64.powf(v);
            let digits = 10f64.powi(x.log10().floor() as i32 - 1);
            return fmt::tick((x / digits).round() * digits);
        }
        if (v - v.round()).abs() > 1e-6 {
            return String::new();
        }
        let x = 10f64.powi(v.round() as i32);
        fmt::tick(x)
    }
    pub(crate) fn clamp(&self, y: f64) -> f64 {
        y.clamp(self.lo, self.hi)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &Run,
    d: &Diagnosis,
    opts: PlotOptions,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (w, h) = (opts.width as f64, opts.height as f64);
    let font = (h / 55.0).clamp(11.0, 28.0);
    let (Some(first), Some(last)) = (run.steps.first(), run.steps.last()) else {
        return Ok(());
    };
    let x = (first as f64, (last as f64).max(first as f64 + 1.0));
    let columns = (w as usize).clamp(100, 4000);

    let title_h = (font * 5.0) as u32;
    let (title, body) = root.split_vertically(title_h);
    draw_title(&title, d, font, w)?;

    let analysed = |series: Option<&Series>, prepared: Option<&Prepared>| {
        let series = series?;
        prepared
            .and_then(|p| curve_from_blocks(&series.name, p))
            .or_else(|| curve(series, run, x, columns, opts.smoothing, prepared))
    };
    let jepa = analysed(crate::diagnose::jepa_series(run), d.jepa.as_ref());
    let reg = analysed(crate::diagnose::reg_series(run), d.reg.as_ref());
    let has_lr_panel = run.first_with_role(Role::Lr).is_some()
        || run.first_with_role(Role::GradNorm).is_some()
        || d.schedule.is_some();
    let body_h = body.dim_in_pixel().1 as f64;
    let mut shares = vec![1.0];
    if reg.is_some() {
        shares.push(0.45);
    }
    if has_lr_panel {
        shares.push(0.4);
    }
    let total: f64 = shares.iter().sum();
    let mut rest = body;
    let mut panels = Vec::new();
    for (i, s) in shares.iter().enumerate() {
        if i + 1 == shares.len() {
            panels.push(rest.clone());
        } else {
            let (top, bottom) = rest.split_vertically((body_h * s / total) as u32);
            panels.push(top);
            rest = bottom;
        }
    }
    let mut it = panels.into_iter();
    if let (Some(area), Some(c)) = (it.next(), &jepa) {
        draw_loss(&area, run, d, c, x, font, opts.log_y)?;
    }
    if let Some(c) = &reg
        && let Some(area) = it.next()
    {
        draw_reg(&area, run, d, c, x, font, opts.log_y)?;
    }
    if has_lr_panel && let Some(area) = it.next() {
        draw_lr(&area, run, d, x, columns, font)?;
    }
    Ok(())
}

fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    d: &Diagnosis,
    font: f64,
    width: f64,
) -> DrawResult<DB> {
    let color = match d.verdict {
        Verdict::Healthy => GREEN,
        Verdict::InsufficientData => BLUE,
        Verdict::Stalled | Verdict::Rebound | Verdict::Unstable => ORANGE,
        Verdict::Collapse | Verdict::Diverged => RED,
    };
    let head = format!("jepa-doctor · {}", d.verdict.as_str());
    area.draw(&Text::new(
        head,
        // A margin of about one line of text above the title, as on the other edges.
        (16, (font * 0.8) as i32),
        ("sans-serif", font * 1.35)
            .into_font()
            .style(FontStyle::Bold)
            .color(&color),
    ))?;
    let max_chars = (width / (font * 0.56)) as usize;
    for (i, line) in wrap(&d.headline, max_chars, 2).iter().enumerate() {
        let y = (font * (2.6 + 1.2 * i as f64)) as i32;
        area.draw(&Text::new(
            line.as_str(),
            (16, y),
            ("sans-serif", font).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

/// Word-wraps `text` into at most `lines` lines of `width` characters, with an ellipsis when cut.
fn wrap(text: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        out.push(current);
    }
    if out.len() > lines {
        out.truncate(lines);
        let last = &mut out[lines - 1];
        let keep: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = keep + "…";
    }
    out
}

fn draw_loss<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &Run,
    d: &Diagnosis,
    c: &Curve,
    x: (f64, f64),
    font: f64,
    log_y: bool,
) -> DrawResult<DB> {
    let y = YAxis::with_log(c.lo, c.hi, log_y);
    let mut legend = Legend::default();
    let ipe = run.ipe().or(d.schedule.as_ref().map(|s| s.ipe));
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size((font * 1.6) as u32)
        .top_x_label_area_size(if ipe.is_some() {
            (font * 1.6) as u32
        } else {
            0
        })
        .y_label_area_size((font * 4.0) as u32)
        .build_cartesian_2d(x.0..x.1, y.lo..y.hi)?
        .set_secondary_coord(x.0..x.1, y.lo..y.hi);
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .y_desc(if y.log {
            format!("{} (log)", c.name)
        } else {
            c.name.clone()
        })
        .y_label_formatter(&|v| y.label(*v))
        .x_label_formatter(&|v| fmt::tick(*v))
        .label_style(("sans-serif", font * 0.8))
        .axis_desc_style(("sans-serif", font * 0.85))
        .draw()?;
    if let Some(ipe) = ipe {
        let per = ipe as f64;
        chart
            .configure_secondary_axes()
            .x_label_formatter(&|v| format!("epoch {}", fmt::value((*v / per).floor() + 1.0)))
            .label_style(("sans-serif", font * 0.75))
            .axis_desc_style(("sans-serif", font * 0.8))
            .draw()?;
    }
    let r = &d.rebound;
    // Warmup, shaded.
    if let Some(w) = r.warmup.filter(|w| w.end_step as f64 > x.0) {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x.0, y.lo), (w.end_step as f64, y.hi)],
                GREY.mix(0.08).filled(),
            )))?
            .label(legend.label("warmup"))
            .legend(|(a, b)| {
                Rectangle::new([(a, b - 5), (a + 16, b + 5)], GREY.mix(0.25).filled())
            });
    }
    // Rebound span, shaded.
    if r.detected
        && let (Some(from), Some(to)) = (r.min_step, r.last_step)
    {
        let label = format!(
            "rebound: +{} of the descent ({})",
            fmt::percent(r.magnitude.unwrap_or(0.0)),
            fmt::p_eq(r.p_value.unwrap_or(1.0))
        );
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(from as f64, y.lo), (to as f64, y.hi)],
                ORANGE.mix(0.12).filled(),
            )))?
            .label(legend.label(label))
            .legend(|(a, b)| {
                Rectangle::new([(a, b - 5), (a + 16, b + 5)], ORANGE.mix(0.4).filled())
            });
    }
    shade_transient_collapses(&mut chart, d, &y, &mut legend)?;
    // Changepoints.
    let mut labelled = false;
    for cp in d.changepoints.iter().filter(|cp| cp.series == c.name) {
        let s = cp.step as f64;
        let series = chart.draw_series(DashedLineSeries::new(
            vec![(s, y.lo), (s, y.hi)],
            6,
            5,
            GREY.mix(0.7).stroke_width(1),
        ))?;
        if !labelled {
            series
                .label(legend.label("changepoints (PELT)"))
                .legend(legend_line(GREY.stroke_width(1)));
            labelled = true;
        }
    }
    draw_curve_lines(&mut chart, c, &y, BLUE_RAW, BLUE, &mut legend, x)?;
    if let Some(series) = crate::diagnose::jepa_series(run) {
        draw_non_finite(&mut chart, series, run, x, (y.lo, y.hi), font, &mut legend)?;
    }
    // Spikes: at their value, or pinned to the top edge when off the scale.
    if let Some(spikes) = &d.spikes
        && !spikes.events.is_empty()
    {
        let marks: Vec<(f64, f64, f64)> = spikes
            .events
            .iter()
            .map(|e| (e.peak_step as f64, y.map(e.peak_value), e.peak_value))
            .collect();
        chart
            .draw_series(marks.iter().map(|(s, v, _)| {
                TriangleMarker::new((*s, y.clamp(*v)), (font * 0.45) as i32, RED.filled())
            }))?
            .label(legend.label(format!("spikes ({})", marks.len())))
            .legend(|(a, b)| TriangleMarker::new((a + 8, b), 5, RED.filled()));
        let mut off_scale: Vec<&(f64, f64, f64)> =
            marks.iter().filter(|(_, v, _)| *v > y.hi).collect();
        off_scale.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut shown: Vec<&(f64, f64, f64)> = Vec::new();
        for m in off_scale {
            if shown.len() < 4 && shown.iter().all(|s| (s.0 - m.0).abs() > 0.06 * (x.1 - x.0)) {
                shown.push(m);
            }
        }
        for (s, v, _) in &marks {
            legend.point(*s, y.clamp(*v), x, (y.lo, y.hi));
        }
        // Beside the marker, not on it.
        let dx = (font * 0.45) as i32 + 3;
        chart.draw_series(shown.into_iter().map(|(s, _, raw)| {
            EmptyElement::at((*s, y.hi))
                + Text::new(
                    format!("↑{}", fmt::value(*raw)),
                    (dx, 2),
                    ("sans-serif", font * 0.7)
                        .into_font()
                        .color(&RED)
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                )
        }))?;
    }
    // The minimum, marked and labelled.
    if let (Some(step), Some(value)) = (r.min_step, r.min_value) {
        let point = (step as f64, y.map(value));
        let radius = (font * 0.4) as i32;
        let label = format!("min {} @ step {step}", fmt::value(value));
        // Below the curve, left of the marker when it sits in the right half.
        let right_half = step as f64 > (x.0 + x.1) / 2.0;
        let anchor = if right_half { HPos::Right } else { HPos::Left };
        let dx = if right_half { -radius - 4 } else { radius + 4 };
        let style = ("sans-serif", font * 0.85)
            .into_font()
            .color(&RED)
            .pos(Pos::new(anchor, VPos::Top));
        // The marker and its label, for the legend's placement.
        let label_span = (x.1 - x.0) * 0.2 * if right_half { -1.0 } else { 1.0 };
        for i in 0..=10 {
            let sx = step as f64 + label_span * f64::from(i) / 10.0;
            legend.point(sx, point.1 - (y.hi - y.lo) * 0.05, x, (y.lo, y.hi));
        }
        chart.draw_series(std::iter::once(
            EmptyElement::at(point)
                + Circle::new((0, 0), radius, RED.filled())
                + Text::new(label, (dx, radius + 2), style),
        ))?;
    }
    let place = legend.place(font * 0.75, chart.plotting_area().dim_in_pixel());
    draw_legend(chart.configure_series_labels(), place, font)?;
    Ok(())
}

/// A legend entry drawn as a short line in `style`.
pub(crate) fn legend_line(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(a, b)| PathElement::new(vec![(a, b), (a + 16, b)], style)
}

/// The legend box every panel uses, at `position`.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    mut labels: SeriesLabelStyle<'a, '_, DB, CT>,
    position: SeriesLabelPosition,
    font: f64,
) -> DrawResult<DB> {
    labels
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", font * 0.75))
        .draw()
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A curve's raw envelope (clamped to the axis) and smoothed line, with their legend entries.
fn draw_curve_lines<DB: DrawingBackend>(
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

/// Each transient collapse of the monitor, shaded from its first step to its recovery.
fn shade_transient_collapses<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    d: &Diagnosis,
    y: &YAxis,
    legend: &mut Legend,
) -> DrawResult<DB> {
    for (i, e) in d.transient_collapses.iter().enumerate() {
        let to = e.recovered_step.unwrap_or(e.last_step) as f64;
        let series = chart.draw_series(std::iter::once(Rectangle::new(
            [(e.first_step as f64, y.lo), (to, y.hi)],
            CRIMSON.mix(0.12).filled(),
        )))?;
        if i == 0 {
            series
                .label(legend.label(format!(
                    "transient collapse (peak {} at step {}), recovered at step {}",
                    fmt::value(e.peak_value),
                    e.peak_step,
                    to
                )))
                .legend(|(a, b)| {
                    Rectangle::new([(a, b - 5), (a + 16, b + 5)], CRIMSON.mix(0.4).filled())
                });
        }
    }
    Ok(())
}

/// Steps where `series` is NaN or infinite, marked `×` along the bottom edge of the panel (at
/// most one mark per 0.2% of the x range), with a legend entry counting them.
fn draw_non_finite<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    series: &Series,
    run: &Run,
    x: (f64, f64),
    y: (f64, f64),
    font: f64,
    legend: &mut Legend,
) -> DrawResult<DB> {
    let (marks, count) = non_finite_marks(series, run, x);
    if marks.is_empty() {
        return Ok(());
    }
    let at = y.0 + (y.1 - y.0) * 0.03;
    for m in &marks {
        legend.point(*m, at, x, y);
    }
    let size = (font * 0.4) as i32;
    chart
        .draw_series(
            marks
                .into_iter()
                .map(|s| Cross::new((s, at), size, RED.stroke_width(2))),
        )?
        .label(legend.label(format!("{}: {count} non-finite (nan/inf)", series.name)))
        .legend(move |(a, b)| Cross::new((a + 8, b), 5, RED.stroke_width(2)));
    Ok(())
}

fn draw_reg<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &Run,
    d: &Diagnosis,
    c: &Curve,
    x: (f64, f64),
    font: f64,
    log_y: bool,
) -> DrawResult<DB> {
    let y = YAxis::with_log(c.lo, c.hi, log_y);
    let mut legend = Legend::default();
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size((font * 1.6) as u32)
        .y_label_area_size((font * 4.0) as u32)
        .build_cartesian_2d(x.0..x.1, y.lo..y.hi)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .y_desc(c.name.clone())
        .y_label_formatter(&|v| y.label(*v))
        .x_label_formatter(&|v| fmt::tick(*v))
        .label_style(("sans-serif", font * 0.8))
        .axis_desc_style(("sans-serif", font * 0.85))
        .draw()?;
    for cp in d.changepoints.iter().filter(|cp| cp.series == c.name) {
        let s = cp.step as f64;
        chart.draw_series(DashedLineSeries::new(
            vec![(s, y.lo), (s, y.hi)],
            6,
            5,
            GREY.mix(0.6).stroke_width(1),
        ))?;
    }
    shade_transient_collapses(&mut chart, d, &y, &mut legend)?;
    draw_curve_lines(&mut chart, c, &y, GREEN_RAW, GREEN, &mut legend, x)?;
    if let Some(series) = run.series_named(&c.name) {
        draw_non_finite(&mut chart, series, run, x, (y.lo, y.hi), font, &mut legend)?;
    }
    // Its trend over the span after the JEPA minimum (Sen's slope through the median point); no
    // line across a burst to collapse and back, which no single trend describes.
    let r = &d.rebound;
    if let (Some(detail), Some(from), Some(to)) = (&r.reg, r.min_step, r.last_step)
        && r.reg_trend_after_min != crate::diagnose::rebound::RegTrend::Burst
    {
        let span: Vec<&(f64, f64)> = c
            .smooth
            .iter()
            .filter(|(s, _)| *s >= from as f64 && *s <= to as f64)
            .collect();
        if !span.is_empty() {
            let mid = span.iter().map(|(_, v)| *v).sum::<f64>() / span.len() as f64;
            let centre = (from + to) as f64 / 2.0;
            let slope = detail.change / (to - from).max(1) as f64;
            let a = (from as f64, y.map(mid + slope * (from as f64 - centre)));
            let b = (to as f64, y.map(mid + slope * (to as f64 - centre)));
            legend.line(&[a, b], x, (y.lo, y.hi));
            chart
                .draw_series(DashedLineSeries::new(
                    vec![a, b],
                    10,
                    6,
                    ORANGE.stroke_width(3),
                ))?
                .label(legend.label(format!(
                    "after the JEPA minimum: {} ({}, {})",
                    r.reg_trend_after_min.as_str(),
                    fmt::signed(detail.change),
                    fmt::p_eq(detail.p_value)
                )))
                .legend(legend_line(ORANGE.stroke_width(3)));
        }
    }
    let place = legend.place(font * 0.75, chart.plotting_area().dim_in_pixel());
    draw_legend(chart.configure_series_labels(), place, font)?;
    Ok(())
}

fn draw_lr<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    run: &Run,
    d: &Diagnosis,
    x: (f64, f64),
    columns: usize,
    font: f64,
) -> DrawResult<DB> {
    // The LR as logged, else rebuilt from the config.
    let (lr, rebuilt): (Vec<(f64, f64)>, bool) = match run.first_with_role(Role::Lr) {
        Some(s) => {
            let mut c = Columns::new(x.0, x.1, columns);
            for (step, v) in s.finite_points(&run.steps) {
                c.push(step as f64, v);
            }
            (c.means(), false)
        }
        None => match &d.schedule {
            Some(sched) => {
                let n = columns as u64;
                let pts = (0..=n)
                    .map(|i| x.0 + (x.1 - x.0) * i as f64 / n as f64)
                    .map(|s| (s, sched.lr_at(s as u64)))
                    .collect();
                (pts, true)
            }
            None => (Vec::new(), false),
        },
    };
    // Grad norms as their per-column envelope, so a single exploding step stays visible.
    let grads: Vec<(&Series, Vec<(f64, f64)>)> = run
        .series
        .iter()
        .filter(|s| s.role == Role::GradNorm)
        .map(|s| {
            let mut c = Columns::new(x.0, x.1, columns);
            for (step, v) in s.finite_points(&run.steps) {
                c.push(step as f64, v);
            }
            (s, c.envelope())
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let lr_hi = lr
        .iter()
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    // Grad norms: a robust top (99th percentile of the drawn values) so one explosion does not
    // flatten the rest; what is above is clipped at the top.
    let mut g_values: Vec<f64> = grads
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .collect();
    g_values.sort_by(f64::total_cmp);
    let g_hi = g_values
        .get(((g_values.len().max(1) - 1) as f64 * 0.99) as usize)
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE)
        * 1.2;
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size((font * 2.2) as u32)
        .y_label_area_size((font * 4.0) as u32)
        .right_y_label_area_size(if grads.is_empty() {
            0
        } else {
            (font * 4.0) as u32
        })
        .build_cartesian_2d(x.0..x.1, 0.0..lr_hi * 1.1)?
        .set_secondary_coord(x.0..x.1, 0.0..g_hi);
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .x_desc("step")
        .y_desc(if lr.is_empty() {
            "LR not logged"
        } else {
            "learning rate"
        })
        .y_labels(if lr.is_empty() { 0 } else { 10 })
        .y_label_formatter(&|v| fmt::sci(*v))
        .x_label_formatter(&|v| fmt::tick(*v))
        .label_style(("sans-serif", font * 0.8))
        .axis_desc_style(("sans-serif", font * 0.85))
        .draw()?;
    if !grads.is_empty() {
        chart
            .configure_secondary_axes()
            .y_desc("grad norm")
            .y_label_formatter(&|v| fmt::tick(*v))
            .label_style(("sans-serif", font * 0.8))
            .axis_desc_style(("sans-serif", font * 0.85))
            .draw()?;
    }
    let mut legend = Legend::default();
    let lr_range = (0.0, lr_hi * 1.1);
    legend.line(&lr, x, lr_range);
    if !lr.is_empty() {
        let label = legend.label(if rebuilt {
            "learning rate (rebuilt from the config)"
        } else {
            "learning rate (logged)"
        });
        if rebuilt {
            chart
                .draw_series(DashedLineSeries::new(lr, 8, 5, PURPLE.stroke_width(2)))?
                .label(label)
                .legend(legend_line(PURPLE.stroke_width(2)));
        } else {
            chart
                .draw_series(LineSeries::new(lr, PURPLE.stroke_width(2)))?
                .label(label)
                .legend(legend_line(PURPLE.stroke_width(2)));
        }
    }
    let g_range = (0.0, g_hi);
    for (i, (series, points)) in grads.into_iter().enumerate() {
        let color = if i == 0 { BROWN } else { GREY };
        let on_axis: Vec<(f64, f64)> = points.iter().map(|(s, v)| (*s, v.min(g_hi))).collect();
        legend.line(&on_axis, x, g_range);
        let size = (font * 0.4) as i32;
        let over = clipped(&points, g_hi, x);
        let (nan_marks, nan_count) = non_finite_marks(series, run, x);
        // One legend entry per series, naming its marks: a panel this low has no room for more.
        let mut label = series.name.clone();
        if let Some(c) = &over {
            label.push_str(&format!(
                " — ▲ {} above the axis (max {})",
                c.count,
                fmt::tick(c.max.1)
            ));
        }
        if nan_count > 0 {
            label.push_str(&format!(
                "{} × {nan_count} nan/inf",
                if over.is_some() { "," } else { " —" }
            ));
        }
        chart
            .draw_secondary_series(LineSeries::new(on_axis, color.stroke_width(1)))?
            .label(legend.label(label))
            .legend(legend_line(color.stroke_width(2)));
        if let Some(c) = over {
            for m in &c.marks {
                legend.point(*m, g_hi, x, g_range);
            }
            chart.draw_secondary_series(
                c.marks
                    .iter()
                    .map(|s| TriangleMarker::new((*s, g_hi), size, color.filled())),
            )?;
            // The largest value next to its mark; a second series' label one line lower.
            let right_half = c.max.0 > (x.0 + x.1) / 2.0;
            let (anchor, dx) = if right_half {
                (HPos::Right, -size - 2)
            } else {
                (HPos::Left, size + 2)
            };
            let dy = 2 + i as i32 * (font * 0.8) as i32;
            chart.draw_secondary_series(std::iter::once(
                EmptyElement::at((c.max.0, g_hi))
                    + Text::new(
                        format!("↑{}", fmt::tick(c.max.1)),
                        (dx, dy),
                        ("sans-serif", font * 0.7)
                            .into_font()
                            .color(&color)
                            .pos(Pos::new(anchor, VPos::Top)),
                    ),
            ))?;
        }
        if !nan_marks.is_empty() {
            let at = g_hi * 0.03;
            for m in &nan_marks {
                legend.point(*m, at, x, g_range);
            }
            chart.draw_secondary_series(
                nan_marks
                    .into_iter()
                    .map(|s| Cross::new((s, at), size, RED.stroke_width(2))),
            )?;
        }
    }
    let place = legend.place(font * 0.75, chart.plotting_area().dim_in_pixel());
    draw_legend(chart.configure_series_labels(), place, font)?;
    Ok(())
}
