//! MLflow params as the run's config. A training script logs its hyper-parameters under its own
//! names (`mlflow.log_params`, or the autologgers: Lightning logs the optimizer's `lr` and
//! `weight_decay`, the Hugging Face callback `learning_rate`, `warmup_steps`, `max_grad_norm`, …);
//! the diagnosis and `compare` read the keys of the V-JEPA params YAML (`optimization.lr`,
//! `optimization.warmup`, `optimization.ema`, …, see [`crate::params::RunParams`]). This module
//! maps the one onto the other, so the same run gives the same config whether its settings came
//! from a YAML or from MLflow.
//!
//! Rules, in order: a key already in the YAML's layout (`optimization.lr`, `loss.reg_coeff`;
//! `/` accepted for `.`) is taken as is; otherwise the key (or the last part of a dotted key
//! under `optimizer.`, `train.`, `args.`, `hparams.`, `config.` …) is looked up, ignoring case, in
//! [`ALIASES`]; `ema_start` + `ema_end` become the `[start, end]` pair of `optimization.ema`. Any
//! other param is kept as `params.<name>`, so `compare` shows it when runs differ. Values are
//! read as YAML (`0.001`, `[0.996, 1.0]`, a Python tuple `(0.996, 1.0)` as a list); `None` and
//! empty values are dropped.

use yaml_serde::{Mapping, Value};

use crate::params::RunParams;

/// Param names (lower case) and the params-YAML key each means. `warmup_steps` has no YAML
/// counterpart (the YAML's warmup is in epochs): it is kept under `optimization.warmup_steps`.
pub const ALIASES: &[(&[&str], &str)] = &[
    (
        &["lr", "learning_rate", "base_lr", "peak_lr", "max_lr"],
        "optimization.lr",
    ),
    (
        &["start_lr", "warmup_start_lr", "initial_lr"],
        "optimization.start_lr",
    ),
    (&["final_lr", "min_lr", "end_lr"], "optimization.final_lr"),
    (&["warmup", "warmup_epochs"], "optimization.warmup"),
    (&["warmup_steps"], "optimization.warmup_steps"),
    (
        &["epochs", "num_epochs", "max_epochs", "num_train_epochs"],
        "optimization.epochs",
    ),
    (&["ipe", "iterations_per_epoch"], "optimization.ipe"),
    (
        &["ema", "ema_momentum", "ema_decay", "momentum_teacher"],
        "optimization.ema",
    ),
    (&["weight_decay", "wd"], "optimization.weight_decay"),
    (
        &["final_weight_decay", "weight_decay_end", "final_wd"],
        "optimization.final_weight_decay",
    ),
    (
        &[
            "clip_grad",
            "grad_clip",
            "max_grad_norm",
            "gradient_clip_val",
        ],
        "optimization.clip_grad",
    ),
    (&["reg_coeff"], "loss.reg_coeff"),
    (
        &[
            "batch_size",
            "per_device_train_batch_size",
            "batch_size_per_gpu",
        ],
        "data.batch_size",
    ),
    (&["pred_depth"], "model.pred_depth"),
    (&["model_name"], "model.model_name"),
];

/// Sections of the params YAML: a dotted key under one of them is already a config key.
const SECTIONS: &[&str] = &["optimization", "loss", "model", "data", "mask"];

/// Prefixes scripts put before a hyper-parameter's name (`optimizer.lr`, `args.lr`).
const PREFIXES: &[&str] = &[
    "optimizer",
    "optim",
    "opt",
    "train",
    "training",
    "trainer",
    "args",
    "hparams",
    "config",
    "cfg",
];

/// The config key a param name maps to (see the module documentation).
pub fn config_key(name: &str) -> String {
    let key = name.trim().replace('/', ".");
    if let Some((section, _)) = key.split_once('.')
        && SECTIONS.contains(&section)
    {
        return key;
    }
    let lower = key.to_lowercase();
    let leaf = match lower.split_once('.') {
        Some((prefix, rest)) if PREFIXES.contains(&prefix) => rest,
        _ => lower.as_str(),
    };
    ALIASES
        .iter()
        .find(|(names, _)| names.contains(&leaf))
        .map_or_else(|| format!("params.{key}"), |(_, k)| (*k).to_string())
}

/// A param's text as a YAML value; `None` for `None`, `null` and empty values.
fn value_of(text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() || text == "None" || text == "null" {
        return None;
    }
    // A Python tuple, as `str((0.996, 1.0))` logs it: the same as a YAML list.
    let text = match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(inner) => format!("[{inner}]"),
        None => text.to_string(),
    };
    Some(yaml_serde::from_str::<Value>(&text).unwrap_or(Value::String(text)))
}

