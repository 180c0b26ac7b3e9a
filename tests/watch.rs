//! `jepa-doctor watch` end to end: a writer thread grows a real log file while the binary follows
//! it with short intervals; the JSON lines it prints are read as they come, with the time they
//! arrived. Every test is bounded (an idle exit, and a kill after a deadline).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// Events with the time they arrived.
type Events = Vec<(Instant, Value)>;

const HEADER: &str =
    "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";
const IPE: u64 = 100;
const INTERVAL: f64 = 0.2;

/// A seeded generator for the noise (xorshift64*; the seed is printed by each test).
struct Noise(u64);

impl Noise {
    fn new(seed: u64) -> Noise {
        println!("seed {seed}");
        Noise(seed.max(1))
    }
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        2.0 * u - 1.0
    }
}

/// One V-JEPA CSV row at global step `step` (epoch 1-based, 100 iterations per epoch).
fn row(step: u64, loss: f64, reg: f64) -> String {
    let (epoch, itr) = (step / IPE + 1, step % IPE);
    format!("{epoch},{itr},{loss:.5},{loss:.5},{reg:.5},1.00000,1.00000,100,120\n")
}

/// A healthy curve: descent to a plateau, reg-loss falling, small noise.
fn healthy(step: u64, noise: &mut Noise) -> (f64, f64) {
    let t = step as f64;
    let loss = 0.45 + 0.4 * (-t / 300.0).exp() + 0.004 * noise.next();
    let reg = 0.3 + 0.4 * (-t / 400.0).exp() + 0.004 * noise.next();
    (loss, reg)
}

/// Appends `rows` in batches of `batch` every `pause`; returns when each row was written.
fn grow(
    path: &Path,
    rows: Vec<String>,
    batch: usize,
    pause: Duration,
) -> thread::JoinHandle<Vec<Instant>> {
    let path = path.to_path_buf();
    thread::spawn(move || {
        let mut written = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(batch) {
            let Ok(mut f) = OpenOptions::new().append(true).create(true).open(&path) else {
                break;
            };
            let text: String = chunk.concat();
            if f.write_all(text.as_bytes()).is_err() {
                break;
            }
            let now = Instant::now();
            written.extend(std::iter::repeat_n(now, chunk.len()));
            thread::sleep(pause);
        }
        written
    })
}

/// The running binary and its JSON lines as they arrive.
struct Watch {
    child: Child,
    events: mpsc::Receiver<(Instant, Value)>,
}

impl Watch {
    fn spawn(args: &[&str]) -> Result<Watch, Box<dyn std::error::Error>> {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send((Instant::now(), v)).is_err() {
                            break;
                        }
                    }
                    Err(_) => println!("(not JSON) {line}"),
                }
            }
        });
        Ok(Watch { child, events: rx })
    }

    /// Waits for the exit (killing it after `deadline`) and returns the exit code and every event.
    fn finish(mut self, deadline: Duration) -> Result<(i32, Events), Box<dyn std::error::Error>> {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if start.elapsed() > deadline {
                self.child.kill()?;
                return Err("watch did not exit before the deadline".into());
            }
            thread::sleep(Duration::from_millis(20));
        };
        thread::sleep(Duration::from_millis(50));
        let events: Vec<_> = self.events.try_iter().collect();
        Ok((status.code().unwrap_or(-1), events))
    }
}

fn kind(v: &Value) -> &str {
    v["event"].as_str().unwrap_or("")
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn new_log(dir: &Path, name: &str) -> Result<PathBuf, std::io::Error> {
    let path = dir.join(name);
    File::create(&path)?.write_all(HEADER.as_bytes())?;
    Ok(path)
}

/// A new log `name` in `dir` holding `steps` healthy rows drawn with noise `seed`.
fn healthy_log(dir: &Path, name: &str, steps: u64, seed: u64) -> Result<PathBuf, std::io::Error> {
    let log = new_log(dir, name)?;
    let mut noise = Noise::new(seed);
    let text: String = (0..steps)
        .map(|s| {
            let (l, r) = healthy(s, &mut noise);
            row(s, l, r)
        })
        .collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)?
        .write_all(text.as_bytes())?;
    Ok(log)
}

