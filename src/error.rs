//! Typed errors of the library. Each names the file, and the line where one is known, so the
//! binary can print it once as `jepa-doctor: error: <file>:<line>: <cause>` and exit 2.
//!
//! Two kinds: [`UsageError`], what was typed cannot work (flags that conflict, an output that
//! would overwrite an input, a column or run that is not there), and [`IngestError`], an input
//! that cannot be read or used. Both exit 2 (DESIGN §2). A step that can fail either way (finding
//! the inputs, picking a run) returns `IngestError`, which then wraps the `UsageError` unchanged.
//! This module is the bottom layer: it imports nothing from the crate.

use std::fmt;

/// Why an input could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The OS's reason is part of this message and deliberately not a `source`, so that a
    /// cause chain (`{:#}`) prints it once.
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: the file is empty")]
    Empty { path: String },
    #[error("{path}: only a header, no data rows")]
    HeaderOnly { path: String },
    #[error("{path}:{line}: {message}")]
    At {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Json {
        path: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{}: {message}", Located(path, *line))]
    Yaml {
        path: String,
        line: Option<u64>,
        message: String,
    },
    #[error(
        "{path}: no step-like column among [{columns}] (expected one of step, global_step, iteration, itr, _step, or epoch with itr); name it with --step-col"
    )]
    NoStepColumn { path: String, columns: String },
    #[error("{path}: no numeric column besides the step ({detail})")]
    NoNumericColumn { path: String, detail: String },
    #[error("{path}: {message}")]
    Unusable { path: String, message: String },
    /// The first skipped row, as its `SkippedRow` displays it (`path:line: reason`), or the
    /// first value left out of a used row; held as text so that the errors, the lowest layer,
    /// import nothing from the model.
    #[error("{0} (--strict: skipped rows and values left out are errors)")]
    Strict(String),
    /// What was typed cannot work; the message is the `UsageError`'s, unchanged.
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// A command line (or settings file) that cannot work: conflicting or malformed options, an
/// output that would overwrite an input, a `--*-col` or `--run` that names nothing. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl IngestError {
    /// A usage error met while reading the inputs (see [`UsageError`]).
    pub fn usage(message: impl Into<String>) -> IngestError {
        IngestError::Usage(UsageError(message.into()))
    }
    pub fn at(path: &str, line: u64, message: impl Into<String>) -> IngestError {
        IngestError::At {
            path: path.to_string(),
            line,
            message: message.into(),
        }
    }
    pub fn io(path: &str, cause: std::io::Error) -> IngestError {
        IngestError::Io {
            path: path.to_string(),
            cause,
        }
    }
    pub fn unusable(path: &str, message: impl Into<String>) -> IngestError {
        IngestError::Unusable {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// `path` or `path:line`.
struct Located<'a>(&'a str, Option<u64>);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(line) => write!(f, "{}:{}", self.0, line),
            None => f.write_str(self.0),
        }
    }
}
