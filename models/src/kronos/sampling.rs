//! Sampling on the device, without reading logits back.
//!
//! Upstream's `sample_from_logits` divides by the temperature, keeps the top-k logits (or, when
//! `top_k` is 0, the nucleus of mass `top_p`) and draws with `torch.multinomial`. Here the draw is
//! a Gumbel-max: `argmax(filtered_logits + g)` with `g = -ln(-ln u)`, `u` uniform, which picks
//! token i with probability softmax(filtered_logits)_i. The noise comes in as a tensor, so a
//! captured CUDA graph draws fresh randomness whenever its noise buffer is refilled.
//!
//! Both filters run without sorting, by comparing every logit with every other (`[rows, V, V]`):
//! - top-k keeps token i when fewer than k logits are strictly greater, which is upstream's
//!   `logits < topk(logits, k)[-1]` removal exactly;
//! - top-p keeps token i when the probability mass of the strictly greater logits is at most
//!   `top_p`, which is upstream's shifted cumulative-sum rule. Upstream orders equal logits
//!   arbitrarily (an unstable sort); here equal logits are all kept or all dropped together.

use candle_core::{DType, Device, Result, Tensor, D};

use crate::rng::SplitMix64;

/// Upstream's sampling arguments of `KronosPredictor.predict`, plus a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// `T`: logits are divided by it.
    pub temperature: f64,
    /// Keep the k largest logits; 0 disables. When non-zero, `top_p` is ignored (as upstream).
    pub top_k: usize,
    /// Nucleus mass; 1.0 disables.
    pub top_p: f64,
    /// Independent paths generated and averaged in candle space.
    pub sample_count: usize,
    /// Seeds the Gumbel noise: same seed, same forecast.
    pub seed: u64,
}

impl Default for SamplingParams {
    /// Upstream's `predict` defaults: `T=1.0, top_k=0, top_p=0.9, sample_count=1`.
    fn default() -> Self {
        Self { temperature: 1.0, top_k: 0, top_p: 0.9, sample_count: 1, seed: 0 }
    }
}

impl SamplingParams {
    /// `top_k = 1`: the most likely token at every step; deterministic.
    pub fn greedy() -> Self {
        Self { top_k: 1, top_p: 1.0, ..Self::default() }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            candle_core::bail!("sampling temperature must be positive and finite, got {}", self.temperature);
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            candle_core::bail!("top_p must be in (0, 1], got {}", self.top_p);
        }
        if self.sample_count == 0 {
            candle_core::bail!("sample_count must be at least 1");
        }
        Ok(())
    }
}

/// Which of the two sub-tokens a draw is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    S1 = 0,
    S2 = 1,
}

/// Gumbel noise for each decode step, from a seeded host generator.
///
/// Each (step, head) pair has its own stream, so the noise of step i is the same whether the steps
/// run eagerly, as graph replays, or on another device. The transform `-ln(-ln u)` is done on the
/// host in f64 for the same reason.
#[derive(Debug, Clone)]
pub struct NoiseSource {
    seed: u64,
}

impl NoiseSource {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    pub fn gumbel(&self, step: usize, head: Head, rows: usize, vocab: usize) -> Vec<f32> {
        let mut rng = SplitMix64::for_stream(self.seed, &[step as u64, head as u64]);
        (0..rows * vocab).map(|_| (-(-rng.next_open01().ln()).ln()) as f32).collect()
    }

    pub fn gumbel_tensor(&self, step: usize, head: Head, rows: usize, vocab: usize, device: &Device) -> Result<Tensor> {
        Tensor::from_vec(self.gumbel(step, head, rows, vocab), (rows, vocab), device)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    /// top_k = 1: the argmax, no noise needed.
    Greedy,
    All,
    TopK,
    TopP,
}

/// Draws token ids from `[rows, V]` logits. Its constants are allocated at construction, so
/// `sample` allocates only op outputs and uploads nothing: it can run inside a CUDA graph capture.
#[derive(Debug, Clone)]
pub struct Sampler {
    filter: Filter,
    temperature: f64,
    /// `[1]` f32: -inf, the value of removed logits.
    neg_inf: Tensor,
    /// `[1]` f32: k (top-k) or top_p (top-p).
    threshold: Tensor,
}

impl Sampler {
    pub fn new(params: &SamplingParams, device: &Device) -> Result<Self> {
        params.validate()?;
        let (filter, threshold) = match (params.top_k, params.top_p) {
            (1, _) => (Filter::Greedy, 0.0),
            (k, _) if k > 1 => (Filter::TopK, k as f32),
            (_, p) if p < 1.0 => (Filter::TopP, p as f32),
            _ => (Filter::All, 0.0),
        };
        Ok(Self {
            filter,
            temperature: params.temperature,
            neg_inf: Tensor::new(&[f32::NEG_INFINITY], device)?,
            threshold: Tensor::new(&[threshold], device)?,
        })
    }

    /// True when draws ignore the noise (greedy).
    pub fn is_deterministic(&self) -> bool {
        self.filter == Filter::Greedy
    }

