//! `KronosPredictor`: tokenizer + predictor + upstream's pre- and post-processing, and the entry
//! points of the two generation paths.

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};

use super::config::Preset;
use super::data::{ForecastInput, COLUMNS};
use super::generation::{GraphGenerator, GraphOptions, ReferenceGenerator};
use super::model::Kronos;
use super::sampling::SamplingParams;
use super::tokenizer::KronosTokenizer;
use crate::graph::Forecast;

/// The tokenizer always runs in f32: it decides the tokens (a sign test) and runs once per
/// forecast, so a narrower type would only risk flipping tokens.
const TOKENIZER_DTYPE: DType = DType::F32;

/// Upstream `KronosPredictor`'s default `max_context`, whatever the model size.
pub const DEFAULT_MAX_CONTEXT: usize = 512;

#[derive(Debug, Clone)]
pub struct KronosPredictor {
    pub tokenizer: KronosTokenizer,
    pub model: Kronos,
    /// Longest window the predictor sees; older tokens slide out (upstream default 512).
    pub max_context: usize,
}

/// What the final `tokenizer.decode` produced, and the forecast made from it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// First token of the decoded window (`max(0, context + steps - max_context)`).
    pub window_start: usize,
    /// `[samples, window]` ids given to `tokenizer.decode`.
    pub s1: Tensor,
    pub s2: Tensor,
    /// `[samples, window, 6]` reconstruction, normalised space.
    pub recon: Tensor,
    /// `[steps]` forecast in normalised space: the last rows, averaged over samples.
    pub pred_norm: Vec<[f32; 6]>,
    /// The forecast in data space.
    pub forecast: Forecast,
}

impl KronosPredictor {
    pub fn new(tokenizer: KronosTokenizer, model: Kronos, max_context: usize) -> Result<Self> {
        model.config().check_tokenizer(tokenizer.config())?;
        if max_context < 2 {
            candle_core::bail!("max_context must be at least 2, got {max_context}");
        }
        if tokenizer.device().location() != model.device().location() {
            candle_core::bail!("tokenizer and predictor are on different devices");
        }
        Ok(Self { tokenizer, model, max_context })
    }

    /// A seeded random-init model at a released preset's shape, on `device` (no download), with
    /// upstream's default `max_context` of 512.
    pub fn random(preset: Preset, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        // Separate streams for the two modules' weights.
        let tokenizer =
            KronosTokenizer::random(&preset.tokenizer_config(), seed ^ 0x746f_6b65_6e69_7a65, TOKENIZER_DTYPE, device)?;
        let model = Kronos::random(&preset.predictor_config(), seed, dtype, device)?;
        Self::new(tokenizer, model, DEFAULT_MAX_CONTEXT)
    }

    /// Loads upstream checkpoints: two folders with `config.json` and `model.safetensors` each
    /// (for instance snapshots of `NeoQuasar/Kronos-Tokenizer-base` and `NeoQuasar/Kronos-small`).
    pub fn from_dirs(
        tokenizer_dir: impl AsRef<Path>,
        predictor_dir: impl AsRef<Path>,
        dtype: DType,
        device: &Device,
        max_context: usize,
    ) -> Result<Self> {
        let tokenizer = KronosTokenizer::from_dir(tokenizer_dir, TOKENIZER_DTYPE, device)?;
        let model = Kronos::from_dir(predictor_dir, dtype, device)?;
        Self::new(tokenizer, model, max_context)
    }

    /// Loads a folder holding `tokenizer/` and `predictor/`, each an upstream checkpoint folder.
    pub fn from_dir(dir: impl AsRef<Path>, dtype: DType, device: &Device, max_context: usize) -> Result<Self> {
        let dir = dir.as_ref();
        Self::from_dirs(dir.join("tokenizer"), dir.join("predictor"), dtype, device, max_context)
    }

    pub fn device(&self) -> &Device {
        self.model.device()
    }

