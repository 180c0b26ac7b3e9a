use super::*;

#[test]
fn independent_noise_is_not_inflated_much() {
    // A fixed, alternating-sign sequence has negative lag-1 correlation: the bound stays at 0.
    let y: Vec<f64> = (0..200)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let t = persistent_trend(&y);
    assert_eq!(t.ar1.phi_upper, 0.0);
    assert_eq!(t.factor, 1.0);
}

#[test]
fn a_monotone_line_is_a_trend_and_a_step_is_a_shift() {
    let line: Vec<f64> = (0..100).map(f64::from).collect();
    let t = persistent_trend(&line);
    assert!(t.mk.z > 0.0 && t.p < 1e-10, "{t:?}");
    let step: Vec<f64> = (0..100)
        .map(|i| {
            if i < 70 {
                (i % 3) as f64
            } else {
                10.0 + (i % 3) as f64
            }
        })
        .collect();
    let s = persistent_trend(&step);
    assert_eq!(s.shift_at, 70);
    assert!(s.shift_up && s.p_shift < 1e-6, "{s:?}");
}

#[test]
fn the_rank_factor_matches_the_ar1_closed_form_for_long_series() {
    // For large n, n/n* → 1 + 2Σρ_k; with φ small ρ_k ≈ (3/π)φ^k.
    let rho = rank_autocorrelations(0.1, 100_000);
    let f = mann_kendall_factor(&rho, 100_000);
    let closed = 1.0 + 2.0 * (3.0 / PI) * 0.1 / 0.9;
    assert!((f - closed).abs() < 1e-3, "{f} vs {closed}");
}

#[test]
fn structure_residual_removes_a_ramp_that_levels_off() {
    // Flat, a ramp over 30 points, flat again: a jump with a width.
    let y: Vec<f64> = (0..200)
        .map(|i| (f64::from(i) - 80.0).clamp(0.0, 30.0) / 30.0)
        .collect();
    let r = structure_residual(&y);
    assert!(r.iter().all(|v| v.abs() < 0.05), "{:?}", &r[70..120]);
}

#[test]
fn integrated_time_sees_a_slow_oscillation_that_lag_one_misses() {
    let white: Vec<f64> = crate::stats::test_uniform_noise(400, 7)
        .iter()
        .map(|u| 2.0 * u - 1.0)
        .collect();
    assert!(integrated_time(&white) < 3.0, "{}", integrated_time(&white));
    // Two and a half periods of a sinusoid under the same noise at half its variance.
    let wave: Vec<f64> = white
        .iter()
        .enumerate()
        .map(|(i, e)| 0.8 * e + (std::f64::consts::TAU * 2.5 * i as f64 / 400.0).sin())
        .collect();
    let tau = integrated_time(&wave);
    assert!(tau > 20.0, "{tau}");
    assert!(equivalent_phi(tau) > 0.9);
}

#[test]
fn structure_residual_removes_a_step() {
    let y: Vec<f64> = (0..50).map(|i| if i < 20 { 0.0 } else { 5.0 }).collect();
    assert!(structure_residual(&y).iter().all(|r| r.abs() < 1e-12));
}
