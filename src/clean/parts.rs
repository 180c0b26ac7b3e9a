//! Parts of one resumed run given as separate logs (`slurm-101.out slurm-117.out`, or
//! `train.log` and `train.1.log`): a resumed run replays its trajectory from the checkpoint on,
//! so every row of a part at or after the first step of a part that starts later belongs to the
//! discarded trajectory and is replaced by it — the rule a restart inside one log follows
//! ([`crate::ingest::table`]), applied across files. Without it the overlap was averaged over
//! the old and the new trajectory, and a stale tail the resumed run never re-logged survived.
//!
//! Rank files (`{tag}_r{N}`) are one log for this rule (ranks are averaged, not replaced), and so
//! are the sources of one folder store (TensorBoard writers, an MLflow or W&B run). A part
//! resumes another only when both log a training loss of the same name (the JEPA, reg or total
//! loss): a log of other series starting later (an eval log, `val_loss` every 500 steps) adds
//! series and replaces nothing.
//!
//! `watch` follows such parts by the same rule, with [`part_of`], [`is_training_loss`] and
//! [`resume_note`] from here.

use crate::ingest::Source;
use crate::ingest::roles::role_from_name;
use crate::ingest::table::Table;
use crate::model::Role;
use crate::progression::Progressions;

/// Which log a table belongs to for the resume rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// One file or standard input without a rank suffix.
    Alone(usize),
    /// All rank files together.
    Ranks,
    /// All sources of a folder store together.
    Store,
}

/// The part of `source`, the `index`-th of the run's sources.
pub fn part_of(index: usize, source: &Source) -> Part {
    if source.rank.is_some() {
        Part::Ranks
    } else if source.path.as_deref().is_some_and(std::path::Path::is_dir) {
        Part::Store
    } else {
        Part::Alone(index)
    }
}

/// Cuts each part at the first global step of the earliest part starting after it that logs one
/// of its losses; the rows cut count as replaced in the table's account. Returns one note per
/// table that lost rows, naming the part that replaced them. `tables[i]` holds the global steps
/// and table of `sources[i]`.
pub(super) fn replace_resumed_overlaps(
    tables: &mut [(Progressions, Table)],
    sources: &[Source],
) -> Vec<String> {
    let parts: Vec<Part> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| part_of(i, s))
        .collect();
    let losses: Vec<Vec<&str>> = tables.iter().map(|(_, t)| loss_names(t)).collect();
    // Each part's first step, a name for it (its source with the earliest step) and the losses
    // its logs hold.
    let mut starts: Vec<PartStart> = Vec::new();
    for (i, (steps, _)) in tables.iter().enumerate() {
        let Some(first) = steps.first() else { continue };
        let at = match starts.iter().position(|p| p.part == parts[i]) {
            Some(at) => at,
            None => {
                starts.push(PartStart {
                    first,
                    part: parts[i],
                    name: sources[i].name.clone(),
                    losses: Vec::new(),
                });
                starts.len() - 1
            }
        };
        let entry = &mut starts[at];
        if first < entry.first {
            entry.first = first;
            entry.name.clone_from(&sources[i].name);
        }
        entry.losses.extend(losses[i].iter().map(|l| l.to_string()));
    }
    if starts.len() < 2 {
        return Vec::new();
    }
    let mut cuts: Vec<(usize, u64, String)> = Vec::new();
    for (i, own_losses) in losses.iter().enumerate() {
        let Some(own) = starts.iter().find(|p| p.part == parts[i]) else {
            continue;
        };
        let resumed_by = starts
            .iter()
            .filter(|p| p.first > own.first)
            .filter(|p| p.losses.iter().any(|l| own_losses.contains(&l.as_str())))
            .min_by_key(|p| p.first);
        if let Some(p) = resumed_by {
            cuts.push((i, p.first, p.name.clone()));
        }
    }
    let mut notes = Vec::new();
    for (i, cutoff, by) in cuts {
        let (steps, table) = &mut tables[i];
        let kept = steps.iter().take_while(|s| *s < cutoff).count();
        if kept == steps.len() {
            continue;
        }
        let cut = steps.len() - kept;
        *steps = steps.slice(0..kept);
        table.truncate(kept);
        notes.push(resume_note(&by, cutoff, cut as u64, &sources[i].name));
    }
    notes
}

/// The note saying that part `by`, resuming the run at global step `step`, replaced `rows` rows
/// of `name` (one per log that lost rows; each counts as a restart).
pub fn resume_note(by: &str, step: u64, rows: u64, name: &str) -> String {
    format!(
        "{by} resumes the run at step {step}: {} of {name} from step {step} on replaced by it (a resumed run replays its steps from the checkpoint)",
        crate::human::count(rows, "row"),
    )
}

/// Where one part of the run starts, and which training losses it logs.
struct PartStart {
    first: u64,
    part: Part,
    name: String,
    losses: Vec<String>,
}

/// The names of a table's training-loss columns.
fn loss_names(table: &Table) -> Vec<&str> {
    table
        .names
        .iter()
        .map(String::as_str)
        .filter(|n| is_training_loss(n))
        .collect()
}

/// Whether a series named `name` is a training loss (JEPA, reg or total): parts sharing one
/// continue each other.
pub fn is_training_loss(name: &str) -> bool {
    matches!(role_from_name(name), Role::Jepa | Role::Reg | Role::Total)
}
