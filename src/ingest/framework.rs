//! Logs written by training frameworks outside the JEPA code, read through the JSON reader with
//! the framework's own step key:
//!
//! - fairseq / fairseq-hydra console logs: `[time][train_inner][INFO] - {json}` (hydra) or
//!   `time | INFO | train_inner | {json}` (`--log-format json`), numbers written as strings, the
//!   step in `num_updates` (fairseq/logging/progress_bar.py `JsonProgressBar`). Only `train_inner`
//!   lines are rows; epoch summaries (`[train]`, `[valid]`) and other lines are counted and ignored.
//! - DINO / MAE / iBOT `log.txt`: JSON lines, one per epoch (`train_loss`, `train_lr`, `train_wd`,
//!   `epoch`; main_dino.py), stepped by `epoch`.
//! - fairseq `train_inner` records saved as JSON lines: stepped by `num_updates`.
//!
//! MMEngine `scalars.json` (`step`), DINOv2 `training_metrics.json` (`iteration`), Hugging Face
//! `trainer_state.json` (`step`) and W&B history (`_step`) already carry a step key the JSON reader
//! knows; Lightning `metrics.csv` and Keras `CSVLogger` files (`epoch` only) are CSV.

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use super::json::{self, JsonOptions};
use super::lines::{Line, read_line_capped};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::Format;

/// The marker of a fairseq training-progress line, in either log layout.
const TRAIN_INNER: [&[u8]; 2] = [b"[train_inner][", b"| train_inner |"];

/// True when some line of `head` is a fairseq `train_inner` JSON line.
pub fn looks_like_fairseq(head: &[u8]) -> bool {
    head.split(|b| *b == b'\n')
        .any(|l| fairseq_json(l).is_some())
}

/// The JSON object of a `train_inner` line.
fn fairseq_json(line: &[u8]) -> Option<&[u8]> {
    let at = TRAIN_INNER
        .iter()
        .find_map(|m| memchr::memmem::find(line, m).map(|i| i + m.len()))?;
    let rest = &line[at..];
    let open = memchr::memchr(b'{', rest)?;
    let json = rest[open..].trim_ascii_end();
    json.ends_with(b"}").then_some(json)
}

/// The step key a JSON-lines log of a known framework uses, from its first bytes; `None` when the
/// JSON reader's own step keys apply.
pub fn json_lines_step_key(head: &[u8]) -> Option<&'static str> {
    let first = head
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty())?;
    let has = |key: &str| memchr::memmem::find(first, format!("\"{key}\"").as_bytes()).is_some();
    if has("num_updates") {
        return Some("num_updates");
    }
    let own_step = ["global_step", "step", "_step", "iteration", "iter", "itr"]
        .iter()
        .any(|k| has(k));
    (!own_step && has("epoch") && has("train_loss")).then_some("epoch")
}

/// Parses a fairseq / fairseq-hydra console log.
pub fn parse_fairseq(
    reader: impl Read + 'static,
    source: &Source,
    opts: &JsonOptions,
) -> Result<Parsed, IngestError> {
    let ignored = Rc::new(Cell::new(0u64));
    let lines = TrainInnerLines {
        inner: BufReader::with_capacity(256 * 1024, reader),
        line: Vec::new(),
        out: Vec::new(),
        at: 0,
        ignored: Rc::clone(&ignored),
    };
    let opts = JsonOptions {
        step_col: opts.step_col.clone().or_else(|| Some("num_updates".into())),
        values: opts.values.clone(),
    };
    let mut parsed = json::parse_lines(lines, source, &opts)?;
    parsed.format = Format::FairseqLog;
    parsed.lines_ignored += ignored.get();
    Ok(parsed)
}

/// The JSON of each `train_inner` line, and an empty line for every other line, so that the JSON
/// reader's line numbers are the log's.
struct TrainInnerLines<R> {
    inner: BufReader<R>,
    line: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    ignored: Rc<Cell<u64>>,
}

impl<R: Read> Read for TrainInnerLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            self.out.clear();
            self.at = 0;
            match read_line_capped(&mut self.inner, &mut self.line, json::MAX_LINE_BYTES)? {
                Line::End => return Ok(0),
                Line::Complete => match fairseq_json(&self.line) {
                    Some(json) => self.out.extend_from_slice(json),
                    None => self.ignored.set(self.ignored.get() + 1),
                },
                Line::TooLong { .. } => self.ignored.set(self.ignored.get() + 1),
                Line::Endless => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a line longer than 16 MiB: not a fairseq log",
                    ));
                }
            }
            self.out.push(b'\n');
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_inner_json_is_found_in_both_layouts() {
        let hydra = br#"[2022-01-28 14:03:23,971][train_inner][INFO] - {"loss": "3.767", "num_updates": "200"}"#;
        assert_eq!(
            fairseq_json(hydra),
            Some(&br#"{"loss": "3.767", "num_updates": "200"}"#[..])
        );
        let plain = br#"2020-10-01 | INFO | train_inner | {"epoch": 1, "num_updates": "100"}"#;
        assert!(fairseq_json(plain).is_some());
        let summary =
            br#"[2022-01-28 14:32:34,393][train][INFO] - {"epoch": 4, "train_loss": "1.532"}"#;
        assert_eq!(fairseq_json(summary), None);
    }

    #[test]
    fn framework_json_lines_get_their_step_key() {
        assert_eq!(
            json_lines_step_key(br#"{"train_loss": 10.3, "train_lr": 0.0, "epoch": 0}"#),
            Some("epoch")
        );
        assert_eq!(
            json_lines_step_key(br#"{"loss": "3.7", "num_updates": "200", "epoch": 1}"#),
            Some("num_updates")
        );
        assert_eq!(
            json_lines_step_key(br#"{"loss": 1, "step": 3, "epoch": 0}"#),
            None
        );
    }
}
