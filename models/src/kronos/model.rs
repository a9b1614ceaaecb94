//! `Kronos`, the decoder-only predictor: hierarchical (s1, s2) token embedding plus temporal
//! embedding, a stack of RoPE transformer blocks, an s1 head, and a dependency-aware layer that
//! conditions the s2 head on the chosen s1.

use std::path::Path;

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Embedding, Init, VarBuilder};

use super::blocks::{attend, causal_mask, rms_norm, Attention, Rotary, Trace, TransformerBlock};
use super::config::{KronosConfig, DEP_LAYER_HEADS};
use super::weights::{Checkpoint, SeededInit};
use super::{read_config, shared_rotary};
use crate::nn::{Linear, LinearInit, RmsNorm};

const INIT: LinearInit = LinearInit::XavierNormal;

fn embedding(vb: &VarBuilder, n: usize, d_model: usize) -> Result<Embedding> {
    let init = Init::Randn { mean: 0.0, stdev: (d_model as f64).powf(-0.5) };
    // The init hint is what a random-init source draws; a checkpoint ignores it.
    Ok(Embedding::new(vb.get_with_hints((n, d_model), "weight", init)?, d_model))
}

/// Upstream's `HierarchicalEmbedding`: `fusion_proj(cat(emb_s1(s1)·√d, emb_s2(s2)·√d))`.
#[derive(Debug, Clone)]
pub struct HierarchicalEmbedding {
    emb_s1: Embedding,
    emb_s2: Embedding,
    fusion_proj: Linear,
    scale: f64,
}

impl HierarchicalEmbedding {
    fn load(vb: &VarBuilder, c: &KronosConfig) -> Result<Self> {
        Ok(Self {
            emb_s1: embedding(&vb.pp("emb_s1"), c.s1_vocab(), c.d_model)?,
            emb_s2: embedding(&vb.pp("emb_s2"), c.s2_vocab(), c.d_model)?,
            fusion_proj: Linear::load(&vb.pp("fusion_proj"), 2 * c.d_model, c.d_model, true, INIT)?,
            scale: (c.d_model as f64).sqrt(),
        })
    }

    pub fn forward(&self, s1: &Tensor, s2: &Tensor) -> Result<Tensor> {
        let e1 = self.emb_s1.forward(s1)?.affine(self.scale, 0.0)?;
        let e2 = self.emb_s2.forward(s2)?.affine(self.scale, 0.0)?;
        self.fusion_proj.forward(&Tensor::cat(&[e1, e2], D::Minus1)?)
    }

    /// The unscaled s1 embedding: the dependency layer's queries.
    pub fn sibling(&self, s1: &Tensor) -> Result<Tensor> {
        self.emb_s1.forward(s1)
    }
}

/// Upstream's `TemporalEmbedding`: one table per calendar feature, summed.
#[derive(Debug, Clone)]
pub struct TemporalEmbedding {
    /// minute (60), hour (24), weekday (7), day (32), month (13): the stamp's column order.
    tables: [Embedding; 5],
}

