//! Deciding what a column means from its name (DESIGN §4), so that `loss-jepa`, `p`, `pred_loss`
//! and `train/jepa_loss` all become the JEPA loss, and `reg-loss`, `r`, `vc_loss`, `sigreg` the
//! regularization monitor. Flags override these guesses; this module only guesses.

use crate::model::Role;

/// The role a column named `name` most likely has.
pub fn role_from_name(name: &str) -> Role {
    // Lightning `self.log(name, on_step=True, on_epoch=True)` writes `name_step` (every logged
    // step) and `name_epoch` (the epoch mean): the per-step series takes the name's role, the
    // epoch means are kept as other series.
    if let Some(base) = name
        .strip_suffix("_step")
        .filter(|b| !b.is_empty() && !b.ends_with("global"))
    {
        return role_from_name(base);
    }
    if let Some(base) = name.strip_suffix("_epoch").filter(|b| !b.is_empty()) {
        return match role_from_name(base) {
            Role::Total | Role::Jepa | Role::Reg => Role::Other,
            role => role,
        };
    }
    let full = normalize(name);
    let leaf = full.rsplit('/').next().unwrap_or(&full).to_string();
    let has = |needle: &str| full.contains(needle);
    let first_word = full.split(['/', '_']).next().unwrap_or("");

    if [
        "time",
        "_ms",
        "duration",
        "throughput",
        "per_second",
        "runtime",
        "dataload",
    ]
    .iter()
    .any(|w| has(w))
    {
        return Role::Timing;
    }
    if matches!(first_word, "val" | "valid" | "validation" | "eval" | "test")
        || ["knn", "probe", "top1", "top5", "accuracy", "acc@"]
            .iter()
            .any(|w| has(w))
        || leaf == "acc"
        || leaf.ends_with("_acc")
    {
        return Role::Eval;
    }
    // DINO / MAE / iBOT log `train_lr`, `train_wd`.
    let bare = leaf.strip_prefix("train_").unwrap_or(&leaf);
    if bare == "lr" || leaf.starts_with("lr_") || leaf.ends_with("_lr") || has("learning_rate") {
        return Role::Lr;
    }
    if bare == "wd" || leaf.ends_with("_wd") || has("weight_decay") {
        return Role::Wd;
    }
    if has("grad_norm") || has("gradnorm") || leaf == "gnorm" {
        return Role::GradNorm;
    }
    if leaf == "ema" || leaf.starts_with("ema_") || has("momentum") {
        return Role::Ema;
    }
    // The term a multi-term loss logs under, without a `loss_` / `_loss` wrapper (`loss_a2v`).
    let term = leaf
        .strip_prefix("loss_")
        .or_else(|| leaf.strip_suffix("_loss"))
        .unwrap_or(&leaf);
    if JEPA.contains(&leaf.as_str()) || PAIR_TERMS.contains(&term) || leaf.contains("jepa") {
        return Role::Jepa;
    }
    if higher_means_spread(name) {
        return Role::Reg;
    }
    const REG: &[&str] = &[
        "r",
        "reg",
        "reg_loss",
        "loss_reg",
        "regularization",
        "vc_loss",
        "std_loss",
        "cov_loss",
        "var_loss",
        "variance_loss",
        "covariance_loss",
    ];
    if REG.contains(&leaf.as_str()) || leaf.contains("sigreg") || leaf.contains("vicreg") {
        return Role::Reg;
    }
    if matches!(
        leaf.as_str(),
        "loss" | "train_loss" | "total_loss" | "loss_total" | "objective"
    ) {
        return Role::Total;
    }
    Role::Other
}

/// Names of JEPA prediction losses: V-JEPA's `p` and `loss-jepa`, V-JEPA 2-AC's `[j, s]` (`jloss`, `sloss`)
/// (teacher-forcing and rollout terms), eb_jepa's `pred_loss`.
const JEPA: &[&str] = &[
    "p",
    "j",
    "s",
    "jloss",
    "sloss",
    "jepa",
    "pred_loss",
    "prediction_loss",
    "loss_pred",
];

