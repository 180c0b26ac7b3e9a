//! Findings about the loss curve itself: rebound (and the joint reading with the regularization
//! monitor and downstream metrics), collapse, sudden drops and periodic crashes, spikes, how the
//! run ends, and too little data.

use serde_json::json;

use crate::human;
use crate::ingest::roles::{higher_is_better, higher_means_spread};
use crate::model::{Role, Series};

use super::collapse::Episode;
use super::collapse::loss_level::dropped_suddenly;
use super::finding::{Code, Finding, Severity};
use super::playbook::{self, Context};
use super::rebound::{Power, Prepared, Rebound, RegTrend};
use super::schedule::place;
use super::shape::{self, Ending};
use super::spikes::Spikes;

/// Fewest finite points for the tests to mean something.
pub const MIN_POINTS_FOR_TESTS: usize = 20;

/// The rebound, read jointly with the regularization monitor and any downstream metric.
pub fn rebound(ctx: &Context, r: &Rebound, transient: &[Episode]) -> Option<Finding> {
    if !r.detected {
        return None;
    }
    let (min_step, last) = (r.min_step?, r.last_step?);
    let series = r.series.clone().unwrap_or_default();
    let mag = human::percent(r.magnitude.unwrap_or(0.0));
    let p = human::p_eq(r.p_value.unwrap_or(1.0));
    let downstream = downstream_after(ctx, min_step);
    let eval = downstream.accuracy;
    let reg_name = r
        .reg
        .as_ref()
        .map(|d| d.series.clone())
        .unwrap_or_else(|| "reg-loss".into());
    // A spread monitor (pred_var, pred_std) collapses by falling; a hinge monitor by rising.
    let spread = higher_means_spread(&reg_name);
    let collapsing = if spread {
        RegTrend::Falling
    } else {
        RegTrend::Rising
    };
    let collapse_by_reg = r.reg_trend_after_min == collapsing;
    let collapse_by_eval = eval.as_ref().is_some_and(|e| e.worse);
    let (code, severity, message) = if collapse_by_reg {
        (
            Code::ReboundWithCollapse,
            Severity::Error,
            format!(
                "{series} rose back {mag} of its descent after {}, {p}, while {reg_name} rose ({}): the predictions are losing their spread — collapse",
                ctx.when(min_step),
                human::signed(r.reg.as_ref().map_or(0.0, |d| d.change))
            ),
        )
    } else if collapse_by_eval {
        let e = eval.as_ref()?;
        (
            Code::ReboundWithCollapse,
            Severity::Error,
            format!(
                "{series} rose back {mag} of its descent after {}, {p}, while {} got worse ({} → {}): the representation is degrading",
                ctx.when(min_step),
                e.name,
                human::value(e.at_min),
                human::value(e.last)
            ),
        )
    } else {
        let reading = match r.reg_trend_after_min {
            RegTrend::Burst => {
                let recovered = transient
                    .last()
                    .and_then(|e| e.recovered_step)
                    .map_or(String::new(), |s| format!(", recovering at step {s}"));
                format!(
                    "while {reg_name} burst to collapse and back{recovered} (a transient collapse: no single trend)"
                )
            }
            RegTrend::Falling | RegTrend::Rising => format!(
                "while {reg_name} keeps {} — shifting EMA targets, the model is still learning",
                if spread {
                    "rising (more spread)"
                } else {
                    "falling"
                }
            ),
            RegTrend::Flat => format!(
                "while {reg_name} stays flat — the EMA targets getting harder to predict, not collapse by itself"
            ),
            _ => "with no regularization monitor to tell shifting targets from collapse".into(),
        };
        // A validation loss that rose with it is said, and said not to be collapse.
        let reading = match &downstream.loss {
            Some(v) => format!(
                "{reading}; {} rose with it ({} → {}) — a validation loss follows the same objective (moving targets, or overfitting in supervised training), not evidence of collapse",
                v.name,
                human::value(v.at_min),
                human::value(v.last)
            ),
            None => reading,
        };
        (
            Code::Rebound,
            Severity::Warning,
            format!(
                "{series} rose back {mag} of its descent after its minimum at {}, {p}, {reading}",
                ctx.when(min_step)
            ),
        )
    };
    let place = place(
        min_step,
        ctx.run,
        ctx.schedule.as_ref(),
        ctx.warmup.map(|w| w.end_step),
    );
    let mut f = Finding::new(code, severity, message)
        .series(&series)
        .steps(Some(min_step), Some(last))
        .evidence(json!({
            "min_step": min_step,
            "min_value": r.min_value.map(crate::model::round_reported),
            "onset_step": r.onset_step,
            "end_value": r.end_value.map(crate::model::round_reported),
            "magnitude": r.magnitude.map(crate::model::round_reported),
            "p_value": r.p_value.map(crate::model::round_reported),
            "slope_per_1k_steps": r.slope_per_1k_steps.map(crate::model::round_reported),
            "reg_trend_after_min": r.reg_trend_after_min.as_str(),
            "reg_change": r.reg.as_ref().map(|d| crate::model::round_reported(d.change)),
            "epoch_at_min": place.epoch.map(crate::model::round_reported),
            "steps_after_warmup": place.after_warmup,
            "lr_at_min": place.lr.map(crate::model::round_reported),
            "lr_share_of_peak_at_min": place.lr_of_peak.map(crate::model::round_reported),
            "downstream": eval.as_ref().map(|e| json!({"series": e.name, "at_min": e.at_min, "last": e.last})),
            "validation_loss": downstream.loss.as_ref().map(|e| json!({"series": e.name, "at_min": e.at_min, "last": e.last})),
        }))
        .because(format!(
            "magnitude = (end − min)/(start − min) = ({} − {})/({} − {}) = {mag}",
            human::value(r.end_value.unwrap_or(f64::NAN)),
            human::value(r.min_value.unwrap_or(f64::NAN)),
            human::value(r.start_value.unwrap_or(f64::NAN)),
            human::value(r.min_value.unwrap_or(f64::NAN))
        ));
    // The test, the selection of the minimum, the plateau and the flat bottom (rebound.rs).
    for line in r.method_lines() {
        f = f.because(line);
    }
    if let Some(reg) = &r.reg {
        f = f.because(format!(
            "{} over the same steps: change {} (threshold {}), {} → {}",
            reg.series,
            human::signed(reg.change),
            human::value(reg.change_threshold),
            human::p_eq(reg.p_value),
            r.reg_trend_after_min.as_str()
        ));
    }
    if let Some(e) = &eval {
        f = f.because(format!(
            "{} (downstream, higher is better) {} at the minimum, {} at the end: {}",
            e.name,
            human::value(e.at_min),
            human::value(e.last),
            if e.worse {
                "fell by 5% or more — the representation got worse"
            } else {
                "did not fall by 5% — no downstream sign of collapse"
            }
        ));
    }
    if let Some(v) = &downstream.loss {
        f = f.because(format!(
            "{} rose {} → {}; a validation loss is the objective on held-out data, so it is not read as collapse (only an accuracy-like downstream metric falling is)",
            v.name,
            human::value(v.at_min),
            human::value(v.last)
        ));
    }
    if let (Some(after), Some(share)) = (place.after_warmup, place.lr_of_peak) {
        f = f.because(format!(
            "the minimum comes {after} steps after warmup ended, with the LR at {} of its peak",
            human::percent(share)
        ));
    }
    f.recommendations
        .push(playbook::validate_downstream(ctx, min_step, last));
    f.recommendations.push(playbook::watch_components(ctx));
    if code == Code::ReboundWithCollapse {
        f.recommendations.push(playbook::watch_features(ctx));
        f.recommendations.push(playbook::explore_lr(ctx));
        f.recommendations.push(playbook::explore_ema(ctx));
        f.recommendations.push(playbook::architecture(ctx));
    } else {
        f.recommendations.push(playbook::watch_features(ctx));
    }
    Some(f)
}

