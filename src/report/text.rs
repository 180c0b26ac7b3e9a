//! The report a person reads in the terminal: what was read, then (when analysed) the verdict,
//! the findings and what to try.

use std::io::{self, Write};

use super::chart::{self, ChartOptions};
use super::json::series_entries;
use super::style::Palette;
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::Code;
use crate::diagnose::rebound::{Power, WarmupSource};
use crate::diagnose::schedule::ScheduleKind;
use crate::human;
use crate::model::{IpeSource, Role, Run, SeriesSummary};

/// How the text report is drawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    pub color: bool,
    pub explain: bool,
    /// The small curve, when wanted.
    pub chart: Option<ChartOptions>,
    /// Wrap prose to this many columns (0: do not wrap). See [`wrap_width`].
    pub width: usize,
}

/// The width to wrap the report to: the terminal's when standard output is one, else `COLUMNS`
/// when set, else 0 (no wrapping: a pipe or a file gets whole lines). At least 40.
pub fn wrap_width() -> usize {
    use std::io::IsTerminal;
    let columns = if std::io::stdout().is_terminal() {
        terminal_size::terminal_size().map(|(w, _)| w.0 as usize)
    } else {
        None
    };
    columns
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse().ok())
        })
        .map_or(0, |w: usize| w.max(40))
}

/// Writes `text` wrapped to `width`, the first line after `first`, the others after `indent`
/// (both counted in the width).
fn write_wrapped(
    out: &mut dyn Write,
    first: &str,
    indent: &str,
    text: &str,
    width: usize,
) -> io::Result<()> {
    let room = if width == 0 {
        0
    } else {
        width.saturating_sub(indent.chars().count()).max(20)
    };
    for (i, line) in human::wrap(text, room).iter().enumerate() {
        writeln!(out, "{}{line}", if i == 0 { first } else { indent })?;
    }
    Ok(())
}

/// Writes the whole report: the verdict in one sentence, the findings with what to try, the
/// rebound analysis, then what was read.
pub fn write(
    out: &mut dyn Write,
    run: &Run,
    diagnosis: &Diagnosis,
    opts: TextOptions,
) -> io::Result<()> {
    let palette = Palette::new(opts.color);
    let label = format!("{}:", diagnosis.verdict.as_str());
    let lines = human::wrap(&format!("{label} {}", diagnosis.headline), opts.width);
    for (i, line) in lines.iter().enumerate() {
        // The verdict word keeps its colour on the first line.
        match line.strip_prefix(&label).filter(|_| i == 0) {
            Some(rest) => writeln!(out, "{}{rest}", palette.verdict(diagnosis.verdict, &label))?,
            None => writeln!(out, "{line}")?,
        }
    }
    if opts.explain {
        write_wrapped(
            out,
            &format!("{}      ", palette.dim("why")),
            "         ",
            &verdict_reason(diagnosis),
            opts.width,
        )?;
    }
    writeln!(out)?;
    write_findings(out, diagnosis, opts, palette)?;
    if let Some(chart_opts) = opts.chart {
        chart::write(out, run, diagnosis, chart_opts)?;
        writeln!(out)?;
    }
    write_rebound(out, run, diagnosis, opts.explain, opts.width)?;
    writeln!(out)?;
    write_input(out, run, &diagnosis.summaries)
}

