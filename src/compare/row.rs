//! One row of a comparison: a run's verdict, rebound, losses, findings and setup, read from its
//! `analyze` JSON report (DESIGN §7) — the report of a run analysed just now, or one saved by
//! `analyze --json=RUN.json` on another machine. Going through the report for both is what makes
//! `compare runs/*` and `compare reports/*.json` agree row for row.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::setup::{EvalBest, Setup};
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::{FailOn, Severity, Verdict};
use crate::diagnose::rebound::Prepared;
use crate::model::{Role, Run, serialize_reported_opt};

/// A finding as a comparison shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingBrief {
    pub code: String,
    pub severity: String,
}

impl FindingBrief {
    /// The severity, `None` for a name this version does not know.
    pub fn level(&self) -> Option<Severity> {
        [Severity::Info, Severity::Warning, Severity::Error]
            .into_iter()
            .find(|s| s.as_str() == self.severity)
    }
}

/// A run's smoothed curves for the overlay figure (only for runs analysed now: a saved report
/// holds no series). Steps are global steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    /// `(step, smoothed JEPA loss)`: the detector's zero-phase smoothed block medians.
    pub jepa: Vec<(f64, f64)>,
    /// `(step, smoothed value)` of the regularization / collapse monitor, when logged.
    pub reg: Vec<(f64, f64)>,
    pub reg_name: Option<String>,
    /// Iterations per epoch, for an epoch axis.
    pub ipe: Option<u64>,
}

impl Curves {
    /// The curves of an analysed run, at the resolution the analysis kept (at most
    /// `--max-blocks` points each: already decimated for drawing).
    pub fn of(run: &Run, d: &Diagnosis) -> Curves {
        let line = |prepared: &Prepared| -> Vec<(f64, f64)> {
            prepared
                .smoothed_line()
                .filter(|(_, v)| v.is_finite())
                .collect()
        };
        Curves {
            jepa: d.jepa.as_ref().map(line).unwrap_or_default(),
            reg: d.reg.as_ref().map(line).unwrap_or_default(),
            reg_name: run.first_with_role(Role::Reg).map(|s| s.name.clone()),
            ipe: run.ipe().or(d.schedule.as_ref().map(|s| s.ipe)),
        }
    }
}

/// One run of the comparison (the `runs[]` entries of the compare JSON, docs/json.md).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunRow {
    pub name: String,
    pub sources: Vec<String>,
    /// 1 = best under `rank_by`; `null` for a run that could not be analysed or lacks the metric.
    pub rank: Option<usize>,
    pub verdict: Option<String>,
    pub headline: Option<String>,
    /// This run's exit status under the comparison's `--fail-on` (0 or 1).
    pub exit_code: Option<u8>,
    /// The `rebound` section of the run's report, unchanged.
    pub rebound: Option<Value>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub min_loss: Option<f64>,
    pub min_step: Option<u64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub final_loss: Option<f64>,
    pub reg_trend: Option<String>,
    pub warmup_end_step: Option<u64>,
    pub last_step: Option<u64>,
    pub findings: Vec<FindingBrief>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub peak_lr: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub ema_start: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub ema_end: Option<f64>,
    pub eval: Vec<EvalBest>,
    /// The value the ranking compared (`null` for `health`).
    #[serde(serialize_with = "serialize_reported_opt")]
    pub rank_value: Option<f64>,
    /// The params YAML settings, `section.key` → value.
    pub config: Map<String, Value>,
    /// Why the run could not be analysed (`null` when it was).
    pub error: Option<String>,
    #[serde(skip)]
    pub curves: Option<Curves>,
}

/// The parts of an `analyze` report a row needs (unknown fields are ignored: reports may grow).
#[derive(Deserialize)]
struct SavedReport {
    schema_version: u32,
    input: SavedInput,
    verdict: String,
    #[serde(default)]
    headline: Option<String>,
    rebound: Value,
    findings: Vec<FindingBrief>,
    #[serde(default)]
    setup: Option<Setup>,
}

#[derive(Deserialize)]
struct SavedInput {
    #[serde(default)]
    sources: Vec<String>,
}

