//! Console output of V-JEPA, V-JEPA 2, V-JEPA 2-AC and I-JEPA training.
//!
//! The lines that matter hold `[<epoch>, <itr>] loss: …` behind any prefix (`INFO:root:`,
//! `[INFO    ][date][func] `, `[rank0]:`, ANSI colours):
//! - V-JEPA   `loss: 0.826 | p0.826 r0.883 | input_var: 0.624 0.249 | masks: [56.0, 16.0] [wd: …] [lr: …] [mem: …] [gpu: … ms][wall: … ms]`
//! - V-JEPA 2 `loss: 0.512 masks: [k: 12.0, …] [wd: …] [lr: …] [mem: …] [iter: … ms] [gpu: … ms] [data: … ms]`
//! - 2-AC     `loss: 0.512 [0.31, 0.20] [wd: …] …` (teacher-forcing and rollout losses)
//! - I-JEPA   `loss: 0.512 masks: 68.0 44.0 [wd: …] [lr: …] [mem: …] (812.0 ms)`
//!
//! plus V-JEPA's `[e, i] enc_grad_stats: f/l[…] mn/mx(…) <global norm>` lines.
//!
//! Loss, components, masks and times are *running means since the start of the epoch*
//! (AverageMeter). Consecutive lines a < b of one epoch give the mean of iterations (a, b]:
//! `mean = (avg_b·(b+1) − avg_a·(a+1)) / (b − a)`, placed at step b; the first line of an epoch is
//! the mean of iterations 0..=b. The printed rounding (3 decimals for the loss) is amplified by
//! `(b+1)/(b−a)`; the largest resulting error bound is reported. lr, wd and grad norms are
//! instantaneous and kept as printed. A line whose (epoch, itr) goes backwards starts a new process
//! (a restart). Lines that are not log lines are counted and ignored.

mod grammar;

use std::io::{BufReader, Read};

use super::lines::{Line, for_each_block, read_line_capped};
use super::table::{KeyKind, TableBuilder, ValuePolicy, epoch_itr_key};
use super::values::narrow;
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{Format, MISSING};
pub use grammar::epoch_itr_prefix;
use grammar::{Classified, Field, LineKind, classify};

/// Lines per parallel task.
const BLOCK_LINES: usize = 512;

/// Longer lines are not log lines (a printed tensor, a progress bar): ignored.
const MAX_CONSOLE_LINE: usize = 64 * 1024;

/// Lines read before a batch is classified (in parallel) and applied (in order).
const BATCH_LINES: usize = 16 * 1024;

/// Parses a console log. Lines are read in batches; each batch is classified across cores
/// (rayon) and applied in file order, so running means, restarts and line numbers are those of
/// a sequential read.
pub fn parse(
    reader: impl Read,
    source: &Source,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    read(reader, source, values, true)
}

/// [`parse`] without remembering the last loss line's columns: every field's name is looked up
/// in the table. What the cached reading must agree with to the bit
/// (`tests/console_fast_path.rs`), and a way to rule it out.
pub fn parse_uncached(
    reader: impl Read,
    source: &Source,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    read(reader, source, values, false)
}

/// [`parse`], remembering the last loss line's columns (`cached`) or not.
fn read(
    reader: impl Read,
    source: &Source,
    values: &ValuePolicy,
    cached: bool,
) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut state = ConsoleState::new(path, values);
    state.field_columns.cached = cached;
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    // Text of the batch's lines end to end, and (line number, end offset) of each.
    let mut text: Vec<u8> = Vec::new();
    let mut lines: Vec<(u64, usize)> = Vec::new();
    loop {
        let line = read_line_capped(&mut reader, &mut raw, MAX_CONSOLE_LINE)
            .map_err(|e| IngestError::io(path, e))?;
        match line {
            Line::End => break,
            Line::Endless => {
                return Err(IngestError::at(
                    path,
                    line_no + 1,
                    format!(
                        "line longer than {} MiB: not a console log",
                        super::lines::MAX_LINE_BYTES >> 20
                    ),
                ));
            }
            Line::TooLong { .. } => {
                line_no += 1;
                state.ignored += 1;
                continue;
            }
            Line::Complete => line_no += 1,
        }
        text.extend_from_slice(&raw);
        lines.push((line_no, text.len()));
        if lines.len() >= BATCH_LINES {
            state.apply_batch(&text, &lines);
            text.clear();
            lines.clear();
        }
    }
    state.apply_batch(&text, &lines);
    state.finish()
}

