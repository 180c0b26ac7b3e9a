//! Writes a synthetic learning-rate sweep with known truth (tests/common/sweep.rs):
//! `cargo run --example gen_sweep -- DIR [RUNS] [SEED]` makes RUNS run directories under DIR
//! (default 20 runs, seed 15) and prints each run's peak LR and truth.

#[path = "../tests/common/sweep.rs"]
mod sweep;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: gen_sweep DIR [RUNS] [SEED]");
        std::process::exit(2);
    };
    let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    eprintln!("gen_sweep: {n} runs, seed {seed}");
    for (path, lr, truth) in sweep::write_sweep(std::path::Path::new(&dir), n, seed)? {
        println!("{}\t{lr:e}\t{}", path.display(), truth.label());
    }
    Ok(())
}
