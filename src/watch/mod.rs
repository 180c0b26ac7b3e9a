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

mod blocks;
pub mod clock;
pub mod event;
pub mod feed;
pub mod follow;
mod ledger;
pub mod monitor;
mod output;
mod session;
pub mod spending;
mod stall;
pub mod standing;
pub mod tail;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cli::WatchArgs;
use crate::config::{analysis_settings, clean_options, use_color};
use crate::diagnose::finding::FailOn;
use crate::error::IngestError;
use crate::ingest::IngestOptions;
use crate::ingest::table::{KeyKind, ValuePolicy};
use follow::Follower;
use monitor::MonitorSettings;
use session::Session;

/// Exit status when SIGINT / SIGTERM arrived while output was being written (128 + SIGINT, as a
/// shell reports a command killed by Ctrl-C): the output may be incomplete.
pub const EXIT_INTERRUPTED: u8 = 130;

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
            inputs: args.run.inputs.clone(),
            ingest: IngestOptions {
                format: args.run.read.format.forced(),
                step_col: args.run.read.step_col.clone(),
                config: args.run.read.config.clone(),
                strict: args.run.read.strict,
                values: ValuePolicy::all(),
                general_csv_only: true,
                progress_bar: false,
                run: args.run.read.run.clone(),
            },
            monitor: MonitorSettings {
                analysis: analysis_settings(&args.run.analysis),
                clean: clean_options(&args.run.read),
                key_kind: KeyKind::Step,
                params: None,
            },
            interval: Duration::from_secs_f64(w.interval),
            idle_exit: w.idle_exit.map(Duration::from_secs_f64),
            json: w.json,
            on_alert: w.on_alert.clone(),
            keep_going: w.keep_going,
            fail_on: w.fail.fail_on,
            color: use_color(w.console.color),
            quiet: w.console.quiet,
        })
    }
}

/// Runs `watch` until an alert (exit 1), `--idle-exit` (0, or 1 when an alert fired with
/// `--keep-going`), or SIGINT/SIGTERM (0; 130 when the signal arrived while output was being
/// written).
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
    let mut session = Session::new(settings, Arc::clone(&stop));
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
            // A log that grows again may stall again later: say so again then.
            session.stall_reported = false;
        }
        if polled.rows_read > 0 || first || polled.reread {
            match follower.monitor.evaluate(follower.ipe_hint()) {
                Some(eval) => {
                    if let Some(code) = session.evaluated(eval, &follower, &[])? {
                        return Ok(code);
                    }
                }
                None => session.waiting(follower.sources().len(), follower.note())?,
            }
        }
        first = false;
        let silent = now.duration_since(last_data);
        if polled.rows_read == 0 {
            session.quiet(silent)?;
        }
        if let Some(idle) = settings.idle_exit
            && silent >= idle
        {
            // The run has ended: one final look on all rows (a last JSON-lines record without
            // its newline included when whole, no file waited for).
            follower.finish()?;
            if let Some(eval) = follower.monitor.evaluate_final(follower.ipe_hint())
                && let Some(code) = session.evaluated(eval, &follower, &[])?
            {
                return Ok(code);
            }
            return session.idle(&follower, silent);
        }
        if !session.stall_reported && silent >= stall::stall_threshold(&gaps, settings.interval) {
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
        // A TensorBoard log directory gets `add_scalars` folders and restart files below it; a
        // `wandb/` folder's runs write in its run folders.
        let mode = match crate::ingest::sources::container_at(dir) {
            Some(
                crate::ingest::sources::Container::Tensorboard(_)
                | crate::ingest::sources::Container::WandbRuns(_),
            ) => notify::RecursiveMode::Recursive,
            _ => notify::RecursiveMode::NonRecursive,
        };
        watcher.watch(dir, mode).ok()?;
    }
    Some(watcher)
}
