//! The figure (PNG/SVG), the curve in the terminal, and where each report goes.

mod common;

use common::{analyze_with_figure, doctor, fixture};
use predicates::prelude::*;
use sha2::{Digest, Sha256};

fn plot(rel: &str, file: &std::path::Path, extra: &[&str]) {
    doctor()
        .arg("analyze")
        .arg(fixture(rel))
        .arg("--plot")
        .arg(file)
        .arg("--quiet")
        .args(extra)
        .assert()
        .code(predicate::in_iter([0, 1]));
}

/// Pixels of a PNG: (width, height, RGB bytes).
fn decode(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("a PNG"));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("a PNG frame");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

#[test]
fn png_has_the_requested_size_and_is_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    for (size, w, h) in [(None, 1600, 1000), (Some("900x600"), 900, 600)] {
        let path = dir.path().join("report.png");
        let extra: Vec<&str> = size.map(|s| vec!["--plot-size", s]).unwrap_or_default();
        plot("samples/recipe", &path, &extra);
        let (pw, ph, pixels) = decode(&path);
        assert_eq!((pw, ph), (w, h));
        let non_white = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        let share = non_white as f64 / (pw * ph) as f64;
        assert!(
            share > 0.03 && share < 0.6,
            "{share}: drawn, but not a smear"
        );
        // The smoothed loss is drawn in its dark blue, the minimum in red.
        assert!(pixels.chunks(3).any(|p| p == [25, 70, 160]));
        assert!(
            pixels
                .chunks(3)
                .any(|p| p[0] > 200 && p[1] < 40 && p[2] < 40)
        );
    }
}

/// Pinned while plotters, the font and the renderer are pinned (Cargo.lock). After an intended
/// change to the figure: `JEPA_DOCTOR_BLESS=1 cargo test --test reports`, look at the PNG it
/// leaves in target/, and commit the new hash.
#[test]
fn png_pixels_are_pinned() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pinned_recipe.png");
    plot("samples/recipe", &out, &[]);
    let (_, _, pixels) = decode(&out);
    let hash: String = Sha256::digest(&pixels)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pinned_path = fixture("reference/plot_recipe.sha256");
    if std::env::var_os("JEPA_DOCTOR_BLESS").is_some() {
        std::fs::write(&pinned_path, format!("{hash}\n")).unwrap();
    }
    let pinned = std::fs::read_to_string(&pinned_path).unwrap();
    assert_eq!(
        hash,
        pinned.trim(),
        "the figure changed; see this test's comment to re-bless ({})",
        out.display()
    );
}

#[test]
fn svg_parses_and_says_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.svg");
    plot(
        "synthetic/rebound_reg_falling",
        &path,
        &["--plot-size", "1200x800"],
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("1200"));
    assert_eq!(root.attribute("height"), Some("800"));
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("jepa-doctor · rebound")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("min 0.2558 @ step 711")));
}

#[test]
fn a_failed_render_leaves_nothing_and_bad_names_are_usage_errors() {
    doctor()
        .args([
            "analyze",
            &fixture("samples/recipe"),
            "--plot",
            "/no/such/dir/report.png",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "jepa-doctor: error: drawing the figure to /no/such/dir/report.png",
        ));
    let dir = tempfile::tempdir().unwrap();
    doctor()
        .args(["analyze", &fixture("samples/recipe"), "--plot"])
        .arg(dir.path().join("report.jpg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".png or .svg"));
    doctor()
        .args([
            "analyze",
            &fixture("samples/recipe"),
            "--plot-size",
            "10x10",
            "--plot",
        ])
        .arg(dir.path().join("r.png"))
        .assert()
        .code(2);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn long_runs_are_decimated_for_drawing_and_look_the_same() {
    // 200k steps of a smooth descent: the figure has the same size and draws the same story.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("long.csv");
    let mut text = String::from("step,loss_jepa\n");
    for i in 0..200_000u64 {
        let t = i as f64 / 200_000.0;
        text.push_str(&format!(
            "{i},{:.5}\n",
            0.2 + (-t / 0.1).exp() + 0.01 * ((i * 7919 % 101) as f64 / 101.0 - 0.5)
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let png = dir.path().join("long.png");
    doctor()
        .arg("analyze")
        .arg(&csv)
        .arg("--plot")
        .arg(&png)
        .arg("-q")
        .assert()
        .success();
    let (w, h, pixels) = decode(&png);
    assert_eq!((w, h), (1600, 1000));
    assert!(pixels.chunks(3).any(|p| p == [25, 70, 160]));
}

#[test]
fn markdown_references_the_figure() {
    let (_dir, png, md) = analyze_with_figure("synthetic/rebound_reg_falling", |png| {
        vec![
            "--markdown=-".into(),
            "--plot".into(),
            png.display().to_string(),
        ]
    });
    assert!(
        md.contains(&format!("![loss report]({})", png.display())),
        "{md}"
    );
}

#[test]
fn the_terminal_curve_unicode_ascii_and_off() {
    let run = |lang: &str, extra: &[&str]| {
        let out = doctor()
            .args(["analyze", &fixture("synthetic/rebound_reg_falling")])
            .args(extra)
            .env("LANG", lang)
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("COLUMNS", "90")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let utf8 = run("en_US.UTF-8", &[]);
    assert!(utf8.contains("loss-jepa (smoothed)"));
    assert!(
        utf8.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "braille dots"
    );
    assert!(
        utf8.contains('▲') && utf8.contains('━'),
        "minimum and rebound span on the axis"
    );
    assert!(
        utf8.lines()
            .all(|l| l.chars().count() <= 90 || !l.contains('┤'))
    );
    let ascii = run("C", &[]);
    assert!(ascii.contains('^') && ascii.contains("=="));
    assert!(!ascii.contains('┤'));
    let off = run("en_US.UTF-8", &["--no-chart"]);
    assert!(!off.contains("(smoothed)"));
    let md = run("en_US.UTF-8", &["--markdown=-"]);
    assert!(!md.contains('┤') && !md.contains("(smoothed)"));
}
