//! `jepa-doctor watch` on a finished run shorter than the first look of the α-spending grid: it
//! must never say `healthy` before the rebound test has run, and at `--idle-exit` (the run has
//! ended) a final look on all rows agrees with `analyze` when the evidence is strong.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The header and every `every`-th data row of the same-run reference CSV (300 rows, a rebound).
fn thinned(dir: &Path, every: usize) -> Result<String, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string("fixtures/formats/same_run/reference.csv")?;
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % every == 1)
        .map(|(_, l)| l)
        .collect();
    let path = dir.join(format!("every_{every}.csv"));
    std::fs::write(&path, kept.join("\n") + "\n")?;
    Ok(path.to_string_lossy().into_owned())
}

fn verdict_of_analyze(path: &str) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::cargo_bin("jepa-doctor")?
        .args(["analyze", path, "--json=-"])
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["verdict"].as_str().unwrap_or_default().to_string())
}

/// The JSON events `watch` printed.
fn watch_events(path: &str) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let out = Command::cargo_bin("jepa-doctor")?
        .args([
            "watch",
            path,
            "--idle-exit",
            "1",
            "--interval",
            "0.3",
            "--json",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    println!("{text}");
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[test]
fn a_short_finished_run_is_never_healthy_untested_and_ends_with_analyzes_verdict() -> TestResult {
    let dir = tempfile::tempdir()?;
    for every in [3, 2] {
        let path = thinned(dir.path(), every)?;
        let analyzed = verdict_of_analyze(&path)?;
        assert_eq!(analyzed, "rebound", "analyze on every {every}th row");
        let events = watch_events(&path)?;
        assert!(!events.is_empty(), "watch printed no events");
        for e in &events {
            if e["look"].is_null() {
                assert_ne!(e["verdict"], "healthy", "healthy before any look: {e}");
            }
        }
        let last = events.last().ok_or("no events")?;
        assert_eq!(last["verdict"], "rebound", "final event: {last}");
    }
    Ok(())
}
