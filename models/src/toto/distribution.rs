//! The output head: a mixture of Student-T distributions (upstream's `MixtureOfStudentTsOutput`),
//! its mean, and a sampler that runs entirely on the device from noise handed in as a tensor.
//!
//! # Sampling without host control flow
//! A mixture draw needs a categorical choice, a standard normal and a chi-square (a gamma) draw.
//! Gamma draws are usually made by rejection with a data-dependent number of tries, which a CUDA
//! graph cannot express. Here every draw gets [`GAMMA_ROUNDS`] Marsaglia–Tsang proposals from the
//! noise tensor; the first accepted proposal is kept by masking. For shape `a ≥ 1` each proposal
//! is accepted with probability above 0.95 (Student-T `df > 2` gives `a = df/2 > 1`), so all
//! rounds fail with probability below `0.05^8 ≈ 4e-11`; only then is the gamma's mode-like value
//! `a - 1/3` used instead. Up to that event the draws are exact. The component is chosen by
//! counting how many cumulative mixture weights lie at or below a uniform, which gives an exact
//! one-hot selection even when the weights' rounding makes the last cumulative value below 1.

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::layers::linear;
use super::taps::Taps;
use crate::nn::Linear;
use crate::rng::SplitMix64;

/// Marsaglia–Tsang proposals per gamma draw.
pub const GAMMA_ROUNDS: usize = 8;

/// Noise rows per draw: component uniform, Student-T normal, then a normal and a uniform per round.
pub const NOISE_ROWS: usize = 2 + 2 * GAMMA_ROUNDS;

/// `softplus(x) = log(1 + e^x)`, computed as `relu(x) + log1p(e^-|x|)` (equal to torch's
/// thresholded form to rounding). `log1p(y)` for `y ∈ (0, 1]` uses the correction
/// `log(u) - ((u - 1) - y) / u` with `u = 1 + y`, which stays accurate when `y` underflows `1 + y`.
fn softplus(x: &Tensor) -> Result<Tensor> {
    let y = x.abs()?.neg()?.exp()?;
    let u = y.affine(1.0, 1.0)?;
    let rounding = u.affine(1.0, -1.0)?.sub(&y)?.div(&u)?;
    x.relu()? + u.log()?.sub(&rounding)?
}

/// `max(x, f32::EPSILON)`: upstream's `clamp_min(torch.finfo(float32).eps)`.
fn at_least_eps(x: &Tensor) -> Result<Tensor> {
    x.maximum(&Tensor::full(f32::EPSILON, x.shape(), x.device())?)
}

/// The four projections of the head, plus the sampler for its mixtures.
#[derive(Debug, Clone)]
pub struct MixtureHead {
    df: Linear,
    loc_proj: Linear,
    scale_proj: Linear,
    mixture_weights: Linear,
    sampler: MixtureSampler,
}

/// Draws from mixtures of `K` Student-T components on the device (see the module docs).
#[derive(Debug, Clone)]
pub struct MixtureSampler {
    /// `[K, K]`, 1 where `row <= col`: cumulative sums of the weights.
    cumulative: Tensor,
    /// `[1, K]`: 1 except 0 in the last column.
    keep_all_but_last: Tensor,
    /// `[1, K]`: 0 except 2 in the last column (above any uniform).
    last_above_one: Tensor,
    /// `[1, K]`: 0, 1, …, K-1.
    component_index: Tensor,
}

/// Mixture parameters, each `[..., K]`.
#[derive(Debug, Clone)]
pub struct MixtureParams {
    pub probs: Tensor,
    pub df: Tensor,
    pub loc: Tensor,
    pub scale: Tensor,
}

