//! Phase 5, timing and memory, tracer off: per-step latency over `--repeats` forecasts per mode
//! (CUDA events around each step on CUDA, the wall clock on CPU), and device memory in use.

use std::time::Instant;

use models::GraphDecoder;

use super::decode::{decode, StepTimer};
use super::report::TimingSection;
use crate::error::ProbeError;
use crate::metrics;
use crate::progress::Progress;
#[cfg(feature = "cuda")]
use {
    super::report::MemorySection,
    candle_core::cuda::cudarc::driver::{result, sys, CudaEvent, CudaStream},
    std::sync::Arc,
};

/// Wall-clock timing, for CPU runs.
#[derive(Default)]
pub(crate) struct WallTimer(Option<Instant>);

impl StepTimer for WallTimer {
    fn start(&mut self) -> candle_core::Result<()> {
        self.0 = Some(Instant::now());
        Ok(())
    }
    fn stop(&mut self) -> candle_core::Result<f64> {
        Ok(self.0.take().map_or(f64::NAN, |t| t.elapsed().as_secs_f64() * 1e6))
    }
}

/// Per-step GPU time between two CUDA events around the step. The stream is drained first, so
/// each step is timed alone.
#[cfg(feature = "cuda")]
pub(crate) struct EventTimer {
    stream: Arc<CudaStream>,
    start: CudaEvent,
    end: CudaEvent,
}

#[cfg(feature = "cuda")]
impl EventTimer {
    pub(crate) fn new(stream: &Arc<CudaStream>) -> candle_core::Result<Self> {
        let ctx = stream.context();
        let ev = || ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(candle_core::Error::wrap);
        Ok(Self { stream: stream.clone(), start: ev()?, end: ev()? })
    }
}

#[cfg(feature = "cuda")]
impl StepTimer for EventTimer {
    fn start(&mut self) -> candle_core::Result<()> {
        self.stream.synchronize().map_err(candle_core::Error::wrap)?;
        self.start.record(&self.stream).map_err(candle_core::Error::wrap)
    }
    fn stop(&mut self) -> candle_core::Result<f64> {
        self.end.record(&self.stream).map_err(candle_core::Error::wrap)?;
        let ms = self.start.elapsed_ms(&self.end).map_err(candle_core::Error::wrap)?;
        Ok(f64::from(ms) * 1000.0)
    }
}

/// The step times of `repeats` timed forecasts, in microseconds. `run_step` is the model's `step`
/// or a graph launch.
pub(crate) fn time(
    model: &mut dyn GraphDecoder,
    run_step: &mut dyn FnMut(&mut dyn GraphDecoder) -> candle_core::Result<()>,
    timer: &mut dyn StepTimer,
    repeats: usize,
    progress: &Progress,
    what: &str,
) -> Result<Vec<f64>, ProbeError> {
    let mut step_us = Vec::new();
    for _ in 0..repeats {
        step_us.extend(decode(model, run_step, Some(&mut *timer), progress, what)?.step_us);
    }
    Ok(step_us)
}

/// The timing section: latency of each mode, the speedup, and the capture's own times.
pub(crate) fn section(
    clock: &'static str,
    repeats: usize,
    eager_us: &[f64],
    graph_us: &[f64],
    capture_ms: Option<f64>,
    instantiate_ms: Option<f64>,
) -> TimingSection {
    let eager_stats = metrics::latency_stats(eager_us);
    let graph_stats = metrics::latency_stats(graph_us);
    TimingSection {
        clock,
        repeats,
        speedup: eager_stats.zip(graph_stats).map(|(e, g)| e.median_us / g.median_us),
        eager: eager_stats,
        graph: graph_stats,
        capture_ms,
        instantiate_ms,
    }
}

/// Device memory in use and in total, in bytes.
#[cfg(feature = "cuda")]
pub(crate) fn memory_used() -> Option<(u64, u64)> {
    result::mem_get_info().ok().map(|(free, total)| ((total - free) as u64, total as u64))
}

/// The memory section from the use measured before capture and after timing.
#[cfg(feature = "cuda")]
pub(crate) fn memory(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<MemorySection> {
    match (before, after) {
        (Some((before, total)), Some((after, _))) => {
            Some(MemorySection { total_bytes: total, used_before_bytes: before, used_after_bytes: after })
        }
        _ => None,
    }
}
