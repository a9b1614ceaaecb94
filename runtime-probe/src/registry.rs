//! The models `probe run --model NAME` knows. A model is one entry: how to build its
//! [`GraphDecoder`] on a device from the run's options and data window. The probe does the rest
//! (tracing, capture, replay, parity, timing) for any entry.
//!
//! To add a model: write a `build` function that returns the decoder, ready to
//! `reset()` (prefill done), and add a [`ModelEntry`] to [`MODELS`] naming the data columns it reads,
//! in the order of its forecast channels. Map weight-loading errors to [`BuildError::Weights`] with
//! the key and both shapes, and option errors to [`BuildError::Config`].

use std::path::PathBuf;

use candle_core::Device;
use models::GraphDecoder;

use crate::data::Window;
use crate::ports;
use crate::toy::{SyncVariant, Toy, PRESETS as TOY_PRESETS};

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

const OHLC: &[&str] = &["open", "high", "low", "close"];

fn toy_entry(name: &'static str, summary: &'static str, build: BuildFn) -> ModelEntry {
    ModelEntry {
        name,
        summary,
        presets: TOY_PRESETS,
        channels: OHLC,
        default_window: |_| (128, 32),
        upstream_syncs: false,
        build,
    }
}

macro_rules! toy_build {
    ($variant:expr) => {
        |dev: &Device, opts: &ModelOptions, w: &Window| -> Result<Box<dyn GraphDecoder>, BuildError> {
            Ok(Box::new(Toy::new(dev, opts, w, $variant)?))
        }
    };
}

pub fn models() -> Vec<ModelEntry> {
    vec![
        toy_entry("toy", "test model, graph-capturable", toy_build!(SyncVariant::None)),
        toy_entry("toy-bad", "test model with a to_scalar() NaN guard in its step", toy_build!(SyncVariant::ToScalar)),
        toy_entry(
            "toy-silent",
            "test model reading a value back through cudarc, out of candle's sight",
            toy_build!(SyncVariant::RawCopy),
        ),
        toy_entry(
            "toy-sync",
            "test model calling Device::synchronize() in its step",
            toy_build!(SyncVariant::DeviceSync),
        ),
        ModelEntry {
            name: "kronos",
            summary: "Kronos (candlestick tokens), the models::kronos port; greedy, or top-p 0.9 with --samples > 1",
            presets: &["small", "mini", "base"],
            channels: ports::KRONOS_CHANNELS,
            default_window: ports::kronos_default_window,
            upstream_syncs: true,
            build: ports::build_kronos,
        },
        ModelEntry {
            name: "toto",
            summary: "Toto (Datadog), the models::toto port; mixture mean, or sampled medians with --samples > 1",
            presets: &["base", "small", "mini"],
            channels: OHLC,
            default_window: ports::toto_default_window,
            upstream_syncs: true,
            build: ports::build_toto,
        },
    ]
}

pub fn find(name: &str) -> Option<ModelEntry> {
    models().into_iter().find(|m| m.name == name)
}

pub fn names() -> Vec<&'static str> {
    models().iter().map(|m| m.name).collect()
}
