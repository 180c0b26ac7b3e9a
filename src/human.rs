//! Number formatting shared by messages and the human-readable renderers: a few significant digits, scientific
//! notation for very small or large magnitudes, thousands kept plain for steps. Also lists of
//! names for messages, bounded so that a damaged header cannot flood the terminal, with control
//! characters escaped so that a hostile name cannot drive the terminal.

/// Names as `a, b, c` for a message: each cut to 40 characters, at most 16 of them.
pub fn names<S: AsRef<str>>(names: &[S]) -> String {
    const SHOWN: usize = 16;
    const CHARS: usize = 40;
    let mut parts: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| {
            let n = n.as_ref();
            match n.char_indices().nth(CHARS) {
                Some((cut, _)) => format!("{}…", &n[..cut]),
                None => n.to_string(),
            }
        })
        .collect();
    if names.len() > SHOWN {
        parts.push(format!("… {} more", names.len() - SHOWN));
    }
    parts.join(", ")
}

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`, ...), for any name that
/// came from outside (file names, column names, keys) before it reaches a terminal: an escape
/// sequence in a column name must not recolour or move the terminal's cursor, a newline in a file
/// name must not split a message over two lines. Borrowed when there is nothing to escape.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    let needs =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(needs) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `x` with about four significant digits (`0.2263`, `6.25e-4`, `1.2e+06`).
pub fn value(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{x:.2e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// An axis tick label: `100k`, `1.2M`, `15k` for large values (SI suffixes, up to three
/// significant digits), `1e-4` for tiny ones, else [`value`].
pub fn tick(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() || a == 0.0 {
        return value(x);
    }
    if a < 1e-3 {
        return sci(x);
    }
    const SUFFIXES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    if a >= 1e4 {
        for (scale, suffix) in SUFFIXES {
            if a >= scale {
                let m = x / scale;
                let decimals = (2 - m.abs().log10().floor() as i32).clamp(0, 2) as usize;
                let s = format!("{m:.decimals$}");
                let s = if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                };
                return format!("{s}{suffix}");
            }
        }
    }
    value(x)
}

/// Greedy word wrap of `text` to lines of at most `width` characters (a word longer than `width`
/// stays whole on its own line). `width` 0 means no wrapping.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    if width == 0 {
        return vec![text.to_owned()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        if len > 0 && len + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            len = 0;
        }
        if len > 0 {
            line.push(' ');
            len += 1;
        }
        line.push_str(word);
        len += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Scientific notation with up to three significant digits (`6.25e-4`, `1e-3`): learning rates.
pub fn sci(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return value(x);
    }
    let s = format!("{x:.2e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let m = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{m}e{exp}")
        }
        None => s,
    }
}

/// `x` with an explicit sign (`+0.012`, `-0.3`).
pub fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", value(x))
    } else {
        value(x)
    }
}

/// A fraction as a percentage with one decimal (`0.123` → `12.3%`).
pub fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A p-value: `<1e-12` floor, scientific below 0.001.
pub fn p_value(p: f64) -> String {
    if p < 1e-12 {
        "<1e-12".into()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// `p = 0.031` or `p < 1e-12`.
pub fn p_eq(p: f64) -> String {
    let v = p_value(p);
    match v.strip_prefix('<') {
        Some(bound) => format!("p < {bound}"),
        None => format!("p = {v}"),
    }
}

/// `n` with the noun, pluralised with an `s`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_four_significant_digits() {
        assert_eq!(value(0.226331), "0.2263");
        assert_eq!(value(1.5), "1.5");
        assert_eq!(value(6.25e-4), "6.25e-4");
        assert_eq!(value(1234.5678), "1235");
        assert_eq!(value(0.0), "0");
        assert_eq!(value(f64::NAN), "nan");
        assert_eq!(value(-2.0), "-2");
        assert_eq!(value(250000.0), "2.50e5");
    }

    #[test]
    fn ticks_use_si_suffixes() {
        assert_eq!(tick(100_000.0), "100k");
        assert_eq!(tick(1_200_000.0), "1.2M");
        assert_eq!(tick(15_000.0), "15k");
        assert_eq!(tick(12_500.0), "12.5k");
        assert_eq!(tick(2_500_000_000.0), "2.5G");
        assert_eq!(tick(5000.0), "5000");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(1e-4), "1e-4");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-150_000.0), "-150k");
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            vec!["averyveryverylongword", "x"]
        );
        assert_eq!(wrap("a b", 0), vec!["a b"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("→ é é é", 5), vec!["→ é é", "é"]);
    }

    #[test]
    fn scientific() {
        assert_eq!(sci(6.25e-4), "6.25e-4");
        assert_eq!(sci(1e-3), "1e-3");
        assert_eq!(sci(2e-4), "2e-4");
        assert_eq!(sci(1.5e-5), "1.5e-5");
    }

    #[test]
    fn p_values() {
        assert_eq!(p_value(0.0312), "0.031");
        assert_eq!(p_value(2.5e-5), "2.5e-5");
        assert_eq!(p_value(0.0), "<1e-12");
    }
}
