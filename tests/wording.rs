//! What a reader of the outputs found confusing, each checked on the binary: the figure and the
//! text tell one set of smoothed numbers, the title has a margin, advice is phrased for the run's
//! method (no reg-loss or V-JEPA LR class where they do not apply), a run without warmup is not
//! said to end it at step 0, compare shows the peak LR once and a legend as wide as its labels,
//! and no report line ends in blanks.

mod common;

use common::{fixture, stdout_of};
use serde_json::Value;

/// The SVG figure of `analyze INPUT`.
fn svg_of(input: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("fig.svg");
    let plot = format!("--plot={}", svg.display());
    stdout_of(&["analyze", input, "-q", &plot]);
    std::fs::read_to_string(&svg).unwrap()
}

/// The value of attribute `name` in an SVG element's text.
fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let at = element.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&element[at..at + element[at..].find('"')?])
}

/// `(x, y, text)` of every `<text>` element.
fn texts(svg: &str) -> Vec<(f64, f64, String)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let head = &t[..t.find('>')?];
            let body = &t[t.find('>')? + 1..];
            let text = body[..body.find("</text>")?].trim().to_owned();
            Some((
                attr(head, "x")?.parse().ok()?,
                attr(head, "y")?.parse().ok()?,
                text,
            ))
        })
        .collect()
}

/// The points of the longest polyline stroked with `color` at `width`.
fn polyline(svg: &str, color: &str, width: &str) -> Vec<(f64, f64)> {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| attr(p, "stroke") == Some(color) && attr(p, "stroke-width") == Some(width))
        .map(|p| {
            attr(p, "points")
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|xy| {
                    let (x, y) = xy.split_once(',')?;
                    Some((x.parse().ok()?, y.parse().ok()?))
                })
                .collect::<Vec<_>>()
        })
        .max_by_key(Vec::len)
        .unwrap_or_default()
}

#[test]
fn the_figure_draws_the_smoothed_numbers_the_text_reports() {
    let input = fixture("samples/recipe");
    let json: Value = serde_json::from_str(&stdout_of(&["analyze", &input, "--json=-"])).unwrap();
    let start = json["rebound"]["start_value"].as_f64().unwrap();
    let svg = svg_of(&input);
    // The smoothed JEPA line (thick, dark blue) and the loss panel's y tick labels (right-aligned
    // left of the axis, above the first panel's bottom).
    let line = polyline(&svg, "#1946A0", "3");
    assert!(line.len() > 100, "{} points", line.len());
    let ticks: Vec<(f64, f64)> = texts(&svg)
        .into_iter()
        .filter(|(x, y, _)| *x < 80.0 && *y < 560.0 && *y > 100.0)
        .filter_map(|(_, y, t)| Some((y, t.parse::<f64>().ok()?)))
        .collect();
    assert!(ticks.len() >= 2, "{ticks:?}");
    let ((y0, v0), (y1, v1)) = (ticks[0], ticks[ticks.len() - 1]);
    let value_at = |y: f64| v0 + (y - y0) * (v1 - v0) / (y1 - y0);
    let drawn = value_at(line[0].1);
    let per_pixel = ((v1 - v0) / (y1 - y0)).abs();
    println!("text start {start}, figure start {drawn} (±{per_pixel} per pixel)");
    // The first raw point is 0.826; the analysis's smoothed start 0.714 (80 pixels apart).
    assert!(
        (drawn - start).abs() <= 3.0 * per_pixel,
        "the figure's smoothed line starts at {drawn}, the text says {start}"
    );
}

#[test]
fn the_figure_title_has_a_margin_above_it() {
    let svg = svg_of(&fixture("samples/recipe"));
    let title = svg.split("<text").nth(1).unwrap();
    let y: f64 = attr(title, "y").unwrap().parse().unwrap();
    let size: f64 = attr(title, "font-size").unwrap().parse().unwrap();
    assert!(title.contains("jepa-doctor · healthy"), "{title}");
    assert!(y >= 0.5 * size, "title at y = {y} with a {size} px font");
}

/// Every recommendation of the JSON report, joined.
fn advice(input: &str) -> String {
    let json: Value = serde_json::from_str(&stdout_of(&["analyze", input, "--json=-"])).unwrap();
    let mut all = Vec::new();
    for f in json["findings"].as_array().unwrap() {
        for r in f["recommendations"].as_array().unwrap() {
            all.push(r.as_str().unwrap().to_owned());
        }
    }
    assert!(!all.is_empty(), "{input}: no advice to read");
    all.join("\n")
}