impl RunRow {
    /// A row for a run that could not be analysed.
    pub fn failed(name: &str, sources: Vec<String>, error: String) -> RunRow {
        RunRow {
            name: name.to_string(),
            sources,
            error: Some(error),
            ..RunRow::default()
        }
    }

    /// The row of an `analyze` report held as a value (a run analysed now).
    pub fn from_report(name: &str, report: Value) -> Result<RunRow, String> {
        let saved = serde_json::from_value(report)
            .map_err(|e| format!("not a jepa-doctor analyze report: {e}"))?;
        RunRow::from_saved(name, saved)
    }

    /// The row of a saved `analyze` report's text (parsed straight into the fields a row needs).
    pub fn from_report_text(name: &str, text: &str) -> Result<RunRow, String> {
        let saved = serde_json::from_str(text)
            .map_err(|e| format!("not a jepa-doctor analyze report: {e}"))?;
        RunRow::from_saved(name, saved)
    }

    fn from_saved(name: &str, saved: SavedReport) -> Result<RunRow, String> {
        if saved.schema_version != 1 {
            return Err(format!(
                "report schema_version {} is not supported (this version reads 1)",
                saved.schema_version
            ));
        }
        let r = &saved.rebound;
        let num = |k: &str| r.get(k).and_then(Value::as_f64);
        let step = |k: &str| r.get(k).and_then(Value::as_u64);
        let setup = saved.setup.unwrap_or_default();
        Ok(RunRow {
            name: name.to_string(),
            sources: saved.input.sources,
            rank: None,
            verdict: Some(saved.verdict),
            headline: saved.headline,
            exit_code: None,
            min_loss: num("min_value"),
            min_step: step("min_step"),
            final_loss: num("end_value"),
            reg_trend: r
                .get("reg_trend_after_min")
                .and_then(Value::as_str)
                .map(str::to_string),
            warmup_end_step: r
                .get("warmup")
                .and_then(|w| w.get("end_step"))
                .and_then(Value::as_u64),
            last_step: step("last_step"),
            findings: saved.findings,
            peak_lr: setup.peak_lr,
            ema_start: setup.ema_start,
            ema_end: setup.ema_end,
            eval: setup.eval,
            rank_value: None,
            config: setup.params,
            error: None,
            curves: None,
            rebound: Some(saved.rebound),
        })
    }

    /// Whether the run's rebound was detected.
    pub fn rebound_detected(&self) -> bool {
        self.rebound
            .as_ref()
            .and_then(|r| r.get("detected"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A number of the rebound section (`magnitude`, `p_value`, ...).
    pub fn rebound_number(&self, key: &str) -> Option<f64> {
        self.rebound.as_ref()?.get(key)?.as_f64()
    }

    /// The verdict, `None` for a failed run or a name this version does not know.
    pub fn verdict_level(&self) -> Option<Verdict> {
        let v = self.verdict.as_deref()?;
        [
            Verdict::Healthy,
            Verdict::InsufficientData,
            Verdict::Stalled,
            Verdict::Rebound,
            Verdict::Unstable,
            Verdict::Collapse,
            Verdict::Diverged,
        ]
        .into_iter()
        .find(|x| x.as_str() == v)
    }

    /// Findings at `level` or above.
    pub fn findings_at_least(&self, level: Severity) -> impl Iterator<Item = &FindingBrief> {
        self.findings
            .iter()
            .filter(move |f| f.level().is_some_and(|l| l >= level))
    }

    /// Whether a finding of this run, or its verdict (which carries its severity), trips
    /// `--fail-on`.
    pub fn trips(&self, fail_on: FailOn) -> bool {
        self.findings.iter().any(|f| {
            f.level()
                .is_some_and(|level| fail_on.trips_named(&f.code, level))
        }) || self
            .verdict_level()
            .is_some_and(|v| fail_on.trips_verdict(v))
    }

    /// The best value of the downstream metric `name`.
    pub fn eval_named(&self, name: &str) -> Option<&EvalBest> {
        self.eval.iter().find(|e| e.series == name)
    }
}
