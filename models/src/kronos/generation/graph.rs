//! The graph path: a decode step with the same kernels, shapes and kernel arguments at every step,
//! so that one captured CUDA graph can replay all of them.
//!
//! # State (all allocated at construction, updated in place)
//! - per block, key and value buffers `[samples, heads, max_context, head_dim]`, and the same for
//!   the dependency layer (its keys and values are projections of the final-norm context rows);
//! - `pos`: `[1]` u32, window position of the token fed this step; `abs`: `[1]` u32, its index in
//!   the whole sequence (for its calendar features and where the drawn token is stored);
//! - `cur_s1`/`cur_s2`: `[samples]` the token fed this step (the previous step's draw);
//! - `tokens_s1`/`tokens_s2`: `[samples, context + steps]` the whole sequence, for the final decode;
//! - `noise_s1`/`noise_s2`: Gumbel noise, refilled by `prepare_step`;
//! - `last_s1_logits`/`last_s2_logits`: the step's logits, copied out for inspection.
//!
//! # One step
//! Embed `cur` (+ the calendar row `abs`), then per block: RoPE with the cos/sin row `pos`
//! (`index_select` by the device index), write k and v at slot `pos` with `scatter_set` (device
//! index), attend over all `max_context` slots with an additive mask that is -inf past `pos`.
//! Then the s1 head and draw, the dependency layer's key and value for this row written at `pos`,
//! one dependency query (the drawn s1's embedding) over the slots up to `pos`, the s2 head and
//! draw. Finally the draws are stored at `abs + 1` (`scatter_set`) and into `cur` (`slice_set` at
//! offset 0), and `pos ← min(pos + 1, max_context - 1)`, `abs ← abs + 1`, all on the device.
//! Nothing is read back and nothing is uploaded; the only host-side offsets (`slice_set` at 0) are
//! the same every step.
//!
//! # Sliding window (exact)
//! Upstream feeds the last `max_context` tokens with RoPE positions restarting at 0, so once the
//! window slides, every hidden state changes at every step: no cache can carry over. The graph
//! path therefore recomputes the window at each slid step, in `prepare_step` (outside any capture):
//! a prefill of the window's first `max_context - 1` tokens into slots `0..max_context - 1`; the
//! captured step then handles the last token at slot `max_context - 1` exactly as before. The
//! result equals upstream's sliding window; a slid step costs a full window forward, as upstream.
//! While `context + steps - 1 <= max_context` the window never slides and `prepare_step` only
//! refills the noise.
//!
//! # CUDA notes
//! Everything in `step` is contiguous except small broadcasts (mask, scatter indices, bias adds),
//! whose kernels upload dims and strides: under capture this needs candle's h2d cache guard
//! (`enable_cuda_graph_htod_cache`) and one eager step with the guard alive before capture, so
//! the cache holds them. `index_select` uploads its index dims and strides in all cases, likewise
//! cached. cuBLAS matmuls allocate workspace inside the capture, which is allowed.

use candle_core::{DType, Device, Result, Tensor};

use crate::graph::{Forecast, GraphDecoder};
use crate::kronos::blocks::{StepKv, Visible};
use crate::kronos::config::DEP_LAYER_HEADS;
use crate::kronos::data::ForecastInput;
use crate::kronos::predictor::{Decoded, KronosPredictor};
use crate::kronos::sampling::{Head, NoiseSource, Sampler, SamplingParams};

/// Construction flags of [`GraphGenerator`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphOptions {
    /// Reproduce upstream's host syncs: each step reads the window position back to the host
    /// (`to_vec1`) and attends over that many slots (a shape that changes every step), as a naive
    /// port that keeps upstream's `window_len` bookkeeping would. For demonstrating that the probe
    /// catches syncs; such a step cannot be captured. Off by default.
    pub upstream_syncs: bool,
}

pub struct GraphGenerator {
    predictor: KronosPredictor,
    input: ForecastInput,
    options: GraphOptions,
    sampler: Sampler,
    noise: NoiseSource,
    rows: usize,
    context_len: usize,
    max_context: usize,

    // Constants.
    /// `[rows, context]` encoded context.
    ctx_s1: Tensor,
    ctx_s2: Tensor,
    /// `[context + steps, d_model]` temporal embedding of every position.
    time_rows: Tensor,
    /// `[max_context, head_dim / 2]` RoPE tables.
    cos: Tensor,
    sin: Tensor,
    /// `[max_context]` u32 0..max_context, and the mask values (model dtype).
    slots: Tensor,
    masked: Tensor,
    unmasked: Tensor,
    /// `[1]` u32: 1 and max_context - 1.
    one: Tensor,
    last_slot: Tensor,

