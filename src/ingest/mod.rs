//! Reading what a run wrote: files, run directories or standard input, each sniffed and handed to
//! the one parser for its format. Every parser has the same shape, `(reader, source, options) ->
//! Parsed`, and produces a [`table::Table`] keyed by step or by (epoch, itr); turning keys into
//! global steps and merging ranks is [`crate::clean`]'s job.

pub mod compressed;
pub mod console;
pub mod csv;
pub mod csv_fast;
pub mod csv_line;
pub mod csv_number;
pub mod csv_schema;
pub mod discover;
pub mod framework;
pub mod json;
pub mod lines;
pub mod mlflow;
pub mod progress;
pub mod roles;
pub mod run_pick;
pub mod sniff;
pub mod sources;
pub mod table;
pub mod tensorboard;
pub mod tfrecord;
pub mod values;
pub mod wandb;

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::IngestError;
use crate::model::Format;
use crate::params::RunParams;
use progress::Progress;
use rayon::prelude::*;
use table::{KeyKind, Table, ValuePolicy};

/// One input as the user named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// How it is shown in reports: the path as given, or `<stdin>`.
    pub name: String,
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    /// From a `_r{N}` file-name suffix.
    pub rank: Option<u32>,
}

impl Source {
    /// A file; its shown name has control characters escaped (a newline or an escape sequence
    /// in a file name must not reach the terminal raw).
    pub fn file(path: &Path) -> Source {
        Source {
            name: crate::human::escape_control(&path.display().to_string()).into_owned(),
            rank: discover::rank_from_name(path),
            path: Some(path.to_path_buf()),
        }
    }
    pub fn stdin() -> Source {
        Source {
            name: "<stdin>".into(),
            path: None,
            rank: None,
        }
    }
}

/// What a parser returns.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub table: Table,
    pub key_kind: KeyKind,
    pub format: Format,
    /// Iterations per epoch stated by the log itself.
    pub ipe_hint: Option<u64>,
    /// Lines that are not log rows (console output), ignored by design.
    pub lines_ignored: u64,
}

/// What the user asked of ingestion.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// `--format`; `None` sniffs each input.
    pub format: Option<Format>,
    pub step_col: Option<String>,
    /// `--config`; otherwise a params YAML next to the inputs is used.
    pub config: Option<PathBuf>,
    /// Skipped rows become errors.
    pub strict: bool,
    /// Which columns keep their values (the default keeps all).
    pub values: ValuePolicy,
    /// Read CSV files with the general parser only (tests compare it with the fast path).
    pub general_csv_only: bool,
    /// Show a progress bar on stderr for large inputs (when it is a terminal).
    pub progress_bar: bool,
    /// `--run`: the run to read from a source holding several (ID or name).
    pub run: Option<String>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            step_col: None,
            config: None,
            strict: false,
            values: ValuePolicy::all(),
            general_csv_only: false,
            progress_bar: false,
            run: None,
        }
    }
}

/// Everything read from the inputs, before cleaning.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub parsed: Vec<(Source, Parsed)>,
    pub params: Option<RunParams>,
    pub notes: Vec<String>,
}

/// How many bytes are looked at to recognise a format.
pub(crate) const SNIFF_BYTES: usize = 64 * 1024;

/// Reads every input (files, run directories, `-`) and the run's params YAML.
pub fn load(inputs: &[String], opts: &IngestOptions) -> Result<Loaded, IngestError> {
    load_plan(plan(inputs, opts)?, opts)
}

/// Decides what [`load_plan`] will read, reading nothing yet: the outputs can be checked
/// against [`discover::Plan::files`] first.
pub fn plan(inputs: &[String], opts: &IngestOptions) -> Result<discover::Plan, IngestError> {
    discover::plan(inputs, opts.config.as_deref())
}

/// The params YAML is read whole; a larger file is not a params file (`--config /dev/zero`).
pub const MAX_PARAMS_BYTES: u64 = 16 << 20;

