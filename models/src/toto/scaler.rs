//! Upstream's `CausalPatchStdMeanScaler` (with `compute_causal_statistics`): causal Welford
//! mean and variance in f64, Bessel correction, minimum scale 0.1, the clamp to
//! `[max(0.1, g·10^-e), g·10^e]` around the global scale `g` of the original context, and the
//! statistics of each patch's last step applied to the whole patch.
//!
//! Upstream computes the statistics with cumulative sums over the whole series at every call. Here
//! the cumulative sums are split in two levels: inside each patch, and a *carry* of the running
//! totals (weight, weighted sum and Welford `m2`) into it. The eager paths recompute everything
//! from the first patch at every call, as upstream does; the graph path keeps the carry in device
//! buffers and advances it by one patch per step with the same function, so it never reads a
//! value back. (The two orders of summation agree to f64 rounding, far below the f32 outputs.)
//!
//! All weights are padding-mask values 0 or 1, so the cumulative weights are integers and
//! `max(n, 1)` can be written `relu(n - 1) + 1`, exactly and without a constant tensor.

use candle_core::{DType, Device, Result, Tensor, D};

use super::config::TotoConfig;

/// Upstream's `minimum_scale` of the patch scaler.
const MINIMUM_SCALE: f64 = 0.1;

/// The patch scaler's constants: the configuration and the in-patch cumulative-sum matrices.
#[derive(Debug, Clone)]
pub struct PatchScaler {
    patch: usize,
    stabilize_with_global: bool,
    scale_factor_exponent: f64,
    /// `[P, P]`, 1 where `row <= col`: `x @ inclusive` is the in-patch inclusive cumulative sum.
    inclusive: Tensor,
    /// `[P, P]`, 1 where `row < col`: the exclusive cumulative sum (the sum *before* each step).
    exclusive: Tensor,
}

/// Running sums after the last processed step, `[rows, 1]` f64 each (rows = batch × variates).
#[derive(Debug, Clone)]
pub struct ScalerCarry {
    pub weight: Tensor,
    pub value: Tensor,
    pub m2: Tensor,
}

/// The global clamp bounds of the causal scale, `[rows, 1]` f64 each.
#[derive(Debug, Clone)]
pub struct ScaleBounds {
    pub lo: Tensor,
    pub hi: Tensor,
}

/// Per-patch statistics `[rows, patches]`, in f64 and as the f32 the model uses.
#[derive(Debug, Clone)]
pub struct PatchStats {
    pub loc64: Tensor,
    pub scale64: Tensor,
    pub loc: Tensor,
    pub scale: Tensor,
}

/// A whole series scaled as upstream's scaler returns it, plus the state to continue from.
#[derive(Debug, Clone)]
pub struct ScaledSeries {
    /// `(x - loc) / scale`, `[batch, variates, time]` f32.
    pub scaled: Tensor,
    /// Per-patch statistics `[batch, variates, patches]`, f32 and f64.
    pub loc: Tensor,
    pub scale: Tensor,
    pub loc64: Tensor,
    pub scale64: Tensor,
    pub carry: ScalerCarry,
    pub bounds: Option<ScaleBounds>,
}

/// `max(n, 1)` for integer-valued `n`.
fn at_least_one(n: &Tensor) -> Result<Tensor> {
    n.affine(1.0, -1.0)?.relu()?.affine(1.0, 1.0)
}

impl PatchScaler {
    pub fn new(cfg: &TotoConfig, device: &Device) -> Result<Self> {
        let p = cfg.patch_size;
        let triangle = |strict: bool| {
            let data: Vec<f64> = (0..p * p)
                .map(|i| {
                    let (row, col) = (i / p, i % p);
                    f64::from(u8::from(if strict { row < col } else { row <= col }))
                })
                .collect();
            Tensor::from_vec(data, (p, p), device)
        };
        Ok(Self {
            patch: p,
            stabilize_with_global: cfg.stabilize_with_global,
            scale_factor_exponent: cfg.scale_factor_exponent,
            inclusive: triangle(false)?,
            exclusive: triangle(true)?,
        })
    }

