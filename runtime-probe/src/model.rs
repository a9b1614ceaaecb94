//! What a model is to the probe: a [`ModelEntry`] that builds its [`GraphDecoder`] on a device
//! from the run's options ([`ModelOptions`]) and data window. The models themselves (`toy`,
//! `ports`) and their list (`registry`) sit above this module.

use std::path::PathBuf;

use candle_core::Device;
use models::GraphDecoder;

use crate::data::Window;

/// The run options a model sees.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// `--preset`; `None` means the entry's first preset.
    pub preset: Option<String>,
    /// `--weights DIR`; `None` means the embedded random-init model at the preset's shape.
    pub weights: Option<PathBuf>,
    pub context: usize,
    /// Forecast rows.
    pub steps: usize,
    pub samples: usize,
    pub seed: u64,
    /// `--upstream-syncs`: build the port's opt-in mode that reads its KV length / position back to
    /// the host every step, as upstream does (only for entries with `upstream_syncs: true`).
    pub upstream_syncs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Unusable weights: the message names the file, the key and the shapes.
    #[error("{0}")]
    Weights(String),
    /// An option the model cannot take (preset, context too short…).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub type BuildFn = fn(&Device, &ModelOptions, &Window) -> Result<Box<dyn GraphDecoder>, BuildError>;

pub struct ModelEntry {
    pub name: &'static str,
    pub summary: &'static str,
    /// Accepted `--preset` values; the first is the default.
    pub presets: &'static [&'static str],
    /// Data columns the model reads, in the order of its forecast channels.
    pub channels: &'static [&'static str],
    /// `(context, steps)` used when `--context` / `--steps` are not given, per preset.
    pub default_window: fn(preset: &str) -> (usize, usize),
    /// Whether the model has an upstream-style syncs mode (`--upstream-syncs`).
    pub upstream_syncs: bool,
    pub build: BuildFn,
}
