//! `jepa-doctor watch`: follow a run while it trains and raise the alarm the moment a collapse, a
//! divergence or (with `--fail-on rebound`) a rebound is established (issue 16, DESIGN §2).
//!
//! The loop, every `--interval` seconds: read what the logs appended ([`follow`], [`feed`],
//! [`tail`]), update the block statistics ([`monitor`]), evaluate, say so ([`event`]). The rebound
//! test spends its significance level over the looks ([`spending`]) so a healthy run watched for a
//! week raises a false alarm with probability at most `--alpha`. Directories are watched with
//! `notify` for new rank files (re-scanned at every tick when no watcher could be set up); files
//! themselves are polled at every tick, which also works where file events do not arrive (network
//! file systems a cluster's nodes share).

pub mod event;
pub mod feed;
pub mod follow;
pub mod monitor;
pub mod spending;
pub mod tail;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::app::{EXIT_FINDING, EXIT_OK};
use crate::cli::WatchArgs;
use crate::config::{analysis_settings, clean_options, use_color};
use crate::diagnose::finding::{Code, FailOn, Finding, Severity};
use crate::error::IngestError;
use crate::ingest::IngestOptions;
use crate::ingest::table::{KeyKind, ValuePolicy};
use crate::report::chart::ChartOptions;
use crate::report::text::{self, TextOptions};
use event::EventKind;
use follow::Follower;
use monitor::{Evaluation, MonitorSettings};

/// Everything `watch` needs to know.
#[derive(Clone, Debug)]
pub struct WatchSettings {
    pub inputs: Vec<String>,
    pub ingest: IngestOptions,
    pub monitor: MonitorSettings,
    pub interval: Duration,
    pub idle_exit: Option<Duration>,
    pub json: bool,
    pub on_alert: Option<String>,
    pub keep_going: bool,
    pub fail_on: FailOn,
    pub color: bool,
    pub quiet: bool,
}

impl WatchSettings {
    pub fn from_args(args: &WatchArgs) -> Result<WatchSettings, IngestError> {
        let w = &args.watch;
        Ok(WatchSettings {
            inputs: args.inputs.clone(),
            ingest: IngestOptions {
                format: args.read.format.forced(),
                step_col: args.read.step_col.clone(),
                config: args.read.config.clone(),
                strict: args.read.strict,
                values: ValuePolicy::all(),
                general_csv_only: true,
                progress_bar: false,
            },
            monitor: MonitorSettings {
                analysis: analysis_settings(&args.analysis),
                clean: clean_options(&args.read),
                key_kind: KeyKind::Step,
                params: None,
            },
            interval: Duration::from_secs_f64(w.interval),
            idle_exit: w.idle_exit.map(Duration::from_secs_f64),
            json: w.json,
            on_alert: w.on_alert.clone(),
            keep_going: w.keep_going,
            fail_on: w.fail_on,
            color: use_color(w.color),
            quiet: w.quiet,
        })
    }
}

/// Runs `watch` until an alert (exit 1), `--idle-exit` (0, or 1 when an alert fired with
/// `--keep-going`), or SIGINT/SIGTERM (0).
pub fn run(settings: &WatchSettings) -> Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("setting up the signal handlers")?;
    }
    let mut follower =
        Follower::open(&settings.inputs, &settings.ingest, settings.monitor.clone())?;
    follower.stale_after = (settings.interval * 5).max(Duration::from_secs(2));
    let (tx, rx) = mpsc::channel();
    let _watcher = watch_directories(&settings.inputs, tx);
    let mut session = Session::new(settings);
    let mut last_data = Instant::now();
    let mut last_tick = Instant::now();
    let mut gaps: Vec<f64> = Vec::new();
    let mut first = true;
    loop {
        let dirty = rx.try_iter().count() > 0;
        if dirty || _watcher.is_none() || first {
            follower.discover()?;
        }
        let polled = follower.poll()?;
        let now = Instant::now();
        if polled.rows_read > 0 {
            if !first {
                gaps.push(now.duration_since(last_data).as_secs_f64());
                if gaps.len() > 64 {
                    gaps.remove(0);
                }
            }
            last_data = now;
        }
        if polled.rows_read > 0 || first || polled.reread {
            match follower.monitor.evaluate(follower.ipe_hint()) {
                Some(eval) => {
                    if let Some(code) = session.evaluated(eval, &follower, &[])? {
                        return Ok(code);
                    }
                }
                None => session.waiting(follower.sources().len())?,
            }
        }
        first = false;
        let silent = now.duration_since(last_data);
        if let Some(idle) = settings.idle_exit
            && silent >= idle
        {
            return session.idle(&follower, silent);
        }
        if !session.stall_reported && silent >= stall_threshold(&gaps, settings.interval) {
            session.stall_reported = true;
            if let Some(code) = session.stalled(&follower, silent)? {
                return Ok(code);
            }
        }
        // Wait for the next tick, waking up for a signal.
        let next = last_tick + settings.interval;
        while Instant::now() < next {
            if stop.load(Ordering::Relaxed) {
                return session.interrupted();
            }
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(25)));
        }
        last_tick = Instant::now();
        if stop.load(Ordering::Relaxed) {
            return session.interrupted();
        }
    }
}

