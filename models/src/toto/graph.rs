//! The static-shape decode path: [`TotoGraphDecoder`] implements [`GraphDecoder`], so a decode
//! step can be captured once as a CUDA graph and replayed for every patch.
//!
//! # What makes a step capturable
//! - **Static shapes.** The key/value buffers are allocated for the whole forecast (context patches
//!   plus decode steps). A step attends over the *entire* buffer; slots not yet written are
//!   masked by an additive bias row (`0` filled, `-inf` empty) that the step updates itself.
//! - **Positions on the device.** The write position lives in device tensors: `position`
//!   (`[1]`, the patch slot of this step), `kv_write_index` (the same slot, shaped like one
//!   step's keys) and `out_write_index` (this step's slots in the output buffer). Keys, values,
//!   bias and output are written with `scatter_set` at those indices; each counter is advanced in
//!   place at the end of the step. No kernel argument or shape depends on the step number.
//! - **The xPos centre from the device.** Upstream's cached decode centres xPos on
//!   `floor(p / 2)` for the query at position `p`, a different centre at every step. The rotary
//!   cos/sin and the xPos factors of every decode position are precomputed as table rows, and the
//!   step picks its row with `index_select(position)`: the centre follows the device position.
//! - **The scaler on the device.** Its running sums (weight, weighted sum, Welford `m2`, in f64)
//!   are device buffers advanced by one patch per step with the same operations the eager paths
//!   use; the global clamp bounds of the context are fixed after the prefill.
//! - **In-place state, preallocated outputs.** Every buffer a step writes was allocated before
//!   (at construction), and is written with `slice_set`/`scatter_set` at constant offsets or
//!   device indices; a step never rebinds a field to a tensor it created.
//! - **Noise as an input.** In sampling mode the step reads a noise buffer that `prepare_step`
//!   refills (outside any capture) with the same host-generated values the eager path uses.
//!
//! The prefill (the first backbone call over the whole context) runs eagerly at construction,
//! with the upstream-style cached path; `reset` restores a snapshot of the state it left.

use candle_core::{DType, Device, Result, Tensor};

use crate::graph::{Forecast, GraphDecoder};

use super::attention::KvLayer;
use super::distribution::NOISE_ROWS;
use super::forecast::{Decoding, Rollout};
use super::input::TotoInput;
use super::model::{KvCache, PassMode, Toto};
use super::rope::RopeRows;
use super::scaler::{ScaleBounds, ScalerCarry};
use super::taps::Taps;

/// How the graph decoder decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    pub prediction_length: usize,
    pub decoding: Decoding,
    /// Opt-in: read the cache length back to the host in every step the way upstream's KV cache
    /// does (once in the backbone, twice per time-wise layer). The forecast is unchanged; the
    /// step is then not capturable, which is the point: the probe shows these syncs. Off by
    /// default.
    pub upstream_syncs: bool,
}

/// A sampled forecast: `samples[t][c][s]` for future step `t`, channel `c`, trajectory `s`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledForecast {
    pub channels: Vec<String>,
    pub samples: Vec<Vec<Vec<f32>>>,
}

