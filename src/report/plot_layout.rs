//! Where a panel's legend goes, decided by measuring: the legend box is tried in six places
//! (upper and lower; left, middle and right) and put where it covers the fewest drawn points, so
//! it never hides the evidence it explains when an empty place exists. Pure geometry on points
//! normalised to the plot area (`x`, `y` in [0, 1], `y` up), testable without drawing; and the
//! marks for what an axis cannot show (values above it, NaN/inf steps).

use plotters::chart::SeriesLabelPosition;

use crate::model::{Run, Series, ValueKind};

/// The candidate places, in order of preference when they cover equally little.
const PLACES: [Place; 6] = [
    Place::UpperRight,
    Place::UpperLeft,
    Place::LowerRight,
    Place::LowerLeft,
    Place::UpperMiddle,
    Place::LowerMiddle,
];

/// A legend position inside the plot area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    UpperLeft,
    UpperMiddle,
    UpperRight,
    LowerLeft,
    LowerMiddle,
    LowerRight,
}

impl Place {
    pub fn position(self) -> SeriesLabelPosition {
        match self {
            Place::UpperLeft => SeriesLabelPosition::UpperLeft,
            Place::UpperMiddle => SeriesLabelPosition::UpperMiddle,
            Place::UpperRight => SeriesLabelPosition::UpperRight,
            Place::LowerLeft => SeriesLabelPosition::LowerLeft,
            Place::LowerMiddle => SeriesLabelPosition::LowerMiddle,
            Place::LowerRight => SeriesLabelPosition::LowerRight,
        }
    }

    /// The box `[x0, x1] × [y0, y1]` (normalised) a legend of size `(w, h)` takes here, with the
    /// margin plotters leaves (`margin` of the area on each side).
    pub fn rect(self, w: f64, h: f64, margin: (f64, f64)) -> (f64, f64, f64, f64) {
        let (mx, my) = margin;
        let (x0, x1) = match self {
            Place::UpperLeft | Place::LowerLeft => (mx, mx + w),
            Place::UpperMiddle | Place::LowerMiddle => (0.5 - w / 2.0, 0.5 + w / 2.0),
            Place::UpperRight | Place::LowerRight => (1.0 - mx - w, 1.0 - mx),
        };
        let (y0, y1) = match self {
            Place::UpperLeft | Place::UpperMiddle | Place::UpperRight => (1.0 - my - h, 1.0 - my),
            Place::LowerLeft | Place::LowerMiddle | Place::LowerRight => (my, my + h),
        };
        (x0, x1, y0, y1)
    }
}

/// The legend's size as a fraction of a `plot_px` plot area: entries of `labels` in a font of
/// `font_px` (DejaVu Sans averages ~0.55 em per character), a 20-pixel sample, padding.
pub fn legend_size(labels: &[String], font_px: f64, plot_px: (u32, u32)) -> (f64, f64) {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let w = chars * font_px * 0.56 + 20.0 + 2.0 * font_px;
    let h = labels.len() as f64 * (font_px * 1.25 + 5.0) + font_px;
    (
        (w / f64::from(plot_px.0.max(1))).min(1.0),
        (h / f64::from(plot_px.1.max(1))).min(1.0),
    )
}

/// The place where a legend of size `(w, h)` covers the fewest `points`, and how many it
/// covers there.
pub fn emptiest_place(
    points: &[(f64, f64)],
    size: (f64, f64),
    margin: (f64, f64),
) -> (Place, usize) {
    let mut best = (PLACES[0], usize::MAX);
    for place in PLACES {
        let (x0, x1, y0, y1) = place.rect(size.0, size.1, margin);
        let covered = points
            .iter()
            .filter(|(x, y)| *x >= x0 && *x <= x1 && *y >= y0 && *y <= y1)
            .count();
        if covered < best.1 {
            best = (place, covered);
        }
    }
    best
}

/// Points of a line normalised to the plot area: `x` by `x_range`, `y` by `y_range`, values
/// outside the area dropped; segments are sampled every `step` so a straight stretch through a
/// box counts as covering it.
pub fn normalise_line(
    line: impl IntoIterator<Item = (f64, f64)>,
    x_range: (f64, f64),
    y_range: (f64, f64),
    out: &mut Vec<(f64, f64)>,
) {
    let nx = |x: f64| (x - x_range.0) / (x_range.1 - x_range.0).max(f64::MIN_POSITIVE);
    let ny = |y: f64| (y - y_range.0) / (y_range.1 - y_range.0).max(f64::MIN_POSITIVE);
    let mut previous: Option<(f64, f64)> = None;
    for (x, y) in line {
        if !(x.is_finite() && y.is_finite()) {
            previous = None;
            continue;
        }
        let p = (nx(x), ny(y).clamp(0.0, 1.0));
        if let Some(q) = previous {
            // Fill long segments (> 2% of the area) with intermediate points.
            let d = ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt();
            let k = (d / 0.02).floor() as usize;
            for i in 1..k.min(100) {
                let t = i as f64 / k as f64;
                out.push((q.0 + t * (p.0 - q.0), q.1 + t * (p.1 - q.1)));
            }
        }
        if (0.0..=1.0).contains(&p.0) {
            out.push(p);
        }
        previous = Some(p);
    }
}

