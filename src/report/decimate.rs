//! Decimation for drawing: a series of any length becomes at most two points per pixel column
//! (the minimum and the maximum of the column, in step order), so a 10M-point run draws as fast as
//! a 10k one and looks the same. One pass, O(n); the analysis never sees this.

/// Min/max per column over a fixed x range.
#[derive(Clone, Debug)]
pub struct Columns {
    x0: f64,
    /// Columns per unit of x.
    scale: f64,
    cols: Vec<Column>,
}

#[derive(Clone, Copy, Debug)]
struct Column {
    count: usize,
    min: (f64, f64),
    max: (f64, f64),
    sum: f64,
    last_x: f64,
}

impl Columns {
    /// `columns` buckets over `[x0, x1]`.
    pub fn new(x0: f64, x1: f64, columns: usize) -> Columns {
        let empty = Column {
            count: 0,
            min: (0.0, f64::INFINITY),
            max: (0.0, f64::NEG_INFINITY),
            sum: 0.0,
            last_x: 0.0,
        };
        let columns = columns.max(1);
        Columns {
            x0,
            scale: columns as f64 / (x1 - x0).max(f64::MIN_POSITIVE),
            cols: vec![empty; columns],
        }
    }

    /// Adds a finite point.
    pub fn push(&mut self, x: f64, y: f64) {
        // `as usize` truncates toward zero and saturates: the floor for x ≥ x0, 0 below.
        let i = (((x - self.x0) * self.scale) as usize).min(self.cols.len() - 1);
        let c = &mut self.cols[i];
        c.count += 1;
        c.sum += y;
        c.last_x = x;
        if y < c.min.1 {
            c.min = (x, y);
        }
        if y > c.max.1 {
            c.max = (x, y);
        }
    }

    /// The envelope as a polyline: each column's min and max in the order they occurred.
    pub fn envelope(&self) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(2 * self.cols.len());
        for c in self.cols.iter().filter(|c| c.count > 0) {
            if c.min.0 <= c.max.0 {
                out.push(c.min);
                if c.max.0 != c.min.0 {
                    out.push(c.max);
                }
            } else {
                out.push(c.max);
                out.push(c.min);
            }
        }
        out
    }

    /// The mean of each column at its last x: for curves that are already smooth.
    pub fn means(&self) -> Vec<(f64, f64)> {
        self.cols
            .iter()
            .filter(|c| c.count > 0)
            .map(|c| (c.last_x, c.sum / c.count as f64))
            .collect()
    }

    /// Column minima and maxima (for choosing a y range).
    pub fn extremes(&self) -> (Vec<f64>, Vec<f64>) {
        let live = self.cols.iter().filter(|c| c.count > 0);
        (
            live.clone().map(|c| c.min.1).collect(),
            live.map(|c| c.max.1).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_points_become_two_per_column_and_keep_the_extremes() {
        let mut c = Columns::new(0.0, 999_999.0, 100);
        for i in 0..1_000_000u64 {
            let y = if i == 123_456 { 50.0 } else { (i % 7) as f64 };
            c.push(i as f64, y);
        }
        let env = c.envelope();
        assert!(env.len() <= 200);
        assert!(
            env.iter().any(|p| p.1 == 50.0),
            "the spike survives decimation"
        );
        assert!(env.windows(2).all(|w| w[0].0 <= w[1].0), "in x order");
        assert_eq!(c.means().len(), 100);
    }
}
