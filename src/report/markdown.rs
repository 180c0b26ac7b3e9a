//! `--markdown`: a summary for a CI job summary or a pull-request comment — the verdict, a table
//! of findings, the key numbers, what to try, and the figure when one was drawn.

use std::io::{self, Write};

use crate::diagnose::Diagnosis;
use crate::diagnose::finding::{Code, Severity};
use crate::diagnose::rebound::RegTrend;
use crate::human;
use crate::model::Run;
use crate::report::md_curve;

/// Where the figure is, for the summary.
#[derive(Clone, Copy, Debug)]
pub enum FigureRef<'a> {
    /// A path the reader can open next to the summary (`--plot`): embedded as an image.
    Path(&'a str),
    /// An address the figure was published at (`--figure-url`, e.g. a CI artifact): linked.
    Url(&'a str),
}

/// Writes the Markdown summary. The curve is drawn in the text itself (a Mermaid chart and a
/// sparkline, [`md_curve`]), so the summary stands on its own where no image can be embedded.
pub fn write(
    out: &mut dyn Write,
    run: &Run,
    d: &Diagnosis,
    figure: Option<FigureRef<'_>>,
) -> io::Result<()> {
    writeln!(out, "## jepa-doctor: {}", d.verdict.as_str())?;
    writeln!(out)?;
    writeln!(out, "{}", cell(&d.headline))?;
    writeln!(out)?;
    if let Some(jepa) = d.jepa.as_ref() {
        let name = crate::diagnose::jepa_series(run).map_or("loss", |s| s.name.as_str());
        if let Some(line) = md_curve::sparkline(jepa) {
            writeln!(out, "`{name}`, smoothed: {line}")?;
            writeln!(out)?;
        }
        let r = &d.rebound;
        let never_descended = d.findings.iter().any(|f| f.code == Code::NoDescent);
        let title = match (r.min_value, r.min_step) {
            _ if never_descended => format!("{name}, smoothed: never descended"),
            (Some(v), Some(step)) => {
                format!(
                    "{name}, smoothed: minimum {} at step {step}",
                    human::value(v)
                )
            }
            _ => format!("{name}, smoothed"),
        };
        md_curve::write_mermaid(out, name, jepa, &title)?;
        writeln!(out)?;
    }
    match figure {
        Some(FigureRef::Path(path)) => {
            writeln!(out, "![loss report]({path})")?;
            writeln!(out)?;
        }
        Some(FigureRef::Url(url)) => {
            writeln!(out, "**Figure:** [the full loss report]({url})")?;
            writeln!(out)?;
        }
        None => {}
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
        let what = if d.findings.iter().any(|f| f.code == Code::NoDescent) {
            "never descended: lowest"
        } else {
            "minimum"
        };
        numbers.push(format!(
            "{series} {what} {} at step {step}",
            human::value(min)
        ));
    }
    if let Some(end) = r.end_value {
        numbers.push(format!("end {}", human::value(end)));
    }
    if r.detected {
        if let Some(onset) = r.onset_step {
            numbers.push(format!("rise sets in at step {onset}"));
        }
        if let Some(m) = r.magnitude {
            numbers.push(format!("given back {}", human::percent(m)));
        }
        if let Some(p) = r.p_value {
            numbers.push(format!("rise {}", human::p_eq(p)));
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
        human::count(i.ranks, "rank"),
        i.rows.rows_used,
        i.rows.rows_skipped,
        i.rows.rows_replaced
    )
}

/// Text safe inside a table cell: no pipes or newlines.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
