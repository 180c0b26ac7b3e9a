//! The run's learning-rate and EMA schedules, reconstructed from the params YAML the way the
//! upstream code builds them, so a minimum or a rebound can be placed relative to warmup and decay.
//!
//! V-JEPA / I-JEPA `WarmupCosineSchedule`: with `W = ⌊warmup·ipe⌋`, `T = ⌊ipe_scale·epochs·ipe⌋` and
//! the scheduler stepped once before each iteration (`k = step + 1`):
//! `lr = start_lr + (k/W)·(lr − start_lr)` while `k < W`, then
//! `lr = max(final_lr, final_lr + (lr − final_lr)·½(1 + cos(π·(k − W)/(T − W))))`.
//! The EMA momentum rises linearly: `m = ema₀ + step·(ema₁ − ema₀)/T`. With `ipe_scale > 1` the
//! run ends before the cosine reaches `final_lr`.
//!
//! The other schedules the upstream configs describe ([`ScheduleKind`]): a V-JEPA 2 cooldown
//! (`is_anneal: true`) decays linearly from `lr` to `final_lr` over the planned run,
//! `lr = lr₀ + (k/P)·(final_lr − lr₀)` with `P = epochs·ipe`, and has no warmup by design; a
//! config whose `final_lr` equals `lr` after a warmup is warmup-then-constant, the stable phase of
//! a warmup-stable-decay (WSD) schedule whose decay is a separate cooldown run (V-JEPA 2's
//! pretraining); with `optimization.anneal` epochs the decay is linear over the last `anneal`
//! epochs of the run.

use crate::model::{Role, Run};
use crate::params::RunParams;

/// The shape of the LR schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Linear warmup, then cosine to `final_lr` (V-JEPA, I-JEPA).
    WarmupCosine,
    /// Linear decay from the peak to `final_lr`, no warmup (a V-JEPA 2 cooldown, `is_anneal`).
    LinearDecay,
    /// Warmup, constant, then a linear decay over the last `anneal_steps` (0: the decay is a
    /// separate cooldown run).
    WarmupStableDecay { anneal_steps: u64 },
}

/// The schedules of a run whose params give at least the peak LR, epochs and ipe.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub ipe: u64,
    pub warmup_steps: u64,
    /// Steps of the cosine (`ipe_scale·epochs·ipe`), beyond the planned end when `ipe_scale > 1`.
    pub cosine_steps: u64,
    /// Planned length of the run (`epochs·ipe`).
    pub planned_steps: u64,
    pub peak_lr: f64,
    pub start_lr: f64,
    pub final_lr: f64,
    pub ema: Option<(f64, f64)>,
}

impl Schedule {
    /// Builds the schedule from the params and iterations per epoch.
    pub fn from_params(params: &RunParams, ipe: u64) -> Option<Schedule> {
        let peak_lr = params.lr?;
        let epochs = params.epochs?;
        if ipe == 0 || epochs <= 0.0 {
            return None;
        }
        let ipe_scale = params.ipe_scale.unwrap_or(1.0).max(1e-9);
        let warmup_steps = (params.warmup_epochs.unwrap_or(0.0).max(0.0) * ipe as f64) as u64;
        let final_lr = params.final_lr.unwrap_or(0.0);
        let kind = if params.is_anneal == Some(true) {
            ScheduleKind::LinearDecay
        } else if let Some(a) = params.anneal_epochs.filter(|a| *a > 0.0) {
            ScheduleKind::WarmupStableDecay {
                anneal_steps: (a * ipe as f64) as u64,
            }
        } else if final_lr >= peak_lr && warmup_steps > 0 {
            ScheduleKind::WarmupStableDecay { anneal_steps: 0 }
        } else {
            ScheduleKind::WarmupCosine
        };
        Some(Schedule {
            kind,
            ipe,
            warmup_steps,
            cosine_steps: (ipe_scale * epochs * ipe as f64) as u64,
            planned_steps: (epochs * ipe as f64) as u64,
            peak_lr,
            start_lr: params.start_lr.unwrap_or(peak_lr),
            final_lr,
            ema: params.ema,
        })
    }