    // State, updated in place.
    pos: Tensor,
    abs: Tensor,
    cur_s1: Tensor,
    cur_s2: Tensor,
    tokens_s1: Tensor,
    tokens_s2: Tensor,
    k_cache: Vec<Tensor>,
    v_cache: Vec<Tensor>,
    dep_k: Tensor,
    dep_v: Tensor,
    noise_s1: Tensor,
    noise_s2: Tensor,
    last_s1_logits: Tensor,
    last_s2_logits: Tensor,
}

/// `[samples][steps]` token ids, read back to the host.
pub type IdRows = Vec<Vec<u32>>;

fn set_u32(t: &Tensor, value: usize) -> Result<()> {
    t.slice_set(&Tensor::new(&[value as u32], t.device())?, 0, 0)
}

impl GraphGenerator {
    /// Builds the buffers on the predictor's device (the one its caller chose), encodes the
    /// context and prefills: the decoder is ready for `prepare_step(0)`.
    pub fn new(
        predictor: &KronosPredictor,
        input: &ForecastInput,
        params: &SamplingParams,
        options: GraphOptions,
    ) -> Result<Self> {
        predictor.check_input(input)?;
        let model = &predictor.model;
        let cfg = model.config();
        let dev = predictor.device().clone();
        let dtype = model.dtype();
        let rows = params.sample_count;
        let m = predictor.max_context;
        let (t, p) = (input.context_len(), input.pred_len());
        let heads = cfg.n_heads;

        let (ctx_s1, ctx_s2) = predictor.encode_context(input, rows)?;
        let (_, stamps) = predictor.input_tensors(input)?;
        let time_rows = model.time_emb.forward(&stamps)?.squeeze(0)?.contiguous()?;
        let (cos, sin) = model.rotary.tables(m, dtype, &dev)?;
        let cache = |h: usize, hd: usize| Tensor::zeros((rows, h, m, hd), dtype, &dev);
        let u32s = |n: usize| Tensor::zeros(n, DType::U32, &dev);
        let mut this = Self {
            sampler: Sampler::new(params, &dev)?,
            noise: NoiseSource::new(params.seed),
            rows,
            context_len: t,
            max_context: m,
            ctx_s1,
            ctx_s2,
            time_rows,
            cos,
            sin,
            slots: Tensor::arange(0u32, m as u32, &dev)?,
            masked: Tensor::full(f32::NEG_INFINITY, m, &dev)?.to_dtype(dtype)?,
            unmasked: Tensor::zeros(m, dtype, &dev)?,
            one: Tensor::new(&[1u32], &dev)?,
            last_slot: Tensor::new(&[(m - 1) as u32], &dev)?,
            pos: u32s(1)?,
            abs: u32s(1)?,
            cur_s1: u32s(rows)?,
            cur_s2: u32s(rows)?,
            tokens_s1: Tensor::zeros((rows, t + p), DType::U32, &dev)?,
            tokens_s2: Tensor::zeros((rows, t + p), DType::U32, &dev)?,
            k_cache: (0..cfg.n_layers).map(|_| cache(heads, cfg.head_dim())).collect::<Result<_>>()?,
            v_cache: (0..cfg.n_layers).map(|_| cache(heads, cfg.head_dim())).collect::<Result<_>>()?,
            dep_k: cache(DEP_LAYER_HEADS, cfg.dep_head_dim())?,
            dep_v: cache(DEP_LAYER_HEADS, cfg.dep_head_dim())?,
            noise_s1: Tensor::zeros((rows, cfg.s1_vocab()), DType::F32, &dev)?,
            noise_s2: Tensor::zeros((rows, cfg.s2_vocab()), DType::F32, &dev)?,
            last_s1_logits: Tensor::zeros((rows, cfg.s1_vocab()), DType::F32, &dev)?,
            last_s2_logits: Tensor::zeros((rows, cfg.s2_vocab()), DType::F32, &dev)?,
            predictor: predictor.clone(),
            input: input.clone(),
            options,
        };
        this.reset()?;
        Ok(this)
    }