/// Reads what [`plan`] decided.
pub fn load_plan(plan: discover::Plan, opts: &IngestOptions) -> Result<Loaded, IngestError> {
    let mut notes: Vec<String> = plan
        .notes
        .iter()
        .map(|n| crate::human::escape_control(n).into_owned())
        .collect();
    notes.extend(rank_collisions(&plan.sources));
    let mut loaded = Loaded {
        notes,
        ..Loaded::default()
    };
    if let Some(path) = &plan.params {
        let name = path.display().to_string();
        let text = read_params_text(path, &name)?;
        loaded.params = Some(RunParams::from_yaml(&text, &name)?);
    }
    let total_bytes = plan
        .sources
        .iter()
        .filter_map(|s| s.path.as_deref())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = Progress::for_inputs(total_bytes, opts.progress_bar);
    let inputs = plan.inputs;
    let read_all = |loaded: &mut Loaded| {
        // Every source is read in parallel (a run directory of 128 rank files); what was read is
        // taken in the sources' order, so the first error in that order is the one reported.
        let reads: Vec<Result<SourceRead, IngestError>> = plan
            .sources
            .into_par_iter()
            .map(|source| read_one(source, opts, &progress))
            .collect();
        for read in reads {
            match read? {
                SourceRead::Container(read) => {
                    let sources::RunTables { parsed, params } = *read;
                    if loaded.params.is_none() && opts.config.is_none() {
                        loaded.params = params;
                    }
                    loaded.parsed.extend(parsed);
                }
                SourceRead::File(source, parsed) => {
                    if opts.strict {
                        let table = &parsed.table;
                        if let Some(first) = table.skipped.first() {
                            return Err(IngestError::Strict(first.to_string()));
                        }
                        if let Some(damaged) = &table.first_damaged {
                            return Err(IngestError::Strict(damaged.clone()));
                        }
                    }
                    loaded.parsed.push((source, *parsed));
                }
            }
        }
        Ok(())
    };
    let result = read_all(&mut loaded);
    progress.finish();
    result?;
    sources::check_one_run(&inputs, &loaded)?;
    Ok(loaded)
}

/// What one source held: a container's runs, or one file's table.
enum SourceRead {
    Container(Box<sources::RunTables>),
    File(Source, Box<Parsed>),
}

/// Reads one source of a plan (a container holding several runs, or one file or stream).
fn read_one(
    source: Source,
    opts: &IngestOptions,
    progress: &Progress,
) -> Result<SourceRead, IngestError> {
    if let Some(container) = source.path.as_deref().and_then(sources::container_at) {
        return sources::read_container(&source, &container, opts)
            .map(|read| SourceRead::Container(Box::new(read)));
    }
    let parsed = read_source(&source, opts, None, progress)?;
    Ok(SourceRead::File(source, Box::new(parsed)))
}

/// Notes for files whose names give the same rank in different spellings (`jepa_r0.csv` and
/// `jepa_r00.csv`): they are read as parts of one rank, which may not be what was meant.
fn rank_collisions(sources: &[Source]) -> Vec<String> {
    let mut notes = Vec::new();
    for (i, a) in sources.iter().enumerate() {
        let Some(rank) = a.rank else { continue };
        let stem = |s: &Source| {
            s.path
                .as_deref()
                .and_then(Path::file_stem)
                .map(|f| f.to_string_lossy().into_owned())
        };
        for b in &sources[..i] {
            if b.rank == Some(rank)
                && stem(a) != stem(b)
                && b.path.as_deref().and_then(Path::parent)
                    == a.path.as_deref().and_then(Path::parent)
            {
                notes.push(format!(
                    "{} and {} both name rank {rank}: read as parts of one rank",
                    b.name, a.name
                ));
            }
        }
    }
    notes
}

/// Opens one source once, sniffs its format unless forced, and parses it. A regular file is
/// read from its start again after sniffing (and may take the CSV fast path); anything else —
/// standard input, a FIFO, `<(cmd)`, `/dev/stdin`, a device — is streamed once, the sniffed
/// head followed by the rest.
pub fn read_source(
    source: &Source,
    opts: &IngestOptions,
    params: Option<&RunParams>,
    progress: &Progress,
) -> Result<Parsed, IngestError> {
    let _ = params;
    let name = source.name.as_str();
    let Some(path) = &source.path else {
        let (head, reader) = split_head(Box::new(std::io::stdin().lock()), name)?;
        return parse_stream(head, reader, source, opts);
    };
    let file = File::open(path).map_err(|e| IngestError::io(name, e))?;
    let meta = file.metadata().map_err(|e| IngestError::io(name, e))?;
    if meta.is_dir() {
        return Err(IngestError::unusable(name, "is a directory"));
    }
    if !meta.is_file() {
        let (head, reader) = split_head(Box::new(progress.counting(file)), name)?;
        return parse_stream(head, reader, source, opts);
    }
    let mut file = file;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| IngestError::io(name, e))?;
    if compressed::is_compressed(&head) {
        // Compressed bytes (whatever the name) are streamed through their decoder.
        file.seek(SeekFrom::Start(0))
            .map_err(|e| IngestError::io(name, e))?;
        let (head, reader) = split_head(Box::new(progress.counting(file)), name)?;
        return parse_stream(head, reader, source, opts);
    }
    let format = format_of(&head, source, opts)?;
    let is_csv = matches!(
        format,
        Format::VjepaCsv | Format::Vjepa2Csv | Format::IjepaCsv | Format::Csv
    );
    if is_csv && !opts.general_csv_only {
        let start = progress.position();
        let csv_opts = csv_options(format, &head, opts);
        if let Some(parsed) = csv_fast::parse_open_file_fast(
            &file,
            source,
            &csv_opts,
            csv_fast::CHUNK_BYTES,
            progress,
        )? {
            return Ok(parsed);
        }
        progress.rewind_to(start);
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| IngestError::io(name, e))?;
    parse_as(format, &head, progress.counting(file), source, opts)
}

