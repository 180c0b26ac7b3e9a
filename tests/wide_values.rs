//! Values beyond the `f32` range (issue 13 item 10) on the real binary: a finite loss of 1e39 —
//! what a run that blows up logs before it turns `nan` — is read by every reader as that value,
//! analysed as a finite value (never a `non-finite` finding, never an infinity), and written out
//! exactly by `--json` and `--export`. The columns stay `f32`; the rare cells beyond it are kept
//! beside them (`model::wide`).

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// Steps of the test runs; the loss blows up over the last [`BLOWN`] of them.
const ROWS: usize = 400;
const BLOWN: usize = 6;

/// The loss at row `k`: a noisy descent, then values beyond f32 (1e39, 2e39, … 6e39).
fn loss(k: usize) -> f64 {
    if k >= ROWS - BLOWN {
        // The literal 5e39, not 5.0 * 1e39 (which is 4.9999999999999995e39).
        format!("{}e39", k + BLOWN + 1 - ROWS).parse().unwrap()
    } else {
        0.3 + 0.6 * (-(k as f64) / 80.0).exp() + 0.004 * ((k * 7919 % 101) as f64 / 101.0 - 0.5)
    }
}

fn csv_text() -> String {
    let mut text = String::from("epoch,itr,loss,loss-jepa,reg-loss\n");
    for k in 0..ROWS {
        let (epoch, itr) = (k / 100 + 1, k % 100);
        let reg = 0.2 - 0.1 * k as f64 / ROWS as f64;
        // `%.5f`, as the V-JEPA logger writes: 1e39 is 40 digits and a point.
        text.push_str(&format!("{epoch},{itr},{0:.5},{0:.5},{reg:.5}\n", loss(k)));
    }
    text
}

fn jsonl_text() -> String {
    (0..ROWS)
        .map(|k| format!("{{\"step\": {k}, \"loss\": {:e}}}\n", loss(k)))
        .collect()
}

/// V-JEPA console lines (running means since the start of the epoch, one line per iteration so
/// the window means are the values themselves).
fn console_text() -> String {
    let mut text = String::new();
    let mut sum = 0.0;
    for k in 0..ROWS {
        let (epoch, itr) = (k / 100 + 1, k % 100);
        if itr == 0 {
            sum = 0.0;
        }
        sum += loss(k);
        let mean = sum / (itr + 1) as f64;
        text.push_str(&format!(
            "INFO:app.vjepa.train:[{epoch}, {itr:5}] loss: {mean:.6e} | p{mean:.6e} r0.100 | [wd: 4.00e-02] [lr: 6.00e-04]\n"
        ));
    }
    text
}

/// A TensorBoard event file whose scalars are rank-0 `double` tensors (`double_val`), as
/// `tf.summary.scalar` writes a float64.
fn tensorboard_events(path: &Path) {
    use jepa_doctor::ingest::tensorboard::{Event, Summary, SummaryValue, TensorProto};
    use jepa_doctor::ingest::tfrecord::masked_crc;
    use prost::Message;
    let mut bytes = Vec::new();
    let mut frame = |event: &Event| {
        let payload = event.encode_to_vec();
        let len = (payload.len() as u64).to_le_bytes();
        bytes.extend_from_slice(&len);
        bytes.extend_from_slice(&masked_crc(&len).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&masked_crc(&payload).to_le_bytes());
    };
    frame(&Event {
        wall_time: 1.7e9,
        step: 0,
        file_version: Some("brain.Event:2".into()),
        summary: None,
    });
    for k in 0..ROWS {
        let tensor = TensorProto {
            dtype: 2,
            double_val: vec![loss(k)],
            ..TensorProto::default()
        };
        frame(&Event {
            wall_time: 1.7e9 + k as f64,
            step: k as i64,
            file_version: None,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: "loss".into(),
                    simple_value: None,
                    tensor: Some(tensor),
                    metadata: None,
                }],
            }),
        });
    }
    std::fs::write(path, bytes).unwrap();
}

struct Outcome {
    code: Option<i32>,
    report: Value,
    export: String,
    stderr: String,
}

