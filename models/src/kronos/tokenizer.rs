//! `KronosTokenizer`: a causal transformer encoder, a binary spherical quantiser (BSQ) that turns
//! each candle into two sub-tokens (s1: coarse, s2: fine), and a decoder back to candle space.

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::blocks::{causal_mask, Rotary, Trace, TransformerBlock};
use super::config::TokenizerConfig;
use super::weights::{Checkpoint, SeededInit};
use super::{read_config, shared_rotary};
use crate::nn::{Linear, LinearInit};

#[derive(Debug, Clone)]
pub struct KronosTokenizer {
    config: TokenizerConfig,
    embed: Linear,
    head: Linear,
    encoder: Vec<TransformerBlock>,
    decoder: Vec<TransformerBlock>,
    quant_embed: Linear,
    post_quant_embed_pre: Linear,
    post_quant_embed: Linear,
    /// One rotary table for all blocks (checked equal at load).
    rotary: Rotary,
    dtype: DType,
    device: Device,
}

impl KronosTokenizer {
    /// Builds the tokenizer from `vb`, whose paths are upstream's state-dict keys.
    pub fn load(vb: VarBuilder, config: &TokenizerConfig) -> Result<Self> {
        config.validate()?;
        let c = config;
        let init = LinearInit::TorchDefault;
        let block = |vb: VarBuilder| TransformerBlock::load(&vb, c.d_model, c.n_heads, c.ff_dim, init);
        let encoder = (0..c.num_encoder_blocks()).map(|i| block(vb.pp("encoder").pp(i))).collect::<Result<Vec<_>>>()?;
        let decoder = (0..c.num_decoder_blocks()).map(|i| block(vb.pp("decoder").pp(i))).collect::<Result<Vec<_>>>()?;
        let rotary = shared_rotary(encoder.iter().chain(&decoder), c.head_dim(), "tokenizer")?;
        Ok(Self {
            embed: Linear::load(&vb.pp("embed"), c.d_in, c.d_model, true, init)?,
            head: Linear::load(&vb.pp("head"), c.d_model, c.d_in, true, init)?,
            quant_embed: Linear::load(&vb.pp("quant_embed"), c.d_model, c.codebook_dim(), true, init)?,
            post_quant_embed_pre: Linear::load(&vb.pp("post_quant_embed_pre"), c.s1_bits, c.d_model, true, init)?,
            post_quant_embed: Linear::load(&vb.pp("post_quant_embed"), c.codebook_dim(), c.d_model, true, init)?,
            encoder,
            decoder,
            rotary,
            dtype: vb.dtype(),
            device: vb.device().clone(),
            config: config.clone(),
        })
    }

    /// Loads an upstream tokenizer folder (`config.json` + `model.safetensors`, as saved by
    /// `KronosTokenizer.save_pretrained` / found on the Hub).
    pub fn from_dir(dir: impl AsRef<Path>, dtype: DType, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config: TokenizerConfig = read_config(&dir.join("config.json"))?;
        let vb = Checkpoint::from_safetensors(dir.join("model.safetensors"))?.into_var_builder(dtype, device);
        Self::load(vb, &config)
    }

    /// Seeded random init with upstream's scheme (torch's Linear defaults, RMSNorm weights 1).
    pub fn random(config: &TokenizerConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        Self::load(SeededInit::new(seed).into_var_builder(dtype, device), config)
    }

    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn run_blocks(&self, blocks: &[TransformerBlock], mut x: Tensor, trace: &mut Trace) -> Result<Tensor> {
        let n = x.dim(1)?;
        let (cos, sin) = self.rotary.tables(n, self.dtype, &self.device)?;
        let mask = causal_mask(n, self.dtype, &self.device)?;
        for (i, block) in blocks.iter().enumerate() {
            x = block.forward_full(&x, &cos, &sin, &mask)?.0;
            trace.record(|| format!("block{i}"), &x);
        }
        Ok(x)
    }

    /// Encoder and BSQ: `[b, t, d_in]` → the ±1/√codebook_dim codes `[b, t, codebook_dim]`.
    fn quantize(&self, x: &Tensor, trace: &mut Trace) -> Result<Tensor> {
        let z = self.embed.forward(&x.to_dtype(self.dtype)?)?;
        trace.record(|| "embed".into(), &z);
        let z = self.run_blocks(&self.encoder, z, trace)?;
        let z = self.quant_embed.forward(&z)?.to_dtype(DType::F32)?;
        trace.record(|| "quant_embed".into(), &z);
        // F.normalize: z / max(‖z‖₂, 1e-12).
        let norm = z.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.maximum(1e-12)?;
        let z = z.broadcast_div(&norm)?;
        trace.record(|| "z_normalized".into(), &z);
        let scale = 1.0 / (self.config.codebook_dim() as f64).sqrt();
        let quantized = z.gt(0.0)?.to_dtype(DType::F32)?.affine(2.0, -1.0)?.affine(scale, 0.0)?;
        trace.record(|| "quantized".into(), &quantized);
        Ok(quantized)
    }

