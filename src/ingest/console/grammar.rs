//! The line grammar of JEPA console logs (see the parent module for the shapes): pure functions
//! from one line's bytes to what it says, so that lines are classified across cores and only
//! the running-mean state is kept in file order.

/// One value found on a loss line.
pub(super) struct Field {
    pub(super) name: String,
    pub(super) value: f64,
    /// Printed as a running mean since the start of the epoch.
    pub(super) running_mean: bool,
    /// Digits after the decimal point as printed.
    pub(super) decimals: u32,
}

/// What one console line says.
pub(super) enum LineKind {
    /// `iterations per epoch…: N`.
    Ipe(u64),
    /// `[epoch, itr] loss: …` with its fields, or why they could not be read.
    Loss {
        epoch: u64,
        itr: u64,
        fields: Result<Vec<Field>, String>,
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
}

/// Classifies one line (ANSI colours removed first).
pub(super) fn classify(raw: &[u8]) -> Classified {
    let mut clean = Vec::new();
    strip_ansi(raw, &mut clean);
    let line = clean.as_slice();
    let rank = rank_prefix(line);
    let kind = if let Some(ipe) = ipe_statement(line) {
        LineKind::Ipe(ipe)
    } else if let Some((epoch, itr, rest)) = epoch_itr_prefix(line) {
        if let Some(body) = rest.strip_prefix(b"loss:") {
            let mut fields = Vec::new();
            let fields = parse_loss_fields(body, &mut fields).map(|()| fields);
            LineKind::Loss { epoch, itr, fields }
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
    Classified { rank, kind }
}

/// Parses what follows `loss:` into named fields.
pub(super) fn parse_loss_fields(body: &[u8], out: &mut Vec<Field>) -> Result<(), String> {
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
mod tests;
