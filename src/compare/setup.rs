//! A run's setup in a few numbers — peak learning rate, EMA momentum start→end, the best value of
//! each downstream metric (`eval` role), and every params YAML setting flattened to `section.key`
//! — so that runs of a sweep can be told apart and their configs diffed. Written into the
//! `analyze` JSON report as `setup` (docs/json.md), which is what makes a saved report a complete
//! `compare` input.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::diagnose::schedule::logged_peak;
use crate::ingest::roles::higher_is_better;
use crate::model::{Role, Run, serialize_reported, serialize_reported_opt};

/// The `setup` section of the `analyze` report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// Peak learning rate: `optimization.lr` of the config, else the largest logged LR.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub peak_lr: Option<f64>,
    /// `config` or `logged`.
    pub peak_lr_source: Option<String>,
    /// EMA momentum of the target encoder at the start and at the end: `optimization.ema` of the
    /// config, else the first and last logged `ema` value.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub ema_start: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub ema_end: Option<f64>,
    /// One entry per downstream metric (series with role `eval`).
    pub eval: Vec<EvalBest>,
    /// Every setting of the params YAML, `section.key` → value, in file order (empty without one).
    pub params: Map<String, Value>,
}

/// The best value of a downstream metric and where it was reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalBest {
    pub series: String,
    /// False for metrics whose name says loss or error (lower is better), true otherwise.
    pub higher_is_better: bool,
    #[serde(serialize_with = "serialize_reported")]
    pub best: f64,
    pub best_step: u64,
    #[serde(serialize_with = "serialize_reported")]
    pub last: f64,
    pub last_step: u64,
}

/// The setup of a cleaned run.
pub fn setup(run: &Run) -> Setup {
    let params = run.params.as_ref();
    let (peak_lr, peak_lr_source) = match params.and_then(|p| p.lr) {
        Some(lr) => (Some(lr), Some("config".to_string())),
        None => match logged_peak(run, Role::Lr) {
            Some(lr) => (Some(lr), Some("logged".to_string())),
            None => (None, None),
        },
    };
    let (ema_start, ema_end) = match params.and_then(|p| p.ema) {
        Some((a, b)) => (Some(a), Some(b)),
        None => run
            .first_with_role(Role::Ema)
            .map(|s| {
                let mut points = s.finite_points(&run.steps);
                let first = points.next().map(|p| p.1);
                let last = points.last().map(|p| p.1).or(first);
                (first, last)
            })
            .unwrap_or((None, None)),
    };
    let eval = run
        .series
        .iter()
        .filter(|s| s.role == Role::Eval)
        .filter_map(|s| {
            let higher = higher_is_better(&s.name);
            let mut best: Option<(u64, f64)> = None;
            let mut last: Option<(u64, f64)> = None;
            for (step, v) in s.finite_points(&run.steps) {
                let better = best.is_none_or(|(_, b)| if higher { v > b } else { v < b });
                if better {
                    best = Some((step, v));
                }
                last = Some((step, v));
            }
            let ((best_step, best), (last_step, last)) = (best?, last?);
            Some(EvalBest {
                series: s.name.clone(),
                higher_is_better: higher,
                best,
                best_step,
                last,
                last_step,
            })
        })
        .collect();
    let params = params
        .map(|p| p.settings.iter().cloned().collect())
        .unwrap_or_default();
    Setup {
        peak_lr,
        peak_lr_source,
        ema_start,
        ema_end,
        eval,
        params,
    }
}
