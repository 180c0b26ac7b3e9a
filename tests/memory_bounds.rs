//! Memory follows the values kept, not the input's shape, on the real binary (issue 13 item 8):
//! a JSON-lines file and a console log that name 40,000 distinct keys over 10,000 rows are read
//! under a 256 MiB address-space limit. Stored densely, one byte per row and key, they needed
//! 400 MB; a 2 MB file of that shape took 1.9 GB before columns became sparse.

use std::path::Path;

use serde_json::Value;

const ROWS: usize = 10_000;
const KEYS_PER_ROW: usize = 4;
/// Address space allowed to the binary (KiB, as `ulimit -v` takes it).
const LIMIT_KIB: u64 = 256 * 1024;

/// Runs `analyze INPUT --json=-` under `ulimit -v`; `None` when there is no `sh` to set it.
fn analyze_limited(input: &Path) -> Option<(Option<i32>, Value, String)> {
    let bin = assert_cmd::cargo::cargo_bin("jepa-doctor");
    let script = format!(
        "ulimit -v {LIMIT_KIB} && exec '{}' analyze '{}' --json=-",
        bin.display(),
        input.display()
    );
    let out = match std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            println!("skipped: no sh to set ulimit ({e})");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Some((out.status.code(), json, stderr))
}

fn check(input: &Path, series_expected: usize) {
    let Some((code, json, stderr)) = analyze_limited(input) else {
        return;
    };
    assert!(matches!(code, Some(0 | 1)), "exit {code:?}: {stderr}");
    let rows = &json["input"];
    assert_eq!(rows["rows_read"], ROWS as u64, "{stderr}");
    assert_eq!(rows["rows_used"], ROWS as u64, "{stderr}");
    let series = json["series"].as_array().map_or(0, Vec::len);
    assert_eq!(series, series_expected, "{stderr}");
}

#[cfg(unix)]
#[test]
fn json_lines_with_many_distinct_keys_read_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many_keys.jsonl");
    let mut text = String::new();
    for i in 0..ROWS {
        text.push_str(&format!(
            "{{\"step\": {i}, \"loss\": {:.5}",
            1.0 / (i + 1) as f64
        ));
        for j in 0..KEYS_PER_ROW {
            text.push_str(&format!(", \"m{i}_{j}\": 0.5"));
        }
        text.push_str("}\n");
    }
    std::fs::write(&path, text).unwrap();
    check(&path, 1 + ROWS * KEYS_PER_ROW);
}

#[cfg(unix)]
#[test]
fn console_logs_with_many_distinct_meters_read_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many_meters.log");
    let mut text = String::new();
    for i in 0..ROWS {
        let loss = 1.0 / (i + 1) as f64;
        text.push_str(&format!(
            "INFO:root:[1, {i:5}] loss: {loss:.3} | p{loss:.3} r0.100 |"
        ));
        for j in 0..KEYS_PER_ROW {
            text.push_str(&format!(" [m{i}_{j}: 0.5]"));
        }
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    check(&path, 3 + ROWS * KEYS_PER_ROW);
}