    /// `(s1, s2)` indices `[b, t]` (u32) of normalised candles `[b, t, d_in]`.
    ///
    /// Bit j of each half has weight 2^j (LSB first), as upstream's `bits_to_indices`.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        self.encode_impl(x, &mut Trace::off())
    }

    pub fn encode_traced(&self, x: &Tensor) -> Result<((Tensor, Tensor), Trace)> {
        let mut trace = Trace::new();
        let ids = self.encode_impl(x, &mut trace)?;
        Ok((ids, trace))
    }

    fn encode_impl(&self, x: &Tensor, trace: &mut Trace) -> Result<(Tensor, Tensor)> {
        let quantized = self.quantize(x, trace)?;
        let bits = quantized.ge(0.0)?.to_dtype(DType::F32)?;
        let index = |offset: usize, n: usize| -> Result<Tensor> {
            let weights: Vec<f32> = (0..n).map(|j| (1u32 << j) as f32).collect();
            let weights = Tensor::from_vec(weights, n, &self.device)?;
            // Sums of distinct powers of two below 2^24: exact in f32.
            bits.narrow(D::Minus1, offset, n)?.broadcast_mul(&weights)?.sum(D::Minus1)?.to_dtype(DType::U32)
        };
        Ok((index(0, self.config.s1_bits)?, index(self.config.s1_bits, self.config.s2_bits)?))
    }

    /// Upstream's `indices_to_bits(half=True)`: `[b, t]` s1 and s2 ids → ±1/√codebook_dim
    /// codes `[b, t, codebook_dim]`, s1's bits first, each half LSB first.
    pub fn bits(&self, s1: &Tensor, s2: &Tensor) -> Result<Tensor> {
        let half_bits = |ids: &Tensor, n: usize| -> Result<Tensor> {
            let powers: Vec<f32> = (0..n).map(|j| (1u32 << j) as f32).collect();
            let powers = Tensor::from_vec(powers, n, &self.device)?;
            // floor(id / 2^j) mod 2, exact in f32 for ids below 2^24.
            let q = ids.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?.broadcast_div(&powers)?.floor()?;
            q.sub(&(q.affine(0.5, 0.0)?.floor()?.affine(2.0, 0.0))?)
        };
        let bits = Tensor::cat(&[half_bits(s1, self.config.s1_bits)?, half_bits(s2, self.config.s2_bits)?], D::Minus1)?;
        let scale = 1.0 / (self.config.codebook_dim() as f64).sqrt();
        bits.affine(2.0, -1.0)?.affine(scale, 0.0)
    }

    /// Candles `[b, t, d_in]` (normalised space) from `(s1, s2)` ids `[b, t]`.
    pub fn decode(&self, s1: &Tensor, s2: &Tensor) -> Result<Tensor> {
        self.decode_impl(s1, s2, &mut Trace::off())
    }

    pub fn decode_traced(&self, s1: &Tensor, s2: &Tensor) -> Result<(Tensor, Trace)> {
        let mut trace = Trace::new();
        let out = self.decode_impl(s1, s2, &mut trace)?;
        Ok((out, trace))
    }

    fn decode_impl(&self, s1: &Tensor, s2: &Tensor, trace: &mut Trace) -> Result<Tensor> {
        let bits = self.bits(s1, s2)?;
        trace.record(|| "bits".into(), &bits);
        let z = self.post_quant_embed.forward(&bits.to_dtype(self.dtype)?)?;
        trace.record(|| "post_quant_embed".into(), &z);
        let z = self.run_blocks(&self.decoder, z, trace)?;
        let recon = self.head.forward(&z)?.to_dtype(DType::F32)?;
        trace.record(|| "recon".into(), &recon);
        Ok(recon)
    }

    /// Upstream's training `forward`: the reconstructions `(z_pre, z)` from the s1 bits only
    /// (through `post_quant_embed_pre`) and from all bits.
    pub fn forward_reconstructions(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let quantized = self.quantize(x, &mut Trace::off())?.to_dtype(self.dtype)?;
        let z_pre = self.post_quant_embed_pre.forward(&quantized.narrow(D::Minus1, 0, self.config.s1_bits)?)?;
        let z_pre = self.head.forward(&self.run_blocks(&self.decoder, z_pre, &mut Trace::off())?)?;
        let z = self.post_quant_embed.forward(&quantized)?;
        let z = self.head.forward(&self.run_blocks(&self.decoder, z, &mut Trace::off())?)?;
        Ok((z_pre.to_dtype(DType::F32)?, z.to_dtype(DType::F32)?))
    }
}
