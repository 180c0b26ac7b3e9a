//! Writes a V-JEPA-style training log of a given number of rows, for the benchmark
//! (`bench/run.sh`): `cargo run --release --example gen_vjepa_log -- ROWS OUT.csv [SEED [repr]]`.
//! SEED (default 0) varies the noise (one log per rank of a run); `repr` writes the loss values
//! as Python's `repr(float)` does (`0.8258612155914307`, what pandas writes) instead of `%.5f`.
//!
//! Like the upstream CSV logger's output: `epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,
//! pred-grad-norm,gpu-time(ms),wall-time(ms)`, 1-based epochs of 300 iterations, `%.5f` values,
//! grad norms `0.00000` during the first epochs, a `nan` grad norm now and then, and a restart
//! every ~2M rows (the header written again, the interrupted epoch replayed). The loss descends,
//! reaches a minimum at 40% of the run and gives back ~25% of its descent; reg-loss keeps falling.

use std::fs::File;
use std::io::{BufWriter, Write};

const IPE: u64 = 300;
const HEADER: &str =
    "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n";

/// A small deterministic generator (xorshift64*), enough for noise.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal: the sum of four uniforms, centred and scaled.
    fn gauss(&mut self) -> f64 {
        (self.next() + self.next() + self.next() + self.next() - 2.0) * 1.7320508
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(rows), Some(path)) = (args.get(1).and_then(|r| r.parse::<u64>().ok()), args.get(2))
    else {
        eprintln!("usage: gen_vjepa_log ROWS OUT.csv [SEED [repr]]");
        std::process::exit(2);
    };
    let seed = args.get(3).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let repr = args.get(4).is_some_and(|f| f == "repr");
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(HEADER.as_bytes())?;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0xd1b5_4a32_d192_ed03));
    let restart_every = 2_000_000u64;
    let planned = rows;
    let (mut written, mut step) = (0u64, 0u64);
    let mut next_restart = restart_every;
    while written < rows {
        if written >= next_restart {
            // Killed mid-epoch, resumed from the start of that epoch: header again, replay.
            out.write_all(HEADER.as_bytes())?;
            step -= step % IPE;
            next_restart += restart_every;
        }
        let t = step as f64 / planned as f64;
        let loss = 0.25
            + 0.6 * (-t / 0.08).exp()
            + if t > 0.4 { 0.15 * (t - 0.4) / 0.6 } else { 0.0 }
            + 0.01 * noise.gauss();
        let reg = 0.35 + 0.5 * (-t / 0.3).exp() + 0.005 * noise.gauss();
        let (epoch, itr) = (step / IPE + 1, step % IPE);
        let (enc, pred) = if epoch <= 3 {
            ("0.00000".to_string(), "0.00000".to_string())
        } else if noise.next() < 1e-4 {
            (
                "nan".to_string(),
                format!("{:.5}", 0.3 + 0.05 * noise.next()),
            )
        } else {
            (
                format!("{:.5}", 0.1 + 0.05 * noise.next()),
                format!("{:.5}", 0.3 + 0.05 * noise.next()),
            )
        };
        let (gpu, wall) = (
            440 + (noise.next() * 40.0) as u32,
            445 + (noise.next() * 40.0) as u32,
        );
        if repr {
            writeln!(
                out,
                "{epoch},{itr},{loss},{loss},{reg},{enc},{pred},{gpu},{wall}"
            )?;
        } else {
            writeln!(
                out,
                "{epoch},{itr},{loss:.5},{loss:.5},{reg:.5},{enc},{pred},{gpu},{wall}"
            )?;
        }
        written += 1;
        step += 1;
    }
    out.flush()
}
