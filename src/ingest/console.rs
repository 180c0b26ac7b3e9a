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

use std::io::{BufReader, Read};

use super::lines::{Line, read_line_capped};
use super::table::{KeyKind, TableBuilder, ValuePolicy, epoch_itr_key};
use super::values::narrow;
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{Format, MISSING};

/// Longer lines are not log lines (a printed tensor, a progress bar): ignored.
const MAX_CONSOLE_LINE: usize = 64 * 1024;

/// One value found on a loss line.
struct Field {
    name: String,
    value: f64,
    /// Printed as a running mean since the start of the epoch.
    running_mean: bool,
    /// Digits after the decimal point as printed.
    decimals: u32,
}

/// Parses a console log.
pub fn parse(
    reader: impl Read,
    source: &Source,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut state = ConsoleState::new(path, values);
    let mut raw = Vec::new();
    let mut clean = Vec::new();
    let mut line_no = 0u64;
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
        strip_ansi(&raw, &mut clean);
        state.line(&clean, line_no);
    }
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
    /// Largest rounding error bound of a recovered window mean of `loss`.
    loss_rounding: f64,
    /// Recovered window means of non-negative meters that came out negative: within the
    /// rounding bound of their window (set to 0), and beyond it (left out).
    negative_within_rounding: u64,
    negative_beyond_rounding: u64,
    /// The first window mean left out: (line, meter, value, bound).
    first_negative: Option<(u64, String, f64, f64)>,
    restarts: u64,
    fields: Vec<Field>,
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
            loss_rounding: 0.0,
            negative_within_rounding: 0,
            negative_beyond_rounding: 0,
            first_negative: None,
            restarts: 0,
            fields: Vec::new(),
        }
    }

    fn line(&mut self, line: &[u8], line_no: u64) {
        if let Some(rank) = rank_prefix(line) {
            let first = *self.rank.get_or_insert(rank);
            if rank != first {
                self.other_ranks += 1;
                return;
            }
        }
        if let Some(ipe) = ipe_statement(line) {
            self.ipe_hint = Some(ipe);
            self.ignored += 1;
            return;
        }
        let Some((epoch, itr, rest)) = epoch_itr_prefix(line) else {
            self.ignored += 1;
            return;
        };
        if let Some(body) = rest.strip_prefix(b"loss:") {
            self.loss_line(epoch, itr, body, line_no);
        } else if let Some(body) = rest
            .strip_prefix(b"enc_grad_stats:")
            .map(|b| ("enc-grad-norm", b))
            .or_else(|| {
                rest.strip_prefix(b"pred_grad_stats:")
                    .map(|b| ("pred-grad-norm", b))
            })
        {
            self.grad_line(epoch, itr, body.0, body.1);
        } else {
            self.ignored += 1;
        }
    }

    fn loss_line(&mut self, epoch: u64, itr: u64, body: &[u8], line_no: u64) {
        let Some(key) = epoch_itr_key(epoch, itr) else {
            self.builder
                .skip(line_no, format!("epoch {epoch} / itr {itr} out of range"));
            return;
        };
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        if let Err(reason) = parse_loss_fields(body, &mut fields) {
            self.builder.skip(line_no, reason);
            self.fields = fields;
            return;
        }
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
        for field in &fields {
            let column = self.builder.column(&field.name);
            if self.previous_means.len() <= column {
                self.previous_means.resize(column + 1, None);
            }
            let value = if field.running_mean {
                let window = match (self.previous, self.previous_means[column]) {
                    (Some((_, a)), Some(avg_a)) if a < itr => {
                        let (a1, b1, width) = ((a + 1) as f64, (itr + 1) as f64, (itr - a) as f64);
                        let half_unit = 0.5 * 10f64.powi(-(field.decimals as i32));
                        let bound = half_unit * (a1 + b1) / width;
                        if field.name == "loss" && field.value.is_finite() && avg_a.is_finite() {
                            self.loss_rounding = self.loss_rounding.max(bound);
                        }
                        let window = (field.value * b1 - avg_a * a1) / width;
                        if window < 0.0 && field.value >= 0.0 && avg_a >= 0.0 {
                            // Means of non-negative values cannot imply a negative window.
                            self.negative_window(line_no, &field.name, window, bound)
                        } else {
                            Some(window)
                        }
                    }
                    _ => Some(field.value),
                };
                self.previous_means[column] = Some(field.value);
                window
            } else {
                Some(field.value)
            };
            self.builder.set(row, column, value.map_or(MISSING, narrow));
        }
        // Meters absent from this line must not pair with an older line later.
        for (column, mean) in self.previous_means.iter_mut().enumerate() {
            let name = &self.builder.names()[column];
            if !fields.iter().any(|f| &f.name == name && f.running_mean) {
                *mean = None;
            }
        }
        self.previous = Some((epoch, itr));
        self.last_row = Some((key, row));
        self.fields = fields;
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

    fn grad_line(&mut self, epoch: u64, itr: u64, name: &str, body: &[u8]) {
        // V-JEPA: `f/l[a b] mn/mx(c, d) <global norm>`; I-JEPA's `[a b] (c, d)` has no norm.
        if !body.windows(5).any(|w| w == b"mn/mx") {
            self.ignored += 1;
            return;
        }
        let Some(norm) = last_number(body) else {
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

/// Parses what follows `loss:` into named fields.
fn parse_loss_fields(body: &[u8], out: &mut Vec<Field>) -> Result<(), String> {
    let mut c = Cursor { s: body, i: 0 };
    c.skip_spaces();
    let (loss, decimals) = c
        .number()
        .ok_or_else(|| format!("loss value is not a number: {}", preview(body)))?;
    out.push(meter("loss", loss, decimals));
    loop {
        c.skip_spaces();
        if c.done() {
            break;
        }
        if c.eat(b"| p") {
            // V-JEPA: `| p0.826 r0.883 |`
            if let Some((p, d)) = c.number() {
                out.push(meter("loss-jepa", p, d));
            }
            c.skip_spaces();
            if c.eat(b"r")
                && let Some((r, d)) = c.number()
            {
                out.push(meter("reg-loss", r, d));
            }
        } else if c.eat(b"input_var:") {
            let names = ["input_var", "input_var_min"];
            for name in names {
                c.skip_spaces();
                if let Some((v, d)) = c.number() {
                    out.push(meter(name, v, d));
                }
            }
        } else if c.eat(b"masks:") {
            c.skip_spaces();
            masks(&mut c, out);
        } else if c.peek() == Some(b'[') {
            bracket(&mut c, out);
        } else if c.peek() == Some(b'(') {
            // I-JEPA: `(812.0 ms)`
            c.i += 1;
            if let Some((v, d)) = c.number() {
                out.push(meter("time (ms)", v, d));
            }
            c.skip_until(b')');
        } else {
            c.i += 1;
        }
    }
    Ok(())
}

/// `[0.31, 0.20]` (2-AC losses), `[name: value unit]`, `[grad: a -> b]`.
fn bracket(c: &mut Cursor, out: &mut Vec<Field>) {
    c.i += 1; // '['
    c.skip_spaces();
    if let Some((first, d1)) = c.number() {
        c.skip_spaces();
        if c.eat(b",") {
            c.skip_spaces();
            if let Some((second, d2)) = c.number() {
                out.push(meter("jloss", first, d1));
                out.push(meter("sloss", second, d2));
            }
        }
        c.skip_until(b']');
        return;
    }
    let name_start = c.i;
    while let Some(b) = c.peek() {
        if b == b':' || b == b']' {
            break;
        }
        c.i += 1;
    }
    let name = String::from_utf8_lossy(&c.s[name_start..c.i])
        .trim()
        .to_string();
    if !c.eat(b":") {
        c.skip_until(b']');
        return;
    }
    c.skip_spaces();
    let Some((value, decimals)) = c.number() else {
        c.skip_until(b']');
        return;
    };
    c.skip_spaces();
    let named = |n: &str| Field {
        name: n.to_string(),
        value,
        running_mean: false,
        decimals,
    };
    match name.as_str() {
        "wd" | "lr" | "mem" => out.push(named(&name)),
        "gpu" => out.push(meter("gpu-time(ms)", value, decimals)),
        "wall" => out.push(meter("wall-time(ms)", value, decimals)),
        "iter" => out.push(meter("iter-time(ms)", value, decimals)),
        "data" => out.push(meter("dataload-time(ms)", value, decimals)),
        "grad" => {
            out.push(named("grad-norm"));
            if c.eat(b"->") {
                c.skip_spaces();
                if let Some((clipped, d)) = c.number() {
                    out.push(Field {
                        name: "grad-norm-clipped".into(),
                        value: clipped,
                        running_mean: false,
                        decimals: d,
                    });
                }
            }
        }
        other if !other.is_empty() => out.push(named(other)),
        _ => {}
    }
    c.skip_until(b']');
}

/// `masks: [56.0, 16.0]`, `masks: [k: 12.0, k2: 4.0]` (V-JEPA 2) or `masks: 68.0 44.0` (I-JEPA).
fn masks(c: &mut Cursor, out: &mut Vec<Field>) {
    if c.eat(b"[") {
        // Items are `value` or `label: value`; labels may start with digits (`8x0.15: 12.0`).
        let mut k = 0;
        loop {
            c.skip_spaces();
            if c.eat(b"]") || c.done() {
                break;
            }
            let start = c.i;
            while c.peek().is_some_and(|b| b != b',' && b != b']') {
                c.i += 1;
            }
            let item = &c.s[start..c.i];
            let (label, value) = match memchr::memrchr(b':', item) {
                Some(colon) => (
                    Some(String::from_utf8_lossy(&item[..colon]).trim().to_string()),
                    &item[colon + 1..],
                ),
                None => (None, item),
            };
            let mut v = Cursor {
                s: value.trim_ascii(),
                i: 0,
            };
            if let Some((x, d)) = v.number() {
                let name = match label {
                    Some(label) => format!("masks[{label}]"),
                    None => format!("masks[{k}]"),
                };
                out.push(meter(&name, x, d));
                k += 1;
            }
            c.eat(b",");
        }
    } else {
        for name in ["mask-A", "mask-B"] {
            c.skip_spaces();
            let start = c.i;
            match c.number() {
                Some((v, d)) => out.push(meter(name, v, d)),
                None => {
                    c.i = start;
                    break;
                }
            }
        }
    }
}

fn meter(name: &str, value: f64, decimals: u32) -> Field {
    Field {
        name: name.to_string(),
        value,
        running_mean: true,
        decimals,
    }
}

/// A byte cursor with the few primitives the line grammar needs.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|b| b == b' ' || b == b'\t') {
            self.i += 1;
        }
    }
    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i.min(self.s.len())..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn skip_until(&mut self, end: u8) {
        while let Some(b) = self.peek() {
            self.i += 1;
            if b == end {
                break;
            }
        }
    }
    /// A decimal number (or nan / inf), with the digits it had after the point.
    fn number(&mut self) -> Option<(f64, u32)> {
        let rest = &self.s[self.i.min(self.s.len())..];
        for word in [&b"nan"[..], b"-nan", b"inf", b"-inf"] {
            if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
                self.i += word.len();
                let v = std::str::from_utf8(word).ok()?.parse().ok()?;
                return Some((v, 0));
            }
        }
        let mut j = 0;
        if matches!(rest.first(), Some(b'-' | b'+')) {
            j += 1;
        }
        let digits_start = j;
        while rest.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        let mut decimals = 0;
        if rest.get(j) == Some(&b'.') {
            j += 1;
            while rest.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
                decimals += 1;
            }
        }
        if j == digits_start || (j == digits_start + 1 && rest[digits_start] == b'.') {
            return None;
        }
        if matches!(rest.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            if matches!(rest.get(k), Some(b'-' | b'+')) {
                k += 1;
            }
            let exp_start = k;
            while rest.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            if k > exp_start {
                j = k;
            }
        }
        let v: f64 = std::str::from_utf8(&rest[..j]).ok()?.parse().ok()?;
        self.i += j;
        Some((v, decimals))
    }
}

