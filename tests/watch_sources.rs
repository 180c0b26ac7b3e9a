//! `jepa-doctor watch` on the sources that cannot be followed by offset, each grown by a writer
//! while the binary follows it: a gzip'd rank file (rewritten, or grown by gzip members), a W&B
//! offline run folder found through `wandb/latest-run`, an MLflow file store and an `mlflow.db`,
//! and a Hugging Face output folder whose newest `checkpoint-N/` is the log; and the JSON a writer
//! leaves without a final newline: a document on one line, a JSON-lines log's last record.
//! Each must end as `analyze` reads the finished source (row accounting, verdict, minimum), never
//! with a UTF-8 or "Is a directory" error; a store holding several runs is refused at start.

mod watch_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use watch_support::{TestResult, analyze, append_in_pieces, assert_ends_as_analyze, watch_while};

const SAME_RUN: &str = "fixtures/formats/same_run";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(SAME_RUN)
        .join(rel)
}

/// The reference run as CSV text: the header and the first `rows` data rows.
fn reference_rows(rows: usize) -> Result<String, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(fixture("reference.csv"))?;
    Ok(text.lines().take(rows + 1).collect::<Vec<_>>().join("\n") + "\n")
}

fn gzip(text: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text)?;
    gz.finish()
}

#[test]
fn a_gzipped_rank_file_rewritten_as_it_grows_is_followed_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("jepa_r0.csv.gz");
    std::fs::write(&path, gzip(reference_rows(60)?.as_bytes())?)?;
    let (target, tmp) = (path.clone(), dir.path().join("jepa_r0.csv.gz.tmp"));
    let versions = [120, 180, 240, 300]
        .into_iter()
        .map(|rows| Ok(gzip(reference_rows(rows)?.as_bytes())?))
        .collect::<Result<Vec<Vec<u8>>, Box<dyn std::error::Error>>>()?;
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &path.display().to_string(),
        ],
        move || {
            // A rotation rewrites the compressed file: half of the rewrites in place (truncate
            // and write: a reader may meet it half written), half through a rename.
            for (i, bytes) in versions.into_iter().enumerate() {
                thread::sleep(Duration::from_millis(400));
                if i % 2 == 0 {
                    std::fs::write(&target, &bytes)?;
                } else {
                    std::fs::write(&tmp, &bytes)?;
                    std::fs::rename(&tmp, &target)?;
                }
            }
            Ok(())
        },
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert!(!watched.stderr.contains("UTF-8"), "{}", watched.stderr);
    let growth: Vec<u64> = watched
        .events
        .iter()
        .filter_map(|e| e["rows"].as_u64())
        .collect();
    assert!(
        growth.windows(2).any(|w| w[1] > w[0]),
        "followed the growth: {growth:?}"
    );
    assert_ends_as_analyze(&watched.events, &analyze(&path)?)
}

#[test]
fn a_gzip_file_grown_by_members_is_followed_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("metrics.csv.gz");
    let text = reference_rows(300)?;
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, gzip((lines[..41].join("\n") + "\n").as_bytes())?)?;
    let rest: Vec<String> = lines[41..].iter().map(|l| format!("{l}\n")).collect();
    let target = path.clone();
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &path.display().to_string(),
        ],
        move || {
            // `gzip -c chunk >> file`: every chunk is one more gzip member.
            for chunk in rest.chunks(40) {
                thread::sleep(Duration::from_millis(250));
                let mut f = std::fs::OpenOptions::new().append(true).open(&target)?;
                f.write_all(&gzip(chunk.concat().as_bytes())?)?;
            }
            Ok(())
        },
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert_ends_as_analyze(&watched.events, &analyze(&path)?)
}

#[test]
fn a_wandb_offline_run_folder_is_followed_through_latest_run() -> TestResult {
    let bytes = std::fs::read(fixture(
        "wandb/offline-run-20261130_062823-47n8utuj/run-47n8utuj.wandb",
    ))?;
    let run = tempfile::tempdir()?;
    let folder = run
        .path()
        .join("wandb")
        .join("offline-run-20261130_062823-47n8utuj");
    std::fs::create_dir_all(&folder)?;
    let log = folder.join("run-47n8utuj.wandb");
    // W&B writes the header and the run's first records before any history.
    std::fs::write(&log, &bytes[..4096])?;
    std::os::unix::fs::symlink(
        "offline-run-20261130_062823-47n8utuj",
        run.path().join("wandb").join("latest-run"),
    )?;
    let rest = bytes[4096..].to_vec();
    let target = log.clone();
    // The run directory, as a user passes it: the W&B folder is found below it.
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &run.path().display().to_string(),
        ],
        move || append_in_pieces(&rest, &target, 12_000, Duration::from_millis(60), 0x16_3a),
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert!(
        !watched.stderr.contains("Is a directory"),
        "{}",
        watched.stderr
    );
    assert_ends_as_analyze(&watched.events, &analyze(run.path())?)
}

