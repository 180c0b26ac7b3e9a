//! The small curve in the text report: the smoothed JEPA loss (and regularization series) drawn
//! with Braille dots (2×4 per character) sized to the terminal, the minimum marked `▲` and the
//! rebound span `━` on the axis, so an SSH session or a CI log shows the shape without opening a
//! file. Plain ASCII (`*`, `^`, `=`) when the terminal is not UTF-8. Never drawn into JSON or
//! Markdown.

use std::io::{self, Write};

use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Code;
use crate::diagnose::rebound::Prepared;
use crate::human;
use crate::model::Run;

/// How the chart is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartOptions {
    /// Total width in characters, labels included.
    pub width: usize,
    /// Braille and box-drawing characters; else ASCII.
    pub unicode: bool,
}

impl ChartOptions {
    /// From the environment: the terminal's width (or `COLUMNS`, else 80, at most 120) and
    /// whether the locale is UTF-8 (`LC_ALL`, `LC_CTYPE`, `LANG`, first one set).
    pub fn from_env() -> ChartOptions {
        let width = terminal_size::terminal_size()
            .map(|(w, _)| w.0 as usize)
            .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
            .unwrap_or(80)
            .clamp(40, 120);
        ChartOptions {
            width,
            unicode: locale_is_utf8(),
        }
    }
}

