//! Recommendations, following the playbook (DESIGN §6) and quoting the run's own values: learning
//! rate (start high, 1e-3 class, warm up, decay), monitoring (several components, downstream
//! validation, feature distribution), architecture (predictor depth and width, masks,
//! regularization coefficient). Each function returns one recommendation; the detectors pick the
//! ones relevant to what they found. The wording follows the run's [`Family`]: a DINO / iBOT or
//! data2vec run is not held to the V-JEPA LR class, and no run is told about a reg loss it does
//! not have.

use crate::human;
use crate::model::Run;
use crate::params::RunParams;

use super::family::Family;
use super::rebound::Warmup;
use super::schedule::Schedule;

/// The LR class the V-JEPA / I-JEPA recipes use.
pub const REFERENCE_PEAK_LR: f64 = 1e-3;

/// The run's values the recommendations quote.
pub struct Context<'a> {
    pub run: &'a Run,
    pub params: Option<&'a RunParams>,
    pub schedule: Option<Schedule>,
    pub warmup: Option<Warmup>,
    pub jepa: Option<String>,
    pub reg: Option<String>,
    /// Peak LR and where it came from ("config" or "logged").
    pub peak_lr: Option<(f64, &'static str)>,
    /// The method that wrote the run, which decides how the advice is phrased.
    pub family: Family,
}

impl Context<'_> {
    fn epoch_of(&self, step: u64) -> Option<f64> {
        let ipe = self.run.ipe().or(self.schedule.as_ref().map(|s| s.ipe))?;
        Some(step as f64 / ipe as f64 + 1.0)
    }

    /// `step 1200 (epoch 13)` or `step 1200`.
    pub fn when(&self, step: u64) -> String {
        match self.epoch_of(step) {
            Some(e) => format!("step {step} (epoch {})", e.floor() as u64),
            None => format!("step {step}"),
        }
    }
}

/// How a peak LR relates to the 1e-3 class.
pub fn lr_relation(peak: f64) -> String {
    let ratio = REFERENCE_PEAK_LR / peak;
    if ratio >= 2.0 {
        format!(
            "{}× below the 1e-3 class that V-JEPA recipes use",
            human::value(ratio)
        )
    } else if ratio <= 0.2 {
        format!(
            "{}× above the 1e-3 class that V-JEPA recipes use",
            human::value(1.0 / ratio)
        )
    } else {
        "in the 1e-3 class that V-JEPA recipes use".into()
    }
}

/// The schedule as the config states it, in one clause.
fn schedule_clause(ctx: &Context) -> Option<String> {
    let (peak, source) = ctx.peak_lr?;
    let mut parts = vec![if ctx.family.uses_jepa_lr_class() {
        format!(
            "peak LR {} ({source}, {})",
            human::sci(peak),
            lr_relation(peak)
        )
    } else {
        format!("peak LR {} ({source})", human::sci(peak))
    }];
    if let Some(p) = ctx.params {
        if let Some(start) = p.start_lr {
            parts.push(format!("start {}", human::sci(start)));
        }
        if let (Some(w), Some(s)) = (p.warmup_epochs, &ctx.schedule) {
            parts.push(format!(
                "warmup {} epochs ({} steps)",
                human::value(w),
                s.warmup_steps
            ));
        }
        if let Some(s) = &ctx.schedule
            && p.final_lr.is_some()
        {
            parts.push(s.describe());
        }
    }
    Some(parts.join(", "))
}

/// Learning rate, for a run whose LR looks too low.
pub fn raise_lr(ctx: &Context) -> String {
    let current = schedule_clause(ctx).unwrap_or_else(|| "the peak LR".into());
    match ctx.family {
        // main_dino.py: `--lr` 5e-4 at batch 256, scaled linearly with the batch, `--warmup_epochs` 10.
        Family::SelfDistillation => format!(
            "Learning rate: {current}. DINO / iBOT scale the peak with the batch (5e-4 × batch/256 in DINO) after a linear warmup (10 epochs), then decay it with a cosine; a peak far below that, or a warmup longer than the run, keeps the loss from descending."
        ),
        Family::Data2vec => format!(
            "Learning rate: {current}. Compare the peak and its warmup with the data2vec recipe for this modality (the fairseq config's `lr` and warmup updates); a peak far below it, or a warmup longer than the run, keeps the loss from descending."
        ),
        Family::Jepa | Family::Unknown => format!(
            "Learning rate: {current}. Start high — a peak around 1e-3 (e.g. 6e-4 to 1.5e-3) with linear warmup, then decay progressively; for a small batch do not scale the LR down linearly, linear scaling does not hold for SSL ViTs."
        ),
    }
}