/// The HF output folder fixture and a run folder holding only its `checkpoint-300/`.
fn hf_output_dir_at_checkpoint_300()
-> Result<(PathBuf, tempfile::TempDir), Box<dyn std::error::Error>> {
    let hf = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/framework/hf_output_dir");
    let run = tempfile::tempdir()?;
    copy_tree(
        &hf.join("checkpoint-300"),
        &run.path().join("checkpoint-300"),
    )?;
    Ok((hf, run))
}

#[test]
fn a_hugging_face_output_dir_follows_only_the_newest_checkpoint() -> TestResult {
    // Each `checkpoint-N/trainer_state.json` holds the whole history to step N; `analyze` reads
    // the highest N. A new checkpoint replaces the one followed (its rows are not added twice).
    let (hf, run) = hf_output_dir_at_checkpoint_300()?;
    let (from, out) = (hf.join("checkpoint-600"), run.path().to_path_buf());
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &run.path().display().to_string(),
        ],
        move || {
            thread::sleep(Duration::from_millis(800));
            // The Trainer saves into `tmp-checkpoint-N/` and renames it once complete.
            let tmp = out.join("tmp-checkpoint-600");
            copy_tree(&from, &tmp)?;
            std::fs::rename(&tmp, out.join("checkpoint-600"))
        },
    )?;
    assert_followed_growth(&watched);
    assert_ends_as_analyze(&watched.events, &analyze(run.path())?)
}

#[test]
fn a_checkpoint_written_in_place_is_waited_for_not_an_error() -> TestResult {
    // Older Trainers write `checkpoint-N/trainer_state.json` in place: `watch` may find it half
    // written; it waits for the writer instead of ending with a JSON error.
    let (hf, run) = hf_output_dir_at_checkpoint_300()?;
    let state = std::fs::read(hf.join("checkpoint-600/trainer_state.json"))?;
    let out = run.path().join("checkpoint-600");
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=2",
            &run.path().display().to_string(),
        ],
        move || {
            thread::sleep(Duration::from_millis(600));
            std::fs::create_dir(&out)?;
            let target = out.join("trainer_state.json");
            let half = state.len() / 2;
            std::fs::write(&target, &state[..half])?;
            thread::sleep(Duration::from_millis(1000));
            let mut file = std::fs::OpenOptions::new().append(true).open(&target)?;
            file.write_all(&state[half..])
        },
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert_ends_as_analyze(&watched.events, &analyze(run.path())?)
}

/// `watch` exited 0 and evaluated the source as it grew (its rows went up between events).
fn assert_followed_growth(watched: &watch_support::Watched) {
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    let growth: Vec<u64> = watched
        .events
        .iter()
        .filter_map(|e| e["rows"].as_u64())
        .collect();
    assert!(
        growth.windows(2).any(|w| w[1] > w[0]),
        "followed the growth: {growth:?}"
    );
}

/// A metric file and the lines still to append to it.
type MetricLines = (PathBuf, Vec<String>);

/// Copies the same-run MLflow file store with each metric file cut to its first `keep` lines;
/// returns the store and the cut lines per metric file.
fn cut_mlruns(to: &Path, keep: usize) -> Result<Vec<MetricLines>, Box<dyn std::error::Error>> {
    let mut rest = Vec::new();
    let from = fixture("mlruns");
    copy_tree(&from, to)?;
    let run = to
        .join("266714358423992708")
        .join("68e340db169e45b9a5147bb0f34cc270");
    for entry in std::fs::read_dir(run.join("metrics"))? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, lines[..keep].concat())?;
        rest.push((path, lines[keep..].to_vec()));
    }
    Ok(rest)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[test]
fn an_mlflow_file_store_is_followed_as_its_metric_files_grow() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("mlruns");
    let rest = cut_mlruns(&store, 40)?;
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &store.display().to_string(),
        ],
        move || {
            // MLflow appends one line per metric per step, metric after metric.
            let longest = rest.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
            for chunk in (0..longest).step_by(25) {
                for (path, lines) in &rest {
                    let end = (chunk + 25).min(lines.len());
                    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
                    f.write_all(lines[chunk.min(end)..end].concat().as_bytes())?;
                }
                thread::sleep(Duration::from_millis(120));
            }
            Ok(())
        },
    )?;
    assert_followed_growth(&watched);
    assert_ends_as_analyze(&watched.events, &analyze(&store)?)
}

