//! The models `probe run --model NAME` knows. A model is one entry: how to build its
//! [`GraphDecoder`] on a device from the run's options and data window. The probe does the rest
//! (tracing, capture, replay, parity, timing) for any entry.
//!
//! To add a model: write a `build` function that returns the decoder, ready to
//! `reset()` (prefill done), and add a [`ModelEntry`] to [`models()`] naming the data columns it reads,
//! in the order of its forecast channels. Map weight-loading errors to [`BuildError::Weights`] with
//! the key and both shapes, and option errors to [`BuildError::Config`].

use candle_core::Device;
use models::GraphDecoder;

use crate::data::Window;
use crate::model::{BuildError, BuildFn, ModelEntry, ModelOptions};
use crate::ports;
use crate::toy::{SyncVariant, Toy, PRESETS as TOY_PRESETS};

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
