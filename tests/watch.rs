//! `jepa-doctor watch` end to end: a writer thread grows a real log file while the binary follows
//! it with short intervals; the JSON lines it prints are read as they come, with the time they
//! arrived. Every test is bounded (an idle exit, and a kill after a deadline). How watching ends
//! (idle exit, stalled log, Ctrl-C) is `tests/watch_endings.rs`; a resumed run's parts are
//! checked against `analyze` on the files as they stand at each look.

mod watch_support;

use std::fs::File;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use watch_support::growing::*;
use watch_support::{accounting, analyze_files, assert_ends_as_analyze};

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
    // The new content replaced the old: rows counted from the truncation on, and accounted for
    // as `analyze` counts the file as it is now.
    assert_eq!(alert["rows"], 301);
    assert_eq!(alert["step"], 300);
    assert_eq!(alert["input"]["rows_read"], 301);
    assert_eq!(alert["input"]["rows_used"], 301);
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
fn a_resumed_runs_parts_are_followed_as_analyze_reads_them() -> TestResult {
    // `part1.csv` logged steps 0..500 of an attempt that crashed; the run resumed from the
    // checkpoint at step 300 into `part2.csv`, which grows while watched. Part 2 replaces part
    // 1's rows from step 300 on (`analyze`'s rule): at every look the run watched is the run
    // `analyze` builds from the two files as they stand, and part 2's rows count at once (part 1,
    // cut, holds nothing back). 1000 rows at the end: one per block, so the minimum is exact.
    let dir = tempfile::tempdir()?;
    let mut noise = Noise::new(31);
    let mut rows = |from: u64, to: u64, offset: f64| -> String {
        (from..to)
            .map(|s| {
                let (l, r) = healthy(s, &mut noise);
                row(s, l + offset, r)
            })
            .collect()
    };
    let part1 = new_log(dir.path(), "part1.csv")?;
    let part2 = new_log(dir.path(), "part2.csv")?;
    let append = |path: &std::path::Path, text: &str| -> std::io::Result<()> {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)?
            .write_all(text.as_bytes())
    };
    append(&part1, &rows(0, 500, 0.04))?;
    append(&part2, &rows(300, 400, 0.0))?;
    let files = [part1.clone(), part2.clone()];
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=8",
        "--json",
        &path_arg(&part1),
        &path_arg(&part2),
    ])?;
    let mut seen = Vec::new();
    for end in (400..=1000).step_by(100) {
        if end > 400 {
            append(&part2, &rows(end - 100, end, 0.0))?;
        }
        // The look that took the rows just written, then `analyze` of the files as they are.
        let event = next_event_at_step(&watch, end - 1, &mut seen)?;
        let analyzed = analyze_files(&files)?;
        assert_eq!(
            accounting(&event["input"]),
            accounting(&analyzed["input"]),
            "at step {}: watch {} vs analyze {}",
            end - 1,
            event["input"],
            analyzed["input"]
        );
        assert_eq!(event["rows"], analyzed["input"]["rows_used"], "{event}");
        assert_eq!(
            resume_notes(&event["input"]),
            resume_notes(&analyzed["input"])
        );
    }
    let (code, rest) = watch.finish(Duration::from_secs(40))?;
    seen.extend(rest.into_iter().map(|(_, e)| e));
    assert_eq!(code, 0);
    let analyzed = analyze_files(&files)?;
    assert_eq!(
        analyzed["input"]["rows_replaced"], 200,
        "{}",
        analyzed["input"]
    );
    assert_ends_as_analyze(&seen, &analyzed)
}

#[test]
fn an_eval_log_beside_the_training_log_replaces_nothing() -> TestResult {
    // The training log (steps 0..600) and an eval log from step 100 (every 100 steps): no part
    // resumes the other, no training row is replaced, and watch ends as analyze reads them.
    let dir = tempfile::tempdir()?;
    let train = dir.path().join("train.csv");
    let mut noise = Noise::new(7);
    let rows: String = (0..600)
        .map(|s| format!("{s},{:.5}\n", healthy(s, &mut noise).0))
        .collect();
    std::fs::write(&train, format!("step,loss\n{rows}"))?;
    let eval = dir.path().join("eval.jsonl");
    let lines: String = (1..6)
        .map(|k| {
            format!(
                "{{\"step\": {}, \"val_loss\": {:.3}}}\n",
                k * 100,
                1.0 / k as f64
            )
        })
        .collect();
    std::fs::write(&eval, lines)?;
    let files = [train.clone(), eval.clone()];
    let watch = Watch::spawn(&[
        "--interval=0.2",
        "--idle-exit=3",
        "--json",
        &path_arg(&train),
        &path_arg(&eval),
    ])?;
    let (code, events) = watch.finish(Duration::from_secs(40))?;
    let events: Vec<Value> = events.into_iter().map(|(_, e)| e).collect();
    assert_eq!(code, 0);
    let analyzed = analyze_files(&files)?;
    assert_eq!(
        analyzed["input"]["duplicates_replaced"], 0,
        "{}",
        analyzed["input"]
    );
    assert_eq!(analyzed["input"]["rows_used"], 605, "{}", analyzed["input"]);
    assert_ends_as_analyze(&events, &analyzed)
}

/// The notes of an input section saying which part resumed the run where.
fn resume_notes(input: &Value) -> Vec<String> {
    let notes: Vec<String> = input["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().filter(|w| w.contains("resumes the run")))
        .map(String::from)
        .collect();
    assert_eq!(notes.len(), 1, "{input}");
    notes
}

/// Waits (30 s at most) for the event whose last step is `step`, keeping every event in `seen`.
fn next_event_at_step(watch: &Watch, step: u64, seen: &mut Vec<Value>) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (_, event) = watch
            .events
            .recv_timeout(left)
            .map_err(|_| format!("no event at step {step} within 30 s (seen: {seen:?})"))?;
        seen.push(event.clone());
        if event["step"] == step {
            return Ok(event);
        }
    }
}
