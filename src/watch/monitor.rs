//! The statistics of a watched run, kept up to date row by row at a cost that does not grow with
//! the run: the merged rows go into block sums (a bounded number of blocks, whose size doubles
//! when they fill up), and each evaluation diagnoses a compact run made of the block means. So an
//! evaluation costs time proportional to the rows that arrived plus the block statistics, never a
//! re-parse or a pass over the whole run.
//!
//! - Blocks: see `watch::blocks` (bounded block sums, non-finite values at their exact key,
//!   restarts replacing what they replay).
//! - The looks at which the rebound test may reject follow [`super::spending`]; findings that need
//!   no test (non-finite losses, collapse by level, setup findings) are reported at every
//!   evaluation; what each evaluation may report of the test's findings is [`super::standing`].

use crate::clean::{self, CleanOptions};
use crate::diagnose::{self, AnalysisSettings, Diagnosis};
use crate::ingest::table::{KeyKind, split_epoch_itr};
use crate::model::{InputSummary, Ipe, IpeSource, MISSING, Role, Run, Series, StepAxis};
use crate::params::RunParams;

use super::blocks::Blocks;
use super::spending::Spending;
pub use super::standing::needs_test;
use super::standing::{Cut, Standing};

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
    /// Why the status is what it is, when that needs saying: the rebound not tested yet, a
    /// restart replaying steps, a log truncated or replaced ([`super::standing`]).
    pub note: Option<String>,
}

/// The incremental state of one watched run.
#[derive(Clone, Debug)]
pub struct Monitor {
    settings: MonitorSettings,
    names: Vec<String>,
    blocks: Blocks,
    first_epoch: Option<u64>,
    max_itr: u64,
    spending: Spending,
    /// What the looks decided and how the data changed since.
    standing: Standing,
    /// Statistics of the inputs, shown in reports.
    pub input: InputSummary,
}

impl Monitor {
    pub fn new(settings: MonitorSettings) -> Monitor {
        let spending = Spending::new(settings.analysis.rebound.alpha);
        Monitor {
            settings,
            names: Vec::new(),
            blocks: Blocks::new(),
            first_epoch: None,
            max_itr: 0,
            spending,
            standing: Standing::default(),
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
        self.blocks.widen(width);
        width - 1
    }

    /// Series names in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Merged rows so far.
    pub fn rows(&self) -> u64 {
        self.blocks.rows()
    }

    /// The key of the last merged row.
    pub fn last_key(&self) -> Option<u64> {
        self.blocks.last_key()
    }

    /// The rebound test's spending state.
    pub fn spending(&self) -> &Spending {
        &self.spending
    }

    /// Appends one merged row: `values[i]` belongs to column `i` ([`MISSING`] or absent when the row
    /// has none). Keys must increase; a key at or before the last one replaces from there on
    /// ([`Self::truncate_from`]).
    pub fn push(&mut self, key: u64, values: &[f32]) {
        if self.last_key().is_some_and(|last| key <= last) {
            self.truncate_from(key, Cut::Replay { key });
        }
        if self.settings.key_kind == KeyKind::EpochItr {
            let (epoch, itr) = split_epoch_itr(key);
            self.first_epoch = Some(self.first_epoch.map_or(epoch, |e| e.min(epoch)));
            self.max_itr = self.max_itr.max(itr);
        }
        let max_blocks = self.settings.analysis.rebound.max_blocks;
        self.blocks.push(key, values, self.names.len(), max_blocks);
    }

    /// Completes the last row (key `key`) with the cells it lacked; cells it has are kept.
    pub fn amend(&mut self, key: u64, values: &[f32]) {
        self.blocks.amend(key, values, self.names.len());
    }

    /// Forgets every row from `key` on: a restarted run replays them ([`Cut::Replay`]), or the
    /// file was truncated or replaced ([`Cut::Replaced`]). The block holding `key` goes too, with
    /// the earlier rows it held.
    pub fn truncate_from(&mut self, key: u64, cut: Cut) {
        self.standing.cut(cut, self.rows());
        self.blocks.truncate_from(key);
    }

    /// Forgets every row but keeps the looks already spent and what they decided (every file is
    /// read again: [`Cut::Reread`], or one of them was replaced: [`Cut::Replaced`]).
    pub fn clear(&mut self, cut: Cut) {
        let spending = self.spending.clone();
        let mut standing = std::mem::take(&mut self.standing);
        standing.cut(cut, self.rows());
        let input = std::mem::take(&mut self.input);
        let names = std::mem::take(&mut self.names);
        *self = Monitor::new(self.settings.clone());
        self.spending = spending;
        self.standing = standing;
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

    /// Sets the run's config when none was given (an MLflow store keeps the run's params).
    pub fn adopt_params(&mut self, params: RunParams) {
        if self.settings.params.is_none() {
            self.input.config = Some(params.path.clone());
            self.settings.params = Some(params);
        }
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
        step_of_key(self.settings.key_kind, self.first_epoch, key, ipe)
    }

    /// The compact run: one point per block (mean at the middle step), the non-finite values at
    /// their steps; roles from names and flags as in `analyze`.
    pub fn compact_run(&self, log_hint: Option<u64>) -> Run {
        let ipe = self.ipe(log_hint);
        let width = self.names.len();
        let mut points: Vec<(u64, Vec<f32>)> = Vec::new();
        for b in self.blocks.iter() {
            let first = self.step_of(b.first_key, ipe);
            let last = self.step_of(b.last_key, ipe);
            let step = first + last.saturating_sub(first) / 2;
            let values = (0..width).map(|i| b.mean(i)).collect();
            if points.last().is_none_or(|(s, _)| *s < step) {
                points.push((step, values));
            }
        }
        for &(series, key, value) in self.blocks.non_finite() {
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
        let rows = self.rows();
        if rows == 0 {
            return None;
        }
        if self.standing.settle(rows) {
            // Another trajectory: its looks start a new grid (α already spent stays spent).
            self.spending.restart_grid();
        }
        let look = if last {
            Some(self.spending.final_look())
        } else {
            self.spending.look(rows)
        };
        let level = look.map_or(self.spending.next_level(), |(_, level)| level);
        let run = self.compact_run(log_hint);
        let mut settings = self.settings.analysis.clone();
        settings.rebound.alpha = level;
        let mut diagnosis = diagnose::diagnose(&run, &settings);
        let ipe = run.input.ipe;
        let (kind, first_epoch) = (self.settings.key_kind, self.first_epoch);
        let note = self.standing.judge(
            &mut diagnosis,
            look.is_some(),
            rows,
            self.spending.next_rows(),
            |key| step_of_key(kind, first_epoch, key, ipe),
        );
        let last_step = self.last_key().map(|k| self.step_of(k, ipe));
        Some(Evaluation {
            run,
            diagnosis,
            look: look.map(|(k, _)| k),
            level,
            rows,
            last_step,
            note,
        })
    }
}

/// The global step of `key` keyed by `kind`, epochs counted from 1 (or 0 when the log's first
/// epoch is 0).
fn step_of_key(kind: KeyKind, first_epoch: Option<u64>, key: u64, ipe: Option<Ipe>) -> u64 {
    match kind {
        KeyKind::Step => key,
        KeyKind::EpochItr => {
            let (epoch, itr) = split_epoch_itr(key);
            let base = first_epoch.unwrap_or(1).min(1);
            let ipe = ipe.map_or(1, |i| i.value);
            epoch
                .saturating_sub(base)
                .saturating_mul(ipe)
                .saturating_add(itr)
        }
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
