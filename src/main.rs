//! The `jepa-doctor` binary: parse the command line, run it, map the outcome to an exit status
//! (0 nothing at or above the gate, 1 something fired, 2 usage error or unusable input).

use std::process::ExitCode;

use jepa_doctor::app::{self, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = jepa_doctor::cli::parse();
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("jepa-doctor: error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
