//! candle ports of Kronos and Toto, written so that a decode step can be captured as a CUDA graph.

pub mod graph;

pub use graph::{Forecast, GraphDecoder};
pub mod kronos;
