//! Time-wise and space-wise multi-head attention with upstream's fused QKV projection.
//!
//! `wQKV` produces `3·D` features laid out as `(qkv, head_dim, heads)`: heads are the *innermost*
//! factor, unlike the usual `(qkv, heads, head_dim)`. The attention output goes back through
//! `wO` in the ordinary `(heads, head_dim)` order.

use candle_core::{Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::layers::linear;
use super::rope::{apply_xpos, RopeRows};
use super::taps::Taps;
use crate::nn::Linear;

/// One time-wise layer's key/value buffers, `[batch·variates, heads, capacity, head_dim]`.
#[derive(Debug, Clone)]
pub struct KvLayer {
    pub keys: Tensor,
    pub values: Tensor,
}

/// How a time-wise layer sees earlier patches.
pub enum TimeContext<'a> {
    /// No cache: the call holds the whole sequence, attention is causal (the recompute path).
    Recompute,
    /// Upstream's cache: this call's keys/values go to `offset..offset + len` (a host value);
    /// a prefill (`offset == 0`) is causal, a decode call attends to everything cached.
    Cached { layer: &'a KvLayer, offset: usize },
    /// The graph path: one patch, written at the device-resident index `write_index`
    /// (`u32`, shaped like the keys it writes), attending over the whole buffer with the additive
    /// `bias` (`[1, capacity]`: 0 for filled slots, -inf for empty ones).
    Graph { layer: &'a KvLayer, write_index: &'a Tensor, bias: &'a Tensor },
}

#[derive(Debug, Clone)]
pub struct Attention {
    wqkv: Linear,
    wo: Linear,
    heads: usize,
    head_dim: usize,
}

/// `[len, len]` additive mask: 0 on and below the diagonal, -inf above.
pub fn causal_bias(len: usize, device: &Device) -> Result<Tensor> {
    let data: Vec<f32> = (0..len * len).map(|i| if i % len > i / len { f32::NEG_INFINITY } else { 0.0 }).collect();
    Tensor::from_vec(data, (len, len), device) // graphlint: ignore[GL804] -- recompute and prefill only; graph mode masks with its preallocated bias
}

/// `softmax(q kᵀ / sqrt(d) + bias) v`.
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let head_dim = q.dim(3)?;
    let mut scores = (q.matmul(&k.t()?)? * (1.0 / (head_dim as f64).sqrt()))?;
    if let Some(bias) = bias {
        scores = scores.broadcast_add(bias)?;
    }
    candle_nn::ops::softmax_last_dim(&scores)?.matmul(v)
}

impl Attention {
    pub fn load(vb: VarBuilder, dim: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            wqkv: linear(&vb.pp("wQKV"), dim, 3 * dim)?,
            wo: linear(&vb.pp("wO"), dim, dim)?,
            heads,
            head_dim: dim / heads,
        })
    }

    pub fn heads(&self) -> usize {
        self.heads
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// `[n, len, D]` → q, k, v, each `[n, heads, len, head_dim]` and contiguous.
    fn qkv(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (n, len, _) = x.dims3()?;
        let qkv = self
            .wqkv
            .forward(x)?
            .reshape((n, len, 3, self.head_dim, self.heads))?
            .permute((2, 0, 4, 1, 3))?
            .contiguous()?;
        Ok((qkv.get(0)?, qkv.get(1)?, qkv.get(2)?))
    }

    /// Causal attention along time for `x: [batch, variates, len, D]`.
    pub fn time_forward(
        &self,
        x: &Tensor,
        rope: &RopeRows,
        rotate: &Tensor,
        context: TimeContext,
        taps: &mut Taps,
        name: &str,
    ) -> Result<Tensor> {
        let (b, v, len, d) = x.dims4()?;
        let (q, k, val) = self.qkv(&x.reshape((b * v, len, d))?)?;
        taps.put(name, "q", &q);
        taps.put(name, "k", &k);
        taps.put(name, "v", &val);
        let q = apply_xpos(&q, &rope.cos, &rope.sin, &rope.q_scale, rotate)?;
        let k = apply_xpos(&k, &rope.cos, &rope.sin, &rope.k_scale, rotate)?;
        taps.put(name, "q_rot", &q);
        taps.put(name, "k_rot", &k);
        let out = match context {
            TimeContext::Recompute => attend(&q, &k, &val, Some(&causal_bias(len, x.device())?))?,
            TimeContext::Cached { layer, offset } => {
                layer.keys.slice_set(&k, 2, offset)?;
                layer.values.slice_set(&val, 2, offset)?;
                let filled = offset + len;
                let keys = layer.keys.narrow(2, 0, filled)?.contiguous()?;
                let values = layer.values.narrow(2, 0, filled)?.contiguous()?;
                if offset == 0 {
                    attend(&q, &keys, &values, Some(&causal_bias(len, x.device())?))?
                } else if len == 1 {
                    attend(&q, &keys, &values, None)?
                } else {
                    candle_core::bail!("with a KV cache, decode one patch at a time (got {len} after {offset})")
                }
            }
            TimeContext::Graph { layer, write_index, bias } => {
                layer.keys.scatter_set(write_index, &k, 2)?;
                layer.values.scatter_set(write_index, &val, 2)?;
                attend(&q, &layer.keys, &layer.values, Some(bias))?
            }
        };
        let out = out.permute((0, 2, 1, 3))?.contiguous()?.reshape((b, v, len, d))?;
        self.wo.forward(&out)
    }

    /// Bidirectional attention across variates for `x: [batch, variates, len, D]`, with the
    /// additive `bias: [batch·len, 1, variates, variates]` of the `id_mask` groups.
    pub fn space_forward(&self, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (b, v, len, d) = x.dims4()?;
        let per_step = x.transpose(1, 2)?.contiguous()?.reshape((b * len, v, d))?;
        let (q, k, val) = self.qkv(&per_step)?;
        let out = attend(&q, &k, &val, Some(bias))?
            .reshape((b, len, self.heads, v, self.head_dim))?
            .permute((0, 3, 1, 2, 4))?
            .contiguous()?
            .reshape((b, v, len, d))?;
        self.wo.forward(&out)
    }
}
