//! Logs given together are one run's parts only when they continue each other: two logs that
//! start at the same step are two runs (or one log twice) and are refused, whatever their
//! formats — a V-JEPA CSV keyed by (epoch, itr) meets a log keyed by global steps at step `itr`
//! of its first epoch. Generated runs of every pair of formats, with known truth: different runs
//! starting together are refused naming both; one run cut in two parts, in two formats, is
//! read as one run with every row; a resumed part replaces the steps it replays; one file given
//! twice, a byte-identical copy and an earlier snapshot of a growing log are named so.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{doctor, refusal, report};

const FORMATS: [&str; 4] = ["vjepa-csv", "csv", "jsonl", "trainer_state"];

/// Iterations per epoch of the V-JEPA CSVs (steps are `(epoch − 1) · IPE + itr`).
const IPE: u64 = 100;

/// A descending loss of run `seed` at `step`.
fn loss(seed: u64, step: u64) -> f64 {
    let level = 0.5 + 0.1 * seed as f64;
    level + 2.0 * (-(step as f64) / 150.0).exp() + 0.01 * ((step * 7 + seed * 13) % 11) as f64
}

/// Writes steps `from..to` of run `seed` in `format` to `dir`; returns the file.
fn write(dir: &Path, name: &str, format: &str, seed: u64, from: u64, to: u64) -> PathBuf {
    let steps = from..to;
    let (file, text) = match format {
        "vjepa-csv" => (
            format!("{name}.csv"),
            std::iter::once("epoch,itr,loss,loss-jepa,reg-loss".to_string())
                .chain(steps.map(|s| {
                    let l = loss(seed, s);
                    format!("{},{},{l:.5},{l:.5},0.5", s / IPE + 1, s % IPE)
                }))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "csv" => (
            format!("{name}_steps.csv"),
            std::iter::once("step,loss".to_string())
                .chain(steps.map(|s| format!("{s},{:.5}", loss(seed, s))))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "jsonl" => (
            format!("{name}.jsonl"),
            steps
                .map(|s| format!(r#"{{"step": {s}, "loss": {:.5}}}"#, loss(seed, s)))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "trainer_state" => {
            let history: Vec<Value> = steps
                .map(|s| serde_json::json!({"step": s, "loss": loss(seed, s)}))
                .collect();
            (
                format!("{name}_trainer_state.json"),
                serde_json::json!({ "log_history": history }).to_string(),
            )
        }
        _ => unreachable!("{format}"),
    };
    let path = dir.join(file);
    std::fs::write(&path, text + "\n").unwrap();
    path
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn two_runs_that_start_together_are_refused_in_every_pair_of_formats() {
    let mut refused = 0;
    for a in FORMATS {
        for b in FORMATS {
            let dir = tempfile::tempdir().unwrap();
            let first = write(dir.path(), "run_a", a, 1, 0, 300);
            let second = write(dir.path(), "run_b", b, 2, 0, 300);
            let err = refusal(&[arg(&first), arg(&second)]);
            assert!(err.contains("different runs"), "{a} + {b}: {err}");
            assert!(
                err.contains("run_a") && err.contains("run_b"),
                "{a} + {b}: {err}"
            );
            refused += 1;
        }
    }
    println!(
        "{refused} of {} pairs of different runs refused",
        FORMATS.len().pow(2)
    );
}

#[test]
fn one_run_in_two_parts_of_different_formats_is_read_whole() {
    for a in FORMATS {
        for b in FORMATS {
            let dir = tempfile::tempdir().unwrap();
            // A restart resumes at step 300 (epoch 4 of the V-JEPA CSV) and logs in `b`.
            let first = write(dir.path(), "part_1", a, 1, 0, 300);
            let second = write(dir.path(), "part_2", b, 1, 300, 600);
            let r = report(&[arg(&first), arg(&second)]);
            assert_eq!(r["input"]["rows_used"], 600, "{a} + {b}: {}", r["input"]);
            assert_eq!(
                r["input"]["sources"].as_array().unwrap().len(),
                2,
                "{a} + {b}"
            );
        }
    }
}

/// The loss column of `--export=-` for `inputs`: step → value.
fn exported_loss(inputs: &[&str]) -> std::collections::BTreeMap<u64, f64> {
    let out = doctor()
        .arg("analyze")
        .args(inputs)
        .arg("--export=-")
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{inputs:?}: {out:?}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "loss").unwrap();
    lines
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            Some((cells[0].parse().ok()?, cells[column].parse().ok()?))
        })
        .collect()
}

#[test]
fn a_resumed_part_replaces_the_steps_it_replays_in_every_pair_of_formats() {
    // Part 1 (a trajectory the crash discarded: other values) logs steps 0..350; the run
    // resumes from the checkpoint at step 250 and logs 250..600. Truth: steps 250..350 are part
    // 2's values, never a mean of both, and part 1's 100 replayed rows count as replaced.
    let mut checked = 0;
    for a in FORMATS {
        for b in FORMATS {
            let dir = tempfile::tempdir().unwrap();
            let first = write(dir.path(), "part_1", a, 9, 0, 350);
            let second = write(dir.path(), "part_2", b, 1, 250, 600);
            let inputs = [arg(&first), arg(&second)];
            let r = report(&inputs);
            let input = &r["input"];
            assert_eq!(input["rows_read"], 700, "{a} + {b}: {input}");
            assert_eq!(input["rows_used"], 600, "{a} + {b}: {input}");
            assert_eq!(input["rows_replaced"], 100, "{a} + {b}: {input}");
            let note = input["warnings"].to_string();
            assert!(
                note.contains("resumes the run at step 250") && note.contains("100 rows"),
                "{a} + {b}: {note}"
            );
            let loss = exported_loss(&inputs);
            assert_eq!(loss.len(), 600, "{a} + {b}");
            for (step, value) in &loss {
                let truth = loss_at(if *step < 250 { 9 } else { 1 }, *step);
                assert!(
                    (value - truth).abs() < 1e-4,
                    "{a} + {b}: step {step} is {value}, the resumed run logged {truth}"
                );
            }
            checked += 1;
        }
    }
    println!("{checked} pairs of resumed parts: replayed steps replaced, none averaged");
}

#[test]
fn a_log_of_other_series_starting_later_replaces_nothing() {
    // The run's training log, and an eval log from step 100 on (every 100 steps): the eval log
    // adds a series; it is no resume, and no training row is replaced.
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train", format, 1, 0, 600);
        let eval = dir.path().join("eval.jsonl");
        let lines: Vec<String> = (1..6)
            .map(|k| {
                format!(
                    r#"{{"step": {}, "val_loss": {:.3}}}"#,
                    k * 100,
                    1.0 / k as f64
                )
            })
            .collect();
        std::fs::write(&eval, lines.join("\n") + "\n").unwrap();
        let inputs = [arg(&train), eval.to_str().unwrap()];
        let r = report(&inputs);
        let input = &r["input"];
        assert_eq!(input["rows_used"], 605, "{format}: {input}");
        assert_eq!(input["rows_replaced"], 0, "{format}: {input}");
        let loss = exported_loss(&inputs);
        assert_eq!(loss.len(), 600, "{format}");
        assert!(
            loss.iter().all(|(s, v)| (v - loss_at(1, *s)).abs() < 1e-4),
            "{format}"
        );
    }
}

/// The loss as [`write`] prints it (five decimals).
fn loss_at(seed: u64, step: u64) -> f64 {
    format!("{:.5}", loss(seed, step)).parse().unwrap()
}

#[test]
fn one_file_twice_and_a_copy_of_one_log_are_named_so() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let log = write(dir.path(), "run", format, 1, 0, 300);
        let err = refusal(&[arg(&log), arg(&log)]);
        assert!(err.contains("is given twice"), "{format}: {err}");
        let other_name = dir.path().join(".").join(log.file_name().unwrap());
        let err = refusal(&[arg(&log), arg(&other_name)]);
        assert!(err.contains("one file given twice"), "{format}: {err}");
        let copy = dir.path().join(format!(
            "copy_{}",
            log.file_name().unwrap().to_string_lossy()
        ));
        std::fs::copy(&log, &copy).unwrap();
        let err = refusal(&[arg(&log), arg(&copy)]);
        assert!(err.contains("copies of one log"), "{format}: {err}");
    }
    // A rank file beside a plain copy of itself is refused too (it was averaged as restarts).
    let ranked = dir.path().join("jepa_r0.csv");
    let plain = write(dir.path(), "plain", "vjepa-csv", 3, 0, 300);
    std::fs::copy(&plain, &ranked).unwrap();
    let out = doctor()
        .args(["analyze", arg(&plain), arg(&ranked)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("copies of one log"));
}

