//! The whole analysis on arbitrary input: recognise the format, read, clean, diagnose, and render
//! every report (text with the chart, JSON, Markdown, annotations, the SVG figure).
#![no_main]

use std::io::Write;

use jepa_doctor::clean::{CleanOptions, clean};
use jepa_doctor::diagnose::{AnalysisSettings, diagnose};
use jepa_doctor::ingest::{IngestOptions, load};
use jepa_doctor::report::chart::ChartOptions;
use jepa_doctor::report::markdown::{self, FigureRef};
use jepa_doctor::report::output::PlotOptions;
use jepa_doctor::report::plot;
use jepa_doctor::report::text::{self, TextOptions};
use jepa_doctor::report::{github, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("jepa_r0.csv");
    std::fs::File::create(&log)
        .and_then(|mut f| f.write_all(data))
        .expect("write");
    let Ok(loaded) = load(&[log.display().to_string()], &IngestOptions::default()) else {
        return;
    };
    let Ok(run) = clean(loaded, &CleanOptions::default()) else {
        return;
    };
    let a = &run.input.rows;
    assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
    let d = diagnose(&run, &AnalysisSettings::default());
    let sink = &mut std::io::sink();
    let chart = Some(ChartOptions {
        width: 80,
        unicode: true,
    });
    text::write(
        sink,
        &run,
        &d,
        TextOptions {
            color: true,
            explain: true,
            chart,
            width: 80,
        },
    )
    .expect("text");
    json::write(sink, &run, &d, 0).expect("json");
    markdown::write(sink, &run, &d, Some(FigureRef::Path("plot.svg"))).expect("markdown");
    github::write(sink, &run, &d).expect("annotations");
    let opts = PlotOptions {
        width: 400,
        height: 300,
        smoothing: None,
        log_y: false,
    };
    plot::write(&dir.path().join("plot.svg"), &run, &d, opts).expect("figure");
});
