//! Panels 2 and 3 of the figure: the regularization series with its trend over the rebound
//! span, and the learning rate (logged, or rebuilt from the config) with the grad norms.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{YAxis, draw_mesh};
use super::curve::{Curve, draw_curve_lines};
use super::legend::{draw_legend, legend_line};
use super::loss_panel::{draw_non_finite, shade_transient_collapses};
use super::{BROWN, DrawResult, GREEN, GREEN_RAW, GREY, ORANGE, PURPLE, PanelContext};
use crate::human;
use crate::model::{Role, Series};
use crate::report::decimate::Columns;
use crate::report::plot_layout::{Legend, clipped, non_finite_marks};

pub(super) fn draw_reg<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ctx: &PanelContext,
    c: &Curve,
) -> DrawResult<DB> {
    let y = YAxis::with_log(c.lo, c.hi, ctx.log_y);
    let mut legend = Legend::default();
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size((ctx.font * 1.6) as u32)
        .y_label_area_size((ctx.font * 4.0) as u32)
        .build_cartesian_2d(ctx.x.0..ctx.x.1, y.lo..y.hi)?;
    draw_mesh(&mut chart, &y, c.name.clone(), ctx.font)?;
    for cp in ctx.d.changepoints.iter().filter(|cp| cp.series == c.name) {
        let s = cp.step as f64;
        chart.draw_series(DashedLineSeries::new(
            vec![(s, y.lo), (s, y.hi)],
            6,
            5,
            GREY.mix(0.6).stroke_width(1),
        ))?;
    }
    shade_transient_collapses(&mut chart, ctx.d, &y, &mut legend)?;
    draw_curve_lines(&mut chart, c, &y, GREEN_RAW, GREEN, &mut legend, ctx.x)?;
    if let Some(series) = ctx.run.series_named(&c.name) {
        draw_non_finite(
            &mut chart,
            series,
            ctx.run,
            ctx.x,
            (y.lo, y.hi),
            ctx.font,
            &mut legend,
        )?;
    }
    // Its trend over the span after the JEPA minimum (Sen's slope through the median point); no
    // line across a burst to collapse and back, which no single trend describes.
    let r = &ctx.d.rebound;
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
            legend.line(&[a, b], ctx.x, (y.lo, y.hi));
            chart
                .draw_series(DashedLineSeries::new(
                    vec![a, b],
                    10,
                    6,
                    ORANGE.stroke_width(3),
                ))?
                .label(legend.label(format!(
                    "after the JEPA minimum: {} (change {}, {})",
                    r.reg_trend_after_min.as_str(),
                    human::signed(detail.change),
                    human::p_eq(detail.p_value)
                )))
                .legend(legend_line(ORANGE.stroke_width(3)));
        }
    }
    let place = legend.place(ctx.font * 0.75, chart.plotting_area().dim_in_pixel());
    draw_legend(chart.configure_series_labels(), place, ctx.font)?;
    Ok(())
}

pub(super) fn draw_lr<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    ctx: &PanelContext,
    columns: usize,
) -> DrawResult<DB> {
    let PanelContext {
        run, d, x, font, ..
    } = *ctx;
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
        .y_label_formatter(&|v| human::sci(*v))
        .x_label_formatter(&|v| human::tick(*v))
        .label_style(("sans-serif", font * 0.8))
        .axis_desc_style(("sans-serif", font * 0.85))
        .draw()?;
    if !grads.is_empty() {
        chart
            .configure_secondary_axes()
            .y_desc("grad norm")
            .y_label_formatter(&|v| human::tick(*v))
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
                human::tick(c.max.1)
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
            let right_half = c.max.0 > f64::midpoint(x.0, x.1);
            let (anchor, dx) = if right_half {
                (HPos::Right, -size - 2)
            } else {
                (HPos::Left, size + 2)
            };
            let dy = 2 + i as i32 * (font * 0.8) as i32;
            chart.draw_secondary_series(std::iter::once(
                EmptyElement::at((c.max.0, g_hi))
                    + Text::new(
                        format!("↑{}", human::tick(c.max.1)),
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
