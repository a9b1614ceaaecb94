//! candle ports of Kronos and Toto, written so that a decode step can be captured as a CUDA graph.

pub mod data;
mod error;
pub mod graph;
pub mod kronos;
pub mod nn;
mod rng;
pub mod toto;

pub use error::Error;
pub use graph::{Forecast, GraphDecoder};
pub use kronos::{GraphGenerator as KronosGraphDecoder, Kronos, KronosPredictor};
pub use toto::{Toto, TotoConfig, TotoGraphDecoder};
