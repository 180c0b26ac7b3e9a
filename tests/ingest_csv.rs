//! CSV ingestion: every quirk of the logs the V-JEPA family writes, and generic tables.

mod common;

use common::*;
use jepa_doctor::clean::CleanOptions;
use jepa_doctor::ingest::IngestOptions;
use jepa_doctor::model::{IpeSource, Role};

#[test]
fn recipe_sample_one_restart_replayed_rows_counted_steps_continuous() {
    let run = run_of(&[&fixture("samples/recipe")]);
    let input = &run.input;
    assert_eq!(input.format, "vjepa-csv");
    assert_eq!(input.restarts, 1);
    // The interrupted epoch 5 logged itr 0..=44 before the kill, then was replayed in full.
    assert_eq!(input.rows.rows_replaced, 45);
    assert_eq!(input.duplicates_replaced, 45);
    assert_eq!(input.rows.rows_read, 798);
    assert!(input.rows.balances());
    let steps = steps(&run);
    assert_eq!(steps.len(), 753);
    assert!(
        steps.iter().enumerate().all(|(i, s)| *s == i as u64),
        "steps have gaps"
    );
    assert_eq!(input.ipe.unwrap().value, 100);
    assert_eq!(input.ipe.unwrap().source, IpeSource::Config);
    // Step 400 = epoch 5 itr 0: the value of the replay (second occurrence), not the first.
    let jepa = series(&run, "loss-jepa");
    let at = run.steps.position(400).unwrap();
    assert_eq!(jepa.get(at), Some(0.25471));
    assert_eq!(jepa.role, Role::Jepa);
    assert_eq!(series(&run, "reg-loss").role, Role::Reg);
    assert_eq!(series(&run, "loss").role, Role::Total);
}

#[test]
fn warmup_zero_grad_norms_are_missing_not_zero() {
    let run = run_of(&[&fixture("samples/recipe")]);
    let grad = values(&run, "enc-grad-norm");
    // Clipping starts after the 5th epoch: nothing before step 500.
    assert_eq!(grad.first().unwrap().0, 500);
    assert!(grad.iter().all(|(_, v)| *v > 0.0));
    assert_eq!(series(&run, "enc-grad-norm").role, Role::GradNorm);
}

#[test]
fn highlr_sample_counts_nan_grad_norms_and_keeps_the_rows() {
    let run = run_of(&[&fixture("samples/highlr_reg/jepa_r0.csv")]);
    let grad = series(&run, "enc-grad-norm").summary(&run.steps);
    assert_eq!(grad.non_finite, 8);
    let loss = series(&run, "loss-jepa").summary(&run.steps);
    assert_eq!(loss.non_finite, 0);
    assert_eq!(loss.points, 846);
    assert_eq!(run.input.rows.rows_used, 846);
}

#[test]
fn restart_replay_keeps_the_resumed_values() {
    let run = run_of(&[&fixture("csv/vjepa_restart_replay.csv")]);
    assert_eq!(run.input.restarts, 1);
    assert_eq!(run.input.rows.rows_replaced, 7);
    assert_eq!(steps(&run), (0..40).collect::<Vec<u64>>());
    // The first attempt at epoch 3 had +0.01 of jitter; the resumed run did not.
    let jepa = values(&run, "loss-jepa");
    let first_try = 0.2 + 0.6 * (-20.0f64 / 15.0).exp() + 0.01;
    assert!(
        (f64::from(jepa[20].1) - (first_try - 0.01)).abs() < 1e-4,
        "{:?}",
        jepa[20]
    );
    assert!(run.input.rows.balances());
}

#[test]
fn truncated_last_line_is_skipped_with_a_reason() {
    let run = run_of(&[&fixture("csv/vjepa_truncated_last_line.csv")]);
    assert_eq!(run.input.rows.rows_skipped, 1);
    assert_eq!(steps(&run).last(), Some(&29));
    let skip = &run.input.skipped[0];
    assert_eq!(skip.line, Some(32));
    assert!(
        skip.reason.contains("incomplete last line"),
        "{}",
        skip.reason
    );
}

#[test]
fn a_row_cut_short_by_a_restart_is_skipped_and_the_replay_wins() {
    let run = run_of(&[&fixture("csv/vjepa_cut_before_restart.csv")]);
    assert_eq!(run.input.rows.rows_skipped, 1);
    assert_eq!(run.input.rows.rows_replaced, 4);
    assert_eq!(run.input.restarts, 1);
    assert_eq!(run.steps.len(), 30);
    assert!(
        run.input.skipped[0]
            .reason
            .contains("cut short by the restart")
    );
    assert!(run.input.rows.balances());
}

