//! The building blocks shared by the tokenizer and the predictor: upstream's RMSNorm and SwiGLU
//! feed-forward (on [`crate::nn`]'s layers), rotary self-attention and the pre-norm transformer
//! block, the last two in two forms:
//! - a full-sequence forward (causal, as upstream's `forward`), used by the tokenizer, by the
//!   reference generation path and by the graph path's prefill;
//! - a one-token step against preallocated KV buffers, used by the graph path's decode step. Its
//!   shapes and kernel arguments are the same at every step (see `generation::graph`).

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

use crate::nn::{Linear, LinearInit, RmsNorm, SwiGlu};

/// Named intermediate tensors of a forward pass, for parity tests and debugging.
#[derive(Debug, Default)]
pub struct Trace {
    enabled: bool,
    entries: Vec<(String, Tensor)>,
}

impl Trace {
    /// A trace that records.
    pub fn new() -> Self {
        Self { enabled: true, entries: Vec::new() }
    }

    /// A trace that records nothing (the normal forward).
    pub fn off() -> Self {
        Self::default()
    }

    pub(crate) fn record(&mut self, name: impl FnOnce() -> String, t: &Tensor) {
        if self.enabled {
            self.entries.push((name(), t.clone()));
        }
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }
}

/// Upstream's `RMSNorm`: eps 1e-5, weight named `weight`.
pub(crate) fn rms_norm(vb: &VarBuilder, dim: usize) -> Result<RmsNorm> {
    RmsNorm::load(vb, dim, "weight", 1e-5)
}

/// Upstream's `FeedForward`: `w2(silu(w1 x) * w3 x)`, no biases.
fn feed_forward(vb: &VarBuilder, d_model: usize, ff_dim: usize, init: LinearInit) -> Result<SwiGlu> {
    let w1 = Linear::load(&vb.pp("w1"), d_model, ff_dim, false, init)?;
    let w2 = Linear::load(&vb.pp("w2"), ff_dim, d_model, false, init)?;
    let w3 = Linear::load(&vb.pp("w3"), d_model, ff_dim, false, init)?;
    Ok(SwiGlu::separate(w1, w3, w2))
}

/// The rotary embedding of one attention module: `inv_freq` as upstream computes it
/// (`1 / 10000^(2i/dim)` in f32), or as the checkpoint stores it (upstream registers it as a
/// persistent buffer, so a loaded model uses the stored values).
#[derive(Debug, Clone, PartialEq)]
pub struct Rotary {
    inv_freq: Vec<f32>,
}

impl Rotary {
    pub(crate) fn load(vb: &VarBuilder, head_dim: usize) -> Result<Self> {
        let half = head_dim / 2;
        if vb.contains_tensor("inv_freq") {
            let stored = vb.get_with_hints_dtype(half, "inv_freq", Init::Const(0.0), DType::F32)?;
            return Ok(Self { inv_freq: stored.to_vec1::<f32>()? });
        }
        Ok(Self::upstream(head_dim))
    }

    /// `1 / 10000^(2i/head_dim)` in f32, as upstream's constructor.
    pub fn upstream(head_dim: usize) -> Self {
        let inv_freq = (0..head_dim / 2).map(|i| 1.0f32 / 10000f32.powf((2 * i) as f32 / head_dim as f32)).collect();
        Self { inv_freq }
    }

    pub fn inv_freq(&self) -> &[f32] {
        &self.inv_freq
    }

    /// cos and sin of positions `0..n`, each `[n, head_dim/2]` (the duplicated half of upstream's
    /// `cat(freqs, freqs)` is implied by candle's `rope` kernel).
    pub fn tables(&self, n: usize, dtype: DType, device: &Device) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(n * half);
        let mut sin = Vec::with_capacity(n * half);
        for t in 0..n {
            for &f in &self.inv_freq {
                let angle = t as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        // The eager reference path rebuilds its tables per call; the graph path builds them once.
        let cos = Tensor::from_vec(cos, (n, half), device)?.to_dtype(dtype)?; // graphlint: ignore[GL804] -- eager reference path only
        let sin = Tensor::from_vec(sin, (n, half), device)?.to_dtype(dtype)?; // graphlint: ignore[GL804] -- eager reference path only
        Ok((cos, sin))
    }
}

/// `[n, n]` additive mask: 0 on and below the diagonal, -inf above (`is_causal=True`).
pub(crate) fn causal_mask(n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> =
        (0..n).flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(mask, (n, n), device)?.to_dtype(dtype)
}

/// softmax(q kᵀ / √d + mask) v over `[b, h, t, d]` tensors. `mask` broadcasts to the scores.
pub(crate) fn attend(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let scale = 1.0 / (q.dim(D::Minus1)? as f64).sqrt();
    let scores = q.matmul(&k.t()?)?.affine(scale, 0.0)?;
    let scores = match mask {
        Some(m) => scores.broadcast_add(m)?,
        None => scores,
    };
    candle_nn::ops::softmax_last_dim(&scores)?.matmul(v)
}

/// Upstream's `MultiHeadAttentionWithRoPE` / `MultiHeadCrossAttentionWithRoPE` projections.
#[derive(Debug, Clone)]
pub struct Attention {
    pub(crate) q_proj: Linear,
    pub(crate) k_proj: Linear,
    pub(crate) v_proj: Linear,
    pub(crate) out_proj: Linear,
    pub(crate) rotary: Rotary,
    n_heads: usize,
    head_dim: usize,
}

impl Attention {
    pub(crate) fn load(vb: &VarBuilder, d_model: usize, n_heads: usize, init: LinearInit) -> Result<Self> {
        let head_dim = d_model / n_heads;
        Ok(Self {
            q_proj: Linear::load(&vb.pp("q_proj"), d_model, d_model, true, init)?,
            k_proj: Linear::load(&vb.pp("k_proj"), d_model, d_model, true, init)?,
            v_proj: Linear::load(&vb.pp("v_proj"), d_model, d_model, true, init)?,
            out_proj: Linear::load(&vb.pp("out_proj"), d_model, d_model, true, init)?,
            rotary: Rotary::load(&vb.pp("rotary"), head_dim)?,
            n_heads,
            head_dim,
        })
    }

