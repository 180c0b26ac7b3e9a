//! How `jepa-doctor watch` ends: at `--idle-exit` (a `stalled-log` finding only when the run has
//! a configured end it did not reach), on SIGINT (the last status, exit 0), and at once with exit
//! 2 on an input it cannot use.

mod watch_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use watch_support::growing::*;

/// `watch --json --interval=0.2 --idle-exit=0.8 ARGS LOG` on a finished log: exit code, events.
fn watch_finished(log: &Path, args: &[&str]) -> Result<(i32, Events), Box<dyn std::error::Error>> {
    let mut all = vec!["--interval=0.2", "--idle-exit=0.8", "--json"];
    all.extend_from_slice(args);
    let path = path_arg(log);
    all.push(&path);
    let start = Instant::now();
    let (code, events) = Watch::spawn(&all)?.finish(Duration::from_secs(20))?;
    show(&events);
    assert!(start.elapsed() >= Duration::from_secs_f64(0.8));
    Ok((code, events))
}

#[test]
fn a_stalled_log_is_a_finding_only_before_the_configured_end() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = healthy_log(dir.path(), "jepa_r0.csv", 600, 17)?;

    // No configured end: a log that stopped growing may be a finished run; exit 0 and no
    // stalled-log, whatever the gate.
    for gate in ["--fail-on=error", "--fail-on=warning"] {
        let (code, events) = watch_finished(&log, &[gate])?;
        assert_eq!(code, 0, "{gate}");
        let (_, idle) = events.last().ok_or("no event")?;
        assert_eq!(kind(idle), "idle");
        assert!(!codes(idle).contains(&"stalled-log".to_string()), "{gate}");
    }

    // The params YAML plans 10 epochs of 100 iterations: 600 of 1000 steps is a stalled log.
    let params = dir.path().join("params-pretrain.yaml");
    std::fs::write(&params, "optimization:\n  epochs: 10\n  ipe: 100\n")?;
    let (code, events) = watch_finished(&log, &[])?;
    assert_eq!(code, 0, "a warning does not trip the default gate");
    let (_, idle) = events.last().ok_or("no event")?;
    assert_eq!(kind(idle), "idle");
    let stalled = idle["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == "stalled-log"))
        .ok_or("no stalled-log")?;
    assert_eq!(stalled["evidence"]["planned_steps"], 1000);
    assert_eq!(stalled["evidence"]["last_step"], 599);
    // With --fail-on warning, it is an alert.
    let (code, events) = watch_finished(&log, &["--fail-on=warning"])?;
    assert_eq!(code, 1);
    let (_, alert) = events.last().ok_or("no event")?;
    assert_eq!(kind(alert), "alert");
    assert_eq!(alert["alerts"], serde_json::json!(["stalled-log"]));

    // A run that reached its planned end (6 epochs) is not stalled.
    std::fs::write(&params, "optimization:\n  epochs: 6\n  ipe: 100\n")?;
    let (code, events) = watch_finished(&log, &["--fail-on=warning"])?;
    assert_eq!(code, 0);
    let (_, idle) = events.last().ok_or("no event")?;
    assert!(!codes(idle).contains(&"stalled-log".to_string()));
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
