//! Picking the one run a multi-run source (TensorBoard log directory, MLflow store, W&B export or
//! run folder) should give `analyze`, and the shape every such reader returns. Apart from
//! [`super::sources`] so that the readers (`mlflow`, `wandb`, `tensorboard`) and the dispatcher
//! over them import it without importing each other.

use super::{Parsed, Source};
use crate::error::IngestError;
use crate::params::RunParams;

/// Picks the one run to analyse among `runs` (names and IDs): the only one, or the one `wanted`
/// names; otherwise an error listing them.
pub fn pick<'a, T>(
    source: &str,
    runs: &'a [T],
    name_of: impl Fn(&T) -> (&str, Option<&str>),
    wanted: Option<&str>,
) -> Result<&'a T, IngestError> {
    if let Some(wanted) = wanted {
        return runs
            .iter()
            .find(|r| {
                let (name, id) = name_of(r);
                name == wanted || id == Some(wanted)
            })
            .ok_or_else(|| {
                IngestError::unusable(
                    source,
                    format!(
                        "no run '{wanted}' here; runs: {}",
                        describe_runs(runs, &name_of)
                    ),
                )
            });
    }
    match runs {
        [one] => Ok(one),
        [] => Err(IngestError::unusable(source, "holds no runs")),
        _ => Err(IngestError::unusable(
            source,
            format!(
                "holds {} runs: {}; {}",
                runs.len(),
                describe_runs(runs, &name_of),
                how_to_pick(source, "analyse one")
            ),
        )),
    }
}

/// How to read another run of `source` than the one read, or all of them: `{what} with --run
/// ID|NAME, or compare them with …`.
pub fn how_to_pick(source: &str, what: &str) -> String {
    format!("{what} with --run ID|NAME, or compare them with `jepa-doctor compare {source}`")
}

/// The runs as the messages list them: `name (id), …`.
pub fn describe_runs<T>(runs: &[T], name_of: &impl Fn(&T) -> (&str, Option<&str>)) -> String {
    runs.iter()
        .map(|r| match name_of(r) {
            (name, Some(id)) => format!("{name} ({id})"),
            (name, None) => name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One run's tables read from a container, and its config when the store keeps one.
#[derive(Clone, Debug, Default)]
pub struct RunTables {
    pub parsed: Vec<(Source, Parsed)>,
    pub params: Option<RunParams>,
}