fn locale_is_utf8() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// Writes the chart of the JEPA loss and, below it, of the regularization series.
pub fn write(out: &mut dyn Write, run: &Run, d: &Diagnosis, opts: ChartOptions) -> io::Result<()> {
    let Some(jepa) = d.jepa.as_ref().filter(|p| p.smoothed.len() >= 2) else {
        return Ok(());
    };
    let first = jepa.blocks.first_step[0] as f64;
    let last = *jepa.blocks.last_step.last().unwrap_or(&0) as f64;
    let label_width = 9;
    let plot_width = opts.width.saturating_sub(label_width + 2).max(20);
    let name = crate::diagnose::jepa_series(run).map_or("loss", |s| s.name.as_str());
    let x = XRange {
        first,
        last: last.max(first + 1.0),
        cells: plot_width,
    };
    draw_curve(out, name, jepa, x, 6, opts, label_width)?;
    axis(out, d, x, opts, label_width)?;
    if let (Some(reg), Some(series)) = (
        d.reg.as_ref().filter(|p| p.smoothed.len() >= 2),
        crate::diagnose::reg_series(run),
    ) {
        draw_curve(out, &series.name, reg, x, 3, opts, label_width)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct XRange {
    first: f64,
    last: f64,
    cells: usize,
}

impl XRange {
    /// Cell column of a step.
    fn cell(&self, step: f64) -> usize {
        (((step - self.first) / (self.last - self.first)) * (self.cells - 1) as f64)
            .round()
            .clamp(0.0, (self.cells - 1) as f64) as usize
    }
}

/// Draws one curve in `rows` text rows, its range labelled on the left.
fn draw_curve(
    out: &mut dyn Write,
    name: &str,
    prepared: &Prepared,
    x: XRange,
    rows: usize,
    opts: ChartOptions,
    label_width: usize,
) -> io::Result<()> {
    let (lo, hi) = prepared
        .smoothed
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let (sub_x, sub_y) = if opts.unicode { (2, 4) } else { (1, 1) };
    let (dots_w, dots_h) = (x.cells * sub_x, rows * sub_y);
    // Mean value per dot column.
    let mut sum = vec![0.0; dots_w];
    let mut count = vec![0usize; dots_w];
    for (s, v) in prepared.blocks.steps.iter().zip(&prepared.smoothed) {
        let col = (((s - x.first) / (x.last - x.first)) * (dots_w - 1) as f64)
            .round()
            .clamp(0.0, (dots_w - 1) as f64) as usize;
        sum[col] += v;
        count[col] += 1;
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    let row_of = |v: f64| {
        (((hi - v) / span) * (dots_h - 1) as f64)
            .round()
            .clamp(0.0, (dots_h - 1) as f64) as usize
    };
    let mut grid = vec![vec![false; dots_w]; dots_h];
    let mut previous: Option<usize> = None;
    for col in 0..dots_w {
        if count[col] == 0 {
            continue;
        }
        let row = row_of(sum[col] / count[col] as f64);
        // Join to the previous column so steep stretches stay continuous.
        let (a, b) = match previous {
            Some(prev) => (prev.min(row), prev.max(row)),
            None => (row, row),
        };
        for row_cells in &mut grid[a..=b] {
            row_cells[col] = true;
        }
        previous = Some(row);
    }
    writeln!(out, "{:>label_width$}  {name} (smoothed)", "")?;
    for r in 0..rows {
        let label = if r == 0 {
            format!("{:>label_width$}", human::value(hi))
        } else if r + 1 == rows {
            format!("{:>label_width$}", human::value(lo))
        } else {
            " ".repeat(label_width)
        };
        let tick = match (opts.unicode, r == 0 || r + 1 == rows) {
            (true, true) => '┤',
            (true, false) => '│',
            (false, true) => '+',
            (false, false) => '|',
        };
        let mut line = String::with_capacity(x.cells * 3);
        for c in 0..x.cells {
            line.push(if opts.unicode {
                braille(&grid, r * 4, c * 2)
            } else if grid[r][c] {
                '*'
            } else {
                ' '
            });
        }
        writeln!(out, "{label} {tick}{}", line.trim_end())?;
    }
    Ok(())
}

/// One Braille character for the 2×4 dots whose top-left is (`row`, `col`).
fn braille(grid: &[Vec<bool>], row: usize, col: usize) -> char {
    const BITS: [[u32; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
    let mut code = 0u32;
    for (dr, bits) in BITS.iter().enumerate() {
        for (dc, bit) in bits.iter().enumerate() {
            if grid
                .get(row + dr)
                .and_then(|r| r.get(col + dc))
                .copied()
                .unwrap_or(false)
            {
                code |= bit;
            }
        }
    }
    if code == 0 {
        return ' ';
    }
    char::from_u32(0x2800 + code).unwrap_or(' ')
}

/// The step axis: the minimum `▲`, the rise of a rebound `━` (from its onset), first and last
/// steps.
fn axis(
    out: &mut dyn Write,
    d: &Diagnosis,
    x: XRange,
    opts: ChartOptions,
    label_width: usize,
) -> io::Result<()> {
    let (line_char, span_char, min_char, corner) = if opts.unicode {
        ('─', '━', '▲', '└')
    } else {
        ('-', '=', '^', '+')
    };
    let mut axis: Vec<char> = vec![line_char; x.cells];
    let r = &d.rebound;
    // The rise, from where the text says it sets in (the onset), as the figure shades it.
    if r.detected
        && let (Some(from), Some(to)) = (r.onset_step.or(r.min_step), r.last_step)
    {
        for c in axis
            .iter_mut()
            .take(x.cell(to as f64) + 1)
            .skip(x.cell(from as f64))
        {
            *c = span_char;
        }
    }
    // No minimum on a loss that never descended (as the figure).
    let min_cell = r
        .min_step
        .filter(|_| !d.findings.iter().any(|f| f.code == Code::NoDescent))
        .map(|m| x.cell(m as f64));
    if let Some(c) = min_cell {
        axis[c] = min_char;
    }
    writeln!(
        out,
        "{} {corner}{}",
        " ".repeat(label_width),
        axis.iter().collect::<String>()
    )?;
    // Labels under the axis: first step, the minimum, last step.
    let mut labels = vec![' '; x.cells + 12];
    let mut put = |at: usize, text: &str| {
        for (i, ch) in text.chars().enumerate() {
            if let Some(slot) = labels.get_mut(at + i) {
                *slot = ch;
            }
        }
    };
    put(0, &format!("{}", x.first as u64));
    let last = format!("{}", x.last as u64);
    put(x.cells.saturating_sub(last.len()), &last);
    if let (Some(c), Some(m)) = (min_cell, r.min_step) {
        let text = if r.detected {
            format!("min {m}, rebound →")
        } else {
            format!("min {m}")
        };
        let at = c
            .min(x.cells.saturating_sub(text.len() + last.len() + 1))
            .max(first_len(x) + 1);
        put(at, &text);
    }
    writeln!(
        out,
        "{}  {}",
        " ".repeat(label_width),
        labels.iter().collect::<String>().trim_end()
    )
}

fn first_len(x: XRange) -> usize {
    format!("{}", x.first as u64).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braille_dots() {
        let mut grid = vec![vec![false; 2]; 4];
        assert_eq!(braille(&grid, 0, 0), ' ');
        grid[0][0] = true;
        grid[3][1] = true;
        assert_eq!(braille(&grid, 0, 0), '\u{2881}');
    }
}