#[test]
fn an_earlier_snapshot_of_a_growing_log_is_named_so_with_the_newest_to_pass() {
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let early = write(dir.path(), "snapshot_early", format, 1, 0, 150);
        let late = write(dir.path(), "snapshot_late", format, 1, 0, 300);
        for (a, b) in [(&early, &late), (&late, &early)] {
            let err = refusal(&[arg(a), arg(b)]);
            assert!(
                err.contains(&format!(
                    "{} is an earlier snapshot of {} (its 150 rows are the other's first 150 of 300)",
                    arg(&early),
                    arg(&late)
                )) && err.contains(&format!("jepa-doctor analyze {}`", arg(&late))),
                "{format}: {err}"
            );
        }
        // The same rows written twice (other bytes: here, another order of keys) are copies.
        let same = write(dir.path(), "snapshot_same", format, 1, 0, 300);
        let text = std::fs::read_to_string(&same).unwrap();
        std::fs::write(&same, text.replace(", \"loss\"", ",  \"loss\"")).unwrap();
        let err = refusal(&[arg(&late), arg(&same)]);
        if format == "jsonl" {
            assert!(err.contains("hold the same 300 rows"), "{format}: {err}");
        } else {
            assert!(err.contains("copies of one log"), "{format}: {err}");
        }
    }
    // Two checkpoints of one Hugging Face run, as the Trainer wrote them.
    let hf = |n: u32| {
        super::fixture(&format!(
            "formats/framework/hf_output_dir/checkpoint-{n}/trainer_state.json"
        ))
    };
    let err = refusal(&[&hf(300), &hf(600)]);
    assert!(err.contains("is an earlier snapshot of"), "{err}");
    // Their folders given, in either order: the same, and the command names the newest folder.
    let folder =
        |n: u32| super::fixture(&format!("formats/framework/hf_output_dir/checkpoint-{n}"));
    for (a, b) in [(folder(600), folder(300)), (folder(300), folder(600))] {
        let err = refusal(&[&a, &b]);
        assert!(
            err.contains("is an earlier snapshot of")
                && err.ends_with(&format!("`jepa-doctor analyze {}`\n", folder(600))),
            "{err}"
        );
    }
    // With a resumed part beside them, the command keeps it.
    let dir = tempfile::tempdir().unwrap();
    let early = write(dir.path(), "snapshot_early", "csv", 1, 0, 150);
    let late = write(dir.path(), "snapshot_late", "csv", 1, 0, 300);
    let resumed = write(dir.path(), "resumed", "csv", 1, 300, 600);
    let err = refusal(&[arg(&late), arg(&early), arg(&resumed)]);
    assert!(
        err.ends_with(&format!(
            "`jepa-doctor analyze {} {}`\n",
            arg(&late),
            arg(&resumed)
        )),
        "{err}"
    );
}

