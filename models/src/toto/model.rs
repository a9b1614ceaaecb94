//! The Toto backbone: scaler → patch embedding → transformer → unembed → mixture head.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::attention::{Attention, KvLayer, TimeContext};
use super::config::{AttentionAxis, TotoConfig};
use super::distribution::{MixtureHead, MixtureParams};
use super::layers::{linear, rms_norm, swiglu_mlp};
use super::rope::{rotate_half_matrix, RopeRows, XPos};
use super::scaler::{per_step, PatchScaler, ScaledSeries};
use super::taps::Taps;
use super::weights::{check_and_convert, random_weights, read_config, read_safetensors};
use crate::nn::{Linear, RmsNorm, SwiGlu};
use crate::Error;

/// One pre-norm transformer layer: `h = x + attn(norm1(x))`, `out = h + mlp(norm2(h))`.
#[derive(Debug, Clone)]
pub struct TransformerLayer {
    norm1: RmsNorm,
    norm2: RmsNorm,
    attention: Attention,
    mlp: SwiGlu,
    axis: AttentionAxis,
}

/// Key/value buffers of every time-wise layer plus the number of filled patches (host side,
/// used by the upstream-style cached path; the graph path keeps its position on the device).
#[derive(Debug, Clone)]
pub struct KvCache {
    pub layers: Vec<KvLayer>,
    pub len: usize,
    pub capacity: usize,
}

/// How the time-wise layers of one transformer pass see the past.
pub enum PassMode<'a> {
    Recompute,
    Cached(&'a KvCache),
    Graph {
        cache: &'a KvCache,
        write_index: &'a Tensor,
        bias: &'a Tensor,
        /// `Some(position)` re-creates upstream's host reads of the cache length (see
        /// `TotoGraphDecoder`); `None` in normal operation.
        upstream_sync_position: Option<&'a Tensor>,
    },
}

/// What one autoregressive call of the backbone returns for its last patch.
#[derive(Debug, Clone)]
pub struct CallOutput {
    /// Mixture parameters of the next patch's steps, `[batch, variates, patch, K]`.
    pub params: MixtureParams,
    /// Scaler statistics of the last input patch, `[batch, variates, 1]`: the affine map back.
    pub loc: Tensor,
    pub scale: Tensor,
    /// The whole series' scaler output (for the graph path's carry).
    pub scaled: ScaledSeries,
    /// Time steps covered by the transformer in this call.
    pub covered_steps: usize,
}

/// Everything a full forward computes, per time step.
#[derive(Debug, Clone)]
pub struct FullForward {
    pub params: MixtureParams,
    /// Per-step scaler statistics `[batch, variates, time]`.
    pub loc: Tensor,
    pub scale: Tensor,
    /// The mixture mean mapped back to the data scale, `[batch, variates, time]`.
    pub affine_mean: Tensor,
}

/// A Toto model on one device.
#[derive(Debug, Clone)]
pub struct Toto {
    config: TotoConfig,
    scaler: PatchScaler,
    patch_embed: Linear,
    layers: Vec<TransformerLayer>,
    unembed: Linear,
    head: MixtureHead,
    xpos: XPos,
    rotate_half: Tensor,
    num_parameters: usize,
    device: Device,
}