impl TemporalEmbedding {
    const FEATURES: [(&'static str, usize); 5] =
        [("minute_embed", 60), ("hour_embed", 24), ("weekday_embed", 7), ("day_embed", 32), ("month_embed", 13)];

    fn load(vb: &VarBuilder, c: &KronosConfig) -> Result<Self> {
        let table = |i: usize| {
            let (name, n) = Self::FEATURES[i];
            // learn_te=False wraps a fixed sinusoidal table in a module, hence `.emb.weight`. Upstream's
            // `_init_weights` then overwrites it with the same normal init as the learned tables.
            let vb = if c.learn_te { vb.pp(name) } else { vb.pp(name).pp("emb") };
            embedding(&vb, n, c.d_model)
        };
        Ok(Self { tables: [table(0)?, table(1)?, table(2)?, table(3)?, table(4)?] })
    }

    /// `stamp`: `[b, t, 5]` float calendar features (truncated to integers as upstream's `.long()`).
    pub fn forward(&self, stamp: &Tensor) -> Result<Tensor> {
        let ids = stamp.to_dtype(DType::U32)?;
        let lookup = |i: usize| self.tables[i].forward(&ids.narrow(D::Minus1, i, 1)?.squeeze(D::Minus1)?.contiguous()?);
        let [minute, hour, weekday, day, month] = [lookup(0)?, lookup(1)?, lookup(2)?, lookup(3)?, lookup(4)?];
        // Upstream's summation order, for bitwise-equal rounding.
        (((hour + weekday)? + day)? + month)? + minute
    }
}

/// Upstream's `DependencyAwareLayer`: `RMSNorm(context + cross_attn(q=sibling, k=v=context))`,
/// never causal at inference.
#[derive(Debug, Clone)]
pub struct DependencyAwareLayer {
    pub(crate) cross_attn: Attention,
    pub(crate) norm: RmsNorm,
}

/// Which context rows the dependency layer's residual and s2 head run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    All,
    /// Only the last row, the only one generation reads; the others are unchanged by this choice.
    Last,
}

impl DependencyAwareLayer {
    fn load(vb: &VarBuilder, c: &KronosConfig) -> Result<Self> {
        Ok(Self {
            cross_attn: Attention::load(&vb.pp("cross_attn"), c.d_model, DEP_LAYER_HEADS, INIT)?,
            norm: rms_norm(&vb.pp("norm"), c.d_model)?,
        })
    }

    /// `hidden`: `[b, t, d]`; `sibling`: `[b, q, d]` with q = t (teacher forcing) or q = 1 (inference).
    ///
    /// Upstream sizes its RoPE table by the query length and applies it to queries and keys alike:
    /// positions `0..t` when q = t, position 0 (the identity) for every key when q = 1.
    pub fn forward(&self, hidden: &Tensor, sibling: &Tensor, rows: Rows) -> Result<Tensor> {
        let attn = &self.cross_attn;
        let (_, t, _) = hidden.dims3()?;
        let q_len = sibling.dim(1)?;
        let mut q = attn.split_heads(&attn.q_proj.forward(sibling)?)?;
        let mut k = attn.split_heads(&attn.k_proj.forward(hidden)?)?;
        let v = attn.split_heads(&attn.v_proj.forward(hidden)?)?;
        if q_len == t && q_len > 1 {
            let (cos, sin) = attn.rotary.tables(t, q.dtype(), q.device())?;
            q = candle_nn::rotary_emb::rope(&q, &cos, &sin)?;
            k = candle_nn::rotary_emb::rope(&k, &cos, &sin)?;
        } else if q_len != 1 {
            candle_core::bail!("dependency layer: {q_len} queries against {t} keys (upstream supports q = t or q = 1)");
        }
        let out = attn.out_proj.forward(&attn.merge_heads(&attend(&q, &k, &v, None)?)?)?;
        let (hidden, out) = match rows {
            Rows::All => (hidden.clone(), out),
            Rows::Last if q_len == 1 => (hidden.narrow(1, t - 1, 1)?, out),
            Rows::Last => (hidden.narrow(1, t - 1, 1)?, out.narrow(1, t - 1, 1)?),
        };
        self.norm.forward(&hidden.broadcast_add(&out)?)
    }
}

/// Everything the graph path's prefill needs from one forward over a window.
pub(crate) struct Prefill {
    /// Final-norm output `[b, n, d]`.
    pub context: Tensor,
    /// Per block: rotated keys and values, `[b, heads, n, head_dim]`.
    pub kv: Vec<(Tensor, Tensor)>,
}

#[derive(Debug, Clone)]
pub struct Kronos {
    config: KronosConfig,
    pub(crate) embedding: HierarchicalEmbedding,
    pub(crate) time_emb: TemporalEmbedding,
    pub(crate) transformer: Vec<TransformerBlock>,
    pub(crate) norm: RmsNorm,
    pub(crate) dep_layer: DependencyAwareLayer,
    pub(crate) proj_s1: Linear,
    pub(crate) proj_s2: Linear,
    /// One rotary table for all transformer blocks (checked equal at load).
    pub(crate) rotary: Rotary,
    dtype: DType,
    device: Device,
}

impl Kronos {
    /// Builds the predictor from `vb`, whose paths are upstream's state-dict keys.
    pub fn load(vb: VarBuilder, config: &KronosConfig) -> Result<Self> {
        config.validate()?;
        let c = config;
        let transformer = (0..c.n_layers)
            .map(|i| TransformerBlock::load(&vb.pp("transformer").pp(i), c.d_model, c.n_heads, c.ff_dim, INIT))
            .collect::<Result<Vec<_>>>()?;
        let rotary = shared_rotary(transformer.iter(), c.head_dim(), "predictor")?;
        let head = vb.pp("head");
        Ok(Self {
            embedding: HierarchicalEmbedding::load(&vb.pp("embedding"), c)?,
            time_emb: TemporalEmbedding::load(&vb.pp("time_emb"), c)?,
            norm: rms_norm(&vb.pp("norm"), c.d_model)?,
            dep_layer: DependencyAwareLayer::load(&vb.pp("dep_layer"), c)?,
            proj_s1: Linear::load(&head.pp("proj_s1"), c.d_model, c.s1_vocab(), true, INIT)?,
            proj_s2: Linear::load(&head.pp("proj_s2"), c.d_model, c.s2_vocab(), true, INIT)?,
            transformer,
            rotary,
            dtype: vb.dtype(),
            device: vb.device().clone(),
            config: config.clone(),
        })
    }

