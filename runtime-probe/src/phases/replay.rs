//! Phase 3, replay: the whole forecast again, each decode step a launch of the captured graph;
//! `prepare_step(i)` still runs outside the graph (inputs and noise into the model's persistent
//! buffers). CUDA only.

use models::{Forecast, GraphDecoder};

use super::decode::decode;
use super::report::{CaptureSection, CaptureStatus};
use crate::cuda_graph::GraphExec;
use crate::progress::Progress;

/// A decode step that launches `graph` instead of calling the model's `step`.
pub(crate) fn launch(graph: &GraphExec) -> impl FnMut(&mut dyn GraphDecoder) -> candle_core::Result<()> + '_ {
    move |_: &mut dyn GraphDecoder| graph.launch().map_err(candle_core::Error::wrap)
}

/// The replayed forecast. A replay that fails marks the capture invalidated, with the usual cause,
/// and gives no forecast.
pub(crate) fn run(
    model: &mut dyn GraphDecoder,
    graph: &GraphExec,
    capture: &mut CaptureSection,
    progress: &Progress,
) -> Option<Forecast> {
    progress.phase("graph replay");
    match decode(model, &mut launch(graph), None, progress, "graph replay") {
        Ok(d) => Some(d.forecast),
        Err(e) => {
            capture.status = CaptureStatus::Invalidated;
            capture.detail = Some(format!(
                "{e} (a buffer allocated inside the step that outlives it makes relaunches fail: \
                 write step outputs into buffers allocated before capture)"
            ));
            None
        }
    }
}
