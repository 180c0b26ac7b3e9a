//! Panel 1 of the figure: the JEPA loss, raw and smoothed, with the minimum, the rebound span,
//! changepoints, spikes, warmup, transient collapses of the monitor and non-finite steps marked.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{YAxis, draw_mesh};
use super::curve::{Chart, Curve, draw_curve_lines};
use super::legend::{draw_legend, legend_line};
use super::{BLUE, BLUE_RAW, CRIMSON, DrawResult, GREY, ORANGE, PanelContext};
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Code;
use crate::diagnose::rebound::WarmupSource;
use crate::human;
use crate::model::{Run, Series};
use crate::report::plot_layout::{Legend, non_finite_marks};

pub(super) fn draw_loss<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ctx: &PanelContext,
    c: &Curve,
) -> DrawResult<DB> {
    let PanelContext {
        run,
        d,
        x,
        font,
        log_y,
    } = *ctx;
    let ipe = run.ipe().or(d.schedule.as_ref().map(|s| s.ipe));
    let y = YAxis::with_log(c.lo, c.hi, log_y);
    let mut legend = Legend::default();
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
    let y_desc = if y.log {
        format!("{} (log)", c.name)
    } else {
        c.name.clone()
    };
    draw_mesh(&mut chart, &y, y_desc, font)?;
    if let Some(ipe) = ipe {
        let per = ipe as f64;
        chart
            .configure_secondary_axes()
            .x_label_formatter(&|v| format!("epoch {}", human::value((*v / per).floor() + 1.0)))
            .label_style(("sans-serif", font * 0.75))
            .axis_desc_style(("sans-serif", font * 0.8))
            .draw()?;
    }
    let r = &d.rebound;
    // Warmup, shaded, labelled with where its end comes from (the text says the same).
    if let Some(w) = r.warmup.filter(|w| w.end_step as f64 > x.0) {
        let source = match w.source {
            WarmupSource::Flag => "--warmup-steps",
            WarmupSource::Config => "config",
            WarmupSource::LrColumn => "LR column",
            WarmupSource::Default => "assumed: first 5%, not logged",
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x.0, y.lo), (w.end_step as f64, y.hi)],
                GREY.mix(0.08).filled(),
            )))?
            .label(legend.label(format!("warmup ({source})")))
            .legend(|(a, b)| {
                Rectangle::new([(a, b - 5), (a + 16, b + 5)], GREY.mix(0.25).filled())
            });
    }
    // The rise of the rebound, shaded from where the text says it sets in (the onset; the
    // minimum when no onset was located) to the end.
    if r.detected
        && let (Some(from), Some(to)) = (r.onset_step.or(r.min_step), r.last_step)
    {
        let label = format!(
            "rebound: rises from step {from}, +{} of the descent ({})",
            human::percent(r.magnitude.unwrap_or(0.0)),
            human::p_eq(r.p_value.unwrap_or(1.0))
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
    draw_drops_and_falls(&mut chart, d, &y, x, font, &mut legend)?;
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
    let descended = !d.findings.iter().any(|f| f.code == Code::NoDescent);
    if !descended {
        draw_pinned_level(&mut chart, d, &y, x, &mut legend)?;
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
                    format!("↑{}", human::value(*raw)),
                    (dx, 2),
                    ("sans-serif", font * 0.7)
                        .into_font()
                        .color(&RED)
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                )
        }))?;
    }
    // The minimum, marked and labelled — not on a loss that never descended (its lowest point
    // is noise on a flat line; the level it is pinned at is drawn under the curve instead).
    if descended && let (Some(step), Some(value)) = (r.min_step, r.min_value) {
        let point = (step as f64, y.map(value));
        let radius = (font * 0.4) as i32;
        let label = format!("min {} @ step {step}", human::value(value));
        // Below the curve, left of the marker when it sits in the right half.
        let right_half = step as f64 > f64::midpoint(x.0, x.1);
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

/// The uniform-output level (ln K) a loss that never descended is pinned at, as a dashed line
/// labelled like the `no-descent` finding.
fn draw_pinned_level<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    d: &Diagnosis,
    y: &YAxis,
    x: (f64, f64),
    legend: &mut Legend,
) -> DrawResult<DB> {
    let Some(evidence) = d
        .findings
        .iter()
        .find(|f| f.code == Code::NoDescent)
        .map(|f| &f.evidence)
    else {
        return Ok(());
    };
    let (Some(classes), Some(level)) = (
        evidence["uniform_classes"].as_u64(),
        evidence["uniform_level"].as_f64(),
    ) else {
        return Ok(());
    };
    let at = y.clamp(y.map(level));
    legend.line(&[(x.0, at), (x.1, at)], x, (y.lo, y.hi));
    chart
        .draw_series(DashedLineSeries::new(
            vec![(x.0, at), (x.1, at)],
            8,
            5,
            RED.mix(0.8).stroke_width(2),
        ))?
        .label(legend.label(format!(
            "ln {classes} = {}: uniform outputs (never descended)",
            human::value(level)
        )))
        .legend(legend_line(RED.stroke_width(2)));
    Ok(())
}

/// What the text says happened to the loss, where it happened: the fall of a collapse by level
/// (`collapse`, kind `loss-level`) shaded over its steps, and each sudden drop (`sudden-drop`)
/// marked `▲` along the bottom edge, with their count and period in the legend.
fn draw_drops_and_falls<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    d: &Diagnosis,
    y: &YAxis,
    x: (f64, f64),
    font: f64,
    legend: &mut Legend,
) -> DrawResult<DB> {
    for f in &d.findings {
        let e = &f.evidence;
        if f.code == Code::Collapse
            && e["kind"] == "loss-level"
            && let (Some(from), Some(to)) =
                (e["fall_start_step"].as_u64(), e["fall_end_step"].as_u64())
        {
            let share = e["share_of_pre_fall"].as_f64().map_or(String::new(), |s| {
                format!(" to {} of its level", human::percent(s))
            });
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from as f64, y.lo), (to as f64, y.hi)],
                    CRIMSON.mix(0.15).filled(),
                )))?
                .label(legend.label(format!("collapse: fell{share}, steps {from}–{to}")))
                .legend(|(a, b)| {
                    Rectangle::new([(a, b - 5), (a + 16, b + 5)], CRIMSON.mix(0.4).filled())
                });
        }
        if f.code == Code::SuddenDrop
            && let Some(steps) = e["steps"].as_array()
        {
            let steps: Vec<f64> = steps.iter().filter_map(serde_json::Value::as_f64).collect();
            let at = y.lo + (y.hi - y.lo) * 0.06;
            for s in &steps {
                legend.point(*s, at, x, (y.lo, y.hi));
            }
            let period = e["period_steps"].as_f64().map_or(String::new(), |p| {
                format!(", every ~{} steps", human::value(p))
            });
            chart
                .draw_series(
                    steps.iter().map(|s| {
                        TriangleMarker::new((*s, at), (font * 0.4) as i32, CRIMSON.filled())
                    }),
                )?
                .label(legend.label(format!("sudden drops ({}{period})", steps.len())))
                .legend(|(a, b)| TriangleMarker::new((a + 8, b), 5, CRIMSON.filled()));
        }
    }
    Ok(())
}

/// Each transient collapse of the monitor, shaded from its first step to its recovery.
pub(super) fn shade_transient_collapses<DB: DrawingBackend>(
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
                    human::value(e.peak_value),
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
pub(super) fn draw_non_finite<DB: DrawingBackend>(
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