/// The run config from MLflow params (`(name, value as logged)`); `None` when there are none.
/// `path` names the params in messages and in the report's `config`.
pub fn params_from(params: &[(String, String)], path: &str) -> Option<RunParams> {
    let mut root = Mapping::new();
    let mut ema = (None, None);
    // Keys already in the YAML's layout first: they win over an alias naming the same key.
    let mut keyed: Vec<(bool, String, &str)> = params
        .iter()
        .map(|(name, text)| {
            let key = config_key(name);
            let exact = key.replace('/', ".") == name.trim().replace('/', ".");
            (!exact, key, text.as_str())
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (_, key, text) in keyed {
        let Some(value) = value_of(text) else {
            continue;
        };
        match key.as_str() {
            "params.ema_start" => ema.0 = Some(value.clone()),
            "params.ema_end" => ema.1 = Some(value.clone()),
            _ => {}
        }
        insert(&mut root, &key, value);
    }
    if let (Some(start), Some(end)) = ema {
        insert(
            &mut root,
            "optimization.ema",
            Value::Sequence(vec![start, end]),
        );
    }
    if root.is_empty() {
        return None;
    }
    let text = yaml_serde::to_string(&Value::Mapping(root)).ok()?;
    RunParams::from_yaml(&text, path).ok()
}

/// Sets `section.name` (the name may hold dots) unless the key is set already.
fn insert(root: &mut Mapping, key: &str, value: Value) {
    let (section, name) = key.split_once('.').unwrap_or(("params", key));
    let entry = root
        .entry(Value::String(section.to_string()))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if let Value::Mapping(m) = entry {
        m.entry(Value::String(name.to_string())).or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> RunParams {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params_from(&params, "mlruns/0/run/params").expect("a config")
    }

    #[test]
    fn names_scripts_and_autologgers_use_map_onto_the_yaml_keys() {
        let p = config(&[
            ("learning_rate", "0.001"),
            ("warmup", "4"),
            ("ema", "0.996"),
            ("weight_decay", "0.04"),
            ("weight_decay_end", "0.4"),
            ("max_grad_norm", "1.0"),
            ("num_train_epochs", "300"),
            ("per_device_train_batch_size", "32"),
            ("reg_coeff", "0.1"),
            ("seed", "7"),
        ]);
        assert_eq!(p.lr, Some(0.001));
        assert_eq!(p.warmup_epochs, Some(4.0));
        assert_eq!(p.ema, Some((0.996, 0.996)));
        assert_eq!(p.weight_decay, Some(0.04));
        assert_eq!(p.final_weight_decay, Some(0.4));
        assert_eq!(p.clip_grad, Some(1.0));
        assert_eq!(p.epochs, Some(300.0));
        assert_eq!(p.batch_size, Some(32));
        assert_eq!(p.reg_coeff, Some(0.1));
        let settings: Vec<&str> = p.settings.iter().map(|(k, _)| k.as_str()).collect();
        for key in ["optimization.lr", "optimization.warmup", "params.seed"] {
            assert!(settings.contains(&key), "{key} in {settings:?}");
        }
    }

    #[test]
    fn dotted_keys_tuples_and_ema_pairs() {
        let p = config(&[
            ("optimization/lr", "0.000625"),
            ("optimizer.lr", "0.5"),
            ("optimization.ema", "(0.998, 1.0)"),
            ("model.pred_depth", "12"),
            ("final_lr", "None"),
        ]);
        // The key in the YAML's own layout wins over an alias of it.
        assert_eq!(p.lr, Some(0.000625));
        assert_eq!(p.ema, Some((0.998, 1.0)));
        assert_eq!(p.pred_depth, Some(12));
        assert_eq!(p.final_lr, None);
        let p = config(&[
            ("ema_start", "0.996"),
            ("ema_end", "1.0"),
            ("args.lr", "3e-4"),
        ]);
        assert_eq!(p.ema, Some((0.996, 1.0)));
        assert_eq!(p.lr, Some(3e-4));
        assert!(params_from(&[], "x").is_none());
    }

    #[test]
    fn config_keys_of_param_names() {
        assert_eq!(config_key("LR"), "optimization.lr");
        assert_eq!(config_key("warmup_steps"), "optimization.warmup_steps");
        assert_eq!(config_key("loss/reg_coeff"), "loss.reg_coeff");
        assert_eq!(config_key("optimizer_name"), "params.optimizer_name");
    }
}