/// Silence after which a growing log counts as stalled: 20 typical gaps between growths, at least
/// 30 intervals and 10 minutes (checkpointing and evaluation pauses are normal).
fn stall_threshold(gaps: &[f64], interval: Duration) -> Duration {
    let mut sorted = gaps.to_vec();
    sorted.sort_by(f64::total_cmp);
    let typical = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    Duration::from_secs_f64(
        (20.0 * typical)
            .max(30.0 * interval.as_secs_f64())
            .max(600.0),
    )
}

/// Watches the input directories (and the directories of input files) for new files.
fn watch_directories(
    inputs: &[String],
    tx: mpsc::Sender<notify::Result<notify::Event>>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(tx).ok()?;
    for input in inputs {
        let path = Path::new(input);
        let dir = if path.is_dir() {
            path
        } else {
            path.parent().filter(|p| !p.as_os_str().is_empty())?
        };
        watcher
            .watch(dir, notify::RecursiveMode::NonRecursive)
            .ok()?;
    }
    Some(watcher)
}

/// What was said so far and how to say more.
struct Session<'a> {
    settings: &'a WatchSettings,
    tty: bool,
    alerted: BTreeSet<Code>,
    any_alert: bool,
    last: Option<Evaluation>,
    last_line: Option<String>,
    stall_reported: bool,
    /// Log files followed at the last evaluation.
    files: usize,
}