    /// `[1, context, 6]` normalised candles, `[1, context + steps, 5]` calendar features.
    pub(crate) fn input_tensors(&self, input: &ForecastInput) -> Result<(Tensor, Tensor)> {
        let dev = self.device();
        let t = input.context_len();
        let x = Tensor::from_vec(input.x.concat(), (1, t, 6), dev)?;
        let stamps: Vec<f32> = input.x_stamp.iter().chain(&input.y_stamp).flatten().copied().collect();
        let stamp = Tensor::from_vec(stamps, (1, t + input.pred_len(), 5), dev)?;
        Ok((x, stamp))
    }

    /// The context's `(s1, s2)` ids, each `[rows, context]`: encoded once, repeated per sample path
    /// (upstream encodes the repeated input; the rows are identical).
    pub(crate) fn encode_context(&self, input: &ForecastInput, rows: usize) -> Result<(Tensor, Tensor)> {
        let (x, _) = self.input_tensors(input)?;
        let (s1, s2) = self.tokenizer.encode(&x)?;
        Ok((s1.repeat((rows, 1))?, s2.repeat((rows, 1))?))
    }

    pub(crate) fn check_input(&self, input: &ForecastInput) -> Result<()> {
        if input.context_len() == 0 || input.pred_len() == 0 {
            candle_core::bail!("a forecast needs at least one context row and one step");
        }
        if input.x_stamp.len() != input.context_len() {
            candle_core::bail!("{} context rows but {} context timestamps", input.context_len(), input.x_stamp.len());
        }
        Ok(())
    }

    /// Upstream's algorithm (`auto_regressive_inference`), stepwise: every step re-runs the whole
    /// window, which grows to `max_context` tokens and then slides.
    pub fn reference_generator<'a>(
        &'a self,
        input: &'a ForecastInput,
        params: &SamplingParams,
    ) -> Result<ReferenceGenerator<'a>> {
        ReferenceGenerator::new(self, input, params)
    }

    /// Forecast with the reference path. See [`super::generation::Generation`].
    pub fn predict(&self, input: &ForecastInput, params: &SamplingParams) -> Result<super::generation::Generation> {
        self.reference_generator(input, params)?.run()
    }

    /// The graph-friendly decoder (implements [`crate::GraphDecoder`]).
    pub fn graph_generator(
        &self,
        input: &ForecastInput,
        params: &SamplingParams,
        options: GraphOptions,
    ) -> Result<GraphGenerator> {
        GraphGenerator::new(self, input, params, options)
    }

    /// The final step shared by both paths: decode the last `max_context` tokens of each sample
    /// path, keep the forecast rows, average over paths, de-normalise.
    pub(crate) fn finalize(&self, s1_full: &Tensor, s2_full: &Tensor, input: &ForecastInput) -> Result<Decoded> {
        let (rows, total) = s1_full.dims2()?;
        let steps = input.pred_len();
        let window_start = total.saturating_sub(self.max_context);
        let window = total - window_start;
        let s1 = s1_full.narrow(1, window_start, window)?.contiguous()?;
        let s2 = s2_full.narrow(1, window_start, window)?.contiguous()?;
        let recon = self.tokenizer.decode(&s1, &s2)?;
        let tail = recon.narrow(1, window - steps, steps)?.to_vec3::<f32>()?;
        // numpy's mean over the sample axis: f32 sums, path by path.
        let pred_norm: Vec<[f32; 6]> = (0..steps)
            .map(|t| std::array::from_fn(|c| (0..rows).fold(0f32, |acc, r| acc + tail[r][t][c]) / rows as f32))
            .collect();
        let values = pred_norm.iter().map(|r| input.normalizer.denormalize(r).to_vec()).collect();
        let forecast = Forecast { channels: COLUMNS.iter().map(|c| c.to_string()).collect(), values };
        Ok(Decoded { window_start, s1, s2, recon, pred_norm, forecast })
    }
}
