//! Layers both ports share: `Linear`, RMSNorm and the SwiGLU feed-forward. Each port loads them
//! under its own checkpoint names (`VarBuilder::pp` paths that spell upstream's state-dict keys)
//! and with its own RMSNorm epsilon and weight name.

use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// How upstream initialises an `nn.Linear`: the hint a seeded random-init backend follows
/// (a checkpoint ignores it).
#[derive(Debug, Clone, Copy)]
pub enum LinearInit {
    /// torch's default: weight and bias uniform in ±1/√fan_in.
    TorchDefault,
    /// Xavier-normal weight, zero bias (Kronos' predictor `_init_weights`).
    XavierNormal,
}

/// `y = x Wᵀ + b` over the last dimension, for inputs of any rank.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Reads `weight` `[out_dim, in_dim]` and, when `bias`, `bias` `[out_dim]` under `vb`.
    pub fn load(vb: &VarBuilder, in_dim: usize, out_dim: usize, bias: bool, init: LinearInit) -> Result<Self> {
        let bound = 1.0 / (in_dim as f64).sqrt();
        let (w_init, b_init) = match init {
            LinearInit::TorchDefault => {
                (Init::Uniform { lo: -bound, up: bound }, Init::Uniform { lo: -bound, up: bound })
            }
            LinearInit::XavierNormal => {
                (Init::Randn { mean: 0.0, stdev: (2.0 / (in_dim + out_dim) as f64).sqrt() }, Init::Const(0.0))
            }
        };
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", w_init)?;
        let bias = if bias { Some(vb.get_with_hints(out_dim, "bias", b_init)?) } else { None };
        Ok(Self { weight, bias })
    }

    /// One 2-D matmul over all leading dimensions (a strided input is copied first), never a
    /// broadcast batched matmul: the same kernels whatever the rank.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let in_dim = dims.pop().unwrap_or(1);
        dims.push(self.weight.dim(0)?);
        let y = x.reshape(((), in_dim))?.matmul(&self.weight.t()?)?;
        let y = match &self.bias {
            Some(bias) => y.broadcast_add(bias)?,
            None => y,
        };
        y.reshape(dims)
    }
}

/// `x / sqrt(mean(x²) + eps) * weight`, with the port's epsilon and weight name.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    /// Reads the `[dim]` weight named `weight_name` under `vb` (initialised to 1 by random init).
    pub fn load(vb: &VarBuilder, dim: usize, weight_name: &str, eps: f32) -> Result<Self> {
        Ok(Self { weight: vb.get_with_hints(dim, weight_name, Init::Const(1.0))?, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // candle's fused kernel accumulates in f32 for half types, as upstream's `x.float()`.
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps)
    }
}

/// Where SwiGLU's gate and value come from.
#[derive(Debug, Clone)]
enum GateValue {
    /// Two projections (Kronos' `w1` gate, `w3` value).
    Separate { gate: Linear, value: Linear },
    /// One projection to `2·hidden` features, gate first (Toto's xFormers-fused `w12`).
    Fused { both: Linear, hidden: usize },
}

/// The SwiGLU feed-forward: `out(silu(gate) * value)`.
#[derive(Debug, Clone)]
pub struct SwiGlu {
    gate_value: GateValue,
    out: Linear,
}

impl SwiGlu {
    pub fn separate(gate: Linear, value: Linear, out: Linear) -> Self {
        Self { gate_value: GateValue::Separate { gate, value }, out }
    }

    /// `both` projects to `2·hidden` features: the gate, then the value.
    pub fn fused(both: Linear, hidden: usize, out: Linear) -> Self {
        Self { gate_value: GateValue::Fused { both, hidden }, out }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (gate, value) = match &self.gate_value {
            GateValue::Separate { gate, value } => (gate.forward(x)?, value.forward(x)?),
            GateValue::Fused { both, hidden } => {
                let both = both.forward(x)?;
                let last = both.rank() - 1;
                (both.narrow(last, 0, *hidden)?, both.narrow(last, *hidden, *hidden)?)
            }
        };
        self.out.forward(&(gate.silu()? * value)?)
    }
}