impl<'a> Session<'a> {
    fn new(settings: &'a WatchSettings) -> Session<'a> {
        Session {
            settings,
            tty: std::io::stdout().is_terminal() && !settings.json,
            alerted: BTreeSet::new(),
            any_alert: false,
            last: None,
            last_line: None,
            stall_reported: false,
            files: 0,
        }
    }

    /// Reports an evaluation; `Some(exit code)` when watching ends here.
    fn evaluated(
        &mut self,
        eval: Evaluation,
        follower: &Follower,
        extra: &[Finding],
    ) -> Result<Option<u8>> {
        let fail_on = self.settings.fail_on;
        self.files = follower.sources().len();
        let fresh: Vec<&Finding> = eval
            .diagnosis
            .findings
            .iter()
            .chain(extra)
            .filter(|f| fail_on.trips(f) && !self.alerted.contains(&f.code))
            .collect();
        let alerts: Vec<&'static str> = fresh.iter().map(|f| f.code.as_str()).collect();
        let codes: Vec<Code> = fresh.iter().map(|f| f.code).collect();
        let alert = !alerts.is_empty();
        if alert {
            self.alert(&eval, follower, alerts, extra)?;
            self.alerted.extend(codes);
            self.any_alert = true;
        } else {
            self.status(&eval, follower)?;
        }
        self.last = Some(eval);
        Ok((alert && !self.settings.keep_going).then_some(EXIT_FINDING))
    }

    fn status(&mut self, eval: &Evaluation, follower: &Follower) -> Result<()> {
        if self.settings.json {
            return emit(|w| {
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

    fn waiting(&mut self, files: usize) -> Result<()> {
        if self.settings.json {
            return Ok(());
        }
        self.show_line(event::waiting_line(files))
    }

    fn show_line(&mut self, line: String) -> Result<()> {
        if self.settings.quiet {
            return Ok(());
        }
        let tty = self.tty;
        emit(|w| {
            if tty {
                write!(w, "\r\x1b[2K{line}")?;
            } else {
                writeln!(w, "{line}")?;
            }
            w.flush()
        })?;
        self.last_line = Some(line);
        Ok(())
    }

    fn alert(
        &mut self,
        eval: &Evaluation,
        follower: &Follower,
        alerts: Vec<&'static str>,
        extra: &[Finding],
    ) -> Result<()> {
        let mut json_line = Vec::new();
        let summary = alert_summary(eval, &alerts, extra);
        event::write_json(
            &mut json_line,
            EventKind::Alert,
            eval,
            alerts,
            extra,
            follower.sources().len(),
        )?;
        if self.settings.json {
            emit(|w| w.write_all(&json_line).and_then(|()| w.flush()))?;
        } else if !self.settings.quiet || self.settings.on_alert.is_none() {
            let mut diagnosis = eval.diagnosis.clone();
            diagnosis.findings.extend(extra.iter().cloned());
            let line = event::status_line(eval, follower.sources().len());
            let tty = self.tty;
            let opts = TextOptions {
                color: self.settings.color,
                explain: false,
                chart: Some(ChartOptions::from_env()),
            };
            emit(|w| {
                if tty {
                    writeln!(w, "\r\x1b[2K{line}")?;
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
    fn idle(&mut self, follower: &Follower, silent: Duration) -> Result<u8> {
        let stalled: Vec<Finding> = stalled_finding(follower, silent).into_iter().collect();
        if let Some(eval) = self.last.clone()
            && stalled.iter().any(|f| self.settings.fail_on.trips(f))
            && let Some(code) = self.evaluated(eval, follower, &stalled)?
        {
            return Ok(code);
        }
        if self.settings.json {
            if let Some(eval) = &self.last {
                emit(|w| {
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
            let mut line = format!(
                "jepa-doctor watch: no new data for {:.1} s (--idle-exit): stopped watching",
                silent.as_secs_f64()
            );
            if let Some(f) = stalled.first() {
                line.push_str(&format!("; {}: {}", f.code.as_str(), f.message));
            }
            emit(|w| writeln!(w, "{line}"))?;
        }
        Ok(if self.any_alert {
            EXIT_FINDING
        } else {
            EXIT_OK
        })
    }

    /// The log stopped growing for long (before `--idle-exit`): an alert when it trips the gate,
    /// else a note.
    fn stalled(&mut self, follower: &Follower, silent: Duration) -> Result<Option<u8>> {
        let Some(finding) = stalled_finding(follower, silent) else {
            return Ok(None);
        };
        match self.last.clone() {
            Some(eval) if self.settings.fail_on.trips(&finding) => {
                self.evaluated(eval, follower, &[finding])
            }
            Some(eval) if self.settings.json => {
                emit(|w| {
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
                    emit(|w| writeln!(w, "jepa-doctor watch: {}", finding.message))?;
                }
                Ok(None)
            }
        }
    }

    /// SIGINT / SIGTERM: the last status, then exit 0.
    fn interrupted(&mut self) -> Result<u8> {
        if self.settings.json {
            if let Some(eval) = &self.last {
                emit(|w| {
                    event::write_json(w, EventKind::Interrupted, eval, Vec::new(), &[], self.files)
                })?;
            }
        } else if let Some(line) = &self.last_line
            && !self.settings.quiet
        {
            let line = line.clone();
            let tty = self.tty;
            emit(|w| {
                if tty {
                    write!(w, "\r\x1b[2K")?;
                }
                writeln!(w, "{line}")?;
                w.flush()
            })?;
        }
        Ok(if self.any_alert {
            EXIT_FINDING
        } else {
            EXIT_OK
        })
    }

    fn finish_line(&mut self) -> Result<()> {
        if self.tty && self.last_line.is_some() && !self.settings.quiet {
            emit(|w| writeln!(w))?;
        }
        Ok(())
    }
}

/// `ALERT at step N: code (severity): message; …`
fn alert_summary(eval: &Evaluation, alerts: &[&'static str], extra: &[Finding]) -> String {
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
    format!(
        "jepa-doctor watch: ALERT at step {}: {}",
        eval.last_step.map_or("-".into(), |s| s.to_string()),
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
    Some(
        Finding::new(
            Code::StalledLog,
            Severity::Warning,
            format!(
                "the log stopped growing: nothing new for {seconds:.0} s after step {last_step}{}",
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

/// Writes to standard output; a closed pipe ends quietly.
fn emit(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match f(&mut lock) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e).context("writing to standard output"),
    }
}
