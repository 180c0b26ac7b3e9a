//! Renderers: bytes from the analysed run, one module per output format. They describe data the
//! analysis produced and never compute a diagnosis themselves.

pub mod chart;
pub mod compare_json;
pub mod compare_markdown;
pub mod compare_plot;
pub mod compare_table;
pub mod compare_text;
pub mod decimate;
pub mod export;
pub mod github;
pub mod json;
pub mod markdown;
pub mod md_curve;
pub mod output;
pub mod plot;
pub mod plot_layout;
pub mod png_encode;
pub mod style;
pub mod text;
