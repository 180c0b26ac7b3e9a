//! Turning what the user typed (files, run directories, `-`) into the list of sources to read and
//! the params YAML to use. A run directory is searched one level deep, by file name:
//! per-rank CSVs (`{tag}_r{rank}.csv`) first, then other tables, then JSON logs, then console
//! logs; the params YAML is `params*.yaml` beside the logs unless `--config` names one.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Source;
use crate::error::IngestError;

/// The sources to read, in order, and the params YAML.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub sources: Vec<Source>,
    pub params: Option<PathBuf>,
    pub notes: Vec<String>,
    /// Files looked at in run directories besides the sources (other logs, params files).
    pub discovered: Vec<PathBuf>,
    /// The inputs as given on the command line (to tell several runs from one run's parts).
    pub inputs: Vec<String>,
}

impl Plan {
    /// Every file this plan reads or looked at: what outputs must never overwrite.
    pub fn files(&self) -> Vec<PathBuf> {
        let sources = self.sources.iter().filter_map(|s| s.path.clone());
        sources
            .chain(self.params.clone())
            .chain(self.discovered.iter().cloned())
            .collect()
    }
}

/// What a file in a run directory looks like from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    RankCsv,
    Table,
    JsonLog,
    ConsoleLog,
}

/// Resolves the inputs into sources and a params file.
pub fn plan(inputs: &[String], config: Option<&Path>) -> Result<Plan, IngestError> {
    if inputs.is_empty() {
        return Err(IngestError::usage("no input given"));
    }
    let mut plan = Plan {
        inputs: inputs.to_vec(),
        ..Plan::default()
    };
    let mut explicit_params: Option<PathBuf> = None;
    let mut found_params: Option<PathBuf> = None;
    let mut stdin_seen = false;
    for input in inputs {
        if input == "-" {
            if stdin_seen {
                return Err(IngestError::usage("'-' (standard input) given twice"));
            }
            stdin_seen = true;
            plan.sources.push(Source::stdin());
            continue;
        }
        let path = Path::new(input);
        let meta = fs::metadata(path).map_err(|e| {
            super::wandb::broken_latest_given(path).unwrap_or_else(|| IngestError::io(input, e))
        })?;
        if meta.is_dir()
            && let Some(found) = layout_source(path)
        {
            if found != path {
                plan.notes.push(format!("reading {}", found.display()));
                // Two trackers' stores (a script logging to MLflow and W&B): one is read.
                for other in super::sources::stores_below(path)
                    .iter()
                    .filter(|s| **s != found)
                {
                    plan.notes.push(format!(
                        "also found {}; analysing {} instead (`jepa-doctor compare {input}` compares the runs of both)",
                        other.display(),
                        found.display()
                    ));
                }
            }
            plan.sources.push(Source {
                name: if found == path {
                    input.clone()
                } else {
                    found.display().to_string()
                },
                path: Some(found),
                rank: None,
            });
            if found_params.is_none() {
                found_params = params_in(path);
            }
        } else if meta.is_dir() {
            let dir = scan_dir(path)?;
            plan.sources.extend(dir.sources);
            plan.notes.extend(dir.notes);
            plan.discovered.extend(dir.discovered);
            if found_params.is_none() {
                found_params = dir.params;
            }
        } else if is_yaml(path) {
            if let Some(previous) = explicit_params.replace(path.to_path_buf()) {
                plan.discovered.push(previous);
            }
        } else {
            plan.sources.push(Source::file(path));
            if found_params.is_none() {
                found_params = path
                    .parent()
                    .map(|p| {
                        if p.as_os_str().is_empty() {
                            Path::new(".")
                        } else {
                            p
                        }
                    })
                    .and_then(params_in);
            }
        }
    }
    if plan.sources.is_empty() {
        return Err(IngestError::usage(
            "no log among the inputs (only a params YAML was given)",
        ));
    }
    plan.discovered
        .extend(explicit_params.iter().chain(&found_params).cloned());
    plan.params = config
        .map(Path::to_path_buf)
        .or(explicit_params)
        .or(found_params);
    Ok(plan)
}

/// A run folder read through a framework or tracker layout rather than its own log files: the
/// folder itself when it is a container (MLflow store, W&B run, TensorBoard events in it), else,
/// when it holds no log of its own, the layout found one level down
/// ([`super::sources::find_below`]). `None`: the folder is read for its own logs.
pub fn layout_source(dir: &Path) -> Option<PathBuf> {
    if super::sources::container_here(dir).is_some() {
        return Some(dir.to_path_buf());
    }
    if scan_dir(dir).is_ok() {
        return None;
    }
    super::sources::find_below(dir)
}

struct DirScan {
    sources: Vec<Source>,
    params: Option<PathBuf>,
    notes: Vec<String>,
    /// Every log-like or params file seen, read or not.
    discovered: Vec<PathBuf>,
}

