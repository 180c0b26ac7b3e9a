//! Snapshots of the human-facing reports (text and Markdown) on fixed fixtures. After an intended
//! change: `INSTA_UPDATE=always cargo test --test snapshots`, then review `git diff tests/snapshots`.

use assert_cmd::Command;

/// The binary's stdout on `args`, run from the crate root so paths in the report are relative,
/// with a fixed locale and width so the curve in the text report is reproducible.
fn stdout_of(args: &[&str]) -> String {
    let out = Command::cargo_bin("jepa-doctor")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("COLUMNS", "100")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn text_reports() {
    for (name, dir) in [
        ("text_recipe", "fixtures/samples/recipe"),
        ("text_highlr_reg", "fixtures/samples/highlr_reg"),
        (
            "text_rebound_reg_falling",
            "fixtures/synthetic/rebound_reg_falling",
        ),
        ("text_collapse", "fixtures/synthetic/collapse"),
    ] {
        insta::assert_snapshot!(name, stdout_of(&["analyze", dir,]));
    }
}

#[test]
fn markdown_reports() {
    for (name, dir) in [
        (
            "markdown_rebound_reg_falling",
            "fixtures/synthetic/rebound_reg_falling",
        ),
        ("markdown_collapse", "fixtures/synthetic/collapse"),
        ("markdown_recipe", "fixtures/samples/recipe"),
    ] {
        insta::assert_snapshot!(name, stdout_of(&["analyze", dir, "--markdown=-"]));
    }
}