    /// Loads an upstream predictor folder (`config.json` + `model.safetensors`).
    pub fn from_dir(dir: impl AsRef<Path>, dtype: DType, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config: KronosConfig = read_config(&dir.join("config.json"))?;
        let vb = Checkpoint::from_safetensors(dir.join("model.safetensors"))?.into_var_builder(dtype, device);
        Self::load(vb, &config)
    }

    /// Seeded random init with upstream's `_init_weights` scheme.
    pub fn random(config: &KronosConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        Self::load(SeededInit::new(seed).into_var_builder(dtype, device), config)
    }

    pub fn config(&self) -> &KronosConfig {
        &self.config
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token plus temporal embedding, `[b, t, d]`.
    fn embed(&self, s1: &Tensor, s2: &Tensor, stamp: Option<&Tensor>, trace: &mut Trace) -> Result<Tensor> {
        let x = self.embedding.forward(s1, s2)?;
        trace.record(|| "embedding".into(), &x);
        match stamp {
            Some(stamp) => {
                let te = self.time_emb.forward(stamp)?;
                trace.record(|| "time_emb".into(), &te);
                x + te
            }
            None => Ok(x),
        }
    }

    /// The transformer stack and final norm over a whole window (RoPE positions `0..t`, causal).
    fn run_transformer(&self, mut x: Tensor, trace: &mut Trace) -> Result<Prefill> {
        let n = x.dim(1)?;
        let (cos, sin) = self.rotary.tables(n, self.dtype, &self.device)?;
        let mask = causal_mask(n, self.dtype, &self.device)?;
        let mut kv = Vec::with_capacity(self.transformer.len());
        for (i, block) in self.transformer.iter().enumerate() {
            let (y, k, v) = block.forward_full(&x, &cos, &sin, &mask)?;
            trace.record(|| format!("block{i}"), &y);
            kv.push((k, v));
            x = y;
        }
        let context = self.norm.forward(&x)?;
        trace.record(|| "norm".into(), &context);
        Ok(Prefill { context, kv })
    }

    /// Upstream's `decode_s1`: s1 logits `[b, t, 2^s1_bits]` (f32) and the context `[b, t, d]`.
    pub fn decode_s1(&self, s1: &Tensor, s2: &Tensor, stamp: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        self.decode_s1_impl(s1, s2, stamp, &mut Trace::off())
    }

    pub fn decode_s1_traced(
        &self,
        s1: &Tensor,
        s2: &Tensor,
        stamp: Option<&Tensor>,
    ) -> Result<((Tensor, Tensor), Trace)> {
        let mut trace = Trace::new();
        let out = self.decode_s1_impl(s1, s2, stamp, &mut trace)?;
        Ok((out, trace))
    }

    fn decode_s1_impl(
        &self,
        s1: &Tensor,
        s2: &Tensor,
        stamp: Option<&Tensor>,
        trace: &mut Trace,
    ) -> Result<(Tensor, Tensor)> {
        let x = self.embed(s1, s2, stamp, trace)?;
        let context = self.run_transformer(x, trace)?.context;
        let logits = self.proj_s1.forward(&context)?.to_dtype(DType::F32)?;
        trace.record(|| "s1_logits".into(), &logits);
        Ok((logits, context))
    }

    /// Upstream's `decode_s2`: s2 logits (f32) given the context and s1 ids `[b, q]`.
    pub fn decode_s2(&self, context: &Tensor, s1: &Tensor, rows: Rows) -> Result<Tensor> {
        let sibling = self.embedding.sibling(s1)?;
        self.proj_s2.forward(&self.dep_layer.forward(context, &sibling, rows)?)?.to_dtype(DType::F32)
    }

    /// Upstream's `forward(..., use_teacher_forcing=True)`: `(s1_logits, s2_logits)`.
    pub fn forward_teacher_forced(
        &self,
        s1: &Tensor,
        s2: &Tensor,
        stamp: Option<&Tensor>,
        s1_targets: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        self.forward_teacher_forced_impl(s1, s2, stamp, s1_targets, &mut Trace::off())
    }

    pub fn forward_teacher_forced_traced(
        &self,
        s1: &Tensor,
        s2: &Tensor,
        stamp: Option<&Tensor>,
        s1_targets: &Tensor,
    ) -> Result<((Tensor, Tensor), Trace)> {
        let mut trace = Trace::new();
        let out = self.forward_teacher_forced_impl(s1, s2, stamp, s1_targets, &mut trace)?;
        Ok((out, trace))
    }

    fn forward_teacher_forced_impl(
        &self,
        s1: &Tensor,
        s2: &Tensor,
        stamp: Option<&Tensor>,
        s1_targets: &Tensor,
        trace: &mut Trace,
    ) -> Result<(Tensor, Tensor)> {
        let (s1_logits, context) = self.decode_s1_impl(s1, s2, stamp, trace)?;
        let sibling = self.embedding.sibling(s1_targets)?;
        trace.record(|| "sibling".into(), &sibling);
        let x2 = self.dep_layer.forward(&context, &sibling, Rows::All)?;
        trace.record(|| "dep_layer".into(), &x2);
        let s2_logits = self.proj_s2.forward(&x2)?.to_dtype(DType::F32)?;
        trace.record(|| "s2_logits".into(), &s2_logits);
        Ok((s1_logits, s2_logits))
    }

    /// The graph path's prefill: one forward over a window, keeping every block's keys and values.
    pub(crate) fn prefill(&self, s1: &Tensor, s2: &Tensor, time_rows: &Tensor) -> Result<Prefill> {
        let x = self.embedding.forward(s1, s2)?.broadcast_add(time_rows)?;
        self.run_transformer(x, &mut Trace::off())
    }

    /// Dependency-layer keys and values of context rows `[b, n, d]` (no RoPE: at inference upstream
    /// rotates every key by position 0).
    pub(crate) fn dep_kv(&self, context: &Tensor) -> Result<(Tensor, Tensor)> {
        let attn = &self.dep_layer.cross_attn;
        Ok((attn.split_heads(&attn.k_proj.forward(context)?)?, attn.split_heads(&attn.v_proj.forward(context)?)?))
    }
}