    /// `logits`: `[rows, V]` f32; `gumbel`: `[rows, V]` noise. Returns `[rows]` u32 ids.
    pub fn sample(&self, logits: &Tensor, gumbel: &Tensor) -> Result<Tensor> {
        if self.filter == Filter::Greedy {
            return logits.argmax(D::Minus1);
        }
        let logits = (logits / self.temperature)?;
        let keep = match self.filter {
            Filter::Greedy | Filter::All => None,
            Filter::TopK => {
                // Number of strictly greater logits per token, < k.
                let rank = greater_than_each(&logits)?.to_dtype(DType::F32)?.sum(D::Minus1)?;
                Some(rank.broadcast_lt(&self.threshold)?)
            }
            Filter::TopP => {
                // Probability mass of the strictly greater logits per token, <= top_p.
                let probs = candle_nn::ops::softmax_last_dim(&logits)?;
                let greater = greater_than_each(&logits)?.to_dtype(DType::F32)?;
                let mass = greater.matmul(&probs.unsqueeze(D::Minus1)?)?.squeeze(D::Minus1)?;
                Some(mass.broadcast_le(&self.threshold)?)
            }
        };
        let logits = match keep {
            Some(keep) => keep.where_cond(&logits, &self.neg_inf.broadcast_as(logits.shape())?)?,
            None => logits,
        };
        (logits + gumbel)?.argmax(D::Minus1)
    }
}

/// `[rows, V]` → `[rows, V, V]` u8 with `[r, i, j] = logits[r, j] > logits[r, i]`.
fn greater_than_each(logits: &Tensor) -> Result<Tensor> {
    logits.unsqueeze(1)?.broadcast_gt(&logits.unsqueeze(2)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(params: SamplingParams, logits: &[f32], n: usize) -> Vec<usize> {
        let dev = Device::Cpu;
        let sampler = Sampler::new(&params, &dev).unwrap();
        let v = logits.len();
        let l = Tensor::from_slice(logits, (1, v), &dev).unwrap().repeat((n, 1)).unwrap();
        let g = NoiseSource::new(params.seed).gumbel_tensor(0, Head::S1, n, v, &dev).unwrap();
        let ids = sampler.sample(&l, &g).unwrap().to_vec1::<u32>().unwrap();
        let mut counts = vec![0; v];
        ids.iter().for_each(|&i| counts[i as usize] += 1);
        counts
    }

    #[test]
    fn greedy_is_argmax() {
        assert_eq!(draw(SamplingParams::greedy(), &[0.1, 2.0, -1.0, 1.9], 50), vec![0, 50, 0, 0]);
    }

    #[test]
    fn unfiltered_draws_follow_softmax() {
        let logits = [0.0f32, (2f32).ln(), (3f32).ln(), f32::ln(4.0)];
        let params = SamplingParams { top_p: 1.0, seed: 11, ..Default::default() };
        let counts = draw(params, &logits, 20_000);
        for (i, c) in counts.iter().enumerate() {
            let expected = (i + 1) as f64 / 10.0;
            assert!((*c as f64 / 20_000.0 - expected).abs() < 0.015, "token {i}: {c}");
        }
    }

    #[test]
    fn top_k_keeps_only_the_k_largest() {
        let params = SamplingParams { top_k: 2, seed: 3, ..Default::default() };
        let counts = draw(params, &[1.0, 3.0, 0.5, 2.9, 2.8], 4000);
        assert_eq!((counts[0], counts[2], counts[4]), (0, 0, 0));
        assert!(counts[1] > 1500 && counts[3] > 1500, "{counts:?}");
    }

    #[test]
    fn top_p_keeps_the_first_token_past_the_threshold() {
        // probs 0.5, 0.3, 0.15, 0.05: mass before each = 0, 0.5, 0.8, 0.95.
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.15f32.ln(), 0.05f32.ln()];
        let counts = draw(SamplingParams { top_p: 0.6, seed: 5, ..Default::default() }, &logits, 4000);
        assert_eq!((counts[2], counts[3]), (0, 0), "{counts:?}");
        assert!(counts[0] > 2000 && counts[1] > 1000, "{counts:?}");
        let counts = draw(SamplingParams { top_p: 0.4, seed: 5, ..Default::default() }, &logits, 1000);
        assert_eq!(counts[0], 1000, "the top token is always kept");
    }

    #[test]
    fn temperature_sharpens() {
        let logits = [0.0f32, 1.0];
        let cold = draw(SamplingParams { temperature: 0.25, top_p: 1.0, seed: 9, ..Default::default() }, &logits, 5000);
        let warm = draw(SamplingParams { temperature: 4.0, top_p: 1.0, seed: 9, ..Default::default() }, &logits, 5000);
        assert!(cold[1] > 4800, "{cold:?}");
        assert!(warm[1] < 3300, "{warm:?}");
    }

    #[test]
    fn bad_params_are_rejected() {
        for p in [
            SamplingParams { temperature: 0.0, ..Default::default() },
            SamplingParams { top_p: 0.0, ..Default::default() },
            SamplingParams { sample_count: 0, ..Default::default() },
        ] {
            assert!(Sampler::new(&p, &Device::Cpu).is_err(), "{p:?}");
        }
    }
}
