//! The bad-input corpus (`fixtures/broken/`, written by `tools/make_broken.py`): every file has its
//! expected outcome here, checked on the real binary. An input is either analysed, with every row
//! accounted for (read = used + skipped + replaced) and the skipped rows' reasons listed, or refused
//! with exit 2 and one line naming the file (and the line when there is one) — never a panic
//! (exit 101), never a hang, and the input is left as it was.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::fixture;
use serde_json::Value;

/// What an analysed input must report.
struct Rows {
    read: u64,
    used: u64,
    skipped: u64,
    replaced: u64,
    /// A substring of the first skipped row's reason.
    reason: Option<&'static str>,
    verdict: Option<&'static str>,
    /// Non-finite values per series.
    non_finite: &'static [(&'static str, u64)],
}

/// What an input must lead to.
enum Expect {
    /// Exit 0 or 1 with a JSON report.
    Analysed(Rows),
    /// Exit 2; the one line on stderr contains `at` (file and line) and `cause`.
    Refused {
        at: &'static str,
        cause: &'static str,
    },
}
use Expect::{Analysed, Refused};

/// `rows` rows, all used.
const fn rows(rows: u64) -> Rows {
    Rows {
        read: rows,
        used: rows,
        skipped: 0,
        replaced: 0,
        reason: None,
        verdict: None,
        non_finite: &[],
    }
}

const fn clean(n: u64) -> Expect {
    Analysed(rows(n))
}

