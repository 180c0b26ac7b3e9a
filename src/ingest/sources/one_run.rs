//! The rule of DESIGN §2 that several *different* runs are never averaged: inputs are one run's
//! ranks (`{tag}_r{N}` files of one tag, distinct ranks, one header, overlapping steps) or its
//! parts (each resuming after the first step of the one before), never one input twice, a copy
//! of a log, or logs of two runs. [`check_one_run`] refuses anything else with exit 2, naming
//! what it saw.

use std::path::{Path, PathBuf};

use crate::error::IngestError;
use crate::ingest::discover::is_yaml;
use crate::ingest::table::{KeyKind, split_epoch_itr};
use crate::ingest::{Loaded, Parsed, Source};

/// Refuses inputs that are several runs rather than one run's parts or ranks: several container
/// sources or run directories, rank files of different tags, a rank claimed twice (`_r0` and
/// `_r00`), rank files with different headers or steps that never overlap, and same-named logs
/// from different folders.
pub fn check_one_run(inputs: &[String], loaded: &Loaded) -> Result<(), IngestError> {
    check_given_once(inputs)?;
    let dirs: Vec<&String> = inputs.iter().filter(|i| Path::new(i).is_dir()).collect();
    let mut distinct_dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| PathBuf::from(d)))
        .collect();
    distinct_dirs.sort();
    distinct_dirs.dedup();
    if distinct_dirs.len() > 1 {
        // Two checkpoint folders of one run (`checkpoint-300/ checkpoint-600/`) are snapshots.
        for (i, (a, pa)) in loaded.parsed.iter().enumerate() {
            for (b, pb) in &loaded.parsed[i + 1..] {
                if let Some(snapshot) = snapshot_refusal(inputs, (a, pa), (b, pb)) {
                    return Err(snapshot);
                }
            }
        }
        return Err(several_runs(
            &dirs.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        ));
    }
    // Files and standard input; the sources of a folder store (TensorBoard writers, an MLflow or
    // W&B run) are one log, as the rank files are.
    let is_stream = |s: &Source| s.path.as_deref().is_none_or(|p| !p.is_dir());
    let files: Vec<&(Source, Parsed)> =
        loaded.parsed.iter().filter(|(s, _)| is_stream(s)).collect();
    let store = loaded
        .parsed
        .iter()
        .filter(|(s, _)| !is_stream(s))
        .min_by_key(|(_, p)| p.table.keys.first());
    let ranked: Vec<&(Source, Parsed)> = files
        .iter()
        .copied()
        .filter(|(s, _)| s.rank.is_some())
        .collect();
    if ranked.len() > 1 {
        check_ranks(&ranked)?;
    }
    // Parts of one run continue each other (a restart resumes from a checkpoint, after the first
    // step of the part before it); two logs that start at the same step are two runs, or two
    // copies of one, and are never averaged. The rank files count as one log (their earliest
    // start), and a log keyed by (epoch, itr) starting in the first epoch starts at step `itr`
    // whatever the iterations per epoch, so it meets a log keyed by global steps.
    let mut starts: Vec<(u64, &Source, &Parsed)> = files
        .iter()
        .filter(|(s, _)| s.rank.is_none())
        .chain(ranked.iter().min_by_key(|(_, p)| p.table.keys.first()))
        .chain(store.as_ref())
        .filter_map(|(s, p)| Some((comparable_start(p)?, s, p)))
        .collect();
    starts.sort_unstable_by_key(|(start, ..)| *start);
    for pair in starts.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(same_start(
                inputs,
                (pair[0].1, pair[0].2),
                (pair[1].1, pair[1].2),
            ));
        }
    }
    // Logs of the same name in different folders are different runs' logs.
    let mut names: Vec<(String, String)> = files
        .iter()
        .filter(|(s, _)| s.rank.is_none())
        .filter_map(|(s, _)| {
            let p = s.path.as_deref()?;
            Some((
                p.file_name()?.to_string_lossy().into_owned(),
                s.name.clone(),
            ))
        })
        .collect();
    names.sort();
    for pair in names.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(several_runs(&[pair[0].1.as_str(), pair[1].1.as_str()]));
        }
    }
    Ok(())
}