struct ConsoleState {
    builder: TableBuilder,
    ipe_hint: Option<u64>,
    ignored: u64,
    other_ranks: u64,
    rank: Option<u64>,
    /// Key of the last loss row and its index, for the grad-stat lines that follow it.
    last_row: Option<(u64, usize)>,
    /// Previous loss line of the current epoch: its itr and the running means it printed,
    /// by column.
    previous: Option<(u64, u64)>,
    previous_means: Vec<Option<f64>>,
    /// The columns whose `previous_means` entry is set (the running means of the last line),
    /// and the same of the line before (kept to reuse its memory).
    meant: Vec<usize>,
    meant_before: Vec<usize>,
    /// The columns of the last loss line's fields.
    field_columns: FieldColumns,
    /// Per-task results, kept from batch to batch (cleared, not reallocated).
    blocks: Vec<Block>,
    /// Largest rounding error bound of a recovered window mean of `loss`.
    loss_rounding: f64,
    /// Recovered window means of non-negative meters that came out negative: within the
    /// rounding bound of their window (set to 0), and beyond it (left out).
    negative_within_rounding: u64,
    negative_beyond_rounding: u64,
    /// The first window mean left out: (line, meter, value, bound).
    first_negative: Option<(u64, String, f64, f64)>,
    restarts: u64,
}

impl ConsoleState {
    fn new(path: &str, values: &ValuePolicy) -> ConsoleState {
        ConsoleState {
            builder: TableBuilder::with_policy(path, values.clone()),
            ipe_hint: None,
            ignored: 0,
            other_ranks: 0,
            rank: None,
            last_row: None,
            previous: None,
            previous_means: Vec::new(),
            meant: Vec::new(),
            meant_before: Vec::new(),
            field_columns: FieldColumns::default(),
            blocks: Vec::new(),
            loss_rounding: 0.0,
            negative_within_rounding: 0,
            negative_beyond_rounding: 0,
            first_negative: None,
            restarts: 0,
        }
    }

    /// Classifies the lines of a batch across cores, then applies them in order.
    fn apply_batch(&mut self, text: &[u8], lines: &[(u64, usize)]) {
        let line_at = |i: usize| {
            let start = if i == 0 { 0 } else { lines[i - 1].1 };
            &text[start..lines[i].1]
        };
        let mut blocks = std::mem::take(&mut self.blocks);
        let count = for_each_block(&mut blocks, lines.len(), BLOCK_LINES, |range, block| {
            block.fields.clear();
            block.lines.clear();
            for i in range {
                let classified = classify(line_at(i), &mut block.fields);
                block.lines.push(classified);
            }
        });
        let mut i = 0;
        for block in &mut blocks[..count] {
            for line in block.lines.drain(..) {
                self.line(&line, line_at(i), &block.fields, lines[i].0);
                i += 1;
            }
        }
        self.blocks = blocks;
    }

