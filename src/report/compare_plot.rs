//! `compare --plot FILE.png|.svg`: every run's smoothed JEPA loss on one axis, and below it each
//! run's regularization / collapse monitor when logged (issue 15).
//!
//! One colour per run (Tableau 10 up to ten runs; beyond, evenly spaced hues alternating two
//! lightnesses, so 30 runs stay distinguishable), the minimum of each run marked with a dot, the
//! part after the minimum of a *detected* rebound drawn thick and dashed, and a legend of run name
//! and verdict in its own column to the right of the data (rank order). The y axis is logarithmic
//! when the runs span more than a factor 30 (a collapsed run next to healthy ones). The x axis is
//! the global step, the epoch, or the progress through each run (`--x`). Curves are the
//! detector's smoothed block medians (at most `--max-blocks` points: already decimated);
//! fonts, PNG/SVG output and the temp-file-and-rename write are [`super::plot`]'s.

use std::io;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::output::PlotOptions;
use super::plot::{DrawResult, Figure, GREY, YAxis, write_figure};
use crate::cli::XAxis;
use crate::compare::Comparison;
use crate::compare::row::RunRow;
use crate::human;

/// The overlay figure of a comparison.
pub struct CompareFigure<'a> {
    pub comparison: &'a Comparison,
    pub x: XAxis,
    pub opts: PlotOptions,
}

impl CompareFigure<'_> {
    /// Renders to `path` (PNG or SVG by extension), atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_figure(path, self)
    }
}

/// Tableau 10.
const TABLEAU: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// `n` distinguishable colours.
pub fn palette(n: usize) -> Vec<RGBColor> {
    if n <= TABLEAU.len() {
        return TABLEAU[..n].to_vec();
    }
    (0..n)
        .map(|i| {
            let hue = i as f64 / n as f64;
            let light = if i % 2 == 0 { 0.38 } else { 0.55 };
            let c = HSLColor(hue, 0.75, light).to_backend_color().rgb;
            RGBColor(c.0, c.1, c.2)
        })
        .collect()
}

/// One run as drawn: its points on the chosen x axis.
struct Drawn<'a> {
    row: &'a RunRow,
    color: RGBColor,
    jepa: Vec<(f64, f64)>,
    reg: Vec<(f64, f64)>,
    /// x of the minimum and its value.
    min: Option<(f64, f64)>,
}

/// Maps a run's steps to the x axis; `None` when the axis cannot be drawn for it (epoch without
/// iterations per epoch). Epochs are counted from 1 as the logs and `analyze` count them
/// (`step / ipe + 1`: step 0 is the start of epoch 1).
fn x_of(row: &RunRow, axis: XAxis) -> Option<impl Fn(f64) -> f64> {
    let c = row.curves.as_ref()?;
    let first = c.jepa.first().map_or(0.0, |p| p.0);
    let last = c.jepa.last().map_or(1.0, |p| p.0);
    let (offset, scale, start) = match axis {
        XAxis::Step => (0.0, 1.0, 0.0),
        XAxis::Epoch => (0.0, 1.0 / c.ipe.filter(|&i| i > 0)? as f64, 1.0),
        XAxis::Progress => (first, 1.0 / (last - first).max(1.0), 0.0),
    };
    Some(move |s: f64| (s - offset) * scale + start)
}

fn drawn<'a>(rows: &'a [RunRow], axis: XAxis) -> Vec<Drawn<'a>> {
    let colors = palette(rows.len());
    rows.iter()
        .zip(colors)
        .map(|(row, color)| {
            let (jepa, reg, min) = match (x_of(row, axis), &row.curves) {
                (Some(f), Some(c)) => (
                    c.jepa.iter().map(|(s, v)| (f(*s), *v)).collect(),
                    c.reg.iter().map(|(s, v)| (f(*s), *v)).collect(),
                    row.min_step
                        .zip(row.min_loss)
                        .filter(|_| !row.findings.iter().any(|f| f.code == "no-descent"))
                        .map(|(s, v)| (f(s as f64), v)),
                ),
                _ => (Vec::new(), Vec::new(), None),
            };
            Drawn {
                row,
                color,
                jepa,
                reg,
                min,
            }
        })
        .collect()
}