    pub fn zero_carry(rows: usize, device: &Device) -> Result<ScalerCarry> {
        let z = || Tensor::zeros((rows, 1), DType::F64, device);
        Ok(ScalerCarry { weight: z()?, value: z()?, m2: z()? })
    }

    /// Global statistics over the prefix (`x`, `w`: `[rows, prefix]` f64, `w` the padding mask).
    pub fn bounds(&self, x: &Tensor, w: &Tensor) -> Result<Option<ScaleBounds>> {
        if !self.stabilize_with_global {
            return Ok(None);
        }
        let count = at_least_one(&w.sum_keepdim(D::Minus1)?)?;
        let mean = (w * x)?.sum_keepdim(D::Minus1)?.div(&count)?;
        let centred = x.broadcast_sub(&mean)?.mul(w)?;
        let variance = centred.sqr()?.sum_keepdim(D::Minus1)?.div(&count)?;
        let global_scale = variance.affine(1.0, MINIMUM_SCALE)?.sqrt()?;
        let factor_min = 10f64.powf(-self.scale_factor_exponent);
        let factor_max = 10f64.powf(self.scale_factor_exponent);
        // Upstream takes `max(torch.tensor(0.1), ...)`: a float32 0.1 promoted to f64.
        let floor = Tensor::full(MINIMUM_SCALE as f32 as f64, global_scale.shape(), global_scale.device())?;
        Ok(Some(ScaleBounds {
            lo: global_scale.affine(factor_min, 0.0)?.maximum(&floor)?,
            hi: global_scale.affine(factor_max, 0.0)?,
        }))
    }

    /// Advances the causal statistics over `n` consecutive patches (`x`, `w`: `[rows, n, P]`
    /// f64, `w` the padding mask) from `carry`, and returns the carry after the last of them with
    /// the statistics of each patch's last step (`[rows, n]`).
    ///
    /// Cumulative sums are taken inside each patch (a matmul with a triangular matrix), and the
    /// sums carried into each patch are the running totals before it (for `n > 1`, an exclusive
    /// prefix sum over the patch totals, again a matmul).
    pub fn advance(
        &self,
        carry: &ScalerCarry,
        x: &Tensor,
        w: &Tensor,
        bounds: Option<&ScaleBounds>,
    ) -> Result<(ScalerCarry, PatchStats)> {
        let (rows, n, p) = x.dims3()?;
        let in_patch =
            |t: &Tensor, triangle: &Tensor| t.reshape((rows * n, p))?.matmul(triangle)?.reshape((rows, n, p));
        // The running sum before each patch, `[rows, n, 1]`.
        let before = |inclusive: &Tensor, start: &Tensor| -> Result<Tensor> {
            if n == 1 {
                return start.unsqueeze(2);
            }
            // Contiguous: a strided left operand is fine on the CPU, but CUDA's matmul refuses it.
            let totals = inclusive.narrow(2, p - 1, 1)?.squeeze(2)?.contiguous()?;
            let earlier: Vec<f64> = (0..n * n).map(|i| f64::from(u8::from(i / n < i % n))).collect();
            let earlier = Tensor::from_vec(earlier, (n, n), x.device())?; // graphlint: ignore[GL804] -- n > 1 only (prefill); the graph step advances one patch
            totals.matmul(&earlier)?.broadcast_add(start)?.unsqueeze(2)
        };
        let wx = w.mul(x)?;
        let (w_in, v_in) = (in_patch(w, &self.inclusive)?, in_patch(&wx, &self.inclusive)?);
        let (w_before, v_before) = (before(&w_in, &carry.weight)?, before(&v_in, &carry.value)?);
        let cum_w = w_in.broadcast_add(&w_before)?;
        let cum_v = v_in.broadcast_add(&v_before)?;
        let prev_w = in_patch(w, &self.exclusive)?.broadcast_add(&w_before)?;
        let prev_v = in_patch(&wx, &self.exclusive)?.broadcast_add(&v_before)?;
        let denominator = at_least_one(&cum_w)?;
        let mean = cum_v.div(&denominator)?;
        let previous_mean = prev_v.div(&at_least_one(&prev_w)?)?;
        let increment = x.sub(&previous_mean)?.mul(&x.sub(&mean)?)?.mul(w)?;
        let m2_in = in_patch(&increment, &self.inclusive)?;
        let m2 = m2_in.broadcast_add(&before(&m2_in, &carry.m2)?)?;
        // Bessel: divide by max(denominator - 1, 1).
        let variance = m2.div(&at_least_one(&denominator.affine(1.0, -1.0)?)?)?;
        let mut scale = variance.affine(1.0, MINIMUM_SCALE)?.sqrt()?;
        if let Some(b) = bounds {
            let (lo, hi) = (b.lo.unsqueeze(2)?, b.hi.unsqueeze(2)?);
            scale = scale.broadcast_maximum(&lo)?.broadcast_minimum(&hi)?;
        }
        let last_step = |t: &Tensor| t.narrow(2, p - 1, 1)?.squeeze(2)?.contiguous();
        let (loc64, scale64) = (last_step(&mean)?, last_step(&scale)?);
        let last = |t: &Tensor| t.narrow(1, n - 1, 1)?.narrow(2, p - 1, 1)?.reshape((rows, 1));
        let carry = ScalerCarry { weight: last(&cum_w)?, value: last(&cum_v)?, m2: last(&m2)? };
        let stats =
            PatchStats { loc: loc64.to_dtype(DType::F32)?, scale: scale64.to_dtype(DType::F32)?, loc64, scale64 };
        Ok((carry, stats))
    }

