//! The training configuration a run wrote next to its logs (`params-pretrain.yaml`,
//! `params-ijepa.yaml`, ...), reduced to the numbers the diagnosis uses.
//!
//! The upstream code writes the YAML as a mapping, or as a list holding one mapping; keys differ a
//! little between V-JEPA, V-JEPA 2 and I-JEPA (`pred_embed_dim` vs `pred_emb_dim`), unknown keys are
//! normal and ignored. Every field is optional: a config that lacks a value simply does not inform
//! the analysis.

use yaml_serde::Value;

use crate::error::IngestError;

/// Schedule and architecture numbers from a params YAML (DESIGN §4).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunParams {
    /// Where it was read from, as given.
    pub path: String,
    /// Peak learning rate (`optimization.lr`).
    pub lr: Option<f64>,
    pub start_lr: Option<f64>,
    pub final_lr: Option<f64>,
    /// Warmup length in epochs (`optimization.warmup`).
    pub warmup_epochs: Option<f64>,
    pub epochs: Option<f64>,
    /// Iterations per epoch (`optimization.ipe`).
    pub ipe: Option<u64>,
    /// Stretch of the cosine schedule beyond `epochs` (`optimization.ipe_scale`).
    pub ipe_scale: Option<f64>,
    /// `optimization.is_anneal`: a V-JEPA 2 cooldown run (linear LR decay, no warmup by design).
    pub is_anneal: Option<bool>,
    /// `optimization.anneal`: epochs of the final linear decay of a warmup-stable-decay schedule.
    pub anneal_epochs: Option<f64>,
    /// EMA momentum start and end (`optimization.ema`).
    pub ema: Option<(f64, f64)>,
    pub weight_decay: Option<f64>,
    pub final_weight_decay: Option<f64>,
    pub clip_grad: Option<f64>,
    /// `loss.reg_coeff`: 0 makes the reg-loss a pure monitor.
    pub reg_coeff: Option<f64>,
    pub pred_depth: Option<u64>,
    pub pred_embed_dim: Option<u64>,
    pub model_name: Option<String>,
    pub batch_size: Option<u64>,
    /// One entry per mask generator: (number of blocks, spatial scale).
    pub masks: Vec<MaskSpec>,
    /// Every scalar setting of the file as `section.key` → value (lists of scalars as one array,
    /// lists of mappings indexed `mask.0.num_blocks`), in file order: what `compare` diffs.
    pub settings: Vec<(String, serde_json::Value)>,
}

/// One multi-block mask generator of the config.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskSpec {
    pub num_blocks: Option<u64>,
    pub spatial_scale: Option<f64>,
}

impl RunParams {
    /// Parses YAML text; `path` is only used for messages.
    pub fn from_yaml(text: &str, path: &str) -> Result<RunParams, IngestError> {
        let doc: Value = yaml_serde::from_str(text).map_err(|e| IngestError::Yaml {
            path: path.to_string(),
            line: e.location().map(|l| l.line() as u64),
            message: e.to_string(),
        })?;
        let root = match doc {
            Value::Mapping(_) => doc,
            Value::Sequence(items) if items.len() == 1 && items[0].is_mapping() => {
                items.into_iter().next().unwrap_or(Value::Null)
            }
            other => {
                return Err(IngestError::Yaml {
                    path: path.to_string(),
                    line: None,
                    message: format!(
                        "expected a mapping (or a list of one mapping) of config sections, found {}",
                        describe(&other)
                    ),
                });
            }
        };
        let opt = |key: &str| root.get("optimization").and_then(|o| o.get(key));
        let model = |key: &str| root.get("model").and_then(|o| o.get(key));
        let ema = opt("ema").and_then(|v| match v.as_sequence() {
            Some(pair) if pair.len() == 2 => Some((number(&pair[0])?, number(&pair[1])?)),
            _ => number(v).map(|x| (x, x)),
        });
        Ok(RunParams {
            path: path.to_string(),
            lr: opt("lr").and_then(number),
            start_lr: opt("start_lr").and_then(number),
            final_lr: opt("final_lr").and_then(number),
            warmup_epochs: opt("warmup").and_then(number),
            epochs: opt("epochs").and_then(number),
            ipe: opt("ipe").and_then(number).and_then(whole),
            ipe_scale: opt("ipe_scale").and_then(number),
            is_anneal: opt("is_anneal").and_then(|v| v.as_bool()),
            anneal_epochs: opt("anneal").and_then(number),
            ema,
            weight_decay: opt("weight_decay").and_then(number),
            final_weight_decay: opt("final_weight_decay").and_then(number),
            clip_grad: opt("clip_grad").and_then(number),
            reg_coeff: root
                .get("loss")
                .and_then(|l| l.get("reg_coeff"))
                .and_then(number),
            pred_depth: model("pred_depth").and_then(number).and_then(whole),
            pred_embed_dim: model("pred_embed_dim")
                .or_else(|| model("pred_emb_dim"))
                .and_then(number)
                .and_then(whole),
            model_name: model("model_name")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            batch_size: root
                .get("data")
                .and_then(|d| d.get("batch_size"))
                .and_then(number)
                .and_then(whole),
            masks: masks(root.get("mask")),
            settings: flatten_settings(&root),
        })
    }
}

