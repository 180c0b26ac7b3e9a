//! Logs that cannot be followed by offset, read whole again when they change, with the readers
//! `analyze` uses (so their rows and accounting are `analyze`'s):
//! - a compressed log (`jepa_r0.csv.gz`, `train.log.zst`): a decoder needs the stream from its
//!   start, and such a file grows only by being rewritten (or by a new gzip member appended);
//! - a JSON document (`trainer_state.json`, MMEngine `scalars.json`, DINOv2
//!   `training_metrics.json`), a W&B CSV export or a W&B transaction log (`run-*.wandb`), each
//!   rewritten or appended by its writer in units a line reader cannot cut;
//! - a tracker store: an MLflow file store (`mlruns/`, an experiment or run folder), an MLflow
//!   SQLite store (`mlflow.db`), a W&B offline run folder (`wandb/offline-run-*`,
//!   `wandb/latest-run`), read through [`sources::read_container`] (`--run` picks the run).
//!
//! A change is seen from a fingerprint (size, modification time and inode of the file; for a
//! folder, of every file below it and where a `latest-run` link points; for `mlflow.db`, its
//! `-wal` and `-journal` too), taken at every tick; reading costs one full read per change, not
//! per tick. A read that fails while the writer is at work (a gzip member not finished, a
//! transaction log cut mid-record, a store mid-write) is held: the last good content stands, the
//! reason is shown ([`Whole::note`]) and the read is tried again at the next change. A store that
//! holds no metrics yet, or a file that is empty or only a header, is waited for. Any other first
//! read failing on content that does not change is an error (exit 2), as `analyze` reports it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Batch, Fed, batch_of};
use crate::error::IngestError;
use crate::ingest::progress::Progress;
use crate::ingest::sources::{self, Container};
use crate::ingest::{IngestOptions, Source, read_source};
use crate::model::Format;

/// Files below a store folder looked at for a change (a bigger store is still read, its
/// fingerprint covering the first ones in name order).
const FINGERPRINT_FILES: usize = 20_000;

/// What is read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WholeKind {
    /// One file, compressed or a format read whole.
    File,
    /// A tracker store (MLflow, W&B offline run folder).
    Store(Container),
}

/// The state of a source read whole.
#[derive(Debug)]
pub struct Whole {
    kind: WholeKind,
    opts: IngestOptions,
    /// The fingerprint of the content last read (or last failed on).
    seen: Option<Fingerprint>,
    /// A read succeeded once.
    read_once: bool,
    /// The format of the last good read.
    pub format: Option<Format>,
    /// Why the last read gave nothing (held or waiting), shown on the status line.
    pub note: Option<String>,
    /// Found after watching began: any first failure but a usage error is waited out.
    pub appeared_while_watching: bool,
}

/// One file of a source: path, size, modification time, (device, inode).
type FileStamp = (PathBuf, u64, Option<SystemTime>, Option<(u64, u64)>);

/// Sizes, times and identities of the files a source is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint(Vec<FileStamp>);

impl Whole {
    pub fn new(kind: WholeKind, opts: &IngestOptions) -> Whole {
        Whole {
            kind,
            opts: opts.clone(),
            seen: None,
            read_once: false,
            format: None,
            note: None,
            appeared_while_watching: false,
        }
    }

    /// Forgets what was read: the next poll reads the source again.
    pub fn rewind(&mut self) {
        self.seen = None;
    }

