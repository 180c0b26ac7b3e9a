//! The line grammar of JEPA console logs (see the parent module for the shapes): pure functions
//! from one line's bytes to what it says, so that lines are classified across cores and only
//! the running-mean state is kept in file order.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem::Finder;

mod cursor;

use cursor::{Cursor, ValueEnd};

/// One value found on a loss line.
pub(super) struct Field {
    pub(super) name: Name,
    pub(super) value: f64,
    /// Printed as a running mean since the start of the epoch.
    pub(super) running_mean: bool,
    /// Digits after the decimal point as printed.
    pub(super) decimals: u32,
}

/// A field's name, without building a string: fixed by the grammar, or where it is in the
/// (clean) line. [`Name::text`] spells it.
#[derive(Clone, Debug)]
pub(super) enum Name {
    Fixed(&'static str),
    /// A bracket's own name (`[name: value]`): trimmed UTF-8 bytes of the line.
    Text(Range<usize>),
    /// `masks[<label>]`: the label's trimmed UTF-8 bytes in the line.
    MaskLabel(Range<usize>),
    /// A name that is not a slice of the line (not UTF-8, or an unusual mask index).
    Owned(String),
}

/// `masks[k]` for the first few unlabelled masks (more are [`Name::Owned`]).
const MASK_NAMES: [&str; 8] = [
    "masks[0]", "masks[1]", "masks[2]", "masks[3]", "masks[4]", "masks[5]", "masks[6]", "masks[7]",
];

impl Name {
    /// The name as the table knows it; `line` is the (clean) line the fields were read from.
    pub(super) fn text<'a>(&'a self, line: &'a [u8]) -> Cow<'a, str> {
        match self {
            Name::Fixed(name) => Cow::Borrowed(name),
            Name::Text(r) => String::from_utf8_lossy(&line[r.clone()]),
            Name::MaskLabel(r) => Cow::Owned(format!(
                "masks[{}]",
                String::from_utf8_lossy(&line[r.clone()])
            )),
            Name::Owned(name) => Cow::Borrowed(name),
        }
    }

    /// Whether the name is `name` (what [`Name::text`] would say, without building it).
    pub(super) fn is(&self, name: &str, line: &[u8]) -> bool {
        match self {
            Name::Fixed(fixed) => *fixed == name,
            Name::Text(r) => line[r.clone()] == *name.as_bytes(),
            Name::MaskLabel(r) => name
                .strip_prefix("masks[")
                .and_then(|n| n.strip_suffix(']'))
                .is_some_and(|label| line[r.clone()] == *label.as_bytes()),
            Name::Owned(owned) => owned == name,
        }
    }

    /// `line[range]` trimmed as `str::trim` does: where it is, and its text; `None` when it is
    /// not UTF-8 (the caller then owns a lossy copy).
    fn trimmed(line: &[u8], range: Range<usize>) -> Option<(Range<usize>, &str)> {
        let text = std::str::from_utf8(&line[range.clone()]).ok()?;
        let start = range.start + (text.len() - text.trim_start().len());
        let text = text.trim();
        Some((start..start + text.len(), text))
    }
}

/// What one console line says.
pub(super) enum LineKind {
    /// `iterations per epoch…: N`.
    Ipe(u64),
    /// `[epoch, itr] loss: …` with where its fields are in the caller's list, or why they could
    /// not be read.
    Loss {
        epoch: u64,
        itr: u64,
        fields: Result<Range<usize>, String>,
    },
    /// `[epoch, itr] enc_grad_stats: … <norm>`: the column and the norm (`None`: no norm).
    Grad {
        epoch: u64,
        itr: u64,
        name: &'static str,
        norm: Option<f64>,
    },
    /// Anything else (counted as ignored).
    Other,
}

/// A console line classified: the torchrun rank prefix it had, and what it says.
pub(super) struct Classified {
    pub(super) rank: Option<u64>,
    pub(super) kind: LineKind,
    /// The line without its ANSI colours, when it had any (field names are read from it).
    pub(super) clean: Option<Vec<u8>>,
}

impl Classified {
    /// The line its field names are in: the clean copy, or `raw` (the line as read).
    pub(super) fn line<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        self.clean.as_deref().unwrap_or(raw)
    }
}

