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
