//! Helpers of the `watch` end-to-end tests: run the binary while a writer grows its input, read
//! its JSON lines (or status lines) as they come, and compare what it ends with against `analyze`
//! on the finished input.
#![allow(dead_code)]

pub mod growing;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What a run of `watch` printed and how it ended.
pub struct Watched {
    pub code: i32,
    /// JSON events (with `--json`).
    pub events: Vec<Value>,
    /// Every line of standard output.
    pub lines: Vec<String>,
    pub stderr: String,
}

/// Runs `jepa-doctor watch ARGS` while `write` runs, then waits for its exit (30 s at most).
pub fn watch_while(
    args: &[&str],
    write: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> Result<Watched, Box<dyn std::error::Error>> {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let writer = thread::spawn(write);
    writer.join().map_err(|_| "writer panicked")??;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill()?;
            return Err("watch did not exit".into());
        }
        thread::sleep(Duration::from_millis(20));
    };
    thread::sleep(Duration::from_millis(50));
    let lines: Vec<String> = rx.try_iter().collect();
    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for e in &events {
        println!(
            "{} step {} rows {} verdict {} alerts {} look {} note {}",
            e["event"], e["step"], e["rows"], e["verdict"], e["alerts"], e["look"], e["note"]
        );
    }
    let stderr = err.join().unwrap_or_default();
    if !stderr.is_empty() {
        println!("stderr: {stderr}");
    }
    Ok(Watched {
        code: status.code().unwrap_or(-1),
        events,
        lines,
        stderr,
    })
}

/// `analyze --json=-` of `input`.
pub fn analyze(input: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    analyze_files(&[input])
}

/// `analyze --json=-` of the `inputs` together (one run: ranks or parts).
pub fn analyze_files(inputs: &[impl AsRef<Path>]) -> Result<Value, Box<dyn std::error::Error>> {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["analyze", "--json=-"])
        .args(inputs.iter().map(AsRef::as_ref))
        .output()?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The row accounting of an `input` object (analyze's report, or a watch event).
pub fn accounting(input: &Value) -> [u64; 5] {
    let n = |k: &str| input[k].as_u64().unwrap_or(u64::MAX);
    [
        n("rows_read"),
        n("rows_used"),
        n("rows_skipped"),
        n("duplicates_replaced"),
        n("restarts"),
    ]
}

/// Every event balances its rows (`read = used + skipped + replaced`), and the last one is the
/// `idle` event that ends as `analyze` reads the finished input: the same row accounting, the same
/// verdict, the same minimum.
pub fn assert_ends_as_analyze(events: &[Value], analyzed: &Value) -> TestResult {
    for e in events {
        let [read, used, skipped, replaced, _] = accounting(&e["input"]);
        assert_eq!(
            read,
            used + skipped + replaced,
            "unbalanced rows: {}",
            e["input"]
        );
    }
    let idle = events.last().ok_or("no event")?;
    assert_eq!(idle["event"], "idle", "{idle}");
    assert_eq!(
        accounting(&idle["input"]),
        accounting(&analyzed["input"]),
        "watch {} vs analyze {}",
        idle["input"],
        analyzed["input"]
    );
    assert_eq!(idle["verdict"], analyzed["verdict"]);
    assert_eq!(idle["loss"]["min_step"], analyzed["rebound"]["min_step"]);
    Ok(())
}

/// A seeded xorshift64* generator (the seed is printed by the tests that use it).
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n.max(1)
    }
}

/// Appends `bytes` to `path` in pieces of 1..=`max_piece` bytes every `pause` (seeded; the seed
/// is printed), cutting lines and records anywhere.
pub fn append_in_pieces(
    bytes: &[u8],
    path: &Path,
    max_piece: u64,
    pause: Duration,
    seed: u64,
) -> std::io::Result<()> {
    use std::io::Write;
    println!("seed {seed:#x}");
    let mut rng = Rng(seed.max(1));
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + 1 + rng.below(max_piece) as usize).min(bytes.len());
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(&bytes[at..end])?;
        at = end;
        thread::sleep(pause);
    }
    Ok(())
}
