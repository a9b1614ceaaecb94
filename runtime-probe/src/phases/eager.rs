//! Phase 1, the eager run: one forecast with the model's own `step`. The CUDA driver runs it with
//! the tracer on (`trace::cupti`), so that every host sync is recorded with its source line. Both
//! drivers run it again as the partner of the parity check when no graph ran (the CPU run; a CUDA
//! run whose capture failed).

use models::GraphDecoder;

use super::decode::{decode, Decoded};
use crate::error::ProbeError;
use crate::progress::Progress;

/// The model's own decode step.
pub(crate) fn eager_step(m: &mut dyn GraphDecoder) -> candle_core::Result<()> {
    m.step()
}

/// One eager forecast, untimed.
pub(crate) fn run(model: &mut dyn GraphDecoder, progress: &Progress, what: &str) -> Result<Decoded, ProbeError> {
    decode(model, &mut eager_step, None, progress, what)
}
