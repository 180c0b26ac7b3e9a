//! The whole-run false-alarm rate of `watch` on healthy runs that grow while they are watched.
//!
//! Each simulated run is healthy (a descent to a plateau, possibly still creeping down, with
//! autocorrelated noise, reg-loss falling): no rebound. It is fed to the library's [`Monitor`]
//! in chunks, evaluated after every chunk as `watch` does, and counted as a false alarm when any
//! evaluation reports a finding that trips `--fail-on rebound` (a rebound or any error). The same
//! runs tested at a fixed α at every evaluation (the naive scheme α-spending replaces) are
//! counted alongside for contrast. The table is printed (`--nocapture`) and written up in
//! docs/statistics-watch.md.

use jepa_doctor::clean::CleanOptions;
use jepa_doctor::diagnose::finding::FailOn;
use jepa_doctor::diagnose::rebound::ReboundSettings;
use jepa_doctor::diagnose::{AnalysisSettings, diagnose};
use jepa_doctor::ingest::table::KeyKind;
use jepa_doctor::watch::monitor::{Monitor, MonitorSettings, needs_test};

const ALPHA: f64 = 0.05;
const SEED: u64 = 0x5eed_0016;

/// xorshift64* with Box–Muller normals.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// One healthy run: (loss-jepa, reg-loss) per step.
fn healthy_run(rng: &mut Rng) -> (String, Vec<(f32, f32)>) {
    let n = 2500 + (rng.uniform() * 3500.0) as usize;
    let plateau = 0.3 + 0.3 * rng.uniform();
    let drop = 0.3 + 0.3 * rng.uniform();
    let tau = n as f64 * (0.05 + 0.2 * rng.uniform());
    // Some runs still creep down at the end, some are flat for most of the run.
    let creep = if rng.uniform() < 0.5 {
        0.0
    } else {
        0.03 * rng.uniform()
    };
    let phi: f64 = [0.0, 0.5, 0.9, 0.97][(rng.uniform() * 4.0) as usize % 4];
    let sigma = drop * (0.005 + 0.02 * rng.uniform());
    let mut ar = 0.0;
    let mut points = Vec::with_capacity(n);
    for s in 0..n {
        let t = s as f64;
        ar = phi * ar + (1.0 - phi * phi).sqrt() * rng.normal();
        let loss = plateau + drop * (-t / tau).exp() - creep * t / n as f64 + sigma * ar;
        let reg = 0.25 + 0.4 * (-t / (2.0 * tau)).exp() + 0.005 * rng.normal();
        points.push((loss as f32, reg as f32));
    }
    (
        format!("n={n} tau={tau:.0} phi={phi} sigma={sigma:.4} creep={creep:.3}"),
        points,
    )
}

fn settings(alpha: f64) -> MonitorSettings {
    MonitorSettings {
        analysis: AnalysisSettings {
            rebound: ReboundSettings {
                alpha,
                ..ReboundSettings::default()
            },
            warmup_steps: None,
        },
        clean: CleanOptions::default(),
        key_kind: KeyKind::Step,
        params: None,
    }
}

#[derive(Default)]
struct Outcome {
    spent_alarm: Option<String>,
    naive_alarm: bool,
    evaluations: u32,
    looks: u32,
}

fn watch_run(points: &[(f32, f32)], chunk: usize, naive: bool) -> Outcome {
    let mut monitor = Monitor::new(settings(ALPHA));
    let jepa = monitor.column("loss-jepa");
    let reg = monitor.column("reg-loss");
    let mut out = Outcome::default();
    let fixed = settings(ALPHA).analysis;
    let mut row = [0f32; 2];
    for (c, part) in points.chunks(chunk).enumerate() {
        for (i, (l, r)) in part.iter().enumerate() {
            row[jepa] = *l;
            row[reg] = *r;
            monitor.push((c * chunk + i) as u64, &row);
        }
        let Some(eval) = monitor.evaluate(None) else {
            continue;
        };
        out.evaluations += 1;
        if let Some(f) = eval
            .diagnosis
            .findings
            .iter()
            .find(|f| FailOn::Rebound.trips(f))
            && out.spent_alarm.is_none()
        {
            out.spent_alarm = Some(format!(
                "{} at row {} (look {:?}, level {:.2e})",
                f.code.as_str(),
                eval.rows,
                eval.look,
                eval.level
            ));
        }
        if naive && !out.naive_alarm {
            let d = diagnose(&eval.run, &fixed);
            out.naive_alarm = d
                .findings
                .iter()
                .any(|f| needs_test(f) && FailOn::Rebound.trips(f));
        }
    }
    out.looks = monitor.spending().looks();
    out
}

#[test]
fn healthy_runs_watched_to_the_end_raise_at_most_alpha_false_alarms() {
    let runs: usize = std::env::var("JEPA_DOCTOR_WATCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let naive_runs = runs.min(30);
    println!("seed {SEED:#x}, {runs} healthy runs, alpha {ALPHA}, evaluated every 400 rows");
    let mut rng = Rng(SEED);
    let (mut spent, mut naive, mut naive_n, mut evals, mut looks) = (0u32, 0u32, 0u32, 0u32, 0u32);
    for i in 0..runs {
        let (label, points) = healthy_run(&mut rng);
        let o = watch_run(&points, 400, i < naive_runs);
        evals += o.evaluations;
        looks += o.looks;
        if let Some(what) = &o.spent_alarm {
            spent += 1;
            println!("  false alarm: run {i} {label}: {what}");
        }
        if i < naive_runs {
            naive_n += 1;
            naive += u32::from(o.naive_alarm);
        }
    }
    let rate = f64::from(spent) / runs as f64;
    let naive_rate = f64::from(naive) / f64::from(naive_n.max(1));
    let se = (ALPHA * (1.0 - ALPHA) / runs as f64).sqrt();
    println!();
    println!("| scheme | runs | evaluations per run | runs with a false alarm | rate |");
    println!("|---|---|---|---|---|");
    println!(
        "| alpha spent over looks (watch) | {runs} | {:.1} ({:.1} looks) | {spent} | {rate:.3} |",
        f64::from(evals) / runs as f64,
        f64::from(looks) / runs as f64
    );
    println!("| fixed alpha at every evaluation | {naive_n} | same | {naive} | {naive_rate:.3} |");
    println!("target: rate <= alpha = {ALPHA} (+ 2 SE = {:.3})", 2.0 * se);
    assert!(
        rate <= ALPHA + 2.0 * se,
        "whole-run false-alarm rate {rate:.3} above alpha {ALPHA}"
    );
}
