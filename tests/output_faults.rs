//! Output faults on the real binary: an output that is an input (by name, through `..`, a symlink
//! or a hard link) is refused with exit 2 before anything is read or written; devices and FIFOs
//! are written directly (never replaced by a regular file); `/dev/full` and a closed pipe end the
//! way they should (exit 2 with the OS error; exit 0 quietly); a signal during a write leaves no
//! temporary file; an unwritable standard error never turns into a panic.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::fixture;

fn doctor() -> Command {
    let mut cmd = Command::cargo_bin("jepa-doctor").unwrap();
    cmd.timeout(Duration::from_secs(60)).env("NO_COLOR", "1");
    cmd
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("jepa-doctor")
}

/// A run directory with a rank log and its params YAML.
fn run_dir(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    fs::create_dir(&run).unwrap();
    fs::copy(
        fixture("csv/vjepa_restart_replay.csv"),
        run.join("jepa_r0.csv"),
    )
    .unwrap();
    fs::write(
        run.join("params-pretrain.yaml"),
        "optimization:\n  lr: 0.001\n  ipe: 50\n",
    )
    .unwrap();
    run
}

/// The bytes of every file directly in `dir`.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".jepa-doctor-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_output_that_is_an_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_dir(dir.path());
    let r = |name: &str| run.join(name).display().to_string();
    let dotted = run.join("..").join("run").join("jepa_r0.csv");
    let hard = dir.path().join("hard_link.csv");
    fs::hard_link(run.join("jepa_r0.csv"), &hard).unwrap();
    #[cfg(unix)]
    let (sym, sym_png) = {
        let sym = dir.path().join("sym.yaml");
        std::os::unix::fs::symlink(run.join("params-pretrain.yaml"), &sym).unwrap();
        // A figure path that is a link to the log.
        let png = dir.path().join("figure.png");
        std::os::unix::fs::symlink(run.join("jepa_r0.csv"), &png).unwrap();
        (sym, png)
    };
    let run_s = run.display().to_string();
    let mut cases: Vec<Vec<String>> = vec![
        // A file the tool found itself in the run directory.
        vec![run_s.clone(), format!("--export={}", r("jepa_r0.csv"))],
        vec![
            run_s.clone(),
            format!("--json={}", r("params-pretrain.yaml")),
        ],
        // The config named on the command line.
        vec![
            r("jepa_r0.csv"),
            "--config".into(),
            r("params-pretrain.yaml"),
            format!("--markdown={}", r("params-pretrain.yaml")),
        ],
        // Through `..`, and through a hard link.
        vec![run_s.clone(), format!("--json={}", dotted.display())],
        vec![run_s.clone(), format!("--json={}", hard.display())],
    ];
    #[cfg(unix)]
    {
        cases.push(vec![run_s.clone(), format!("--json={}", sym.display())]);
        cases.push(vec![run_s.clone(), format!("--plot={}", sym_png.display())]);
    }
    let before = snapshot(&run);
    for args in &cases {
        let out = doctor().arg("analyze").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("jepa-doctor: error: ")
                && stderr.contains("would overwrite the input")
                && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(snapshot(&run), before, "{args:?} changed the run directory");
        assert!(temp_files(&run).is_empty());
    }
    // Standard input redirected from the log counts as an input too.
    let out = StdCommand::new(bin())
        .args(["analyze", "-", &format!("--export={}", r("jepa_r0.csv"))])
        .stdin(fs::File::open(run.join("jepa_r0.csv")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>"));
    // Two outputs on one file are refused as well.
    let report = dir.path().join("report.json");
    fs::write(&report, "{}").unwrap();
    let out = doctor()
        .args(["analyze", &run_s])
        .arg(format!("--json={}", report.display()))
        .arg(format!("--markdown={}", report.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("both write"));
    assert_eq!(fs::read_to_string(&report).unwrap(), "{}");
    // … also when the file does not exist yet, however its path is spelled.
    let fresh = dir.path().join("fresh.svg");
    let respelled = dir.path().join(".").join("fresh.svg");
    for (a, b) in [
        ("--json", "--markdown"),
        ("--markdown", "--export"),
        ("--plot", "--export"),
    ] {
        let out = doctor()
            .args(["analyze", &run_s])
            .arg(format!("{a}={}", fresh.display()))
            .arg(format!("{b}={}", respelled.display()))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{a} {b}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("both write"));
        assert!(!fresh.exists(), "{a} {b} wrote before refusing");
    }
    println!("{} overwrite attempts refused", cases.len() + 5);
}

#[cfg(unix)]
#[test]
fn devices_and_fifos_are_written_directly() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let run = run_dir(dir.path());
    // /dev/null stays a device and takes several outputs.
    doctor()
        .arg("analyze")
        .arg(&run)
        .args(["--json=/dev/null", "--markdown=/dev/null", "-q"])
        .assert()
        .code(0);
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(temp_files(Path::new("/dev")).is_empty());

    // /dev/stdout is written in place, not renamed over.
    let out = doctor()
        .arg("analyze")
        .arg(&run)
        .args(["--json=/dev/stdout", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);

    // /dev/full: exit 2 with the OS's reason, once.
    if Path::new("/dev/full").exists() {
        let out = doctor()
            .arg("analyze")
            .arg(&run)
            .args(["--json=/dev/full"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("writing the JSON report to /dev/full: No space left on device"),
            "{stderr}"
        );
        assert_eq!(stderr.matches("No space left").count(), 1, "{stderr}");
    } else {
        println!("skipped: no /dev/full on this system");
    }

    // A FIFO: the reader gets the report, the FIFO stays a FIFO.
    let fifo = dir.path().join("report.fifo");
    let made = StdCommand::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        println!("skipped: mkfifo not available");
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(&fifo).unwrap())
    };
    doctor()
        .arg("analyze")
        .arg(&run)
        .arg(format!("--markdown={}", fifo.display()))
        .arg("-q")
        .assert()
        .code(0);
    let received = reader.join().unwrap();
    assert!(String::from_utf8_lossy(&received).contains("jepa-doctor"));
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(temp_files(dir.path()).is_empty());
}

