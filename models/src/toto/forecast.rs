//! Autoregressive forecasting as upstream's `TotoForecaster`: the recompute path (no cache, the
//! whole series at every call) and the KV-cache path (a prefill, then one patch per call).
//! Both may read back to the host freely; the static-shape path is [`super::graph`].

use candle_core::{DType, Result, Tensor};

use super::distribution::{mixture_noise, replace_extreme_values, MixtureParams, NOISE_ROWS};
use super::input::{InputTensors, TotoInput};
use super::model::{CallOutput, KvCache, Toto};

/// What each decoding step feeds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Upstream's `generate_mean`: the mixture mean of every step.
    Mean,
    /// Upstream's `generate_samples`: `num_samples` trajectories, each continuing from its own
    /// draws. The noise is a deterministic function of `seed` and the call index.
    Samples { num_samples: usize, seed: u64 },
}

impl Decoding {
    pub fn trajectories(&self) -> usize {
        match self {
            Decoding::Mean => 1,
            Decoding::Samples { num_samples, .. } => *num_samples,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForecastOptions {
    pub prediction_length: usize,
    pub decoding: Decoding,
    pub use_kv_cache: bool,
}

/// What one backbone call produced, for parity checks against upstream's recorded steps.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Series length given to the backbone.
    pub input_len: usize,
    /// Cache length in patches after the call (`None` without a cache).
    pub kv_len_after: Option<usize>,
    /// Time steps the transformer processed.
    pub covered_steps: usize,
    /// The last patch's mixture, `[trajectories·batch, variates, patch, K]`.
    pub params: MixtureParams,
    /// The last patch's normalised mean `[.., patch]` and its affine map back.
    pub base_mean: Tensor,
    pub affine_loc: Tensor,
    pub affine_scale: Tensor,
}

#[derive(Debug, Clone)]
pub struct ForecastOutput {
    /// `[batch, variates, prediction_length]`: the mean trajectory, or the mean over samples.
    pub mean: Tensor,
    /// `[batch, variates, prediction_length, samples]` when sampling.
    pub samples: Option<Tensor>,
    pub calls: Vec<CallRecord>,
}

impl ForecastOutput {
    /// The `q`-quantile over samples of every step (`[batch, variates, prediction_length]`), with
    /// `torch.quantile`'s linear interpolation; an error without samples. Reads back to the host.
    pub fn quantile(&self, q: f64) -> Result<Tensor> {
        let Some(samples) = &self.samples else {
            candle_core::bail!("quantiles need a sampled forecast (Decoding::Samples)");
        };
        let (b, v, t, s) = samples.dims4()?;
        let values: Vec<f32> = samples
            .flatten_all()?
            .to_vec1::<f32>()?
            .chunks(s)
            .map(|draws| {
                let mut sorted = draws.to_vec();
                sorted.sort_by(f32::total_cmp);
                super::graph::quantile_sorted(&sorted, q)
            })
            .collect();
        Tensor::from_vec(values, (b, v, t), samples.device())
    }

    pub fn median(&self) -> Result<Tensor> {
        self.quantile(0.5)
    }
}

/// The growing state of one autoregressive decode on the eager paths.
pub(crate) struct Rollout {
    pub inputs: InputTensors,
    pub context_len: usize,
    pub calls: usize,
    pub cache: Option<KvCache>,
}

impl Rollout {
    /// Pads the input as upstream's forecaster does and sizes the cache for `prediction_length`.
    pub fn new(model: &Toto, input: &TotoInput, prediction_length: usize, use_kv_cache: bool) -> Result<Self> {
        let p = model.config().patch_size;
        let input = input.left_padded(p);
        input.validate(p)?;
        let calls = prediction_length.div_ceil(p);
        if calls == 0 {
            candle_core::bail!("prediction_length must be positive");
        }
        let cache = if use_kv_cache {
            // The last generated patch is never fed back, so it needs no slot.
            Some(model.kv_cache(input.batch * input.variates, input.len / p + calls - 1)?)
        } else {
            None
        };
        Ok(Self { inputs: input.to_tensors(model.device())?, context_len: input.len, calls, cache })
    }

    /// Repeats every series `times` (rows `s·batch + b`), cache included.
    pub fn repeat(&mut self, times: usize) -> Result<()> {
        if times == 1 {
            return Ok(());
        }
        let rep = |t: &Tensor| t.repeat((times, 1, 1));
        self.inputs = InputTensors {
            series: rep(&self.inputs.series)?,
            padding: rep(&self.inputs.padding)?,
            ids: rep(&self.inputs.ids)?,
        };
        if let Some(cache) = &mut self.cache {
            for layer in &mut cache.layers {
                layer.keys = layer.keys.repeat((times, 1, 1, 1))?;
                layer.values = layer.values.repeat((times, 1, 1, 1))?;
            }
        }
        Ok(())
    }

    /// Runs backbone call `call` and returns its output with the patch it generates. At the first
    /// call with several trajectories, the output's parameters and statistics and the rollout are
    /// repeated per trajectory before drawing: upstream prefills every trajectory on the same
    /// context, and one prefill, repeated, gives the same rows.
    pub fn decode_call(&mut self, model: &Toto, decoding: Decoding, call: usize) -> Result<(CallOutput, Tensor)> {
        let i = &self.inputs;
        let mut out = model.call(&i.series, &i.padding, &i.ids, self.context_len, self.cache.as_mut())?;
        let trajectories = decoding.trajectories();
        if call == 0 && trajectories > 1 {
            out.params = out.params.repeat_batch(trajectories)?;
            out.loc = out.loc.repeat((trajectories, 1, 1))?;
            out.scale = out.scale.repeat((trajectories, 1, 1))?;
            self.repeat(trajectories)?;
        }
        let noise = match decoding {
            Decoding::Mean => None,
            Decoding::Samples { seed, .. } => Some(model.call_noise(&out.params, seed, call)?),
        };
        let patch = model.next_patch(&out.params, &out.loc, &out.scale, noise.as_ref())?;
        Ok((out, patch))
    }

    /// Appends a generated patch `[rows, variates, P]` (valid, in the last id group).
    pub fn append(&mut self, patch: &Tensor) -> Result<()> {
        let i = &self.inputs;
        let (rows, v, p) = patch.dims3()?;
        let t = i.series.dim(2)?;
        let last_ids = i.ids.narrow(2, t - 1, 1)?.broadcast_as((rows, v, p))?.contiguous()?;
        self.inputs = InputTensors {
            series: Tensor::cat(&[&i.series, patch], 2)?,
            padding: Tensor::cat(&[&i.padding, &Tensor::ones((rows, v, p), DType::F32, patch.device())?], 2)?,
            ids: Tensor::cat(&[&i.ids, &last_ids], 2)?,
        };
        Ok(())
    }
}

impl Toto {
    /// Maps the next patch's mixture back to data space: its mean, or one draw per row from
    /// `noise` (`[NOISE_ROWS, rows·variates·P]`), then `· scale + loc` and upstream's
    /// replacement of non-finite values.
    pub(crate) fn next_patch(
        &self,
        params: &MixtureParams,
        loc: &Tensor,
        scale: &Tensor,
        noise: Option<&Tensor>,
    ) -> Result<Tensor> {
        let normalised = match noise {
            None => params.mean()?,
            Some(noise) => self.head().sampler().sample(params, noise)?,
        };
        replace_extreme_values(&normalised.broadcast_mul(scale)?.broadcast_add(loc)?)
    }

    /// Host-generated sampling noise for call `call` of a decode over `params`.
    pub(crate) fn call_noise(&self, params: &MixtureParams, seed: u64, call: usize) -> Result<Tensor> {
        let draws = params.probs.elem_count() / params.probs.dim(candle_core::D::Minus1)?;
        Tensor::from_vec(mixture_noise(seed, call, draws), (NOISE_ROWS, draws), self.device())
    }

    /// Forecasts `prediction_length` steps after `input`, as upstream's
    /// `TotoForecaster.forecast(..., use_kv_cache=...)`.
    pub fn forecast(&self, input: &TotoInput, options: &ForecastOptions) -> Result<ForecastOutput> {
        let mut rollout = Rollout::new(self, input, options.prediction_length, options.use_kv_cache)?;
        let trajectories = options.decoding.trajectories();
        let mut records = Vec::with_capacity(rollout.calls);
        for call in 0..rollout.calls {
            let input_len = rollout.inputs.series.dim(2)?;
            let (out, patch) = rollout.decode_call(self, options.decoding, call)?;
            let (params, loc, scale) = (out.params, out.loc, out.scale);
            records.push(CallRecord {
                input_len,
                kv_len_after: rollout.cache.as_ref().map(|c| c.len),
                covered_steps: out.covered_steps,
                base_mean: params.mean()?,
                affine_loc: loc.broadcast_as(patch.shape())?.contiguous()?,
                affine_scale: scale.broadcast_as(patch.shape())?.contiguous()?,
                params,
            });
            rollout.append(&patch)?;
        }
        let generated = rollout.inputs.series.narrow(2, rollout.context_len, options.prediction_length)?;
        let (rows, v, len) = generated.dims3()?;
        let batch = rows / trajectories;
        let (mean, samples) = match options.decoding {
            Decoding::Mean => (generated.contiguous()?, None),
            Decoding::Samples { .. } => {
                let samples = generated.reshape((trajectories, batch, v, len))?.permute((1, 2, 3, 0))?.contiguous()?;
                (samples.mean(3)?, Some(samples))
            }
        };
        Ok(ForecastOutput { mean, samples, calls: records })
    }
}