/// Each finding: severity, code, steps, message; then what to try (and why, with --explain).
fn write_findings(
    out: &mut dyn Write,
    d: &Diagnosis,
    opts: TextOptions,
    palette: Palette,
) -> io::Result<()> {
    if d.findings.is_empty() {
        return Ok(());
    }
    let mut said: Vec<&str> = Vec::new();
    for f in &d.findings {
        let steps = match (f.step_start, f.step_end) {
            (Some(a), Some(b)) if a != b => format!("steps {a}–{b}"),
            (Some(a), _) => format!("step {a}"),
            _ => String::new(),
        };
        let severity = palette.severity(f.severity, &format!("{:<7}", f.severity.as_str()));
        // The code is padded only to align the steps after it: no trailing blanks without them.
        if steps.is_empty() {
            writeln!(out, "{severity} {}", f.code.as_str())?;
        } else {
            writeln!(
                out,
                "{severity} {:<22} {}",
                f.code.as_str(),
                palette.dim(&steps)
            )?;
        }
        const INDENT: &str = "        ";
        write_wrapped(out, INDENT, INDENT, &f.message, opts.width)?;
        if opts.explain {
            for why in &f.reasoning {
                let first = format!("{INDENT}{} ", palette.dim("because"));
                write_wrapped(out, &first, "                ", why, opts.width)?;
            }
            if f.reasoning.is_empty() {
                let first = format!("{INDENT}{} ", palette.dim("because"));
                let what = format!(
                    "the {} check matched the run as stated above (severity {})",
                    f.code.as_str(),
                    f.severity.as_str()
                );
                write_wrapped(out, &first, "                ", &what, opts.width)?;
            }
        }
        // A recommendation already given for an earlier finding is not repeated.
        let mut repeated = 0;
        for r in &f.recommendations {
            if said.contains(&r.as_str()) {
                repeated += 1;
                continue;
            }
            said.push(r);
            write_wrapped(out, &format!("{INDENT}→ "), "          ", r, opts.width)?;
        }
        if repeated > 0 {
            let note = if repeated == f.recommendations.len() {
                "what to try is said above".to_owned()
            } else {
                format!("and {} said above", human::count(repeated as u64, "more"))
            };
            writeln!(out, "{INDENT}→ {}", palette.dim(&note))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Why the verdict is what it is, in one sentence (`--explain`): the findings that set it, or
/// what the rebound test found when none did.
fn verdict_reason(d: &Diagnosis) -> String {
    use crate::diagnose::finding::Severity;
    let worst = d
        .findings
        .iter()
        .map(|f| f.severity)
        .max_by_key(|s| match s {
            Severity::Error => 2,
            Severity::Warning => 1,
            Severity::Info => 0,
        });
    let set_by: Vec<&str> = d
        .findings
        .iter()
        .filter(|f| Some(f.severity) == worst && f.severity != Severity::Info)
        .map(|f| f.code.as_str())
        .collect();
    let r = &d.rebound;
    if set_by.is_empty() {
        let infos: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
        let mut why = format!(
            "{} because no finding is a warning or an error",
            d.verdict.as_str()
        );
        if !infos.is_empty() {
            why.push_str(&format!(" (only notes: {})", infos.join(", ")));
        }
        why.push_str(&format!("; rebound test: {}", r.summary));
        why
    } else {
        format!(
            "{} because of the most severe finding{} ({}): {}",
            d.verdict.as_str(),
            if set_by.len() > 1 { "s" } else { "" },
            worst.map_or("", |s| s.as_str()),
            set_by.join(", ")
        )
    }
}

/// What to say instead of "warmup ends at step 0" when the run has no warmup (a cooldown run,
/// or a config with 0 warmup epochs): that there is none, and the schedule when it is known.
fn without_warmup(d: &Diagnosis) -> Option<String> {
    let w = d.rebound.warmup?;
    if w.source != WarmupSource::Config || w.end_step > 0 {
        return None;
    }
    Some(match &d.schedule {
        // The cooldown's clause already says it has no warmup by design.
        Some(s) if s.kind == ScheduleKind::LinearDecay => format!("LR: {}", s.describe()),
        Some(s) => format!("no warmup (config) · LR: {}", s.describe()),
        None => "no warmup (config)".into(),
    })
}

/// The rebound decision and the changepoints.
fn write_rebound(
    out: &mut dyn Write,
    run: &Run,
    d: &Diagnosis,
    explain: bool,
    width: usize,
) -> io::Result<()> {
    let r = &d.rebound;
    let verdict = if r.detected {
        "YES"
    } else if r.power == Power::Insufficient {
        "undecided"
    } else {
        "no"
    };
    write_wrapped(
        out,
        "rebound  ",
        "         ",
        &format!("{verdict}: {}", r.summary),
        width,
    )?;
    if let (Some(series), Some(min_step), Some(min)) = (&r.series, r.min_step, r.min_value) {
        write!(out, "         {series}")?;
        if let Some(start) = r.start_value {
            write!(out, " {} →", human::value(start))?;
        }
        // A loss that never descended has a lowest point, not a minimum to speak of (the
        // figure marks none either).
        if d.findings.iter().any(|f| f.code == Code::NoDescent) {
            write!(
                out,
                " never descended (lowest {} at step {min_step})",
                human::value(min)
            )?;
        } else {
            write!(out, " minimum {} at step {min_step}", human::value(min))?;
        }
        if let (Some(end), Some(last)) = (r.end_value, r.last_step) {
            write!(out, " → {} at the end (step {last})", human::value(end))?;
        }
        // Which numbers these are, as the headline says (one story, one set of numbers).
        write!(out, " · smoothed; the end is the median of the last window")?;
        writeln!(out)?;
        let mut facts = Vec::new();
        if r.detected {
            if let Some(onset) = r.onset_step {
                facts.push(format!("rise sets in at step {onset}"));
            }
            if let Some(slope) = r.slope_per_1k_steps {
                facts.push(format!("{} per 1k steps", human::signed(slope)));
            }
        }
        if let Some(no_warmup) = without_warmup(d) {
            facts.push(no_warmup);
        } else if let Some(w) = r.warmup {
            let source = match w.source {
                WarmupSource::Flag => "--warmup-steps",
                WarmupSource::Config => "config",
                WarmupSource::LrColumn => "LR column",
                WarmupSource::Default => "assumed: first 5%",
            };
            facts.push(format!("warmup ends at step {} ({source})", w.end_step));
        }
        match &r.reg {
            Some(reg) if r.reg_trend_after_min == crate::diagnose::rebound::RegTrend::Burst => {
                let spans: Vec<String> = d
                    .transient_collapses
                    .iter()
                    .map(|e| {
                        format!(
                            "{}–{}",
                            e.first_step,
                            e.recovered_step.unwrap_or(e.last_step)
                        )
                    })
                    .collect();
                facts.push(format!(
                    "{} after the minimum: burst to collapse and back at steps {} (no single trend)",
                    reg.series,
                    spans.join(", ")
                ))
            }
            Some(reg) => facts.push(format!(
                "{} after the minimum: {} (change {}, {})",
                reg.series,
                r.reg_trend_after_min.as_str(),
                human::signed(reg.change),
                human::p_eq(reg.p_value)
            )),
            None if run.first_with_role(Role::Reg).is_none() => {
                facts.push("no regularization series".into())
            }
            None => {}
        }
        write_wrapped(out, "         ", "         ", &facts.join(" · "), width)?;
        if explain {
            for line in r.method_lines() {
                write_wrapped(out, "         why: ", "              ", &line, width)?;
            }
        }
    }
    let mut by_series: Vec<(&str, Vec<String>)> = Vec::new();
    for c in &d.changepoints {
        match by_series.iter_mut().find(|(s, _)| *s == c.series) {
            Some((_, steps)) => steps.push(c.step.to_string()),
            None => by_series.push((&c.series, vec![c.step.to_string()])),
        }
    }
    if !by_series.is_empty() {
        let parts: Vec<String> = by_series
            .iter()
            .map(|(s, steps)| format!("{s} at steps {}", steps.join(", ")))
            .collect();
        let text = format!(
            "{} (where the level or slope shifts: PELT changepoints, the dashed lines of the figure)",
            parts.join("; ")
        );
        write_wrapped(out, "changes  ", "         ", &text, width)?;
    }
    Ok(())
}

/// Writes the "what was read" part of the report.
pub fn write_input(out: &mut dyn Write, run: &Run, summaries: &[SeriesSummary]) -> io::Result<()> {
    let input = &run.input;
    let mut what = vec![input.format.clone(), human::count(input.ranks, "rank")];
    if input.restarts > 0 {
        what.push(human::count(input.restarts, "restart"));
    }
    writeln!(
        out,
        "read     {} ({})",
        input.sources.join(", "),
        what.join(", ")
    )?;
    if let Some(config) = &input.config {
        writeln!(out, "config   {config}")?;
    }
    let rows = &input.rows;
    write!(
        out,
        "rows     {} read = {} used + {} skipped + {} replaced",
        rows.rows_read, rows.rows_used, rows.rows_skipped, rows.rows_replaced
    )?;
    if input.lines_ignored > 0 {
        write!(out, " ({} other lines ignored)", input.lines_ignored)?;
    }
    writeln!(out)?;
    if let (Some(first), Some(last)) = (run.steps.first(), run.steps.last()) {
        write!(out, "steps    {first} – {last}")?;
        if let Some(ipe) = input.ipe {
            let source = match ipe.source {
                IpeSource::Flag => "--ipe",
                IpeSource::Config => "config",
                IpeSource::Log => "log",
                IpeSource::Inferred => "inferred",
            };
            write!(
                out,
                " · {} iterations per epoch ({source}) · {} epochs",
                ipe.value,
                human::value((last + 1) as f64 / ipe.value as f64)
            )?;
        }
        writeln!(out)?;
    }
    if let Some(spread) = &input.rank_spread {
        writeln!(
            out,
            "ranks    {} differs between ranks by {} (median) and {} at most (step {})",
            spread.series,
            human::value(spread.median_range),
            human::value(spread.max_range),
            spread.max_range_step
        )?;
    }
    writeln!(out)?;
    write_series_table(out, run, summaries)?;
    write_notes(out, run)
}

/// Rows of the series table before it is cut: a log with thousands of keys (JSON lines, W&B,
/// TensorBoard) would bury the report. The JSON report lists every series.
const SHOWN_SERIES: usize = 24;

/// The series table: every series when there are few; otherwise the ones the diagnosis reads
/// or that need a look (a role other than `other`/`timing`, non-finite values, a note) first,
/// in run order, then the rest up to [`SHOWN_SERIES`] rows, and a line counting what is left out.
fn write_series_table(
    out: &mut dyn Write,
    run: &Run,
    summaries: &[SeriesSummary],
) -> io::Result<()> {
    let matters = |e: &super::json::SeriesEntry| {
        !matches!(e.role, "other" | "timing") || e.non_finite > 0 || e.note.is_some()
    };
    let mut entries = series_entries(run, summaries);
    let total = entries.len();
    let mut left_out_that_matter = 0;
    if total > SHOWN_SERIES + 1 {
        // A stable sort: the series that matter first, each group in run order.
        entries.sort_by_key(|e| !matters(e));
        left_out_that_matter = entries[SHOWN_SERIES..]
            .iter()
            .filter(|e| matters(e))
            .count();
        entries.truncate(SHOWN_SERIES);
    }
    let name_width = entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:name_width$}  {:9}  {:>8}  {:>10}  steps",
        "series", "role", "points", "non-finite"
    )?;
    for e in &entries {
        let range = match (e.first_step, e.last_step) {
            (Some(a), Some(b)) => format!("{a} – {b}"),
            _ => "-".into(),
        };
        write!(
            out,
            "{:name_width$}  {:9}  {:>8}  {:>10}  {range}",
            e.name, e.role, e.points, e.non_finite
        )?;
        if let Some(note) = e.note {
            write!(out, "  ({note})")?;
        }
        writeln!(out)?;
    }
    if total > entries.len() {
        let what = if left_out_that_matter == 0 {
            "role other or timing, all finite".to_string()
        } else {
            format!("{left_out_that_matter} of them with a role, non-finite values or a note")
        };
        writeln!(
            out,
            "… and {} more series ({what}); --json lists all {total}",
            total - entries.len()
        )?;
    }
    Ok(())
}

fn write_notes(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let input = &run.input;
    if input.skipped.is_empty() && input.warnings.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    for w in &input.warnings {
        writeln!(out, "note: {w}")?;
    }
    let shown = input.skipped.len() as u64;
    for s in &input.skipped {
        writeln!(out, "skipped: {s}")?;
    }
    if input.rows.rows_skipped > shown {
        writeln!(
            out,
            "skipped: … and {} more",
            input.rows.rows_skipped - shown
        )?;
    }
    Ok(())
}
