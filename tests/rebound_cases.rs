//! The rebound detector and changepoints on real samples, fixtures and hand-made edge cases.

mod common;

use common::*;
use jepa_doctor::diagnose::rebound::{
    Power, Rebound, ReboundSettings, RegTrend, WarmupSource, detect,
};
use jepa_doctor::diagnose::{AnalysisSettings, diagnose};
use jepa_doctor::model::{InputSummary, Role, Run, Series, StepAxis};

/// The detector with default settings on the run's loss (and its reg-loss when it has one).
fn detect_with_defaults(run: &Run) -> Rebound {
    let (r, _, _) = detect(
        &run.series[0],
        run.series.get(1),
        &run.steps,
        None,
        &ReboundSettings::default(),
    );
    r
}

fn run_from(values: &[f64], reg: Option<&[f64]>, step_every: u64) -> Run {
    let n = values.len() as u64;
    let mut series = vec![Series {
        name: "loss-jepa".into(),
        role: Role::Jepa,
        values: values.iter().map(|v| *v as f32).collect(),
        note: None,
        kinds: Vec::new(),
    }];
    if let Some(reg) = reg {
        series.push(Series {
            name: "reg-loss".into(),
            role: Role::Reg,
            values: reg.iter().map(|v| *v as f32).collect(),
            note: None,
            kinds: Vec::new(),
        });
    }
    Run {
        steps: StepAxis::from_sorted((0..n).map(|i| i * step_every).collect()),
        series,
        input: InputSummary::default(),
        params: None,
    }
}

#[test]
fn the_recipe_sample_descends_to_a_floor_and_is_not_a_rebound() {
    for input in ["samples/recipe", "samples/recipe/stdout.log"] {
        let run = run_of(&[&fixture(input)]);
        let d = diagnose(&run, &AnalysisSettings::default());
        let r = &d.rebound;
        assert!(!r.detected, "{input}: {}", r.summary);
        assert_eq!(r.series.as_deref(), Some("loss-jepa"));
        // Warmup is 4 epochs of 100 iterations: the minimum is searched after step 400.
        assert_eq!(r.warmup.unwrap().end_step, 400);
        assert_eq!(r.warmup.unwrap().source, WarmupSource::Config);
        assert!(r.min_step.unwrap() >= 400);
        assert!(r.magnitude.unwrap() < 0.05, "{input}: {:?}", r.magnitude);
        assert_eq!(r.reg_trend_after_min, RegTrend::Flat);
    }
}

#[test]
fn a_rebound_with_falling_reg_loss_is_detected_with_its_numbers() {
    let run = run_of(&[&fixture("synthetic/rebound_reg_falling")]);
    let r = diagnose(&run, &AnalysisSettings::default()).rebound;
    assert!(r.detected, "{}", r.summary);
    // Truth: minimum at 40% of 2000 steps, 30% of the 0.6 descent given back by the end.
    assert!(r.min_step.unwrap().abs_diff(800) <= 120, "{:?}", r.min_step);
    let m = r.magnitude.unwrap();
    assert!((0.2..0.4).contains(&m), "{m}");
    assert!(r.p_value.unwrap() < 1e-6);
    assert!(r.slope_per_1k_steps.unwrap() > 0.1);
    assert!(r.onset_step.unwrap() >= r.min_step.unwrap());
    assert_eq!(r.reg_trend_after_min, RegTrend::Falling);
}

#[test]
fn a_rebound_with_rising_reg_loss_reads_rising() {
    let run = run_of(&[&fixture("synthetic/rebound_reg_rising")]);
    let r = diagnose(&run, &AnalysisSettings::default()).rebound;
    assert!(r.detected);
    assert_eq!(r.reg_trend_after_min, RegTrend::Rising);
    assert!(r.reg.unwrap().change > 0.3);
}

#[test]
fn an_early_rise_during_warmup_is_not_a_rebound() {
    let run = run_of(&[&fixture("synthetic/warmup_rise_then_fall")]);
    let r = diagnose(&run, &AnalysisSettings::default()).rebound;
    assert!(!r.detected, "{}", r.summary);
    assert!(r.min_step.unwrap() > 1500);
}

