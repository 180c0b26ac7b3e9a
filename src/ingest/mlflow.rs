//! MLflow tracking stores: the file store (`mlruns/<experiment>/<run>/metrics/<name>`, one line
//! `timestamp value step` per logged value; `params/<name>` holding the value as text; `meta.yaml`
//! with `run_name` and `lifecycle_stage`) and the SQLite store MLflow 3 uses by default
//! (`mlflow.db`: tables `runs(run_uuid, name, lifecycle_stage)`, `metrics(key, value, timestamp,
//! run_uuid, step, is_nan)`, `params(key, value, run_uuid)`), read through `rusqlite`. Layouts
//! follow mlflow/store/tracking/file_store.py and sqlalchemy_store.py (MLflow 3.x).
//!
//! A store may hold several runs (deleted ones are skipped): one is read, chosen by `--run` (ID or
//! name) when there are several ([`super::run_pick::pick`]). A row is one step of the run: every
//! metric's value at that step. A metric logged twice at one step keeps the later value (MLflow's
//! own `latest_metrics` rule), counted in a note. MLflow stores NaN as `is_nan` with value 0 and
//! ±infinity as ±`f64::MAX`; both are read back as what was logged. Params become the run's
//! config under the keys of the params YAML (`mlflow/params.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::run_pick::{RunTables, pick};
use super::table::{KeyKind, TableBuilder, ValuePolicy};
use super::values::{parse_value, parse_whole};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{Format, MAX_STEP, narrow, widen};

mod params;

use params::params_from;

/// A run in a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlflowRun {
    pub id: String,
    pub name: String,
    /// The run folder (file store only).
    pub dir: Option<PathBuf>,
}

/// True for a file store root, an experiment folder, or a run folder.
pub fn is_file_store(dir: &Path) -> bool {
    is_run_dir(dir)
        || subdirs(dir).iter().any(|d| {
            is_run_dir(d)
                || (d.join("meta.yaml").is_file() && subdirs(d).iter().any(|r| is_run_dir(r)))
        })
}

fn is_run_dir(dir: &Path) -> bool {
    dir.join("metrics").is_dir() && dir.join("meta.yaml").is_file()
}

/// True for an SQLite file holding MLflow's `runs` and `metrics` tables.
pub fn is_mlflow_db(path: &Path) -> bool {
    let mut head = [0u8; 16];
    let is_sqlite = fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0";
    is_sqlite
        && open_db(path).is_ok_and(|db| {
            db.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'metrics')",
                [],
                |row| row.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 2)
        })
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn open_db(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn db_error(path: &Path, e: rusqlite::Error) -> IngestError {
    IngestError::unusable(&path.display().to_string(), format!("MLflow database: {e}"))
}

/// The active runs of a store (file store folder or `mlflow.db`), in store order.
pub fn list(path: &Path) -> Result<Vec<MlflowRun>, IngestError> {
    if path.is_file() {
        let db = open_db(path).map_err(|e| db_error(path, e))?;
        let mut stmt = db
            .prepare(
                "SELECT run_uuid, COALESCE(name, '') FROM runs WHERE lifecycle_stage != 'deleted' ORDER BY start_time, run_uuid",
            )
            .map_err(|e| db_error(path, e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(MlflowRun {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    dir: None,
                })
            })
            .map_err(|e| db_error(path, e))?;
        return rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| db_error(path, e));
    }
    let mut run_dirs = Vec::new();
    if is_run_dir(path) {
        run_dirs.push(path.to_path_buf());
    } else {
        for d in subdirs(path) {
            if is_run_dir(&d) {
                run_dirs.push(d);
            } else if d.file_name().is_some_and(|n| n != ".trash") {
                run_dirs.extend(subdirs(&d).into_iter().filter(|r| is_run_dir(r)));
            }
        }
    }
    let mut runs = Vec::new();
    for dir in run_dirs {
        let meta = fs::read_to_string(dir.join("meta.yaml")).unwrap_or_default();
        let field = |key: &str| {
            meta.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
        };
        if field("lifecycle_stage").as_deref() == Some("deleted") {
            continue;
        }
        let id = field("run_id")
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let name = field("run_name")
            .or_else(|| fs::read_to_string(dir.join("tags/mlflow.runName")).ok())
            .unwrap_or_default();
        runs.push(MlflowRun {
            id,
            name,
            dir: Some(dir),
        });
    }
    Ok(runs)
}

