//! Our statistics against the reference implementations (ruptures PELT, pymannkendall), on the
//! fixed series and values `tools/reference.py` wrote to `fixtures/reference/stats_reference.json`.

mod common;

use jepa_doctor::stats::changepoint::{LinearTrend, MeanShift, noise_variance, pelt};
use jepa_doctor::stats::trend::{hamed_rao, mann_kendall, sens_slope};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(common::fixture("reference/stats_reference.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn series(case: &Value) -> Vec<f64> {
    case["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn close(what: &str, ours: f64, theirs: f64, tol: f64) {
    assert!(
        (ours - theirs).abs() <= tol,
        "{what}: ours {ours} vs reference {theirs}"
    );
}

#[test]
fn pelt_matches_ruptures_breakpoints() {
    for case in cases() {
        let y = series(&case);
        let name = case["name"].as_str().unwrap();
        for (key, ours) in [
            ("pelt_l2", {
                let c = &case["pelt_l2"];
                pelt(
                    &MeanShift::new(&y),
                    c["penalty"].as_f64().unwrap(),
                    c["min_size"].as_u64().unwrap() as usize,
                )
            }),
            ("pelt_linear", {
                let c = &case["pelt_linear"];
                pelt(
                    &LinearTrend::new(&y),
                    c["penalty"].as_f64().unwrap(),
                    c["min_size"].as_u64().unwrap() as usize,
                )
            }),
        ] {
            let theirs = usizes(&case[key]["breakpoints"]);
            assert_eq!(ours, theirs, "{name} {key}");
        }
    }
}

#[test]
fn noise_variance_matches_the_reference_estimator() {
    for case in cases() {
        let y = series(&case);
        close(
            case["name"].as_str().unwrap(),
            noise_variance(&y),
            case["noise_var"].as_f64().unwrap(),
            1e-12,
        );
    }
}

#[test]
fn mann_kendall_matches_pymannkendall() {
    for case in cases() {
        let y = series(&case);
        let name = case["name"].as_str().unwrap();
        let r = &case["mann_kendall"];
        let mk = mann_kendall(&y);
        close(&format!("{name} S"), mk.s, r["s"].as_f64().unwrap(), 0.0);
        close(
            &format!("{name} var S"),
            mk.var_s,
            r["var_s"].as_f64().unwrap(),
            1e-9,
        );
        close(&format!("{name} z"), mk.z, r["z"].as_f64().unwrap(), 1e-9);
        close(&format!("{name} p"), mk.p, r["p"].as_f64().unwrap(), 1e-6);
        close(
            &format!("{name} tau"),
            mk.tau,
            r["tau"].as_f64().unwrap(),
            1e-12,
        );
    }
}

#[test]
fn hamed_rao_matches_pymannkendall() {
    for case in cases() {
        let y = series(&case);
        let name = case["name"].as_str().unwrap();
        let r = &case["hamed_rao"];
        let (hr, _) = hamed_rao(&y, 0.05);
        let var_ref = r["var_s"].as_f64().unwrap();
        close(
            &format!("{name} var S"),
            hr.var_s,
            var_ref,
            1e-9 * var_ref.abs().max(1.0),
        );
        close(&format!("{name} z"), hr.z, r["z"].as_f64().unwrap(), 1e-7);
        close(&format!("{name} p"), hr.p, r["p"].as_f64().unwrap(), 1e-6);
    }
}

#[test]
fn sens_slope_matches_pymannkendall() {
    for case in cases() {
        let y = series(&case);
        let name = case["name"].as_str().unwrap();
        let (slope, intercept) = sens_slope(&y);
        close(
            &format!("{name} slope"),
            slope,
            case["sens_slope"]["slope"].as_f64().unwrap(),
            1e-12,
        );
        close(
            &format!("{name} intercept"),
            intercept,
            case["sens_slope"]["intercept"].as_f64().unwrap(),
            1e-10,
        );
    }
}
