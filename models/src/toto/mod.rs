//! Toto (Datadog's Timeseries-Optimized Transformer for Observability) in candle, ported from
//! DataDog/toto at `46bd92ad` (= PyPI `toto-ts` 0.2.0) and numerically matched to it on CPU.
//!
//! The pipeline, one file per stage:
//! - [`scaler`]: causal patch mean/std scaling in f64 ([`scaler::PatchScaler`]);
//! - [`model`]: patch embedding, the transformer of time-wise ([`attention`], with [`rope`] xPos)
//!   and space-wise layers, the unembedding, and the Student-T mixture head ([`distribution`]);
//! - [`forecast`]: upstream's autoregressive loop, with or without its KV cache;
//! - [`graph`]: the static-shape decode loop the runtime probe captures as a CUDA graph.
//!
//! Parameter paths follow the checkpoint keys (`model.transformer.layers.{i}.attention.wQKV`…),
//! so `Toto::load` reads a downloaded `Datadog/Toto-Open-Base-1.0` folder as it is.
//! See `models/TOTO.md` for usage, deviations from upstream and measured parity.

pub mod attention;
pub mod config;
pub mod distribution;
pub mod forecast;
pub mod graph;
pub mod input;
mod layers;
pub mod model;
pub mod rope;
pub mod scaler;
pub mod taps;
pub mod weights;

/// The crate's [`crate::Error`] under the name Toto's loading API has had (the probe matches on it).
pub use crate::Error as LoadError;
pub use config::{AttentionAxis, TotoConfig, TotoPreset};
pub use forecast::{CallRecord, Decoding, ForecastOptions, ForecastOutput};
pub use graph::{DecodeOptions, SampledForecast, TotoGraphDecoder};
pub use input::{TotoInput, SAMPLE_CHANNELS};
pub use model::{FullForward, Toto};
pub use taps::Taps;
