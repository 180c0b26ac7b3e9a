//! JSON logs (lines and documents) and console output of the JEPA trainers.

mod common;

use common::*;
use jepa_doctor::clean::CleanOptions;
use jepa_doctor::ingest::{IngestOptions, load};
use jepa_doctor::model::{Format, IpeSource, Role, Run};

fn same_points(a: &Run, b: &Run, name: &str) {
    let (pa, pb) = (values(a, name), values(b, name));
    assert_eq!(pa.len(), pb.len(), "{name}");
    for ((sa, va), (sb, vb)) in pa.iter().zip(&pb) {
        assert_eq!(sa, sb, "{name}");
        assert!(
            va.to_bits() == vb.to_bits() || (va.is_nan() && vb.is_nan()),
            "{name} at {sa}: {va} vs {vb}"
        );
    }
}

#[test]
fn jsonl_and_csv_of_the_same_run_give_the_same_series() {
    let csv = run_of(&[&fixture("samples/highlr_reg/jepa_r0.csv")]);
    let jsonl = run_of(&[&fixture("json/highlr_reg_twin.jsonl")]);
    assert_eq!(jsonl.input.format, "jsonl");
    assert_eq!(csv.steps, jsonl.steps);
    for s in &csv.series {
        same_points(&csv, &jsonl, &s.name);
        assert_eq!(series(&jsonl, &s.name).role, s.role);
    }
    // Python's bare NaN tokens arrived as values.
    assert_eq!(
        series(&jsonl, "enc-grad-norm")
            .summary(&jsonl.steps)
            .non_finite,
        8
    );
}

#[test]
fn jsonl_with_varying_keys_nesting_and_bad_lines() {
    let run = run_of(&[&fixture("json/train_eval_mixed.jsonl")]);
    let input = &run.input;
    assert_eq!(
        (
            input.rows.rows_read,
            input.rows.rows_used,
            input.rows.rows_skipped
        ),
        (46, 44, 2)
    );
    assert!(input.rows.balances());
    assert_eq!(input.skipped[0].line, Some(14));
    assert!(
        input.skipped[0]
            .reason
            .starts_with("invalid JSON at column 36"),
        "{}",
        input.skipped[0]
    );
    assert_eq!(input.skipped[1].line, Some(22));
    assert!(input.skipped[1].reason.contains("not a JSON object"));
    assert_eq!(
        names(&run),
        ["train/loss", "train/lr", "eval/knn_top1", "train/grad_norm"]
    );
    assert_eq!(series(&run, "train/loss").role, Role::Total);
    let knn = series(&run, "eval/knn_top1");
    assert_eq!(knn.role, Role::Eval);
    assert_eq!(knn.summary(&run.steps).points, 4);
    // The NaN line sits at step 175 between the train lines; Infinity is a value too.
    let loss = values(&run, "train/loss");
    assert!(loss.iter().any(|(s, v)| *s == 175 && v.is_nan()));
    assert_eq!(values(&run, "train/grad_norm"), [(175, f32::INFINITY)]);
    // Eval lines share the step of a train line: merged into it, nothing replaced.
    assert_eq!(input.rows.rows_replaced, 0);
}

#[test]
fn strict_turns_a_skipped_line_into_an_error() {
    let ingest = IngestOptions {
        strict: true,
        ..IngestOptions::default()
    };
    let err = load(&[fixture("json/train_eval_mixed.jsonl")], &ingest).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("train_eval_mixed.jsonl:14: invalid JSON"),
        "{text}"
    );
    assert!(text.contains("--strict"), "{text}");
}

#[test]
fn wandb_history_uses_underscore_step() {
    let run = run_of(&[&fixture("json/wandb_history.jsonl")]);
    assert_eq!(run.steps.len(), 20);
    assert_eq!(series(&run, "loss_jepa").role, Role::Jepa);
    assert_eq!(series(&run, "sigreg").role, Role::Reg);
    assert_eq!(series(&run, "_runtime").role, Role::Timing);
    assert!(run.series_named("_step").is_none());
}