    /// The learning rate used at global step `step`.
    pub fn lr_at(&self, step: u64) -> f64 {
        let k = (step + 1) as f64;
        let w = self.warmup_steps as f64;
        let planned = (self.planned_steps as f64).max(1.0);
        match self.kind {
            ScheduleKind::LinearDecay => {
                let progress = (step as f64 / planned).min(1.0);
                return self.peak_lr + progress * (self.final_lr - self.peak_lr);
            }
            ScheduleKind::WarmupStableDecay { anneal_steps } if k >= w => {
                let decay_from = planned - anneal_steps as f64;
                if anneal_steps == 0 || (step as f64) < decay_from {
                    return self.peak_lr;
                }
                let progress = ((step as f64 - decay_from) / anneal_steps as f64).min(1.0);
                return self.peak_lr + progress * (self.final_lr - self.peak_lr);
            }
            _ => {}
        }
        if k < w {
            return self.start_lr + (k / w.max(1.0)) * (self.peak_lr - self.start_lr);
        }
        let span = (self.cosine_steps as f64 - w).max(1.0);
        let progress = ((k - w) / span).min(1.0);
        let cosine = self.final_lr
            + (self.peak_lr - self.final_lr)
                * 0.5
                * (1.0 + (std::f64::consts::PI * progress).cos());
        cosine.max(self.final_lr)
    }

    /// The EMA momentum at step `step`.
    pub fn ema_at(&self, step: u64) -> Option<f64> {
        let (m0, m1) = self.ema?;
        let t = (self.cosine_steps as f64).max(1.0);
        Some(m0 + (step as f64).min(t) * (m1 - m0) / t)
    }

    /// The schedule in one clause, e.g. "linear decay from 5.25e-4 to 1e-6 over 24000 steps
    /// (a cooldown run: no warmup by design)".
    pub fn describe(&self) -> String {
        let sci = crate::human::sci;
        match self.kind {
            ScheduleKind::WarmupCosine => format!(
                "cosine to {} over {} steps",
                sci(self.final_lr),
                self.cosine_steps
            ),
            ScheduleKind::LinearDecay => format!(
                "linear decay from {} to {} over {} steps, a cooldown run with no warmup by design",
                sci(self.peak_lr),
                sci(self.final_lr),
                self.planned_steps
            ),
            ScheduleKind::WarmupStableDecay { anneal_steps: 0 } => format!(
                "warmup over {} steps, then constant at {}: the stable phase of a warmup-stable-decay schedule, whose decay is a separate cooldown run",
                self.warmup_steps,
                sci(self.peak_lr)
            ),
            ScheduleKind::WarmupStableDecay { anneal_steps } => format!(
                "warmup over {} steps, constant at {}, then linear decay to {} over the last {anneal_steps} steps (warmup-stable-decay)",
                self.warmup_steps,
                sci(self.peak_lr),
                sci(self.final_lr)
            ),
        }
    }

    /// Whether the schedule decays the LR within this run or in its planned cooldown.
    pub fn decays(&self) -> bool {
        match self.kind {
            ScheduleKind::WarmupCosine => self.final_lr < self.peak_lr,
            // A WSD stable phase decays in its cooldown run.
            ScheduleKind::LinearDecay | ScheduleKind::WarmupStableDecay { .. } => true,
        }
    }

    /// Share of the cosine decay done at `step` (0 before and at the end of warmup).
    pub fn decay_progress(&self, step: u64) -> f64 {
        let w = self.warmup_steps as f64;
        let span = (self.cosine_steps as f64 - w).max(1.0);
        (((step + 1) as f64 - w) / span).clamp(0.0, 1.0)
    }
}

/// Where a step sits in the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub step: u64,
    /// 1-based epoch (fractional) when iterations per epoch are known.
    pub epoch: Option<f64>,
    /// Steps since the end of warmup (negative inside warmup).
    pub after_warmup: Option<i64>,
    /// LR at the step: the config's schedule, else the logged value.
    pub lr: Option<f64>,
    /// `lr` as a share of the peak LR.
    pub lr_of_peak: Option<f64>,
    pub ema: Option<f64>,
}

/// Places `step` relative to epochs, warmup and the LR schedule.
pub fn place(
    step: u64,
    run: &Run,
    schedule: Option<&Schedule>,
    warmup_end: Option<u64>,
) -> Placement {
    let ipe = run.ipe().or(schedule.map(|s| s.ipe));
    let (lr, peak) = match schedule {
        Some(s) => (Some(s.lr_at(step)), Some(s.peak_lr)),
        None => (logged_at(run, Role::Lr, step), logged_peak(run, Role::Lr)),
    };
    Placement {
        step,
        epoch: ipe.map(|i| step as f64 / i as f64 + 1.0),
        after_warmup: warmup_end.map(|w| step as i64 - w as i64),
        lr,
        lr_of_peak: lr.zip(peak).filter(|(_, p)| *p > 0.0).map(|(l, p)| l / p),
        ema: schedule
            .and_then(|s| s.ema_at(step))
            .or_else(|| logged_at(run, Role::Ema, step)),
    }
}

/// The value of the first series with `role` at the last logged step ≤ `step`.
fn logged_at(run: &Run, role: Role, step: u64) -> Option<f64> {
    let series = run.first_with_role(role)?;
    series
        .finite_points(&run.steps)
        .take_while(|(s, _)| *s <= step)
        .last()
        .map(|(_, v)| v)
}