fn show(events: &[(Instant, Value)]) {
    for (_, e) in events {
        println!(
            "{} step {} rows {} verdict {} alerts {} findings {:?}",
            kind(e),
            e["step"],
            e["rows"],
            e["verdict"],
            e["alerts"],
            codes(e)
        );
    }
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_healthy_run_raises_no_alert_and_exits_at_idle() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path(), "jepa_r0.csv")?;
    let mut noise = Noise::new(11);
    let rows: Vec<String> = (0..2500)
        .map(|s| {
            let (l, r) = healthy(s, &mut noise);
            row(s, l, r)
        })
        .collect();
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=1.0",
        "--json",
        &path_arg(&log),
    ])?;
    let writer = grow(&log, rows, 125, Duration::from_millis(50));
    let written = writer.join().map_err(|_| "writer panicked")?;
    let (code, events) = watch.finish(Duration::from_secs(30))?;
    show(&events);
    assert_eq!(code, 0);
    assert!(events.iter().all(|(_, e)| kind(e) != "alert"));
    let statuses = events.iter().filter(|(_, e)| kind(e) == "status").count();
    assert!(
        statuses >= 3,
        "followed the growth in several evaluations: {statuses}"
    );
    let (idle_at, idle) = events.last().ok_or("no event")?;
    assert_eq!(kind(idle), "idle");
    assert_eq!(idle["step"], 2499);
    assert_eq!(idle["rows"], 2500);
    let last_write = *written.last().ok_or("nothing written")?;
    assert!(idle_at.duration_since(last_write) >= Duration::from_secs(1));
    Ok(())
}

#[test]
fn a_divergence_alerts_within_one_interval_of_the_first_nan() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path(), "jepa_r0.csv")?;
    let mut noise = Noise::new(12);
    let mut rows: Vec<String> = (0..1500)
        .map(|s| {
            let (l, r) = healthy(s, &mut noise);
            row(s, l, r)
        })
        .collect();
    rows.push("16,0,nan,nan,0.30000,1.00000,1.00000,100,120\n".into());
    let on_alert = dir.path().join("alert.json");
    let cmd = format!("cat > '{}'", on_alert.display());
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=3",
        "--json",
        "--on-alert",
        &cmd,
        &path_arg(&log),
    ])?;
    let writer = grow(&log, rows, 100, Duration::from_millis(60));
    let written = writer.join().map_err(|_| "writer panicked")?;
    let (code, events) = watch.finish(Duration::from_secs(30))?;
    show(&events);
    assert_eq!(code, 1);
    let (alert_at, alert) = events
        .iter()
        .find(|(_, e)| kind(e) == "alert")
        .ok_or("no alert")?;
    assert_eq!(alert["alerts"], serde_json::json!(["non-finite"]));
    assert_eq!(alert["verdict"], "diverged");
    let nan_written = *written.last().ok_or("nothing written")?;
    let delay = alert_at.duration_since(nan_written);
    println!(
        "alert {:.3} s after the NaN was written (interval {INTERVAL} s)",
        delay.as_secs_f64()
    );
    // One interval, plus the time to read and evaluate.
    assert!(
        delay <= Duration::from_secs_f64(INTERVAL + 0.3),
        "{delay:?}"
    );
    let nan_finding = alert["findings"]
        .as_array()
        .ok_or("findings")?
        .iter()
        .find(|f| f["code"] == "non-finite")
        .ok_or("finding")?;
    assert_eq!(nan_finding["step_start"], 1500);
    // --on-alert ran once with the alert on its standard input.
    let sent: Value = serde_json::from_str(&std::fs::read_to_string(&on_alert)?)?;
    assert_eq!(sent["event"], "alert");
    assert_eq!(sent["alerts"], serde_json::json!(["non-finite"]));
    Ok(())
}

#[test]
fn a_collapse_alerts_once_established_and_never_before() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path(), "jepa_r0.csv")?;
    let mut noise = Noise::new(13);
    let onset = 1200u64;
    let rows: Vec<String> = (0..3000)
        .map(|s| {
            let (l, r) = healthy(s, &mut noise);
            if s < onset {
                row(s, l, r)
            } else {
                // The predictions collapse: loss to near zero, reg-loss (1 - std) to 1.
                let f = (-((s - onset) as f64) / 150.0).exp();
                row(s, l * f + 0.004 * (1.0 - f), r * f + 0.995 * (1.0 - f))
            }
        })
        .collect();
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=1.5",
        "--json",
        &path_arg(&log),
    ])?;
    let writer = grow(&log, rows, 100, Duration::from_millis(50));
    writer.join().map_err(|_| "writer panicked")?;
    let (code, events) = watch.finish(Duration::from_secs(30))?;
    show(&events);
    assert_eq!(code, 1);
    let (_, alert) = events
        .iter()
        .find(|(_, e)| kind(e) == "alert")
        .ok_or("no alert")?;
    assert!(
        codes(alert)
            .iter()
            .any(|c| c == "collapse" || c == "rebound-with-collapse")
    );
    // The verdict is what trips the default gate (`error`), as in `analyze`.
    assert_eq!(alert["verdict"], "collapse");
    let step = alert["step"].as_u64().ok_or("step")?;
    assert!(
        step > onset,
        "alert at step {step}, collapse begins at {onset}"
    );
    for (_, e) in &events {
        if e["step"].as_u64().is_some_and(|s| s < onset) {
            assert_eq!(kind(e), "status");
            assert!(!codes(e).iter().any(|c| c.contains("collapse")), "{e}");
        }
    }
    Ok(())
}

