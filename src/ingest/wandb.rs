//! Weights & Biases, two ways a run reaches disk without the W&B server:
//!
//! 1. The UI's "Download CSV" of a panel: a header `"Step","<run> - <metric>",
//!    "<run> - <metric>__MIN","<run> - <metric>__MAX",…` and one row per step, cells empty where a
//!    run has no value. `__MIN`/`__MAX` are the panel's smoothing band, not series. Several runs in
//!    one export are split by run name; one is read (`--run NAME` picks among several).
//! 2. The offline run folder (`wandb/offline-run-*/`, `wandb/run-*/`, `wandb/latest-run`), whose
//!    `run-*.wandb` file is W&B's transaction log (wandb/sdk/internal/datastore.py): a 7-byte header
//!    `":W&B"`, magic `0xBEE1`, version 0, then LevelDB-log framing in 32 KiB blocks (7-byte record
//!    header: CRC-32 (zlib) of type and data, u16 length, type FULL/FIRST/MIDDLE/LAST). Each record
//!    is a protobuf `wandb_internal.Record`; its `history` field (`HistoryRecord`) holds items
//!    `key` / `value_json` and the step (`_step`). Other versions are refused with a message naming
//!    `wandb sync` and the CSV export as the way out.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use prost::Message;

use super::run_pick::pick;
use super::table::{KeyKind, TableBuilder, ValuePolicy};
use super::values::{parse_value, whole_f64};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{Format, MAX_STEP, MISSING};

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

/// True for a W&B run folder: it holds a `run-*.wandb` file.
pub fn is_run_dir(dir: &Path) -> bool {
    transaction_log(dir).is_some()
}

fn transaction_log(dir: &Path) -> Option<PathBuf> {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wandb") && p.is_file())
        .collect();
    logs.sort();
    logs.pop()
}

/// `wandb_internal.Record`: only the history field.
#[derive(Clone, PartialEq, Message)]
struct Record {
    #[prost(message, optional, tag = "2")]
    history: Option<HistoryRecord>,
}

/// `wandb_internal.HistoryRecord`.
#[derive(Clone, PartialEq, Message)]
struct HistoryRecord {
    #[prost(message, repeated, tag = "1")]
    item: Vec<HistoryItem>,
    #[prost(message, optional, tag = "2")]
    step: Option<HistoryStep>,
}

/// `wandb_internal.HistoryItem`.
#[derive(Clone, PartialEq, Message)]
struct HistoryItem {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, repeated, tag = "2")]
    nested_key: Vec<String>,
    /// Typed values (wandb ≥ 0.2x writes numbers here rather than in `value_json`).
    #[prost(bool, optional, tag = "4")]
    boolean: Option<bool>,
    #[prost(sint64, optional, tag = "5")]
    integer: Option<i64>,
    #[prost(double, optional, tag = "6")]
    number: Option<f64>,
    #[prost(string, tag = "16")]
    value_json: String,
}

/// `wandb_internal.HistoryStep`.
#[derive(Clone, PartialEq, Message)]
struct HistoryStep {
    #[prost(int64, tag = "1")]
    num: i64,
}

const BLOCK_BYTES: usize = 32 * 1024;
const HEADER_IDENT: &[u8; 4] = b":W&B";
const HEADER_MAGIC: u16 = 0xBEE1;

/// Reads the history of an offline run folder.
pub fn read_run_dir(
    dir: &Path,
    source: &Source,
    values: &ValuePolicy,
) -> Result<Vec<(Source, Parsed)>, IngestError> {
    let Some(log) = transaction_log(dir) else {
        return Err(IngestError::unusable(
            &source.name,
            "no run-*.wandb file in the run folder",
        ));
    };
    let name = log.display().to_string();
    let file = File::open(&log).map_err(|e| IngestError::io(&name, e))?;
    let parsed = parse_transaction_log(file, &name, values)?;
    Ok(vec![(
        Source {
            name,
            path: Some(dir.to_path_buf()),
            rank: None,
        },
        parsed,
    )])
}

fn way_out(name: &str, why: &str) -> IngestError {
    IngestError::unusable(
        name,
        format!(
            "{why}; upload it with `wandb sync {name}` and use the run page's Download CSV, or export the history with the W&B API (run.history().to_csv())"
        ),
    )
}