fn corpus() -> Vec<(&'static str, Expect)> {
    vec![
        (
            "empty.csv",
            Refused {
                at: "empty.csv:",
                cause: "the file is empty",
            },
        ),
        (
            "header_only.csv",
            Refused {
                at: "header_only.csv:",
                cause: "only a header",
            },
        ),
        (
            "binary_garbage.bin",
            Refused {
                at: "binary_garbage.bin:",
                cause: "not a log format",
            },
        ),
        (
            "nul_bytes.csv",
            Refused {
                at: "nul_bytes.csv:4:",
                cause: "row has 1 field,",
            },
        ),
        (
            "utf16_le.csv",
            Refused {
                at: "utf16_le.csv:",
                cause: "UTF-16",
            },
        ),
        (
            "non_utf8_header.csv",
            Refused {
                at: "non_utf8_header.csv:1:",
                cause: "not valid UTF-8",
            },
        ),
        (
            "non_utf8_value.csv",
            Refused {
                at: "non_utf8_value.csv:3:",
                cause: "not valid UTF-8",
            },
        ),
        (
            "garbage_value.csv",
            Refused {
                at: "garbage_value.csv:4:",
                cause: "\"abc\" is not a number",
            },
        ),
        (
            "ragged_row.csv",
            Refused {
                at: "ragged_row.csv:6:",
                cause: "row has 4 fields",
            },
        ),
        (
            "extra_fields_mid_file.csv",
            Refused {
                at: "extra_fields_mid_file.csv:42:",
                cause: "row has 11 fields",
            },
        ),
        (
            "mixed_delimiters.csv",
            Refused {
                at: "mixed_delimiters.csv:62:",
                cause: "row has 6 fields",
            },
        ),
        (
            "no_numeric_column.csv",
            Refused {
                at: "no_numeric_column.csv:",
                cause: "no numeric column",
            },
        ),
        (
            "no_step_column.csv",
            Refused {
                at: "no_step_column.csv:",
                cause: "no step-like column",
            },
        ),
        (
            "locale_thousands.csv",
            Refused {
                at: "locale_thousands.csv:2:",
                cause: "thousands separators",
            },
        ),
        (
            "locale_decimal_comma.csv",
            Refused {
                at: "locale_decimal_comma.csv:",
                cause: "decimal comma",
            },
        ),
        (
            "negative_step.csv",
            Refused {
                at: "negative_step.csv:2:",
                cause: "step \"-5\"",
            },
        ),
        (
            "fractional_step.csv",
            Refused {
                at: "fractional_step.csv:2:",
                cause: "step \"0.5\"",
            },
        ),
        (
            "step_edge_values.csv",
            Refused {
                at: "step_edge_values.csv:3:",
                cause: "2^53",
            },
        ),
        (
            "json_array_cut.json",
            Refused {
                at: "json_array_cut.json:31:",
                cause: "EOF while parsing",
            },
        ),
        (
            "json_not_records.json",
            Refused {
                at: "json_not_records.json:",
                cause: "no records",
            },
        ),
        (
            "json_empty_array.json",
            Refused {
                at: "json_empty_array.json:",
                cause: "holds no records",
            },
        ),
        (
            "json_deeply_nested.json",
            Refused {
                at: "json_deeply_nested.json:1:",
                cause: "recursion limit",
            },
        ),
        (
            "json_deep_record.jsonl",
            Refused {
                at: "json_deep_record.jsonl:",
                cause: "recursion limit",
            },
        ),
        (
            "console_no_loss_lines.log",
            Refused {
                at: "console_no_loss_lines.log:",
                cause: "not a log format",
            },
        ),
        (
            "dir_without_logs",
            Refused {
                at: "dir_without_logs:",
                cause: "no training log in this directory",
            },
        ),
        (
            "params_not_mapping",
            Refused {
                at: "params-pretrain.yaml:",
                cause: "expected a mapping",
            },
        ),
        (
            "params_invalid_yaml",
            Refused {
                at: "params-pretrain.yaml:3:",
                cause: "did not find expected",
            },
        ),
        ("bom.csv", clean(120)),
        ("crlf.csv", clean(120)),
        ("crlf_bom_generic.csv", clean(150)),
        ("blank_lines_everywhere.csv", clean(100)),
        ("quoted_commas.csv", clean(150)),
        ("quoted_numbers.csv", clean(150)),
        ("json_duplicate_keys.jsonl", clean(150)),
        ("params_unknown_keys", clean(120)),
        ("console_tracebacks_ansi.log", clean(15)),
        (
            "single_row.csv",
            Analysed(Rows {
                verdict: Some("insufficient-data"),
                ..rows(1)
            }),
        ),
        (
            "duplicate_steps.csv",
            Analysed(Rows {
                used: 100,
                replaced: 100,
                ..rows(200)
            }),
        ),
        (
            "trailing_garbage_line.csv",
            Analysed(Rows {
                used: 100,
                skipped: 1,
                reason: Some("incomplete last line, 1 of 9 fields"),
                ..rows(101)
            }),
        ),
        (
            "json_truncated_mid_string.jsonl",
            Analysed(Rows {
                used: 150,
                skipped: 1,
                reason: Some("EOF while parsing a string"),
                ..rows(151)
            }),
        ),
        (
            "jsonl_damaged_lines.jsonl",
            Analysed(Rows {
                used: 146,
                skipped: 4,
                reason: Some("invalid JSON"),
                ..rows(150)
            }),
        ),
        (
            "all_nan_loss.csv",
            // Not one finite loss: nothing diverged, there is no usable loss.
            Refused {
                at: "all_nan_loss.csv:",
                cause: "no usable loss: loss is nan at all 100 logged points, loss-jepa is nan at all 100",
            },
        ),
        (
            "nan_spellings.csv",
            Analysed(Rows {
                verdict: Some("diverged"),
                non_finite: &[("loss", 15)],
                ..rows(150)
            }),
        ),
        (
            "overflow_1e309.csv",
            Analysed(Rows {
                verdict: Some("diverged"),
                non_finite: &[("loss", 1), ("loss-jepa", 0)],
                ..rows(150)
            }),
        ),
        (
            "signed_zero_and_inf.csv",
            Analysed(Rows {
                non_finite: &[("grad", 75), ("loss", 0)],
                ..rows(150)
            }),
        ),
        (
            "json_nan_tokens.jsonl",
            Analysed(Rows {
                verdict: Some("diverged"),
                non_finite: &[("loss", 3), ("reg", 2)],
                ..rows(150)
            }),
        ),
    ]
}

fn doctor() -> Command {
    let mut cmd = Command::cargo_bin("jepa-doctor").unwrap();
    cmd.timeout(Duration::from_secs(30)).env("NO_COLOR", "1");
    cmd
}