#[test]
fn a_rebound_alerts_after_the_minimum_with_fail_on_rebound() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path(), "jepa_r0.csv")?;
    let mut noise = Noise::new(14);
    let min_step = 1000u64;
    let rows: Vec<String> = (0..4000)
        .map(|s| {
            let t = s as f64;
            let descent = 0.40 + 0.45 * (-t / 250.0).exp();
            let rise = if s > min_step {
                0.12 * (t - min_step as f64) / 3000.0
            } else {
                0.0
            };
            let reg = 0.3 + 0.4 * (-t / 500.0).exp();
            row(
                s,
                descent + rise + 0.003 * noise.next(),
                reg + 0.003 * noise.next(),
            )
        })
        .collect();
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=1.5",
        "--json",
        "--fail-on=rebound",
        &path_arg(&log),
    ])?;
    let writer = grow(&log, rows, 100, Duration::from_millis(40));
    writer.join().map_err(|_| "writer panicked")?;
    let (code, events) = watch.finish(Duration::from_secs(40))?;
    show(&events);
    assert_eq!(code, 1);
    let (_, alert) = events
        .iter()
        .find(|(_, e)| kind(e) == "alert")
        .ok_or("no alert")?;
    assert_eq!(alert["alerts"], serde_json::json!(["rebound"]));
    assert!(
        alert["look"].as_u64().is_some(),
        "a rebound is reported at a look only"
    );
    let step = alert["step"].as_u64().ok_or("step")?;
    assert!(
        step > min_step,
        "alert at step {step}, minimum at {min_step}"
    );
    Ok(())
}

#[test]
fn a_truncated_and_restarted_file_is_read_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path(), "jepa_r0.csv")?;
    let mut noise = Noise::new(15);
    let first: Vec<String> = (0..1500)
        .map(|s| {
            let (l, r) = healthy(s, &mut noise);
            row(s, l, r)
        })
        .collect();
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=1.5",
        "--json",
        &path_arg(&log),
    ])?;
    grow(&log, first, 250, Duration::from_millis(50))
        .join()
        .map_err(|_| "writer panicked")?;
    thread::sleep(Duration::from_millis(600));
    // A new run in the same file: truncated, a header, 300 healthy rows, then NaN.
    File::create(&log)?.write_all(HEADER.as_bytes())?;
    let mut second: Vec<String> = (0..300)
        .map(|s| {
            let (l, r) = healthy(s, &mut noise);
            row(s, l + 0.1, r)
        })
        .collect();
    second.push(row(300, f64::NAN, 0.3).replace("NaN", "nan"));
    grow(&log, second, 100, Duration::from_millis(50))
        .join()
        .map_err(|_| "writer panicked")?;
    let (code, events) = watch.finish(Duration::from_secs(30))?;
    show(&events);
    assert_eq!(code, 1);
    let before = events
        .iter()
        .filter(|(_, e)| e["rows"].as_u64().is_some_and(|r| r >= 1500))
        .count();
    assert!(before > 0, "the first run was followed");
    let (_, alert) = events
        .iter()
        .find(|(_, e)| kind(e) == "alert")
        .ok_or("no alert")?;
    assert_eq!(alert["alerts"], serde_json::json!(["non-finite"]));
    // The new content replaced the old: rows counted from the truncation on.
    assert_eq!(alert["rows"], 301);
    assert_eq!(alert["step"], 300);
    Ok(())
}

