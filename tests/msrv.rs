//! `rust-version` in Cargo.toml is honest: at least 1.88 (let-chains) and at least every locked
//! dependency's own `rust-version`, read from `cargo metadata` (offline, the lock file as is; the
//! dependencies of this host's platform, which are the ones a build has downloaded).

use std::process::Command;

fn version(text: &str) -> (u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn rust_version_covers_the_language_and_every_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = version(env!("CARGO_PKG_RUST_VERSION"));
    assert!(ours >= (1, 88), "let-chains need 1.88");
    let mut needed = (1, 88);
    let mut by = String::from("let-chains");
    for p in meta["packages"].as_array().unwrap() {
        if p["name"] == "jepa-doctor" {
            continue;
        }
        if let Some(rv) = p["rust_version"].as_str()
            && version(rv) > needed
        {
            needed = version(rv);
            by = format!("{} {}", p["name"].as_str().unwrap_or("?"), p["version"]);
        }
    }
    println!("rust-version {ours:?}; the highest need is {needed:?} ({by})");
    assert!(
        ours >= needed,
        "rust-version {ours:?} is below {needed:?}, required by {by}"
    );
    assert_eq!(
        ours, needed,
        "rust-version could be lowered to {needed:?} ({by})"
    );
}
