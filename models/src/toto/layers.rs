//! The small building blocks: `Linear`, upstream's RMSNorm (eps 1e-8, weight named `scale`) and
//! the SwiGLU MLP (gate first, as xFormers' fused layout).

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// `y = x Wᵀ + b` over the last dimension, for inputs of any rank.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn load(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Self> {
        Ok(Self { weight: vb.get((out_dim, in_dim), "weight")?, bias: vb.get(out_dim, "bias")? })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let in_dim = dims.pop().unwrap_or(1);
        let out_dim = self.weight.dim(0)?;
        dims.push(out_dim);
        x.reshape(((), in_dim))?.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?.reshape(dims)
    }
}

/// `x / sqrt(mean(x²) + eps) * scale`.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    scale: Tensor,
}

/// Upstream's `RMSNorm` default epsilon.
const RMS_EPS: f32 = 1e-8;

impl RmsNorm {
    pub fn load(vb: VarBuilder, dim: usize) -> Result<Self> {
        Ok(Self { scale: vb.get(dim, "scale")? })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.scale, RMS_EPS)
    }
}

/// `mlp.0.w12` → SwiGLU (`silu(gate) * value`, gate = first half) → `mlp.0.w3`.
#[derive(Debug, Clone)]
pub struct SwiGluMlp {
    w12: Linear,
    w3: Linear,
    hidden: usize,
}

impl SwiGluMlp {
    pub fn load(vb: VarBuilder, dim: usize, hidden: usize) -> Result<Self> {
        let vb = vb.pp("0");
        Ok(Self {
            w12: Linear::load(vb.pp("w12"), dim, 2 * hidden)?,
            w3: Linear::load(vb.pp("w3"), hidden, dim)?,
            hidden,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let both = self.w12.forward(x)?;
        let last = both.rank() - 1;
        let gate = both.narrow(last, 0, self.hidden)?;
        let value = both.narrow(last, self.hidden, self.hidden)?;
        self.w3.forward(&(gate.silu()? * value)?)
    }
}