#[test]
fn hugging_face_trainer_state() {
    let run = run_of(&[&fixture("json/trainer_state.json")]);
    assert_eq!(run.input.format, "json");
    assert_eq!(series(&run, "loss").role, Role::Total);
    assert_eq!(series(&run, "learning_rate").role, Role::Lr);
    assert_eq!(series(&run, "grad_norm").role, Role::GradNorm);
    assert_eq!(series(&run, "eval_loss").role, Role::Eval);
    assert_eq!(series(&run, "eval_loss").summary(&run.steps).points, 3);
    assert_eq!(steps(&run).first(), Some(&10));
    // The final summary (train_loss, train_runtime) is not a step.
    assert!(run.series_named("train_loss").is_none());
    let skip = &run.input.skipped[0];
    assert_eq!(skip.record, Some(34));
    assert!(skip.reason.contains("summary"));
}

#[test]
fn a_json_array_keyed_by_epoch_and_itr() {
    let run = run_of(&[&fixture("json/epoch_itr_array.json")]);
    assert_eq!(steps(&run), (0..15).collect::<Vec<u64>>());
    assert_eq!(run.input.ipe.unwrap().value, 5);
}

#[test]
fn broken_json_documents_name_line_and_column() {
    let message = error_of(&[&fixture("broken/json_array_cut.json")]);
    assert!(message.contains("json_array_cut.json:"), "{message}");
    let position = message.split(':').nth(1).unwrap();
    assert!(position.parse::<u64>().is_ok(), "{message}");
    assert!(message.contains("EOF"), "{message}");
    let message = error_of(&[&fixture("broken/json_not_records.json")]);
    assert!(message.contains("no records"), "{message}");
}

#[test]
fn sniffing_reads_content_not_names_and_format_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("metrics.txt");
    std::fs::copy(fixture("json/wandb_history.jsonl"), &renamed).unwrap();
    let run = run_of(&[renamed.to_str().unwrap()]);
    assert_eq!(run.input.format, "jsonl");

    let console = dir.path().join("train.csv");
    std::fs::copy(fixture("samples/recipe/stdout.log"), &console).unwrap();
    let run = run_of(&[console.to_str().unwrap()]);
    assert_eq!(run.input.format, "console-log");

    let forced = IngestOptions {
        format: Some(Format::Csv),
        ..IngestOptions::default()
    };
    let err = load(&[fixture("json/wandb_history.jsonl")], &forced).unwrap_err();
    assert!(err.to_string().contains("wandb_history.jsonl"), "{err}");
}

/// JSON lines whose first record is longer than the bytes the format is recognised from (a
/// 2,000-metric record is ~70 KiB): read as JSON lines when the name says so; under another name
/// the JSON-document error says how to read it (it used to be a bare "trailing characters").
#[test]
fn json_lines_with_a_first_record_longer_than_the_sniffed_head() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..60u32 {
        text.push_str(&format!(
            "{{\"step\": {}, \"loss\": {:.5}",
            i * 10,
            1.0 / (1.0 + f64::from(i) * 0.05)
        ));
        for k in 0..2000 {
            text.push_str(&format!(
                ", \"probe/metric_with_a_long_name_{k:05}\": 0.{k:05}"
            ));
        }
        text.push_str("}\n");
    }
    assert!(
        text.find('\n').unwrap() > 64 << 10,
        "the first record must outgrow the head"
    );
    let named = dir.path().join("metrics.jsonl");
    std::fs::write(&named, &text).unwrap();
    let out = doctor()
        .args(["analyze", "--json=-"])
        .arg(&named)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["input"]["format"], "jsonl", "{report}");

    let unnamed = dir.path().join("metrics.log");
    std::fs::write(&unnamed, &text).unwrap();
    let out = doctor()
        .args(["analyze", "-q"])
        .arg(&unnamed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("metrics.log:2:1") && stderr.contains("--format jsonl"),
        "{stderr}"
    );
    doctor()
        .args(["analyze", "-q", "--format", "jsonl"])
        .arg(&unnamed)
        .assert()
        .code(0);
}

/// Window means of a CSV series over the windows the console log printed: `(a, b]` within an
/// epoch, `0..=b` for the first line of an epoch.
fn csv_window_mean(csv: &Run, name: &str, ipe: u64, a: Option<u64>, b: u64) -> f64 {
    let start = a.map_or(b - b % ipe, |a| a + 1);
    let vals: Vec<f64> = values(csv, name)
        .into_iter()
        .filter(|(s, _)| (start..=b).contains(s))
        .map(|(_, v)| f64::from(v))
        .collect();
    assert_eq!(vals.len() as u64, b - start + 1, "CSV window {start}..={b}");
    vals.iter().sum::<f64>() / vals.len() as f64
}

