//! Findings about how the run was set up and kept numerically sane: non-finite values, the
//! learning-rate level, warmup and decay (from the config, else the logged LR), and config smells.

use serde_json::json;

use crate::human;
use crate::model::wide::is_marker;
use crate::model::{Role, Run, SeriesSummary, ValueKind};

use super::finding::{Code, Finding, Severity};
use super::playbook::{self, Context, REFERENCE_PEAK_LR};
use super::schedule::{logged_peak, lr_mismatch};

/// Whether `finding` is the non-finite finding of a loss that never had a finite value
/// (evidence `never_finite`), which is not a divergence.
pub fn never_finite(finding: &Finding) -> bool {
    finding.code == Code::NonFinite && finding.evidence["never_finite"] == true
}

/// A peak LR below this is "too low" (10× below the 1e-3 class).
pub const LR_TOO_LOW: f64 = 1e-4;

/// A loss (JEPA or total) that *ends* beyond the `f32` range (its last finite values have
/// |x| ≥ 3.4e38) ⇒ diverged, by level: training computes its loss in float32 or narrower, where
/// such a value is an overflow to ±inf; only a float64 reduction logs it finite. So it is the
/// divergence a `non-finite` loss is, reported as a finite value (its steps and exact value),
/// never as non-finite. A value beyond that the loss comes back from is an excursion, left to
/// the spike detector (`spikes`, with its exact value). One error naming the loss whose final
/// stretch beyond the range starts first.
pub fn loss_overflow(ctx: &Context, run: &Run) -> Option<Finding> {
    // At the limit too: past the kept values' bound a value is stored as ±f32::MAX.
    let limit = f64::from(f32::MAX);
    let (series, first, last, count, peak) = run
        .series
        .iter()
        .filter(|s| matches!(s.role, Role::Jepa | Role::Total))
        // Values beyond f32 are stored as markers: one tight pass finds the series that hold any.
        .filter(|s| s.values.iter().any(|v| is_marker(*v)))
        .filter_map(|s| {
            // The final stretch of values beyond the range: (first step, last step, count, peak).
            let mut stretch: Option<(u64, u64, usize, f64)> = None;
            for (step, v) in s.finite_points(&run.steps) {
                stretch = match stretch {
                    _ if v.abs() < limit => None,
                    None => Some((step, step, 1, v)),
                    Some((first, _, n, peak)) => Some((
                        first,
                        step,
                        n + 1,
                        if v.abs() > peak.abs() { v } else { peak },
                    )),
                };
            }
            stretch.map(|(first, last, n, peak)| (s, first, last, n, peak))
        })
        .min_by_key(|(_, first, _, _, _)| *first)?;
    let mut f = Finding::new(
        Code::LossOverflow,
        Severity::Error,
        format!(
            "{} went beyond the float32 range (±3.4e38) at {} and ended there ({count} values, the largest {}): the run diverged",
            series.name,
            ctx.when(first),
            human::value(peak),
        ),
    )
    .series(&series.name)
    .steps(Some(first), Some(last))
    .evidence(json!({"first_step": first, "count": count, "peak": peak, "float32_max": limit}))
    .because("a loss computed in float32 (or bf16/fp16) overflows to ±inf beyond ±3.4e38; a finite value there was reduced in float64 from a run that had already diverged, and this one never came back");
    f.recommendations.push(playbook::stabilise(ctx));
    f.recommendations.push(playbook::explore_lr(ctx));
    Some(f)
}