#[test]
fn a_few_epoch_averages_report_what_is_seen_and_lack_power() {
    let epochs = [1.0, 0.6, 0.42, 0.36, 0.38, 0.41, 0.44, 0.47];
    let run = run_from(&epochs, None, 100);
    let r = detect_with_defaults(&run);
    assert!(!r.detected);
    assert_eq!(r.power, Power::Insufficient);
    assert!(r.magnitude.unwrap() > 0.1);
    assert!(r.min_attainable_p.unwrap() > 0.01);
    assert!(
        r.summary.contains("cannot establish a trend"),
        "{}",
        r.summary
    );
    assert_eq!(r.reg_trend_after_min, RegTrend::Absent);
}

#[test]
fn too_few_points_say_so() {
    let run = run_from(&[1.0, 0.5, 0.7], None, 1);
    let r = detect_with_defaults(&run);
    assert!(!r.detected);
    assert!(r.summary.contains("too few"), "{}", r.summary);
}

#[test]
fn a_drift_of_reg_loss_too_small_to_matter_is_flat_however_significant() {
    // Loss rebounds strongly; reg-loss creeps up by 0.005 over the span with almost no noise.
    let n = 600;
    let loss: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64;
            0.3 + 0.6 * (-t / 0.08).exp()
                + if t > 0.4 { 0.3 * (t - 0.4) } else { 0.0 }
                + 0.005 * ((i * 7919 % 13) as f64 / 13.0 - 0.5)
        })
        .collect();
    let reg: Vec<f64> = (0..n)
        .map(|i| 0.5 + 0.005 * i as f64 / n as f64 + 1e-4 * ((i * 31 % 7) as f64))
        .collect();
    let run = run_from(&loss, Some(&reg), 10);
    let r = detect_with_defaults(&run);
    assert!(r.detected, "{}", r.summary);
    let detail = r.reg.unwrap();
    assert!(
        detail.p_value < 0.01,
        "the drift is significant: {detail:?}"
    );
    assert_eq!(r.reg_trend_after_min, RegTrend::Flat);
}

#[test]
fn shifting_and_scaling_the_loss_changes_nothing() {
    let run = run_of(&[&fixture("synthetic/rebound_reg_falling")]);
    let base = diagnose(&run, &AnalysisSettings::default());
    for (shift, scale) in [(10.0f32, 1.0f32), (0.0, 1000.0), (-0.1, 0.5)] {
        let mut moved = run.clone();
        for v in moved.series[1].values.iter_mut() {
            *v = *v * scale + shift;
        }
        let d = diagnose(&moved, &AnalysisSettings::default());
        assert_eq!(d.rebound.detected, base.rebound.detected);
        assert_eq!(
            d.rebound.min_step, base.rebound.min_step,
            "shift {shift} scale {scale}"
        );
        assert_eq!(d.rebound.onset_step, base.rebound.onset_step);
        let (a, b) = (
            d.rebound.magnitude.unwrap(),
            base.rebound.magnitude.unwrap(),
        );
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }
}

#[test]
fn changepoints_mark_the_regimes_of_the_samples() {
    let run = run_of(&[&fixture("samples/recipe")]);
    let d = diagnose(&run, &AnalysisSettings::default());
    let jepa: Vec<u64> = d
        .changepoints
        .iter()
        .filter(|c| c.series == "loss-jepa")
        .map(|c| c.step)
        .collect();
    // The fast descent of the first epochs ends, then the floor: a few changepoints, all early.
    assert!((1..=4).contains(&jepa.len()), "{jepa:?}");
    assert!(jepa.iter().all(|s| *s < 400), "{jepa:?}");
    assert!(d.changepoints.iter().any(|c| c.series == "reg-loss"));
}

#[test]
fn flags_move_the_decision() {
    let run = run_of(&[&fixture("synthetic/rebound_reg_falling")]);
    let strict = AnalysisSettings {
        rebound: ReboundSettings {
            min_magnitude: 0.5,
            ..ReboundSettings::default()
        },
        ..AnalysisSettings::default()
    };
    let r = diagnose(&run, &strict).rebound;
    assert!(!r.detected);
    assert!(
        r.summary.contains("below the 50.0% threshold"),
        "{}",
        r.summary
    );
    let late_warmup = AnalysisSettings {
        warmup_steps: Some(1900),
        ..AnalysisSettings::default()
    };
    let r = diagnose(&run, &late_warmup).rebound;
    assert_eq!(r.warmup.unwrap().source, WarmupSource::Flag);
    assert!(r.min_step.unwrap() >= 1900);
}

