//! TensorBoard event files (`events.out.tfevents.*`), as written by `torch.utils.tensorboard`,
//! tensorboardX, `tf.summary` and `tensorboard.summary.Writer`: a file, or a log directory searched
//! recursively.
//!
//! Each file is a TFRecord stream ([`super::tfrecord`]) of protobuf `Event` messages
//! (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto and tensor.proto),
//! decoded with `prost` through the hand-written message structs below: only the fields read are
//! declared, the rest are skipped as protobuf allows. A scalar is a `Summary.Value` holding
//! `simple_value` (the classic writers), or a rank-0 numeric `tensor` (`float_val`, `double_val`,
//! `half_val`, `int_val`, `int64_val` or `tensor_content`) whose tag belongs to the `scalars` plugin
//! (TF2 and `new_style=True` writers; the plugin is named only on a tag's first event, as
//! TensorBoard's own loader assumes). Images, histograms, text and graphs are counted and ignored.
//!
//! Layout, as TensorBoard shows it: every directory holding event files is a *run*; the files of
//! one run are read in name order (their names start with the creation time), a later file being a
//! restart whose rows replace the earlier file's from its first step on. `add_scalars(main, {k: v})`
//! writes each `k` to a sibling writer in the sub-folder `{main with / as _}_{k}` whose only tag is
//! `main`: such folders are series of their parent run, named after the folder (`loss_jepa`). Any
//! other sub-folder with event files is a different run ([`runs_in`] lists them).
//!
//! A row is the consecutive events of one file that share a step. Rows account for every record:
//! a record whose checksum fails is skipped with its byte offset, a truncated last record (a live
//! run) is skipped and counted, and undecodable payloads are skipped with their offset.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use prost::Message;

pub use proto::{
    Event, PluginData, Summary, SummaryMetadata, SummaryValue, TensorDim, TensorProto, TensorShape,
    tensor_scalar,
};

use super::table::ValuePolicy;
use super::tfrecord::{Frame, RecordReader};
use super::{Parsed, Source};
use crate::error::IngestError;
use events::EventSink;

mod events;
mod proto;
mod wire;

/// True for a file name TensorBoard reads as an event file.
pub fn is_event_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("tfevents"))
}

/// True when `head` starts like a TFRecord stream: a length whose masked CRC-32C matches.
pub fn looks_like_tfrecord(head: &[u8]) -> bool {
    head.len() >= 12
        && super::tfrecord::masked_crc(&head[..8])
            == u32::from_le_bytes([head[8], head[9], head[10], head[11]])
}

/// One writer's event files: the run's own, or an `add_scalars` sub-folder's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer {
    /// The event files, in name (= creation time) order.
    pub files: Vec<PathBuf>,
    /// `Some(folder name)` for an `add_scalars` sub-writer: its tag is renamed to the folder name.
    pub series_name: Option<String>,
}

/// One TensorBoard run: a directory with event files, plus its `add_scalars` sub-writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TbRun {
    /// Path of the run directory relative to the log directory (`.` for the log directory).
    pub name: String,
    pub dir: PathBuf,
    pub writers: Vec<Writer>,
}

/// The runs under a log directory (recursive), in path order. Errors only when `dir` cannot be
/// listed; unreadable sub-directories are skipped.
pub fn runs_in(dir: &Path) -> Result<Vec<TbRun>, IngestError> {
    let name = dir.display().to_string();
    let mut dirs: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    collect_event_dirs(dir, 0, &mut dirs).map_err(|e| IngestError::io(&name, e))?;
    dirs.sort();
    let mut runs: Vec<TbRun> = Vec::new();
    for (path, files) in dirs {
        // The nearest enclosing run (directories are sorted, so ancestors come first).
        let parent = runs
            .iter_mut()
            .filter(|r| path.starts_with(&r.dir) && path != r.dir)
            .max_by_key(|r| r.dir.components().count());
        if let Some(parent) = parent
            && let Some(series) = add_scalars_series(&parent.dir, &path, &files)
        {
            parent.writers.push(Writer {
                files,
                series_name: Some(series),
            });
            continue;
        }
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let run_name = if rel.as_os_str().is_empty() {
            ".".to_string()
        } else {
            slash_path(rel)
        };
        runs.push(TbRun {
            name: run_name,
            dir: path,
            writers: vec![Writer {
                files,
                series_name: None,
            }],
        });
    }
    Ok(runs)
}

/// A relative path with `/` separators.
fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn collect_event_dirs(
    dir: &Path,
    depth: usize,
    out: &mut Vec<(PathBuf, Vec<PathBuf>)>,
) -> std::io::Result<()> {
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => subdirs.push(path),
            Ok(_) if is_event_file(&path) && path.is_file() => files.push(path),
            _ => {}
        }
    }
    files.sort();
    if !files.is_empty() {
        out.push((dir.to_path_buf(), files));
    }
    if depth < 16 {
        for sub in subdirs {
            // An unreadable sub-directory is not a run we can read; the others still are.
            let _ = collect_event_dirs(&sub, depth + 1, out);
        }
    }
    Ok(())
}

