//! Writing an output safely.
//!
//! - [`refuse_overwriting_inputs`]: no output may be a file the run read or discovered (compared
//!   by canonical path and by device + inode, so symlinks and hard links are seen through), and no
//!   two outputs may be the same file. Every command calls it before reading anything.
//! - [`write_file`]: a regular file (or a path that does not exist yet) is written to a temporary
//!   sibling and renamed into place, so a failed render never leaves a half-written report; a
//!   special file (`/dev/null`, `/dev/stdout`, a FIFO, `>(cmd)`) is written directly, never
//!   replaced by a regular file. A symlink to a regular file is followed: the file it points to is
//!   replaced, the link stays.
//! - Temporary files are removed when the write fails, on every return path (drop), and when the
//!   process gets SIGINT, SIGTERM or SIGHUP while one exists (a `signal-hook` thread removes them,
//!   then lets the signal kill the process as it would have).
//! - Standard output that the reader closed (`| head`) ends the writing quietly.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use anyhow::{Context, Result};

use crate::error::UsageError;
use crate::human::escape_control;

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
        Target::File(path) => write_file(path, render).with_context(|| {
            let shown = path.display().to_string();
            format!("writing {what} to {}", escape_control(&shown))
        }),
    }
}

/// True when the error, or one it wraps (csv, serde_json), is a closed pipe.
pub fn is_broken_pipe(err: &io::Error) -> bool {
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

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    /// `-` is standard output; anything else a file path.
    pub fn parse(value: &str) -> Target {
        if value == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(value))
        }
    }
}

/// Size and smoothing of the figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotOptions {
    pub width: u32,
    pub height: u32,
    /// EMA weight of the drawn smoothed line (`--smoothing`); `None` chooses from the length.
    pub smoothing: Option<f64>,
    /// `--log-y`: logarithmic y axes for the loss and regularization panels (else only when a
    /// positive series spans more than a factor 30).
    pub log_y: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            width: 1600,
            height: 1000,
            smoothing: None,
            log_y: false,
        }
    }
}

/// The image format, from the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Png,
    Svg,
}

impl PlotFormat {
    pub fn from_path(path: &Path) -> Option<PlotFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(PlotFormat::Png),
            "svg" => Some(PlotFormat::Svg),
            _ => None,
        }
    }
}

/// One output a command will write: the flag that asked for it (for messages) and its path.
#[derive(Clone, Copy, Debug)]
pub struct OutputPath<'a> {
    pub flag: &'a str,
    pub path: &'a Path,
}

