//! From a clean run to a diagnosis, as data: which series is the JEPA loss, where warmup ends, the
//! rebound decision, changepoints, every finding of DESIGN §6 with evidence and recommendations,
//! and the one-sentence verdict. Renderers only describe this.

pub mod finding;
pub mod loss_findings;
pub mod playbook;
pub mod rebound;
pub mod schedule;
pub mod setup_findings;
pub mod shape;
pub mod spikes;

use serde::Serialize;

use crate::fmt;
use crate::model::{Role, Run, Series, SeriesSummary};
use crate::stats::changepoint::{LinearTrend, changepoints};
use finding::{Code, Finding, Severity, Verdict};
use playbook::Context;
use rebound::{Prepared, Rebound, ReboundSettings, Warmup, WarmupSource};
use schedule::{Schedule, logged_peak};
use spikes::Spikes;

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
    pub verdict: Verdict,
    /// The verdict in one sentence.
    pub headline: String,
    pub rebound: Rebound,
    pub changepoints: Vec<Changepoint>,
    /// Most severe first.
    pub findings: Vec<Finding>,
    /// The JEPA loss as the detector saw it (blocks, cleaned, smoothed), for drawing.
    pub jepa: Option<Prepared>,
    pub reg: Option<Prepared>,
    pub spikes: Option<Spikes>,
    /// The LR / EMA schedule reconstructed from the config, for drawing and placing.
    pub schedule: Option<Schedule>,
    /// Points, non-finite values and step range of each series (in `run.series` order).
    pub summaries: Vec<SeriesSummary>,
}

/// The series analysed as the JEPA loss: the `jepa` role, else the total loss.
pub fn jepa_series(run: &Run) -> Option<&Series> {
    run.first_with_role(Role::Jepa)
        .or_else(|| run.first_with_role(Role::Total))
}

/// Analyses a run.
pub fn diagnose(run: &Run, settings: &AnalysisSettings) -> Diagnosis {
    let jepa = jepa_series(run);
    let reg = run.first_with_role(Role::Reg);
    let warmup = warmup(run, settings);
    let params = run.params.as_ref();
    let schedule = params.and_then(|p| Schedule::from_params(p, run.ipe().or(p.ipe)?));
    let peak_lr = params
        .and_then(|p| p.lr)
        .map(|l| (l, "config"))
        .or_else(|| logged_peak(run, Role::Lr).map(|l| (l, "logged")));
    let ctx = Context {
        run,
        params,
        schedule: schedule.clone(),
        warmup,
        jepa: jepa.map(|s| s.name.clone()),
        reg: reg.map(|s| s.name.clone()),
        peak_lr,
    };

    // The summaries of every series on one core while the detector prepares the losses.
    let (summaries, detected) = std::thread::scope(|scope| {
        let summaries = scope.spawn(|| summarise(run));
        let detected = jepa.map(|j| rebound::detect(j, reg, &run.steps, warmup, &settings.rebound));
        (
            summaries
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            detected,
        )
    });
    let (rebound, prepared, reg_prepared) = match detected {
        Some((rebound, prepared, reg_prepared)) => (rebound, Some(prepared), reg_prepared),
        None => (Rebound::nothing_found(), None, None),
    };
    // The changepoint searches (the costliest part on short runs) on one core, the findings on
    // the other.
    let (changepoints, (findings, spikes)) = std::thread::scope(|scope| {
        let search = || {
            let mut found = Vec::new();
            if let (Some(j), Some(p)) = (jepa, &prepared) {
                found.extend(series_changepoints(&j.name, p));
            }
            if let (Some(r), Some(p)) = (reg, &reg_prepared) {
                found.extend(series_changepoints(&r.name, p));
            }
            found
        };
        let changepoints = scope.spawn(search);
        let findings = findings_of(
            &ctx,
            &summaries,
            &rebound,
            jepa,
            prepared.as_ref(),
            reg.zip(reg_prepared.as_ref()),
        );
        (
            changepoints
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            findings,
        )
    });
    let verdict = verdict_of(&findings);
    let headline = headline(verdict, &findings, &rebound, prepared.as_ref());
    Diagnosis {
        verdict,
        headline,
        rebound,
        changepoints,
        findings,
        jepa: prepared,
        reg: reg_prepared,
        spikes,
        schedule,
        summaries,
    }
}