#[test]
fn a_last_line_without_newline_is_withheld_for_jepa_logs_only() {
    let dir = tempfile::tempdir().unwrap();
    let body = "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n\
                1,0,0.9,0.9,0.9,0,0,1,1\n1,1,0.8,0.8,0.9,0,0,1,1";
    let vjepa = dir.path().join("jepa_r0.csv");
    std::fs::write(&vjepa, body).unwrap();
    let run = run_of(&[vjepa.to_str().unwrap()]);
    assert_eq!(run.steps.len(), 1);
    assert!(run.input.skipped[0].reason.contains("no newline"));

    let generic = dir.path().join("metrics.csv");
    std::fs::write(&generic, "step,loss\n0,0.9\n1,0.8").unwrap();
    let run = run_of(&[generic.to_str().unwrap()]);
    assert_eq!(run.steps.len(), 2);
}

#[test]
fn nan_and_inf_tokens_are_counted_per_series() {
    let run = run_of(&[&fixture("csv/vjepa_nan_loss_last_row.csv")]);
    let jepa = series(&run, "loss-jepa").summary(&run.steps);
    assert_eq!(jepa.non_finite, 1);
    assert_eq!(jepa.last_step, Some(30));
    assert_eq!(
        series(&run, "enc-grad-norm").summary(&run.steps).non_finite,
        2
    );
    assert_eq!(
        series(&run, "pred-grad-norm")
            .summary(&run.steps)
            .non_finite,
        2
    );
    let last = values(&run, "loss-jepa").last().unwrap().1;
    assert!(last.is_nan());
}

#[test]
fn vjepa2_and_ijepa_dialects() {
    let v2 = run_of(&[&fixture("csv/vjepa2_log_r0.csv")]);
    assert_eq!(v2.input.format, "vjepa2-csv");
    assert_eq!(
        names(&v2),
        ["loss", "iter-time(ms)", "gpu-time(ms)", "dataload-time(ms)"]
    );
    assert_eq!(series(&v2, "loss").role, Role::Total);
    assert_eq!(series(&v2, "dataload-time(ms)").role, Role::Timing);
    assert_eq!(v2.input.ipe.unwrap().source, IpeSource::Inferred);
    assert_eq!(v2.steps.len(), 30);

    let ij = run_of(&[&fixture("csv/ijepa.csv")]);
    assert_eq!(ij.input.format, "ijepa-csv");
    assert_eq!(series(&ij, "time (ms)").role, Role::Timing);
    assert_eq!(series(&ij, "mask-A").role, Role::Other);
    assert_eq!(series(&ij, "loss").role, Role::Total);
}

#[test]
fn generic_tsv_ignores_text_columns_and_takes_role_flags() {
    let path = fixture("csv/generic_custom_names.tsv");
    let run = run_of(&[&path]);
    assert_eq!(run.input.format, "csv");
    assert_eq!(names(&run), ["pred_l2", "std_penalty", "learning_rate"]);
    assert_eq!(steps(&run)[..3], [0, 10, 20]);
    assert!(
        run.input
            .warnings
            .iter()
            .any(|w| w.contains("'phase' holds text"))
    );
    assert_eq!(series(&run, "pred_l2").role, Role::Other);
    assert_eq!(series(&run, "learning_rate").role, Role::Lr);

    let opts = CleanOptions {
        jepa_col: Some("pred_l2".into()),
        reg_col: Some("std_penalty".into()),
        ..CleanOptions::default()
    };
    let run = run_with(&[&path], &IngestOptions::default(), &opts);
    assert_eq!(series(&run, "pred_l2").role, Role::Jepa);
    assert_eq!(series(&run, "std_penalty").role, Role::Reg);
}

#[test]
fn step_col_flag_picks_the_step_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    std::fs::write(&path, "tick,loss\n5,1.0\n10,0.5\n").unwrap();
    let ingest = IngestOptions {
        step_col: Some("tick".into()),
        ..IngestOptions::default()
    };
    let run = run_with(&[path.to_str().unwrap()], &ingest, &CleanOptions::default());
    assert_eq!(steps(&run), [5, 10]);
}

#[test]
fn sparse_lightning_rows_merge_by_step() {
    let run = run_of(&[&fixture("csv/lightning_sparse_metrics.csv")]);
    assert_eq!(series(&run, "train_loss").summary(&run.steps).points, 20);
    assert_eq!(series(&run, "val_loss").summary(&run.steps).points, 4);
    assert_eq!(series(&run, "val_loss").role, Role::Eval);
    assert_eq!(series(&run, "lr-AdamW").role, Role::Lr);
    // The val rows share their step with a train row: merged, not replaced.
    assert_eq!(run.steps.len(), 20);
    assert_eq!(run.input.rows.rows_replaced, 0);
    assert_eq!(run.input.rows.rows_used, 24);
}

