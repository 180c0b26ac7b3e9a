//! From a clean run to a diagnosis: which series is the JEPA loss, where warmup ends, the rebound
//! decision and the changepoints — all as data for the renderers.

pub mod rebound;

use serde::Serialize;

use crate::model::{Role, Run, Series};
use crate::stats::changepoint::{LinearTrend, changepoints};
use rebound::{Prepared, Rebound, ReboundSettings, Warmup, WarmupSource};

/// What the analysis may be told.
#[derive(Clone, Debug, Default)]
pub struct AnalysisSettings {
    pub rebound: ReboundSettings,
    /// `--warmup-steps`: where warmup ends, overriding the config and the LR column.
    pub warmup_steps: Option<u64>,
}

/// A changepoint of one series (a segment of the piecewise-linear PELT fit starts here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changepoint {
    pub series: String,
    pub step: u64,
}

/// The analysis of a run.
#[derive(Clone, Debug)]
pub struct Diagnosis {
    pub rebound: Rebound,
    pub changepoints: Vec<Changepoint>,
    /// The JEPA loss as the detector saw it (blocks, cleaned, smoothed), for drawing.
    pub jepa: Option<Prepared>,
    pub reg: Option<Prepared>,
}

/// The series analysed as the JEPA loss: the `jepa` role, else the total loss.
pub fn jepa_series(run: &Run) -> Option<&Series> {
    run.first_with_role(Role::Jepa)
        .or_else(|| run.first_with_role(Role::Total))
}

/// Analyses a run.
pub fn diagnose(run: &Run, settings: &AnalysisSettings) -> Diagnosis {
    let reg = run.first_with_role(Role::Reg);
    let Some(jepa) = jepa_series(run) else {
        return Diagnosis {
            rebound: Rebound::nothing_found(),
            changepoints: Vec::new(),
            jepa: None,
            reg: None,
        };
    };
    let warmup = warmup(run, settings);
    let (rebound, prepared) = rebound::detect(jepa, reg, &run.steps, warmup, &settings.rebound);
    let reg_prepared = reg.map(|r| rebound::prepare(r, &run.steps, &settings.rebound));
    let mut points = series_changepoints(&jepa.name, &prepared);
    if let (Some(r), Some(p)) = (reg, &reg_prepared) {
        points.extend(series_changepoints(&r.name, p));
    }
    Diagnosis {
        rebound,
        changepoints: points,
        jepa: Some(prepared),
        reg: reg_prepared,
    }
}

/// Share of the one-segment cost a changepoint must remove (see [`changepoints`]).
pub const CHANGEPOINT_MIN_GAIN: f64 = 0.01;

/// Changepoints of a prepared series: piecewise-linear PELT on its de-spiked block medians,
/// segments of at least max(3, B/25) blocks (4% of the run: regimes, not wiggles).
fn series_changepoints(name: &str, p: &Prepared) -> Vec<Changepoint> {
    let min_size = (p.cleaned.len() / 25).max(3);
    changepoints(&p.cleaned, LinearTrend::new, min_size, CHANGEPOINT_MIN_GAIN)
        .into_iter()
        .map(|i| Changepoint {
            series: name.to_string(),
            step: p.blocks.first_step[i],
        })
        .collect()
}

/// Where warmup ends: `--warmup-steps`, else `warmup × ipe` from the config, else where the
/// logged LR first reaches its peak; `None` lets the detector assume the first 5%.
pub fn warmup(run: &Run, settings: &AnalysisSettings) -> Option<Warmup> {
    if let Some(end_step) = settings.warmup_steps {
        return Some(Warmup {
            end_step,
            source: WarmupSource::Flag,
        });
    }
    let params = run.params.as_ref();
    let ipe = run.ipe().or_else(|| params.and_then(|p| p.ipe));
    if let (Some(epochs), Some(ipe)) = (params.and_then(|p| p.warmup_epochs), ipe) {
        return Some(Warmup {
            end_step: (epochs * ipe as f64) as u64,
            source: WarmupSource::Config,
        });
    }
    let lr = run.first_with_role(Role::Lr)?;
    let points: Vec<(u64, f64)> = lr.finite_points(&run.steps).collect();
    let peak = points
        .iter()
        .map(|(_, v)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    let (_, first) = *points.first()?;
    if peak.is_nan() || peak <= 0.0 || first >= 0.5 * peak {
        return None;
    }
    let (end_step, _) = points.iter().find(|(_, v)| *v >= 0.99 * peak)?;
    Some(Warmup {
        end_step: *end_step,
        source: WarmupSource::LrColumn,
    })
}