    /// Runs the window `tokens[start..start + len]` at positions `0..len` and writes its keys and
    /// values into slots `0..len` of every buffer.
    fn prefill_window(&mut self, start: usize, len: usize) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let model = &self.predictor.model;
        let s1 = self.tokens_s1.narrow(1, start, len)?.contiguous()?;
        let s2 = self.tokens_s2.narrow(1, start, len)?.contiguous()?;
        let prefill = model.prefill(&s1, &s2, &self.time_rows.narrow(0, start, len)?)?;
        for ((k, v), (k_cache, v_cache)) in prefill.kv.iter().zip(self.k_cache.iter().zip(&self.v_cache)) {
            k_cache.slice_set(k, 2, 0)?;
            v_cache.slice_set(v, 2, 0)?;
        }
        let (dk, dv) = model.dep_kv(&prefill.context)?;
        self.dep_k.slice_set(&dk, 2, 0)?;
        self.dep_v.slice_set(&dv, 2, 0)
    }

    /// Window start when the sequence holds `len` tokens.
    fn window_start(&self, len: usize) -> usize {
        len.saturating_sub(self.max_context)
    }

    /// The slots this step attends to. In upstream-syncs mode this reads the position back.
    fn visible_slots(&self) -> Result<Visible> {
        if self.options.upstream_syncs {
            // The deliberate device-to-host read, opt-in, for demonstrating the probe's sync tracer.
            let pos = self.pos.to_vec1::<u32>()?[0] as usize; // graphlint: ignore[GL801] -- deliberate, opt-in upstream-syncs mode: the probe must catch this sync
            return Ok(Visible::Prefix(pos + 1));
        }
        let after = self.slots.broadcast_gt(&self.pos)?;
        let mask = after.where_cond(&self.masked, &self.unmasked)?;
        Ok(Visible::Masked(mask.reshape((1, 1, 1, self.max_context))?))
    }

    /// `pos` broadcast to `[rows, heads, 1, head_dim]`: the scatter index of a one-token write.
    fn slot_index(&self, heads: usize, head_dim: usize) -> Result<Tensor> {
        self.pos.reshape((1, 1, 1, 1))?.broadcast_as((self.rows, heads, 1, head_dim))?.contiguous()
    }

    /// The whole sequences of ids, `[samples, context + steps]` (generated ids after `context`).
    pub fn tokens(&self) -> (&Tensor, &Tensor) {
        (&self.tokens_s1, &self.tokens_s2)
    }

    /// The last step's `[samples, V]` s1 and s2 logits (before temperature and filtering).
    pub fn last_logits(&self) -> (&Tensor, &Tensor) {
        (&self.last_s1_logits, &self.last_s2_logits)
    }

    /// The generated ids, `[samples][steps]` each. Syncs.
    pub fn generated_ids(&self) -> Result<(IdRows, IdRows)> {
        let p = self.input.pred_len();
        let take = |t: &Tensor| t.narrow(1, self.context_len, p)?.to_vec2::<u32>();
        Ok((take(&self.tokens_s1)?, take(&self.tokens_s2)?))
    }

    /// The final decode with its intermediate values. Syncs.
    pub fn finish_decoded(&self) -> Result<Decoded> {
        self.predictor.finalize(&self.tokens_s1, &self.tokens_s2, &self.input)
    }

    /// Every buffer the step writes: a step must update them in place, never replace them (a graph
    /// replays the addresses it captured).
    pub fn state_buffers(&self) -> Vec<&Tensor> {
        let mut all = vec![&self.pos, &self.abs, &self.cur_s1, &self.cur_s2, &self.tokens_s1, &self.tokens_s2];
        all.extend(self.k_cache.iter().chain(&self.v_cache));
        all.extend([
            &self.dep_k,
            &self.dep_v,
            &self.noise_s1,
            &self.noise_s2,
            &self.last_s1_logits,
            &self.last_s2_logits,
        ]);
        all
    }

    pub fn options(&self) -> GraphOptions {
        self.options
    }
}

impl GraphDecoder for GraphGenerator {
    fn device(&self) -> &Device {
        self.predictor.device()
    }

    fn num_steps(&self) -> usize {
        self.input.pred_len()
    }

    fn reset(&mut self) -> Result<()> {
        let t = self.context_len;
        for (tokens, ctx) in [(&self.tokens_s1, &self.ctx_s1), (&self.tokens_s2, &self.ctx_s2)] {
            tokens.zero_set()?;
            tokens.slice_set(ctx, 1, 0)?;
        }
        self.cur_s1.slice_set(&self.ctx_s1.narrow(1, t - 1, 1)?.squeeze(1)?.contiguous()?, 0, 0)?;
        self.cur_s2.slice_set(&self.ctx_s2.narrow(1, t - 1, 1)?.squeeze(1)?.contiguous()?, 0, 0)?;
        // Step 0 feeds token t-1; the tokens before it, within the window, are prefilled.
        let start = self.window_start(t);
        self.prefill_window(start, t - 1 - start)?;
        set_u32(&self.pos, t - 1 - start)?;
        set_u32(&self.abs, t - 1)?;
        self.last_s1_logits.zero_set()?;
        self.last_s2_logits.zero_set()
    }