/// What a panel's legend lists and what the panel draws, to put the legend where it hides
/// nothing.
#[derive(Default)]
pub struct Legend {
    labels: Vec<String>,
    points: Vec<(f64, f64)>,
}

impl Legend {
    /// Records a legend entry and returns it (for `.label(..)`).
    pub fn label(&mut self, text: impl Into<String>) -> String {
        let text = text.into();
        self.labels.push(text.clone());
        text
    }
    /// Records a drawn line, in data coordinates of the ranges `x`, `y`.
    pub fn line(&mut self, points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) {
        normalise_line(points.iter().copied(), x, y, &mut self.points);
    }
    /// Records a drawn marker.
    pub fn point(&mut self, px: f64, py: f64, x: (f64, f64), y: (f64, f64)) {
        normalise_line([(px, py)], x, y, &mut self.points);
    }
    /// The emptiest place for the legend in a plot area of `plot_px` pixels.
    pub fn place(&self, font_px: f64, plot_px: (u32, u32)) -> SeriesLabelPosition {
        let size = legend_size(&self.labels, font_px, plot_px);
        let margin = (
            10.0 / f64::from(plot_px.0.max(1)),
            10.0 / f64::from(plot_px.1.max(1)),
        );
        emptiest_place(&self.points, size, margin).0.position()
    }
}

/// Values above the axis top `top`: the steps to mark (at most one per 1% of the x range), how
/// many values are above, and the largest with its step (`enc-grad-norm` 769 on a 25 axis is
/// otherwise invisible).
pub struct Clipped {
    pub marks: Vec<f64>,
    pub count: usize,
    /// `(step, value)` of the largest.
    pub max: (f64, f64),
}

pub fn clipped(points: &[(f64, f64)], top: f64, x: (f64, f64)) -> Option<Clipped> {
    let above: Vec<(f64, f64)> = points.iter().copied().filter(|(_, v)| *v > top).collect();
    let max = above.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let gap = (x.1 - x.0) * 0.01;
    let mut marks: Vec<f64> = Vec::new();
    for (s, _) in &above {
        if marks.last().is_none_or(|m| s - m > gap) {
            marks.push(*s);
        }
    }
    Some(Clipped {
        marks,
        count: above.len(),
        max,
    })
}

/// Steps where `series` is NaN or infinite (at most one per 0.2% of the x range), and how many.
pub fn non_finite_marks(series: &Series, run: &Run, x: (f64, f64)) -> (Vec<f64>, usize) {
    let mut count = 0usize;
    let mut marks: Vec<f64> = Vec::new();
    let gap = (x.1 - x.0) * 0.002;
    for (step, kind) in series.kinds(&run.steps) {
        if kind == ValueKind::Finite {
            continue;
        }
        count += 1;
        let s = step as f64;
        if marks.last().is_none_or(|m| s - m > gap) {
            marks.push(s);
        }
    }
    (marks, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_goes_where_the_data_is_not() {
        // A curve high on the right and low on the left: the upper left is empty.
        let mut pts = Vec::new();
        normalise_line(
            (0..=100).map(|i| (f64::from(i), f64::from(i) / 100.0)),
            (0.0, 100.0),
            (0.0, 1.0),
            &mut pts,
        );
        let (place, covered) = emptiest_place(&pts, (0.3, 0.25), (0.01, 0.01));
        assert_eq!((place, covered), (Place::UpperLeft, 0));
        // Falling curve: the upper right is empty (the preferred place).
        let falling: Vec<(f64, f64)> = pts.iter().map(|(x, y)| (*x, 1.0 - y)).collect();
        assert_eq!(
            emptiest_place(&falling, (0.3, 0.25), (0.01, 0.01)).0,
            Place::UpperRight
        );
        // Data along the whole top and bottom edges: a middle place is not better, a corner
        // with the fewest points is chosen and the count says what is covered.
        let mut band: Vec<(f64, f64)> = (0..=100).map(|i| (f64::from(i) / 100.0, 0.95)).collect();
        band.extend((0..=40).map(|i| (f64::from(i) / 100.0, 0.05)));
        let (place, covered) = emptiest_place(&band, (0.3, 0.2), (0.01, 0.01));
        assert_eq!((place, covered), (Place::LowerRight, 0));
    }

    #[test]
    fn long_segments_are_sampled() {
        let mut pts = Vec::new();
        normalise_line([(0.0, 0.0), (1.0, 1.0)], (0.0, 1.0), (0.0, 1.0), &mut pts);
        assert!(pts.len() > 50, "{}", pts.len());
        // A box in the middle of the diagonal is covered though no vertex is in it.
        assert!(
            pts.iter()
                .any(|(x, y)| (0.45..0.55).contains(x) && (0.45..0.55).contains(y))
        );
    }

    #[test]
    fn legend_size_grows_with_entries_and_text() {
        let one = legend_size(&["loss".into()], 12.0, (1000, 400));
        let three = legend_size(
            &[
                "loss (raw)".into(),
                "loss (smoothed)".into(),
                "a much longer entry here".into(),
            ],
            12.0,
            (1000, 400),
        );
        assert!(three.0 > one.0 && three.1 > one.1);
    }
}
