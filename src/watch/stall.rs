//! When a log that stopped growing is a finding.
//!
//! DESIGN §6 names `stalled-log` (warning) for a log that stopped growing for longer than
//! expected. From the log alone a run that ended and a run that hung look the same, so the rule
//! is: `stalled-log` fires only when the run has a known end that its last step has not
//! reached: `optimization.epochs` × iterations per epoch, from the params YAML next to the logs,
//! `--config`, or the params an MLflow store keeps (iterations per epoch from `--ipe`, the log, the
//! config, or the largest `itr` + 1 of an epoch/itr-keyed log). Without a known end the silence
//! is said (on the status line, as a JSON event's `note`), never a finding.
//!
//! It is checked when the silence exceeds what the run's own rhythm makes unusual
//! ([`stall_threshold`]), and once more at `--idle-exit`.

use std::time::Duration;

use serde_json::json;

use super::clock;
use super::follow::Follower;
use crate::diagnose::finding::{Code, Finding, Severity};

/// Silence after which a growing log counts as stalled: 20 typical gaps between growths, at least
/// 30 intervals and 10 minutes (checkpointing and evaluation pauses are normal).
pub fn stall_threshold(gaps: &[f64], interval: Duration) -> Duration {
    let mut sorted = gaps.to_vec();
    sorted.sort_by(f64::total_cmp);
    let typical = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    Duration::from_secs_f64(
        (20.0 * typical)
            .max(30.0 * interval.as_secs_f64())
            .max(600.0),
    )
}

/// The run's last step and its planned number of steps (`None` when no end is known).
fn progress(follower: &Follower) -> Option<(u64, Option<u64>)> {
    let monitor = &follower.monitor;
    let last_key = monitor.last_key()?;
    let ipe = monitor.ipe(follower.ipe_hint());
    let last_step = monitor.step_of(last_key, ipe);
    let planned = monitor.params().and_then(|p| {
        let ipe = ipe.map(|i| i.value).or(p.ipe)?;
        let steps = p.epochs? * ipe as f64;
        (steps.is_finite() && steps >= 1.0).then_some(steps.round() as u64)
    });
    Some((last_step, planned))
}

/// The `stalled-log` finding: the log has been silent for `silent` and the run has a known end
/// it has not reached; `None` otherwise.
pub fn stalled_finding(follower: &Follower, silent: Duration) -> Option<Finding> {
    let (last_step, planned) = progress(follower)?;
    let planned = planned?;
    if last_step + 1 >= planned {
        return None;
    }
    let seconds = silent.as_secs_f64();
    Some(
        Finding::new(
            Code::StalledLog,
            Severity::Warning,
            format!(
                "the log stopped growing: nothing new for {} after step {last_step} of {planned} planned",
                clock::duration(silent)
            ),
        )
        .steps(Some(last_step), Some(last_step))
        .evidence(json!({
            "silent_seconds": (seconds * 10.0).round() / 10.0,
            "last_step": last_step,
            "planned_steps": planned,
        }))
        .because("the configured end (optimization.epochs × iterations per epoch) was not reached"),
    )
}

/// What to say about a silent log that is not a `stalled-log` finding: its end is unknown, or
/// it was reached.
pub fn silence_note(follower: &Follower, silent: Duration) -> String {
    let quiet = format!("no new rows for {}", clock::duration(silent));
    match progress(follower) {
        Some((last, Some(planned))) => {
            format!("{quiet} after step {last}: the run reached its planned {planned} steps")
        }
        Some((last, None)) => format!(
            "{quiet} after step {last}; the run's end is not known (no params YAML or --config with optimization.epochs), so this is not a stalled-log finding"
        ),
        None => format!("{quiet}; no row read yet"),
    }
}
