//! The values the flags accept, checked while parsing (clap's `value_parser`): a number in its
//! range, or the message clap prints with the flag's name.

/// An input path: anything but the empty word (`analyze ""`, often an unset shell variable).
pub(super) fn parse_input(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("an empty path names no file (an unset shell variable?)".into())
    } else {
        Ok(text.to_string())
    }
}

pub(super) fn parse_seconds(text: &str) -> Result<f64, String> {
    let s = parse_number(text)?;
    if s.is_finite() && s > 0.0 && s <= 1e9 {
        Ok(s)
    } else {
        Err("must be a positive number of seconds (e.g. 10 or 0.2)".into())
    }
}

pub(super) fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{text}' is not WIDTHxHEIGHT (e.g. 1600x1000)"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("'{s}' is not a whole number of pixels"))
    };
    let (w, h) = (parse(w)?, parse(h)?);
    if (320..=10_000).contains(&w) && (240..=10_000).contains(&h) {
        Ok((w, h))
    } else {
        Err("the figure must be between 320x240 and 10000x10000 pixels".into())
    }
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .map_err(|_| format!("'{text}' is not a number"))
}

pub(super) fn parse_probability(text: &str) -> Result<f64, String> {
    let p = parse_number(text)?;
    if p > 0.0 && p < 1.0 {
        Ok(p)
    } else {
        Err("must be between 0 and 1 (exclusive)".into())
    }
}

pub(super) fn parse_fraction(text: &str) -> Result<f64, String> {
    let f = parse_number(text)?;
    if (0.0..=10.0).contains(&f) {
        Ok(f)
    } else {
        Err("must be a fraction such as 0.05".into())
    }
}

pub(super) fn parse_weight(text: &str) -> Result<f64, String> {
    let w = parse_number(text)?;
    if (0.0..1.0).contains(&w) {
        Ok(w)
    } else {
        Err("must be in [0, 1)".into())
    }
}
