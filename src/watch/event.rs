//! What `watch` says: one JSON object per evaluation (`--json`, JSON lines), or a human status
//! line (rewritten in place on a terminal, one line per evaluation otherwise) and the full report
//! when an alert fires.
//!
//! JSON lines (schema_version 1; fields may be added, never removed or renamed):
//! `{"schema_version":1,"event":"status"|"alert"|"idle"|"interrupted","time":"2026-11-30T09:35:40Z",
//!   "step":N,"verdict":"…",
//!   "findings":[…as in analyze…],"alerts":["code",…],"rows":N,"files":N,"look":k|null,"level":x,
//!   "loss":{"series":"loss-jepa","current":x,"min":x,"min_step":N},"note":"…"|null,
//!   "input":{…as in analyze: sources, format, rows_read, rows_used, rows_skipped,
//!   duplicates_replaced, restarts, …}}`

use std::io::{self, Write};

use serde::Serialize;

use super::monitor::Evaluation;
use crate::diagnose::finding::{Finding, Verdict};
use crate::diagnose::jepa_series;
use crate::model::{InputSummary, round_reported};
use crate::report::json::SCHEMA_VERSION;

/// Why an event was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Status,
    Alert,
    Idle,
    Interrupted,
}

/// The JEPA loss as it stands: the newest block mean and the lowest one.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LossNow {
    pub series: String,
    pub current: f64,
    pub min: f64,
    pub min_step: u64,
}

/// One JSON line.
#[derive(Serialize)]
pub struct Event<'a> {
    pub schema_version: u32,
    pub event: EventKind,
    /// When the event was written, UTC (RFC 3339).
    pub time: String,
    pub step: Option<u64>,
    pub verdict: Verdict,
    pub findings: &'a [Finding],
    /// Codes of the findings that tripped `--fail-on` for the first time at this event.
    pub alerts: Vec<&'static str>,
    pub rows: u64,
    /// Log files followed.
    pub files: usize,
    /// The look of the rebound test at this evaluation (`null` between looks).
    pub look: Option<u32>,
    /// The level the rebound test used, or will use at the next look.
    pub level: f64,
    pub loss: Option<LossNow>,
    /// Why the status is what it is, when that needs saying (the rebound not tested yet, a
    /// restart replaying steps, a log truncated or replaced, a silent log whose end is unknown).
    pub note: Option<&'a str>,
    /// The inputs and their row accounting, as in `analyze`'s report.
    pub input: &'a InputSummary,
}

/// The JEPA loss now (smoothed, as the rebound detector sees it) and its minimum after warmup,
/// from the diagnosis; before the detector has a minimum, the newest and lowest block means.
pub fn loss_now(eval: &Evaluation) -> Option<LossNow> {
    let r = &eval.diagnosis.rebound;
    if let (Some(series), Some(min_step), Some(min), Some(current)) =
        (&r.series, r.min_step, r.min_value, r.end_value)
    {
        return Some(LossNow {
            series: series.clone(),
            current: round_reported(current),
            min: round_reported(min),
            min_step,
        });
    }
    let run = &eval.run;
    let series = jepa_series(run)?;
    let mut current = None;
    let mut min: Option<(u64, f64)> = None;
    for (step, v) in series.finite_points(&run.steps) {
        current = Some(v);
        if min.is_none_or(|(_, m)| v < m) {
            min = Some((step, v));
        }
    }
    let (min_step, min_value) = min?;
    Some(LossNow {
        series: series.name.clone(),
        current: round_reported(current?),
        min: round_reported(min_value),
        min_step,
    })
}

/// Writes one event as a JSON line and flushes it; `note` replaces the evaluation's own.
pub fn write_json(
    out: &mut dyn Write,
    kind: EventKind,
    eval: &Evaluation,
    alerts: Vec<&'static str>,
    extra: &[Finding],
    files: usize,
    note: Option<&str>,
) -> io::Result<()> {
    let mut findings = eval.diagnosis.findings.clone();
    findings.extend(extra.iter().cloned());
    let event = Event {
        schema_version: SCHEMA_VERSION,
        event: kind,
        time: super::clock::Utc::now().date_time(),
        step: eval.last_step,
        verdict: eval.diagnosis.verdict,
        findings: &findings,
        alerts,
        rows: eval.rows,
        files,
        look: eval.look,
        level: eval.level,
        loss: loss_now(eval),
        note: note.or(eval.note.as_deref()),
        input: &eval.run.input,
    };
    serde_json::to_writer(&mut *out, &event).map_err(io::Error::other)?;
    writeln!(out)?;
    out.flush()
}