/// Every finding, most severe first, and the spikes found on the JEPA loss.
fn findings_of(
    ctx: &Context,
    summaries: &[SeriesSummary],
    rebound: &Rebound,
    jepa: Option<&Series>,
    prepared: Option<&Prepared>,
    reg: Option<(&Series, &Prepared)>,
) -> (Vec<Finding>, Option<Spikes>) {
    let run = ctx.run;
    let mut findings = setup_findings::non_finite(ctx, run, summaries);
    let spikes = match (jepa, prepared) {
        (Some(jepa), Some(prepared)) => {
            let spikes = spikes::detect(jepa, &run.steps, prepared);
            findings.extend(curve_findings(ctx, jepa, reg, rebound, prepared, &spikes));
            Some(spikes)
        }
        _ => None,
    };
    let points = prepared.map_or(0, |p| p.blocks.points);
    findings.extend(loss_findings::insufficient(jepa, points, rebound));
    findings.extend(setup_findings::learning_rate(ctx, run));
    findings.extend(setup_findings::config_smells(ctx, run));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(
                a.step_start
                    .unwrap_or(u64::MAX)
                    .cmp(&b.step_start.unwrap_or(u64::MAX)),
            )
            .then(a.code.cmp(&b.code))
    });
    (findings, spikes)
}

fn summarise(run: &Run) -> Vec<SeriesSummary> {
    run.series.iter().map(|s| s.summary(&run.steps)).collect()
}

/// The findings about the loss curve, in an order where later ones can defer to earlier ones.
fn curve_findings(
    ctx: &Context,
    jepa: &Series,
    reg: Option<(&Series, &Prepared)>,
    rebound: &Rebound,
    prepared: &Prepared,
    spikes: &Spikes,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let after = ctx.warmup.map_or(0, |w| w.end_step);
    let drops = shape::sudden_drops(prepared, after);
    let collapse = loss_findings::collapse(ctx, jepa, prepared, reg, &drops);
    let collapsed = collapse.is_some();
    out.extend(collapse);
    out.extend(loss_findings::rebound(ctx, rebound));
    out.extend(loss_findings::sudden_drops(
        ctx, jepa, &drops, rebound, collapsed,
    ));
    out.extend(loss_findings::spikes(ctx, jepa, spikes));
    if !collapsed && !rebound.detected {
        out.extend(loss_findings::ending(ctx, jepa, prepared));
    }
    out
}

/// The most severe story the findings tell.
pub fn verdict_of(findings: &[Finding]) -> Verdict {
    let has = |code: Code| findings.iter().any(|f| f.code == code);
    let loss_nonfinite = findings
        .iter()
        .any(|f| f.code == Code::NonFinite && f.severity == Severity::Error);
    if loss_nonfinite {
        Verdict::Diverged
    } else if has(Code::Collapse) || has(Code::ReboundWithCollapse) {
        Verdict::Collapse
    } else if has(Code::SuddenDrop)
        || findings
            .iter()
            .any(|f| f.code == Code::Spikes && f.severity == Severity::Warning)
    {
        Verdict::Unstable
    } else if has(Code::Rebound) {
        Verdict::Rebound
    } else if has(Code::LrTooLow) && (has(Code::Plateau) || has(Code::SlowDescent)) {
        Verdict::Stalled
    } else if has(Code::InsufficientData) {
        Verdict::InsufficientData
    } else {
        Verdict::Healthy
    }
}

/// The verdict in one sentence.
fn headline(
    verdict: Verdict,
    findings: &[Finding],
    rebound: &Rebound,
    p: Option<&Prepared>,
) -> String {
    let first = |codes: &[Code]| findings.iter().find(|f| codes.contains(&f.code));
    let message = |codes: &[Code]| first(codes).map(|f| f.message.clone()).unwrap_or_default();
    match verdict {
        Verdict::Diverged => message(&[Code::NonFinite]),
        Verdict::Collapse => message(&[Code::Collapse, Code::ReboundWithCollapse]),
        Verdict::Unstable => {
            let mut parts = vec![message(&[Code::SuddenDrop, Code::Spikes])];
            if let Some(nf) = first(&[Code::NonFinite]) {
                parts.push(nf.message.clone());
            }
            parts.join("; ")
        }
        Verdict::Rebound => format!(
            "{}; check the checkpoints around the minimum downstream",
            message(&[Code::Rebound])
        ),
        Verdict::Stalled => format!(
            "{}; {}",
            message(&[Code::LrTooLow]),
            message(&[Code::Plateau, Code::SlowDescent])
        ),
        Verdict::InsufficientData => message(&[Code::InsufficientData]),
        Verdict::Healthy => match (p, rebound.series.as_deref()) {
            (Some(p), Some(series)) if !p.smoothed.is_empty() => {
                let start = p
                    .smoothed
                    .iter()
                    .chain(p.cleaned.first())
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                let end = p.smoothed.last().copied().unwrap_or(f64::NAN);
                let how = if first(&[Code::SlowDescent]).is_some() {
                    "and is still descending"
                } else if first(&[Code::Plateau]).is_some() {
                    "and has flattened"
                } else {
                    "without a rebound"
                };
                let action = if findings.iter().any(|f| f.severity >= Severity::Warning) {
                    "the curve is fine, but see the warnings"
                } else {
                    "nothing calls for action"
                };
                format!(
                    "{series} descended from {} to {} {how}; {action}",
                    fmt::value(start),
                    fmt::value(end)
                )
            }
            _ => "nothing calls for action".into(),
        },
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