#[test]
fn ranks_merge_by_mean_and_report_their_spread() {
    let run = run_of(&[&fixture("ranks")]);
    assert_eq!(run.input.ranks, 2);
    assert_eq!(run.input.sources.len(), 2);
    assert_eq!(run.steps.len(), 30);
    let spread = run.input.rank_spread.as_ref().unwrap();
    assert_eq!(spread.series, "loss-jepa");
    assert!((spread.median_range - 0.01).abs() < 1e-5, "{spread:?}");
    // r1 = r0 + 0.01 ⇒ the merged value is r0 + 0.005.
    let r0 = run_of(&[&fixture("ranks/jepa_r0.csv")]);
    let (a, b) = (
        values(&run, "loss-jepa")[3].1,
        values(&r0, "loss-jepa")[3].1,
    );
    assert!((a - b - 0.005).abs() < 1e-5);
    assert_eq!(run.input.ipe.unwrap().value, 10);
}

#[test]
fn ipe_comes_from_the_flag_before_the_config() {
    let opts = CleanOptions {
        ipe: Some(20),
        ..CleanOptions::default()
    };
    let run = run_with(&[&fixture("ranks")], &IngestOptions::default(), &opts);
    assert_eq!(run.input.ipe.unwrap().source, IpeSource::Flag);
    // Epoch 2 itr 0 is step 20 with 20 iterations per epoch.
    assert_eq!(steps(&run)[10], 20);
}

#[test]
fn an_ipe_below_the_logged_itr_is_rejected_with_a_warning() {
    let opts = CleanOptions {
        ipe: Some(5),
        ..CleanOptions::default()
    };
    let run = run_with(&[&fixture("ranks")], &IngestOptions::default(), &opts);
    assert_eq!(run.input.ipe.unwrap().value, 10);
    assert_eq!(run.input.ipe.unwrap().source, IpeSource::Config);
    assert!(run.input.warnings.iter().any(|w| w.contains("--ipe")));
}

#[test]
fn reg_is_derived_from_total_and_jepa_when_reg_coeff_is_known() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("log.csv"),
        "epoch,itr,loss,loss-jepa\n1,0,1.5,1.0\n1,1,1.2,0.9\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("params-pretrain.yaml"),
        "loss:\n  reg_coeff: 0.5\n",
    )
    .unwrap();
    let run = run_of(&[dir.path().to_str().unwrap()]);
    let reg = run.first_with_role(Role::Reg).unwrap();
    let got: Vec<f32> = reg.points(&run.steps).map(|(_, v)| v).collect();
    assert!(
        (got[0] - 1.0).abs() < 1e-6 && (got[1] - 0.6).abs() < 1e-6,
        "{got:?}"
    );
    assert!(reg.note.as_deref().unwrap().contains("reg_coeff 0.5"));
}

#[test]
fn epoch_only_tables_use_the_epoch_as_step_and_say_so() {
    let run = run_of(&[&fixture("csv/epoch_only.csv")]);
    assert_eq!(run.steps.len(), 10);
    assert!(
        run.input
            .warnings
            .iter()
            .any(|w| w.contains("using 'epoch'"))
    );
}

#[test]
fn bad_inputs_fail_with_file_and_line() {
    let cases = [
        ("broken/empty.csv", "the file is empty"),
        ("broken/header_only.csv", "only a header"),
        ("broken/no_numeric_column.csv", "no numeric column"),
        ("broken/no_step_column.csv", "no step-like column"),
        ("broken/non_utf8_value.csv", ":3: column 'loss': "),
        ("broken/non_utf8_header.csv", ":1: header field"),
        (
            "broken/ragged_row.csv",
            ":6: row has 4 fields, the header has 9",
        ),
        (
            "broken/garbage_value.csv",
            ":4: column 'loss-jepa': \"abc\" is not a number",
        ),
    ];
    for (file, expected) in cases {
        let message = error_of(&[&fixture(file)]);
        assert!(message.contains(file), "{file}: {message}");
        assert!(message.contains(expected), "{file}: {message}");
    }
}

#[test]
fn a_missing_file_and_an_empty_directory_are_errors() {
    let message = error_of(&[&fixture("csv/does_not_exist.csv")]);
    assert!(
        message.contains("does_not_exist.csv") && message.contains("No such file"),
        "{message}"
    );
    let dir = tempfile::tempdir().unwrap();
    let message = error_of(&[dir.path().to_str().unwrap()]);
    assert!(message.contains("no training log"), "{message}");
}
