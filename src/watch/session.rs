//! What `watch` says and does as the run evolves: status lines or JSON lines, the report and the
//! `--on-alert` command when an alert fires, the goodbye at `--idle-exit` or on a signal, and the
//! exit status each of them leads to.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::clock::{self, Utc};
use super::event::{self, EventKind};
use super::follow::Follower;
use super::monitor::Evaluation;
use super::{EXIT_INTERRUPTED, WatchSettings};
use crate::app::{EXIT_FINDING, EXIT_OK};
use crate::diagnose::finding::{Code, FailOn, Finding, Severity, Verdict};
use crate::report::chart::ChartOptions;
use crate::report::text::{self, TextOptions};

/// What was said so far and how to say more.
pub(super) struct Session<'a> {
    settings: &'a WatchSettings,
    tty: bool,
    alerted: BTreeSet<Code>,
    any_alert: bool,
    last: Option<Evaluation>,
    last_line: Option<String>,
    pub(super) stall_reported: bool,
    /// Log files followed at the last evaluation.
    files: usize,
    /// Verdicts that tripped `--fail-on` already (the gate follows the verdict as `analyze` does).
    alerted_verdicts: BTreeSet<Verdict>,
    /// Set by SIGINT / SIGTERM.
    stop: Arc<AtomicBool>,
}