/// Classifies one line (ANSI colours removed first), appending the fields of a loss line to
/// `fields`.
pub(super) fn classify(raw: &[u8], fields: &mut Vec<Field>) -> Classified {
    let clean = raw.contains(&0x1b).then(|| {
        let mut clean = Vec::new();
        strip_ansi(raw, &mut clean);
        clean
    });
    let line = clean.as_deref().unwrap_or(raw);
    let rank = rank_prefix(line);
    let kind = if let Some(ipe) = ipe_statement(line) {
        LineKind::Ipe(ipe)
    } else if let Some((epoch, itr, rest)) = epoch_itr_prefix(line) {
        let at = line.len() - rest.len();
        if rest.starts_with(b"loss:") {
            let from = fields.len();
            let parsed = parse_loss_fields(line, at + 5, fields).map(|()| from..fields.len());
            if parsed.is_err() {
                fields.truncate(from);
            }
            LineKind::Loss {
                epoch,
                itr,
                fields: parsed,
            }
        } else if let Some((name, body)) = rest
            .strip_prefix(b"enc_grad_stats:")
            .map(|b| ("enc-grad-norm", b))
            .or_else(|| {
                rest.strip_prefix(b"pred_grad_stats:")
                    .map(|b| ("pred-grad-norm", b))
            })
        {
            // V-JEPA: `f/l[a b] mn/mx(c, d) <global norm>`; I-JEPA's `[a b] (c, d)` has no norm.
            let norm = if body.windows(5).any(|w| w == b"mn/mx") {
                last_number(body)
            } else {
                None
            };
            LineKind::Grad {
                epoch,
                itr,
                name,
                norm,
            }
        } else {
            LineKind::Other
        }
    } else {
        LineKind::Other
    };
    Classified { rank, kind, clean }
}

