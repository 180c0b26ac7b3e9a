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

use plotters::coord::Shift;
use plotters::prelude::*;

use super::output::{PlotFormat, PlotOptions};
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Verdict;
use crate::diagnose::rebound::Prepared;
use crate::model::{Role, Run, Series};

mod axes;
mod curve;
mod legend;
mod loss_panel;
mod lower_panels;

pub(crate) use axes::YAxis;
use curve::{curve, curve_from_blocks};
use loss_panel::draw_loss;
use lower_panels::{draw_lr, draw_reg};

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
    let ctx = PanelContext {
        run,
        d,
        x,
        font,
        log_y: opts.log_y,
    };
    let mut it = panels.into_iter();
    if let (Some(area), Some(c)) = (it.next(), &jepa) {
        draw_loss(&area, &ctx, c)?;
    }
    if let Some(c) = &reg
        && let Some(area) = it.next()
    {
        draw_reg(&area, &ctx, c)?;
    }
    if has_lr_panel && let Some(area) = it.next() {
        draw_lr(&area, &ctx, columns)?;
    }
    Ok(())
}

/// What every panel draws from: the run and its diagnosis, the x range in steps, the font size
/// in pixels, and `--log-y`.
#[derive(Clone, Copy)]
struct PanelContext<'a> {
    run: &'a Run,
    d: &'a Diagnosis,
    x: (f64, f64),
    font: f64,
    log_y: bool,
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
