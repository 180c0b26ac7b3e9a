//! `--markdown`: a summary for a CI job summary or a pull-request comment — the verdict, a table
//! of findings, the key numbers, what to try, and the figure when one was drawn.

use std::io::{self, Write};

use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Severity;
use crate::diagnose::rebound::RegTrend;
use crate::fmt;
use crate::model::Run;

/// Writes the Markdown summary; `figure` is the plot's path when `--plot` was given.
pub fn write(
    out: &mut dyn Write,
    run: &Run,
    d: &Diagnosis,
    figure: Option<&str>,
) -> io::Result<()> {
    writeln!(out, "## jepa-doctor: {}", d.verdict.as_str())?;
    writeln!(out)?;
    writeln!(out, "{}", cell(&d.headline))?;
    writeln!(out)?;
    if let Some(figure) = figure {
        writeln!(out, "![loss report]({figure})")?;
        writeln!(out)?;
    }
    if !d.findings.is_empty() {
        writeln!(out, "| severity | finding | steps | what |")?;
        writeln!(out, "|---|---|---|---|")?;
        for f in &d.findings {
            let icon = match f.severity {
                Severity::Error => "🛑 error",
                Severity::Warning => "⚠️ warning",
                Severity::Info => "ℹ️ info",
            };
            let steps = match (f.step_start, f.step_end) {
                (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
                (Some(a), _) => a.to_string(),
                _ => String::new(),
            };
            writeln!(
                out,
                "| {icon} | `{}` | {steps} | {} |",
                f.code.as_str(),
                cell(&f.message)
            )?;
        }
        writeln!(out)?;
    }
    let r = &d.rebound;
    let mut numbers = Vec::new();
    if let (Some(series), Some(step), Some(min)) = (&r.series, r.min_step, r.min_value) {
        numbers.push(format!(
            "{series} minimum {} at step {step}",
            fmt::value(min)
        ));
    }
    if let Some(end) = r.end_value {
        numbers.push(format!("end {}", fmt::value(end)));
    }
    if r.detected {
        if let Some(m) = r.magnitude {
            numbers.push(format!("given back {}", fmt::percent(m)));
        }
        if let Some(p) = r.p_value {
            numbers.push(format!("rise {}", fmt::p_eq(p)));
        }
    }
    if r.reg_trend_after_min != RegTrend::Absent {
        numbers.push(format!(
            "reg after the minimum: {}",
            r.reg_trend_after_min.as_str()
        ));
    }
    writeln!(out, "**Key numbers:** {}", numbers.join(" · "))?;
    writeln!(out)?;
    let mut tried = Vec::new();
    for f in &d.findings {
        for rec in &f.recommendations {
            if !tried.contains(rec) {
                tried.push(rec.clone());
            }
        }
    }
    if !tried.is_empty() {
        writeln!(out, "<details><summary>What to try</summary>")?;
        writeln!(out)?;
        for rec in &tried {
            writeln!(out, "- {}", cell(rec))?;
        }
        writeln!(out)?;
        writeln!(out, "</details>")?;
        writeln!(out)?;
    }
    let i = &run.input;
    writeln!(
        out,
        "<sub>{} rows read from {} ({}, {}): {} used, {} skipped, {} replaced.</sub>",
        i.rows.rows_read,
        i.sources
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        i.format,
        fmt::count(i.ranks, "rank"),
        i.rows.rows_used,
        i.rows.rows_skipped,
        i.rows.rows_replaced
    )
}

/// Text safe inside a table cell: no pipes or newlines.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