#[test]
fn an_mlflow_db_is_followed_as_rows_are_inserted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("mlflow.db");
    std::fs::copy(fixture("mlflow.db"), &db)?;
    type Metric = (String, f64, i64, String, i64, i64);
    let later: Vec<Metric> = {
        let conn = rusqlite::Connection::open(&db)?;
        let mut stmt = conn.prepare(
            "SELECT key, value, timestamp, run_uuid, step, is_nan FROM metrics WHERE step >= 80 ORDER BY step, key",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<Vec<Metric>, _>>()?;
        conn.execute("DELETE FROM metrics WHERE step >= 80", [])?;
        rows
    };
    let target = db.clone();
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=1.5",
            &db.display().to_string(),
        ],
        move || {
            let conn = rusqlite::Connection::open(&target).map_err(std::io::Error::other)?;
            for chunk in later.chunks(120) {
                thread::sleep(Duration::from_millis(250));
                for m in chunk {
                    conn.execute(
                        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        rusqlite::params![m.0, m.1, m.2, m.3, m.4, m.5],
                    )
                    .map_err(std::io::Error::other)?;
                }
            }
            Ok(())
        },
    )?;
    assert_followed_growth(&watched);
    assert_ends_as_analyze(&watched.events, &analyze(&db)?)
}

#[test]
fn a_store_of_several_runs_is_refused_at_start_naming_them() -> TestResult {
    let store =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/mlflow_two_runs/mlruns");
    let watched = watch_while(&["--idle-exit=5", &store.display().to_string()], || Ok(()))?;
    assert_eq!(watched.code, 2);
    assert!(
        watched.stderr.starts_with("jepa-doctor: error: "),
        "{}",
        watched.stderr
    );
    assert!(watched.stderr.contains("--run"), "{}", watched.stderr);
    Ok(())
}

#[test]
fn a_json_document_on_one_line_without_a_newline_is_read_once_it_parses() -> TestResult {
    // `json.dump(state, f)` writes `trainer_state.json` on one line and no newline after it:
    // the line `watch` waits for never ends. Written in two halves 1 s apart, it is waited for
    // while half there (not an error) and read once it parses.
    let hf = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/framework/hf_output_dir");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(
        hf.join("checkpoint-600/trainer_state.json"),
    )?)?;
    let bytes = serde_json::to_vec(&state)?;
    assert!(!bytes.contains(&b'\n'));
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("trainer_state.json");
    let half = bytes.len() / 2;
    std::fs::write(&path, &bytes[..half])?;
    let target = path.clone();
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=2",
            &path.display().to_string(),
        ],
        move || {
            thread::sleep(Duration::from_millis(1000));
            std::fs::OpenOptions::new()
                .append(true)
                .open(&target)?
                .write_all(&bytes[half..])
        },
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert!(watched.stderr.is_empty(), "{}", watched.stderr);
    assert_ends_as_analyze(&watched.events, &analyze(&path)?)
}

#[test]
fn a_json_lines_logs_last_record_without_a_newline_is_read_when_whole() -> TestResult {
    // Records are appended in pieces cut anywhere (half a record is never a value: no row is
    // ever skipped as malformed); the last record never gets its newline. It is read once the
    // file stopped growing (a look before the idle exit has every row) and ends as `analyze`.
    let records: Vec<String> = (0..400u32)
        .map(|s| {
            let t = f64::from(s);
            let loss = 0.45 + 0.4 * (-t / 120.0).exp() + 0.003 * (t * 0.7).sin();
            let reg = 0.3 + 0.4 * (-t / 160.0).exp();
            format!(r#"{{"step": {s}, "loss": {loss:.6}, "reg-loss": {reg:.6}}}"#)
        })
        .collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("metrics.jsonl");
    std::fs::write(&path, records[..100].join("\n") + "\n")?;
    let rest = records[100..].join("\n").into_bytes();
    let target = path.clone();
    let watched = watch_while(
        &[
            "--json",
            "--interval=0.2",
            "--idle-exit=4",
            &path.display().to_string(),
        ],
        move || append_in_pieces(&rest, &target, 900, Duration::from_millis(40), 0x5e_a1),
    )?;
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    for e in &watched.events {
        assert_eq!(e["input"]["rows_skipped"], 0, "{}", e["input"]);
    }
    let before_idle = &watched.events[..watched.events.len().saturating_sub(1)];
    assert!(
        before_idle.iter().any(|e| e["rows"] == 400),
        "the last record was read once the file stopped growing"
    );
    assert_ends_as_analyze(&watched.events, &analyze(&path)?)
}