/// The data2vec case (fairseq `train_inner` records, step `num_updates`): the loss falls, then
/// gives back half its descent within a few hundred updates and stays there. A persistent jump
/// is a rebound, placed at the jump (issue 11 item 4).
#[test]
fn a_persistent_jump_after_the_minimum_is_a_rebound_at_its_step() {
    let ingest = jepa_doctor::ingest::IngestOptions {
        step_col: Some("num_updates".into()),
        ..Default::default()
    };
    let run = run_with(
        &[&fixture("json/jump_rebound_data2vec.jsonl")],
        &ingest,
        &Default::default(),
    );
    let d = diagnose(&run, &AnalysisSettings::default());
    let r = &d.rebound;
    assert!(r.detected, "{}", r.summary);
    let min_step = r.min_step.unwrap();
    assert!((8_000..=15_000).contains(&min_step), "{min_step}");
    // The records show the loss leaving 0.6 at update 14,800 and reaching 2.0 by 16,200.
    let jump = r.jump_step.expect("a jump step");
    assert!((14_000..=16_200).contains(&jump), "{jump}");
    assert_eq!(r.onset_step, Some(jump));
    let magnitude = r.magnitude.unwrap();
    assert!((0.4..0.6).contains(&magnitude), "{magnitude}");
    let [a, b] = r.min_step_range.unwrap();
    assert!(a <= min_step && min_step <= b && b < jump, "{a}..{b}");
    assert!(r.summary.contains("jumped up"), "{}", r.summary);
}

/// Generated persistent jumps (half the descent mid-run, or ~12% late), a few of each: found,
/// and placed within 3% of the run (plus the ramp) of the true jump.
#[test]
fn generated_persistent_jumps_are_rebounds_at_their_step() {
    use common::synth::{Noise, Shape, Spec, generate, to_run};
    for (k, (t_jump, size)) in [(0.5, 0.5), (0.6, 0.45), (0.85, 0.12), (0.88, 0.1)]
        .into_iter()
        .enumerate()
    {
        for seed in 0..3u64 {
            let n = [600, 2000][(seed % 2) as usize];
            let synth = generate(Spec {
                shape: Shape::Jump {
                    t_min: 0.3,
                    t_jump,
                    size,
                    width: 30.0 / n as f64,
                },
                noise: Noise::Gaussian { sigma: 0.01 },
                n,
                spikes: false,
                warmup_known: true,
                reg_rising: false,
                seed: 100 * k as u64 + seed,
            });
            let r = detect_with_defaults(&to_run(&synth));
            assert!(r.detected, "jump at {t_jump} seed {seed}: {}", r.summary);
            let truth = synth.steps[((n - 1) as f64 * t_jump) as usize];
            let found = r.onset_step.expect("onset");
            // Within 3% of the run, plus the 30-point width of the ramp.
            let tolerance = (0.03 * synth.steps[n - 1] as f64) as u64 + 300;
            assert!(
                found.abs_diff(truth) <= tolerance,
                "jump at {truth}, found {found} ({})",
                r.summary
            );
        }
    }
}

/// A flat bottom is a range: `min_step_range` spans it and the probes cover it.
#[test]
fn the_flat_bottom_is_reported_as_a_range_with_probes_across_it() {
    // Descent to step 300, flat to step 700, then a rise.
    let values: Vec<f64> = (0..1000)
        .map(|i| {
            let base = if i < 300 {
                1.0 - 0.8 * i as f64 / 300.0
            } else if i < 700 {
                0.2
            } else {
                0.2 + 0.3 * (i - 700) as f64 / 300.0
            };
            // Deterministic pseudo-random noise (an LCG), σ ≈ 0.003.
            let u = ((i as u64)
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407)
                >> 11) as f64
                / (1u64 << 53) as f64;
            base + 0.01 * (u - 0.5)
        })
        .collect();
    let r = detect_with_defaults(&run_from(&values, None, 10));
    let [a, b] = r.min_step_range.unwrap();
    assert!(a <= 3_300 && b >= 6_600, "{a}..{b}");
    assert!(b < 7_500, "{a}..{b}");
    assert_eq!(r.probe_steps.first(), Some(&a));
    assert_eq!(r.probe_steps.last(), Some(&b));
    assert!(r.detected, "{}", r.summary);
}