/// Reads the run `wanted` names (or the only one) from a store.
pub fn read(
    path: &Path,
    source: &Source,
    wanted: Option<&str>,
    values: &ValuePolicy,
) -> Result<RunTables, IngestError> {
    let runs = list(path)?;
    let run = pick(
        &source.name,
        &runs,
        |r| (r.name.as_str(), Some(r.id.as_str())),
        wanted,
    )?;
    let label = format!("{} (run {})", source.name, display_name(run));
    let mut steps = StepValues::default();
    let params = match &run.dir {
        Some(dir) => {
            read_metric_files(dir, &mut steps)?;
            params_from(&read_param_files(dir), &format!("{}/params", dir.display()))
        }
        None => {
            read_db_metrics(path, &run.id, &mut steps)?;
            params_from(&read_db_params(path, &run.id)?, &label)
        }
    };
    let parsed = steps.into_parsed(&label, values)?;
    let source = Source {
        name: label,
        path: Some(path.to_path_buf()),
        rank: None,
    };
    Ok(RunTables {
        parsed: vec![(source, parsed)],
        params,
    })
}

fn display_name(run: &MlflowRun) -> String {
    if run.name.is_empty() {
        run.id.clone()
    } else {
        format!("{} {}", run.name, run.id)
    }
}

/// Values by step and metric, before they become a table.
#[derive(Default)]
struct StepValues {
    names: Vec<String>,
    by_step: BTreeMap<u64, Vec<(usize, f32)>>,
    skipped: Vec<(u64, String)>,
    repeated: u64,
}

impl StepValues {
    fn metric(&mut self, name: &str) -> usize {
        self.names.push(name.to_string());
        self.names.len() - 1
    }
    fn add(&mut self, step: u64, metric: usize, value: f32) {
        let row = self.by_step.entry(step).or_default();
        match row.iter_mut().find(|(m, _)| *m == metric) {
            Some(slot) => {
                slot.1 = value;
                self.repeated += 1;
            }
            None => row.push((metric, value)),
        }
    }
    fn into_parsed(self, label: &str, values: &ValuePolicy) -> Result<Parsed, IngestError> {
        let mut builder = TableBuilder::with_policy(label, values.clone());
        let columns: Vec<usize> = self.names.iter().map(|n| builder.column(n)).collect();
        for (step, row_values) in &self.by_step {
            let row = builder.push_row(*step);
            for (metric, v) in row_values {
                builder.set(row, columns[*metric], *v);
            }
        }
        for (line, reason) in self.skipped {
            builder.skip(line, reason);
        }
        if self.repeated > 0 {
            builder.warn(format!(
                "{label}: {} values were logged twice at the same step; the later one is kept",
                self.repeated
            ));
        }
        if builder.rows_read() == 0 {
            return Err(IngestError::unusable(
                label,
                "the run has no metrics logged",
            ));
        }
        Ok(Parsed {
            table: builder.finish(0),
            key_kind: KeyKind::Step,
            format: Format::Mlflow,
            ipe_hint: None,
            lines_ignored: 0,
        })
    }
}

/// MLflow writes ±infinity as ±`f64::MAX` (sys.float_info.max); any other value is stored as
/// logged ([`narrow`]: beyond the `f32` range it keeps its value).
fn logged_value(x: f64) -> f32 {
    if x >= f64::MAX {
        f32::INFINITY
    } else if x <= -f64::MAX {
        f32::NEG_INFINITY
    } else {
        narrow(x)
    }
}

