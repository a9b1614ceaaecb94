//! Toto's use of the shared layers in [`crate::nn`]: every `Linear` has a bias, RMSNorm has
//! upstream's epsilon 1e-8 and a weight named `scale`, and the SwiGLU MLP has xFormers' fused
//! layout (gate first).

use candle_core::Result;
use candle_nn::VarBuilder;

use crate::nn::{Linear, LinearInit, RmsNorm, SwiGlu};

/// A `Linear` with bias. The init hint is torch's default, which is also what `Toto::random`
/// draws, though it fills the checkpoint schema itself (see `weights::random_weights`).
pub(crate) fn linear(vb: &VarBuilder, in_dim: usize, out_dim: usize) -> Result<Linear> {
    Linear::load(vb, in_dim, out_dim, true, LinearInit::TorchDefault)
}

/// Upstream's `RMSNorm`: `x / sqrt(mean(x²) + 1e-8) * scale`.
pub(crate) fn rms_norm(vb: &VarBuilder, dim: usize) -> Result<RmsNorm> {
    RmsNorm::load(vb, dim, "scale", 1e-8)
}

/// `mlp.0.w12` → SwiGLU (`silu(gate) * value`, gate = first half) → `mlp.0.w3`.
pub(crate) fn swiglu_mlp(vb: &VarBuilder, dim: usize, hidden: usize) -> Result<SwiGlu> {
    let vb = vb.pp("0");
    Ok(SwiGlu::fused(linear(&vb.pp("w12"), dim, 2 * hidden)?, hidden, linear(&vb.pp("w3"), hidden, dim)?))
}
