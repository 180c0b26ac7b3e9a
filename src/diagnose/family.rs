//! Which kind of self-supervised method wrote the run, as far as its format, config and column
//! names say: the advice differs by method. A V-JEPA recipe peaks its LR in the 1e-3 class and
//! logs a `reg-loss` hinge monitor; DINO / iBOT scale the LR with the batch and collapse to a
//! uniform or one-hot teacher output (there is no reg loss to read); data2vec regresses to an EMA
//! teacher's averaged layers and logs the variances of predictions and targets. Telling a DINO run
//! to "watch the reg-loss" or that its LR is "below the V-JEPA class" is advice for another model.
//!
//! The rule, first match wins:
//! 1. **JEPA** (V-JEPA, V-JEPA 2, I-JEPA): a JEPA log format (`vjepa-csv`, `vjepa2-csv`,
//!    `ijepa-csv`, the V-JEPA console log), a params YAML, or a series in the `jepa` role.
//! 2. **Self-distillation** (DINO, iBOT): a column named for it (`dino…`, `ibot…`, `koleo…`), or
//!    the `log.txt` of `main_dino.py` / `main_ibot.py`: `train_loss` next to `train_wd`.
//! 3. **data2vec** (fairseq): a fairseq log, or the columns data2vec logs (`target_var`,
//!    `pred_var`, `ema_decay`).
//! 4. **Unknown**: none of these; the advice is the JEPA playbook's, as before.

use crate::ingest::roles::normalize;
use crate::model::{Role, Run};

/// The method family of a run (see the module doc for how it is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// V-JEPA / V-JEPA 2 / I-JEPA: L1 / L2 regression of predicted features to EMA-encoder targets.
    Jepa,
    /// DINO / iBOT: cross-entropy between the student's and a centred, sharpened EMA teacher's
    /// softmax over K prototypes (Caron et al. 2021; Zhou et al. 2022).
    SelfDistillation,
    /// data2vec: regression to the EMA teacher's averaged top layers (Baevski et al. 2022).
    Data2vec,
    /// Nothing in the log says.
    Unknown,
}

impl Family {
    /// The family of `run` (module doc, rule 1–4).
    pub fn of(run: &Run) -> Family {
        let format = run.input.format.as_str();
        let jepa_format = matches!(
            format,
            "vjepa-csv" | "vjepa2-csv" | "ijepa-csv" | "console-log"
        );
        if jepa_format || run.params.is_some() || run.first_with_role(Role::Jepa).is_some() {
            return Family::Jepa;
        }
        let names: Vec<String> = run.series.iter().map(|s| normalize(&s.name)).collect();
        let has = |n: &str| names.iter().any(|x| x == n);
        let named_for = |prefixes: &[&str]| {
            names.iter().any(|x| {
                let leaf = x.rsplit('/').next().unwrap_or(x);
                prefixes
                    .iter()
                    .any(|p| leaf.starts_with(p) || leaf.contains(&format!("_{p}")))
            })
        };
        if named_for(&["dino", "ibot", "koleo"]) || (has("train_loss") && has("train_wd")) {
            return Family::SelfDistillation;
        }
        if format == "fairseq-log" || has("target_var") || has("pred_var") || has("ema_decay") {
            return Family::Data2vec;
        }
        Family::Unknown
    }

    /// Whether the V-JEPA recipes' LR class (1e-3) is the reference for this run's peak LR.
    pub fn uses_jepa_lr_class(self) -> bool {
        matches!(self, Family::Jepa | Family::Unknown)
    }

    /// The method, as a reader names it in advice.
    pub fn method(self) -> &'static str {
        match self {
            Family::Jepa | Family::Unknown => "JEPA",
            Family::SelfDistillation => "DINO / iBOT",
            Family::Data2vec => "data2vec",
        }
    }
}