impl Figure for CompareFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (self.opts.width, self.opts.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (w, h) = (self.opts.width as f64, self.opts.height as f64);
        let font = (h / 55.0).clamp(11.0, 28.0);
        let runs = drawn(&self.comparison.runs, self.x);
        let (title, body) = root.split_vertically((font * 4.2) as u32);
        draw_title(&title, self.comparison, font)?;
        // As wide as the longest label needs (at the largest legend text), at most a quarter.
        let longest = runs.iter().map(|r| legend_label(r).chars().count()).max();
        let legend_w = (50.0 + longest.unwrap_or(8) as f64 * font * 0.9 * 0.55)
            .clamp(120.0, (w * 0.24).max(120.0)) as u32;
        let (plots, legend) = body.split_horizontally(body.dim_in_pixel().0 - legend_w);
        draw_legend_column(&legend, &runs, font)?;
        let any_reg = runs.iter().any(|r| !r.reg.is_empty());
        let x = x_range(&runs);
        let Some(x) = x else {
            plots.draw(&Text::new(
                "no run has a curve to draw (saved reports hold no series; analyse the logs)",
                (20, 40),
                ("sans-serif", font).into_font().color(&BLACK),
            ))?;
            return Ok(());
        };
        if any_reg {
            let (top, bottom) =
                plots.split_vertically((plots.dim_in_pixel().1 as f64 * 0.64) as u32);
            draw_panel(&top, &runs, x, self.x, font, Panel::Loss)?;
            draw_panel(&bottom, &runs, x, self.x, font, Panel::Reg)?;
        } else {
            draw_panel(&plots, &runs, x, self.x, font, Panel::Loss)?;
        }
        Ok(())
    }
}

fn x_range(runs: &[Drawn]) -> Option<(f64, f64)> {
    let xs = runs
        .iter()
        .flat_map(|r| r.jepa.iter().chain(&r.reg).map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    (lo.is_finite() && hi.is_finite()).then_some((lo, if hi > lo { hi } else { lo + 1.0 }))
}

fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Comparison,
    font: f64,
) -> DrawResult<DB> {
    let analysed = c.runs.iter().filter(|r| r.error.is_none()).count();
    area.draw(&Text::new(
        format!(
            "jepa-doctor compare · {analysed} of {} runs · ranked by {}",
            c.runs.len(),
            c.rank_by.name()
        ),
        (16, (font * 0.7) as i32),
        ("sans-serif", font * 1.3)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK),
    ))?;
    area.draw(&Text::new(
        "smoothed JEPA loss per run · ● its minimum · thick dashes: after the minimum of a detected rebound",
        (16, (font * 2.6) as i32),
        ("sans-serif", font * 0.85).into_font().color(&GREY),
    ))?;
    Ok(())
}

/// A run's legend text: rank, name, verdict.
fn legend_label(r: &Drawn) -> String {
    let verdict = match (&r.row.verdict, &r.row.error) {
        (Some(v), _) if r.jepa.is_empty() => format!("{v} (no curve)"),
        (Some(v), _) => v.clone(),
        (None, _) => "not analysed".into(),
    };
    let rank = r.row.rank.map_or_else(|| "–".into(), |k| format!("{k}."));
    format!("{rank} {} · {verdict}", r.row.name)
}

