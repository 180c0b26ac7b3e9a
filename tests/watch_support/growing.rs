//! A writer thread growing a V-JEPA CSV log while the binary follows it with short intervals,
//! and the JSON lines it prints read as they come, with the time they arrived (`tests/watch.rs`,
//! `tests/watch_endings.rs`).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
/// Events with the time they arrived.
pub type Events = Vec<(Instant, Value)>;

pub const HEADER: &str =
    "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";
pub const IPE: u64 = 100;
pub const INTERVAL: f64 = 0.2;

/// A seeded generator for the noise (xorshift64*; the seed is printed by each test).
pub struct Noise(pub u64);

impl Noise {
    pub fn new(seed: u64) -> Noise {
        println!("seed {seed}");
        Noise(seed.max(1))
    }
    /// Uniform in [-1, 1).
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        2.0 * u - 1.0
    }
}

/// One V-JEPA CSV row at global step `step` (epoch 1-based, 100 iterations per epoch).
pub fn row(step: u64, loss: f64, reg: f64) -> String {
    let (epoch, itr) = (step / IPE + 1, step % IPE);
    format!("{epoch},{itr},{loss:.5},{loss:.5},{reg:.5},1.00000,1.00000,100,120\n")
}

/// A healthy curve: descent to a plateau, reg-loss falling, small noise.
pub fn healthy(step: u64, noise: &mut Noise) -> (f64, f64) {
    let t = step as f64;
    let loss = 0.45 + 0.4 * (-t / 300.0).exp() + 0.004 * noise.next();
    let reg = 0.3 + 0.4 * (-t / 400.0).exp() + 0.004 * noise.next();
    (loss, reg)
}

/// Appends `rows` in batches of `batch` every `pause`; returns when each row was written.
pub fn grow(
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
pub struct Watch {
    pub child: Child,
    pub events: mpsc::Receiver<(Instant, Value)>,
}

impl Watch {
    pub fn spawn(args: &[&str]) -> Result<Watch, Box<dyn std::error::Error>> {
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
    pub fn finish(
        mut self,
        deadline: Duration,
    ) -> Result<(i32, Events), Box<dyn std::error::Error>> {
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

pub fn kind(v: &Value) -> &str {
    v["event"].as_str().unwrap_or("")
}

pub fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn new_log(dir: &Path, name: &str) -> Result<PathBuf, std::io::Error> {
    let path = dir.join(name);
    File::create(&path)?.write_all(HEADER.as_bytes())?;
    Ok(path)
}

/// A new log `name` in `dir` holding `steps` healthy rows drawn with noise `seed`.
pub fn healthy_log(
    dir: &Path,
    name: &str,
    steps: u64,
    seed: u64,
) -> Result<PathBuf, std::io::Error> {
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

pub fn show(events: &[(Instant, Value)]) {
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

pub fn path_arg(p: &Path) -> String {
    p.display().to_string()
}