impl Toto {
    /// Builds the model from checkpoint tensors, checking every key and shape first.
    pub fn from_tensors(
        cfg: &TotoConfig,
        tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> std::result::Result<Self, Error> {
        cfg.validate()?;
        let tensors = check_and_convert(cfg, tensors, device)?;
        let num_parameters = tensors.values().map(Tensor::elem_count).sum();
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device).pp("model");
        let (d, p) = (cfg.embed_dim, cfg.patch_size);
        let layers = cfg
            .layer_axes()
            .into_iter()
            .enumerate()
            .map(|(i, axis)| {
                let vb = vb.pp("transformer").pp("layers").pp(i);
                Ok(TransformerLayer {
                    norm1: rms_norm(&vb.pp("norm1"), d)?,
                    norm2: rms_norm(&vb.pp("norm2"), d)?,
                    attention: Attention::load(vb.pp("attention"), d, cfg.num_heads)?,
                    mlp: swiglu_mlp(&vb.pp("mlp"), d, cfg.mlp_hidden_dim)?,
                    axis,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: cfg.clone(),
            scaler: PatchScaler::new(cfg, device)?,
            patch_embed: linear(&vb.pp("patch_embed").pp("projection"), p, d)?,
            layers,
            unembed: linear(&vb.pp("unembed"), d, d * p)?,
            head: MixtureHead::load(vb.pp("output_distribution"), d, cfg.k_components(), device)?,
            xpos: XPos::new(cfg.head_dim()),
            rotate_half: rotate_half_matrix(cfg.head_dim(), device)?,
            num_parameters,
            device: device.clone(),
        })
    }

    /// Loads an upstream checkpoint directory (`config.json` + `model.safetensors`), such as a
    /// download of `Datadog/Toto-Open-Base-1.0`.
    pub fn load(dir: &Path, device: &Device) -> std::result::Result<Self, Error> {
        let cfg = read_config(&dir.join("config.json"))?;
        Self::from_tensors(&cfg, read_safetensors(&dir.join("model.safetensors"))?, device)
    }

    /// A randomly initialised model (torch's default distributions, deterministic in `seed`).
    pub fn random(cfg: &TotoConfig, seed: u64, device: &Device) -> std::result::Result<Self, Error> {
        cfg.validate()?;
        Self::from_tensors(cfg, random_weights(cfg, seed, device)?, device)
    }

    pub fn config(&self) -> &TotoConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn num_parameters(&self) -> usize {
        self.num_parameters
    }

    pub(crate) fn scaler(&self) -> &PatchScaler {
        &self.scaler
    }

    pub(crate) fn head(&self) -> &MixtureHead {
        &self.head
    }

    pub(crate) fn xpos(&self) -> &XPos {
        &self.xpos
    }

    fn time_layer_count(&self) -> usize {
        self.layers.iter().filter(|l| l.axis == AttentionAxis::Time).count()
    }

    /// Zeroed key/value buffers for `rows` series (batch × variates) and `capacity` patches.
    pub fn kv_cache(&self, rows: usize, capacity: usize) -> Result<KvCache> {
        let (h, hd) = (self.config.num_heads, self.config.head_dim());
        let zeros = || Tensor::zeros((rows, h, capacity, hd), DType::F32, &self.device);
        let layers = (0..self.time_layer_count())
            .map(|_| Ok(KvLayer { keys: zeros()?, values: zeros()? }))
            .collect::<Result<Vec<_>>>()?;
        Ok(KvCache { layers, len: 0, capacity })
    }

    /// The additive space-wise mask `[batch·patches, 1, variates, variates]` from per-patch ids
    /// `[batch, variates, patches]` (f32): 0 within a group, -inf across groups.
    pub fn space_bias(ids: &Tensor) -> Result<Tensor> {
        let (b, v, n) = ids.dims3()?;
        let per_patch = ids.transpose(1, 2)?.contiguous()?;
        let same = per_patch.unsqueeze(3)?.broadcast_eq(&per_patch.unsqueeze(2)?)?;
        let zeros = Tensor::zeros((b, n, v, v), DType::F32, ids.device())?;
        let blocked = Tensor::full(f32::NEG_INFINITY, (b, n, v, v), ids.device())?;
        same.where_cond(&zeros, &blocked)?.reshape((b * n, 1, v, v))
    }

    /// Embeds `[batch, variates, patches·P]` scaled values into `[batch, variates, patches, D]`.
    pub fn embed(&self, scaled: &Tensor) -> Result<Tensor> {
        let (b, v, t) = scaled.dims3()?;
        let p = self.config.patch_size;
        self.patch_embed.forward(&scaled.reshape((b, v, t / p, p))?)
    }

    /// Runs every transformer layer over `x: [batch, variates, patches, D]`.
    pub fn transformer(
        &self,
        x: &Tensor,
        rope: &RopeRows,
        space_bias: &Tensor,
        mode: &PassMode,
        taps: &mut Taps,
    ) -> Result<Tensor> {
        let mut x = x.clone();
        let mut time_index = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            let name = format!("layer{i}");
            let normed = layer.norm1.forward(&x)?;
            taps.put(&name, "norm1", &normed);
            let attn = match layer.axis {
                AttentionAxis::Space => layer.attention.space_forward(&normed, space_bias)?,
                AttentionAxis::Time => {
                    let context = match mode {
                        PassMode::Recompute => TimeContext::Recompute,
                        PassMode::Cached(cache) => {
                            TimeContext::Cached { layer: &cache.layers[time_index], offset: cache.len }
                        }
                        PassMode::Graph { cache, write_index, bias, upstream_sync_position } => {
                            if let Some(position) = upstream_sync_position {
                                upstream_style_length_reads(position, cache.capacity)?;
                            }
                            TimeContext::Graph { layer: &cache.layers[time_index], write_index, bias }
                        }
                    };
                    time_index += 1;
                    layer.attention.time_forward(&normed, rope, &self.rotate_half, context, taps, &name)?
                }
            };
            taps.put(&name, "attn", &attn);
            let hidden = (&x + attn)?;
            let normed = layer.norm2.forward(&hidden)?;
            taps.put(&name, "norm2", &normed);
            let mlp = layer.mlp.forward(&normed)?;
            taps.put(&name, "mlp", &mlp);
            x = (hidden + mlp)?;
            taps.put(&name, "out", &x);
        }
        Ok(x)
    }

    /// Unembeds `[batch, variates, patches, D]` into per-step features `[.., patches·P, D]`.
    pub fn unembed(&self, hidden: &Tensor, taps: &mut Taps) -> Result<Tensor> {
        let (b, v, n, d) = hidden.dims4()?;
        let out = self.unembed.forward(hidden)?;
        taps.put("", "unembed", &out);
        let flat = out.reshape((b, v, n * self.config.patch_size, d))?;
        taps.put("", "unembed_flat", &flat);
        Ok(flat)
    }

    /// Per-patch ids `[batch, variates, patches]` from per-step ids `[batch, variates, time]`.
    fn patch_ids(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, v, t) = ids.dims3()?;
        let p = self.config.patch_size;
        ids.reshape((b, v, t / p, p))?.narrow(3, 0, 1)?.squeeze(3)?.contiguous()
    }

