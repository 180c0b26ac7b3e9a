//! Weights & Biases, two ways a run reaches disk without the W&B server:
//!
//! 1. The UI's "Download CSV" of a panel (this module): a header `"Step","<run> - <metric>",
//!    "<run> - <metric>__MIN","<run> - <metric>__MAX",…` and one row per step, cells empty where a
//!    run has no value. `__MIN`/`__MAX` are the panel's smoothing band, not series. Several runs in
//!    one export are split by run name; one is read (`--run NAME` picks among several).
//! 2. The offline run folder (`wandb/offline-run-*/`, `wandb/latest-run`): its `run-*.wandb`
//!    transaction log, or `files/output.log` when that cannot be read (`wandb/offline.rs`); the
//!    `wandb/` folder of several such runs, one picked by `--run` or `latest-run`
//!    (`wandb/runs.rs`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::run_pick::pick;
use super::table::{KeyKind, TableBuilder, ValuePolicy};
use super::values::{parse_value, whole_f64};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{Format, MAX_STEP, MISSING};

mod offline;
mod runs;

pub use offline::{is_run_dir, parse_transaction_log, read_run_dir};
pub use runs::{RunDir, broken_latest_given, is_runs_folder, pick_run, run_dirs_in};

/// True for a CSV whose header is W&B's export header (`Step` then `<run> - <metric>` columns).
pub fn is_export(path: &Path) -> bool {
    let mut head = Vec::new();
    File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .is_ok()
        && is_export_head(&head)
}

/// True when `head` starts with W&B's export header.
pub fn is_export_head(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let line = String::from_utf8_lossy(line);
    let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
    fields.next() == Some("Step") && fields.any(|f| f.contains(" - "))
}

/// One export column: its run, its metric, and whether it is a min/max band.
fn split_column(name: &str) -> Option<(&str, &str, bool)> {
    let (run, metric) = name.split_once(" - ")?;
    let band = metric.ends_with("__MIN") || metric.ends_with("__MAX");
    Some((run, metric, band))
}

/// The run names of an export, in column order.
pub fn export_runs(path: &Path) -> Result<Vec<String>, IngestError> {
    let name = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| IngestError::unusable(&name, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| IngestError::unusable(&name, e.to_string()))?;
    Ok(runs_of(headers))
}

fn runs_of(headers: &csv::StringRecord) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    for (run, _, _) in headers.iter().filter_map(split_column) {
        if !runs.iter().any(|r| r == run) {
            runs.push(run.to_string());
        }
    }
    runs
}

/// Reads one run of a W&B CSV export.
pub fn parse_export(
    reader: impl Read,
    source: &Source,
    wanted: Option<&str>,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| IngestError::unusable(path, e.to_string()))?
        .clone();
    let runs = runs_of(&headers);
    let run = pick(path, &runs, |r| (r.as_str(), None), wanted)?.clone();
    let step_at = headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == "Step")
        .ok_or_else(|| IngestError::unusable(path, "no `Step` column"))?;
    let mut builder = TableBuilder::with_policy(path, values.clone());
    let mut bands = 0usize;
    let columns: Vec<(usize, usize)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let (r, metric, band) = split_column(h)?;
            if r != run {
                return None;
            }
            if band {
                bands += 1;
                return None;
            }
            Some((i, builder.column(metric)))
        })
        .collect();
    let mut record = csv::ByteRecord::new();
    let mut line = 1u64;
    let mut row_values = vec![MISSING; columns.len()];
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                line += 1;
                builder.skip(line, e.to_string());
                continue;
            }
        }
        line = record.position().map_or(line + 1, |p| p.line());
        let step = record
            .get(step_at)
            .and_then(|s| parse_value(s).ok())
            .and_then(|s| whole_f64(f64::from(s)))
            .filter(|s| *s <= MAX_STEP);
        let Some(step) = step else {
            builder.skip(line, "Step is not a whole number");
            continue;
        };
        let mut any = false;
        for (slot, (at, _)) in row_values.iter_mut().zip(&columns) {
            *slot = match record.get(*at).filter(|c| !c.is_empty()) {
                Some(cell) => parse_value(cell).unwrap_or(MISSING),
                None => MISSING,
            };
            any |= !crate::model::is_missing(*slot);
        }
        if !any {
            // The other runs' row: this run logged nothing at this step.
            continue;
        }
        let row = builder.push_row(step);
        for (v, (_, column)) in row_values.iter().zip(&columns) {
            builder.set(row, *column, *v);
        }
    }
    if runs.len() > 1 {
        builder.warn(format!(
            "{path}: read run '{run}' of {} in the export",
            runs.len()
        ));
    }
    if bands > 0 {
        builder.warn(format!(
            "{path}: {bands} __MIN/__MAX columns (the panel's smoothing band) are not series; ignored"
        ));
    }
    if builder.rows_read() == 0 {
        return Err(IngestError::unusable(
            path,
            format!("run '{run}' has no values"),
        ));
    }
    Ok(Parsed {
        table: builder.finish(0),
        key_kind: KeyKind::Step,
        format: Format::WandbCsv,
        ipe_hint: None,
        lines_ignored: 0,
    })
}