/// Parses what follows `loss:` (from byte `from` of `line`) into named fields.
pub(super) fn parse_loss_fields(
    line: &[u8],
    from: usize,
    out: &mut Vec<Field>,
) -> Result<(), String> {
    let mut c = Cursor { s: line, i: from };
    c.skip_spaces();
    let (loss, decimals) = c
        .value(ValueEnd::Bare)?
        .ok_or_else(|| format!("loss value is not a number: {}", preview(&line[from..])))?;
    out.push(meter("loss", loss, decimals));
    loop {
        c.skip_spaces();
        if c.done() {
            break;
        }
        if c.eat(b"| p") {
            // V-JEPA: `| p0.826 r0.883 |`
            if let Some((p, d)) = c.value(ValueEnd::Bare)? {
                out.push(meter("loss-jepa", p, d));
            }
            c.skip_spaces();
            if c.eat(b"r")
                && let Some((r, d)) = c.value(ValueEnd::Bare)?
            {
                out.push(meter("reg-loss", r, d));
            }
        } else if c.eat(b"input_var:") {
            let names = ["input_var", "input_var_min"];
            for name in names {
                c.skip_spaces();
                if let Some((v, d)) = c.value(ValueEnd::Bare)? {
                    out.push(meter(name, v, d));
                }
            }
        } else if c.eat(b"masks:") {
            c.skip_spaces();
            masks(&mut c, out);
        } else if c.peek() == Some(b'[') {
            bracket(&mut c, out)?;
        } else if c.peek() == Some(b'(') {
            // I-JEPA: `(812.0 ms)`
            c.i += 1;
            if let Some((v, d)) = c.value(ValueEnd::Unit)? {
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
fn bracket(c: &mut Cursor, out: &mut Vec<Field>) -> Result<(), String> {
    c.i += 1; // '['
    c.skip_spaces();
    if let Some((first, d1)) = c.value(ValueEnd::List)? {
        c.skip_spaces();
        if c.eat(b",") {
            c.skip_spaces();
            if let Some((second, d2)) = c.value(ValueEnd::List)? {
                out.push(meter("jloss", first, d1));
                out.push(meter("sloss", second, d2));
            }
        }
        c.skip_until(b']');
        return Ok(());
    }
    let name_start = c.i;
    while let Some(b) = c.peek() {
        if b == b':' || b == b']' {
            break;
        }
        c.i += 1;
    }
    let (name, text) = name_in(c.s, name_start..c.i, Name::Text);
    if !c.eat(b":") {
        c.skip_until(b']');
        return Ok(());
    }
    c.skip_spaces();
    let Some((value, decimals)) = c.value(ValueEnd::Unit)? else {
        c.skip_until(b']');
        return Ok(());
    };
    c.skip_spaces();
    let named = |name: Name| Field {
        name,
        value,
        running_mean: false,
        decimals,
    };
    match text.as_ref() {
        "gpu" => out.push(meter("gpu-time(ms)", value, decimals)),
        "wall" => out.push(meter("wall-time(ms)", value, decimals)),
        "iter" => out.push(meter("iter-time(ms)", value, decimals)),
        "data" => out.push(meter("dataload-time(ms)", value, decimals)),
        "grad" => {
            out.push(named(Name::Fixed("grad-norm")));
            if c.eat(b"->") {
                c.skip_spaces();
                if let Some((clipped, d)) = c.value(ValueEnd::Unit)? {
                    out.push(Field {
                        name: Name::Fixed("grad-norm-clipped"),
                        value: clipped,
                        running_mean: false,
                        decimals: d,
                    });
                }
            }
        }
        // `wd`, `lr`, `mem` and any other name: as printed.
        other if !other.is_empty() => out.push(named(name)),
        _ => {}
    }
    c.skip_until(b']');
    Ok(())
}

/// The name in `line[range]` trimmed (`str::trim` of its lossy text): as `slice` of the line
/// when it is UTF-8, else owned; and its text.
fn name_in(
    line: &[u8],
    range: Range<usize>,
    slice: fn(Range<usize>) -> Name,
) -> (Name, Cow<'_, str>) {
    match Name::trimmed(line, range.clone()) {
        Some((r, text)) => (slice(r), Cow::Borrowed(text)),
        None => {
            let text = String::from_utf8_lossy(&line[range]).trim().to_string();
            (Name::Owned(text.clone()), Cow::Owned(text))
        }
    }
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
                Some(colon) => (Some(start..start + colon), &item[colon + 1..]),
                None => (None, item),
            };
            let mut v = Cursor {
                s: value.trim_ascii(),
                i: 0,
            };
            if let Some((x, d)) = v.number() {
                let name = match label {
                    Some(label) => match name_in(c.s, label, Name::MaskLabel) {
                        (Name::Owned(label), _) => Name::Owned(format!("masks[{label}]")),
                        (name, _) => name,
                    },
                    None => MASK_NAMES.get(k).map_or_else(
                        || Name::Owned(format!("masks[{k}]")),
                        |name| Name::Fixed(name),
                    ),
                };
                out.push(Field {
                    name,
                    value: x,
                    running_mean: true,
                    decimals: d,
                });
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

fn meter(name: &'static str, value: f64, decimals: u32) -> Field {
    Field {
        name: Name::Fixed(name),
        value,
        running_mean: true,
        decimals,
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
        let epoch = c.whole();
        if let Some(epoch) = epoch
            && c.eat(b",")
        {
            c.skip_spaces();
            if let Some(itr) = c.whole() {
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

/// `[rank3]:` at the start of a line (torchrun's prefix).
fn rank_prefix(line: &[u8]) -> Option<u64> {
    let rest = line.trim_ascii_start().strip_prefix(b"[rank")?;
    let mut c = Cursor { s: rest, i: 0 };
    let rank = c.whole()?;
    c.eat(b"]:").then_some(rank)
}

/// `iterations per epoch/dataest length: 100/3125` (the upstream spelling), or `iterations per
/// epoch: 100`.
fn ipe_statement(line: &[u8]) -> Option<u64> {
    static IPE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"iterations per epoch"));
    let at = IPE.find(line)?;
    let rest = &line[at..];
    let colon = memchr::memchr(b':', rest)?;
    let mut c = Cursor {
        s: &rest[colon + 1..],
        i: 0,
    };
    c.skip_spaces();
    c.whole().filter(|n| *n > 0)
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
mod tests;