fn console_agrees_with_csv(sample: &str) {
    let console = run_of(&[&fixture(&format!("samples/{sample}/stdout.log"))]);
    let csv = run_of(&[&fixture(&format!("samples/{sample}/jepa_r0.csv"))]);
    assert_eq!(console.input.ipe.unwrap().source, IpeSource::Log);
    let ipe = console.input.ipe.unwrap().value;
    let steps = steps(&console);
    let mut checked = 0;
    for (i, &b) in steps.iter().enumerate() {
        let prev = (i > 0 && steps[i - 1] / ipe == b / ipe).then(|| steps[i - 1]);
        let (a1, b1) = (prev.map_or(0, |a| a % ipe + 1) as f64, (b % ipe + 1) as f64);
        let width = b1 - a1;
        // Printed with 3 decimals: each running mean is within 0.0005 of the truth.
        let bound = 0.0005 * (a1 + b1) / width + 1e-4;
        for name in ["loss", "loss-jepa", "reg-loss"] {
            let got = f64::from(series(&console, name).get(i).unwrap());
            let want = csv_window_mean(&csv, name, ipe, prev, b);
            assert!(
                (got - want).abs() <= bound,
                "{sample} {name} at step {b}: console {got} vs CSV {want} (bound {bound})"
            );
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
}

#[test]
fn recipe_console_log_agrees_with_its_csv_over_the_same_windows() {
    console_agrees_with_csv("recipe");
    let console = run_of(&[&fixture("samples/recipe/stdout.log")]);
    // The resumed process replays epoch 5: its first attempt's 5 lines are replaced.
    assert_eq!(console.input.restarts, 1);
    assert_eq!(console.input.rows.rows_replaced, 5);
    assert_eq!(console.input.rows.rows_read, 81);
    assert!(console.input.lines_ignored > 300);
    assert_eq!(series(&console, "loss-jepa").role, Role::Jepa);
    assert_eq!(series(&console, "lr").role, Role::Lr);
    // Grad norms come from the grad-stat lines, zero (warmup) read as missing.
    assert_eq!(values(&console, "enc-grad-norm").first().unwrap().0, 500);
}

#[test]
fn highlr_console_log_agrees_with_its_csv_over_the_same_windows() {
    console_agrees_with_csv("highlr_reg");
}

#[test]
fn console_lr_matches_what_the_csv_run_was_scheduled_with() {
    let console = run_of(&[&fixture("samples/recipe/stdout.log")]);
    // Printed at [1, 0]: start_lr + (ref - start)/400 after the scheduler's first step.
    let lr0 = f64::from(values(&console, "lr")[0].1);
    assert!((lr0 - 2.01e-4).abs() < 1e-9, "{lr0}");
}

#[test]
fn ijepa_console_with_log_prefix_ansi_and_a_traceback() {
    let run = run_of(&[&fixture("console/ijepa_prefixed.log")]);
    assert_eq!(run.input.format, "console-log");
    assert_eq!(run.input.rows.rows_read, 15);
    assert_eq!(run.input.rows.rows_used, 15);
    assert_eq!(
        names(&run),
        ["loss", "mask-A", "mask-B", "wd", "lr", "mem", "time (ms)"]
    );
    // Every epoch logs itr 0..=40 every 10: inferred ipe underestimates and says so.
    assert_eq!(run.input.ipe.unwrap().source, IpeSource::Inferred);
    assert!(run.input.warnings.iter().any(|w| w.contains("inferred")));
    let opts = CleanOptions {
        ipe: Some(50),
        ..CleanOptions::default()
    };
    let run = run_with(
        &[&fixture("console/ijepa_prefixed.log")],
        &IngestOptions::default(),
        &opts,
    );
    assert_eq!(steps(&run)[5], 50);
}

#[test]
fn torchrun_rank_prefixes_keep_one_rank() {
    let run = run_of(&[&fixture("console/vjepa2_ranks.log")]);
    assert_eq!(run.input.ipe.unwrap().value, 40);
    assert_eq!(run.input.ipe.unwrap().source, IpeSource::Log);
    assert_eq!(run.input.rows.rows_read, 10);
    assert!(
        run.input
            .warnings
            .iter()
            .any(|w| w.contains("11 lines of other ranks ignored"))
    );
    // The last iteration of each epoch is logged too: steps 30 and 39 close epoch 1.
    assert_eq!(steps(&run)[..6], [0, 10, 20, 30, 39, 40]);
    assert!(run.series_named("masks[8x0.15]").is_some());
}

#[test]
fn vjepa2_ac_components() {
    let run = run_of(&[&fixture("console/vjepa2_ac.log")]);
    assert_eq!(series(&run, "jloss").role, Role::Jepa);
    // Both V-JEPA 2-AC terms (teacher forcing, rollout) are JEPA components (issue 11).
    assert_eq!(series(&run, "sloss").role, Role::Jepa);
    assert_eq!(series(&run, "loss").role, Role::Total);
}

#[test]
fn a_nan_line_is_kept_and_the_traceback_ignored() {
    let run = run_of(&[&fixture("console/vjepa_nan_then_traceback.log")]);
    let loss = values(&run, "loss-jepa");
    let (step, last) = *loss.last().unwrap();
    assert_eq!(step, 43);
    assert!(last.is_nan());
    assert_eq!(series(&run, "loss-jepa").summary(&run.steps).non_finite, 1);
}

#[test]
fn duplicate_json_steps_last_wins_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    std::fs::write(
        &path,
        "{\"step\": 0, \"loss\": 1.0}\n{\"step\": 1, \"loss\": 0.9}\n{\"step\": 1, \"loss\": 0.8}\n",
    )
    .unwrap();
    let run = run_of(&[path.to_str().unwrap()]);
    assert_eq!(run.input.rows.rows_replaced, 1);
    assert_eq!(values(&run, "loss"), [(0, 1.0), (1, 0.8)]);
}

#[test]
fn text_in_a_numeric_key_is_noted_with_its_first_line_and_count() {
    // Seeded placements of text values ("1e", "1.2.3", "0x10") in a loss logged as numbers, and a
    // label key that only ever holds text. (An empty string or "n/a" is a value not logged, not text.)
    for seed in 1..=20u64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let texts = ["\"1e\"", "\"1.2.3\"", "\"0x10\""];
        let mut lines = Vec::new();
        let mut damaged: Vec<usize> = Vec::new();
        for step in 0..120usize {
            let loss = if step > 0 && next() % 10 == 0 {
                damaged.push(step + 1);
                texts[(next() % 3) as usize].to_string()
            } else {
                format!("{:.4}", 1.0 / (1.0 + step as f64 / 50.0))
            };
            lines.push(format!(
                r#"{{"step": {step}, "loss": {loss}, "lr": 0.001, "mode": "train"}}"#
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let run = load(&[path.display().to_string()], &IngestOptions::default()).unwrap();
        let warnings = run.parsed[0].1.table.warnings.join("\n");
        if damaged.is_empty() {
            assert!(!warnings.contains("instead of a number"), "{warnings}");
        } else {
            let n = damaged.len();
            let want = format!(
                "loss: text instead of a number in {n} record{}, left out (first at line {}",
                if n == 1 { "" } else { "s" },
                damaged[0]
            );
            assert!(
                warnings.contains(&want),
                "seed {seed}: want {want}: {warnings}"
            );
        }
        assert!(
            warnings.contains("keys holding text ignored: mode"),
            "{warnings}"
        );
        assert!(!warnings.contains("ignored: loss"), "{warnings}");
        // --strict refuses the first left-out value, naming its line; a label key is no damage.
        let strict = IngestOptions {
            strict: true,
            ..IngestOptions::default()
        };
        let refused = load(&[path.display().to_string()], &strict);
        match (damaged.first(), refused) {
            (None, Ok(_)) => {}
            (Some(line), Err(e)) => {
                let e = e.to_string();
                assert!(
                    e.contains(&format!("train.jsonl:{line}: key 'loss'"))
                        && e.contains("--strict"),
                    "seed {seed}: {e}"
                );
            }
            (want, got) => panic!("seed {seed}: damaged at {want:?}, --strict gave {got:?}"),
        }
    }
}