/// Refuses (a usage error, exit 2) any output that is one of `inputs` — every file the command
/// reads or looked at: logs, params YAML, files found in run directories, and standard input
/// when it is a regular file — or the same file as another output.
///
/// Files are the same when their canonical paths are equal (symlinks and `..` resolved) or when
/// they have the same device and inode (hard links, bind mounts). An output that does not exist
/// yet cannot be an input; an input that cannot be inspected is skipped (reading it will fail
/// with its own message). Call it after discovering the inputs and before reading or writing
/// anything.
pub fn refuse_overwriting_inputs(
    inputs: &[PathBuf],
    outputs: &[OutputPath<'_>],
) -> Result<(), UsageError> {
    let mut known: Vec<(FileId, String)> = inputs
        .iter()
        .filter_map(|p| FileId::of(p).map(|id| (id, p.display().to_string())))
        .collect();
    if let Some(id) = FileId::of_stdin() {
        known.push((id, "<stdin>".into()));
    }
    let mut written: Vec<(FileId, &str)> = Vec::new();
    let mut planned: Vec<(PathBuf, &str)> = Vec::new();
    for out in outputs {
        let Some(id) = FileId::of(out.path) else {
            // Does not exist (yet), so it cannot be an input; but two outputs may plan it.
            if let Some(target) = planned_path(out.path) {
                if let Some((_, other)) = planned.iter().find(|(p, _)| *p == target) {
                    return Err(UsageError(format!(
                        "{other} and {} both write {}; choose different files",
                        out.flag,
                        escape_control(&out.path.display().to_string())
                    )));
                }
                planned.push((target, out.flag));
            }
            continue;
        };
        let shown = escape_control(&out.path.display().to_string()).into_owned();
        if let Some((_, input)) = known.iter().find(|(k, _)| k.same_file(&id)) {
            return Err(UsageError(format!(
                "{} {shown} would overwrite the input {}; choose another file",
                out.flag,
                escape_control(input)
            )));
        }
        if let Some((_, other)) = written.iter().find(|(k, _)| k.same_file(&id)) {
            // A device such as /dev/null may take several outputs.
            if id.regular {
                return Err(UsageError(format!(
                    "{other} and {} both write {shown}; choose different files",
                    out.flag
                )));
            }
        }
        written.push((id, out.flag));
    }
    Ok(())
}

/// Where an output that does not exist yet will land: its canonical folder joined with its
/// name (`o/x.json` and `./o/x.json` plan one file). `None` for standard output (`-`) and when the
/// folder cannot be resolved (writing will fail with its own message).
fn planned_path(path: &Path) -> Option<PathBuf> {
    if path.as_os_str() == "-" {
        return None;
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// What identifies a file: its canonical path and its device and inode.
#[derive(Debug)]
struct FileId {
    canonical: Option<PathBuf>,
    dev_ino: Option<(u64, u64)>,
    regular: bool,
}

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        let meta = fs::metadata(path).ok()?;
        Some(FileId {
            canonical: path.canonicalize().ok(),
            dev_ino: dev_ino(&meta),
            regular: meta.is_file(),
        })
    }

    /// Standard input when it is a regular file (`< run.csv`): a file being read.
    fn of_stdin() -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
            let meta = File::from(fd).metadata().ok()?;
            meta.is_file().then(|| FileId {
                canonical: None,
                dev_ino: dev_ino(&meta),
                regular: true,
            })
        }
        #[cfg(not(unix))]
        None
    }

    fn same_file(&self, other: &FileId) -> bool {
        (self.canonical.is_some() && self.canonical == other.canonical)
            || (self.dev_ino.is_some() && self.dev_ino == other.dev_ino)
    }
}

#[cfg(unix)]
fn dev_ino(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn dev_ino(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Writes `path`: through a temporary file renamed into place when it is a regular file or does
/// not exist; directly when it is a device, a FIFO or another special file. Errors are the OS's
/// (`/dev/full` gives "No space left on device").
pub fn write_file(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => {
            let file = OpenOptions::new().write(true).open(path)?;
            let mut out = BufWriter::new(file);
            render(&mut out)?;
            out.flush()?;
            out.get_ref().sync_data().or_else(ignore_unsupported_sync)?;
            Ok(())
        }
        // A regular file (through any symlinks): replace the file, keep the links.
        Ok(meta) if meta.is_file() => write_atomically(&path.canonicalize()?, render),
        _ => write_atomically(path, render),
    }
}

/// `fsync` on a device or pipe may be unsupported: that is not a write error.
fn ignore_unsupported_sync(e: io::Error) -> io::Result<()> {
    match e.raw_os_error() {
        Some(code) if code == 22 || code == 95 || code == 25 => Ok(()), // EINVAL, EOPNOTSUPP, ENOTTY
        _ => Err(e),
    }
}

/// Writes through a temporary file in the destination's directory, renamed on success.
fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = TempFile::create_in(dir)?;
    {
        let mut out = BufWriter::new(tmp.file()?);
        render(&mut out)?;
        out.flush()?;
    }
    tmp.persist(path)
}

/// The paths of the temporary files that exist right now (removed on a signal).
static LIVE_TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_temps() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_TEMPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary file registered for removal on SIGINT / SIGTERM / SIGHUP and removed on drop.
struct TempFile {
    inner: Option<tempfile::NamedTempFile>,
}

/// tempfile's error names its random file (`<OS cause> at path "/abs/.jepa-doctor-x1.tmp"`, its
/// `PathError`, whose inner error it does not expose); the caller names the target the user gave,
/// so only the OS cause is kept.
fn without_temp_path(e: io::Error) -> io::Error {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((cause, _)) => io::Error::new(e.kind(), cause.to_string()),
        None => e,
    }
}