    /// Upstream's scaler over a whole `[batch, variates, time]` series (`time` a multiple of the
    /// patch), with the global statistics taken over the first `prefix_len` steps.
    pub fn scale_series(&self, series: &Tensor, padding: &Tensor, prefix_len: usize) -> Result<ScaledSeries> {
        let (b, v, t) = series.dims3()?;
        let (rows, p) = (b * v, self.patch);
        let n = t / p;
        let x = series.to_dtype(DType::F64)?.reshape((rows, t))?;
        let w = padding.to_dtype(DType::F64)?.reshape((rows, t))?;
        let prefix = prefix_len.min(t);
        let bounds = self.bounds(&x.narrow(1, 0, prefix)?, &w.narrow(1, 0, prefix)?)?;
        let start = Self::zero_carry(rows, series.device())?;
        let (carry, stats) =
            self.advance(&start, &x.reshape((rows, n, p))?, &w.reshape((rows, n, p))?, bounds.as_ref())?;
        let loc64 = stats.loc64.reshape((b, v, n))?;
        let scale64 = stats.scale64.reshape((b, v, n))?;
        let (loc, scale) = (loc64.to_dtype(DType::F32)?, scale64.to_dtype(DType::F32)?);
        let scaled = series
            .reshape((b, v, n, p))?
            .broadcast_sub(&loc.unsqueeze(3)?)?
            .broadcast_div(&scale.unsqueeze(3)?)?
            .reshape((b, v, t))?;
        Ok(ScaledSeries { scaled, loc, scale, loc64, scale64, carry, bounds })
    }
}