/// Prediction pairs of audio-visual JEPAs (source 2 target, `a` audio, `v` video, `av` both):
/// each is one JEPA loss component.
const PAIR_TERMS: &[&str] = &[
    "a2a", "v2v", "av2av", "a2v", "v2a", "av2a", "av2v", "a2av", "v2av",
];

/// Whether `name` is a collapse monitor where a *higher* value means *more* spread: the std or
/// variance of predictions / targets (data2vec's `pred_var`, `target_var`; `pred_std`), or an
/// effective rank (RankMe). The opposite sense of V-JEPA's `reg-loss = mean(relu(1 − std))` and
/// of VICReg's `std_loss` / `var_loss`, which are hinge losses (higher = less spread).
pub fn higher_means_spread(name: &str) -> bool {
    let full = normalize(name);
    let leaf = full.rsplit('/').next().unwrap_or(&full);
    if leaf.contains("loss") {
        return false;
    }
    matches!(leaf, "std" | "var" | "variance" | "rankme" | "erank")
        || ["_std", "_var", "_variance"]
            .iter()
            .any(|s| leaf.ends_with(s))
        || ["std_", "var_"].iter().any(|p| leaf.starts_with(p))
        || leaf.contains("effective_rank")
}

/// Whether a downstream metric named `name` is better when higher (accuracy, kNN, probe) — not
/// when its name says loss or error, or is a word for one (`nll`, `mse`, `rmse`, `ppl`,
/// `perplexity`, `wer`, `cer`, `fid`). The one rule for ranking runs and for reading a metric
/// after the loss minimum: only a higher-is-better (accuracy-like) metric that falls is a
/// downstream sign of collapse; a validation *loss* that rises is the objective on held-out data.
pub fn higher_is_better(name: &str) -> bool {
    const LOWER_IS_BETTER: &[&str] = &[
        "nll",
        "mse",
        "rmse",
        "ppl",
        "perplexity",
        "wer",
        "cer",
        "fid",
    ];
    let name = normalize(name);
    !["loss", "error", "err"].iter().any(|w| name.contains(w))
        && !name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| LOWER_IS_BETTER.contains(&word))
}

/// True for names that hold the global step (or the iteration within an epoch, `itr`).
pub fn is_step_name(name: &str) -> bool {
    matches!(
        normalize(name).as_str(),
        "step"
            | "steps"
            | "global_step"
            | "trainer/global_step"
            | "train/global_step"
            | "iteration"
            | "iter"
            | "itr"
            | "_step"
    )
}

