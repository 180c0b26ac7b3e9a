//! Writing what `watch` says to standard output so that a signal or a closed pipe ends it
//! cleanly, and running the `--on-alert` command.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use super::EXIT_INTERRUPTED;

/// Runs `cmd` with `sh -c`, the alert's JSON on its standard input; failures are reported, not
/// fatal.
pub(super) fn run_on_alert(cmd: &str, json_line: &[u8]) {
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
pub(super) fn emit(
    stop: &AtomicBool,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
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
