//! The statistics of a watched run, kept up to date row by row at a cost that does not grow with
//! the run: the merged rows go into block sums (a bounded number of blocks, whose size doubles
//! when they fill up), and each evaluation diagnoses a compact run made of the block means. So an
//! evaluation costs time proportional to the rows that arrived plus the block statistics, never a
//! re-parse or a pass over the whole run.
//!
//! - Blocks: between `max_blocks` and `2·max_blocks` blocks of `b` rows (`b` a power of two); when
//!   `2·max_blocks` blocks are full, neighbours merge and `b` doubles. A block keeps per series the
//!   sum and count of its finite values; its mean is placed at the block's middle step. The open
//!   (last, partly filled) block is part of every evaluation, so the newest rows count at once.
//! - Non-finite values are never averaged: the first ones of each series are kept at their exact
//!   step, so a NaN loss is a `non-finite` finding at the step it was logged.
//! - Restarts: rows replayed from key `k` on replace what was merged from `k` on; blocks from the
//!   one holding `k` are dropped (at most one block of earlier rows, ≤ 1/max_blocks of the run,
//!   leaves the statistics with them).
//! - The looks at which the rebound test may reject follow [`super::spending`]; findings that need
//!   no test (non-finite losses, collapse by level, setup findings) are reported at every
//!   evaluation, and what the last look established is reported until the next look.

use crate::clean::{self, CleanOptions};
use crate::diagnose::finding::{Code, Finding, Verdict};
use crate::diagnose::{self, AnalysisSettings, Diagnosis, verdict_of};
use crate::ingest::table::{KeyKind, split_epoch_itr};
use crate::model::{InputSummary, Ipe, IpeSource, MISSING, Role, Run, Series, StepAxis};
use crate::params::RunParams;

use super::spending::Spending;

/// Non-finite values kept at their exact step, per series.
const NON_FINITE_KEPT: usize = 16;

/// What the monitor needs to know besides the rows.
#[derive(Clone, Debug)]
pub struct MonitorSettings {
    /// The analysis settings of `analyze` (`alpha` is the whole run's false-alarm budget).
    pub analysis: AnalysisSettings,
    /// Role overrides (`--jepa-col` and friends) and `--ipe`.
    pub clean: CleanOptions,
    /// How the rows are keyed.
    pub key_kind: KeyKind,
    pub params: Option<RunParams>,
}

/// One block of consecutive merged rows.
#[derive(Clone, Debug)]
struct Block {
    first_key: u64,
    last_key: u64,
    rows: u64,
    /// Per series: sum and count of the finite values.
    sums: Vec<f64>,
    counts: Vec<u64>,
}

impl Block {
    fn new(key: u64, width: usize) -> Block {
        Block {
            first_key: key,
            last_key: key,
            rows: 0,
            sums: vec![0.0; width],
            counts: vec![0; width],
        }
    }
    fn absorb(&mut self, other: &Block) {
        self.last_key = other.last_key;
        self.rows += other.rows;
        for (i, (s, c)) in other.sums.iter().zip(&other.counts).enumerate() {
            self.sums[i] += s;
            self.counts[i] += c;
        }
    }
}

/// The evaluation of the run as it stands.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The compact run that was diagnosed (block means, exact non-finite values).
    pub run: Run,
    /// The diagnosis, its findings restricted to those this look may report.
    pub diagnosis: Diagnosis,
    /// Look number when the rebound test could reject at this evaluation.
    pub look: Option<u32>,
    /// The level the rebound test used (or will use at the next look).
    pub level: f64,
    /// Merged rows so far and the last global step.
    pub rows: u64,
    pub last_step: Option<u64>,
}

/// The incremental state of one watched run.
#[derive(Clone, Debug)]
pub struct Monitor {
    settings: MonitorSettings,
    names: Vec<String>,
    block_rows: u64,
    blocks: Vec<Block>,
    open: Option<Block>,
    rows: u64,
    last_key: Option<u64>,
    first_epoch: Option<u64>,
    max_itr: u64,
    /// The values of the last row (to complete it when more of it arrives).
    last_row: Vec<f32>,
    /// `(series, key, value)` of the first non-finite values of each series.
    non_finite: Vec<(usize, u64, f32)>,
    spending: Spending,
    /// The findings of the rebound test at the last look, reported until the next look.
    established: Vec<Finding>,
    /// Statistics of the inputs, shown in reports.
    pub input: InputSummary,
}