impl MixtureSampler {
    pub fn new(k: usize, device: &Device) -> Result<Self> {
        let cumulative: Vec<f32> = (0..k * k).map(|i| f32::from(u8::from(i / k <= i % k))).collect();
        let mut keep = vec![1f32; k];
        keep[k - 1] = 0.0;
        let mut above = vec![0f32; k];
        above[k - 1] = 2.0;
        Ok(Self {
            cumulative: Tensor::from_vec(cumulative, (k, k), device)?,
            keep_all_but_last: Tensor::from_vec(keep, (1, k), device)?,
            last_above_one: Tensor::from_vec(above, (1, k), device)?,
            component_index: Tensor::arange(0u32, k as u32, device)?.to_dtype(DType::F32)?.reshape((1, k))?,
        })
    }

    /// One draw per row of `params` (flattened to `[n, K]`), from `noise: [NOISE_ROWS, n]`.
    /// Returns the draws in the normalised space, shaped like `params` without the last axis.
    pub fn sample(&self, params: &MixtureParams, noise: &Tensor) -> Result<Tensor> {
        let dims = params.probs.dims().to_vec();
        let k = dims[dims.len() - 1];
        let flat = |t: &Tensor| t.reshape(((), k));
        let (probs, df, loc, scale) =
            (flat(&params.probs)?, flat(&params.df)?, flat(&params.loc)?, flat(&params.scale)?);
        let n = probs.dim(0)?;
        let row = |i: usize| noise.get(i)?.reshape((n, 1));

        // Component: the number of cumulative weights at or below the uniform (the last forced above).
        let cdf = probs
            .matmul(&self.cumulative)?
            .broadcast_mul(&self.keep_all_but_last)?
            .broadcast_add(&self.last_above_one)?;
        let chosen = row(0)?.broadcast_ge(&cdf)?.to_dtype(DType::F32)?.sum_keepdim(1)?;
        let one_hot = chosen.broadcast_eq(&self.component_index)?.to_dtype(DType::F32)?;
        let pick = |t: &Tensor| one_hot.mul(t)?.sum_keepdim(1);
        let (df, loc, scale) = (pick(&df)?, pick(&loc)?, pick(&scale)?);

        // Gamma(df / 2) by Marsaglia–Tsang with a fixed number of masked rounds.
        let d = df.affine(0.5, -1.0 / 3.0)?;
        let c = d.affine(9.0, 0.0)?.sqrt()?.recip()?;
        let zeros = Tensor::zeros((n, 1), DType::F32, probs.device())?;
        let ones = Tensor::ones((n, 1), DType::F32, probs.device())?;
        let mut gamma = zeros.clone();
        let mut done = zeros.clone();
        for r in 0..GAMMA_ROUNDS {
            let x = row(2 + r)?;
            let u = row(2 + GAMMA_ROUNDS + r)?;
            let t = c.mul(&x)?.affine(1.0, 1.0)?;
            let v = t.sqr()?.mul(&t)?;
            let positive = v.gt(&zeros)?;
            let v = positive.where_cond(&v, &ones)?;
            let bound = x.sqr()?.affine(0.5, 0.0)?.add(&d)?.sub(&d.mul(&v)?)?.add(&d.mul(&v.log()?)?)?;
            let accepted = u.log()?.lt(&bound)?.mul(&positive)?.to_dtype(DType::F32)?;
            let take = accepted.mul(&done.affine(-1.0, 1.0)?)?;
            gamma = gamma.add(&take.mul(&d.mul(&v)?)?)?;
            done = done.add(&take)?;
        }
        gamma = gamma.add(&done.affine(-1.0, 1.0)?.mul(&d)?)?;

        // Student-T: loc + scale · z / sqrt(chi² / df), with chi² = 2 · gamma.
        let t = row(1)?.div(&gamma.affine(2.0, 0.0)?.div(&df)?.sqrt()?)?;
        loc.add(&scale.mul(&t)?)?.reshape(&dims[..dims.len() - 1])
    }
}