fn check_ranks(ranked: &[&(Source, Parsed)]) -> Result<(), IngestError> {
    let tag = |s: &Source| {
        s.path
            .as_deref()
            .and_then(crate::ingest::compressed::log_stem)
            .and_then(|n| n.rsplit_once("_r"))
            .map(|(t, digits)| (t.to_string(), digits.to_string()))
    };
    let (first_source, first) = ranked[0];
    let (first_tag, _) = tag(first_source).unwrap_or_default();
    let mut seen: Vec<(u32, &Source, String, u64)> = Vec::new();
    for (source, parsed) in ranked {
        let (t, digits) = tag(source).unwrap_or_default();
        if t != first_tag {
            return Err(several_runs(&[&first_source.name, &source.name]));
        }
        let rank = source.rank.unwrap_or(0);
        let rows = parsed.table.account.rows_read;
        if let Some((other_source, other_digits, other_rows)) = seen
            .iter()
            .find(|(r, ..)| *r == rank)
            .map(|(_, o, d, n)| (*o, d, *n))
        {
            if let Some(twice) = given_twice(other_source, source) {
                return Err(twice);
            }
            let other = &other_source.name;
            // One log name twice (`jepa_r0.csv` and `jepa_r0.csv.gz`): a copy or an archive of
            // the same rank left beside it, not another run.
            if *other_digits == digits {
                let compressed = |n: &str| {
                    std::path::Path::new(n).extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("zst")
                    })
                };
                let how = if compressed(other) != compressed(&source.name) {
                    "one compressed and one not (an archived copy beside the log)"
                } else if let (Some(a), Some(b)) =
                    (other_source.path.as_deref(), source.path.as_deref())
                    && identical_contents(a, b)
                {
                    "under two names"
                } else {
                    // Same rank, other contents: two runs' logs.
                    return Err(several_runs(&[other, &source.name]));
                };
                return Err(IngestError::usage(format!(
                    "{other} ({other_rows} rows) and {} ({rows} rows) are one log twice, rank {rank} of {t}, {how}: ranks are averaged, so a copy would count twice; keep one — pass it alone (`jepa-doctor analyze {other}`), or move the other out of the folder",
                    source.name
                )));
            }
            return Err(IngestError::usage(format!(
                "{other} and {} both claim rank {rank} (`_r{other_digits}` and `_r{digits}`): one run writes one file per rank; pass one of them, or compare them with `jepa-doctor compare`",
                source.name
            )));
        }
        seen.push((rank, source, digits, rows));
        if parsed.table.names != first.table.names {
            return Err(IngestError::usage(format!(
                "{} and {} have different columns, so they are not ranks of one run; analyse each on its own, or compare them with `jepa-doctor compare {} {}`",
                first_source.name, source.name, first_source.name, source.name
            )));
        }
        let overlap = match (
            first.table.keys.first(),
            first.table.keys.last(),
            parsed.table.keys.first(),
            parsed.table.keys.last(),
        ) {
            (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 <= b1 && b0 <= a1,
            _ => true,
        };
        if !overlap {
            return Err(IngestError::usage(format!(
                "{} and {} log steps that never overlap, so they are not ranks of one run; analyse each on its own, or compare them with `jepa-doctor compare {} {}`",
                first_source.name, source.name, first_source.name, source.name
            )));
        }
    }
    Ok(())
}

/// Refuses an input given twice: one path twice (`-` too), two paths to one file or folder
/// (`..`, symlinks, hard links), or a log inside a folder also given (read from both). A params
/// YAML inside the run folder is fine.
fn check_given_once(inputs: &[String]) -> Result<(), IngestError> {
    if inputs.len() < 2 {
        return Ok(());
    }
    // Identified without opening anything: opening a FIFO would block or take its bytes.
    let ids: Vec<Option<(PathBuf, FileId)>> = inputs
        .iter()
        .map(|i| {
            let path = std::fs::canonicalize(i).ok()?;
            let id = file_id(&path)?;
            Some((path, id))
        })
        .collect();
    for (a, (name_a, id_a)) in inputs.iter().zip(&ids).enumerate() {
        for (name_b, id_b) in inputs.iter().zip(&ids).skip(a + 1) {
            let twice = match (id_a, id_b) {
                _ if name_a == "-" || name_b == "-" => name_a == name_b,
                (Some((_, ha)), Some((_, hb))) if ha == hb => true,
                (Some((pa, _)), Some((pb, _))) => {
                    let inside = |dir: &Path, file: &Path, name: &str| {
                        dir.is_dir()
                            && file != dir
                            && file.starts_with(dir)
                            && !is_yaml(Path::new(name))
                    };
                    if inside(pa, pb, name_b) || inside(pb, pa, name_a) {
                        let (dir, file) = if pa.is_dir() {
                            (name_a, name_b)
                        } else {
                            (name_b, name_a)
                        };
                        return Err(IngestError::usage(format!(
                            "{file} is inside {dir}, which is given too: its rows would be read twice; pass one of them"
                        )));
                    }
                    false
                }
                _ => false,
            };
            if twice {
                return Err(twice_refusal(name_a, name_b));
            }
        }
    }
    Ok(())
}

/// The first step of a log on the global step axis, where it is known before the iterations per
/// epoch are: a global step, or `itr` for an (epoch, itr) key in the first epoch (epoch 0 or 1,
/// as `clean` counts from there).
fn comparable_start(p: &Parsed) -> Option<u64> {
    let first = p.table.keys.first()?;
    match p.key_kind {
        KeyKind::Step => Some(first),
        KeyKind::EpochItr => {
            let (epoch, itr) = split_epoch_itr(first);
            (epoch <= 1).then_some(itr)
        }
    }
}