/// Learning rate, for instability or collapse: explore lower peaks and longer warmup (a cooldown
/// run, which has no warmup by design, keeps its linear decay).
pub fn explore_lr(ctx: &Context) -> String {
    let cooldown = ctx
        .schedule
        .as_ref()
        .is_some_and(|s| s.kind == super::schedule::ScheduleKind::LinearDecay);
    let now = ctx
        .schedule
        .as_ref()
        .filter(|_| ctx.params.and_then(|p| p.final_lr).is_some())
        .map(|s| format!(" (now {}):", s.describe()))
        .unwrap_or_else(|| ":".into());
    match ctx.peak_lr {
        Some((peak, _)) => {
            let warm = ctx
                .params
                .and_then(|p| p.warmup_epochs)
                .filter(|_| !cooldown)
                .map(|w| format!(" and a longer warmup than {} epochs", human::value(w)))
                .unwrap_or_default();
            format!(
                "Learning rate{now} explore a lower peak than {} (try {} and {}){warm}; keep the decay.",
                human::sci(peak),
                human::sci(peak / 2.0),
                human::sci(peak / 4.0)
            )
        }
        None => "Learning rate: explore a lower peak LR and a longer warmup; keep a decay after the peak.".into(),
    }
}

/// EMA momentum of the target encoder.
pub fn explore_ema(ctx: &Context) -> String {
    match ctx.params.and_then(|p| p.ema) {
        Some((m0, m1)) => {
            let schedule = if m0 == m1 {
                format!("is constant at {m0}")
            } else {
                format!("ramps {m0} → {m1}")
            };
            format!(
                "EMA: the target encoder's momentum {schedule}; a higher start (e.g. {}) moves the targets more slowly and steadies the prediction task.",
                human::value((1.0 - (1.0 - m0) / 2.0).min(0.9999))
            )
        }
        None => "EMA: a higher target-encoder momentum moves the targets more slowly and steadies the prediction task.".into(),
    }
}

/// Downstream validation of checkpoints before, at and after a minimum.
pub fn validate_downstream(ctx: &Context, min_step: u64, last_step: u64) -> String {
    let start = ctx.warmup.map_or(0, |w| w.end_step).min(min_step);
    let before = start + (min_step - start) / 2;
    let after = min_step + last_step.saturating_sub(min_step) / 2;
    let proxy = match ctx.family {
        Family::Jepa | Family::Unknown => "the JEPA loss is a proxy against moving EMA targets",
        Family::SelfDistillation => "the distillation loss is a proxy against a moving EMA teacher",
        Family::Data2vec => "the data2vec loss is a proxy against moving EMA-teacher targets",
    };
    format!(
        "Validate downstream: {proxy}. Probe (kNN, linear or attentive probe) the checkpoints nearest to {} (before the minimum), {} (the minimum), {} and the last one, {}; keep the one that transfers best.",
        ctx.when(before),
        ctx.when(min_step),
        ctx.when(after),
        ctx.when(last_step)
    )
}

/// Downstream validation along a plateau; "converged" only when the plateau is at the run's
/// minimum level.
pub fn validate_plateau(ctx: &Context, from: u64, to: u64, at_minimum: bool) -> String {
    if at_minimum {
        format!(
            "The loss no longer tells you much here: compare downstream probes of the checkpoints nearest to {} and {} — if they still improve, training is useful; if not, this LR has converged.",
            ctx.when(from),
            ctx.when(to)
        )
    } else {
        format!(
            "The loss flattened above its minimum: compare downstream probes of the checkpoints nearest to {} and {} with the one at the minimum — the flat stretch is not convergence.",
            ctx.when(from),
            ctx.when(to)
        )
    }
}

