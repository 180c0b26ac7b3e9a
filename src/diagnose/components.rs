//! Multi-term JEPAs log one loss per prediction pair or objective: audio-visual JEPAs `a2a v2v
//! av2av a2v v2a …`, V-JEPA 2-AC `[j, s]` (teacher forcing and rollout), eb_jepa `pred_loss`. Each
//! is a `jepa` component (see [`crate::ingest::roles`]); the analysed loss is their total when one
//! is logged. The rebound detector runs on every component, and `component-divergence` is found
//! when some components rebound while others keep falling — e.g. the intra-modal terms bottom
//! out and climb while the cross-modal ones keep improving: the total hides it, and the
//! checkpoint to keep depends on which terms matter downstream.

use serde_json::json;

use crate::human;
use crate::model::{Role, Run, Series, round_reported};

use super::finding::{Code, Finding, Severity};
use super::playbook::{self, Context};
use super::rebound::{self, Rebound, ReboundSettings, Warmup};

/// The JEPA components of a run (two or more `jepa` series), in column order.
pub fn jepa_components(run: &Run) -> Vec<&Series> {
    let found: Vec<&Series> = run.series.iter().filter(|s| s.role == Role::Jepa).collect();
    if found.len() >= 2 { found } else { Vec::new() }
}

/// The rebound decision on each component.
pub fn detect_each(
    run: &Run,
    warmup: Option<Warmup>,
    settings: &ReboundSettings,
) -> Vec<(String, Rebound)> {
    jepa_components(run)
        .into_iter()
        .map(|s| {
            let (r, _, _) = rebound::detect(s, None, &run.steps, warmup, settings);
            (s.name.clone(), r)
        })
        .collect()
}

/// A component that keeps falling: its end is within the rebound threshold of its minimum.
fn keeps_falling(r: &Rebound, settings: &ReboundSettings) -> bool {
    !r.detected && r.magnitude.is_some_and(|m| m < settings.min_magnitude)
}

/// `component-divergence` when some components rebound and others keep falling.
pub fn divergence(
    ctx: &Context,
    each: &[(String, Rebound)],
    settings: &ReboundSettings,
) -> Option<Finding> {
    let rising: Vec<&(String, Rebound)> = each.iter().filter(|(_, r)| r.detected).collect();
    let falling: Vec<&(String, Rebound)> = each
        .iter()
        .filter(|(_, r)| keeps_falling(r, settings))
        .collect();
    if rising.is_empty() || falling.is_empty() {
        return None;
    }
    let describe = |(name, r): &&(String, Rebound)| {
        format!(
            "{name} ({} back after step {})",
            human::percent(r.magnitude.unwrap_or(0.0)),
            r.min_step.unwrap_or(0)
        )
    };
    let rising_text: Vec<String> = rising.iter().map(describe).collect();
    let falling_names: Vec<&str> = falling.iter().map(|(n, _)| n.as_str()).collect();
    let first = rising.iter().filter_map(|(_, r)| r.min_step).min();
    let last = each.iter().filter_map(|(_, r)| r.last_step).max();
    let mut f = Finding::new(
        Code::ComponentDivergence,
        Severity::Warning,
        format!(
            "the loss terms diverge: {} rebound while {} keep falling — the total hides it; judge the checkpoints by the terms that matter downstream",
            rising_text.join(", "),
            falling_names.join(", ")
        ),
    )
    .steps(first, last)
    .evidence(json!({
        "components": each.iter().map(|(name, r)| json!({
            "series": name,
            "rebound": r.detected,
            "min_step": r.min_step,
            "magnitude": r.magnitude.map(round_reported),
            "p_value": r.p_value.map(round_reported),
        })).collect::<Vec<_>>(),
        "rebounding": rising.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        "falling": falling_names,
    }))
    .because("the rebound test (Mann–Kendall after the minimum, share of the descent given back) run on each jepa component; a component keeps falling when it ends within the rebound threshold of its minimum");
    if let (Some(a), Some(b)) = (first, last) {
        f.recommendations
            .push(playbook::validate_downstream(ctx, a, b));
    }
    f.recommendations.push(playbook::watch_components(ctx));
    Some(f)
}