    /// Reads the source when it changed since the last look: [`Fed::Whole`] with every row it
    /// holds now (they replace what it gave before).
    pub fn poll(&mut self, source: &Source) -> Result<Fed, IngestError> {
        let Some(path) = source.path.as_deref() else {
            return Ok(Fed::Nothing);
        };
        let before = match fingerprint(path) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(Fed::Missing),
            Err(e) => return Err(IngestError::io(&source.name, e)),
        };
        if self.seen.as_ref() == Some(&before) {
            return Ok(Fed::Nothing);
        }
        let read = self.read(source);
        let after = fingerprint(path).ok().flatten();
        let changing = after.as_ref() != Some(&before);
        match read {
            Ok((mut batch, format)) => {
                self.seen = Some(before);
                self.read_once = true;
                self.format = Some(format);
                self.note = None;
                if changing {
                    // Read while it changed: read again at the next tick.
                    self.seen = None;
                }
                batch.key_kind = batch.key_kind.or(Some(crate::ingest::table::KeyKind::Step));
                Ok(Fed::Whole(batch))
            }
            // The writer is at work: try again when it changed.
            Err(e) if changing => {
                self.note = Some(format!("{e} (being written; read again when it changes)"));
                Ok(Fed::Nothing)
            }
            Err(e) if self.read_once || self.waits_for(&e) => {
                self.seen = Some(before);
                self.note = Some(if self.read_once {
                    format!("{e}; its last good content stands until it changes")
                } else {
                    format!("{e}; waiting for it to change")
                });
                Ok(Fed::Nothing)
            }
            Err(e) => Err(Self::explain(e, path)),
        }
    }

    /// Whether a first read failing with `e` means "nothing yet" rather than a broken source: an
    /// empty file or a header alone, a store whose run has logged no metrics yet, a file that
    /// appeared while watching (its writer may be mid-write).
    fn waits_for(&self, e: &IngestError) -> bool {
        matches!(
            e,
            IngestError::Empty { .. } | IngestError::HeaderOnly { .. }
        ) || ((matches!(self.kind, WholeKind::Store(_)) || self.appeared_while_watching)
            && !matches!(e, IngestError::Usage(_)))
    }

    /// `e`, with what to do when the source is a compressed log that cannot be decoded (yet).
    fn explain(e: IngestError, path: &Path) -> IngestError {
        let mut head = Vec::new();
        let compressed = std::fs::File::open(path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 8), &mut head))
            .is_ok_and(|_| crate::ingest::compressed::is_compressed(&head));
        match e {
            IngestError::Io { path, cause } if compressed => IngestError::unusable(
                &path,
                format!(
                    "{cause}: the compressed stream cannot be decoded to its end (a gzip or zstd stream still being written is complete only when its writer closes it); watch re-reads a compressed log whole when it changes, so watch the uncompressed log while the run writes it, or compress it when the writer closed it"
                ),
            ),
            other => other,
        }
    }

    fn read(&self, source: &Source) -> Result<(Batch, Format), IngestError> {
        match &self.kind {
            WholeKind::File => {
                let parsed = read_source(source, &self.opts, None, &Progress::hidden())?;
                let format = parsed.format;
                Ok((batch_of(parsed), format))
            }
            WholeKind::Store(container) => {
                let tables = sources::read_container(source, container, &self.opts)?;
                let mut parsed = tables.parsed.into_iter();
                let Some((_, first)) = parsed.next() else {
                    return Err(IngestError::unusable(&source.name, "holds no metrics yet"));
                };
                if parsed.next().is_some() {
                    return Err(IngestError::unusable(
                        &source.name,
                        "holds several tables of one run, which watch cannot merge; watch the run's log files instead",
                    ));
                }
                let format = first.format;
                let mut batch = batch_of(first);
                batch.params = tables.params;
                Ok((batch, format))
            }
        }
    }
}

/// The fingerprint of `path` (a file, or a folder and every file below it); `None` when it is not
/// there.
fn fingerprint(path: &Path) -> std::io::Result<Option<Fingerprint>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    if meta.is_dir() {
        // Where a `latest-run` link points: a new run is a new folder.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        entries.push((target.clone(), 0, None, None));
        collect(&target, 0, &mut entries);
        entries[1..].sort_by(|a, b| a.0.cmp(&b.0));
    } else {
        entries.push(entry(path.to_path_buf(), &meta));
        // SQLite writes go to the write-ahead log first.
        for suffix in ["-wal", "-journal"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if let Ok(m) = std::fs::metadata(&side) {
                entries.push(entry(side, &m));
            }
        }
    }
    Ok(Some(Fingerprint(entries)))
}

fn entry(path: PathBuf, meta: &std::fs::Metadata) -> FileStamp {
    (
        path,
        meta.len(),
        meta.modified().ok(),
        crate::watch::tail::identity_of(meta),
    )
}

/// Every file below `dir` (8 levels, [`FINGERPRINT_FILES`] at most).
fn collect(dir: &Path, depth: usize, out: &mut Vec<FileStamp>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for e in read.flatten() {
        if out.len() >= FINGERPRINT_FILES {
            return;
        }
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            if depth < 8 {
                collect(&e.path(), depth + 1, out);
            }
        } else {
            out.push(entry(e.path(), &meta));
        }
    }
}
