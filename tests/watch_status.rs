//! What `jepa-doctor watch` says while a run grows, as someone following it over SSH reads it:
//! once a look judged the run the status never falls back to `insufficient-data` while the log
//! only grows; a log truncated and restarted says so and is untested again; the human status line
//! (standard output not a terminal: one stamped line per evaluation) carries the state and why.

mod watch_support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use watch_support::{Rng, TestResult, watch_while};

const HEADER: &str =
    "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";

/// Rows `from..to` of a healthy run whose loss reaches a noisy plateau early (AR(1) noise of 1.5%
/// of the descent): its minimum keeps moving to the newest dip, the case where a look at a
/// smaller level had too little after the minimum to test. Seeded; the seed is printed.
fn plateau_rows(from: u64, to: u64, seed: u64) -> Vec<String> {
    println!("seed {seed:#x}");
    let mut rng = Rng(seed);
    let mut ar = 0.0f64;
    (0..to)
        .filter_map(|s| {
            let u = rng.below(1 << 20) as f64 / f64::from(1u32 << 20) - 0.5;
            ar = 0.9 * ar + 0.02 * u;
            let t = s as f64;
            let loss = 0.45 + 0.4 * (-t / 120.0).exp() + ar * 0.3;
            let reg = 0.3 + 0.4 * (-t / 200.0).exp() + 0.002 * u;
            let (epoch, itr) = (s / 100 + 1, s % 100);
            (s >= from).then(|| {
                format!("{epoch},{itr},{loss:.5},{loss:.5},{reg:.5},1.00000,1.00000,100,120\n")
            })
        })
        .collect()
}

/// Appends `rows` to `path`, `batch` rows every `pause`.
fn append_rows(path: &Path, rows: &[String], batch: usize, pause: Duration) -> std::io::Result<()> {
    for chunk in rows.chunks(batch) {
        let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
        f.write_all(chunk.concat().as_bytes())?;
        std::thread::sleep(pause);
    }
    Ok(())
}

fn new_log(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("jepa_r0.csv");
    std::fs::write(&path, HEADER)?;
    Ok(path)
}

#[test]
fn a_judged_run_does_not_fall_back_to_insufficient_data_as_it_grows() -> TestResult {
    for seed in [0x16_51, 0x16_52] {
        let dir = tempfile::tempdir()?;
        let log = new_log(dir.path())?;
        let rows = plateau_rows(0, 3000, seed);
        let target = log.clone();
        let watched = watch_while(
            &[
                "--json",
                "--interval=0.1",
                "--idle-exit=1.5",
                &log.display().to_string(),
            ],
            move || append_rows(&target, &rows, 40, Duration::from_millis(25)),
        )?;
        assert_eq!(watched.code, 0, "{}", watched.stderr);
        let events: Vec<&Value> = watched.events.iter().collect();
        let judged = events
            .iter()
            .position(|e| !e["look"].is_null() && e["verdict"] != "insufficient-data")
            .ok_or("no look judged the run")?;
        let looks = events.iter().filter(|e| !e["look"].is_null()).count();
        println!(
            "judged at event {judged} of {}, {looks} looks",
            events.len()
        );
        assert!(looks >= 5, "several looks: {looks}");
        for e in &events[judged..] {
            assert_ne!(e["verdict"], "insufficient-data", "fell back: {e}");
            assert!(e["rows"].as_u64() >= events[judged]["rows"].as_u64());
        }
        // Before any look the run is untested, and the status says why.
        for e in &events[..judged] {
            if e["look"].is_null() && e["rows"].as_u64() < Some(200) {
                assert_eq!(e["verdict"], "insufficient-data", "{e}");
                let note = e["note"].as_str().unwrap_or_default();
                assert!(note.contains("rebound not yet tested"), "{e}");
            }
        }
    }
    Ok(())
}

#[test]
fn a_truncated_log_says_so_and_is_untested_until_its_next_look() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path())?;
    let first = plateau_rows(0, 1200, 0x16_53);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)?
        .write_all(first.concat().as_bytes())?;
    let second = plateau_rows(0, 120, 0x16_54);
    let target = log.clone();
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &log.display().to_string(),
        ],
        move || {
            std::thread::sleep(Duration::from_millis(800));
            // A new run in the same file: truncated, a header, 120 rows.
            std::fs::write(&target, HEADER)?;
            append_rows(&target, &second, 60, Duration::from_millis(100))
        },
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    let before = watched
        .events
        .iter()
        .find(|e| e["rows"] == 1200)
        .ok_or("first run")?;
    assert_ne!(before["verdict"], "insufficient-data", "{before}");
    let after: Vec<&Value> = watched
        .events
        .iter()
        .filter(|e| e["event"] == "status" && e["look"].is_null() && e["rows"].as_u64() < Some(200))
        .skip_while(|e| e["rows"].as_u64() >= Some(1200))
        .collect();
    assert!(!after.is_empty(), "the truncated log was evaluated");
    for e in &after {
        assert_eq!(e["verdict"], "insufficient-data", "untested again: {e}");
        let note = e["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("log truncated or replaced (1200 rows before)"),
            "says so: {e}"
        );
    }
    // The input as it is now: the rows of the new run only.
    let idle = watched.events.last().ok_or("no event")?;
    assert_eq!(idle["event"], "idle");
    assert_eq!(idle["input"]["rows_read"], 120);
    Ok(())
}

#[test]
fn the_human_status_line_says_the_state_and_why() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = new_log(dir.path())?;
    let rows = plateau_rows(0, 900, 0x16_55);
    let target = log.clone();
    let watched = watch_while(
        &[
            "--interval=0.2",
            "--idle-exit=1",
            &log.display().to_string(),
        ],
        move || append_rows(&target, &rows, 60, Duration::from_millis(60)),
    )?;
    for line in &watched.lines {
        println!("{line}");
    }
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    let status: Vec<&String> = watched
        .lines
        .iter()
        .filter(|l| !l.starts_with("jepa-doctor watch: "))
        .collect();
    for line in &status {
        // Not a terminal: one line per evaluation, stamped with the UTC date and time.
        let (stamp, rest) = line.split_once(' ').ok_or("no stamp")?;
        assert!(stamp.len() == 20 && stamp.ends_with('Z'), "{line}");
        assert!(
            rest.starts_with("step ") || rest.starts_with("waiting"),
            "{line}"
        );
    }
    let rows_of = |l: &str| -> Option<u64> {
        let (_, after) = l.split_once(" · ")?;
        after.split_once(" rows")?.0.parse().ok()
    };
    let early = status
        .iter()
        .find(|l| rows_of(l).is_some_and(|r| r < 200))
        .ok_or("no line before the first look")?;
    assert!(
        early.contains("insufficient-data · rebound not yet tested (first look at 200 rows)"),
        "{early}"
    );
    assert!(
        status.iter().any(|l| l.contains(" · healthy")),
        "a healthy line"
    );
    let goodbye = watched.lines.last().ok_or("no line")?;
    assert!(
        goodbye.contains("(--idle-exit 1.0 s): stopped watching (no alert)"),
        "{goodbye}"
    );
    // No configured end: a log that stopped growing is not a stalled-log finding.
    assert!(!watched.lines.iter().any(|l| l.contains("stalled-log")));
    Ok(())
}
