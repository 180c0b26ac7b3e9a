//! Parts of one resumed run given as separate logs (`slurm-101.out slurm-117.out`, or
//! `train.log` and `train.1.log`): a resumed run replays its trajectory from the checkpoint on,
//! so every row of a part at or after the first step of a part that starts later belongs to the
//! discarded trajectory and is replaced by it — the rule a restart inside one log follows
//! ([`crate::ingest::table`]), applied across files. Without it the overlap was averaged over
//! the old and the new trajectory, and a stale tail the resumed run never re-logged survived.
//!
//! Rank files (`{tag}_r{N}`) are one log for this rule (ranks are averaged, not replaced), and so
//! are the sources of one folder store (TensorBoard writers, an MLflow or W&B run).
//!
//! `watch` follows such parts by the same rule, with [`part_of`] and [`resume_note`] from here.

use crate::ingest::Source;
use crate::ingest::table::Table;
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

/// Cuts each part at the first global step of any part starting after it; the rows cut count as
/// replaced in the table's account. Returns one note per part that lost rows, naming the part
/// that replaced them. `tables[i]` holds the global steps and table of `sources[i]`.
pub(super) fn replace_resumed_overlaps(
    tables: &mut [(Progressions, Table)],
    sources: &[Source],
) -> Vec<String> {
    let parts: Vec<Part> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| part_of(i, s))
        .collect();
    // Each part's first step, and a name for it (its first source).
    let mut starts: Vec<(u64, Part, &str)> = Vec::new();
    for ((steps, _), (part, source)) in tables.iter().zip(parts.iter().zip(sources)) {
        let Some(first) = steps.first() else { continue };
        match starts.iter_mut().find(|(_, p, _)| p == part) {
            Some(entry) if first < entry.0 => *entry = (first, *part, &source.name),
            Some(_) => {}
            None => starts.push((first, *part, &source.name)),
        }
    }
    if starts.len() < 2 {
        return Vec::new();
    }
    let mut notes = Vec::new();
    for (i, (steps, table)) in tables.iter_mut().enumerate() {
        let Some(first) = steps.first() else { continue };
        // The earliest part that starts after this table's part.
        let own_start = starts
            .iter()
            .find(|(_, p, _)| *p == parts[i])
            .map_or(first, |s| s.0);
        let Some(&(cutoff, _, by)) = starts
            .iter()
            .filter(|(s, ..)| *s > own_start)
            .min_by_key(|(s, ..)| *s)
        else {
            continue;
        };
        let kept = steps.iter().take_while(|s| *s < cutoff).count();
        if kept == steps.len() {
            continue;
        }
        let cut = steps.len() - kept;
        *steps = steps.slice(0..kept);
        table.truncate(kept);
        notes.push(resume_note(by, cutoff, cut as u64, &sources[i].name));
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
