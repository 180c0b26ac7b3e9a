//! The config diff of a sweep: the params YAML settings whose values differ between the runs, so
//! "what changed and what it did" is one glance. Settings that only say where or how a run was
//! stored (`logging.folder`, `write_tag`, checkpoint paths, `load_checkpoint`) are not
//! hyperparameters and are left out.

use serde_json::Value;

use super::row::RunRow;

/// Last key components that are bookkeeping, not hyperparameters.
const BOOKKEEPING: &[&str] = &[
    "folder",
    "write_tag",
    "load_checkpoint",
    "read_checkpoint",
    "resume_checkpoint",
    "checkpoint",
    "checkpoint_freq",
    "output_dir",
    "log_dir",
    "num_workers",
    "pin_mem",
];

fn is_bookkeeping(key: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    BOOKKEEPING.contains(&leaf)
}

/// Keys (in first-seen order) whose value differs between the analysed runs that have a config;
/// a key some of them lack counts as differing. Empty with fewer than two such runs.
pub fn differing_keys(rows: &[RunRow]) -> Vec<String> {
    let configs: Vec<&serde_json::Map<String, Value>> = rows
        .iter()
        .filter(|r| r.error.is_none() && !r.config.is_empty())
        .map(|r| &r.config)
        .collect();
    if configs.len() < 2 {
        return Vec::new();
    }
    let mut keys: Vec<&String> = Vec::new();
    for c in &configs {
        for k in c.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys.into_iter()
        .filter(|k| !is_bookkeeping(k))
        .filter(|k| {
            let first = configs[0].get(*k);
            configs.iter().any(|c| c.get(*k) != first)
        })
        .cloned()
        .collect()
}

/// Column headers for the keys: the last component (`lr`), with parents added while two headers
/// would be equal (`optimization.lr` vs `probe.lr`).
pub fn short_names(keys: &[String]) -> Vec<String> {
    let parts: Vec<Vec<&str>> = keys.iter().map(|k| k.split('.').collect()).collect();
    let mut depth = vec![1usize; keys.len()];
    loop {
        let names: Vec<String> = parts
            .iter()
            .zip(&depth)
            .map(|(p, d)| p[p.len().saturating_sub(*d)..].join("."))
            .collect();
        let mut changed = false;
        for i in 0..names.len() {
            if names.iter().filter(|n| **n == names[i]).count() > 1 && depth[i] < parts[i].len() {
                depth[i] += 1;
                changed = true;
            }
        }
        if !changed {
            return names;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_config(pairs: &[(&str, Value)]) -> RunRow {
        RunRow {
            config: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..RunRow::default()
        }
    }

    #[test]
    fn only_differing_hyperparameters_are_kept() {
        let rows = vec![
            with_config(&[
                ("optimization.lr", json!(0.001)),
                ("optimization.epochs", json!(60)),
                ("logging.folder", json!("runs/a")),
            ]),
            with_config(&[
                ("optimization.lr", json!(0.0001)),
                ("optimization.epochs", json!(60)),
                ("logging.folder", json!("runs/b")),
                ("loss.reg_coeff", json!(1.0)),
            ]),
            RunRow::default(), // no config: ignored
        ];
        assert_eq!(
            differing_keys(&rows),
            ["optimization.lr".to_string(), "loss.reg_coeff".to_string()]
        );
    }

    #[test]
    fn headers_are_as_short_as_they_can_be() {
        let keys: Vec<String> = ["optimization.lr", "probe.lr", "optimization.ema"]
            .map(String::from)
            .to_vec();
        assert_eq!(short_names(&keys), ["optimization.lr", "probe.lr", "ema"]);
    }
}