/// A log big enough that writing its export takes a while.
fn big_log(path: &Path, rows: u64) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    writeln!(f, "step,loss,a,b,c").unwrap();
    for k in 0..rows {
        let loss = 0.9 * (-(k as f64) / 3e5).exp() + 0.01 * (k as f64).sin();
        writeln!(f, "{k},{loss:.5},{},{},{}", k / 2, k % 7, k % 13).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn a_signal_during_a_write_leaves_no_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.csv");
    big_log(&log, 3_000_000);
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    for (name, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let export = out_dir.join("export.csv");
        let mut child = StdCommand::new(bin())
            .args(["analyze", "-q"])
            .arg(&log)
            .arg(format!("--export={}", export.display()))
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut signalled = false;
        while start.elapsed() < Duration::from_secs(60) {
            if !temp_files(&out_dir).is_empty() {
                let sent = StdCommand::new("kill")
                    .arg(format!("-{name}"))
                    .arg(child.id().to_string())
                    .status()
                    .unwrap();
                assert!(sent.success());
                signalled = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let status = child.wait().unwrap();
        assert!(
            signalled,
            "SIG{name}: the write ended before a temporary file was seen"
        );
        assert!(
            status.signal() == Some(number) || status.code() == Some(128 + number),
            "SIG{name}: {status:?}"
        );
        assert!(
            temp_files(&out_dir).is_empty(),
            "SIG{name} left {:?}",
            temp_files(&out_dir)
        );
        assert!(
            !export.exists(),
            "SIG{name}: a partial export was renamed into place"
        );
        println!("SIG{name}: killed during the write, nothing left behind");
    }
}

#[cfg(unix)]
#[test]
fn completions_and_man_page_on_full_or_closed_outputs() {
    let have_full = Path::new("/dev/full").exists();
    for args in [
        vec!["completions", "bash"],
        vec!["completions", "powershell"],
        vec!["completions", "zsh"],
        vec!["man"],
    ] {
        // A closed pipe: exit 0, nothing on stderr.
        let mut child = StdCommand::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?} closed pipe: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        if !have_full {
            continue;
        }
        // A full device: exit 2 with the OS's reason.
        let out = StdCommand::new(bin())
            .args(&args)
            .stdout(fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{stderr}");
    }
    if !have_full {
        println!("skipped the /dev/full cases: no /dev/full on this system");
    }
}

#[cfg(unix)]
#[test]
fn an_unwritable_standard_error_is_not_a_panic() {
    if !Path::new("/dev/full").exists() {
        println!("skipped: no /dev/full on this system");
        return;
    }
    let full = || fs::File::create("/dev/full").unwrap();
    // An error to report with nowhere to report it: still exit 2, not 101.
    let out = StdCommand::new(bin())
        .args(["analyze", "/nonexistent/run.csv"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Both outputs unwritable.
    let out = StdCommand::new(bin())
        .args(["completions", "bash"])
        .stdout(full())
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A report whose text goes to a full stdout and whose error goes to a full stderr.
    let out = StdCommand::new(bin())
        .arg("analyze")
        .arg(fixture("csv/vjepa_restart_replay.csv"))
        .stdout(full())
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compare_refuses_outputs_over_any_runs_files() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_dir(dir.path());
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::copy(run.join("jepa_r0.csv"), other.join("jepa_r0.csv")).unwrap();
    let before = (snapshot(&run), snapshot(&other));
    for flag in [
        format!("--json={}", other.join("jepa_r0.csv").display()),
        format!("--markdown={}", run.join("params-pretrain.yaml").display()),
    ] {
        let out = doctor()
            .arg("compare")
            .arg(&run)
            .arg(&other)
            .arg(&flag)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("would overwrite the input"), "{stderr}");
    }
    assert_eq!((snapshot(&run), snapshot(&other)), before);
}
