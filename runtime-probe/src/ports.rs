//! The real models: how the probe builds the `models::kronos` and `models::toto` graph decoders
//! from its options and data window (each port's "for the runtime probe" section in
//! `models/KRONOS.md` and `models/TOTO.md`).
//!
//! Both default to deterministic decoding (Kronos greedy, Toto the mixture mean), so that eager and
//! replayed forecasts can be compared bit for bit; `--samples N > 1` switches to the port's
//! on-device sampler, whose noise `prepare_step` refills before every step or launch.

use candle_core::{DType, Device};
use models::kronos::{self, ForecastInput, GraphOptions, KronosPredictor, Preset, SamplingParams};
use models::toto::{self, DecodeOptions, Decoding, Toto, TotoConfig, TotoGraphDecoder, TotoInput, TotoPreset};
use models::GraphDecoder;

use crate::data::Window;
use crate::model::{BuildError, ModelOptions};

/// The data columns Kronos reads, in its forecast-channel order.
pub const KRONOS_CHANNELS: &[&str] = &kronos::data::COLUMNS;

/// Seed of the embedded random-init weights. Fixed, so that `--seed` only moves the sampling
/// noise and the weights stay the same model from run to run.
const INIT_SEED: u64 = 0;

/// 448 context rows and 64 steps: `context + steps - 1 = 511 <= max_context` (512), so the window
/// never slides and every step is a pure graph replay (a slid step re-runs the window eagerly in
/// `prepare_step`).
pub fn kronos_default_window(_preset: &str) -> (usize, usize) {
    (448, 64)
}

/// Toto decodes one patch per step: the defaults give 8 forecast patches (7 decode steps after
/// the prefill's first patch) after 24 context patches.
pub fn toto_default_window(preset: &str) -> (usize, usize) {
    let patch = toto_config(preset).map_or(64, |c| c.patch_size);
    (24 * patch, 8 * patch)
}

fn preset_name(opts: &ModelOptions, default: &str) -> String {
    opts.preset.clone().unwrap_or_else(|| default.to_string())
}

pub fn build_kronos(
    device: &Device,
    opts: &ModelOptions,
    window: &Window,
) -> Result<Box<dyn GraphDecoder>, BuildError> {
    let name = preset_name(opts, "small");
    let preset: Preset = name.parse().map_err(|e: models::Error| BuildError::Config(e.to_string()))?;
    let predictor = match &opts.weights {
        // `DIR/tokenizer` and `DIR/predictor`, each an upstream folder (config.json + model.safetensors).
        Some(dir) => KronosPredictor::from_dir(dir, DType::F32, device, kronos::predictor::DEFAULT_MAX_CONTEXT)
            .map_err(|e| BuildError::Weights(format!("{}: {}", dir.display(), crate::error::error_text(&e))))?,
        None => KronosPredictor::random(preset, INIT_SEED, DType::F32, device)?,
    };
    let timestamps = window.timestamps.as_ref().ok_or_else(|| {
        BuildError::Config(format!(
            "{}: Kronos needs a timestamp column (calendar features of the context and of every forecast step)",
            window.origin
        ))
    })?;
    let input = ForecastInput::from_rows(&window.context, timestamps, kronos::data::DEFAULT_CLIP)
        .map_err(|e| BuildError::Config(e.to_string()))?;
    let params = if opts.samples > 1 {
        // Upstream `predict`'s defaults (T = 1, top-p 0.9), paths averaged.
        SamplingParams { sample_count: opts.samples, seed: opts.seed, ..SamplingParams::default() }
    } else {
        SamplingParams { seed: opts.seed, ..SamplingParams::greedy() }
    };
    let decoder = predictor.graph_generator(&input, &params, GraphOptions { upstream_syncs: opts.upstream_syncs })?;
    Ok(Box::new(decoder))
}

fn toto_config(preset: &str) -> Option<TotoConfig> {
    preset.parse::<TotoPreset>().ok().map(TotoConfig::preset)
}

fn toto_weights_error(dir: &std::path::Path, e: toto::LoadError) -> BuildError {
    match e {
        toto::LoadError::Candle(e) => BuildError::Candle(e),
        other => BuildError::Weights(format!("{}: {other}", dir.display())),
    }
}

pub fn build_toto(device: &Device, opts: &ModelOptions, window: &Window) -> Result<Box<dyn GraphDecoder>, BuildError> {
    let name = preset_name(opts, "base");
    let cfg = toto_config(&name)
        .ok_or_else(|| BuildError::Config(format!("unknown Toto preset `{name}` (expected mini, small or base)")))?;
    let model = match &opts.weights {
        // `DIR/config.json` + `DIR/model.safetensors`, e.g. a snapshot of Datadog/Toto-Open-Base-1.0.
        Some(dir) => Toto::load(dir, device).map_err(|e| toto_weights_error(dir, e))?,
        None => Toto::random(&cfg, INIT_SEED, device).map_err(|e| match e {
            toto::LoadError::Candle(e) => BuildError::Candle(e),
            other => BuildError::Config(other.to_string()),
        })?,
    };
    let variates: Vec<Vec<f32>> =
        (0..window.channels.len()).map(|c| window.context.iter().map(|row| row[c]).collect()).collect();
    let names: Vec<&str> = window.channels.iter().map(String::as_str).collect();
    let input = TotoInput::from_variates(&variates, &names);
    let decoding = if opts.samples > 1 {
        Decoding::Samples { num_samples: opts.samples, seed: opts.seed }
    } else {
        Decoding::Mean
    };
    let options = DecodeOptions { prediction_length: opts.steps, decoding, upstream_syncs: opts.upstream_syncs };
    Ok(Box::new(TotoGraphDecoder::new(&model, &input, options, device)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_windows_fit_the_models() {
        let (context, steps) = kronos_default_window("small");
        assert!(context + steps - 1 <= kronos::predictor::DEFAULT_MAX_CONTEXT);
        assert_eq!(toto_default_window("base"), (1536, 512));
        assert_eq!(toto_default_window("mini"), (192, 64));
    }
}
