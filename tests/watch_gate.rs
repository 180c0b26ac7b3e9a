//! `jepa-doctor watch`: the `--fail-on` gate follows the verdict as `analyze` does, and a signal
//! that arrives while output is being written ends with exit status 130 (the output may be cut
//! short); at any other moment SIGINT ends with 0 (`tests/watch.rs`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HEADER: &str =
    "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";

/// One V-JEPA CSV row at `step` (100 iterations per epoch): a healthy descent (seeded noise),
/// the loss multiplied by `factor`.
fn row(step: u64, noise: &mut u64, factor: f64) -> String {
    *noise ^= *noise >> 12;
    *noise ^= *noise << 25;
    *noise ^= *noise >> 27;
    let u = (noise.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
    let t = step as f64;
    let loss = (0.45 + 0.4 * (-t / 150.0).exp() + 0.008 * u) * factor;
    let reg = 0.3 + 0.4 * (-t / 200.0).exp() + 0.008 * u;
    let (epoch, itr) = (step / 100 + 1, step % 100);
    format!("{epoch},{itr},{loss:.5},{loss:.5},{reg:.5},1.00000,1.00000,100,120\n")
}

/// A growing log: `rows` rows appended 50 at a time every 30 ms.
fn grow(path: PathBuf, rows: Vec<String>) -> thread::JoinHandle<std::io::Result<()>> {
    thread::spawn(move || {
        for chunk in rows.chunks(50) {
            let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
            f.write_all(chunk.concat().as_bytes())?;
            thread::sleep(Duration::from_millis(30));
        }
        Ok(())
    })
}

/// 700 rows of a healthy descent with the loss spiking to 4× at four steps: `spikes` is a warning
/// and the verdict `unstable`.
fn spiky_rows(seed: u64) -> Vec<String> {
    println!("seed {seed:#x}");
    let mut noise = seed;
    (0..700)
        .map(|s| {
            let factor = if [300, 420, 540, 660].contains(&s) {
                4.0
            } else {
                1.0
            };
            row(s, &mut noise, factor)
        })
        .collect()
}

fn run_watch(
    args: &[&str],
    log: &Path,
    rows: Vec<String>,
) -> Result<(i32, Vec<Value>), Box<dyn std::error::Error>> {
    let child = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["watch", "--json", "--interval=0.2", "--idle-exit=1"])
        .args(args)
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()?;
    grow(log.to_path_buf(), rows)
        .join()
        .map_err(|_| "writer panicked")??;
    let out = child.wait_with_output()?;
    let events: Vec<Value> = String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for e in &events {
        println!(
            "{} step {} verdict {} alerts {}",
            e["event"], e["step"], e["verdict"], e["alerts"]
        );
    }
    Ok((out.status.code().unwrap_or(-1), events))
}

#[test]
fn an_unstable_verdict_trips_fail_on_rebound_as_in_analyze() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("jepa_r0.csv");
    std::fs::write(&log, HEADER)?;
    let (code, events) = run_watch(&["--fail-on=rebound"], &log, spiky_rows(0x9a7e))?;
    // `spikes` is a warning, which `--fail-on rebound` does not take by itself; the verdict
    // `unstable` it makes is worse than a rebound, so the gate trips, as in `analyze`.
    let analyze = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["analyze", "-q", "--fail-on=rebound"])
        .arg(&log)
        .status()?;
    assert_eq!(analyze.code(), Some(1), "analyze gates the same file");
    assert_eq!(code, 1);
    let alert = events
        .iter()
        .find(|e| e["event"] == "alert")
        .ok_or("no alert")?;
    assert_eq!(alert["verdict"], "unstable");
    assert!(
        alert["alerts"]
            .as_array()
            .is_some_and(|a| a.contains(&Value::from("spikes")))
    );
    // Not before the first spike (step 300): one spike at 4× its level is already a warning.
    assert!(alert["step"].as_u64().is_some_and(|s| s >= 300), "{alert}");

    // At the default gate (`error`) neither the findings nor the verdict trip.
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("jepa_r0.csv");
    std::fs::write(&log, HEADER)?;
    let (code, events) = run_watch(&[], &log, spiky_rows(0x9a7e))?;
    assert_eq!(code, 0);
    assert!(events.iter().all(|e| e["event"] != "alert"));
    assert_eq!(events.last().ok_or("no event")?["verdict"], "unstable");
    Ok(())
}

#[cfg(target_os = "linux")]
/// Whether process `pid` is blocked writing to a pipe (Linux: `/proc/PID/wchan`).
fn blocked_on_pipe(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pipe_write"))
}

#[cfg(target_os = "linux")]
#[test]
fn sigint_while_writing_exits_130() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("jepa_r0.csv");
    let mut noise = 0x5161u64;
    let start: String = (0..300).map(|s| row(s, &mut noise, 1.0)).collect();
    std::fs::write(&log, format!("{HEADER}{start}"))?;
    // Nobody reads the watcher's output: the pipe fills and its next write blocks, as with a
    // consumer that stalls. The log keeps growing so that there is always more to write.
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["watch", "--json", "--interval=0.02"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, log) = (Arc::clone(&stop), log.clone());
        thread::spawn(move || -> std::io::Result<()> {
            let mut step = 300;
            while !stop.load(Ordering::Relaxed) {
                let rows: String = (step..step + 20).map(|s| row(s, &mut noise, 1.0)).collect();
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&log)?
                    .write_all(rows.as_bytes())?;
                step += 20;
                thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        })
    };
    let began = Instant::now();
    while !blocked_on_pipe(child.id()) {
        if began.elapsed() > Duration::from_secs(60) {
            child.kill()?;
            return Err("the watcher never blocked on its output".into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    println!(
        "blocked on its output after {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    writer.join().map_err(|_| "writer panicked")??;
    // Drain the pipe: the blocked write completes, the watcher sees the signal and stops.
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let mut out = Vec::new();
    stdout.read_to_end(&mut out)?;
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .ok_or("stderr")?
        .read_to_string(&mut stderr)?;
    let status = child.wait()?;
    println!("{} bytes of output; stderr: {stderr}", out.len());
    assert_eq!(status.code(), Some(130));
    assert!(stderr.contains("interrupted while writing"), "{stderr}");
    Ok(())
}