/// The largest finite value of the first series with `role`.
pub fn logged_peak(run: &Run, role: Role) -> Option<f64> {
    run.first_with_role(role)?
        .finite_points(&run.steps)
        .map(|(_, v)| v)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
}

/// Largest relative difference between the logged LR and the schedule, when both exist.
pub fn lr_mismatch(run: &Run, schedule: &Schedule) -> Option<f64> {
    let lr = run.first_with_role(Role::Lr)?;
    lr.finite_points(&run.steps)
        .filter(|(_, v)| *v > 0.0)
        .map(|(s, v)| ((schedule.lr_at(s) - v) / v).abs())
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe() -> RunParams {
        RunParams {
            lr: Some(6.25e-4),
            start_lr: Some(2e-4),
            final_lr: Some(1e-6),
            warmup_epochs: Some(4.0),
            epochs: Some(60.0),
            ipe: Some(100),
            ipe_scale: Some(1.25),
            ema: Some((0.998, 1.0)),
            ..RunParams::default()
        }
    }

    #[test]
    fn matches_what_the_vjepa_log_printed() -> Result<(), Box<dyn std::error::Error>> {
        let s = Schedule::from_params(&recipe(), 100).ok_or("no schedule")?;
        // The recipe's stdout.log: [1, 0] lr 2.01e-04, [1, 10] 2.12e-04, [4, 90] ... [5, 0] 6.25e-04 peak.
        assert!((s.lr_at(0) - 2.0106e-4).abs() < 1e-8);
        assert!((s.lr_at(10) - 2.117e-4).abs() < 1e-7);
        assert!((s.lr_at(399) - 6.25e-4).abs() < 1e-12);
        assert!(s.lr_at(1000) < 6.25e-4);
        // With ipe_scale 1.25 the planned end (6000 steps) is before the cosine's end (7500).
        assert!(s.lr_at(5999) > 1e-6 * 2.0);
        assert_eq!(s.lr_at(100_000), 1e-6);
        assert_eq!(s.ema_at(0), Some(0.998));
        assert!(s.ema_at(7500).is_some_and(|m| (m - 1.0).abs() < 1e-12));
        assert_eq!(s.decay_progress(0), 0.0);
        assert_eq!(s.kind, ScheduleKind::WarmupCosine);
        Ok(())
    }

    #[test]
    fn cooldown_and_warmup_stable_decay() -> Result<(), Box<dyn std::error::Error>> {
        let anneal = RunParams {
            lr: Some(5.25e-4),
            start_lr: Some(1e-4),
            final_lr: Some(1e-6),
            warmup_epochs: Some(0.0),
            epochs: Some(80.0),
            is_anneal: Some(true),
            ..RunParams::default()
        };
        let s = Schedule::from_params(&anneal, 300).ok_or("no schedule")?;
        assert_eq!(s.kind, ScheduleKind::LinearDecay);
        assert!((s.lr_at(0) - 5.25e-4).abs() < 1e-12);
        assert!((s.lr_at(12_000) - (5.25e-4 + 0.5 * (1e-6 - 5.25e-4))).abs() < 1e-12);
        assert!((s.lr_at(24_000) - 1e-6).abs() < 1e-12);
        assert!(
            s.describe()
                .starts_with("linear decay from 5.25e-4 to 1e-6")
        );
        let stable = RunParams {
            final_lr: Some(5.25e-4),
            warmup_epochs: Some(40.0),
            is_anneal: None,
            epochs: Some(800.0),
            ..anneal.clone()
        };
        let s = Schedule::from_params(&stable, 300).ok_or("no schedule")?;
        assert_eq!(s.kind, ScheduleKind::WarmupStableDecay { anneal_steps: 0 });
        assert!(s.decays());
        assert!((s.lr_at(6_000) - (1e-4 + 0.5 * 4.25e-4)).abs() < 1e-7);
        assert_eq!(s.lr_at(100_000), 5.25e-4);
        let wsd = RunParams {
            final_lr: Some(1e-6),
            anneal_epochs: Some(10.0),
            epochs: Some(100.0),
            ..stable
        };
        let s = Schedule::from_params(&wsd, 100).ok_or("no schedule")?;
        assert_eq!(
            s.kind,
            ScheduleKind::WarmupStableDecay { anneal_steps: 1000 }
        );
        assert_eq!(s.lr_at(8_999), 5.25e-4);
        assert!((s.lr_at(9_500) - (5.25e-4 + 0.5 * (1e-6 - 5.25e-4))).abs() < 1e-12);
        Ok(())
    }
}