struct Downstream {
    name: String,
    at_min: f64,
    last: f64,
    worse: bool,
}

/// The downstream reading after the JEPA minimum at `min_step`: `accuracy` is the first
/// accuracy-like metric (role eval, higher is better: probe, kNN, top-1) that got worse by ≥ 5%
/// (relative) between the minimum and the end, else the first one there is; `loss` the first
/// validation loss (role eval, lower is better: `val_loss`, `eval_loss`) that rose by ≥ 5%.
/// Only the accuracy is evidence of collapse (DESIGN §6: "downstream metric falls"): a
/// validation loss measures the training objective on held-out data, so after the minimum it
/// rises with the targets of an EMA JEPA just as the training loss does, and in supervised
/// fine-tuning it rises with overfitting; neither is a representation losing its spread.
struct DownstreamReading {
    accuracy: Option<Downstream>,
    loss: Option<Downstream>,
}

fn downstream_after(ctx: &Context, min_step: u64) -> DownstreamReading {
    let read = |eval: &Series| -> Option<Downstream> {
        let points: Vec<(u64, f64)> = eval.finite_points(&ctx.run.steps).collect();
        let at_min = points
            .iter()
            .rev()
            .find(|(s, _)| *s <= min_step)
            .or(points.first())?
            .1;
        let (last_step, last) = *points.last()?;
        if last_step <= min_step {
            return None;
        }
        let change = (last - at_min) / at_min.abs().max(f64::MIN_POSITIVE);
        let worse = if higher_is_better(&eval.name) {
            change <= -0.05
        } else {
            change >= 0.05
        };
        Some(Downstream {
            name: eval.name.clone(),
            at_min,
            last,
            worse,
        })
    };
    let evals = || ctx.run.series.iter().filter(|s| s.role == Role::Eval);
    let accuracies: Vec<Downstream> = evals()
        .filter(|s| higher_is_better(&s.name))
        .filter_map(read)
        .collect();
    let accuracy = match accuracies.iter().position(|d| d.worse) {
        Some(i) => accuracies.into_iter().nth(i),
        None => accuracies.into_iter().next(),
    };
    let loss = evals()
        .filter(|s| !higher_is_better(&s.name))
        .filter_map(read)
        .find(|d| d.worse);
    DownstreamReading { accuracy, loss }
}

