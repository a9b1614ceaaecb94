//! Phase 4, parity: the eager forecast against the graph replay's (or, when no graph ran, against
//! the eager rerun's), and the accuracy of each against the real future values and the naive
//! last-value forecast.

use models::Forecast;
use serde::Serialize;

use crate::data::Window;
use crate::error::ProbeError;
use crate::metrics::{self, Accuracy, Comparison, Verdict};

#[derive(Debug, Clone, Serialize)]
pub struct ParitySection {
    /// `eager_vs_graph`, or `eager_vs_eager_rerun` when no graph ran.
    pub compared: &'static str,
    pub comparison: Comparison,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccuracySection {
    pub eager: Accuracy,
    pub graph: Option<Accuracy>,
    pub baseline_last_value: Accuracy,
}

/// The forecast's rows in the window's channel order, checked against the future's shape.
pub(crate) fn forecast_rows(f: &Forecast, window: &Window) -> Result<Vec<Vec<f32>>, ProbeError> {
    let idx = window
        .channels
        .iter()
        .map(|c| {
            f.channels.iter().position(|fc| fc == c).ok_or_else(|| {
                ProbeError::Model(format!(
                    "the forecast has no channel `{c}` (it has: {}); the registry entry's channels must \
                     name the model's forecast channels",
                    f.channels.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if f.values.len() != window.future.len() {
        return Err(ProbeError::Model(format!(
            "the forecast has {} rows, --steps asked for {}",
            f.values.len(),
            window.future.len()
        )));
    }
    f.values
        .iter()
        .enumerate()
        .map(|(t, row)| {
            idx.iter()
                .map(|&i| {
                    row.get(i).copied().ok_or_else(|| {
                        ProbeError::Model(format!(
                            "forecast row {t} has {} values, expected {}",
                            row.len(),
                            f.channels.len()
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

fn mismatch(e: metrics::ShapeMismatch) -> ProbeError {
    ProbeError::Model(e.to_string())
}

/// Eager against the graph forecast, else against the eager rerun; `None` when there is neither.
pub(crate) fn compare(
    eager: &[Vec<f32>],
    graph: Option<&[Vec<f32>]>,
    rerun: Option<&[Vec<f32>]>,
    atol: f64,
) -> Result<Option<ParitySection>, ProbeError> {
    match (graph, rerun) {
        (Some(g), _) => Some(("eager_vs_graph", g)),
        (None, Some(r)) => Some(("eager_vs_eager_rerun", r)),
        (None, None) => None,
    }
    .map(|(compared, other)| -> Result<ParitySection, ProbeError> {
        let comparison = metrics::compare(eager, other).map_err(mismatch)?;
        let verdict = metrics::verdict(&comparison, atol);
        Ok(ParitySection { compared, comparison, verdict })
    })
    .transpose()
}

/// Each forecast against the real future values.
pub(crate) fn accuracy(
    eager: &[Vec<f32>],
    graph: Option<&[Vec<f32>]>,
    baseline: &[Vec<f32>],
    future: &[Vec<f32>],
) -> Result<AccuracySection, ProbeError> {
    Ok(AccuracySection {
        eager: metrics::accuracy(eager, future).map_err(mismatch)?,
        graph: graph.map(|g| metrics::accuracy(g, future)).transpose().map_err(mismatch)?,
        baseline_last_value: metrics::accuracy(baseline, future).map_err(mismatch)?,
    })
}
