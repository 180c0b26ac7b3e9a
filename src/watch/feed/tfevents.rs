//! Following one TensorBoard writer while it trains: its event files in name (= creation time)
//! order, the newest one growing. The appended bytes are parsed record by record with the reader
//! `analyze` uses ([`tensorboard::parse_appended`]); a record cut by the end of what was written
//! so far (TFRecord framing: length, CRC, payload, CRC) is held until the rest arrives, never
//! reported as damaged. A newer event file in the writer's folder is a restart, as `analyze` reads
//! it (TensorBoard's own rule): once the current file stops growing the next one is followed, and
//! its rows replace the earlier rows from its first step on.

use std::path::PathBuf;

use super::{Batch, Fed, batch_of};
use crate::error::IngestError;
use crate::ingest::Source;
use crate::ingest::table::ValuePolicy;
use crate::ingest::tensorboard::{self, EventFollow};
use crate::model::{RowAccount, SkippedRow};
use crate::watch::tail::{Growth, Tail};

/// The event files of one writer and how far they were read.
#[derive(Debug)]
pub struct EventChain {
    files: Vec<PathBuf>,
    current: usize,
    tail: Tail,
    /// Bytes of an incomplete last record.
    carry: Vec<u8>,
    state: EventFollow,
    rename: Option<String>,
    /// The next rows come from a newer file: they are a restart.
    restart_next: bool,
    /// The step of the last row handed out from the current file.
    last_step: Option<u64>,
}

impl EventChain {
    /// A writer's files (in name order) and, for an `add_scalars` sub-writer, its series name.
    pub fn new(files: Vec<PathBuf>, rename: Option<String>) -> EventChain {
        let first = files.first().cloned().unwrap_or_default();
        EventChain {
            tail: Tail::raw(&first),
            files,
            current: 0,
            carry: Vec::new(),
            state: EventFollow::new(rename.clone()),
            rename,
            restart_next: false,
            last_step: None,
        }
    }

    /// The files followed so far.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Adds the writer's files not followed yet (newer files sort after the older ones).
    pub fn extend(&mut self, files: &[PathBuf]) {
        for f in files {
            if !self.files.contains(f) {
                self.files.push(f.clone());
            }
        }
        self.files[self.current + 1..].sort();
    }

    /// Starts over from the first file.
    pub fn rewind(&mut self) {
        self.open(0);
        self.restart_next = false;
    }

    fn open(&mut self, index: usize) {
        self.current = index;
        self.tail = Tail::raw(&self.files[index]);
        self.carry.clear();
        self.state = EventFollow::new(self.rename.clone());
        self.last_step = None;
    }

    /// Whether bytes or newer files wait beyond the last read.
    pub fn behind(&self) -> bool {
        self.tail.behind() || self.current + 1 < self.files.len()
    }

    /// The record the current file ends in the middle of, as a skipped row (`None` when it ends
    /// on a record boundary).
    fn unfinished(&self, source: &Source) -> Option<Batch> {
        if self.carry.is_empty() {
            return None;
        }
        let reason = format!(
            "{}: byte {}: last record truncated ({} bytes; the run may still be writing); skipped",
            source.name,
            self.state.offset,
            self.carry.len()
        );
        Some(Batch {
            account: RowAccount {
                rows_read: 1,
                rows_skipped: 1,
                ..RowAccount::default()
            },
            skipped: vec![SkippedRow {
                source: source.name.clone(),
                line: None,
                record: None,
                reason,
            }],
            ..Batch::default()
        })
    }

    /// Reads and parses what was appended, at most `max_bytes` of it.
    pub fn poll(&mut self, values: &ValuePolicy, max_bytes: u64) -> Result<Fed, IngestError> {
        let source = Source::file(&self.files[self.current]);
        let growth = self
            .tail
            .read_new(max_bytes)
            .map_err(|e| IngestError::io(&source.name, e))?;
        match growth {
            Growth::Lines(bytes) => {
                self.carry.extend_from_slice(&bytes);
                let (parsed, consumed) =
                    tensorboard::parse_appended(&self.carry, &source, values, &mut self.state)?;
                self.carry.drain(..consumed);
                let Some(parsed) = parsed else {
                    return Ok(Fed::Nothing);
                };
                let mut batch: Batch = batch_of(parsed);
                if self.restart_next && !batch.keys.is_empty() {
                    batch.restarts += 1;
                    self.restart_next = false;
                } else if !batch.keys.is_empty() && batch.keys.first() == self.last_step.as_ref() {
                    // The events of one step cut by the end of the last read: `analyze` reads
                    // consecutive events of a step as one row, so this row is not counted again.
                    let rows = &mut batch.account;
                    rows.rows_read = rows.rows_read.saturating_sub(1);
                    rows.rows_used = rows.rows_used.saturating_sub(1);
                    batch.repeats_last = true;
                }
                self.last_step = batch.keys.last().copied().or(self.last_step);
                Ok(Fed::Rows(batch))
            }
            Growth::Reset => {
                self.open(self.current);
                Ok(Fed::Reset)
            }
            Growth::Nothing | Growth::Missing if self.current + 1 < self.files.len() => {
                // The writer moved on to a newer file (a restart). A record it left unfinished
                // is skipped, as `analyze` skips a truncated last record.
                let left = self.unfinished(&source);
                self.open(self.current + 1);
                self.restart_next = true;
                match left {
                    Some(batch) => Ok(Fed::Rows(batch)),
                    None => self.poll(values, max_bytes),
                }
            }
            Growth::Nothing => Ok(Fed::Nothing),
            Growth::Missing => Ok(Fed::Missing),
        }
    }
}
