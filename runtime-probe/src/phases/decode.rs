//! One forecast in the order the decoder contract prescribes. Every phase that runs the model goes
//! through [`decode`]: the eager run (1), the graph replay (3) and the timed runs (5).

use models::{Forecast, GraphDecoder};

use crate::error::{error_text, ProbeError};
use crate::progress::Progress;
use crate::trace::{self, Stage};

/// Times one decode step.
pub(crate) trait StepTimer {
    fn start(&mut self) -> candle_core::Result<()>;
    /// Microseconds since `start`.
    fn stop(&mut self) -> candle_core::Result<f64>;
}

pub(crate) struct Decoded {
    pub forecast: Forecast,
    pub step_us: Vec<f64>,
}

/// One forecast, in the order the contract prescribes: `reset`, then `prepare_step(i)` and the
/// step for each `i`, then `finish`. `run_step` is the model's `step` (eager) or a graph launch.
pub(crate) fn decode(
    model: &mut dyn GraphDecoder,
    run_step: &mut dyn FnMut(&mut dyn GraphDecoder) -> candle_core::Result<()>,
    mut timer: Option<&mut dyn StepTimer>,
    progress: &Progress,
    what: &str,
) -> Result<Decoded, ProbeError> {
    let fail = |call: &str, step: Option<usize>, e: candle_core::Error| {
        trace::set_position(Stage::Probe, None);
        let at = step.map_or_else(String::new, |s| format!(" of step {s}"));
        ProbeError::Model(format!("{what}: {call}{at} failed: {}", error_text(&e)))
    };
    trace::set_position(Stage::Reset, None);
    model.reset().map_err(|e| fail("reset", None, e))?;
    let mut step_us = Vec::new();
    for i in 0..model.num_steps() {
        trace::set_position(Stage::Prepare, Some(i));
        model.prepare_step(i).map_err(|e| fail("prepare_step", Some(i), e))?;
        if let Some(t) = timer.as_deref_mut() {
            t.start().map_err(|e| fail("timer start", Some(i), e))?;
        }
        trace::set_position(Stage::Step, Some(i));
        run_step(model).map_err(|e| fail("the step", Some(i), e))?;
        if let Some(t) = timer.as_deref_mut() {
            step_us.push(t.stop().map_err(|e| fail("timer stop", Some(i), e))?);
        }
        progress.inc();
    }
    trace::set_position(Stage::Finish, None);
    let forecast = model.finish().map_err(|e| fail("finish", None, e))?;
    trace::set_position(Stage::Probe, None);
    Ok(Decoded { forecast, step_us })
}