/// Lower case, `-` and spaces as `_`, a trailing unit in parentheses dropped: `gpu-time(ms)` →
/// `gpu_time_ms`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.trim().chars() {
        match ch {
            '-' | ' ' | '.' => out.push('_'),
            '(' | ')' => {
                if !out.ends_with('_') {
                    out.push('_');
                }
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    out.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_is_better_higher_and_losses_lower() {
        assert!(higher_is_better("probe_acc"));
        assert!(higher_is_better("knn_top1"));
        assert!(!higher_is_better("val/loss"));
        assert!(!higher_is_better("eval_error"));
        assert!(!higher_is_better("val_loss"));
        assert!(!higher_is_better("eval/perplexity"));
        assert!(!higher_is_better("val_nll"));
        assert!(!higher_is_better("test-mse"));
        assert!(higher_is_better("val_accuracy"));
        assert!(higher_is_better("val/top1"));
        assert!(higher_is_better("linear_probe"));
    }

    #[test]
    fn vjepa_columns() {
        assert_eq!(role_from_name("loss"), Role::Total);
        assert_eq!(role_from_name("loss-jepa"), Role::Jepa);
        assert_eq!(role_from_name("reg-loss"), Role::Reg);
        assert_eq!(role_from_name("enc-grad-norm"), Role::GradNorm);
        assert_eq!(role_from_name("pred-grad-norm"), Role::GradNorm);
        assert_eq!(role_from_name("gpu-time(ms)"), Role::Timing);
        assert_eq!(role_from_name("wall-time(ms)"), Role::Timing);
        assert_eq!(role_from_name("time (ms)"), Role::Timing);
        assert_eq!(role_from_name("iter-time(ms)"), Role::Timing);
        assert_eq!(role_from_name("dataload-time(ms)"), Role::Timing);
        assert_eq!(role_from_name("mask-A"), Role::Other);
    }

    #[test]
    fn multi_term_losses_and_spread_monitors() {
        for term in [
            "a2a", "v2v", "av2av", "a2v", "v2a", "av2a", "av2v", "a2av", "v2av",
        ] {
            assert_eq!(role_from_name(term), Role::Jepa, "{term}");
            assert_eq!(
                role_from_name(&format!("loss_{term}")),
                Role::Jepa,
                "{term}"
            );
            assert_eq!(
                role_from_name(&format!("train/{term}_loss")),
                Role::Jepa,
                "{term}"
            );
        }
        assert_eq!(role_from_name("j"), Role::Jepa);
        assert_eq!(role_from_name("s"), Role::Jepa);
        assert_eq!(role_from_name("pred_loss"), Role::Jepa);
        assert_eq!(role_from_name("vc_loss"), Role::Reg);
        for monitor in [
            "target_var",
            "pred_var",
            "pred_std",
            "train/target_std",
            "effective_rank",
        ] {
            assert_eq!(role_from_name(monitor), Role::Reg, "{monitor}");
            assert!(higher_means_spread(monitor), "{monitor}");
        }
        for hinge in ["reg-loss", "std_loss", "var_loss", "vc_loss", "r"] {
            assert!(!higher_means_spread(hinge), "{hinge}");
        }
        assert_eq!(role_from_name("train_lr"), Role::Lr);
        assert_eq!(role_from_name("train_wd"), Role::Wd);
        assert_eq!(role_from_name("train_loss"), Role::Total);
    }

    #[test]
    fn console_and_generic_names() {
        assert_eq!(role_from_name("p"), Role::Jepa);
        assert_eq!(role_from_name("r"), Role::Reg);
        assert_eq!(role_from_name("lr"), Role::Lr);
        assert_eq!(role_from_name("wd"), Role::Wd);
        assert_eq!(role_from_name("learning_rate"), Role::Lr);
        assert_eq!(role_from_name("lr-AdamW"), Role::Lr);
        assert_eq!(role_from_name("grad_norm"), Role::GradNorm);
        assert_eq!(role_from_name("train/jepa_loss"), Role::Jepa);
        assert_eq!(role_from_name("train/loss"), Role::Total);
        assert_eq!(role_from_name("vc_loss"), Role::Reg);
        assert_eq!(role_from_name("sigreg_loss"), Role::Reg);
        assert_eq!(role_from_name("val/loss"), Role::Eval);
        assert_eq!(role_from_name("eval_loss"), Role::Eval);
        assert_eq!(role_from_name("knn_top1"), Role::Eval);
        assert_eq!(role_from_name("probe_acc"), Role::Eval);
        assert_eq!(role_from_name("ema_momentum"), Role::Ema);
        assert_eq!(role_from_name("epoch"), Role::Other);
        assert_eq!(role_from_name("eval_runtime"), Role::Timing);
        assert_eq!(role_from_name("eval_samples_per_second"), Role::Timing);
    }

    #[test]
    fn step_names() {
        assert!(is_step_name("step"));
        assert!(is_step_name("Step"));
        assert!(is_step_name("global_step"));
        assert!(is_step_name("trainer/global_step"));
        assert!(is_step_name("_step"));
        assert!(!is_step_name("epoch"));
        assert!(!is_step_name("loss"));
    }

    #[test]
    fn normalize_drops_units() {
        assert_eq!(normalize("gpu-time(ms)"), "gpu_time_ms");
        assert_eq!(normalize("time (ms)"), "time_ms");
        assert_eq!(normalize("Loss-JEPA"), "loss_jepa");
    }
}