fn scan_dir(dir: &Path) -> Result<DirScan, IngestError> {
    let name = crate::human::escape_control(&dir.display().to_string()).into_owned();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| IngestError::io(&name, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut notes = Vec::new();
    let mut discovered = Vec::new();
    let mut candidates: Vec<(Kind, PathBuf)> = Vec::new();
    for path in entries {
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => continue,
            Err(e) => {
                notes.push(format!("skipped {}: {e}", path.display()));
                continue;
            }
        }
        if kind_of(&path).is_some() || is_yaml(&path) {
            discovered.push(path.clone());
        }
        match kind_of(&path) {
            // `.txt`/`.log`/`.out` files are often notes or other programs' output: only those
            // whose content reads as a training log are candidates.
            Some(Kind::ConsoleLog) if !reads_as_log(&path) => {
                notes.push(format!("skipped {}: not a training log", path.display()));
            }
            Some(kind) => candidates.push((kind, path)),
            None => {}
        }
    }
    let Some(best) = candidates.iter().map(|(k, _)| *k).min() else {
        let mut cause = "no training log in this directory (looked for {tag}_r{rank}.csv, *.csv, *.tsv, *.jsonl, trainer_state.json, *.log / stdout console output)".to_string();
        if !notes.is_empty() {
            cause = format!("{cause}; {}", notes.join("; "));
        }
        return Err(IngestError::unusable(&name, cause));
    };
    let (chosen, others): (Vec<_>, Vec<_>) = candidates.into_iter().partition(|(k, _)| *k == best);
    if best == Kind::RankCsv {
        let mut tags: Vec<String> = chosen.iter().filter_map(|(_, p)| rank_tag(p)).collect();
        tags.dedup();
        if tags.len() > 1 {
            return Err(IngestError::unusable(
                &name,
                format!(
                    "holds logs of several runs (tags: {}); pass the files of one run",
                    tags.join(", ")
                ),
            ));
        }
    }
    for (_, path) in &others {
        notes.push(format!(
            "also found {}; analysing {} instead",
            path.display(),
            describe(best)
        ));
    }
    Ok(DirScan {
        sources: chosen.iter().map(|(_, p)| Source::file(p)).collect(),
        params: params_in(dir),
        notes,
        discovered,
    })
}

/// Whether the start of a file is recognised as a log format.
fn reads_as_log(path: &Path) -> bool {
    let mut head = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(super::SNIFF_BYTES as u64).read_to_end(&mut head))
        .is_ok()
        && super::sniff::sniff(&head, Some(path)).is_some()
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::RankCsv => "the per-rank CSV logs",
        Kind::Table => "the CSV logs",
        Kind::JsonLog => "the JSON logs",
        Kind::ConsoleLog => "the console log",
    }
}

fn kind_of(path: &Path) -> Option<Kind> {
    let file = path.file_name()?.to_string_lossy().to_lowercase();
    let mut ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if ext == "gz" || ext == "zst" {
        // `train.csv.gz`: the kind of the text inside.
        ext = Path::new(path.file_stem()?)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
    }
    match ext.as_str() {
        "csv" if rank_from_name(path).is_some() => Some(Kind::RankCsv),
        "csv" | "tsv" => Some(Kind::Table),
        "jsonl" | "ndjson" => Some(Kind::JsonLog),
        "json"
            if ["trainer_state", "metrics", "history", "log", "scalars"]
                .iter()
                .any(|w| file.contains(w)) =>
        {
            Some(Kind::JsonLog)
        }
        "log" | "out" | "txt" => Some(Kind::ConsoleLog),
        _ if file.starts_with("stdout") => Some(Kind::ConsoleLog),
        _ => None,
    }
}

/// The rank of a `{tag}_r{rank}.csv` file name (also compressed: `{tag}_r{rank}.csv.gz`, `.zst`).
pub fn rank_from_name(path: &Path) -> Option<u32> {
    let stem = super::compressed::log_stem(path)?;
    let (_, digits) = stem.rsplit_once("_r")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn rank_tag(path: &Path) -> Option<String> {
    let stem = super::compressed::log_stem(path)?;
    stem.rsplit_once("_r").map(|(tag, _)| tag.to_string())
}

/// Whether `path` names a YAML file (a params file, never a log).
pub(crate) fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The params YAML in `dir`: `params*.yaml` (first by name), else `hparams.yaml`.
pub fn params_in(dir: &Path) -> Option<PathBuf> {
    let mut yamls: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_yaml(p) && p.is_file())
        .collect();
    yamls.sort();
    let named = |prefix: &str| {
        yamls
            .iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .cloned()
    };
    named("params").or_else(|| named("hparams"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_from_file_names() {
        assert_eq!(rank_from_name(Path::new("runs/jepa_r0.csv")), Some(0));
        assert_eq!(rank_from_name(Path::new("log_r12.csv")), Some(12));
        assert_eq!(rank_from_name(Path::new("metrics.csv")), None);
        assert_eq!(rank_from_name(Path::new("jepa_rx.csv")), None);
        assert_eq!(rank_from_name(Path::new("runs/jepa_r0.csv.gz")), Some(0));
        assert_eq!(rank_from_name(Path::new("jepa_r3.csv.zst")), Some(3));
        assert_eq!(
            rank_tag(Path::new("jepa_r3.csv.zst")).as_deref(),
            Some("jepa")
        );
    }

    #[test]
    fn kinds_from_file_names() {
        assert_eq!(kind_of(Path::new("jepa_r0.csv")), Some(Kind::RankCsv));
        assert_eq!(kind_of(Path::new("metrics.csv")), Some(Kind::Table));
        assert_eq!(
            kind_of(Path::new("trainer_state.json")),
            Some(Kind::JsonLog)
        );
        assert_eq!(kind_of(Path::new("config.json")), None);
        assert_eq!(kind_of(Path::new("stdout.log")), Some(Kind::ConsoleLog));
        assert_eq!(kind_of(Path::new("params-pretrain.yaml")), None);
    }
}