    /// Applies a classified line (`raw`: its text as read; `fields`: its block's fields).
    fn line(&mut self, line: &Classified, raw: &[u8], fields: &[Field], line_no: u64) {
        if let Some(rank) = line.rank {
            let first = *self.rank.get_or_insert(rank);
            if rank != first {
                self.other_ranks += 1;
                return;
            }
        }
        match line.kind {
            LineKind::Ipe(ipe) => {
                self.ipe_hint = Some(ipe);
                self.ignored += 1;
            }
            LineKind::Loss {
                epoch,
                itr,
                fields: ref found,
            } => {
                let found = found.clone().map(|range| &fields[range]);
                self.loss_line(epoch, itr, found, line.line(raw), line_no);
            }
            LineKind::Grad {
                epoch,
                itr,
                name,
                norm,
            } => self.grad_line(epoch, itr, name, norm),
            LineKind::Other => self.ignored += 1,
        }
    }

    /// A loss line's fields (or why they could not be read); `line`: the text their names are in.
    fn loss_line(
        &mut self,
        epoch: u64,
        itr: u64,
        fields: Result<&[Field], String>,
        line: &[u8],
        line_no: u64,
    ) {
        let Some(key) = epoch_itr_key(epoch, itr) else {
            self.builder
                .skip(line_no, format!("epoch {epoch} / itr {itr} out of range"));
            return;
        };
        let fields = match fields {
            Ok(fields) => fields,
            Err(reason) => {
                self.builder.skip(line_no, reason);
                return;
            }
        };
        // A key at or before the last one: a new process replays from its checkpoint.
        if let Some((last, _)) = self.last_row
            && key <= last
        {
            self.builder.restart();
            self.restarts += 1;
            self.previous = None;
        }
        if self.previous.is_some_and(|(e, _)| e != epoch) {
            self.previous = None;
        }
        let row = self.builder.push_row(key);
        self.field_columns.learn(fields, line, &mut self.builder);
        std::mem::swap(&mut self.meant, &mut self.meant_before);
        self.meant.clear();
        for (i, field) in fields.iter().enumerate() {
            let column = self.field_columns.columns[i];
            if self.previous_means.len() <= column {
                self.previous_means.resize(column + 1, None);
            }
            let value = if field.running_mean {
                let window = match (self.previous, self.previous_means[column]) {
                    (Some((_, a)), Some(avg_a)) if a < itr => {
                        let (a1, b1, width) = ((a + 1) as f64, (itr + 1) as f64, (itr - a) as f64);
                        let half_unit = 0.5 * 10f64.powi(-(field.decimals as i32));
                        let bound = half_unit * (a1 + b1) / width;
                        if field.name.is("loss", line)
                            && field.value.is_finite()
                            && avg_a.is_finite()
                        {
                            self.loss_rounding = self.loss_rounding.max(bound);
                        }
                        let window = (field.value * b1 - avg_a * a1) / width;
                        if window < 0.0 && field.value >= 0.0 && avg_a >= 0.0 {
                            // Means of non-negative values cannot imply a negative window.
                            self.negative_window(line_no, &field.name.text(line), window, bound)
                        } else {
                            Some(window)
                        }
                    }
                    _ => Some(field.value),
                };
                self.previous_means[column] = Some(field.value);
                self.meant.push(column);
                window
            } else {
                Some(field.value)
            };
            self.builder.set(row, column, value.map_or(MISSING, narrow));
        }
        // Meters absent from this line must not pair with an older line later (only the
        // meters of the previous line can hold a mean: no pass over every column).
        // (Nothing to clear when this line's meters are the last line's, as a rule.)
        let same_meters = self.meant == self.meant_before;
        for &column in self.meant_before.iter().filter(|_| !same_meters) {
            if !self.meant.contains(&column) {
                self.previous_means[column] = None;
            }
        }
        self.previous = Some((epoch, itr));
        self.last_row = Some((key, row));
    }

    /// A negative window mean of a non-negative meter: 0 when the rounding of the printed means
    /// explains it, else left out (`None`); counted either way.
    fn negative_window(
        &mut self,
        line_no: u64,
        name: &str,
        window: f64,
        bound: f64,
    ) -> Option<f64> {
        if -window <= bound {
            self.negative_within_rounding += 1;
            Some(0.0)
        } else {
            self.negative_beyond_rounding += 1;
            self.first_negative
                .get_or_insert_with(|| (line_no, name.to_string(), window, bound));
            None
        }
    }