impl MixtureHead {
    pub fn load(vb: VarBuilder, dim: usize, k: usize, device: &Device) -> Result<Self> {
        Ok(Self {
            df: linear(&vb.pp("df"), dim, k)?,
            loc_proj: linear(&vb.pp("loc_proj"), dim, k)?,
            scale_proj: linear(&vb.pp("scale_proj"), dim, k)?,
            mixture_weights: linear(&vb.pp("mixture_weights"), dim, k)?,
            sampler: MixtureSampler::new(k, device)?,
        })
    }

    pub fn sampler(&self) -> &MixtureSampler {
        &self.sampler
    }

    /// The distribution parameters for hidden states `x: [..., D]`.
    pub fn forward(&self, x: &Tensor, taps: &mut Taps) -> Result<MixtureParams> {
        let df_raw = self.df.forward(x)?;
        let loc = self.loc_proj.forward(x)?;
        let scale_raw = self.scale_proj.forward(x)?;
        let logits = self.mixture_weights.forward(x)?;
        taps.put("head", "df_raw", &df_raw);
        taps.put("head", "loc_raw", &loc);
        taps.put("head", "scale_raw", &scale_raw);
        taps.put("head", "mixture_logits", &logits);
        let params = MixtureParams {
            probs: candle_nn::ops::softmax_last_dim(&logits)?,
            df: at_least_eps(&softplus(&df_raw)?)?.affine(1.0, 2.0)?,
            loc,
            scale: at_least_eps(&softplus(&scale_raw)?)?,
        };
        taps.put("dist", "probs", &params.probs);
        taps.put("dist", "df", &params.df);
        taps.put("dist", "loc", &params.loc);
        taps.put("dist", "scale", &params.scale);
        Ok(params)
    }
}

impl MixtureParams {
    /// The mixture mean `Σ probs · loc` (every component has `df > 2`, so its mean is its loc).
    pub fn mean(&self) -> Result<Tensor> {
        self.probs.mul(&self.loc)?.sum(D::Minus1)
    }

    /// Repeats every parameter `times` along the first axis (rows `s·batch + b`).
    pub fn repeat_batch(&self, times: usize) -> Result<Self> {
        let rep = |t: &Tensor| {
            let mut shape = vec![1; t.rank()];
            shape[0] = times;
            t.repeat(shape)
        };
        Ok(Self { probs: rep(&self.probs)?, df: rep(&self.df)?, loc: rep(&self.loc)?, scale: rep(&self.scale)? })
    }
}

/// The noise for `draws` mixture draws at decode call `call`: `[NOISE_ROWS, draws]` values, a
/// deterministic function of `(seed, call)`, so an eager run and a graph replay see the same.
pub fn mixture_noise(seed: u64, call: usize, draws: usize) -> Vec<f32> {
    let mut rng = SplitMix64::for_stream(seed, &[call as u64]);
    let mut out = Vec::with_capacity(NOISE_ROWS * draws);
    let uniforms = |rng: &mut SplitMix64, out: &mut Vec<f32>| out.extend((0..draws).map(|_| rng.next_open01_f32()));
    let normals = |rng: &mut SplitMix64, out: &mut Vec<f32>| out.extend((0..draws).map(|_| rng.next_normal() as f32));
    uniforms(&mut rng, &mut out);
    normals(&mut rng, &mut out);
    for _ in 0..GAMMA_ROUNDS {
        normals(&mut rng, &mut out);
    }
    for _ in 0..GAMMA_ROUNDS {
        uniforms(&mut rng, &mut out);
    }
    out
}

/// Replaces inf, NaN and values beyond half the f32 range by 0, as upstream's
/// `replace_extreme_values`. A single comparison covers all three (NaN compares false).
pub fn replace_extreme_values(x: &Tensor) -> Result<Tensor> {
    let limit = Tensor::full(f32::MAX / 2.0, x.shape(), x.device())?;
    x.abs()?.lt(&limit)?.where_cond(x, &x.zeros_like()?)
}