/// `torch.quantile`'s default (linear) interpolation over sorted values.
pub fn quantile_sorted(sorted: &[f32], q: f64) -> f32 {
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = (pos - lo as f64) as f32;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

impl SampledForecast {
    /// The `q`-quantile over trajectories of every step and channel.
    pub fn quantile(&self, q: f64) -> Forecast {
        let values = self
            .samples
            .iter()
            .map(|step| {
                step.iter()
                    .map(|draws| {
                        let mut sorted = draws.clone();
                        sorted.sort_by(f32::total_cmp);
                        quantile_sorted(&sorted, q)
                    })
                    .collect()
            })
            .collect();
        Forecast { channels: self.channels.clone(), values }
    }

    pub fn median(&self) -> Forecast {
        self.quantile(0.5)
    }

    /// The mean over trajectories (upstream's `Forecast.mean` when sampling).
    pub fn mean(&self) -> Forecast {
        let values = self
            .samples
            .iter()
            .map(|step| step.iter().map(|d| d.iter().sum::<f32>() / d.len() as f32).collect())
            .collect();
        Forecast { channels: self.channels.clone(), values }
    }
}

/// Everything a step writes. The buffers keep their addresses for the decoder's lifetime.
struct DecodeState {
    cache: KvCache,
    carry: ScalerCarry,
    /// `[rows, variates, P]`: the last generated patch, the next step's input.
    next_patch: Tensor,
    /// `[1]` u32: the cache slot this step writes (= patches already cached).
    position: Tensor,
    /// `[rows·variates, heads, 1, head_dim]` u32, equal to `position`: the scatter index of keys.
    kv_write_index: Tensor,
    /// `[1, capacity]` f32: 0 for filled cache slots, -inf for empty ones.
    bias: Tensor,
    /// `[rows, variates, P]` u32: this step's positions in `output`.
    out_write_index: Tensor,
    /// `[rows, variates, calls·P]`: every generated patch, in data space.
    output: Tensor,
}

/// A buffer of its own holding `value`. (Small uploads may alias candle's H2D cache on CUDA, so
/// a buffer that is later written in place must never be such an upload itself.)
fn persistent(value: &Tensor) -> Result<Tensor> {
    let buffer = Tensor::zeros(value.shape(), value.dtype(), value.device())?;
    buffer.slice_set(&value.contiguous()?, 0, 0)?;
    Ok(buffer)
}

/// `counter += step`, in place.
fn advance(counter: &Tensor, step: &Tensor) -> Result<()> {
    counter.slice_set(&counter.add(step)?, 0, 0)
}

impl DecodeState {
    fn tensors(&self) -> Vec<&Tensor> {
        let mut all = vec![
            &self.carry.weight,
            &self.carry.value,
            &self.carry.m2,
            &self.next_patch,
            &self.position,
            &self.kv_write_index,
            &self.bias,
            &self.out_write_index,
            &self.output,
        ];
        for layer in &self.cache.layers {
            all.push(&layer.keys);
            all.push(&layer.values);
        }
        all
    }

    fn snapshot(&self) -> Result<Self> {
        let p = persistent;
        Ok(Self {
            cache: KvCache {
                layers: self
                    .cache
                    .layers
                    .iter()
                    .map(|l| Ok(KvLayer { keys: p(&l.keys)?, values: p(&l.values)? }))
                    .collect::<Result<_>>()?,
                len: self.cache.len,
                capacity: self.cache.capacity,
            },
            carry: ScalerCarry { weight: p(&self.carry.weight)?, value: p(&self.carry.value)?, m2: p(&self.carry.m2)? },
            next_patch: p(&self.next_patch)?,
            position: p(&self.position)?,
            kv_write_index: p(&self.kv_write_index)?,
            bias: p(&self.bias)?,
            out_write_index: p(&self.out_write_index)?,
            output: p(&self.output)?,
        })
    }

    /// Copies `other` into these buffers (same shapes), keeping their addresses.
    fn restore_from(&self, other: &Self) -> Result<()> {
        for (dst, src) in self.tensors().into_iter().zip(other.tensors()) {
            dst.slice_set(src, 0, 0)?;
        }
        Ok(())
    }
}

/// Toto's decode loop with static shapes and device-resident positions.
///
/// Construct it on the caller's device (the model must live there), then drive it through
/// [`GraphDecoder`]: `reset`, `prepare_step(i)` + `step()` for `i < num_steps()`, `finish`.
pub struct TotoGraphDecoder {
    model: Toto,
    device: Device,
    options: DecodeOptions,
    channels: Vec<String>,
    batch: usize,
    variates: usize,
    trajectories: usize,
    calls: usize,
    bounds: Option<ScaleBounds>,
    /// Rotary/xPos rows for every decode position, `[capacity, head_dim]`.
    rope: RopeRows,
    /// The space-wise mask of a generated patch (its ids are the last context ids).
    space_bias: Tensor,
    position_step: Tensor,
    kv_index_step: Tensor,
    out_index_step: Tensor,
    /// `[NOISE_ROWS, rows·variates·P]` in sampling mode, refilled by `prepare_step`.
    noise: Option<Tensor>,
    live: DecodeState,
    after_prefill: DecodeState,
}

impl TotoGraphDecoder {
    /// Runs the prefill over `context` on `device` and allocates every buffer of the decode.
    /// `model` must have been loaded on `device`.
    pub fn new(model: &Toto, context: &TotoInput, options: DecodeOptions, device: &Device) -> Result<Self> {
        if !model.device().same_device(device) {
            candle_core::bail!(
                "the Toto model lives on {:?}, not on the decoder's device {device:?}",
                model.device().location()
            );
        }
        let cfg = model.config();
        let (p, heads, head_dim) = (cfg.patch_size, cfg.num_heads, cfg.head_dim());
        let mut rollout = Rollout::new(model, context, options.prediction_length, true)?;
        let trajectories = options.decoding.trajectories();
        let (batch, variates) = (context.batch, context.variates);
        let rows = trajectories * batch;

        // The prefill, exactly as the cached eager path's first call.
        let (prefill, first) = rollout.decode_call(model, options.decoding, 0)?;
        let (mut carry, mut bounds) = (prefill.scaled.carry, prefill.scaled.bounds);
        if trajectories > 1 {
            let rep = |t: &Tensor| t.repeat((trajectories, 1));
            carry = ScalerCarry { weight: rep(&carry.weight)?, value: rep(&carry.value)?, m2: rep(&carry.m2)? };
            bounds = bounds
                .map(|b| Ok::<_, candle_core::Error>(ScaleBounds { lo: rep(&b.lo)?, hi: rep(&b.hi)? }))
                .transpose()?;
        }
        let draws = rows * variates * p;
        let noise = match options.decoding {
            Decoding::Mean => None,
            Decoding::Samples { .. } => Some(Tensor::zeros((NOISE_ROWS, draws), DType::F32, device)?),
        };

        let cache = rollout.cache.take().expect("the graph decoder always prefills a cache");
        let (filled, capacity) = (cache.len, cache.capacity);
        let ids = &rollout.inputs.ids;
        let last_ids = ids.narrow(2, ids.dim(2)? - 1, 1)?.contiguous()?;
        let bias: Vec<f32> = (0..capacity).map(|j| if j < filled { 0.0 } else { f32::NEG_INFINITY }).collect();
        let out_index: Vec<u32> = (0..rows * variates * p).map(|j| (p + j % p) as u32).collect();
        let output = Tensor::zeros((rows, variates, rollout.calls * p), DType::F32, device)?;
        output.slice_set(&first, 2, 0)?;
        let u32_full = |value: usize, shape: &[usize]| Tensor::full(value as u32, shape, device);
        let live = DecodeState {
            cache: KvCache {
                layers: cache
                    .layers
                    .iter()
                    .map(|l| Ok(KvLayer { keys: persistent(&l.keys)?, values: persistent(&l.values)? }))
                    .collect::<Result<_>>()?,
                ..cache
            },
            carry: ScalerCarry {
                weight: persistent(&carry.weight)?,
                value: persistent(&carry.value)?,
                m2: persistent(&carry.m2)?,
            },
            next_patch: persistent(&first)?,
            position: u32_full(filled, &[1])?,
            kv_write_index: u32_full(filled, &[rows * variates, heads, 1, head_dim])?,
            bias: persistent(&Tensor::from_vec(bias, (1, capacity), device)?)?,
            out_write_index: persistent(&Tensor::from_vec(out_index, (rows, variates, p), device)?)?,
            output,
        };
        let after_prefill = live.snapshot()?;
        Ok(Self {
            model: model.clone(),
            device: device.clone(),
            options,
            channels: context.channel_names.clone(),
            batch,
            variates,
            trajectories,
            calls: rollout.calls,
            bounds,
            rope: model.xpos().decode_tables(capacity).upload(device)?,
            space_bias: Toto::space_bias(&last_ids)?,
            position_step: u32_full(1, &[1])?,
            kv_index_step: u32_full(1, &[rows * variates, heads, 1, head_dim])?,
            out_index_step: u32_full(p, &[rows, variates, p])?,
            noise,
            live,
            after_prefill,
        })
    }

    pub fn options(&self) -> &DecodeOptions {
        &self.options
    }

    /// Channel labels: the variate names, prefixed by the series index when `batch > 1`.
    fn channel_labels(&self) -> Vec<String> {
        (0..self.batch)
            .flat_map(|b| {
                self.channels.iter().map(move |c| if self.batch == 1 { c.clone() } else { format!("{b}/{c}") })
            })
            .collect()
    }

    /// Reads every generated trajectory: `[trajectory][batch·variates][step]`.
    fn read_output(&self) -> Result<Vec<Vec<Vec<f32>>>> {
        let out = self.live.output.to_vec3::<f32>()?;
        let rows_per_trajectory = self.batch;
        Ok((0..self.trajectories)
            .map(|s| {
                out[s * rows_per_trajectory..(s + 1) * rows_per_trajectory]
                    .iter()
                    .flat_map(|row| row.iter().map(|steps| steps[..self.options.prediction_length].to_vec()))
                    .collect()
            })
            .collect())
    }

    /// All sampled trajectories; an error in mean mode.
    pub fn finish_samples(&mut self) -> Result<SampledForecast> {
        if self.options.decoding == Decoding::Mean {
            candle_core::bail!("this decoder forecasts the mean; construct it with Decoding::Samples");
        }
        let trajectories = self.read_output()?;
        let samples = (0..self.options.prediction_length)
            .map(|t| {
                (0..self.batch * self.variates).map(|c| trajectories.iter().map(|traj| traj[c][t]).collect()).collect()
            })
            .collect();
        Ok(SampledForecast { channels: self.channel_labels(), samples })
    }
}

impl GraphDecoder for TotoGraphDecoder {
    fn device(&self) -> &Device {
        &self.device
    }

    fn num_steps(&self) -> usize {
        self.calls - 1
    }

    fn reset(&mut self) -> Result<()> {
        self.live.restore_from(&self.after_prefill)
    }

    fn prepare_step(&mut self, i: usize) -> Result<()> {
        if let (Some(buffer), Decoding::Samples { seed, .. }) = (&self.noise, self.options.decoding) {
            let draws = buffer.dim(1)?;
            let fresh = Tensor::from_vec(
                super::distribution::mixture_noise(seed, i + 1, draws),
                (NOISE_ROWS, draws),
                &self.device,
            )?;
            buffer.slice_set(&fresh, 0, 0)?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<()> {
        let (m, s) = (&self.model, &self.live);
        let (rows, v, p) = s.next_patch.dims3()?;
        let sync_position = self.options.upstream_syncs.then_some(&s.position);
        if let Some(position) = sync_position {
            // DELIBERATE HOST SYNC (opt-in): the backbone's `int(kv_cache.current_len(0))`.
            let _kv_len = position.to_vec1::<u32>()?; // graphlint: ignore[GL801] -- deliberate, opt-in upstream-syncs mode: the probe must catch this sync
        }

        // The scaler over the fed-back patch, advancing the device-resident running sums.
        let x = s.next_patch.reshape((rows * v, 1, p))?.to_dtype(DType::F64)?;
        let w = Tensor::ones((rows * v, 1, p), DType::F64, &self.device)?;
        let (carry, stats) = m.scaler().advance(&s.carry, &x, &w, self.bounds.as_ref())?;
        s.carry.weight.slice_set(&carry.weight, 0, 0)?;
        s.carry.value.slice_set(&carry.value, 0, 0)?;
        s.carry.m2.slice_set(&carry.m2, 0, 0)?;
        let loc = stats.loc.reshape((rows, v, 1))?;
        let scale = stats.scale.reshape((rows, v, 1))?;
        let scaled = s.next_patch.broadcast_sub(&loc)?.broadcast_div(&scale)?;

        // One patch through the transformer: open this step's cache slot, pick its rotary row.
        s.bias.scatter_set(&s.position.reshape((1, 1))?, &Tensor::zeros((1, 1), DType::F32, &self.device)?, 1)?;
        let rope = self.rope.select(&s.position)?;
        let mode = PassMode::Graph {
            cache: &s.cache,
            write_index: &s.kv_write_index,
            bias: &s.bias,
            upstream_sync_position: sync_position,
        };
        let mut taps = Taps::off();
        let hidden = m.transformer(&m.embed(&scaled)?, &rope, &self.space_bias, &mode, &mut taps)?;
        let params = m.head().forward(&m.unembed(&hidden, &mut taps)?, &mut taps)?;
        let patch = m.next_patch(&params, &loc, &scale, self.noise.as_ref())?;

        // Outputs and positions, written in place.
        s.output.scatter_set(&s.out_write_index, &patch, 2)?;
        s.next_patch.slice_set(&patch, 0, 0)?;
        advance(&s.position, &self.position_step)?;
        advance(&s.kv_write_index, &self.kv_index_step)?;
        advance(&s.out_write_index, &self.out_index_step)
    }

    /// The mean forecast in mean mode; the median over trajectories in sampling mode.
    fn finish(&mut self) -> Result<Forecast> {
        if self.options.decoding != Decoding::Mean {
            return Ok(self.finish_samples()?.median());
        }
        let trajectory = self.read_output()?.remove(0);
        let values =
            (0..self.options.prediction_length).map(|t| trajectory.iter().map(|row| row[t]).collect()).collect();
        Ok(Forecast { channels: self.channel_labels(), values })
    }
}