/// The legend in its own column: a swatch, the rank, the run name and its verdict, in rank order;
/// the text shrinks so that every run fits.
fn draw_legend_column<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[Drawn],
    font: f64,
) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    let n = runs.len().max(1) as f64;
    let line = ((h as f64 - 2.0 * font) / n).min(font * 1.5);
    let size = (line / 1.35).clamp(7.0, font * 0.9);
    let max_chars = ((w as f64 - 40.0) / (size * 0.55)).max(8.0) as usize;
    for (i, r) in runs.iter().enumerate() {
        let y = (font + line * i as f64) as i32;
        let mut text = legend_label(r);
        if text.chars().count() > max_chars {
            text = text
                .chars()
                .take(max_chars.saturating_sub(1))
                .collect::<String>()
                + "…";
        }
        let mid = y + (size * 0.55) as i32;
        let swatch = if r.jepa.is_empty() {
            GREY.mix(0.4).stroke_width(1)
        } else {
            r.color.stroke_width(4)
        };
        area.draw(&PathElement::new(vec![(8, mid), (30, mid)], swatch))?;
        area.draw(&Text::new(
            text,
            (36, y),
            ("sans-serif", size).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    Loss,
    Reg,
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[Drawn],
    x: (f64, f64),
    axis: XAxis,
    font: f64,
    panel: Panel,
) -> DrawResult<DB> {
    let points = |r: &'_ Drawn| -> Vec<(f64, f64)> {
        match panel {
            Panel::Loss => r.jepa.clone(),
            Panel::Reg => r.reg.clone(),
        }
    };
    let values = runs.iter().flat_map(&points).map(|p| p.1);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return Ok(());
    }
    // The loss on a log axis when the runs span decades; the monitor (a [0, 1] reg-loss, a std)
    // on a linear one, where "pinned near 1" and "falling to 0" read directly.
    let hi = if hi > lo { hi } else { lo + 1e-9 };
    let y = match panel {
        Panel::Loss => YAxis::new(lo, hi),
        Panel::Reg => YAxis::new(lo.min(0.0), hi),
    };
    let reg_names: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.row.curves.as_ref()?.reg_name.as_deref())
        .collect();
    let desc = match panel {
        Panel::Loss => "JEPA loss (smoothed)".to_string(),
        Panel::Reg => match reg_names.first() {
            Some(first) if reg_names.iter().all(|n| n == first) => format!("{first} (smoothed)"),
            _ => "collapse monitor (smoothed)".to_string(),
        },
    };
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size((font * 2.2) as u32)
        .y_label_area_size((font * 4.0) as u32)
        .build_cartesian_2d(x.0..x.1, y.lo..y.hi)?;
    let x_desc = match axis {
        XAxis::Step => "step",
        XAxis::Epoch => "epoch",
        XAxis::Progress => "progress through the run",
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .x_desc(x_desc)
        .y_desc(if y.log { format!("{desc} (log)") } else { desc })
        .y_label_formatter(&|v| y.label(*v))
        .x_label_formatter(&|v| match axis {
            XAxis::Progress => format!("{:.0}%", v * 100.0),
            _ => human::value(*v),
        })
        .label_style(("sans-serif", font * 0.8))
        .axis_desc_style(("sans-serif", font * 0.85))
        .draw()?;
    // Many runs: thinner lines so the overlay stays readable.
    let width = if runs.len() > 12 { 1 } else { 2 };
    for r in runs {
        let pts = points(r);
        if pts.is_empty() {
            continue;
        }
        let split = match (r.min, r.row.rebound_detected()) {
            (Some((mx, _)), true) => pts.iter().position(|p| p.0 >= mx).unwrap_or(pts.len()),
            _ => pts.len(),
        };
        let mapped = |p: &[(f64, f64)]| -> Vec<(f64, f64)> {
            p.iter().map(|(s, v)| (*s, y.clamp(y.map(*v)))).collect()
        };
        chart.draw_series(LineSeries::new(
            mapped(&pts[..(split + 1).min(pts.len())]),
            r.color.stroke_width(width),
        ))?;
        if split < pts.len() {
            chart.draw_series(DashedLineSeries::new(
                mapped(&pts[split..]),
                10,
                6,
                r.color.stroke_width(width + 2),
            ))?;
        }
        if panel == Panel::Loss
            && let Some((mx, mv)) = r.min
        {
            let radius = if runs.len() > 12 { 4 } else { 6 };
            let at = (mx, y.clamp(y.map(mv)));
            chart.draw_series(std::iter::once(Circle::new(at, radius, r.color.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(
                at,
                radius,
                BLACK.stroke_width(1),
            )))?;
        }
    }
    Ok(())
}