impl Monitor {
    pub fn new(settings: MonitorSettings) -> Monitor {
        let spending = Spending::new(settings.analysis.rebound.alpha);
        Monitor {
            settings,
            names: Vec::new(),
            block_rows: 1,
            blocks: Vec::new(),
            open: None,
            rows: 0,
            last_key: None,
            first_epoch: None,
            max_itr: 0,
            last_row: Vec::new(),
            non_finite: Vec::new(),
            spending,
            established: Vec::new(),
            input: InputSummary::default(),
        }
    }

    /// The index of series `name`, added (with no values so far) when new.
    pub fn column(&mut self, name: &str) -> usize {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i;
        }
        self.names.push(name.to_string());
        let width = self.names.len();
        for b in self.blocks.iter_mut().chain(self.open.as_mut()) {
            b.sums.resize(width, 0.0);
            b.counts.resize(width, 0);
        }
        width - 1
    }

    /// Series names in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Merged rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The key of the last merged row.
    pub fn last_key(&self) -> Option<u64> {
        self.last_key
    }

    /// The rebound test's spending state.
    pub fn spending(&self) -> &Spending {
        &self.spending
    }

    /// Appends one merged row: `values[i]` belongs to column `i` ([`MISSING`] or absent when the row
    /// has none). Keys must increase; a key at or before the last one replaces from there on
    /// ([`Self::truncate_from`]).
    pub fn push(&mut self, key: u64, values: &[f32]) {
        if self.last_key.is_some_and(|last| key <= last) {
            self.truncate_from(key);
        }
        if self.settings.key_kind == KeyKind::EpochItr {
            let (epoch, itr) = split_epoch_itr(key);
            self.first_epoch = Some(self.first_epoch.map_or(epoch, |e| e.min(epoch)));
            self.max_itr = self.max_itr.max(itr);
        }
        let width = self.names.len();
        let block_rows = self.block_rows;
        let open = self.open.get_or_insert_with(|| Block::new(key, width));
        open.last_key = key;
        open.rows += 1;
        for (i, v) in values.iter().enumerate().take(width) {
            let v = *v;
            if crate::model::is_missing(v) {
                continue;
            }
            if v.is_finite() {
                open.sums[i] += f64::from(v);
                open.counts[i] += 1;
            } else if self.non_finite.iter().filter(|(s, _, _)| *s == i).count() < NON_FINITE_KEPT {
                self.non_finite.push((i, key, v));
            }
        }
        self.rows += 1;
        self.last_key = Some(key);
        self.last_row.clear();
        self.last_row.extend_from_slice(values);
        if open.rows >= block_rows
            && let Some(full) = self.open.take()
        {
            self.blocks.push(full);
            self.compact_blocks();
        }
    }

    /// Completes the last row (key `key`) with the cells it lacked; cells it has are kept.
    pub fn amend(&mut self, key: u64, values: &[f32]) {
        if self.last_key != Some(key) {
            return;
        }
        self.last_row.resize(self.names.len(), MISSING);
        let Some(block) = self.open.as_mut().or(self.blocks.last_mut()) else {
            return;
        };
        for (i, v) in values.iter().enumerate().take(self.names.len()) {
            if crate::model::is_missing(*v) || !crate::model::is_missing(self.last_row[i]) {
                continue;
            }
            self.last_row[i] = *v;
            if v.is_finite() {
                block.sums[i] += f64::from(*v);
                block.counts[i] += 1;
            } else if self.non_finite.iter().filter(|(s, _, _)| *s == i).count() < NON_FINITE_KEPT {
                self.non_finite.push((i, key, *v));
            }
        }
    }

    fn compact_blocks(&mut self) {
        let cap = 2 * self.settings.analysis.rebound.max_blocks.max(10);
        if self.blocks.len() < cap {
            return;
        }
        let old = std::mem::take(&mut self.blocks);
        let mut pairs = old.chunks(2);
        for pair in &mut pairs {
            let mut merged = pair[0].clone();
            if let Some(second) = pair.get(1) {
                merged.absorb(second);
            }
            self.blocks.push(merged);
        }
        self.block_rows *= 2;
    }

    /// Forgets every row from `key` on (a restarted run replays them). The block holding `key`
    /// goes too, with the earlier rows it held.
    pub fn truncate_from(&mut self, key: u64) {
        if self.open.as_ref().is_some_and(|b| b.last_key >= key)
            && let Some(b) = self.open.take()
        {
            self.rows -= b.rows;
        }
        while let Some(b) = self.blocks.last() {
            if b.last_key < key {
                break;
            }
            self.rows -= b.rows;
            self.blocks.pop();
        }
        self.non_finite.retain(|(_, k, _)| *k < key);
        self.last_key = self
            .open
            .as_ref()
            .or(self.blocks.last())
            .map(|b| b.last_key);
        if let Some(open) = self.open.take() {
            // The open block would mix rows from both sides of the cut: close it.
            self.blocks.push(open);
        }
    }

    /// Forgets every row but keeps the looks already spent (a re-read of every file).
    pub fn clear(&mut self) {
        let spending = self.spending.clone();
        let input = std::mem::take(&mut self.input);
        let names = std::mem::take(&mut self.names);
        *self = Monitor::new(self.settings.clone());
        self.spending = spending;
        self.input = InputSummary {
            sources: input.sources,
            format: input.format,
            ranks: input.ranks,
            config: input.config,
            ..InputSummary::default()
        };
        self.names = names;
    }

    /// Sets how rows are keyed (before the first row).
    pub fn set_key_kind(&mut self, kind: KeyKind) {
        self.settings.key_kind = kind;
    }

    /// The run's params YAML, when one was read.
    pub fn params(&self) -> Option<&RunParams> {
        self.settings.params.as_ref()
    }

    /// Role overrides and `--ipe`.
    pub fn clean_options(&self) -> &CleanOptions {
        &self.settings.clean
    }

    /// Iterations per epoch used for global steps: `--ipe`, the log, the config, else the
    /// largest itr + 1 seen so far (it only matters once a second epoch began).
    pub fn ipe(&self, log_hint: Option<u64>) -> Option<Ipe> {
        if self.settings.key_kind != KeyKind::EpochItr {
            return None;
        }
        let candidates = [
            (self.settings.clean.ipe, IpeSource::Flag),
            (log_hint, IpeSource::Log),
            (
                self.settings.params.as_ref().and_then(|p| p.ipe),
                IpeSource::Config,
            ),
        ];
        candidates
            .into_iter()
            .find_map(|(v, source)| {
                v.filter(|v| *v > self.max_itr)
                    .map(|value| Ipe { value, source })
            })
            .or(Some(Ipe {
                value: self.max_itr + 1,
                source: IpeSource::Inferred,
            }))
    }

    /// The global step of `key`.
    pub fn step_of(&self, key: u64, ipe: Option<Ipe>) -> u64 {
        match self.settings.key_kind {
            KeyKind::Step => key,
            KeyKind::EpochItr => {
                let (epoch, itr) = split_epoch_itr(key);
                let base = self.first_epoch.unwrap_or(1).min(1);
                let ipe = ipe.map_or(1, |i| i.value);
                epoch
                    .saturating_sub(base)
                    .saturating_mul(ipe)
                    .saturating_add(itr)
            }
        }
    }

    /// The compact run: one point per block (mean at the middle step), the non-finite values at
    /// their steps; roles from names and flags as in `analyze`.
    pub fn compact_run(&self, log_hint: Option<u64>) -> Run {
        let ipe = self.ipe(log_hint);
        let width = self.names.len();
        let mut points: Vec<(u64, Vec<f32>)> = Vec::with_capacity(self.blocks.len() + 1);
        for b in self.blocks.iter().chain(self.open.as_ref()) {
            let first = self.step_of(b.first_key, ipe);
            let last = self.step_of(b.last_key, ipe);
            let step = first + last.saturating_sub(first) / 2;
            let values = (0..width)
                .map(|i| {
                    let c = b.counts.get(i).copied().unwrap_or(0);
                    if c == 0 {
                        MISSING
                    } else {
                        (b.sums[i] / c as f64) as f32
                    }
                })
                .collect();
            if points.last().is_none_or(|(s, _)| *s < step) {
                points.push((step, values));
            }
        }
        for &(series, key, value) in &self.non_finite {
            let step = self.step_of(key, ipe);
            match points.binary_search_by_key(&step, |(s, _)| *s) {
                Ok(i) => points[i].1[series] = value,
                Err(i) => {
                    let mut values = vec![MISSING; width];
                    values[series] = value;
                    points.insert(i, (step, values));
                }
            }
        }
        let steps = StepAxis::from_sorted(points.iter().map(|(s, _)| *s).collect());
        let mut series: Vec<Series> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| Series {
                name: name.clone(),
                role: crate::ingest::roles::role_from_name(name),
                values: points.iter().map(|(_, v)| v[i]).collect(),
                ..Series::default()
            })
            .collect();
        // Unknown names in the overrides are reported when the series list is complete.
        let _ = clean::apply_role_overrides(&mut series, &self.settings.clean);
        let mut input = self.input.clone();
        input.ipe = ipe;
        let mut run = Run {
            steps,
            series,
            input,
            params: self.settings.params.clone(),
        };
        clean::derive_reg(&mut run);
        run
    }

    /// Diagnoses the run as it stands. At a look the rebound test runs at the look's level and
    /// may report; between looks, only findings that need no test are reported.
    pub fn evaluate(&mut self, log_hint: Option<u64>) -> Option<Evaluation> {
        self.evaluate_at(log_hint, false)
    }

    /// The final look when the run has ended (`--idle-exit`): the rebound test runs on all rows at
    /// the level of one more look ([`Spending::final_look`]), so the last word agrees with
    /// `analyze` when its evidence is strong (p < α_k).
    pub fn evaluate_final(&mut self, log_hint: Option<u64>) -> Option<Evaluation> {
        self.evaluate_at(log_hint, true)
    }

    fn evaluate_at(&mut self, log_hint: Option<u64>, last: bool) -> Option<Evaluation> {
        if self.rows == 0 {
            return None;
        }
        let look = if last {
            Some(self.spending.final_look())
        } else {
            self.spending.look(self.rows)
        };
        let level = look.map_or(self.spending.next_level(), |(_, level)| level);
        let run = self.compact_run(log_hint);
        let mut settings = self.settings.analysis.clone();
        settings.rebound.alpha = level;
        let mut diagnosis = diagnose::diagnose(&run, &settings);
        if look.is_some() {
            self.established = diagnosis
                .findings
                .iter()
                .filter(|f| needs_test(f))
                .cloned()
                .collect();
        } else {
            // Between looks the test does not run: what the last look established stands.
            let before: Vec<Code> = diagnosis.findings.iter().map(|f| f.code).collect();
            diagnosis.findings.retain(|f| !needs_test(f));
            diagnosis.findings.extend(self.established.iter().cloned());
            let after: Vec<Code> = diagnosis.findings.iter().map(|f| f.code).collect();
            if before != after {
                diagnosis.verdict = verdict_of(&diagnosis.findings);
                diagnosis.headline = headline_between_looks(diagnosis.verdict, &diagnosis.findings);
            }
            // Before the first look nothing was tested: never `healthy` yet.
            if self.spending.looks() == 0 && diagnosis.verdict == Verdict::Healthy {
                diagnosis.verdict = Verdict::InsufficientData;
                diagnosis.headline = format!(
                    "descending; rebound not yet tested (first look at {} rows, {} so far)",
                    self.spending.first_rows, self.rows
                );
            }
        }
        let last_step = self.last_key.map(|k| self.step_of(k, run.input.ipe));
        Some(Evaluation {
            run,
            diagnosis,
            look: look.map(|(k, _)| k),
            level,
            rows: self.rows,
            last_step,
        })
    }
}

/// Findings decided by the rebound test: reported only at looks.
pub fn needs_test(finding: &Finding) -> bool {
    matches!(finding.code, Code::Rebound | Code::ReboundWithCollapse)
        || finding.code.as_str() == "component-divergence"
}

fn headline_between_looks(verdict: Verdict, findings: &[Finding]) -> String {
    match findings
        .iter()
        .find(|f| f.severity >= crate::diagnose::finding::Severity::Warning)
    {
        Some(f) => f.message.clone(),
        None => format!(
            "{}: nothing established so far (the rebound test runs at the next look)",
            verdict.as_str()
        ),
    }
}

/// The role a series would have (for choosing which series to watch).
pub fn role_of(name: &str, clean: &CleanOptions) -> Role {
    let named = [
        (&clean.jepa_col, Role::Jepa),
        (&clean.reg_col, Role::Reg),
        (&clean.loss_col, Role::Total),
    ];
    named
        .iter()
        .find(|(n, _)| n.as_deref() == Some(name))
        .map_or_else(|| crate::ingest::roles::role_from_name(name), |(_, r)| *r)
}