/// Finds `[<epoch>, <itr>]` followed by a space; returns them and the text after the spaces.
pub fn epoch_itr_prefix(line: &[u8]) -> Option<(u64, u64, &[u8])> {
    let mut from = 0;
    while let Some(rel) = memchr::memchr(b'[', &line[from..]) {
        let open = from + rel;
        let mut c = Cursor {
            s: line,
            i: open + 1,
        };
        c.skip_spaces();
        let epoch = whole(&mut c);
        if let Some(epoch) = epoch
            && c.eat(b",")
        {
            c.skip_spaces();
            if let Some(itr) = whole(&mut c) {
                c.skip_spaces();
                if c.eat(b"]") {
                    c.skip_spaces();
                    return Some((epoch, itr, &line[c.i..]));
                }
            }
        }
        from = open + 1;
    }
    None
}

fn whole(c: &mut Cursor) -> Option<u64> {
    let start = c.i;
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.i += 1;
    }
    if c.i == start || c.i - start > 12 {
        return None;
    }
    std::str::from_utf8(&c.s[start..c.i]).ok()?.parse().ok()
}

/// `[rank3]:` at the start of a line (torchrun's prefix).
fn rank_prefix(line: &[u8]) -> Option<u64> {
    let rest = line.trim_ascii_start().strip_prefix(b"[rank")?;
    let mut c = Cursor { s: rest, i: 0 };
    let rank = whole(&mut c)?;
    c.eat(b"]:").then_some(rank)
}