    /// `[b, t, d_model]` → `[b, heads, t, head_dim]`, contiguous.
    pub(crate) fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        if t == 1 {
            // Same memory order either way: no copy.
            return x.reshape((b, self.n_heads, 1, self.head_dim));
        }
        x.reshape((b, t, self.n_heads, self.head_dim))?.transpose(1, 2)?.contiguous()
    }

    /// `[b, heads, t, head_dim]` → `[b, t, d_model]`.
    pub(crate) fn merge_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, t, _) = x.dims4()?;
        if t == 1 {
            return x.reshape((b, 1, self.n_heads * self.head_dim));
        }
        x.transpose(1, 2)?.contiguous()?.reshape((b, t, self.n_heads * self.head_dim))
    }

    /// Causal self-attention over a whole sequence with RoPE at positions `0..t`.
    /// Returns the output and the rotated keys and values (what a KV cache holds).
    pub(crate) fn forward_full(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let q = candle_nn::rotary_emb::rope(&self.split_heads(&self.q_proj.forward(x)?)?, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&self.split_heads(&self.k_proj.forward(x)?)?, cos, sin)?;
        let v = self.split_heads(&self.v_proj.forward(x)?)?;
        let out = attend(&q, &k, &v, Some(mask))?;
        Ok((self.out_proj.forward(&self.merge_heads(&out)?)?, k, v))
    }
}

/// Where a one-token step's keys and values go, and which cached positions it may attend to.
pub(crate) struct StepKv<'a> {
    /// `[b, heads, max_context, head_dim]` buffers, written in place.
    pub k_cache: &'a Tensor,
    pub v_cache: &'a Tensor,
    /// `[b, heads, 1, head_dim]` u32, every entry the current position: the scatter index.
    pub write_ids: &'a Tensor,
    pub visible: &'a Visible,
}

/// The cached positions a step attends to.
#[derive(Debug, Clone)]
pub(crate) enum Visible {
    /// All `max_context` slots, with an additive `[1, 1, 1, max_context]` mask that is -inf past
    /// the current position. Same shapes at every step.
    Masked(Tensor),
    /// The first `n` slots, `n` read back from the device: upstream-style dynamic shapes.
    Prefix(usize),
}

impl Visible {
    pub(crate) fn attend(&self, q: &Tensor, k_cache: &Tensor, v_cache: &Tensor) -> Result<Tensor> {
        match self {
            Visible::Masked(mask) => attend(q, k_cache, v_cache, Some(mask)),
            Visible::Prefix(n) => attend(q, &k_cache.narrow(2, 0, *n)?, &v_cache.narrow(2, 0, *n)?, None),
        }
    }
}

/// Upstream's pre-norm `TransformerBlock`.
#[derive(Debug, Clone)]
pub struct TransformerBlock {
    norm1: RmsNorm,
    pub(crate) self_attn: Attention,
    norm2: RmsNorm,
    ffn: SwiGlu,
}

impl TransformerBlock {
    pub(crate) fn load(
        vb: &VarBuilder,
        d_model: usize,
        n_heads: usize,
        ff_dim: usize,
        init: LinearInit,
    ) -> Result<Self> {
        Ok(Self {
            norm1: rms_norm(&vb.pp("norm1"), d_model)?,
            self_attn: Attention::load(&vb.pp("self_attn"), d_model, n_heads, init)?,
            norm2: rms_norm(&vb.pp("norm2"), d_model)?,
            ffn: feed_forward(&vb.pp("ffn"), d_model, ff_dim, init)?,
        })
    }

    /// Whole-sequence forward; also returns this block's rotated keys and values.
    pub(crate) fn forward_full(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (attn, k, v) = self.self_attn.forward_full(&self.norm1.forward(x)?, cos, sin, mask)?;
        let x = (x + attn)?;
        let x = (&x + self.ffn.forward(&self.norm2.forward(&x)?)?)?;
        Ok((x, k, v))
    }

    /// One new token `[b, 1, d]` whose RoPE row is `cos`/`sin` (`[1, head_dim/2]`): writes its key
    /// and value into the caches at the current position, then attends over the visible slots.
    pub(crate) fn step(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, kv: &StepKv) -> Result<Tensor> {
        let attn = &self.self_attn;
        let h = self.norm1.forward(x)?;
        let q = candle_nn::rotary_emb::rope(&attn.split_heads(&attn.q_proj.forward(&h)?)?, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&attn.split_heads(&attn.k_proj.forward(&h)?)?, cos, sin)?;
        let v = attn.split_heads(&attn.v_proj.forward(&h)?)?;
        kv.k_cache.scatter_set(kv.write_ids, &k, 2)?;
        kv.v_cache.scatter_set(kv.write_ids, &v, 2)?;
        let out = kv.visible.attend(&q, kv.k_cache, kv.v_cache)?;
        let x = (x + attn.out_proj.forward(&attn.merge_heads(&out)?)?)?;
        &x + self.ffn.forward(&self.norm2.forward(&x)?)?
    }
}
