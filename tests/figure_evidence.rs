//! The figure shows the evidence: values above an axis are marked with their maximum, NaN/inf
//! steps are marked, long runs get `100k`-style ticks, `--log-y` makes the loss axis
//! logarithmic. Checked on the SVG rendering, whose text is readable.

mod common;

use std::io::Write;

use common::{fixture, svg_of, texts};

#[test]
fn grad_norms_above_the_axis_and_non_finite_values_are_marked() {
    // highlr_reg: enc-grad-norm reaches 769.3 while the axis stops near 25, and has 8 inf values.
    let svg = svg_of(&["analyze", &fixture("samples/highlr_reg")], &[]);
    assert!(svg.contains("↑769.3"), "the clipped maximum is written");
    assert!(
        svg.contains("enc-grad-norm — ▲"),
        "the legend names the marks"
    );
    assert!(svg.contains("above the axis (max 769.3), × 8 nan/inf"));
    assert!(svg.contains("pred-grad-norm — ▲"));
}

#[test]
fn long_runs_get_si_ticks_and_log_y_is_logarithmic() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("long.csv");
    let mut f = std::fs::File::create(&csv).unwrap();
    writeln!(f, "step,loss").unwrap();
    for i in 0..3000u32 {
        let step = u64::from(i) * 100;
        let t = f64::from(i) / 3000.0;
        let wobble = 0.01 * (f64::from(i) * 0.7).sin();
        writeln!(f, "{step},{}", 0.2 + 2.0 * (-6.0 * t).exp() + wobble).unwrap();
    }
    drop(f);
    let path = csv.to_str().unwrap();
    let labels = texts(&svg_of(&["analyze", path], &[]));
    assert!(
        labels.iter().any(|t| t == "100k"),
        "x ticks in thousands: {labels:?}"
    );
    assert!(labels.iter().any(|t| t == "250k"));
    assert!(
        !labels.iter().any(|t| t.contains("e5")),
        "no 1.00e5-style tick"
    );
    assert!(!labels.iter().any(|t| t == "loss (log)"));
    let log = texts(&svg_of(&["analyze", path], &["--log-y"]));
    assert!(
        log.iter().any(|t| t == "loss (log)"),
        "the axis says it is logarithmic"
    );
    // The loss spans about one decade: ticks between decades are labelled too.
    let y_ticks: Vec<&String> = log
        .iter()
        .filter(|t| t.parse::<f64>().is_ok_and(|v| v > 0.1 && v < 3.0))
        .collect();
    assert!(y_ticks.len() >= 4, "{y_ticks:?}");
}