/// Non-finite values: in a loss that was finite first ⇒ diverged (one error); a loss never
/// finite ⇒ a logging fault (a warning when another loss is analysed, else "no usable loss", an
/// error); in other series (grad norms, timings, monitors) one warning listing them.
pub fn non_finite(ctx: &Context, run: &Run, summaries: &[SeriesSummary]) -> Vec<Finding> {
    struct Hit<'a> {
        name: &'a str,
        role: Role,
        count: usize,
        points: usize,
        first: u64,
        kind: &'static str,
        last: Option<u64>,
    }
    let mut losses = Vec::new();
    let mut others = Vec::new();
    for (s, summary) in run.series.iter().zip(summaries) {
        if summary.non_finite == 0 {
            continue;
        }
        let Some((first, kind)) = s.first_non_finite(&run.steps) else {
            continue;
        };
        let hit = Hit {
            name: &s.name,
            role: s.role,
            count: summary.non_finite,
            points: summary.points,
            first,
            kind: match kind {
                ValueKind::PosInf => "inf",
                ValueKind::NegInf => "-inf",
                _ => "nan",
            },
            last: summary.last_step,
        };
        if matches!(s.role, Role::Jepa | Role::Total) {
            losses.push(hit);
        } else {
            others.push(hit);
        }
    }
    let evidence = |hits: &[Hit]| {
        json!(hits
            .iter()
            .map(|h| json!({"series": h.name, "role": h.role.as_str(), "count": h.count, "points": h.points, "first_step": h.first, "first_value": h.kind}))
            .collect::<Vec<_>>())
    };
    let mut out = Vec::new();
    // A loss without one finite value was never computed or recorded: a logging fault, not a
    // divergence. With another loss to analyse it is a warning; with none it is the error of
    // "no usable loss" (`analyze` refuses such a run before this; `watch` meets it early).
    let (never, diverged): (Vec<Hit>, Vec<Hit>) = losses
        .into_iter()
        .partition(|h| h.count > 0 && h.count == h.points);
    if let Some(first) = never.first() {
        let names: Vec<String> = never
            .iter()
            .map(|h| format!("{} is {} at all {} logged points", h.name, h.kind, h.points))
            .collect();
        let analysed = ctx
            .jepa
            .as_deref()
            .filter(|j| never.iter().all(|h| h.name != *j));
        let (severity, message) = match analysed {
            Some(j) => (
                Severity::Warning,
                format!(
                    "{}: never finite, a logging or pipeline fault, not a divergence (the analysis reads {j} instead)",
                    names.join(", ")
                ),
            ),
            None => (
                Severity::Error,
                format!(
                    "no usable loss: {} — never finite, so nothing diverged: a logging or pipeline fault (check what is written to {}, and that the loss is computed at all)",
                    names.join(", "),
                    if never.len() == 1 {
                        "this column"
                    } else {
                        "these columns"
                    }
                ),
            ),
        };
        out.push(
            Finding::new(Code::NonFinite, severity, message)
                .series(first.name)
                .steps(Some(first.first), first.last)
                .evidence(json!({"series": evidence(&never), "never_finite": true}))
                .because("a run that diverges is finite first; a loss that is nan or ±inf from its first logged point was never computed or recorded correctly"),
        );
    }
    if let Some(first) = diverged.iter().min_by_key(|h| h.first) {
        let names: Vec<&str> = diverged.iter().map(|h| h.name).collect();
        let mut f = Finding::new(
            Code::NonFinite,
            Severity::Error,
            format!(
                "{} became {} at {} ({} non-finite values): the run diverged",
                names.join(" and "),
                first.kind,
                ctx.when(first.first),
                first.count
            ),
        )
        .series(first.name)
        .steps(Some(first.first), first.last)
        .evidence(json!({"series": evidence(&diverged)}))
        .because(
            "a loss that is nan or ±inf means the optimisation diverged (V-JEPA asserts and stops)",
        );
        f.recommendations.push(playbook::stabilise(ctx));
        f.recommendations.push(playbook::explore_lr(ctx));
        out.push(f);
    }
    if let Some(first) = others.iter().min_by_key(|h| h.first) {
        let parts: Vec<String> = others
            .iter()
            .map(|h| {
                format!(
                    "{} ({}) {} from {}",
                    h.name,
                    h.role.as_str(),
                    h.count,
                    ctx.when(h.first)
                )
            })
            .collect();
        let grad = others.iter().any(|h| h.role == Role::GradNorm);
        let mut f = Finding::new(
            Code::NonFinite,
            Severity::Warning,
            format!(
                "non-finite values in {}{}",
                parts.join(", "),
                if grad && never.is_empty() && diverged.is_empty() {
                    " — those updates overflowed while the loss stayed finite; frequent ones come before divergence"
                } else {
                    ""
                }
            ),
        )
        .series(first.name)
        .steps(Some(first.first), others.iter().filter_map(|h| h.last).max())
        .evidence(json!({"series": evidence(&others)}))
        .because("nan or ±inf outside the loss: a warning, not a divergence");
        if grad {
            f.recommendations.push(playbook::stabilise(ctx));
        }
        out.push(f);
    }
    out
}