impl TempFile {
    fn create_in(dir: &Path) -> io::Result<TempFile> {
        install_signal_cleanup();
        let mut builder = tempfile::Builder::new();
        builder.prefix(".jepa-doctor-").suffix(".tmp");
        // A report is an ordinary file (rw-r--r--), not the private 0600 of a temporary file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o644));
        }
        // Created and registered under the lock: a signal sees every temporary file on disk.
        let mut live = live_temps();
        let tmp = builder.tempfile_in(dir).map_err(without_temp_path)?;
        live.push(tmp.path().to_path_buf());
        Ok(TempFile { inner: Some(tmp) })
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.inner
            .as_mut()
            .map(tempfile::NamedTempFile::as_file_mut)
            .ok_or_else(|| io::Error::other("temporary file already persisted"))
    }

    fn persist(mut self, path: &Path) -> io::Result<()> {
        let mut live = live_temps();
        let Some(tmp) = self.inner.take() else {
            return Err(io::Error::other("temporary file already persisted"));
        };
        let tmp_path = tmp.path().to_path_buf();
        live.retain(|p| *p != tmp_path);
        // On failure the returned NamedTempFile is dropped here, which removes it.
        tmp.persist(path).map(drop).map_err(|e| e.error)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.inner.take() {
            let mut live = live_temps();
            let tmp_path = tmp.path().to_path_buf();
            drop(tmp); // removes the file
            live.retain(|p| *p != tmp_path);
        }
    }
}

/// Installs, once, a thread that on SIGINT, SIGTERM or SIGHUP removes the live temporary files
/// and then ends the process the way the signal would have (its default action). Installed on
/// the first temporary file, so a process that writes none keeps the default signal behaviour.
fn install_signal_cleanup() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            use signal_hook::iterator::Signals;
            let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
                return; // no handler: temporary files are still removed on every other path
            };
            let spawned = std::thread::Builder::new()
                .name("temp-cleanup".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        // Held until the process ends: no new temporary file can appear.
                        let live = live_temps();
                        for path in live.iter() {
                            let _ = fs::remove_file(path);
                        }
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                        std::process::exit(128 + signal);
                    }
                });
            drop(spawned);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_render_leaves_nothing_behind() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.json");
        let result = write_file(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("render failed"))
        });
        assert!(result.is_err());
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path())?.count(), 0);
        assert!(live_temps().is_empty());
        Ok(())
    }

    #[test]
    fn a_successful_render_replaces_the_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("out.json");
        fs::write(&path, "old")?;
        write_file(&path, |w| w.write_all(b"new"))?;
        assert_eq!(fs::read_to_string(&path)?, "new");
        assert_eq!(fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_report_keeps_the_link() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        fs::write(&real, "old")?;
        std::os::unix::fs::symlink(&real, &link)?;
        write_file(&link, |w| w.write_all(b"new"))?;
        assert!(fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real)?, "new");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn outputs_that_are_inputs_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("jepa_r0.csv");
        fs::write(&log, "step,loss\n0,1\n")?;
        let hard = dir.path().join("hard.csv");
        fs::hard_link(&log, &hard)?;
        let sym = dir.path().join("sym.csv");
        std::os::unix::fs::symlink(&log, &sym)?;
        let dotted = dir.path().join(".").join("jepa_r0.csv");
        for path in [&log, &hard, &sym, &dotted] {
            let out = [OutputPath {
                flag: "--json",
                path,
            }];
            let err = refuse_overwriting_inputs(std::slice::from_ref(&log), &out)
                .err()
                .ok_or("not refused")?;
            assert!(
                err.to_string().contains("would overwrite the input"),
                "{err}"
            );
        }
        let fresh = dir.path().join("report.json");
        let out = [OutputPath {
            flag: "--json",
            path: &fresh,
        }];
        refuse_overwriting_inputs(std::slice::from_ref(&log), &out)?;
        fs::write(&fresh, "{}")?;
        let twice = [
            out[0],
            OutputPath {
                flag: "--markdown",
                path: &fresh,
            },
        ];
        let err = refuse_overwriting_inputs(&[], &twice)
            .err()
            .ok_or("two outputs on one file not refused")?;
        assert!(err.to_string().contains("both write"), "{err}");
        Ok(())
    }
}