/// `analyze INPUT --json=FILE --export=FILE` (the input on standard input when `stdin`).
fn analyze(input: &Path, stdin: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (json, export) = (dir.path().join("r.json"), dir.path().join("e.csv"));
    let mut cmd = Command::cargo_bin("jepa-doctor").unwrap();
    cmd.arg("analyze")
        .arg(format!("--json={}", json.display()))
        .arg(format!("--export={}", export.display()));
    if stdin {
        cmd.arg("-").pipe_stdin(input).unwrap();
    } else {
        cmd.arg(input);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = std::fs::read(&json)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let export = std::fs::read_to_string(&export).unwrap_or_default();
    Outcome {
        code: out.status.code(),
        report,
        export,
        stderr,
    }
}

/// Every number in a JSON value, depth first.
fn numbers(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        Value::Object(o) => o.values().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

/// What every reader must make of the blown-up run: a finite loss beyond f32 is a divergence
/// by level (`loss-overflow`, verdict `diverged`, exit 1), never a non-finite value; with
/// `exact`, the logged value itself is in the JSON report and the export.
fn check(label: &str, o: &Outcome, series: &str, export_column: &str, exact: bool) {
    assert!(
        matches!(o.code, Some(0 | 1)),
        "{label}: {:?} {}",
        o.code,
        o.stderr
    );
    let r = &o.report;
    let s = (r["series"].as_array().unwrap().iter())
        .find(|s| s["name"] == series)
        .unwrap_or_else(|| panic!("{label}: no {series} in {}", r["series"]));
    assert_eq!(s["non_finite"], 0, "{label}: {s}");
    let codes: Vec<&str> = (r["findings"].as_array().unwrap().iter())
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(!codes.contains(&"non-finite"), "{label}: {codes:?}");
    assert!(codes.contains(&"loss-overflow"), "{label}: {codes:?}");
    assert_eq!(r["verdict"], "diverged", "{label}: {codes:?}");
    assert_eq!(o.code, Some(1), "{label}");
    if !exact {
        return;
    }
    // The exact logged value reaches the report: the largest value is in some evidence.
    let mut all = Vec::new();
    numbers(r, &mut all);
    let top = loss(ROWS - 1);
    assert!(
        all.contains(&top),
        "{label}: {top:e} in no number of the report: {}",
        r["findings"]
    );
    assert!(all.iter().all(|x| x.is_finite()), "{label}");
    // --export writes every blown-up value as it was logged.
    let header: Vec<&str> = o.export.lines().next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == export_column).unwrap();
    let tail: Vec<String> = (o.export.lines().rev().take(BLOWN))
        .map(|l| l.split(',').nth(at).unwrap().to_string())
        .collect();
    let want: Vec<String> = (1..=BLOWN).rev().map(|i| format!("{i}e39")).collect();
    assert_eq!(tail, want, "{label}");
}

#[test]
fn a_loss_beyond_f32_keeps_its_value_in_every_reader_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("jepa_r0.csv");
    std::fs::write(&csv, csv_text()).unwrap();
    // The parallel fast path (a file) and the general parser (standard input).
    check(
        "csv file",
        &analyze(&csv, false),
        "loss-jepa",
        "loss-jepa",
        true,
    );
    check(
        "csv stdin",
        &analyze(&csv, true),
        "loss-jepa",
        "loss-jepa",
        true,
    );

    let jsonl = dir.path().join("train.jsonl");
    std::fs::write(&jsonl, jsonl_text()).unwrap();
    check("jsonl", &analyze(&jsonl, false), "loss", "loss", true);

    let log = dir.path().join("train.log");
    std::fs::write(&log, console_text()).unwrap();
    // Console lines print running means to 7 digits: the window means recovered from them are
    // near the logged values, not equal to them.
    check(
        "console",
        &analyze(&log, false),
        "loss-jepa",
        "loss-jepa",
        false,
    );

    let events = dir.path().join("events.out.tfevents.1700000000.host");
    tensorboard_events(&events);
    check(
        "tensorboard",
        &analyze(&events, false),
        "loss",
        "loss",
        true,
    );
}

/// The run of [`csv_text`] cut before it blows up, with one step (250) at `value`, analysed.
fn recovered_excursion_to(value: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("jepa_r0.csv");
    let text: String = csv_text()
        .lines()
        .enumerate()
        .filter(|(i, _)| *i <= ROWS - BLOWN)
        .map(|(i, l)| match i {
            251 => format!("3,50,{value},{value},0.13750\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&csv, text).unwrap();
    analyze(&csv, false)
}

/// A loss that comes back from a value beyond f32 did not diverge: the excursion is a spike,
/// quoted with its exact value, and exported as logged.
#[test]
fn an_excursion_beyond_f32_that_recovers_is_a_spike() {
    let o = recovered_excursion_to("1e39");
    assert!(matches!(o.code, Some(0 | 1)), "{}", o.stderr);
    let findings = o.report["findings"].as_array().unwrap();
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(!codes.contains(&"loss-overflow"), "{codes:?}");
    assert!(!codes.contains(&"non-finite"), "{codes:?}");
    assert_ne!(o.report["verdict"], "diverged");
    let spikes = findings.iter().find(|f| f["code"] == "spikes").unwrap();
    assert_eq!(spikes["step_start"], 250, "{spikes}");
    assert!(
        spikes["message"].as_str().unwrap().contains("1.00e39"),
        "{spikes}"
    );
    assert!(
        o.export.lines().any(|l| l.starts_with("250,1e39,1e39,")),
        "{}",
        &o.export[..400]
    );
}

/// A spike at the largest `f64` has no finite ratio to its level: the message says so instead of
/// "inf× its level".
#[test]
fn a_spike_at_the_largest_f64_has_no_ratio() {
    let o = recovered_excursion_to("1.7976931348623157e308");
    assert!(matches!(o.code, Some(0 | 1)), "{}", o.stderr);
    let findings = o.report["findings"].as_array().unwrap();
    let spikes = findings.iter().find(|f| f["code"] == "spikes").unwrap();
    let message = spikes["message"].as_str().unwrap();
    assert!(message.contains("1.80e308"), "{message}");
    assert!(
        message.contains("beyond any ratio to its level"),
        "{message}"
    );
    assert!(!message.contains("inf"), "{message}");
}

/// Beyond `f64` (`1e309`) a value is an infinity, as before: the run diverged.
#[test]
fn a_loss_beyond_f64_is_an_infinity() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("jepa_r0.csv");
    let mut text: Vec<String> = csv_text().lines().map(String::from).collect();
    let last = text.pop().unwrap();
    let reg = last.rsplit(',').next().unwrap();
    text.push(format!("4,99,1e309,1e309,{reg}\n"));
    std::fs::write(&csv, text.join("\n")).unwrap();
    let o = analyze(&csv, false);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_eq!(o.report["verdict"], "diverged");
    let jepa = (o.report["series"].as_array().unwrap().iter())
        .find(|s| s["name"] == "loss-jepa")
        .unwrap();
    assert_eq!(jepa["non_finite"], 1);
    assert!(
        o.export.lines().last().unwrap().contains(",inf,"),
        "{}",
        o.export
    );
}