/// Parses a non-seekable input (or a compressed file) whose first bytes were read into `head`;
/// `reader` yields the whole input from its start. Compressed bytes are read through their
/// decoder.
fn parse_stream(
    head: Vec<u8>,
    reader: impl Read + 'static,
    source: &Source,
    opts: &IngestOptions,
) -> Result<Parsed, IngestError> {
    let (head, reader): (Vec<u8>, Box<dyn Read>) = if compressed::is_compressed(&head) {
        let decoded = compressed::decoder(&head, reader, &source.name)?;
        let (head, reader) = split_head(decoded, &source.name)?;
        (head, Box::new(reader))
    } else {
        (head, Box::new(reader))
    };
    let format = format_of(&head, source, opts)?;
    parse_as(format, &head, reader, source, opts)
}

/// The format of a source from its first bytes (or `--format`), refusing what is not a log.
fn format_of(head: &[u8], source: &Source, opts: &IngestOptions) -> Result<Format, IngestError> {
    // Other binary formats are named with the way to convert them.
    if opts.format.is_none()
        && let Some(why) = compressed::unreadable_binary(head, source.path.as_deref())
    {
        return Err(IngestError::unusable(&source.name, why));
    }
    if head.is_empty() {
        return Err(IngestError::Empty {
            path: source.name.clone(),
        });
    }
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Err(IngestError::unusable(
            &source.name,
            "the file is UTF-16 text; jepa-doctor reads UTF-8 (convert it: iconv -f UTF-16 -t UTF-8)",
        ));
    }
    match opts.format {
        Some(f) => Ok(f),
        None => sniff::sniff(head, source.path.as_deref()).ok_or_else(|| {
            IngestError::unusable(
                &source.name,
                "not a log format jepa-doctor recognises (CSV/TSV with a header, JSON lines, a JSON document, or JEPA console output); force one with --format",
            )
        }),
    }
}

fn csv_options(format: Format, head: &[u8], opts: &IngestOptions) -> csv::CsvOptions {
    csv::CsvOptions {
        format,
        delimiter: sniff::delimiter(head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head)),
        step_col: opts.step_col.clone(),
        values: opts.values.clone(),
    }
}

/// The general parser of `format` on `reader`, which yields the whole input from its start.
fn parse_as(
    format: Format,
    head: &[u8],
    reader: impl Read + 'static,
    source: &Source,
    opts: &IngestOptions,
) -> Result<Parsed, IngestError> {
    match format {
        Format::VjepaCsv | Format::Vjepa2Csv | Format::IjepaCsv | Format::Csv => {
            csv::parse(reader, source, &csv_options(format, head, opts))
        }
        Format::Jsonl => {
            let mut json_opts = json_options(opts);
            if json_opts.step_col.is_none() {
                json_opts.step_col = framework::json_lines_step_key(head).map(String::from);
            }
            json::parse_lines(reader, source, &json_opts)
        }
        Format::Json => json::parse_document(reader, source, &json_options(opts)),
        Format::ConsoleLog => console::parse(reader, source, &opts.values),
        Format::Tensorboard => tensorboard::parse(reader, source, &opts.values),
        Format::FairseqLog => framework::parse_fairseq(reader, source, &json_options(opts)),
        Format::WandbCsv => wandb::parse_export(reader, source, opts.run.as_deref(), &opts.values),
        Format::Wandb => wandb::parse_transaction_log(reader, &source.name, &opts.values),
        Format::Mlflow => Err(IngestError::unusable(
            &source.name,
            "an MLflow store is read from its folder (mlruns/) or its mlflow.db",
        )),
    }
}

/// The params YAML as text, refusing more than [`MAX_PARAMS_BYTES`] while reading.
fn read_params_text(path: &Path, name: &str) -> Result<String, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(name, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_PARAMS_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::io(name, e))?;
    if bytes.len() as u64 > MAX_PARAMS_BYTES {
        return Err(IngestError::unusable(
            name,
            format!(
                "larger than {} MiB: not a params YAML",
                MAX_PARAMS_BYTES >> 20
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    String::from_utf8(bytes.to_vec())
        .map_err(|e| IngestError::unusable(name, format!("not valid UTF-8 text ({e})")))
}

fn json_options(opts: &IngestOptions) -> json::JsonOptions {
    json::JsonOptions {
        step_col: opts.step_col.clone(),
        values: opts.values.clone(),
    }
}

/// Reads the first bytes for sniffing and returns them with a reader that still yields everything.
fn split_head(
    mut reader: Box<dyn Read>,
    name: &str,
) -> Result<(Vec<u8>, impl Read + use<>), IngestError> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| IngestError::io(name, e))?;
    let whole = Cursor::new(head.clone()).chain(reader);
    Ok((head, whole))
}
