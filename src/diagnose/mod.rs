//! From a clean run to a diagnosis, as data: which series is the JEPA loss, where warmup ends, the
//! rebound decision, changepoints, every finding of DESIGN §6 with evidence and recommendations,
//! and the one-sentence verdict. Renderers only describe this.

pub mod collapse;
pub mod components;
pub mod descent;
pub mod family;
pub mod finding;
pub mod loss_findings;
pub mod loss_series;
pub mod playbook;
pub mod rebound;
pub mod schedule;
pub mod setup_findings;
pub mod shape;
pub mod spikes;

use serde::Serialize;

use crate::human;
use crate::model::{Role, Run, Series, SeriesSummary};
use crate::stats::changepoint::{LinearTrend, changepoints};
use collapse::Episode;
use finding::{Code, Finding, Severity, Verdict};
pub use loss_series::{jepa_series, reg_series, require_loss};
use playbook::Context;
use rebound::{Prepared, Rebound, ReboundSettings, RegTrend, Warmup, WarmupSource};
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
    /// Stretches where the collapse monitor collapsed and recovered (drawn in the figure).
    pub transient_collapses: Vec<Episode>,
    /// The rebound decision on each JEPA component of a multi-term loss.
    pub components: Vec<(String, Rebound)>,
}

/// Analyses a run.
pub fn diagnose(run: &Run, settings: &AnalysisSettings) -> Diagnosis {
    let jepa = jepa_series(run);
    let reg = reg_series(run);
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
        family: family::Family::of(run),
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
    let (mut rebound, prepared, reg_prepared) = match detected {
        Some((rebound, prepared, reg_prepared)) => (rebound, Some(prepared), reg_prepared),
        None => (Rebound::nothing_found(), None, None),
    };
    // One set of numbers: the end level (a median of the last window) can sit below the smoothed
    // minimum; then the minimum is that low.
    if let (Some(min), Some(end)) = (rebound.min_value, rebound.end_value)
        && end < min
    {
        rebound.min_value = Some(end);
        rebound.magnitude = rebound.magnitude.map(|m| m.max(0.0));
    }
    let components = components::detect_each(run, warmup, &settings.rebound);
    // The changepoint searches (the costliest part on short runs) on one core, the findings on
    // the other.
    let (changepoints, (findings, spikes, transient)) = std::thread::scope(|scope| {
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
            &components,
            &settings.rebound,
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
    // A reg-loss that burst to collapse and recovered has no single trend over the span.
    if transient.iter().any(|e| {
        rebound
            .min_step
            .is_some_and(|m| e.last_step >= m && rebound.reg.is_some())
    }) {
        rebound.reg_trend_after_min = RegTrend::Burst;
    }
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
        transient_collapses: transient,
        components,
    }
}

/// Every finding, most severe first, the spikes found on the JEPA loss and the transient
/// collapses of the monitor.
#[allow(clippy::too_many_arguments)]
fn findings_of(
    ctx: &Context,
    summaries: &[SeriesSummary],
    rebound: &Rebound,
    components: &[(String, Rebound)],
    settings: &ReboundSettings,
    jepa: Option<&Series>,
    prepared: Option<&Prepared>,
    reg: Option<(&Series, &Prepared)>,
) -> (Vec<Finding>, Option<Spikes>, Vec<Episode>) {
    let run = ctx.run;
    let mut findings = setup_findings::non_finite(ctx, run, summaries);
    findings.extend(setup_findings::loss_overflow(ctx, run));
    let mut transient = Vec::new();
    let spikes = match (jepa, prepared) {
        (Some(jepa), Some(prepared)) => {
            let spikes = spikes::detect(jepa, &run.steps, prepared);
            let (curve, episodes) = curve_findings(ctx, jepa, reg, rebound, prepared, &spikes);
            findings.extend(curve);
            transient = episodes;
            Some(spikes)
        }
        _ => None,
    };
    findings.extend(components::divergence(ctx, components, settings));
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
    (findings, spikes, transient)
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
) -> (Vec<Finding>, Vec<Episode>) {
    let mut out = Vec::new();
    let after = ctx.warmup.map_or(0, |w| w.end_step);
    let drops = shape::sudden_drops(prepared, after);
    let reading = collapse::collapse(ctx, jepa, prepared, reg, &drops);
    let collapsed = reading
        .finding
        .as_ref()
        .is_some_and(|f| f.severity == Severity::Error);
    let no_descent = if collapsed {
        None
    } else {
        descent::no_descent(ctx, jepa, prepared)
    };
    let stalled = no_descent.is_some();
    out.extend(reading.finding);
    out.extend(no_descent);
    if !collapsed && !stalled {
        out.extend(loss_findings::rebound(ctx, rebound, &reading.transient));
    }
    if !stalled {
        out.extend(loss_findings::sudden_drops(
            ctx, jepa, &drops, rebound, collapsed,
        ));
    }
    out.extend(loss_findings::spikes(ctx, jepa, spikes));
    if !collapsed && !stalled && !rebound.detected {
        out.extend(loss_findings::ending(ctx, jepa, prepared, &drops));
    }
    (out, reading.transient)
}

/// The most severe story the findings tell.
pub fn verdict_of(findings: &[Finding]) -> Verdict {
    let has = |code: Code| findings.iter().any(|f| f.code == code);
    let loss_nonfinite = |never: bool| {
        findings.iter().any(|f| {
            f.code == Code::NonFinite
                && f.severity == Severity::Error
                && setup_findings::never_finite(f) == never
        })
    };
    if loss_nonfinite(false) || has(Code::LossOverflow) {
        Verdict::Diverged
    } else if loss_nonfinite(true) {
        // No finite loss at all (what `watch` can meet before a finite row; `analyze` refuses
        // it): nothing was seen to diverge, there is no data to judge.
        Verdict::InsufficientData
    } else if findings
        .iter()
        .any(|f| f.code == Code::Collapse && f.severity == Severity::Error)
        || has(Code::ReboundWithCollapse)
    {
        Verdict::Collapse
    } else if has(Code::NoDescent) {
        Verdict::Stalled
    } else if has(Code::SuddenDrop)
        || has(Code::Collapse)
        || findings
            .iter()
            .any(|f| f.code == Code::Spikes && f.severity == Severity::Warning)
    {
        Verdict::Unstable
    } else if has(Code::Rebound) || has(Code::ComponentDivergence) {
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
        Verdict::Diverged => message(&[Code::NonFinite, Code::LossOverflow]),
        Verdict::Collapse => message(&[Code::Collapse, Code::ReboundWithCollapse]),
        Verdict::Unstable => {
            // The gravest story first: a transient collapse, then drops, then spikes.
            let lead = [Code::Collapse, Code::SuddenDrop, Code::Spikes]
                .iter()
                .find_map(|c| first(&[*c]))
                .map(|f| f.message.clone())
                .unwrap_or_default();
            let mut parts = vec![lead];
            if let Some(nf) = first(&[Code::NonFinite]) {
                parts.push(nf.message.clone());
            }
            parts.join("; ")
        }
        Verdict::Rebound => format!(
            "{}; check the checkpoints around the minimum downstream",
            message(&[Code::Rebound, Code::ComponentDivergence])
        ),
        Verdict::Stalled => match first(&[Code::NoDescent]) {
            Some(f) => f.message.clone(),
            None => format!(
                "{}; {}",
                message(&[Code::LrTooLow]),
                message(&[Code::Plateau, Code::SlowDescent])
            ),
        },
        Verdict::InsufficientData => match first(&[Code::NonFinite]) {
            Some(f) if setup_findings::never_finite(f) => f.message.clone(),
            _ => message(&[Code::InsufficientData]),
        },
        Verdict::Healthy => match (p, rebound.series.as_deref()) {
            (Some(p), Some(series)) if !p.smoothed.is_empty() => {
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
                // The same numbers as the rebound line of the body: smoothed start and minimum,
                // the end as the median of the last smoothing window.
                match (
                    rebound.start_value,
                    rebound.min_value,
                    rebound.min_step,
                    rebound.end_value,
                ) {
                    (Some(start), Some(min), Some(at), Some(end)) => format!(
                        "{series} descended from {} to {} (smoothed; minimum at step {at}, {} at the end) {how}; {action}",
                        human::value(start),
                        human::value(min),
                        human::value(end)
                    ),
                    _ => format!(
                        "{series} ends at {} (smoothed) {how}; {action}",
                        human::value(p.smoothed.last().copied().unwrap_or(f64::NAN))
                    ),
                }
            }
            _ => "nothing calls for action".into(),
        },
    }
}

/// Share of the one-segment cost a changepoint must remove (see [`changepoints`]).
pub const CHANGEPOINT_MIN_GAIN: f64 = 0.01;

/// Changepoints of a prepared series: piecewise-linear PELT on its de-spiked block medians,
/// segments of at least max(3, B/25) blocks (4% of the run: regimes, not wiggles).
fn series_changepoints(name: &str, prepared: &Prepared) -> Vec<Changepoint> {
    let min_size = (prepared.cleaned.len() / 25).max(3);
    changepoints(
        &prepared.cleaned,
        LinearTrend::new,
        min_size,
        CHANGEPOINT_MIN_GAIN,
    )
    .into_iter()
    .map(|i| Changepoint {
        series: name.to_string(),
        step: prepared.blocks.first_step[i],
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
