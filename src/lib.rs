//! jepa-doctor: a doctor for JEPA / V-JEPA training runs.
//!
//! Data flows one way (DESIGN §3):
//! `cli` (what was typed) → `config` (what was decided) → `ingest` (one parser per format) →
//! `clean` (global steps, ranks merged, roles) → analysis → `report` (one renderer per format).
//! `app` wires the stages for each command; `main.rs` only maps the outcome to an exit status.

pub mod app;
pub mod clean;
pub mod cli;
pub mod compare;
pub mod config;
pub mod config_file;
pub mod diagnose;
pub mod error;
pub mod human;
pub mod ingest;
pub mod manual;
pub mod model;
pub mod params;
pub mod progression;
pub mod report;
pub mod stats;
pub mod watch;