    fn prepare_step(&mut self, i: usize) -> Result<()> {
        if i >= self.num_steps() {
            candle_core::bail!("step {i} of a {}-step forecast", self.num_steps());
        }
        if !self.sampler.is_deterministic() {
            let dev = self.predictor.device().clone();
            let (rows, v1, v2) = (self.rows, self.noise_s1.dim(1)?, self.noise_s2.dim(1)?);
            self.noise_s1.slice_set(&self.noise.gumbel_tensor(i, Head::S1, rows, v1, &dev)?, 0, 0)?;
            self.noise_s2.slice_set(&self.noise.gumbel_tensor(i, Head::S2, rows, v2, &dev)?, 0, 0)?;
        }
        let len = self.context_len + i;
        if i > 0 && len > self.max_context {
            // The window slid: recompute it (see the module docs).
            self.prefill_window(self.window_start(len), self.max_context - 1)?;
            set_u32(&self.pos, self.max_context - 1)?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<()> {
        let model = &self.predictor.model;
        let cfg = model.config();
        let visible = self.visible_slots()?;
        let cos = self.cos.index_select(&self.pos, 0)?;
        let sin = self.sin.index_select(&self.pos, 0)?;
        let write_ids = self.slot_index(cfg.n_heads, cfg.head_dim())?;

        let x = model.embedding.forward(&self.cur_s1.unsqueeze(1)?, &self.cur_s2.unsqueeze(1)?)?;
        let mut x = x.broadcast_add(&self.time_rows.index_select(&self.abs, 0)?)?;
        for (block, (k_cache, v_cache)) in model.transformer.iter().zip(self.k_cache.iter().zip(&self.v_cache)) {
            x = block.step(&x, &cos, &sin, &StepKv { k_cache, v_cache, write_ids: &write_ids, visible: &visible })?;
        }
        let context = model.norm.forward(&x)?;
        let s1_logits = model.proj_s1.forward(&context)?.squeeze(1)?.to_dtype(DType::F32)?;
        let s1 = self.sampler.sample(&s1_logits, &self.noise_s1)?;

        // Dependency layer: this row's key and value join the window's, then one query.
        let (dk, dv) = model.dep_kv(&context)?;
        let dep_ids = self.slot_index(DEP_LAYER_HEADS, cfg.dep_head_dim())?;
        self.dep_k.scatter_set(&dep_ids, &dk, 2)?;
        self.dep_v.scatter_set(&dep_ids, &dv, 2)?;
        let attn = &model.dep_layer.cross_attn;
        let q = attn.split_heads(&attn.q_proj.forward(&model.embedding.sibling(&s1.unsqueeze(1)?)?)?)?;
        let dep_out = attn.out_proj.forward(&attn.merge_heads(&visible.attend(&q, &self.dep_k, &self.dep_v)?)?)?;
        let x2 = model.dep_layer.norm.forward(&(context + dep_out)?)?;
        let s2_logits = model.proj_s2.forward(&x2)?.squeeze(1)?.to_dtype(DType::F32)?;
        let s2 = self.sampler.sample(&s2_logits, &self.noise_s2)?;

        // Outputs into buffers allocated before any capture.
        self.last_s1_logits.slice_set(&s1_logits, 0, 0)?;
        self.last_s2_logits.slice_set(&s2_logits, 0, 0)?;
        let next_abs = (&self.abs + &self.one)?;
        let token_ids = next_abs.reshape((1, 1))?.broadcast_as((self.rows, 1))?.contiguous()?;
        self.tokens_s1.scatter_set(&token_ids, &s1.unsqueeze(1)?, 1)?;
        self.tokens_s2.scatter_set(&token_ids, &s2.unsqueeze(1)?, 1)?;
        self.cur_s1.slice_set(&s1, 0, 0)?;
        self.cur_s2.slice_set(&s2, 0, 0)?;
        self.pos.slice_set(&(&self.pos + &self.one)?.minimum(&self.last_slot)?, 0, 0)?;
        self.abs.slice_set(&next_abs, 0, 0)
    }

    fn finish(&mut self) -> Result<Forecast> {
        Ok(self.finish_decoded()?.forecast)
    }
}