    /// Upstream's `forward` without a cache: every step's distribution for a series
    /// `[batch, variates, time]` (time a multiple of the patch), its padding mask (1/0) and
    /// per-step group ids (f32), with the global scale taken over the first `prefix_len` steps.
    pub fn forward(
        &self,
        series: &Tensor,
        padding: &Tensor,
        ids: &Tensor,
        prefix_len: usize,
        taps: &mut Taps,
    ) -> Result<FullForward> {
        let scaled = self.scaler.scale_series(series, padding, prefix_len)?;
        let p = self.config.patch_size;
        let (loc, scale) = (per_step(&scaled.loc, p)?, per_step(&scaled.scale, p)?);
        taps.put("scaler", "scaled", &scaled.scaled);
        taps.put("scaler", "loc", &loc);
        taps.put("scaler", "scale", &scale);
        let embedded = self.embed(&scaled.scaled)?;
        taps.put("", "patch_embed", &embedded);
        let n = embedded.dim(2)?;
        let rope = self.xpos.call_tables(0, n).upload(&self.device)?;
        let space_bias = Self::space_bias(&self.patch_ids(ids)?)?;
        let hidden = self.transformer(&embedded, &rope, &space_bias, &PassMode::Recompute, taps)?;
        let params = self.head.forward(&self.unembed(&hidden, taps)?, taps)?;
        let mean = params.mean()?;
        taps.put("dist", "mean", &mean);
        let affine_mean = mean.mul(&scale)?.add(&loc)?;
        taps.put("", "affine_mean", &affine_mean);
        Ok(FullForward { params, loc, scale, affine_mean })
    }

    /// One call of upstream's autoregressive loop: the scaler over the whole series, then the
    /// transformer over every patch (no cache) or over the patches after `cache.len` (which it
    /// appends to the cache), and the head over the last patch only.
    pub fn call(
        &self,
        series: &Tensor,
        padding: &Tensor,
        ids: &Tensor,
        prefix_len: usize,
        cache: Option<&mut KvCache>,
    ) -> Result<CallOutput> {
        let p = self.config.patch_size;
        let scaled = self.scaler.scale_series(series, padding, prefix_len)?;
        let (_, _, t) = series.dims3()?;
        let total = t / p;
        let start = cache.as_ref().map_or(0, |c| c.len);
        if start >= total {
            candle_core::bail!("the KV cache already holds {start} patches of a {total}-patch series");
        }
        let new = total - start;
        let embedded = self.embed(&scaled.scaled.narrow(2, start * p, new * p)?)?;
        let rope = self.xpos.call_tables(start, new).upload(&self.device)?;
        let space_bias = Self::space_bias(&self.patch_ids(&ids.narrow(2, start * p, new * p)?)?)?;
        let mut taps = Taps::off();
        let hidden = match cache {
            None => self.transformer(&embedded, &rope, &space_bias, &PassMode::Recompute, &mut taps)?,
            Some(cache) => {
                if start + new > cache.capacity {
                    candle_core::bail!("KV cache capacity {} exceeded by {} patches", cache.capacity, start + new);
                }
                let h = self.transformer(&embedded, &rope, &space_bias, &PassMode::Cached(cache), &mut taps)?;
                cache.len += new;
                h
            }
        };
        let last = hidden.narrow(2, new - 1, 1)?;
        let params = self.head.forward(&self.unembed(&last, &mut taps)?, &mut taps)?;
        let last_stat = |t: &Tensor| t.narrow(2, total - 1, 1)?.contiguous();
        Ok(CallOutput {
            params,
            loc: last_stat(&scaled.loc)?,
            scale: last_stat(&scaled.scale)?,
            scaled,
            covered_steps: new * p,
        })
    }
}

/// DELIBERATE HOST SYNCS, only in the opt-in upstream-syncs mode of the graph decoder: upstream's
/// `KVCache` reads its length back to the host in every time-wise layer (`seq_len` for the rotary
/// offset, `__getitem__` for the slice end), with `int(t.item())` or `int(t)`, both of which
/// wait for the GPU. The values only feed the bounds check upstream also makes; the results do
/// not depend on them. Under a CUDA graph capture candle refuses these reads (with its H2D guard)
/// or returns garbage (without it), which is what the probe demonstrates.
fn upstream_style_length_reads(position: &Tensor, capacity: usize) -> Result<()> {
    let offset = position.to_vec1::<u32>()?[0] as usize; // graphlint: ignore[GL801] -- deliberate, opt-in: upstream's `seq_len(layer_idx)`
    let end = position.to_vec1::<u32>()?[0] as usize + 1; // graphlint: ignore[GL801] -- deliberate, opt-in: upstream `__getitem__`'s `end_idx` after `append`
    if offset >= capacity || end > capacity {
        candle_core::bail!("max_seq_len exceeded: {end} > {capacity}");
    }
    Ok(())
}