/// LR level, warmup and decay, from the config or the logged LR.
pub fn learning_rate(ctx: &Context, run: &Run) -> Vec<Finding> {
    let mut out = Vec::new();
    // The 1e-3 class is the V-JEPA recipes'; DINO / iBOT and data2vec peak elsewhere.
    if let Some((peak, source)) = ctx.peak_lr
        && peak < LR_TOO_LOW
        && ctx.family.uses_jepa_lr_class()
    {
        let mut f = Finding::new(
            Code::LrTooLow,
            Severity::Warning,
            format!("peak LR {} ({source}) is {}", human::sci(peak), playbook::lr_relation(peak)),
        )
        .evidence(json!({"peak_lr": peak, "source": source, "reference": REFERENCE_PEAK_LR, "factor_below": crate::model::round_reported(REFERENCE_PEAK_LR / peak)}))
        .because(format!("a peak below {} (10× under the 1e-3 class) stalls the descent", human::sci(LR_TOO_LOW)));
        f.recommendations.push(playbook::raise_lr(ctx));
        out.push(f);
    }
    let params = ctx.params;
    let config_lr = params.and_then(|p| p.lr);
    // A cooldown run (V-JEPA 2 `is_anneal: true`) has no warmup by design.
    let cooldown = params.is_some_and(|p| p.is_anneal == Some(true));
    let no_warmup_config = !cooldown
        && params.is_some_and(|p| {
            p.warmup_epochs == Some(0.0)
                || matches!((p.start_lr, p.lr), (Some(s), Some(l)) if s >= l)
        });
    let lr_series = run.first_with_role(Role::Lr);
    let logged: Vec<(u64, f64)> = lr_series
        .map(|s| s.finite_points(&run.steps).collect())
        .unwrap_or_default();
    let logged_peak_lr = logged_peak(run, Role::Lr);
    let no_warmup_logged = !cooldown
        && config_lr.is_none()
        && logged.len() >= 10
        && logged_peak_lr.is_some_and(|p| logged[0].1 >= 0.9 * p);
    if no_warmup_config || no_warmup_logged {
        let detail = match params {
            Some(p) if no_warmup_config => format!(
                "warmup {} epochs, start_lr {} vs peak {}",
                human::value(p.warmup_epochs.unwrap_or(0.0)),
                p.start_lr.map_or("-".into(), human::sci),
                p.lr.map_or("-".into(), human::sci)
            ),
            _ => format!(
                "the logged LR starts at {} of its peak",
                human::percent(logged[0].1 / logged_peak_lr.unwrap_or(1.0))
            ),
        };
        let mut f = Finding::new(
            Code::NoWarmup,
            Severity::Warning,
            format!("no learning-rate warmup ({detail})"),
        )
        .evidence(json!({"from": if no_warmup_config { "config" } else { "logged" }}))
        .because(
            "the reference recipes warm up linearly from start_lr to the peak over several epochs",
        );
        f.recommendations.push(playbook::raise_lr(ctx));
        out.push(f);
    }
    // final_lr not below the peak is no decay, unless it is the stable phase of a
    // warmup-stable-decay schedule (a warmup, then constant: the decay is a separate cooldown).
    let no_decay_config = params.is_some_and(|p| {
        matches!((p.final_lr, p.lr), (Some(f), Some(l)) if f >= l)
            && !ctx.schedule.as_ref().is_some_and(|s| s.decays())
    });
    // A logged LR that has started to come down (a long cosine the run ended early in) decays.
    let no_decay_logged = config_lr.is_none()
        && logged.len() >= 20
        && logged_peak_lr.is_some_and(|p| logged[logged.len() - 1].1 >= 0.999 * p)
        && logged[0].1 < logged_peak_lr.unwrap_or(0.0);
    if no_decay_config || no_decay_logged {
        let mut f = Finding::new(
            Code::NoDecay,
            Severity::Info,
            if no_decay_config {
                "no learning-rate decay: final_lr is not below the peak".to_string()
            } else {
                "no learning-rate decay in this run: the logged LR is still at its peak at the end (fine if this is the stable phase of a warmup-stable-decay schedule with a separate cooldown run)".to_string()
            },
        )
        .because("the reference recipes decay the LR with a cosine after warmup");
        f.recommendations.push(playbook::raise_lr(ctx));
        out.push(f);
    }
    out
}

/// Config smells: warmup ≥ epochs, reg_coeff 0 with a reg column, constant EMA with constant LR,
/// a logged LR that does not follow the config.
pub fn config_smells(ctx: &Context, run: &Run) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(p) = ctx.params else { return out };
    if let (Some(w), Some(e)) = (p.warmup_epochs, p.epochs)
        && w >= e
    {
        out.push(
            Finding::new(
                Code::ConfigSmell,
                Severity::Warning,
                format!("warmup ({} epochs) is not shorter than the run ({} epochs): the LR never reaches its peak schedule", human::value(w), human::value(e)),
            )
            .evidence(json!({"smell": "warmup-not-shorter-than-run", "warmup": w, "epochs": e})),
        );
    }
    if p.reg_coeff == Some(0.0)
        && let Some(reg) = run.first_with_role(Role::Reg)
    {
        out.push(
            Finding::new(
                Code::ConfigSmell,
                Severity::Info,
                format!("{} is logged but loss.reg_coeff is 0: it is a monitor, not part of the objective (as in the shipped configs)", reg.name),
            )
            .evidence(json!({"smell": "reg-coeff-zero", "series": reg.name})),
        );
    }
    let constant_ema = p.ema.is_some_and(|(a, b)| a == b);
    let constant_lr =
        matches!((p.start_lr, p.lr, p.final_lr), (Some(s), Some(l), Some(f)) if s == l && f == l);
    if constant_ema && constant_lr {
        out.push(
            Finding::new(
                Code::ConfigSmell,
                Severity::Warning,
                format!("constant EMA momentum ({}) with a constant LR: the targets never settle as training goes on", p.ema.map_or(0.0, |e| e.0)),
            )
            .evidence(json!({"smell": "constant-ema-constant-lr"})),
        );
    }
    if let Some(schedule) = &ctx.schedule
        && let Some(off) = lr_mismatch(run, schedule).filter(|d| *d > 0.05)
    {
        out.push(
            Finding::new(
                Code::ConfigSmell,
                Severity::Info,
                format!("the logged LR departs from the config's schedule by up to {} (another config, a resumed run with changed settings, or a different scheduler)", human::percent(off)),
            )
            .evidence(json!({"smell": "lr-schedule-mismatch", "max_relative_difference": crate::model::round_reported(off)})),
        );
    }
    out
}
