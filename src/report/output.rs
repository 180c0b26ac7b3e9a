//! Writing an output safely: files are written to a temporary sibling and renamed into place, so a
//! failed render never leaves a half-written report; standard output that the reader closed
//! (`| head`) ends the writing quietly.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::Target;

/// Runs `render` against `target`. A closed standard output is not an error.
pub fn write_to(
    target: &Target,
    what: &str,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    match target {
        Target::Stdout => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let result = render(&mut out).and_then(|()| out.flush());
            match result {
                Err(e) if is_broken_pipe(&e) => Ok(()),
                other => other.with_context(|| format!("writing {what} to standard output")),
            }
        }
        Target::File(path) => write_file_atomically(path, render)
            .with_context(|| format!("writing {what} to {}", path.display())),
    }
}

/// True when the error, or one it wraps (csv, serde_json), is a closed pipe.
fn is_broken_pipe(err: &io::Error) -> bool {
    if err.kind() == io::ErrorKind::BrokenPipe {
        return true;
    }
    let mut inner: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = inner {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        if let Some(csv) = e.downcast_ref::<csv::Error>()
            && let csv::ErrorKind::Io(io) = csv.kind()
        {
            return io.kind() == io::ErrorKind::BrokenPipe;
        }
        inner = e.source();
    }
    false
}

/// Writes through a temporary file in the destination's directory, renamed on success.
pub fn write_file_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".jepa-doctor-").suffix(".tmp");
    // A report is an ordinary file (rw-r--r--), not the private 0600 of a temporary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        render(&mut out)?;
        out.flush()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_render_leaves_nothing_behind() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.json");
        let result = write_file_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("render failed"))
        });
        assert!(result.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        Ok(())
    }

    #[test]
    fn a_successful_render_replaces_the_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old")?;
        write_file_atomically(&path, |w| w.write_all(b"new"))?;
        assert_eq!(std::fs::read_to_string(&path)?, "new");
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }
}