/// `iterations per epoch/dataest length: 100/3125` (the upstream spelling), or `iterations per
/// epoch: 100`.
fn ipe_statement(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line, b"iterations per epoch")?;
    let rest = &line[at..];
    let colon = memchr::memchr(b':', rest)?;
    let mut c = Cursor {
        s: &rest[colon + 1..],
        i: 0,
    };
    c.skip_spaces();
    whole(&mut c).filter(|n| *n > 0)
}

/// The last number on a line (V-JEPA's grad-stat lines end with the global norm).
fn last_number(body: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(body).ok()?;
    text.split(|ch: char| ch.is_whitespace() || ch == '(' || ch == ')' || ch == ',')
        .rfind(|t| !t.is_empty())?
        .parse()
        .ok()
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
pub fn strip_ansi(line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    if !line.contains(&0x1b) {
        out.extend_from_slice(line);
        return;
    }
    let mut i = 0;
    while i < line.len() {
        if line[i] == 0x1b {
            i += 1;
            if line.get(i) == Some(&b'[') {
                i += 1;
                while i < line.len() && !line[i].is_ascii_alphabetic() {
                    i += 1;
                }
            }
            i += 1;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(30).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Vec<(String, f64, bool)> {
        let mut out = Vec::new();
        let parsed = parse_loss_fields(body.as_bytes(), &mut out);
        assert_eq!(parsed, Ok(()), "{body}");
        out.into_iter()
            .map(|f| (f.name, f.value, f.running_mean))
            .collect()
    }

    #[test]
    fn vjepa_loss_line() {
        let f = fields(
            " 0.826 | p0.826 r0.883 | input_var: 0.624 0.249 | masks: [56.0, 16.0] [wd: 4.00e-02] [lr: 2.01e-04] [mem: 1.39e+03] [gpu: 1758.5 ms][wall: 6365.6 ms]",
        );
        let names: Vec<&str> = f.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "loss",
                "loss-jepa",
                "reg-loss",
                "input_var",
                "input_var_min",
                "masks[0]",
                "masks[1]",
                "wd",
                "lr",
                "mem",
                "gpu-time(ms)",
                "wall-time(ms)"
            ]
        );
        assert_eq!(f[2].1, 0.883);
        assert_eq!(f[8], ("lr".into(), 2.01e-4, false));
        assert!(f[10].2);
    }

    #[test]
    fn vjepa2_ac_and_ijepa_lines() {
        let ac = fields(
            " 0.512 [0.31, 0.20] [wd: 4.00e-02] [lr: 1.00e-04] [mem: 1.0e+03] [iter: 500.0 ms] [gpu: 400.0 ms] [data: 20.0 ms]",
        );
        assert_eq!(ac[1].0, "jloss");
        assert_eq!(ac[2], ("sloss".into(), 0.20, true));
        assert!(ac.iter().any(|x| x.0 == "dataload-time(ms)"));
        let ij = fields(
            " 0.512 masks: 68.0 44.0 [wd: 4.00e-02] [lr: 2.00e-04] [mem: 1.2e+03] (812.0 ms)",
        );
        let names: Vec<&str> = ij.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            ["loss", "mask-A", "mask-B", "wd", "lr", "mem", "time (ms)"]
        );
        let v2 = fields(
            " 0.512 masks: [k0: 12.0, k1: 4.0] [wd: 4.00e-02] [lr: 2.00e-04] [grad: 1.50e+00 -> 1.00e+00]",
        );
        let names: Vec<&str> = v2.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "loss",
                "masks[k0]",
                "masks[k1]",
                "wd",
                "lr",
                "grad-norm",
                "grad-norm-clipped"
            ]
        );
        let labelled = fields(" 0.5 masks: [8x0.15: 12.0, 2x0.7: 4.0] [lr: 1.0e-04]");
        assert_eq!(labelled[1], ("masks[8x0.15]".into(), 12.0, true));
        assert_eq!(labelled[2], ("masks[2x0.7]".into(), 4.0, true));
    }

    #[test]
    fn nan_loss_is_a_value() {
        let f = fields(" nan | pnan r0.500 | [lr: 1.0e-03]");
        assert!(f[0].1.is_nan() && f[1].1.is_nan());
    }

    #[test]
    fn prefixes_and_brackets() -> Result<(), Box<dyn std::error::Error>> {
        let (e, i, rest) =
            epoch_itr_prefix(b"[INFO    ][2024-06-06 10:00:00][log_stats   ] [3,    40] loss: 1.0")
                .ok_or("no prefix")?;
        assert_eq!((e, i), (3, 40));
        assert!(rest.starts_with(b"loss:"));
        assert_eq!(rank_prefix(b"[rank1]: INFO:root:[1, 0] loss: 1"), Some(1));
        assert_eq!(
            ipe_statement(b"INFO:app.vjepa.train:iterations per epoch/dataest length: 100/3125"),
            Some(100)
        );
        let mut out = Vec::new();
        strip_ansi(b"\x1b[32mINFO\x1b[0m [1, 0] loss: 1", &mut out);
        assert_eq!(out, b"INFO [1, 0] loss: 1");
        Ok(())
    }
}