/// Parses a `.wandb` transaction log into the history table.
pub fn parse_transaction_log(
    reader: impl Read,
    name: &str,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    let mut reader = BufReader::new(reader);
    let mut block = vec![0u8; BLOCK_BYTES];
    // The file header takes the first 7 bytes of the first block.
    let mut filled = read_block(&mut reader, &mut block).map_err(|e| IngestError::io(name, e))?;
    let header = &block[..filled.min(7)];
    if header.len() < 7
        || &header[..4] != HEADER_IDENT
        || u16::from_le_bytes([header[4], header[5]]) != HEADER_MAGIC
    {
        return Err(way_out(name, "not a W&B transaction log (unknown header)"));
    }
    if header[6] != 0 {
        return Err(way_out(
            name,
            &format!(
                "W&B transaction log version {} is not one jepa-doctor reads (0)",
                header[6]
            ),
        ));
    }
    let mut builder = TableBuilder::with_policy(name, values.clone());
    let mut offset_in_block = 7usize;
    let mut pending: Vec<u8> = Vec::new();
    let mut record_no = 0u64;
    let mut ignored = 0u64;
    let mut truncated = false;
    loop {
        if offset_in_block + 7 > filled {
            // The rest of a block shorter than a record header is padding.
            let n = read_block(&mut reader, &mut block).map_err(|e| IngestError::io(name, e))?;
            if n == 0 {
                break;
            }
            filled = n;
            offset_in_block = 0;
            if n < 7 {
                truncated = true;
                break;
            }
        }
        let h = &block[offset_in_block..offset_in_block + 7];
        let crc = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let len = usize::from(u16::from_le_bytes([h[4], h[5]]));
        let kind = h[6];
        if kind == 0 && len == 0 {
            // Zero padding at the end of a block.
            offset_in_block = filled;
            continue;
        }
        let start = offset_in_block + 7;
        if start + len > filled {
            truncated = true;
            break;
        }
        let data = &block[start..start + len];
        offset_in_block = start + len;
        let mut hasher = flate2::Crc::new();
        hasher.update(&[kind]);
        hasher.update(data);
        if hasher.sum() != crc {
            record_no += 1;
            builder.skip_record(record_no, "record checksum (CRC-32) mismatch; skipped");
            pending.clear();
            continue;
        }
        match kind {
            1 => {
                pending.clear();
                pending.extend_from_slice(data);
            }
            2 => {
                pending.clear();
                pending.extend_from_slice(data);
                continue;
            }
            3 => {
                pending.extend_from_slice(data);
                continue;
            }
            4 => pending.extend_from_slice(data),
            _ => {
                return Err(way_out(name, &format!("unknown record type {kind}")));
            }
        }
        record_no += 1;
        match Record::decode(pending.as_slice()) {
            Ok(Record {
                history: Some(history),
            }) => add_history(&mut builder, history, record_no),
            Ok(_) => ignored += 1,
            Err(e) => builder.skip_record(record_no, format!("not a W&B record ({e})")),
        }
    }
    if truncated {
        builder.skip_record(
            record_no + 1,
            "last record truncated (the run may still be writing); skipped",
        );
    }
    if builder.rows_read() == 0 {
        return Err(way_out(name, "no history records in the transaction log"));
    }
    Ok(Parsed {
        table: builder.finish(0),
        key_kind: KeyKind::Step,
        format: Format::Wandb,
        ipe_hint: None,
        lines_ignored: ignored,
    })
}

fn read_block(reader: &mut impl Read, block: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < block.len() {
        match reader.read(&mut block[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn add_history(builder: &mut TableBuilder, history: HistoryRecord, record: u64) {
    let mut step = history.step.map(|s| s.num);
    let mut cells = Vec::with_capacity(history.item.len());
    for item in history.item {
        let key = if item.nested_key.is_empty() {
            item.key
        } else {
            item.nested_key.join("/")
        };
        if key == "_step" {
            step = step
                .or(item.integer)
                .or_else(|| {
                    item.number
                        .and_then(whole_f64)
                        .and_then(|s| i64::try_from(s).ok())
                })
                .or_else(|| item.value_json.trim().parse().ok());
            continue;
        }
        if key.starts_with('_') {
            continue; // _runtime, _timestamp: W&B's own bookkeeping
        }
        if item.boolean.is_some() {
            continue;
        }
        if let Some(x) = item.number {
            cells.push((key, x as f32));
            continue;
        }
        if let Some(x) = item.integer {
            cells.push((key, x as f32));
            continue;
        }
        let value = match item.value_json.trim() {
            "NaN" => f32::NAN,
            "Infinity" => f32::INFINITY,
            "-Infinity" => f32::NEG_INFINITY,
            text => match text.parse::<f64>() {
                Ok(x) => x as f32,
                Err(_) => continue, // images, tables, histograms: not scalars
            },
        };
        cells.push((key, value));
    }
    let Some(step) = step
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s <= MAX_STEP)
    else {
        builder.skip_record(record, "history record without a usable _step");
        return;
    };
    if cells.is_empty() {
        builder.skip_record(record, "history record without a numeric value");
        return;
    }
    let row = builder.push_row(step);
    for (key, value) in cells {
        let column = builder.column(&key);
        builder.set(row, column, value);
    }
}
