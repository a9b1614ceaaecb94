//! The contract between a model port and the runtime probe.
//!
//! A CUDA graph replays the kernels it recorded, with the buffer addresses and kernel arguments it
//! recorded. A decode step can therefore be captured once and replayed for every step only when
//! everything that changes between steps (the position, the last token, the sampling noise) lives in
//! device buffers that keep their address, and is updated in place on the device.

use candle_core::{Device, Result};

/// A forecast in data space, ready for error metrics against real values.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Name of each channel (`open`, `close`, a variate index…).
    pub channels: Vec<String>,
    /// `values[t][c]`: the forecast for future step `t` of channel `c`.
    pub values: Vec<Vec<f32>>,
}

/// An autoregressive decoder whose step has the same kernels and buffer shapes on every call.
///
/// The probe drives it in this order: `reset`, then for each step `prepare_step(i)` followed by
/// `step()`, then `finish`. Under graph capture it calls `step()` once inside the capture and replays
/// the graph instead of calling it again; `prepare_step` always runs outside the capture.
pub trait GraphDecoder {
    /// The device all state lives on.
    fn device(&self) -> &Device;

    /// How many times `step` runs for one forecast.
    fn num_steps(&self) -> usize;

    /// Puts the state back to where it was right after prefill, writing into the same buffers
    /// (never replacing them), so that a graph captured earlier stays valid. May sync.
    fn reset(&mut self) -> Result<()>;

    /// Writes the host-side inputs of step `i` (fresh sampling noise, say) into their persistent
    /// device buffers. Runs outside any capture; host-to-device copies are allowed here.
    fn prepare_step(&mut self, i: usize) -> Result<()>;

    /// One decode step: device work only. No device-to-host read, no host value that changes between
    /// steps in a kernel argument or a shape, state updated in place. Outputs that must survive the
    /// step are copied into buffers allocated before capture.
    fn step(&mut self) -> Result<()>; // graphlint: hot

    /// Reads the generated values back and maps them to data space. May sync.
    fn finish(&mut self) -> Result<Forecast>;
}