/// Two logs that start at the same step: one file given twice, two copies of one log, an
/// earlier snapshot of a growing log (a checkpoint's `trainer_state.json` beside a later
/// checkpoint's), or two runs.
fn same_start(
    inputs: &[String],
    (a, pa): (&Source, &Parsed),
    (b, pb): (&Source, &Parsed),
) -> IngestError {
    if let Some(twice) = given_twice(a, b) {
        return twice;
    }
    if let (Some(fa), Some(fb)) = (a.path.as_deref(), b.path.as_deref())
        && identical_contents(fa, fb)
    {
        return IngestError::usage(format!(
            "{} and {} are copies of one log (identical bytes), not parts or ranks of one run; pass one of them",
            a.name, b.name
        ));
    }
    snapshot_refusal(inputs, (a, pa), (b, pb)).unwrap_or_else(|| several_runs(&[&a.name, &b.name]))
}

/// When one of two logs holds the other's rows from the start (a copy, or an earlier snapshot
/// of a log that grew), the refusal saying so, with the command that reads the newest and the
/// other inputs (`inputs` minus the one that is, or holds, the older log).
fn snapshot_refusal(
    inputs: &[String],
    (a, pa): (&Source, &Parsed),
    (b, pb): (&Source, &Parsed),
) -> Option<IngestError> {
    let ((short, short_rows), (long, long_rows)) = if pa.table.keys.len() <= pb.table.keys.len() {
        ((a, pa), (b, pb))
    } else {
        ((b, pb), (a, pa))
    };
    if !is_prefix_of(short_rows, long_rows) {
        return None;
    }
    let n = short_rows.table.keys.len();
    Some(IngestError::usage(if n == long_rows.table.keys.len() {
        format!(
            "{} and {} hold the same {n} rows: copies of one log, not parts or ranks of one run; pass one of them",
            short.name, long.name
        )
    } else {
        // The inputs but the one that is, or is a folder holding, the older snapshot.
        let older = |input: &String| {
            *input == short.name
                || short
                    .path
                    .as_deref()
                    .is_some_and(|p| Path::new(input).is_dir() && p.starts_with(input))
        };
        let keep: Vec<&str> = inputs
            .iter()
            .filter(|i| !older(i))
            .map(String::as_str)
            .collect();
        format!(
            "{} is an earlier snapshot of {} (its {n} rows are the other's first {n} of {}), not another part of the run; pass only the newest: `jepa-doctor analyze {}`",
            short.name,
            long.name,
            long_rows.table.keys.len(),
            keep.join(" ")
        )
    }))
}

/// Whether every row of `short` is a row of `long`, in the same place with the same values:
/// same keys from the start, and each column of `short` equal (bit for bit, NaN equal to NaN)
/// to `long`'s column of that name on those rows. A log and a later copy of it as it grew.
fn is_prefix_of(short: &Parsed, long: &Parsed) -> bool {
    let n = short.table.keys.len();
    if short.key_kind != long.key_kind
        || n == 0
        || short.table.names.is_empty()
        || n > long.table.keys.len()
        || short.table.keys != long.table.keys.slice(0..n)
    {
        return false;
    }
    let same = |x: f32, y: f32| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
    short
        .table
        .names
        .iter()
        .zip(&short.table.columns)
        .all(|(name, column)| {
            let Some(other) = long.table.names.iter().position(|x| x == name) else {
                return false;
            };
            let mut theirs = long.table.columns[other]
                .present()
                .take_while(|(row, _)| *row < n);
            column.present().all(|(row, v)| {
                theirs
                    .next()
                    .is_some_and(|(their_row, w)| their_row == row && same(v, w))
            }) && theirs.next().is_none()
        })
}

/// The refusal of one file given twice (the same path, or two names of one file), if it is.
fn given_twice(a: &Source, b: &Source) -> Option<IngestError> {
    let (pa, pb) = (a.path.as_deref()?, b.path.as_deref()?);
    if file_id(pa)? != file_id(pb)? {
        return None;
    }
    Some(twice_refusal(&a.name, &b.name))
}

/// "a is given twice", or "a and b are one file given twice".
fn twice_refusal(a: &str, b: &str) -> IngestError {
    IngestError::usage(if a == b {
        format!("{a} is given twice; pass it once")
    } else {
        format!("{a} and {b} are one file given twice; pass it once")
    })
}

/// What names a file whatever the path to it: device and inode (stat, nothing opened); on other
/// systems the canonical path.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    std::fs::canonicalize(path).ok()
}

/// Whether two regular files hold the same bytes (read in 64 KiB blocks; false on any read
/// error, and for anything but regular files, which reading would consume or block on).
fn identical_contents(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    if !(a.is_file() && b.is_file()) {
        return false;
    }
    let (Ok(fa), Ok(fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (Ok(ma), Ok(mb)) = (fa.metadata(), fb.metadata()) else {
        return false;
    };
    if ma.len() != mb.len() {
        return false;
    }
    let (mut ra, mut rb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let Ok(n) = ra.read(&mut ba) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        if rb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

fn several_runs(names: &[&str]) -> IngestError {
    IngestError::usage(format!(
        "these are different runs, not parts or ranks of one run: {}; `analyze` reads one run (pass one), `jepa-doctor compare {}` puts several side by side",
        names.join(", "),
        names.join(" ")
    ))
}
