//! What `watch` says and does as the run evolves: status lines or JSON lines, the report and the
//! `--on-alert` command when an alert fires, the goodbye at `--idle-exit` or on a signal, and the
//! exit status each of them leads to.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;

use super::WatchSettings;
use super::clock::{self, Utc};
use super::event::{self, EventKind};
use super::follow::Follower;
use super::monitor::Evaluation;
use super::output::{emit, run_on_alert};
use super::stall::{silence_note, stalled_finding};
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
                    None,
                )
            });
        }
        let line = event::status_line(eval, follower.sources().len());
        self.show_line(line)
    }

    pub(super) fn waiting(&mut self, files: usize, note: Option<String>) -> Result<()> {
        if self.settings.json {
            return Ok(());
        }
        let mut line = event::waiting_line(files);
        if let Some(note) = note {
            line.push_str(" · ");
            line.push_str(&note);
        }
        self.show_line(line)
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
                let line = event::fit(&format!("{} {line}", now.time()), terminal_columns());
                write!(w, "\r\x1b[2K{line}")?;
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
            None,
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
                        None,
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

    /// The log stopped growing for long (before `--idle-exit`): a `stalled-log` finding when the
    /// run has a known end it has not reached (an alert when it trips the gate), else a note.
    pub(super) fn stalled(&mut self, follower: &Follower, silent: Duration) -> Result<Option<u8>> {
        let Some(finding) = stalled_finding(follower, silent) else {
            return self.silence(follower, silent);
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
                        None,
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

    /// A long silence that is not a finding: said once (a JSON status event with the note, or a
    /// line).
    fn silence(&mut self, follower: &Follower, silent: Duration) -> Result<Option<u8>> {
        let note = silence_note(follower, silent);
        if self.settings.json {
            if let Some(eval) = &self.last {
                let files = follower.sources().len();
                emit(&self.stop, |w| {
                    event::write_json(
                        w,
                        EventKind::Status,
                        eval,
                        Vec::new(),
                        &[],
                        files,
                        Some(&note),
                    )
                })?;
            }
        } else if !self.settings.quiet {
            self.finish_line()?;
            let now = Utc::now().date_time();
            emit(&self.stop, |w| {
                writeln!(w, "jepa-doctor watch: {now}: {note}")
            })?;
        }
        Ok(None)
    }

    /// SIGINT / SIGTERM: the last status, then exit 0 (also after alerts with `--keep-going`).
    pub(super) fn interrupted(&mut self) -> Result<u8> {
        if self.settings.json {
            if let Some(eval) = &self.last {
                emit(&self.stop, |w| {
                    event::write_json(
                        w,
                        EventKind::Interrupted,
                        eval,
                        Vec::new(),
                        &[],
                        self.files,
                        None,
                    )
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

/// Columns of the terminal standard output is (80 when unknown).
fn terminal_columns() -> usize {
    terminal_size::terminal_size().map_or(80, |(w, _)| usize::from(w.0).max(20))
}
