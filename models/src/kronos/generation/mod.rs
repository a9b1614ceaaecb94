//! Autoregressive generation, two paths that must agree:
//! - [`ReferenceGenerator`]: upstream's `auto_regressive_inference`, step by step. Each step
//!   re-runs the whole window (a new shape every step until `max_context`, then a sliding window).
//! - [`GraphGenerator`]: static shapes every step, KV buffers of `max_context` slots, position in
//!   a device tensor, sampling on the device. It implements [`crate::GraphDecoder`].

mod graph;
mod reference;

pub use graph::{GraphGenerator, GraphOptions, IdRows};
pub use reference::{Generation, ReferenceGenerator, StepRecord};