#[test]
fn a_rank_file_appearing_late_is_merged() -> TestResult {
    let dir = tempfile::tempdir()?;
    let r0 = new_log(dir.path(), "jepa_r0.csv")?;
    let mut noise = Noise::new(16);
    let rows = |offset: f64, noise: &mut Noise| -> Vec<String> {
        (0..2000)
            .map(|s| {
                let (l, r) = healthy(s, noise);
                row(s, l + offset, r)
            })
            .collect()
    };
    let rows0 = rows(0.0, &mut noise);
    let rows1 = rows(0.02, &mut noise);
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=1.5",
        "--json",
        &path_arg(dir.path()),
    ])?;
    // Rank 0 writes 1000 rows, then rank 1's file appears and both grow to the end.
    grow(&r0, rows0[..1000].to_vec(), 250, Duration::from_millis(50))
        .join()
        .map_err(|_| "writer panicked")?;
    thread::sleep(Duration::from_millis(500));
    let r1 = new_log(dir.path(), "jepa_r1.csv")?;
    let w0 = grow(&r0, rows0[1000..].to_vec(), 100, Duration::from_millis(50));
    let w1 = grow(&r1, rows1, 200, Duration::from_millis(50));
    w0.join().map_err(|_| "writer panicked")?;
    w1.join().map_err(|_| "writer panicked")?;
    let (code, events) = watch.finish(Duration::from_secs(30))?;
    show(&events);
    assert_eq!(code, 0);
    assert!(
        events.iter().any(|(_, e)| e["files"] == 1),
        "rank 0 alone at first"
    );
    let (_, last) = events.last().ok_or("no event")?;
    assert_eq!(kind(last), "idle");
    assert_eq!(last["files"], 2);
    assert_eq!(last["rows"], 2000);
    // The merged loss is the mean of the ranks: rank 1 sits 0.02 above rank 0.
    let current = last["loss"]["current"].as_f64().ok_or("loss")?;
    let mut n = Noise(16);
    let tail: f64 = (1900..2000).map(|s| healthy(s, &mut n).0).sum::<f64>() / 100.0;
    println!("merged {current}, rank 0 alone about {tail}");
    assert!(
        (current - (tail + 0.01)).abs() < 0.006,
        "{current} vs {}",
        tail + 0.01
    );
    Ok(())
}

#[test]
fn idle_exit_ends_quietly_or_reports_a_stalled_log() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = healthy_log(dir.path(), "jepa_r0.csv", 600, 17)?;

    let start = Instant::now();
    let (code, events) = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=0.8",
        "--json",
        &path_arg(&log),
    ])?
    .finish(Duration::from_secs(20))?;
    show(&events);
    assert_eq!(code, 0);
    assert!(start.elapsed() >= Duration::from_secs_f64(0.8));
    let (_, idle) = events.last().ok_or("no event")?;
    assert_eq!(kind(idle), "idle");
    assert!(codes(idle).contains(&"stalled-log".to_string()));

    // With --fail-on warning, a log that stopped growing is an alert.
    let (code, events) = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=0.8",
        "--json",
        "--fail-on=warning",
        &path_arg(&log),
    ])?
    .finish(Duration::from_secs(20))?;
    show(&events);
    assert_eq!(code, 1);
    let (_, alert) = events.last().ok_or("no event")?;
    assert_eq!(kind(alert), "alert");
    assert_eq!(alert["alerts"], serde_json::json!(["stalled-log"]));
    Ok(())
}

#[test]
fn sigint_prints_the_last_status_and_exits_0() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = healthy_log(dir.path(), "jepa_r0.csv", 400, 18)?;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["watch", "--interval=0.2", &path_arg(&log)])
        .stdout(Stdio::piped())
        .spawn()?;
    thread::sleep(Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let start = Instant::now();
    while child.try_wait()?.is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            child.kill()?;
            return Err("no exit after SIGINT".into());
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8(out.stdout)?;
    println!("{text}");
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 3,
        "the status, the status again at the interrupt, and a goodbye"
    );
    // Lines are stamped with the UTC date and time (RFC 3339) for a log read days later.
    let last_status = lines[lines.len() - 2];
    let (stamp, status) = last_status.split_once(' ').ok_or("no stamp")?;
    assert!(
        stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{stamp}"
    );
    assert!(status.starts_with("step 399 · 400 rows"), "{text}");
    let goodbye = lines[lines.len() - 1];
    assert!(goodbye.starts_with("jepa-doctor watch: "), "{goodbye}");
    assert!(
        goodbye.ends_with(": interrupted: stopped watching (no alert)"),
        "{goodbye}"
    );
    Ok(())
}

#[test]
fn a_missing_input_is_unusable() -> TestResult {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["watch", "--idle-exit=1", "no/such/run.csv"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)?.starts_with("jepa-doctor: error: no/such/run.csv"));
    Ok(())
}