/// Monitor several components.
pub fn watch_components(ctx: &Context) -> String {
    match (&ctx.jepa, &ctx.reg) {
        // A std / variance monitor means the opposite of V-JEPA's reg-loss: higher = more spread.
        (Some(j), Some(r)) if crate::ingest::roles::higher_means_spread(r) => format!(
            "Monitoring: read {j} and {r} together, not the total alone — a rebound with {r} steady or rising is the targets getting harder; with {r} falling toward 0 it is collapse."
        ),
        (Some(j), Some(r)) => format!(
            "Monitoring: read {j} and {r} together, not the total alone — a rebound with {r} falling is the targets getting harder; with {r} rising it is collapse."
        ),
        (Some(j), None) if ctx.family == Family::SelfDistillation => format!(
            "Monitoring: log the teacher's output entropy and the student–teacher KL next to {j}: both collapses (to one prototype, or to the uniform output) drive the KL to 0, which the loss alone does not show."
        ),
        (Some(j), None) if ctx.family == Family::Data2vec => format!(
            "Monitoring: log target_var and pred_var next to {j} (the variances of targets and predictions data2vec reports): without them a rebound cannot be told apart from collapse."
        ),
        (Some(j), None) => format!(
            "Monitoring: log a collapse monitor next to {j} (V-JEPA's reg-loss = mean(relu(1 − std)) of the predictions, or the prediction std): without it a rebound cannot be told apart from collapse."
        ),
        _ => "Monitoring: log the JEPA loss and a collapse monitor (prediction std) separately."
            .into(),
    }
}

/// Watch the feature distribution, naming the run's own collapse monitor (none when it logs
/// none); for DINO / iBOT, the teacher's output distribution.
pub fn watch_features(ctx: &Context) -> String {
    if ctx.family == Family::SelfDistillation {
        return "Output distribution: track the teacher's output entropy and the student–teacher KL (Caron et al. 2021, avoiding collapse): the KL falling to 0 with the entropy at 0 is collapse to one prototype, with the entropy at ln K collapse to the uniform output.".into();
    }
    let monitor = match &ctx.reg {
        // A std / variance monitor goes to 0 with the spread; a hinge on the std to 1.
        Some(r) if crate::ingest::roles::higher_means_spread(r) => format!(" ({r} → 0)"),
        Some(r) => format!(" ({r} → 1)"),
        None => String::new(),
    };
    format!(
        "Feature distribution: track the per-dimension std of predictor outputs and targets and their effective rank; std → 0{monitor} means the representations are collapsing."
    )
}

/// Architecture: predictor, masks, regularization.
pub fn architecture(ctx: &Context) -> String {
    let mut parts = Vec::new();
    if let Some(p) = ctx.params {
        match (p.pred_depth, p.pred_embed_dim) {
            (Some(d), Some(w)) => parts.push(format!("predictor depth {d}, width {w}")),
            (Some(d), None) => parts.push(format!("predictor depth {d}")),
            _ => {}
        }
        if !p.masks.is_empty() {
            let masks: Vec<String> = p
                .masks
                .iter()
                .map(|m| match (m.num_blocks, m.spatial_scale) {
                    (Some(n), Some(s)) => format!("{n} blocks of scale {s}"),
                    (Some(n), None) => format!("{n} blocks"),
                    _ => "?".into(),
                })
                .collect();
            parts.push(format!("masks {}", masks.join(" + ")));
        }
        if let Some(c) = p.reg_coeff {
            parts.push(format!("reg_coeff {c}"));
        }
    }
    let current = if parts.is_empty() {
        String::new()
    } else {
        format!(" (now: {})", parts.join(", "))
    };
    // The reg coefficient is advice only for a run with a regularization term (V-JEPA's
    // reg-loss); V-JEPA 2 and I-JEPA have none.
    let has_reg = ctx.reg.is_some() || ctx.params.is_some_and(|p| p.reg_coeff.is_some());
    let reg = if has_reg {
        "a regularization coefficient above 0 penalises collapse directly (the shipped configs use 0, a pure monitor); "
    } else {
        ""
    };
    format!(
        "Architecture{current}: {reg}harder masks (larger or more blocks) and a predictor that is not too shallow keep the prediction task informative."
    )
}

/// Gradient clipping and numerical stability.
pub fn stabilise(ctx: &Context) -> String {
    let clip = ctx
        .params
        .and_then(|p| p.clip_grad)
        .map(|c| format!(" (clip_grad is {c})"))
        .unwrap_or_default();
    format!(
        "Stability: clip gradients{clip}, check mixed-precision loss scaling, and lower the peak LR or lengthen warmup if spikes precede the trouble."
    )
}
