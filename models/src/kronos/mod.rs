//! A candle port of [Kronos](https://github.com/shiyu-coder/Kronos) (MIT), the foundation model for
//! financial candlesticks: a BSQ tokenizer that turns each OHLCV candle into two sub-tokens, and a
//! decoder-only transformer that predicts them hierarchically.
//!
//! - [`KronosTokenizer`] and [`Kronos`] load upstream checkpoints with their state-dict keys
//!   unchanged ([`KronosTokenizer::from_dir`], [`Kronos::from_dir`]), or build a seeded random init
//!   at a released shape ([`KronosPredictor::random`]).
//! - [`KronosPredictor`] adds upstream's normalisation and two generation paths that agree token for
//!   token: [`ReferenceGenerator`] (upstream's window recompute) and [`GraphGenerator`] (static
//!   shapes, KV buffers, device-side position and sampling: a [`crate::GraphDecoder`]).
//!
//! See `models/KRONOS.md` for the port's notes, parity figures and benchmarks.

mod blocks;
pub mod config;
pub mod data;
pub mod generation;
pub mod model;
pub mod predictor;
pub mod sampling;
pub mod tokenizer;
pub mod weights;

use std::path::Path;

use candle_core::{Error, Result};

pub use blocks::{Rotary, Trace};
pub use config::{KronosConfig, Preset, TokenizerConfig};
pub use data::{ForecastInput, Normalizer};
pub use generation::{Generation, GraphGenerator, GraphOptions, ReferenceGenerator, StepRecord};
pub use model::{Kronos, Rows};
pub use predictor::{Decoded, KronosPredictor};
pub use sampling::SamplingParams;
pub use tokenizer::KronosTokenizer;
pub use weights::{Checkpoint, SeededInit, ShapeRecorder};

pub(crate) fn read_config<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Msg(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Msg(format!("{}: {e}", path.display())))
}

/// The rotary table shared by a stack of blocks. Upstream gives every attention module its own
/// `inv_freq` buffer; they are equal in every released checkpoint, and this port relies on it.
pub(crate) fn shared_rotary<'a>(
    blocks: impl Iterator<Item = &'a blocks::TransformerBlock>,
    head_dim: usize,
    what: &str,
) -> Result<Rotary> {
    let mut shared: Option<Rotary> = None;
    for (i, block) in blocks.enumerate() {
        let r = &block.self_attn.rotary;
        match &shared {
            None => shared = Some(r.clone()),
            Some(s) if s != r => {
                return Err(Error::Msg(format!(
                    "{what}: block {i}'s rotary inv_freq differs from block 0's (unsupported)"
                )))
            }
            Some(_) => {}
        }
    }
    match shared {
        Some(r) => Ok(r),
        // No blocks at all: compute upstream's table.
        None => Ok(Rotary::upstream(head_dim)),
    }
}