fn read_metric_files(run_dir: &Path, steps: &mut StepValues) -> Result<(), IngestError> {
    let mut files = Vec::new();
    collect_files(&run_dir.join("metrics"), "", &mut files);
    files.sort();
    for (name, path) in files {
        let metric = steps.metric(&name);
        let file_name = path.display().to_string();
        let file = fs::File::open(&path).map_err(|e| IngestError::io(&file_name, e))?;
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| IngestError::io(&file_name, e))?;
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let value = fields.get(1).and_then(|v| {
                parse_value(v.as_bytes())
                    .ok()
                    .map(|x| logged_value(widen(x)))
                    .or_else(|| v.parse::<f64>().ok().map(logged_value))
            });
            // Before MLflow 1.0 a line had no step: it counts as step 0, as MLflow reads it.
            let step = fields.get(2).map_or(Some(0), |s| parse_whole(s.as_bytes()));
            match (value, step.filter(|s| *s <= MAX_STEP)) {
                (Some(v), Some(s)) => steps.add(s, metric, v),
                _ => steps.skipped.push((
                    i as u64 + 1,
                    format!("{file_name}: not `timestamp value step`: {line:.80}"),
                )),
            }
        }
    }
    Ok(())
}

/// Metric files, including those of names with `/` (stored as sub-folders).
fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if path.is_dir() {
            collect_files(&path, &format!("{name}/"), out);
        } else {
            out.push((name, path));
        }
    }
}

fn read_param_files(run_dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    collect_files(&run_dir.join("params"), "", &mut files);
    files
        .into_iter()
        .filter_map(|(name, path)| {
            let mut text = String::new();
            fs::File::open(path)
                .ok()?
                .take(64 * 1024)
                .read_to_string(&mut text)
                .ok()?;
            Some((name, text.trim().to_string()))
        })
        .collect()
}

fn read_db_metrics(path: &Path, run_id: &str, steps: &mut StepValues) -> Result<(), IngestError> {
    let db = open_db(path).map_err(|e| db_error(path, e))?;
    let mut stmt = db
        .prepare(
            "SELECT key, value, step, is_nan FROM metrics WHERE run_uuid = ?1 ORDER BY key, timestamp, step",
        )
        .map_err(|e| db_error(path, e))?;
    let mut rows = stmt.query([run_id]).map_err(|e| db_error(path, e))?;
    let mut current: Option<(String, usize)> = None;
    let mut row_no = 0u64;
    while let Some(row) = rows.next().map_err(|e| db_error(path, e))? {
        row_no += 1;
        let key: String = row.get(0).map_err(|e| db_error(path, e))?;
        let value: f64 = row.get(1).unwrap_or(f64::NAN);
        let step: i64 = row.get(2).unwrap_or(-1);
        let is_nan: bool = row.get(3).unwrap_or(false);
        let metric = match &current {
            Some((k, m)) if *k == key => *m,
            _ => {
                let m = steps.metric(&key);
                current = Some((key, m));
                m
            }
        };
        match u64::try_from(step).ok().filter(|s| *s <= MAX_STEP) {
            Some(s) => steps.add(
                s,
                metric,
                if is_nan {
                    f32::NAN
                } else {
                    logged_value(value)
                },
            ),
            None => steps
                .skipped
                .push((row_no, format!("metrics row with step {step} out of range"))),
        }
    }
    Ok(())
}

fn read_db_params(path: &Path, run_id: &str) -> Result<Vec<(String, String)>, IngestError> {
    let db = open_db(path).map_err(|e| db_error(path, e))?;
    let mut stmt = db
        .prepare("SELECT key, value FROM params WHERE run_uuid = ?1 ORDER BY key")
        .map_err(|e| db_error(path, e))?;
    let rows = stmt
        .query_map([run_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(|e| db_error(path, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| db_error(path, e))
}