#[test]
fn a_folder_store_or_standard_input_is_one_log_in_the_same_rule() {
    let same = |rel: &str| super::fixture(&format!("formats/same_run/{rel}"));
    let other_run = super::fixture("samples/recipe/jepa_r0.csv");
    // A store beside a log of another run starting at the same step: two runs.
    for store in ["tensorboard", "mlruns", "wandb"] {
        let err = refusal(&[&same(store), &other_run]);
        assert!(err.contains("different runs"), "{store}: {err}");
        // The same store twice, by the same or another path.
        let err = refusal(&[&same(store), &same(store)]);
        assert!(err.contains("is given twice"), "{store}: {err}");
        let err = refusal(&[&same(store), &format!("{}/../{store}", same(store))]);
        assert!(err.contains("one file given twice"), "{store}: {err}");
    }
    // A log inside a folder also given would be read from both.
    let events = std::fs::read_dir(same("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .unwrap();
    let err = refusal(&[&same("tensorboard"), arg(&events)]);
    assert!(err.contains("is inside"), "{err}");
    // Standard input is a log like any other: another run on it is refused.
    let out = doctor()
        .args(["analyze", "-", &other_run])
        .write_stdin(std::fs::read(super::fixture("samples/highlr_reg/jepa_r0.csv")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("different runs"));
    // Rank 0 of two runs (other contents, two folders) is two runs, not "one log twice".
    let err = refusal(&[
        &super::fixture("samples/highlr_reg/jepa_r0.csv"),
        &other_run,
    ]);
    assert!(err.contains("different runs"), "{err}");
}
