//! The loss curve where a Markdown summary cannot embed an image (a CI job summary, a PR comment):
//! a Mermaid `xychart-beta` block, which GitHub renders as a chart, and a Unicode sparkline for
//! places that render neither. Both draw the smoothed JEPA loss the diagnosis used, resampled to
//! equal step bins so the x axis is linear in steps.

use std::io::{self, Write};

use crate::diagnose::rebound::Prepared;

/// Points in the Mermaid chart.
pub const MERMAID_POINTS: usize = 48;
/// Characters in the sparkline.
pub const SPARKLINE_WIDTH: usize = 40;

/// Mean of the smoothed curve in each of `bins` equal step ranges: `(first step, last step,
/// values)`; `None` for an empty bin is filled from its neighbours. `None` when the curve has
/// fewer than 2 points.
pub fn resample(prepared: &Prepared, bins: usize) -> Option<(f64, f64, Vec<f64>)> {
    let steps = &prepared.blocks.steps;
    if prepared.smoothed.len() < 2 || steps.len() != prepared.smoothed.len() || bins < 2 {
        return None;
    }
    let (first, last) = (steps[0], steps[steps.len() - 1]);
    let bins = bins.min(prepared.smoothed.len());
    let width = (last - first).max(1.0);
    let mut sum = vec![0.0; bins];
    let mut count = vec![0usize; bins];
    for (s, v) in steps.iter().zip(&prepared.smoothed) {
        if !v.is_finite() {
            continue;
        }
        let b = (((s - first) / width) * bins as f64)
            .floor()
            .clamp(0.0, (bins - 1) as f64) as usize;
        sum[b] += v;
        count[b] += 1;
    }
    let mut values: Vec<Option<f64>> = sum
        .iter()
        .zip(&count)
        .map(|(s, &c)| (c > 0).then(|| s / c as f64))
        .collect();
    // Empty bins (gaps in the steps) take the previous value, the first ones the next.
    let mut previous = values.iter().flatten().next().copied()?;
    for v in &mut values {
        match v {
            Some(x) => previous = *x,
            None => *v = Some(previous),
        }
    }
    Some((first, last, values.into_iter().flatten().collect()))
}

/// A Mermaid `xychart-beta` block of the smoothed curve of `name`.
pub fn write_mermaid(
    out: &mut dyn Write,
    name: &str,
    prepared: &Prepared,
    title: &str,
) -> io::Result<()> {
    let Some((first, last, values)) = resample(prepared, MERMAID_POINTS) else {
        return Ok(());
    };
    let (lo, hi) = range(&values);
    let pad = ((hi - lo) * 0.05)
        .max(hi.abs() * 1e-6)
        .max(f64::MIN_POSITIVE);
    writeln!(out, "```mermaid")?;
    writeln!(out, "xychart-beta")?;
    writeln!(out, "    title \"{}\"", quote(title))?;
    writeln!(
        out,
        "    x-axis \"step\" {} --> {}",
        first.round(),
        last.round()
    )?;
    let decimals = decimals_for(hi - lo + 2.0 * pad);
    let number = |v: f64| format!("{v:.decimals$}");
    writeln!(
        out,
        "    y-axis \"{}\" {} --> {}",
        quote(name),
        number(lo - pad),
        number(hi + pad)
    )?;
    let line: Vec<String> = values.iter().map(|v| number(*v)).collect();
    writeln!(out, "    line [{}]", line.join(", "))?;
    writeln!(out, "```")
}

/// The smoothed curve as `▁▂▃▄▅▆▇█`, [`SPARKLINE_WIDTH`] characters (fewer for short runs).
pub fn sparkline(prepared: &Prepared) -> Option<String> {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (_, _, values) = resample(prepared, SPARKLINE_WIDTH)?;
    let (lo, hi) = range(&values);
    let span = if hi > lo { hi - lo } else { 1.0 };
    Some(
        values
            .iter()
            .map(|v| LEVELS[(((v - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize])
            .collect(),
    )
}

/// Decimals that resolve a thousandth of `span` (Mermaid reads plain decimals, not `1e-5`).
fn decimals_for(span: f64) -> usize {
    if !(span.is_finite() && span > 0.0) {
        return 4;
    }
    (3.0 - span.log10().floor()).clamp(0.0, 12.0) as usize
}

fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        })
}

/// Text safe inside a Mermaid double-quoted string.
fn quote(text: &str) -> String {
    text.replace('"', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::blocks::Blocks;

    fn prepared(steps: &[f64], values: &[f64]) -> Prepared {
        Prepared {
            blocks: Blocks {
                steps: steps.to_vec(),
                ..Blocks::default()
            },
            cleaned: values.to_vec(),
            spikes: vec![],
            smoothed: values.to_vec(),
            span_blocks: 1.0,
        }
    }

    #[test]
    fn resampling_averages_equal_step_bins_and_fills_gaps() {
        // Steps 0..=3 then a gap to 9: bins of width 9/3 = 3 steps.
        let p = prepared(&[0.0, 1.0, 2.0, 3.0, 9.0], &[4.0, 2.0, 0.0, 6.0, 8.0]);
        let (first, last, values) = resample(&p, 3).expect("enough points");
        assert_eq!((first, last), (0.0, 9.0));
        assert_eq!(values, vec![2.0, 6.0, 8.0]);
        let gap = prepared(&[0.0, 1.0, 9.0], &[1.0, 3.0, 5.0]);
        assert_eq!(resample(&gap, 3).map(|r| r.2), Some(vec![2.0, 2.0, 5.0]));
    }

    #[test]
    fn mermaid_numbers_are_plain_decimals() -> io::Result<()> {
        assert_eq!(decimals_for(0.5), 4);
        assert_eq!(decimals_for(120.0), 1);
        assert_eq!(decimals_for(3e-6), 9);
        let steps: Vec<f64> = (0..10).map(f64::from).collect();
        let values: Vec<f64> = (0..10).map(|i| 1e-5 * f64::from(10 - i)).collect();
        let mut out = Vec::new();
        write_mermaid(&mut out, "loss", &prepared(&steps, &values), "t")?;
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("x-axis \"step\" 0 --> 9"), "{text}");
        assert!(text.contains("line [0.00010000, 0.00009000,"), "{text}");
        assert!(!text.contains("e-"), "{text}");
        Ok(())
    }

    #[test]
    fn sparkline_spans_the_eight_levels() {
        let steps: Vec<f64> = (0..8).map(f64::from).collect();
        let values: Vec<f64> = (0..8).map(|i| f64::from(7 - i)).collect();
        assert_eq!(
            sparkline(&prepared(&steps, &values)).as_deref(),
            Some("█▇▆▅▄▃▂▁")
        );
        assert_eq!(sparkline(&prepared(&[0.0], &[1.0])), None);
    }
}