/// `Some(series name)` when `dir` (below the run directory `run_dir`) is an `add_scalars`
/// sub-writer whose first scalar tag is the main tag `t`: tensorboardX writes `{t}/{key}/`,
/// torch.utils.tensorboard `{t with / as _}_{key}/` (`SummaryWriter.add_scalars` in both). The
/// series is named after the folder relative to the run (`loss/jepa`, `loss_jepa`).
fn add_scalars_series(run_dir: &Path, dir: &Path, files: &[PathBuf]) -> Option<String> {
    let rel = slash_path(dir.strip_prefix(run_dir).ok()?);
    let tag = files.iter().find_map(|f| first_tag(f))?;
    let nested = rel
        .strip_prefix(&format!("{tag}/"))
        .is_some_and(|key| !key.is_empty() && !key.contains('/'));
    let flat = rel
        .strip_prefix(&format!("{}_", tag.replace('/', "_")))
        .is_some_and(|key| !key.is_empty() && !rel.contains('/'));
    (nested || flat).then_some(rel)
}

/// The first summary tag of an event file (reads only until one is found, at most 64 records).
fn first_tag(path: &Path) -> Option<String> {
    let mut reader = RecordReader::new(File::open(path).ok()?);
    for _ in 0..64 {
        match reader.next_frame().ok()? {
            Frame::Record { .. } => {
                let event = Event::decode(reader.payload()).ok()?;
                if let Some(v) = event.summary.and_then(|s| s.value.into_iter().next()) {
                    return String::from_utf8(v.tag.to_vec()).ok();
                }
            }
            Frame::End | Frame::Truncated { .. } => return None,
            _ => {}
        }
    }
    None
}

/// Reads one run: each writer becomes one [`Parsed`] (its series merge by step in `clean`).
pub fn read_run(run: &TbRun, values: &ValuePolicy) -> Result<Vec<(Source, Parsed)>, IngestError> {
    let mut out = Vec::with_capacity(run.writers.len());
    for writer in &run.writers {
        let name = writer.series_name.as_ref().map_or_else(
            || run.dir.display().to_string(),
            |_| {
                writer
                    .files
                    .first()
                    .and_then(|f| f.parent())
                    .unwrap_or(&run.dir)
                    .display()
                    .to_string()
            },
        );
        let source = Source {
            name: name.clone(),
            path: Some(run.dir.clone()),
            rank: None,
        };
        let mut sink = EventSink::new(&name, values, writer.series_name.clone());
        for (i, file) in writer.files.iter().enumerate() {
            let file_name = file.display().to_string();
            let reader = File::open(file).map_err(|e| IngestError::io(&file_name, e))?;
            if i > 0 {
                sink.restart();
            }
            sink.read_file(reader, &file_name, false)?;
        }
        out.push((source, sink.finish()?));
    }
    Ok(out)
}

/// Reads one event file (or stream) as a run of its own.
pub fn parse(
    reader: impl Read,
    source: &Source,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    let mut sink = EventSink::new(&source.name, values, None);
    sink.read_file(reader, &source.name, false)?;
    sink.finish()
}

/// What following a growing event file carries from one read of its appended bytes to the next
/// ([`parse_appended`]): the byte offset reached, the records counted, and which tags are scalars
/// (the plugin is named only on a tag's first event).
#[derive(Clone, Debug, Default)]
pub struct EventFollow {
    /// The series name of an `add_scalars` sub-writer (see [`Writer::series_name`]).
    pub rename: Option<String>,
    /// Bytes of the file consumed so far (complete records).
    pub offset: u64,
    records: u64,
    scalar_tags: HashMap<Box<[u8]>, bool>,
}

impl EventFollow {
    /// The state at the start of a file; `rename` as in [`EventFollow::rename`].
    pub fn new(rename: Option<String>) -> EventFollow {
        EventFollow {
            rename,
            ..EventFollow::default()
        }
    }
}

/// Parses the complete records at the start of `bytes`, the bytes appended to a live event file
/// since `state.offset`. Returns the rows (`None` when the records held no scalar) and how many
/// bytes were consumed: a record cut at the end (the writer is mid-write) is not an error, it is
/// left for the next call with the bytes that complete it. Used by `watch`.
pub fn parse_appended(
    bytes: &[u8],
    source: &Source,
    values: &ValuePolicy,
    state: &mut EventFollow,
) -> Result<(Option<Parsed>, usize), IngestError> {
    let mut sink = EventSink::new(&source.name, values, state.rename.clone());
    sink.scalar_tags = std::mem::take(&mut state.scalar_tags);
    sink.records = state.records;
    sink.base = state.offset;
    let held = sink.read_file(bytes, &source.name, true)?;
    let consumed = held.map_or(bytes.len() as u64, |at| at - state.offset) as usize;
    state.offset += consumed as u64;
    state.records = sink.records;
    state.scalar_tags = std::mem::take(&mut sink.scalar_tags);
    if sink.builder.rows_read() == 0 {
        return Ok((None, consumed));
    }
    Ok((Some(sink.finish()?), consumed))
}