fn masks(value: Option<&Value>) -> Vec<MaskSpec> {
    let spec = |m: &Value| MaskSpec {
        num_blocks: m
            .get("num_blocks")
            .or_else(|| m.get("npred"))
            .and_then(number)
            .and_then(whole),
        spatial_scale: m
            .get("spatial_scale")
            .or_else(|| m.get("pred_mask_scale"))
            .and_then(|s| match s.as_sequence() {
                Some(range) => range.last().and_then(number),
                None => number(s),
            }),
    };
    match value {
        Some(Value::Sequence(items)) => items.iter().filter(|m| m.is_mapping()).map(spec).collect(),
        Some(m @ Value::Mapping(_)) => vec![spec(m)],
        _ => Vec::new(),
    }
}

/// Flattens a config to `a.b.c` → scalar (or array of scalars). Deeply nested or huge documents
/// are cut at 16 levels and 10,000 settings (a config, not a data file).
pub fn flatten_settings(root: &Value) -> Vec<(String, serde_json::Value)> {
    fn walk(prefix: &str, v: &Value, depth: usize, out: &mut Vec<(String, serde_json::Value)>) {
        if depth > 16 || out.len() >= 10_000 {
            return;
        }
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            Value::Mapping(m) => {
                for (k, child) in m {
                    let name = match k {
                        Value::String(s) => s.clone(),
                        other => scalar(other).map_or_else(|| "?".into(), |j| j.to_string()),
                    };
                    walk(&key(&name), child, depth + 1, out);
                }
            }
            Value::Sequence(items) if items.iter().all(|i| scalar(i).is_some()) => {
                let values = items.iter().filter_map(scalar).collect();
                out.push((prefix.to_string(), serde_json::Value::Array(values)));
            }
            Value::Sequence(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&key(&i.to_string()), child, depth + 1, out);
                }
            }
            Value::Tagged(t) => walk(prefix, &t.value, depth + 1, out),
            other => {
                if let Some(j) = scalar(other) {
                    out.push((prefix.to_string(), j));
                }
            }
        }
    }
    fn scalar(v: &Value) -> Option<serde_json::Value> {
        match v {
            Value::Null => Some(serde_json::Value::Null),
            Value::Bool(b) => Some((*b).into()),
            Value::Number(n) => n
                .as_i64()
                .map(serde_json::Value::from)
                .or_else(|| n.as_u64().map(serde_json::Value::from))
                .or_else(|| {
                    n.as_f64()
                        .and_then(serde_json::Number::from_f64)
                        .map(Into::into)
                })
                .or(Some(serde_json::Value::Null)),
            Value::String(s) => Some(s.clone().into()),
            _ => None,
        }
    }
    let mut out = Vec::new();
    walk("", root, 0, &mut out);
    out
}

/// A YAML number, or a string holding one (`"6.25e-4"`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn whole(x: f64) -> Option<u64> {
    (x >= 0.0 && x.fract() == 0.0 && x < 1e15).then_some(x as u64)
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "an empty document",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VJEPA: &str = "
loss:
  reg_coeff: 0.0
mask:
- num_blocks: 8
  spatial_scale: [0.15, 0.15]
- num_blocks: 2
  spatial_scale: [0.7, 0.7]
model:
  model_name: vit_tiny
  pred_depth: 6
  pred_embed_dim: 192
optimization:
  ema: [0.998, 1.0]
  epochs: 60
  final_lr: 1.0e-06
  ipe: 100
  ipe_scale: 1.25
  lr: 0.000625
  start_lr: 0.0002
  warmup: 4
unknown_section: {whatever: 1}
";

    #[test]
    fn reads_the_vjepa_fields() -> Result<(), Box<dyn std::error::Error>> {
        let p = RunParams::from_yaml(VJEPA, "params.yaml")?;
        assert_eq!(p.lr, Some(0.000625));
        assert_eq!(p.start_lr, Some(0.0002));
        assert_eq!(p.final_lr, Some(1e-6));
        assert_eq!(p.warmup_epochs, Some(4.0));
        assert_eq!(p.epochs, Some(60.0));
        assert_eq!(p.ipe, Some(100));
        assert_eq!(p.ipe_scale, Some(1.25));
        assert_eq!(p.ema, Some((0.998, 1.0)));
        assert_eq!(p.reg_coeff, Some(0.0));
        assert_eq!(p.pred_depth, Some(6));
        assert_eq!(p.pred_embed_dim, Some(192));
        assert_eq!(p.masks.len(), 2);
        assert_eq!(p.masks[1].num_blocks, Some(2));
        assert_eq!(p.masks[1].spatial_scale, Some(0.7));
        let setting = |k: &str| {
            p.settings
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            setting("optimization.lr"),
            Some(serde_json::json!(0.000625))
        );
        assert_eq!(
            setting("optimization.ema"),
            Some(serde_json::json!([0.998, 1.0]))
        );
        assert_eq!(setting("mask.1.num_blocks"), Some(serde_json::json!(2)));
        assert_eq!(
            setting("unknown_section.whatever"),
            Some(serde_json::json!(1))
        );
        Ok(())
    }

    #[test]
    fn accepts_a_list_of_one_mapping() -> Result<(), Box<dyn std::error::Error>> {
        let listed = format!("- {}", VJEPA.trim_start().replace('\n', "\n  "));
        let p = RunParams::from_yaml(&listed, "p.yaml")?;
        assert_eq!(p.ipe, Some(100));
        Ok(())
    }

    #[test]
    fn rejects_a_scalar_document() {
        let err = RunParams::from_yaml("just a string", "p.yaml").unwrap_err();
        assert!(err.to_string().contains("expected a mapping"), "{err}");
        assert!(err.to_string().contains("p.yaml"), "{err}");
    }

    #[test]
    fn reports_the_line_of_a_syntax_error() {
        let err = RunParams::from_yaml("a: 1\nb: [1, 2\n", "p.yaml").unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:"), "{err}");
    }
}
