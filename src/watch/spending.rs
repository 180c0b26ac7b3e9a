//! Spending the significance level over the looks of a watched run, so that testing a growing run
//! again and again does not inflate false alarms.
//!
//! `watch` re-runs the rebound test (Mann–Kendall with the autocorrelation correction, see
//! [`crate::diagnose::rebound`]) while the run grows. Testing at a fixed α at every look inflates the
//! probability of at least one false alarm over the run far above α (Armitage, McPherson & Rowe
//! 1969, "Repeated significance tests on accumulating data", J. R. Stat. Soc. A 132:235–244).
//!
//! The method here is an α-spending function over information time (Lan & DeMets 1983, "Discrete
//! sequential boundaries for clinical trials", Biometrika 70:659–663), with the information of a
//! look measured by the number of rows seen, and the looks at which the test may reject placed on a
//! geometric grid of that information: look `k` (1-based) happens once the run holds at least
//! `first_rows · ratio^(k−1)` rows. Look `k` tests at
//!
//! ```text
//! α_k = α / (k (k + 1)),        Σ_{k≥1} α_k = α   (telescoping: 1/(k(k+1)) = 1/k − 1/(k+1))
//! ```
//!
//! and by the union bound (Bonferroni) P(any false alarm over the whole run) ≤ Σ α_k = α, whatever
//! the dependence between looks and however long the run goes on — no planned length is needed,
//! which a watched run does not have. The bound ignores the strong positive correlation between
//! successive looks, so it is conservative; the geometric grid keeps the number of looks
//! logarithmic in the run length (a 10⁷-row run has about 50), so the per-look level decays only
//! like `α / log²(rows)`. Evaluations between looks may still report findings that need no test
//! (non-finite losses, collapse by level) but never a test-based rebound.

/// The look grid and the level spent at each look.
#[derive(Clone, Debug, PartialEq)]
pub struct Spending {
    /// The overall false-alarm budget of the whole run (`--alpha`).
    pub alpha: f64,
    /// Rows at the first look.
    pub first_rows: u64,
    /// Growth of the rows between looks (> 1).
    pub ratio: f64,
    /// Looks taken so far.
    looks: u32,
    /// Rows at which the next look happens.
    next_rows: u64,
}

/// Rows before the first look: fewer points than this give the rebound test no power anyway.
pub const FIRST_LOOK_ROWS: u64 = 200;
/// Growth between looks: 25% more rows.
pub const LOOK_RATIO: f64 = 1.25;

impl Spending {
    /// A budget of `alpha` spent over the default grid.
    pub fn new(alpha: f64) -> Spending {
        Spending::with_grid(alpha, FIRST_LOOK_ROWS, LOOK_RATIO)
    }

    /// A budget of `alpha` over looks at `first_rows · ratio^(k−1)` rows (`ratio` > 1).
    pub fn with_grid(alpha: f64, first_rows: u64, ratio: f64) -> Spending {
        Spending {
            alpha,
            first_rows: first_rows.max(1),
            ratio: ratio.max(1.01),
            looks: 0,
            next_rows: first_rows.max(1),
        }
    }

    /// The level of look `k` (1-based): `α / (k (k + 1))`.
    pub fn level(&self, k: u32) -> f64 {
        let k = f64::from(k.max(1));
        self.alpha / (k * (k + 1.0))
    }

    /// Looks taken so far.
    pub fn looks(&self) -> u32 {
        self.looks
    }

    /// The part of the budget spent so far, `α · k / (k + 1)`.
    pub fn spent(&self) -> f64 {
        let k = f64::from(self.looks);
        self.alpha * k / (k + 1.0)
    }

    /// With `rows` rows seen: `Some((k, α_k))` when this evaluation is look `k` (the grid point was
    /// reached; several grid points reached at once make one look), else `None`.
    pub fn look(&mut self, rows: u64) -> Option<(u32, f64)> {
        if rows < self.next_rows {
            return None;
        }
        self.looks += 1;
        let mut next = self.next_rows as f64;
        while next <= rows as f64 {
            next = (next * self.ratio).ceil();
        }
        self.next_rows = next as u64;
        Some((self.looks, self.level(self.looks)))
    }

    /// One more look now, whatever the rows (the run has ended: `--idle-exit`): look `k` at its own
    /// level `α_k`, so the budget still sums to at most `α`.
    pub fn final_look(&mut self) -> (u32, f64) {
        self.looks += 1;
        (self.looks, self.level(self.looks))
    }

    /// The level the next look will test at (shown between looks).
    pub fn next_level(&self) -> f64 {
        self.level(self.looks + 1)
    }

    /// Rows at which the next look happens.
    pub fn next_rows(&self) -> u64 {
        self.next_rows
    }

    /// Starts the grid over for another trajectory (a log truncated or replaced by a new run):
    /// the next look is at `first_rows` again, while the looks keep counting, so the levels
    /// keep falling and the whole session still spends at most α (a re-read never refunds α).
    pub fn restart_grid(&mut self) {
        self.next_rows = self.first_rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_levels_sum_to_alpha() {
        let s = Spending::new(0.05);
        let total: f64 = (1..=100_000).map(|k| s.level(k)).sum();
        assert!((total - 0.05 * 100_000.0 / 100_001.0).abs() < 1e-12);
        assert!(total < 0.05);
    }

    #[test]
    fn looks_follow_the_geometric_grid() {
        let mut s = Spending::with_grid(0.01, 100, 2.0);
        assert_eq!(s.look(99), None);
        assert_eq!(s.look(100), Some((1, 0.005)));
        assert_eq!(s.look(150), None);
        assert_eq!(s.look(200).map(|l| l.0), Some(2));
        // A jump over several grid points is one look.
        assert_eq!(s.look(5000).map(|l| l.0), Some(3));
        assert_eq!(s.look(6000), None);
        assert_eq!(s.look(8192).map(|l| l.0), Some(4));
        assert!((s.spent() - 0.01 * 4.0 / 5.0).abs() < 1e-15);
        // A new trajectory looks again from the first grid point, at the next level.
        s.restart_grid();
        assert_eq!(s.look(100), Some((5, 0.01 / 30.0)));
    }

    #[test]
    fn a_long_run_has_few_looks() {
        let mut s = Spending::new(0.01);
        let looks = (1..=10_000_000u64)
            .step_by(100)
            .filter(|r| s.look(*r).is_some())
            .count();
        assert!((40..=55).contains(&looks), "{looks} looks");
    }
}