#[test]
fn advice_is_phrased_for_the_runs_family() {
    // DINO: a softmax over prototypes, no reg loss, an LR scaled with the batch.
    let dino = advice(&fixture("cases/uniform-collapse-dino/log.txt"));
    println!("DINO:\n{dino}\n");
    for wrong in ["reg-loss", "V-JEPA", "1e-3 class", "Start high"] {
        assert!(!dino.contains(wrong), "{wrong:?} in DINO advice:\n{dino}");
    }
    assert!(dino.contains("5e-4 × batch/256"), "{dino}");
    assert!(dino.contains("entropy"), "{dino}");

    // data2vec: variance monitors (higher = more spread), EMA-teacher targets.
    let d2v = advice(&fixture("cases/jump-rebound-data2vec/train_inner.jsonl"));
    println!("data2vec:\n{d2v}\n");
    assert!(!d2v.contains("reg-loss"), "{d2v}");
    assert!(!d2v.contains("JEPA loss"), "{d2v}");
    assert!(d2v.contains("(pred_var → 0)"), "{d2v}");

    // V-JEPA 2 cooldown: no regularization term, so no reg-loss or reg coefficient advice.
    let cooldown = advice(&fixture("cases/slow-collapse-cooldown"));
    println!("V-JEPA 2 cooldown:\n{cooldown}\n");
    assert!(!cooldown.contains("reg-loss"), "{cooldown}");
    assert!(
        !cooldown.contains("regularization coefficient"),
        "{cooldown}"
    );

    // V-JEPA with its reg-loss: the reg advice stays.
    let vjepa = advice(&fixture("synthetic/collapse"));
    assert!(vjepa.contains("(reg-loss → 1)"), "{vjepa}");
    assert!(
        vjepa.contains("regularization coefficient above 0"),
        "{vjepa}"
    );
}

#[test]
fn a_run_without_warmup_is_not_said_to_end_it_at_step_0() {
    let text = stdout_of(&["analyze", &fixture("cases/slow-collapse-cooldown")]);
    assert!(!text.contains("warmup ends at step 0"), "{text}");
    assert!(
        text.contains("LR: linear decay from 5.25e-4 to 1e-6 over 24000 steps"),
        "{text}"
    );
    // A run with a warmup still says where it ends.
    let recipe = stdout_of(&["analyze", &fixture("samples/recipe")]);
    assert!(
        recipe.contains("warmup ends at step 400 (config)"),
        "{recipe}"
    );
}

#[test]
fn no_report_line_ends_in_blanks() {
    // The recipe's config-smell finding has no steps: its code was padded for nothing.
    for input in [
        "samples/recipe",
        "samples/highlr_reg",
        "cases/slow-collapse-cooldown",
    ] {
        let text = stdout_of(&["analyze", &fixture(input)]);
        assert!(
            input != "samples/recipe" || text.contains("config-smell"),
            "{text}"
        );
        for line in text.lines() {
            assert_eq!(
                line,
                line.trim_end(),
                "trailing blanks in {input}: {line:?}"
            );
        }
    }
}

#[test]
fn compare_shows_the_peak_lr_once_and_a_legend_as_wide_as_its_labels() {
    let (recipe, highlr) = (fixture("samples/recipe"), fixture("samples/highlr_reg"));
    let text = stdout_of(&["compare", &recipe, &highlr]);
    let header = text.lines().find(|l| l.starts_with("#  run")).unwrap();
    println!("{header}");
    assert_eq!(header.matches("peak LR").count(), 1, "{header}");
    let columns: Vec<&str> = header.split("  ").map(str::trim).collect();
    assert!(
        !columns.contains(&"lr"),
        "the config's lr is the peak LR: {header}"
    );
    assert!(
        columns.contains(&"reg_coeff"),
        "other differing settings stay: {header}"
    );
    assert!(
        text.contains("config diff: loss.reg_coeff, optimization.lr"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("cmp.svg");
    let plot = format!("--plot={}", svg.display());
    stdout_of(&["compare", &recipe, &highlr, &plot]);
    let svg = std::fs::read_to_string(&svg).unwrap();
    let legend: Vec<(f64, f64, String)> = texts(&svg)
        .into_iter()
        .filter(|(_, _, t)| t.ends_with("· healthy") || t.ends_with("· unstable"))
        .collect();
    assert_eq!(legend.len(), 2, "{legend:?}");
    // 1600 px wide: two short labels need ~270 px, not a quarter of the figure.
    for (x, _, t) in &legend {
        assert!(*x >= 0.8 * 1600.0, "{t:?} starts at x = {x}");
    }
}