/// Repeats per-patch statistics `[batch, variates, patches]` over each patch's steps.
pub fn per_step(stats: &Tensor, patch: usize) -> Result<Tensor> {
    let (b, v, n) = stats.dims3()?;
    stats.unsqueeze(3)?.broadcast_as((b, v, n, patch))?.reshape((b, v, n * patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct transcription of upstream's cumulative-sum formulas in plain f64, for comparison.
    fn reference(x: &[f64], w: &[f64], patch: usize) -> (Vec<f64>, Vec<f64>) {
        let (mut cw, mut cv, mut m2, mut prev_mean) = (0.0, 0.0, 0.0, 0.0);
        let (mut means, mut scales) = (vec![], vec![]);
        let gden = w.iter().sum::<f64>().max(1.0);
        let gmean = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / gden;
        let gvar = x.iter().zip(w).map(|(a, b)| ((a - gmean) * b).powi(2)).sum::<f64>() / gden;
        let g = (gvar + 0.1).sqrt();
        for (&xi, &wi) in x.iter().zip(w) {
            cw += wi;
            cv += wi * xi;
            let den = cw.max(1.0);
            let mean = cv / den;
            m2 += (xi - prev_mean) * (xi - mean) * wi;
            prev_mean = mean;
            let var = m2 / (den - 1.0).max(1.0);
            let s = (var + 0.1).sqrt().clamp((0.1f32 as f64).max(g * 1e-10), g * 1e10);
            means.push(mean);
            scales.push(s);
        }
        let pick = |v: Vec<f64>| v.chunks(patch).map(|c| *c.last().unwrap()).collect();
        (pick(means), pick(scales))
    }

    #[test]
    fn patch_recurrence_matches_cumulative_formulas() -> Result<()> {
        let cfg = TotoConfig::mini();
        let dev = Device::Cpu;
        let scaler = PatchScaler::new(&cfg, &dev)?;
        let t = 32;
        let x: Vec<f64> = (0..t).map(|i| ((i * 37 % 11) as f64 - 4.0) * 3.5 + 100.0).collect();
        let w: Vec<f64> = (0..t).map(|i| if i < 5 { 0.0 } else { 1.0 }).collect();
        let series = Tensor::from_vec(x.iter().map(|&a| a as f32).collect::<Vec<_>>(), (1, 1, t), &dev)?;
        let padding = Tensor::from_vec(w.iter().map(|&a| a as f32).collect::<Vec<_>>(), (1, 1, t), &dev)?;
        let out = scaler.scale_series(&series, &padding, t)?;
        let x32: Vec<f64> = x.iter().map(|&a| a as f32 as f64).collect();
        let (means, scales) = reference(&x32, &w, cfg.patch_size);
        let got_m = out.loc64.flatten_all()?.to_vec1::<f64>()?;
        let got_s = out.scale64.flatten_all()?.to_vec1::<f64>()?;
        for (g, r) in got_m.iter().zip(&means).chain(got_s.iter().zip(&scales)) {
            assert!((g - r).abs() <= 1e-12 * r.abs().max(1.0), "{g} vs {r}");
        }

        // The graph path's one-patch-at-a-time advance agrees with the whole-series pass.
        let x = series.to_dtype(DType::F64)?.reshape((1, t / 8, 8))?;
        let w = padding.to_dtype(DType::F64)?.reshape((1, t / 8, 8))?;
        let mut carry = PatchScaler::zero_carry(1, &dev)?;
        for i in 0..t / 8 {
            let (next, stats) =
                scaler.advance(&carry, &x.narrow(1, i, 1)?, &w.narrow(1, i, 1)?, out.bounds.as_ref())?;
            carry = next;
            let (m, s) =
                (stats.loc64.flatten_all()?.to_vec1::<f64>()?[0], stats.scale64.flatten_all()?.to_vec1::<f64>()?[0]);
            assert!((m - got_m[i]).abs() <= 1e-12 * m.abs() && (s - got_s[i]).abs() <= 1e-12 * s, "patch {i}");
        }
        let end = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f64>().unwrap()[0];
        assert!((end(&carry.m2) - end(&out.carry.m2)).abs() <= 1e-9 * end(&out.carry.m2).abs());
        Ok(())
    }
}