    fn grad_line(&mut self, epoch: u64, itr: u64, name: &str, norm: Option<f64>) {
        let Some(norm) = norm else {
            self.ignored += 1;
            return;
        };
        let Some(key) = epoch_itr_key(epoch, itr) else {
            self.ignored += 1;
            return;
        };
        // 0 means "not computed" (clipping inactive during warmup), as in the CSV.
        if norm == 0.0 {
            self.ignored += 1;
            return;
        }
        let column = self.builder.column(name);
        let row = match self.last_row {
            Some((last, row)) if last == key => row,
            _ => {
                let row = self.builder.push_row(key);
                self.last_row = Some((key, row));
                row
            }
        };
        self.builder.set(row, column, narrow(norm));
    }

    fn finish(mut self) -> Result<Parsed, IngestError> {
        let path = self.builder.source().to_string();
        if self.builder.rows_read() == 0 {
            return Err(IngestError::unusable(
                &path,
                "no `[epoch, itr] loss: …` line found in this console log",
            ));
        }
        if self.other_ranks > 0 {
            self.builder.warn(format!(
                "{path}: {} lines of other ranks ignored (rank {} kept)",
                self.other_ranks,
                self.rank.unwrap_or(0)
            ));
        }
        if self.negative_within_rounding + self.negative_beyond_rounding > 0 {
            let mut message = format!(
                "{path}: {} window means recovered from non-negative running means came out negative: {} within the rounding bound of the printed digits (read as 0), {} beyond it (left out)",
                self.negative_within_rounding + self.negative_beyond_rounding,
                self.negative_within_rounding,
                self.negative_beyond_rounding
            );
            if let Some((line, name, value, bound)) = &self.first_negative {
                message.push_str(&format!(
                    "; first left out: line {line}, '{name}' {value:.4} (bound ±{bound:.2e}): the printed means are not running means of one epoch"
                ));
            }
            self.builder.warn(message);
        }
        if self.loss_rounding > 0.0 {
            self.builder.warn(format!(
                "{path}: window means recovered from printed running means; rounding error of 'loss' up to ±{:.2e}",
                self.loss_rounding
            ));
        }
        let restarts = self.restarts;
        Ok(Parsed {
            table: self.builder.finish(restarts),
            key_kind: KeyKind::EpochItr,
            format: Format::ConsoleLog,
            ipe_hint: self.ipe_hint,
            lines_ignored: self.ignored + self.other_ranks,
        })
    }
}

/// Lines classified together by one task: the fields of their loss lines end to end, and what
/// each line says.
#[derive(Default)]
struct Block {
    fields: Vec<Field>,
    lines: Vec<Classified>,
}

/// The columns of the last loss line's fields, by name: a line naming the same fields in the
/// same order (every line of a run, as a rule) finds its columns without a lookup; any other
/// line looks each name up ([`TableBuilder::column`], creating columns in field order as a
/// lookup per field would).
#[derive(Default)]
struct FieldColumns {
    names: Vec<String>,
    columns: Vec<usize>,
    /// Whether the last line's columns are reused (else every line looks its names up).
    cached: bool,
}

impl FieldColumns {
    /// Makes `columns` those of `fields` (names read from `line`).
    fn learn(&mut self, fields: &[Field], line: &[u8], builder: &mut TableBuilder) {
        let same = self.cached
            && self.names.len() == fields.len()
            && fields
                .iter()
                .zip(&self.names)
                .all(|(field, name)| field.name.is(name, line));
        if !same {
            self.names.clear();
            self.columns.clear();
            for field in fields {
                let name = field.name.text(line);
                self.columns.push(builder.column(&name));
                self.names.push(name.into_owned());
            }
        }
    }
}