/// Runs `analyze <input> --json=-` and checks the outcome against `expect`.
fn check(input: &Path, extra: &[&str], expect: &Expect) -> Result<(), String> {
    let before = snapshot(input);
    let out = doctor()
        .arg("analyze")
        .arg(input)
        .arg("--json=-")
        .args(extra)
        .output()
        .map_err(|e| format!("could not run: {e}"))?;
    if snapshot(input) != before {
        return Err("the input was modified".into());
    }
    let code = out.status.code();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match expect {
        Refused { at, cause } => {
            if code != Some(2) {
                return Err(format!("exit {code:?}, expected 2; stderr: {stderr}"));
            }
            let line = stderr
                .strip_suffix('\n')
                .filter(|l| !l.contains('\n'))
                .ok_or(format!("not one line on stderr: {stderr:?}"))?;
            if !line.starts_with("jepa-doctor: error: ")
                || !line.contains(at)
                || !line.contains(cause)
            {
                return Err(format!("stderr {line:?} lacks {at:?} or {cause:?}"));
            }
            if !stdout.is_empty() {
                return Err(format!("stdout not empty on refusal: {stdout}"));
            }
        }
        Analysed(Rows {
            read,
            used,
            skipped,
            replaced,
            reason,
            verdict,
            non_finite,
        }) => {
            if !matches!(code, Some(0) | Some(1)) {
                return Err(format!("exit {code:?}; stderr: {stderr}"));
            }
            let report: Value = serde_json::from_str(&stdout).map_err(|e| format!("JSON: {e}"))?;
            let input = &report["input"];
            let n = |k: &str| input[k].as_u64().unwrap_or(u64::MAX);
            let rows = [
                n("rows_read"),
                n("rows_used"),
                n("rows_skipped"),
                n("rows_replaced"),
            ];
            if rows != [*read, *used, *skipped, *replaced] {
                return Err(format!(
                    "rows read/used/skipped/replaced {rows:?}, expected {:?}",
                    [read, used, skipped, replaced]
                ));
            }
            if rows[0] != rows[1] + rows[2] + rows[3] {
                return Err(format!("accounting broken: {rows:?}"));
            }
            let listed = input["skipped"].as_array().map_or(0, Vec::len) as u64;
            if listed != rows[2].min(20) {
                return Err(format!(
                    "{listed} skipped rows listed for {} skipped",
                    rows[2]
                ));
            }
            if let Some(reason) = reason {
                let first = input["skipped"][0]["reason"].as_str().unwrap_or("");
                if !first.contains(reason) {
                    return Err(format!("first skipped reason {first:?} lacks {reason:?}"));
                }
            }
            if let Some(verdict) = verdict
                && report["verdict"] != *verdict
            {
                return Err(format!("verdict {}, expected {verdict}", report["verdict"]));
            }
            for (name, count) in *non_finite {
                let series = report["series"]
                    .as_array()
                    .and_then(|all| all.iter().find(|s| s["name"] == *name))
                    .ok_or(format!("no series {name}"))?;
                if series["non_finite"] != *count {
                    return Err(format!(
                        "{name}: non_finite {}, expected {count}",
                        series["non_finite"]
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The bytes of a file, or of every file directly in a directory.
fn snapshot(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap_or_default();
            (f, bytes)
        })
        .collect()
}

#[test]
fn every_broken_input_has_its_expected_outcome() {
    let corpus = corpus();
    let mut failures = Vec::new();
    for (name, expect) in &corpus {
        let path = PathBuf::from(fixture(&format!("broken/{name}")));
        if let Err(why) = check(&path, &[], expect) {
            failures.push(format!("{name}: {why}"));
        }
    }
    println!("{} broken inputs checked", corpus.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_is_large_and_every_file_in_it_has_an_expectation() {
    let listed: Vec<&str> = corpus().iter().map(|(n, _)| *n).collect();
    let on_disk: Vec<String> = std::fs::read_dir(fixture("broken"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in &on_disk {
        assert!(
            listed.contains(&name.as_str()),
            "{name} has no expected outcome"
        );
    }
    for name in &listed {
        assert!(
            on_disk.iter().any(|n| n == name),
            "{name} is not in fixtures/broken"
        );
    }
    assert!(on_disk.len() >= 30, "only {} inputs", on_disk.len());
}

#[test]
fn duplicate_json_keys_keep_the_last_value() {
    let out = doctor()
        .args([
            "analyze",
            &fixture("broken/json_duplicate_keys.jsonl"),
            "--export",
            "-",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let second = text.lines().nth(1).unwrap();
    assert_eq!(second, "0,0.9", "{text:.200}");
}

/// Inputs that cannot live in git are made here.
#[test]
fn huge_lines_loops_permissions_and_growing_logs() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let loss_lines = |n: usize| -> String {
        (0..n)
            .map(|k| format!("{k},{:.5}\n", 0.9 * 0.99f64.powi(k as i32)))
            .collect()
    };

    // One 10 MB line, no newline: not a log; forced as CSV: its "header" is not column names.
    std::fs::write(at("one_line.csv"), "9".repeat(10_000_000)).unwrap();
    let refused = Refused {
        at: "one_line.csv:",
        cause: "not a log format",
    };
    check(&at("one_line.csv"), &[], &refused).unwrap();
    let refused = Refused {
        at: "one_line.csv:1:",
        cause: "is 10000000 bytes long",
    };
    check(&at("one_line.csv"), &["--format", "csv"], &refused).unwrap();

    // A 10 MB row among good ones: a damaged row, named by its line.
    let text = format!(
        "step,loss\n{}{}\n{}",
        loss_lines(5),
        "7".repeat(10_000_000),
        loss_lines(5)
    );
    std::fs::write(at("long_row.csv"), text).unwrap();
    let refused = Refused {
        at: "long_row.csv:7:",
        cause: "row has 1 field, the header has 2",
    };
    check(&at("long_row.csv"), &[], &refused).unwrap();

    // Beyond the line limit the reader stops instead of buffering it.
    let text = format!("step,loss\n{}{}\n", loss_lines(5), "7".repeat(17 << 20));
    std::fs::write(at("too_long.csv"), text).unwrap();
    let refused = Refused {
        at: "too_long.csv:7:",
        cause: "longer than 16 MiB",
    };
    check(&at("too_long.csv"), &[], &refused).unwrap();

    // A run directory with a symlink loop and a link to its parent.
    let run = at("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(
        run.join("metrics.csv"),
        format!("step,loss\n{}", loss_lines(120)),
    )
    .unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("loop.csv", run.join("loop.csv")).unwrap();
        std::os::unix::fs::symlink("..", run.join("up")).unwrap();
    }
    check(&run, &[], &clean(120)).unwrap();

    // A file without read permission (root reads it anyway).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = at("locked.csv");
        std::fs::write(&locked, format!("step,loss\n{}", loss_lines(50))).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let readable = std::fs::read(&locked).is_ok();
        let expect = if readable {
            clean(50)
        } else {
            Refused {
                at: "locked.csv:",
                cause: "ermission denied",
            }
        };
        check(&locked, &[], &expect).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    // A log still being written: the partial last line is withheld, then read once complete.
    let growing = at("jepa_r0.csv");
    let header = "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";
    let row = |k: u64| format!("{},{},0.5,0.5,0.9,1.0,1.0,400,404\n", k / 50 + 1, k % 50);
    let mut text: String = header.to_string() + &(0..80).map(row).collect::<String>();
    let full = row(80);
    text.push_str(&full[..full.len() / 2]);
    std::fs::write(&growing, &text).unwrap();
    let partial = Analysed(Rows {
        used: 80,
        skipped: 1,
        reason: Some("killed mid-write"),
        ..rows(81)
    });
    check(&growing, &[], &partial).unwrap();
    text.push_str(&full[full.len() / 2..]);
    std::fs::write(&growing, &text).unwrap();
    check(&growing, &[], &clean(81)).unwrap();
}

/// Non-seekable inputs (a FIFO, `/dev/stdin`, `<(cmd)`, `-`) are read once and streamed, exactly
/// like the same bytes in a file, beyond the 64 KiB that are sniffed; endless inputs stop at the
/// documented limits while reading.
#[cfg(unix)]
#[test]
fn streams_read_like_files_and_endless_inputs_stop() {
    use std::process::{Command as StdCommand, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("metrics.csv");
    let text: String = std::iter::once("step,loss,lr\n".to_string())
        .chain((0..6000).map(|k| format!("{k},{:.5},0.001\n", 0.9 * 0.999f64.powi(k))))
        .collect();
    assert!(text.len() > 100 * 1024);
    std::fs::write(&log, &text).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("jepa-doctor");
    let report = |out: std::process::Output| -> Value {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["input"]["sources"] = Value::Null;
        v
    };
    let from_file = report(
        StdCommand::new(&bin)
            .arg("analyze")
            .arg(&log)
            .arg("--json=-")
            .output()
            .unwrap(),
    );
    assert_eq!(from_file["input"]["rows_read"], 6000);
    let mut ways = vec![];
    // `-` and /dev/stdin from a pipe.
    for name in ["-", "/dev/stdin"] {
        let mut child = StdCommand::new(&bin)
            .args(["analyze", name, "--json=-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let bytes = text.clone();
        let feeder = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(bytes.as_bytes());
        });
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        ways.push((name.to_string(), report(out)));
    }
    // A named FIFO (opened once: opening it twice would hang).
    let fifo = dir.path().join("metrics.fifo");
    if StdCommand::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let writer = {
            let (fifo, text) = (fifo.clone(), text.clone());
            std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
        };
        let out = doctor()
            .arg("analyze")
            .arg(&fifo)
            .arg("--json=-")
            .output()
            .unwrap();
        writer.join().unwrap();
        ways.push(("fifo".into(), report(out)));
    } else {
        println!("skipped the FIFO case: mkfifo not available");
    }
    // Process substitution, when bash is there.
    if let Ok(out) = StdCommand::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' analyze <(cat '{}') --json=-",
            bin.display(),
            log.display()
        ))
        .output()
    {
        ways.push(("<(cmd)".into(), report(out)));
    } else {
        println!("skipped the <(cmd) case: no bash");
    }
    for (name, got) in &ways {
        assert_eq!(got, &from_file, "{name} differs from the file");
    }
    println!("{} streamed ways read like the file", ways.len());

    // Endless inputs stop at the limits, with the reason.
    if std::path::Path::new("/dev/zero").exists() {
        for (args, cause) in [
            (vec!["--format=jsonl"], "line longer than 16 MiB"),
            (vec!["--format=console-log"], "line longer than 16 MiB"),
            (vec!["--format=csv"], "longer than 16 MiB"),
            (vec!["--format=json"], "not a JSON document"),
        ] {
            let out = doctor()
                .args(["analyze", "/dev/zero"])
                .args(&args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains("/dev/zero:1:") && stderr.contains(cause),
                "{args:?}: {stderr}"
            );
        }
        let out = doctor()
            .arg("analyze")
            .arg(&log)
            .args(["--config", "/dev/zero"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("larger than 16 MiB"), "{stderr}");
    } else {
        println!("skipped the /dev/zero cases: no /dev/zero");
    }
}

/// Runs `analyze` with `args`, returning (exit code, stdout, stderr).
fn run(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> (Option<i32>, String, String) {
    let mut cmd = doctor();
    cmd.arg("analyze").args(args);
    if let Some(path) = stdin {
        cmd.pipe_stdin(path).unwrap();
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Values and steps at the edges of what the readers store, and the bytes around them (BOM,
/// CRLF, blank lines): the same rule and the same line numbers whichever way the input comes.
#[test]
fn wrong_values_steps_boms_and_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let decay = |k: usize| 0.9 * 0.99f64.powi(k as i32);

    // A finite loss beyond f32 (1e39) is a huge value, not an infinity: never "diverged".
    let text: String = std::iter::once("step,loss\n".to_string())
        .chain((0..200).map(|k| {
            let v = if k == 150 { 1e39 } else { decay(k) };
            format!("{k},{v}\n")
        }))
        .collect();
    std::fs::write(at("huge.csv"), &text).unwrap();
    for stdin in [false, true] {
        let path = at("huge.csv");
        let (code, out, err) = if stdin {
            run(&[os("-"), os("--json=-")], Some(&path))
        } else {
            run(&[path.as_os_str(), os("--json=-")], None)
        };
        assert!(matches!(code, Some(0 | 1)), "{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_ne!(report["verdict"], "diverged");
        assert_eq!(report["series"][0]["non_finite"], 0, "stdin {stdin}");
    }
    let jsonl: String = (0..200)
        .map(|k| {
            let v = if k == 150 { 1e39 } else { decay(k) };
            format!("{{\"step\": {k}, \"loss\": {v:e}}}\n")
        })
        .collect();
    std::fs::write(at("huge.jsonl"), jsonl).unwrap();
    let (_, out, err) = run(&[at("huge.jsonl").as_os_str(), os("--json=-")], None);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(report["series"][0]["non_finite"], 0);
    assert_ne!(report["verdict"], "diverged");

    // One step rule: 2^53 + 1 is refused by the fast path, the stdin path and JSON lines alike.
    let csv = format!("step,loss\n0,0.9\n{},0.5\n", (1u64 << 53) + 1);
    std::fs::write(at("step53.csv"), csv).unwrap();
    for stdin in [false, true] {
        let path = at("step53.csv");
        let (code, _, err) = if stdin {
            run(&[os("-")], Some(&path))
        } else {
            run(&[path.as_os_str()], None)
        };
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(":3: step \"9007199254740993\""), "{err}");
    }
    // JSON lines skip a record whose step is unusable, with its line and reason.
    let mut lines: Vec<String> = (0..60)
        .map(|k| format!("{{\"step\": {k}, \"loss\": {}}}", decay(k)))
        .collect();
    for bad in ["true", "\"x\"", "[1]", "9007199254740993", "1.5"] {
        lines.push(format!("{{\"step\": {bad}, \"loss\": 5.0}}"));
    }
    std::fs::write(at("steps.jsonl"), lines.join("\n")).unwrap();
    let (_, out, _) = run(&[at("steps.jsonl").as_os_str(), os("--json=-")], None);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["input"]["rows_skipped"], 5);
    assert_eq!(report["input"]["rows_used"], 60);
    let skipped = report["input"]["skipped"].as_array().unwrap();
    for (i, bad) in ["true", "\"x\"", "[1]", "9007199254740993", "1.5"]
        .iter()
        .enumerate()
    {
        assert_eq!(skipped[i]["line"], 61 + i as u64);
        let reason = skipped[i]["reason"].as_str().unwrap();
        assert!(
            reason.contains(bad) && reason.contains("not a whole number"),
            "{reason}"
        );
    }
    // The 59th step kept its own value: no record overwrote it.
    let (_, out, _) = run(&[at("steps.jsonl").as_os_str(), os("--export=-")], None);
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("59,") && !last.ends_with(",5"), "{last}");

    // A UTF-8 BOM is accepted by every reader.
    let bom = "\u{feff}";
    let records: Vec<String> = (0..60)
        .map(|k| format!("{{\"step\": {k}, \"loss\": {}}}", decay(k)))
        .collect();
    let inputs = [
        ("bom.jsonl", format!("{bom}{}\n", records.join("\n"))),
        (
            "trainer_state.json",
            format!("{bom}{{\"log_history\": [{}]}}", records.join(",")),
        ),
        (
            "bom.csv",
            format!(
                "{bom}step,loss\n{}",
                (0..60)
                    .map(|k| format!("{k},{}\n", decay(k)))
                    .collect::<String>()
            ),
        ),
    ];
    for (name, text) in inputs {
        std::fs::write(at(name), text).unwrap();
        let (code, out, err) = run(&[at(name).as_os_str(), os("--json=-")], None);
        assert!(matches!(code, Some(0 | 1)), "{name}: {err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["input"]["rows_used"], 60, "{name}");
        assert_eq!(report["input"]["rows_skipped"], 0, "{name}");
    }

    // CRLF, blank lines: the line named is the physical line, from a path and from stdin.
    let csv = "step,loss\r\n0,1\r\n\r\n1,0.9\r\n\r\n\r\n2,abc\r\n3,0.5\r\n";
    std::fs::write(at("crlf.csv"), csv).unwrap();
    std::fs::write(at("lf.csv"), csv.replace("\r\n", "\n")).unwrap();
    for name in ["crlf.csv", "lf.csv"] {
        let path = at(name);
        let (_, _, from_path) = run(&[path.as_os_str()], None);
        let (_, _, from_stdin) = run(&[os("-")], Some(&path));
        assert!(
            from_path.contains(&format!("{name}:7: column 'loss'")),
            "{from_path}"
        );
        assert!(
            from_stdin.contains("<stdin>:7: column 'loss'"),
            "{from_stdin}"
        );
    }

    // Control characters in file and column names are escaped; an error stays on one line.
    let odd = at("a\nb\u{1b}[2J.csv");
    std::fs::write(
        &odd,
        "step,loss,\"ev\u{1b}[31mil\",loss\n0,1,2,1\n1,0.9,2,0.9\n2,0.8,2,0.8\n",
    )
    .unwrap();
    let (_, out, err) = run(&[odd.as_os_str(), os("--no-chart")], None);
    assert!(
        !out.contains('\u{1b}') && !err.contains('\u{1b}'),
        "{out}{err}"
    );
    assert!(
        out.contains("ev\\u{1b}[31mil") && out.contains("a\\nb"),
        "{out}"
    );
    assert!(
        out.contains("columns named twice") && out.contains("loss"),
        "{out}"
    );
    let (code, _, err) = run(&[odd.as_os_str(), os("--step-col=nope")], None);
    assert_eq!(code, Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");

    // The OS's reason once.
    let (code, _, err) = run(&[at("missing.csv").as_os_str()], None);
    assert_eq!(code, Some(2));
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");

    // -q: nothing on standard output, even what was asked for with =-; files still written.
    let md = at("summary.md");
    let (code, out, err) = run(
        &[
            at("bom.csv").as_os_str(),
            os("-q"),
            os("--json=-"),
            os(&format!("--markdown={}", md.display())),
        ],
        None,
    );
    assert!(matches!(code, Some(0 | 1)), "{err}");
    assert!(out.is_empty() && err.is_empty(), "{out}{err}");
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("jepa-doctor")
    );
}

/// Console running means that imply a negative window mean are read as 0 when the rounding of
/// the printed digits explains it, left out otherwise, and counted in a note.
#[test]
fn negative_console_window_means_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("train.log");
    let mut text = String::new();
    // Running means of a loss near 0.002 printed with 3 decimals: some windows dip below 0
    // by less than the rounding bound. Then a mean that falls far: a window of -5.6.
    let means = [
        0.010, 0.004, 0.003, 0.002, 0.002, 0.001, 0.001, 0.001, 0.001, 0.001,
    ];
    for (i, m) in means.iter().enumerate() {
        text.push_str(&format!(
            "INFO:root:[1, {:5}] loss: {m:.3} | p{m:.3} r0.500\n",
            i * 10
        ));
    }
    text.push_str("INFO:root:[1,   100] loss: 0.500 | p0.500 r0.500\n");
    text.push_str("INFO:root:[1,   110] loss: 0.001 | p0.001 r0.500\n");
    std::fs::write(&log, text).unwrap();
    let out = doctor()
        .arg("analyze")
        .arg(&log)
        .arg("--export=-")
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let loss = header.iter().position(|h| *h == "loss").unwrap();
    for row in csv.lines().skip(1) {
        let cell = row.split(',').nth(loss).unwrap_or("");
        if let Ok(v) = cell.parse::<f64>() {
            assert!(v >= 0.0, "negative window mean exported: {row}");
        }
    }
    let out = doctor()
        .arg("analyze")
        .arg(&log)
        .arg("--json=-")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = report["input"]["warnings"].to_string();
    assert!(
        warnings.contains("came out negative")
            && warnings.contains("within the rounding bound")
            && warnings.contains("beyond it (left out)")
            && !warnings.contains(": 0 within")
            && !warnings.contains(", 0 beyond"),
        "{warnings}"
    );
}

/// A 12 MB CSV with 10,000 columns: reservations follow what the file can hold, so it is read
/// under a 3 GiB address-space limit (it reserved ~10 GB before).
#[cfg(unix)]
#[test]
fn a_wide_csv_reads_within_a_small_address_space() {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.csv");
    let columns = 10_000;
    let mut text = String::from("step");
    text.push_str(",loss");
    for c in 1..columns {
        text.push_str(&format!(",m{c}"));
    }
    text.push('\n');
    for k in 0..300 {
        text.push_str(&k.to_string());
        text.push_str(&",0.5".repeat(columns));
        text.push('\n');
    }
    assert!(text.len() > 12_000_000);
    std::fs::write(&wide, text).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("jepa-doctor");
    let script = format!(
        "ulimit -v 3145728 && exec '{}' analyze '{}' -q --export=/dev/null",
        bin.display(),
        wide.display()
    );
    match std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
    {
        Ok(out) => assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("skipped: no sh to set ulimit ({e})"),
    }
}