/// Sudden drops that are not the collapse itself; periodic crashes when regular.
pub fn sudden_drops(
    ctx: &Context,
    jepa: &Series,
    drops: &[shape::Drop],
    rebound: &Rebound,
    collapsed: bool,
) -> Option<Finding> {
    let drops: Vec<&shape::Drop> = drops.iter().filter(|_| !collapsed).collect();
    let first = drops.first()?;
    let owned: Vec<shape::Drop> = drops.iter().map(|d| **d).collect();
    let period = shape::drop_period(&owned);
    let after_rebound = rebound
        .min_step
        .filter(|_| rebound.detected)
        .is_some_and(|m| first.step > m);
    let largest = drops
        .iter()
        .max_by(|a, b| a.share_of_descent.total_cmp(&b.share_of_descent))
        .map_or(first.step, |d| d.step);
    let message = match period {
        Some(p) => format!(
            "{} crashed {} times from {}, every ~{} steps, each followed by a recovery: periodic partial collapses ({} more after the first, {})",
            jepa.name,
            drops.len(),
            ctx.when(first.step),
            human::value(p),
            drops.len() - 1,
            if largest == first.step {
                "which is the largest".to_string()
            } else {
                format!("the largest at step {largest}")
            }
        ),
        None => {
            format!(
                "{}{}",
                dropped_suddenly(ctx, &jepa.name, first),
                if drops.len() > 1 {
                    format!(" ({} such drops)", drops.len())
                } else {
                    String::new()
                }
            ) + if after_rebound {
                " after the rebound: a partial collapse"
            } else {
                ""
            }
        }
    };
    let steps: Vec<u64> = drops.iter().map(|d| d.step).collect();
    let mut f = Finding::new(Code::SuddenDrop, Severity::Warning, message)
        .series(&jepa.name)
        .steps(Some(first.step), drops.last().map(|d| d.step))
        .evidence(json!({
            "count": drops.len(),
            "count_after_first": drops.len() - 1,
            "steps": steps,
            "largest_step": largest,
            "period_steps": period,
            "largest_share_of_descent": drops.iter().map(|d| d.share_of_descent).fold(0.0, f64::max),
            "after_rebound": after_rebound,
        }))
        .because("falls within 1% of the run to below the preceding trend by ≥ 10% of the descent and ≥ 6 noise σ, from a level held for several windows; a period when ≥ 4 drops come at intervals within ±40% of their median");
    f.recommendations.push(playbook::explore_lr(ctx));
    f.recommendations.push(playbook::explore_ema(ctx));
    f.recommendations.push(playbook::watch_features(ctx));
    Some(f)
}

/// Spikes in a loss series.
pub fn spikes(ctx: &Context, series: &Series, s: &Spikes) -> Option<Finding> {
    let worst = s.worst()?;
    let big = s.events.iter().filter(|e| e.ratio >= 2.0).count();
    let severity = if big >= 3 || worst.ratio >= 3.0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    // A peak near f64::MAX over a level below 1 has no finite ratio.
    let how_far = if worst.ratio.is_finite() {
        format!("{}× its level", human::value(worst.ratio))
    } else {
        "beyond any ratio to its level".to_string()
    };
    let mut message = format!(
        "{} spike{} in {}; the worst, {} at {}, is {how_far}",
        s.events.len(),
        if s.events.len() == 1 { "" } else { "s" },
        series.name,
        human::value(worst.peak_value),
        ctx.when(worst.peak_step),
    );
    if let Some(p) = s.period {
        message.push_str(&format!(
            "; they recur every ~{} steps (look at the data pipeline)",
            human::value(p)
        ));
    }
    let mut f = Finding::new(Code::Spikes, severity, message)
        .series(&series.name)
        .steps(s.events.first().map(|e| e.first_step), s.events.last().map(|e| e.last_step))
        .evidence(json!({
            "count": s.events.len(),
            "points": s.points,
            "worst_step": worst.peak_step,
            "worst_value": crate::model::round_reported(worst.peak_value),
            "worst_ratio": crate::model::round_reported(worst.ratio),
            "over_2x": big,
            "period_steps": s.period,
            "steps": s.events.iter().take(20).map(|e| e.peak_step).collect::<Vec<_>>(),
        }))
        .because("robust z ≥ 6 and ≥ 1.25× the local level, or ≥ 2× the level and z ≥ 3 (level: de-spiked smoothed curve; scale: local median absolute deviation)");
    if severity == Severity::Warning {
        f.recommendations.push(playbook::stabilise(ctx));
        f.recommendations.push(playbook::explore_lr(ctx));
    }
    Some(f)
}

