//! `jepa-doctor watch` on a TensorBoard log directory while a writer copies a real event file
//! (tensorboardX, `fixtures/formats/same_run`) into it in pieces of random size, cutting records
//! anywhere: what `watch` ends with must be what `analyze` reads from the finished directory, and
//! a newer event file (a restarted run) must replace the rows it replays. Every row is accounted
//! for as `analyze` accounts for it (a step's events cut between two reads, a restart's replayed
//! rows, a record the first writer left unfinished).

mod watch_support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use watch_support::accounting;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FIXTURE: &str = "fixtures/formats/same_run/tensorboard_tensor/events.out.tfevents.1796019448.vm.15716.0.fixture";

/// Appends `bytes` to `path` in pieces of 200–2,200 bytes every 30 ms (seeded xorshift; the seed is
/// printed). Returns when everything is written.
fn copy_in_pieces(bytes: &[u8], path: &Path, seed: u64) -> std::io::Result<usize> {
    println!("seed {seed:#x}");
    let mut state = seed.max(1);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let (mut at, mut pieces) = (0, 0);
    while at < bytes.len() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let piece = 200 + (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % 2000;
        let end = (at + piece).min(bytes.len());
        file.write_all(&bytes[at..end])?;
        file.flush()?;
        at = end;
        pieces += 1;
        thread::sleep(Duration::from_millis(30));
    }
    Ok(pieces)
}

/// Runs `watch --json --interval=0.2 ARGS` while `write` runs; returns the exit code and the
/// events.
fn watch_while(
    args: &[&str],
    write: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> Result<(i32, Vec<Value>), Box<dyn std::error::Error>> {
    let mut all = vec!["--json", "--interval=0.2"];
    all.extend_from_slice(args);
    let watched = watch_support::watch_while(&all, write)?;
    Ok((watched.code, watched.events))
}

/// `analyze --json=-` of a directory.
fn analyze(dir: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("jepa-doctor"))
        .args(["analyze", "--json=-"])
        .arg(dir)
        .output()?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn a_growing_event_file_ends_as_analyze_reads_it() -> TestResult {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE))?;
    let dir = tempfile::tempdir()?;
    let logdir = dir.path().join("tb");
    std::fs::create_dir(&logdir)?;
    let file = logdir.join("events.out.tfevents.1796019448.vm.15716.0");
    // The first record only: the directory is a TensorBoard log directory from the start.
    std::fs::write(&file, &bytes[..40])?;
    let rest = bytes[40..].to_vec();
    let target = file.clone();
    let (code, events) = watch_while(
        &["--idle-exit=1.5", &logdir.display().to_string()],
        move || copy_in_pieces(&rest, &target, 0x7b16).map(|n| println!("{n} pieces")),
    )?;
    assert_eq!(
        code, 0,
        "a rebound is a warning: no alert at --fail-on error"
    );
    let statuses = events.iter().filter(|e| e["event"] == "status").count();
    assert!(statuses >= 3, "followed in several evaluations: {statuses}");
    let idle = events.last().ok_or("no event")?;
    assert_eq!(idle["event"], "idle");
    let whole = analyze(&logdir)?;
    assert_eq!(whole["input"]["rows_skipped"], 0);
    assert_eq!(accounting(&idle["input"]), accounting(&whole["input"]));
    assert_eq!(idle["rows"], whole["input"]["rows_used"]);
    assert_eq!(idle["step"], whole["rebound"]["last_step"]);
    assert_eq!(idle["verdict"], whole["verdict"]);
    assert_eq!(idle["loss"]["min_step"], whole["rebound"]["min_step"]);
    assert_eq!(idle["loss"]["min"], whole["rebound"]["min_value"]);
    Ok(())
}

#[test]
fn a_rebound_in_an_event_file_alerts_after_the_minimum() -> TestResult {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE))?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("events.out.tfevents.1796019448.vm.15716.0");
    std::fs::write(&file, &bytes[..40])?;
    let rest = bytes[40..].to_vec();
    let target = file.clone();
    let (code, events) = watch_while(
        &[
            "--idle-exit=1.5",
            "--fail-on=rebound",
            &dir.path().display().to_string(),
        ],
        move || copy_in_pieces(&rest, &target, 0x7b17).map(|_| ()),
    )?;
    assert_eq!(code, 1);
    let alert = events
        .iter()
        .find(|e| e["event"] == "alert")
        .ok_or("no alert")?;
    assert_eq!(alert["alerts"], serde_json::json!(["rebound"]));
    let min_step = analyze(dir.path())?["rebound"]["min_step"]
        .as_u64()
        .ok_or("min_step")?;
    assert!(alert["step"].as_u64().is_some_and(|s| s > min_step));
    for e in events
        .iter()
        .filter(|e| e["step"].as_u64() <= Some(min_step))
    {
        assert_eq!(e["event"], "status", "nothing before the minimum: {e}");
    }
    Ok(())
}

#[test]
fn a_newer_event_file_is_a_restart_that_replaces_what_it_replays() -> TestResult {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE))?;
    let dir = tempfile::tempdir()?;
    let first = dir.path().join("events.out.tfevents.1796019448.vm.15716.0");
    let second = dir.path().join("events.out.tfevents.1796019999.vm.15800.0");
    std::fs::write(&first, &bytes[..40])?;
    // The first run stops 60% through, in the middle of a record; the restarted run writes a
    // new file from step 0 to the end.
    let cut = bytes.len() * 3 / 5 + 7;
    let part = bytes[40..cut].to_vec();
    let whole = bytes.clone();
    let (a, b) = (first.clone(), second.clone());
    let (code, events) = watch_while(
        &["--idle-exit=1.5", &dir.path().display().to_string()],
        move || {
            copy_in_pieces(&part, &a, 0x7b18)?;
            thread::sleep(Duration::from_millis(400));
            copy_in_pieces(&whole, &b, 0x7b19).map(|_| ())
        },
    )?;
    assert_eq!(code, 0);
    let idle = events.last().ok_or("no event")?;
    assert_eq!(idle["event"], "idle");
    assert_eq!(idle["files"], 1, "one writer, two event files");
    let analyzed = analyze(dir.path())?;
    assert_eq!(analyzed["input"]["restarts"], 1);
    // rows_read = rows_used + rows_skipped + duplicates_replaced, with analyze's numbers.
    for e in &events {
        let [read, used, skipped, replaced, _] = accounting(&e["input"]);
        assert_eq!(read, used + skipped + replaced, "{}", e["input"]);
    }
    assert_eq!(accounting(&idle["input"]), accounting(&analyzed["input"]));
    assert!(analyzed["input"]["duplicates_replaced"].as_u64() > Some(0));
    assert_eq!(idle["rows"], analyzed["input"]["rows_used"]);
    assert_eq!(idle["step"], analyzed["rebound"]["last_step"]);
    assert_eq!(idle["loss"]["min"], analyzed["rebound"]["min_value"]);
    Ok(())
}
