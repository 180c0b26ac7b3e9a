//! The legend box every panel draws, and its line entries. Where the box goes is decided in
//! [`crate::report::plot_layout`].

use plotters::chart::SeriesLabelStyle;
use plotters::prelude::*;

use super::DrawResult;

/// A legend entry drawn as a short line in `style`.
pub(super) fn legend_line(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(a, b)| PathElement::new(vec![(a, b), (a + 16, b)], style)
}

/// The legend box every panel uses, at `position`.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
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