/// The one-line status: steps, the loss now and its minimum, the state.
pub fn status_line(eval: &Evaluation, files: usize) -> String {
    let mut parts = vec![format!(
        "step {}",
        eval.last_step.map_or("-".to_string(), |s| s.to_string())
    )];
    parts.push(format!("{} rows", eval.rows));
    if files > 1 {
        parts.push(format!("{files} files"));
    }
    if let Some(l) = loss_now(eval) {
        parts.push(format!(
            "{} {:.5} smoothed (min {:.5} at step {})",
            l.series, l.current, l.min, l.min_step
        ));
    }
    let worst = eval
        .diagnosis
        .findings
        .iter()
        .find(|f| f.severity >= crate::diagnose::finding::Severity::Warning);
    let state = match worst {
        // `rebound (rebound)` would say one thing twice.
        Some(f) if f.code.as_str() != eval.diagnosis.verdict.as_str() => {
            format!("{} ({})", eval.diagnosis.verdict.as_str(), f.code.as_str())
        }
        _ => eval.diagnosis.verdict.as_str().to_string(),
    };
    parts.push(state);
    if let Some(note) = &eval.note {
        parts.push(note.clone());
    }
    parts.join(" · ")
}

/// `line` made to fit `width` characters (a status line rewritten in place must fit on one
/// terminal line, or the rewrite leaves the wrapped part behind). The state and why it is so
/// matter most, so the row count goes first, then the loss is shortened and then dropped; what is
/// still too long is cut, `…` marking the cut.
pub fn fit(line: &str, width: usize) -> String {
    let len = |s: &str| s.chars().count();
    if len(line) <= width {
        return line.to_string();
    }
    let mut parts: Vec<String> = line.split(" · ").map(String::from).collect();
    parts.retain(|p| !(p.ends_with(" rows") || p.ends_with(" files")));
    let joined = parts.join(" · ");
    if len(&joined) <= width {
        return joined;
    }
    // `loss-jepa 0.45120 smoothed (min 0.44870 at step 9800)` → `loss-jepa 0.45120 (min 0.44870)`.
    for p in &mut parts {
        if let Some((now, rest)) = p.split_once(" smoothed (min ")
            && let Some((min, _)) = rest.split_once(" at step ")
        {
            *p = format!("{now} (min {min})");
        }
    }
    let joined = parts.join(" · ");
    if len(&joined) <= width {
        return joined;
    }
    parts.retain(|p| !p.contains(" (min "));
    let joined = parts.join(" · ");
    if len(&joined) <= width {
        return joined;
    }
    let mut out: String = parts
        .join(" · ")
        .chars()
        .take(width.saturating_sub(1))
        .collect();
    out.push('…');
    out
}

/// A status line before any row was read.
pub fn waiting_line(files: usize) -> String {
    if files == 0 {
        "waiting for a log to appear".into()
    } else {
        format!("waiting for rows ({files} file(s) followed)")
    }
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn a_long_status_line_keeps_its_state() {
        let line = "13:03:33Z step 99 · 100 rows · loss-jepa 0.33783 smoothed (min 0.33783 at step 99) · insufficient-data · rebound not yet tested (first look at 200 rows)";
        assert_eq!(fit(line, 500), line);
        assert_eq!(
            fit(line, 125),
            "13:03:33Z step 99 · loss-jepa 0.33783 (min 0.33783) · insufficient-data · rebound not yet tested (first look at 200 rows)"
        );
        assert_eq!(
            fit(line, 100),
            "13:03:33Z step 99 · insufficient-data · rebound not yet tested (first look at 200 rows)"
        );
        let tiny = fit(line, 30);
        assert_eq!(tiny.chars().count(), 30);
        assert!(tiny.ends_with('…'));
    }
}