impl<'a> Session<'a> {
    pub(super) fn new(settings: &'a WatchSettings, stop: Arc<AtomicBool>) -> Session<'a> {
        Session {
            settings,
            tty: std::io::stdout().is_terminal() && !settings.json,
            alerted: BTreeSet::new(),
            any_alert: false,
            last: None,
            last_line: None,
            stall_reported: false,
            files: 0,
            alerted_verdicts: BTreeSet::new(),
            stop,
        }
    }

    /// Reports an evaluation; `Some(exit code)` when watching ends here.
    pub(super) fn evaluated(
        &mut self,
        eval: Evaluation,
        follower: &Follower,
        extra: &[Finding],
    ) -> Result<Option<u8>> {
        let fail_on = self.settings.fail_on;
        self.files = follower.sources().len();
        let findings = || eval.diagnosis.findings.iter().chain(extra);
        let mut fresh: Vec<&Finding> = findings()
            .filter(|f| fail_on.trips(f) && !self.alerted.contains(&f.code))
            .collect();
        // As in `analyze`, the verdict trips the gate too (`--fail-on rebound` and an unstable
        // run): the findings that make the verdict are then the alert.
        let verdict = eval.diagnosis.verdict;
        let verdict_trips =
            fail_on.trips_verdict(verdict) && !self.alerted_verdicts.contains(&verdict);
        if verdict_trips {
            for f in findings() {
                if f.severity >= Severity::Warning
                    && !self.alerted.contains(&f.code)
                    && !fresh.iter().any(|g| g.code == f.code)
                {
                    fresh.push(f);
                }
            }
        }
        let alerts: Vec<&'static str> = fresh.iter().map(|f| f.code.as_str()).collect();
        let codes: Vec<Code> = fresh.iter().map(|f| f.code).collect();
        let alert = !alerts.is_empty() || verdict_trips;
        if alert {
            self.alert(&eval, follower, alerts, extra)?;
            self.alerted.extend(codes);
            self.alerted_verdicts.insert(verdict);
            self.any_alert = true;
        } else {
            self.status(&eval, follower)?;
        }
        self.last = Some(eval);
        Ok((alert && !self.settings.keep_going).then_some(EXIT_FINDING))
    }

    fn status(&mut self, eval: &Evaluation, follower: &Follower) -> Result<()> {
        if self.settings.json {
            return emit(&self.stop, |w| {
                event::write_json(
                    w,
                    EventKind::Status,
                    eval,
                    Vec::new(),
                    &[],
                    follower.sources().len(),
                )
            });
        }
        let line = event::status_line(eval, follower.sources().len());
        self.show_line(line)
    }

    pub(super) fn waiting(&mut self, files: usize) -> Result<()> {
        if self.settings.json {
            return Ok(());
        }
        self.show_line(event::waiting_line(files))
    }

    fn show_line(&mut self, line: String) -> Result<()> {
        if self.settings.quiet {
            return Ok(());
        }
        self.draw(&line)?;
        self.last_line = Some(line);
        Ok(())
    }

    /// Writes a status line stamped with the time: rewritten in place on a terminal (time of
    /// day), one line each otherwise (date and time, for a log read days later).
    fn draw(&self, line: &str) -> Result<()> {
        let now = Utc::now();
        let tty = self.tty;
        emit(&self.stop, |w| {
            if tty {
                write!(w, "\r\x1b[2K{} {line}", now.time())?;
            } else {
                writeln!(w, "{} {line}", now.date_time())?;
            }
            w.flush()
        })
    }

    /// A tick without new rows: on a terminal the status line is redrawn with the time and how
    /// long the log has been quiet, so that a glance tells a live watcher from a hung one.
    pub(super) fn quiet(&mut self, silent: Duration) -> Result<()> {
        if !self.tty || self.settings.quiet || self.settings.json {
            return Ok(());
        }
        let Some(line) = &self.last_line else {
            return Ok(());
        };
        let line = if silent >= self.settings.interval * 2 {
            format!("{line} · no new rows for {}", clock::duration(silent))
        } else {
            line.clone()
        };
        self.draw(&line)
    }

    fn alert(
        &mut self,
        eval: &Evaluation,
        follower: &Follower,
        alerts: Vec<&'static str>,
        extra: &[Finding],
    ) -> Result<()> {
        let mut json_line = Vec::new();
        let summary = alert_summary(eval, &alerts, extra, self.settings.fail_on);
        event::write_json(
            &mut json_line,
            EventKind::Alert,
            eval,
            alerts,
            extra,
            follower.sources().len(),
        )?;
        if self.settings.json {
            emit(&self.stop, |w| {
                w.write_all(&json_line).and_then(|()| w.flush())
            })?;
        } else if !self.settings.quiet || self.settings.on_alert.is_none() {
            let mut diagnosis = eval.diagnosis.clone();
            diagnosis.findings.extend(extra.iter().cloned());
            let line = event::status_line(eval, follower.sources().len());
            let tty = self.tty;
            let opts = TextOptions {
                color: self.settings.color,
                explain: false,
                chart: Some(ChartOptions::from_env()),
                width: text::wrap_width(),
            };
            emit(&self.stop, |w| {
                if tty {
                    writeln!(w, "\r\x1b[2K{} {line}", Utc::now().time())?;
                }
                writeln!(w, "{summary}\n")?;
                text::write(w, &eval.run, &diagnosis, opts)?;
                w.flush()
            })?;
        }
        if let Some(cmd) = &self.settings.on_alert {
            run_on_alert(cmd, &json_line);
        }
        Ok(())
    }

    /// `--idle-exit` reached: a run that did not reach its configured end is `stalled-log`.
    pub(super) fn idle(&mut self, follower: &Follower, silent: Duration) -> Result<u8> {
        let stalled: Vec<Finding> = stalled_finding(follower, silent).into_iter().collect();
        if let Some(eval) = self.last.clone()
            && stalled.iter().any(|f| self.settings.fail_on.trips(f))
            && let Some(code) = self.evaluated(eval, follower, &stalled)?
        {
            return Ok(code);
        }
        if self.settings.json {
            if let Some(eval) = &self.last {
                emit(&self.stop, |w| {
                    event::write_json(
                        w,
                        EventKind::Idle,
                        eval,
                        Vec::new(),
                        &stalled,
                        follower.sources().len(),
                    )
                })?;
            }
        } else if !self.settings.quiet {
            self.finish_line()?;
            let idle = self.settings.idle_exit.unwrap_or(silent);
            let mut line = format!(
                "jepa-doctor watch: {}: no new rows for {} (--idle-exit {}): stopped watching{}",
                Utc::now().date_time(),
                clock::duration(silent),
                clock::duration(idle),
                self.outcome(),
            );
            if let Some(f) = stalled.first() {
                line.push_str(&format!(
                    "\n  {} ({}): {}",
                    f.code.as_str(),
                    f.severity.as_str(),
                    f.message
                ));
            }
            emit(&self.stop, |w| writeln!(w, "{line}"))?;
        }
        Ok(if self.any_alert {
            EXIT_FINDING
        } else {
            EXIT_OK
        })
    }

    /// The log stopped growing for long (before `--idle-exit`): an alert when it trips the gate,
    /// else a note.
    pub(super) fn stalled(&mut self, follower: &Follower, silent: Duration) -> Result<Option<u8>> {
        let Some(finding) = stalled_finding(follower, silent) else {
            return Ok(None);
        };
        match self.last.clone() {
            Some(eval) if self.settings.fail_on.trips(&finding) => {
                self.evaluated(eval, follower, &[finding])
            }
            Some(eval) if self.settings.json => {
                emit(&self.stop, |w| {
                    event::write_json(
                        w,
                        EventKind::Status,
                        &eval,
                        Vec::new(),
                        &[finding],
                        follower.sources().len(),
                    )
                })?;
                Ok(None)
            }
            _ => {
                if !self.settings.quiet {
                    self.finish_line()?;
                    let now = Utc::now().date_time();
                    emit(&self.stop, |w| {
                        writeln!(
                            w,
                            "jepa-doctor watch: {now}: {} ({}): {}",
                            finding.code.as_str(),
                            finding.severity.as_str(),
                            finding.message
                        )
                    })?;
                }
                Ok(None)
            }
        }
    }

    /// SIGINT / SIGTERM: the last status, then exit 0 (also after alerts with `--keep-going`).
    pub(super) fn interrupted(&mut self) -> Result<u8> {
        if self.settings.json {
            if let Some(eval) = &self.last {
                emit(&self.stop, |w| {
                    event::write_json(w, EventKind::Interrupted, eval, Vec::new(), &[], self.files)
                })?;
            }
        } else if !self.settings.quiet {
            if let Some(line) = self.last_line.clone() {
                self.draw(&line)?;
                if self.tty {
                    emit(&self.stop, |w| writeln!(w))?;
                }
            }
            let line = format!(
                "jepa-doctor watch: {}: interrupted: stopped watching{}",
                Utc::now().date_time(),
                self.outcome()
            );
            emit(&self.stop, |w| writeln!(w, "{line}"))?;
        }
        // Stopping the watch is not a verdict: alerts already said what they had to.
        Ok(EXIT_OK)
    }

    /// `; no alert` or `; alerts: code, …` (what the session raised).
    fn outcome(&self) -> String {
        if self.alerted.is_empty() && self.alerted_verdicts.is_empty() {
            " (no alert)".into()
        } else {
            let codes: Vec<&str> = self.alerted.iter().map(|c| c.as_str()).collect();
            format!(" (alerts raised: {})", codes.join(", "))
        }
    }

    fn finish_line(&mut self) -> Result<()> {
        if self.tty && self.last_line.is_some() && !self.settings.quiet {
            emit(&self.stop, |w| writeln!(w))?;
        }
        Ok(())
    }
}

/// `ALERT at step N (time): verdict …: code (severity): message; …`
fn alert_summary(
    eval: &Evaluation,
    alerts: &[&'static str],
    extra: &[Finding],
    fail_on: FailOn,
) -> String {
    let what: Vec<String> = eval
        .diagnosis
        .findings
        .iter()
        .chain(extra)
        .filter(|f| alerts.contains(&f.code.as_str()))
        .map(|f| {
            format!(
                "{} ({}): {}",
                f.code.as_str(),
                f.severity.as_str(),
                f.message
            )
        })
        .collect();
    let verdict = eval.diagnosis.verdict;
    let gate = if fail_on.trips_verdict(verdict) {
        let name = clap::ValueEnum::to_possible_value(&fail_on)
            .map_or_else(String::new, |v| v.get_name().to_string());
        format!(" (trips --fail-on {name})")
    } else {
        String::new()
    };
    format!(
        "jepa-doctor watch: {}: ALERT at step {}: verdict {}{gate}: {}",
        Utc::now().date_time(),
        eval.last_step.map_or("-".into(), |s| s.to_string()),
        verdict.as_str(),
        what.join("; ")
    )
}

/// The `stalled-log` finding, unless the config shows the run reached its last epoch.
fn stalled_finding(follower: &Follower, silent: Duration) -> Option<Finding> {
    let monitor = &follower.monitor;
    let last_key = monitor.last_key()?;
    let ipe = monitor.ipe(follower.ipe_hint());
    let last_step = monitor.step_of(last_key, ipe);
    let params = monitor.params();
    let planned = params.and_then(|p| {
        let ipe = ipe.map(|i| i.value).or(p.ipe)?;
        Some((p.epochs? * ipe as f64) as u64)
    });
    if planned.is_some_and(|end| last_step + 1 >= end) {
        return None;
    }
    let seconds = silent.as_secs_f64();
    let silent_words = clock::duration(silent);
    Some(
        Finding::new(
            Code::StalledLog,
            Severity::Warning,
            format!(
                "the log stopped growing: nothing new for {silent_words} after step {last_step}{}",
                planned.map_or(String::new(), |p| format!(" of {p} planned"))
            ),
        )
        .steps(Some(last_step), Some(last_step))
        .evidence(json!({
            "silent_seconds": (seconds * 10.0).round() / 10.0,
            "last_step": last_step,
            "planned_steps": planned,
        })),
    )
}

/// Runs `cmd` with `sh -c`, the alert's JSON on its standard input; failures are reported, not
/// fatal.
fn run_on_alert(cmd: &str, json_line: &[u8]) {
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("jepa-doctor: warning: --on-alert could not start: {e}");
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine.
        let _ = stdin.write_all(json_line);
    }
    match child.wait() {
        Ok(status) if !status.success() => {
            eprintln!("jepa-doctor: warning: --on-alert command exited with {status}");
        }
        Ok(_) => {}
        Err(e) => eprintln!("jepa-doctor: warning: --on-alert: {e}"),
    }
}

/// Bytes per write to standard output: a signal that arrives while an event or a report is being
/// written is noticed after the write it interrupted.
const WRITE_CHUNK_BYTES: usize = 1024;

/// Writes what `f` renders to standard output. A closed pipe ends quietly (exit 0). SIGINT or
/// SIGTERM arriving while the output is being written (a slow terminal, a pipe whose reader
/// stalls) ends at once with exit status 130 ([`EXIT_INTERRUPTED`]), the rest unwritten, so that
/// whoever reads the output knows it may be cut short.
fn emit(stop: &AtomicBool, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut rendered = Vec::new();
    f(&mut rendered).context("rendering the output")?;
    let signalled_before = stop.load(Ordering::SeqCst);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    for chunk in rendered.chunks(WRITE_CHUNK_BYTES) {
        match lock.write_all(chunk).and_then(|()| lock.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => return Err(e).context("writing to standard output"),
        }
        if !signalled_before && stop.load(Ordering::SeqCst) {
            let _ = writeln!(
                std::io::stderr(),
                "\njepa-doctor: interrupted while writing: the output may be incomplete"
            );
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }
    Ok(())
}
