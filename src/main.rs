//! The `jepa-doctor` binary: parse the command line, run it, map the outcome to an exit status
//! (0 nothing at or above the gate, 1 something fired, 2 usage error or unusable input).

use std::io::Write;
use std::process::ExitCode;

use jepa_doctor::app::{self, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = jepa_doctor::cli::parse();
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Once, on one line, control characters escaped; a standard error that cannot be
            // written (closed, /dev/full) changes nothing but the message: still exit 2.
            let message = format!("{err:#}");
            let line = jepa_doctor::human::escape_control(&message);
            let _ = writeln!(std::io::stderr(), "jepa-doctor: error: {line}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