/// How the run ends: plateau or still descending (skipped when a rebound or collapse explains
/// the end, and no plateau over a stretch that holds sudden drops).
pub fn ending(
    ctx: &Context,
    jepa: &Series,
    prepared: &Prepared,
    drops: &[shape::Drop],
) -> Option<Finding> {
    let (e, from, to, descent) = shape::ending(prepared)?;
    let level = prepared.smoothed.last().copied().unwrap_or(f64::NAN);
    let min = prepared
        .smoothed
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let f = match e {
        Ending::Plateau { p: pv, change } => {
            if drops.iter().any(|d| d.step >= from && d.step <= to) {
                return None;
            }
            // "No trend" only when the test says so; a significant but negligible change is
            // called what it is.
            let trend = if pv >= 0.05 {
                format!("no significant trend ({})", human::p_eq(pv))
            } else {
                format!(
                    "a significant but negligible change ({}, {} of the descent)",
                    human::p_eq(pv),
                    human::percent(change.abs() / descent)
                )
            };
            let above = (level - min) / descent;
            let at_minimum = above <= 0.1;
            let whereabouts = if at_minimum {
                "at its minimum level".to_string()
            } else {
                format!(
                    "{} of the descent above its minimum {}",
                    human::percent(above),
                    human::value(min)
                )
            };
            let mut f = Finding::new(
                Code::Plateau,
                Severity::Info,
                format!(
                    "{trend} over the last quarter of the run (steps {from}–{to}): {} has flattened at {} (smoothed), {whereabouts}",
                    jepa.name,
                    human::value(level)
                ),
            )
            .evidence(json!({"p_value": crate::model::round_reported(pv), "change": crate::model::round_reported(change), "share_of_descent": crate::model::round_reported(change / descent), "level": crate::model::round_reported(level), "minimum": crate::model::round_reported(min), "above_minimum_share_of_descent": crate::model::round_reported(above)}))
            .because(format!(
                "Mann–Kendall (Hamed–Rao) {} over the last 25% of the steps; change {} = {} of the descent",
                human::p_eq(pv),
                human::signed(change),
                human::percent(change / descent)
            ));
            f.recommendations
                .push(playbook::validate_plateau(ctx, from, to, at_minimum));
            f
        }
        Ending::SlowDescent { p: pv, change } => Finding::new(
            Code::SlowDescent,
            Severity::Info,
            format!(
                "{} is still falling steadily at the end ({} over steps {from}–{to}, {} of its descent): far from converged",
                jepa.name,
                human::signed(change),
                human::percent(-change / descent)
            ),
        )
        .evidence(json!({"p_value": crate::model::round_reported(pv), "change": crate::model::round_reported(change), "share_of_descent": crate::model::round_reported(-change / descent)}))
        .because("a significant fall (prepared < 0.01) of at least 10% of the descent over the last 25% of the steps"),
        Ending::Other { .. } => return None,
    };
    Some(f.series(&jepa.name).steps(Some(from), Some(to)))
}

/// Too few points for the tests, saying what was seen anyway.
pub fn insufficient(jepa: Option<&Series>, points: usize, r: &Rebound) -> Option<Finding> {
    let lacks_power = r.power == Power::Insufficient;
    if points >= MIN_POINTS_FOR_TESTS && !lacks_power {
        return None;
    }
    let name = jepa.map_or("the loss".to_string(), |s| s.name.clone());
    let message = if points == 0 {
        "no finite loss values: nothing to analyse".to_string()
    } else if lacks_power {
        format!("{name}: {}", r.summary)
    } else {
        format!(
            "only {} of {name}: too few for the trend tests; {}",
            human::count(points as u64, "finite point"),
            r.summary
        )
    };
    Some(
        Finding::new(Code::InsufficientData, Severity::Info, message)
            .evidence(json!({"points": points, "min_attainable_p": r.min_attainable_p.map(crate::model::round_reported)}))
            .because(format!(
                "Mann–Kendall needs ~6 points to reach p < 0.01 and the other tests ~{MIN_POINTS_FOR_TESTS}"
            )),
    )
}
