//! The model configuration, field for field the keyword arguments of upstream's `Toto(...)`
//! (`config.json` next to a checkpoint), plus the presets used by the probe and the benches.

use serde::{Deserialize, Serialize};

use crate::Error;

/// The only scaler class string this port implements. Upstream builds the patch scaler with the
/// model's patch size only when `scaler_cls` is exactly this string; any other value gives a
/// different scaler (patch size 32), which we refuse rather than imitate silently.
pub const CAUSAL_PATCH_SCALER: &str = "<class 'model.scaler.CausalPatchStdMeanScaler'>";

/// The only output distribution this port implements.
pub const MIXTURE_OF_STUDENT_TS: &str = "<class 'model.distribution.MixtureOfStudentTsOutput'>";

/// `output_distribution_kwargs` of the mixture head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDistributionKwargs {
    pub k_components: usize,
}

/// Upstream's backbone arguments. Unknown fields in a `config.json` are ignored, as upstream's
/// loader ignores keys its constructor swallows in `**model_kwargs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotoConfig {
    pub patch_size: usize,
    pub stride: usize,
    pub embed_dim: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub mlp_hidden_dim: usize,
    /// Inference runs with dropout off whatever this says.
    #[serde(default)]
    pub dropout: f64,
    /// A space-wise layer after every `n - 1` time-wise ones; `-1` means time-wise only.
    pub spacewise_every_n_layers: i64,
    pub scaler_cls: String,
    pub output_distribution_classes: Vec<String>,
    #[serde(default = "default_true")]
    pub spacewise_first: bool,
    #[serde(default)]
    pub output_distribution_kwargs: Option<OutputDistributionKwargs>,
    /// Chooses xFormers kernels upstream; numerically the same model, so ignored here.
    #[serde(default = "default_true")]
    pub use_memory_efficient_attention: bool,
    #[serde(default = "default_true")]
    pub stabilize_with_global: bool,
    #[serde(default = "default_scale_factor_exponent")]
    pub scale_factor_exponent: f64,
}

fn default_true() -> bool {
    true
}

fn default_scale_factor_exponent() -> f64 {
    10.0
}

/// The axis a transformer layer attends over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionAxis {
    /// Causal attention along the patches of one variate, with xPos rotary embeddings.
    Time,
    /// Bidirectional attention across the variates of one patch, masked by `id_mask` groups.
    Space,
}

/// Named model sizes. `Base` is the released Toto-Open-Base-1.0 shape; `Mini` is the tiny
/// configuration of the reference fixtures; `Small` is an in-between size for benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotoPreset {
    Mini,
    Small,
    Base,
}

impl std::str::FromStr for TotoPreset {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mini" => Ok(Self::Mini),
            "small" => Ok(Self::Small),
            "base" => Ok(Self::Base),
            other => Err(crate::Error::UnknownPreset { model: "Toto", name: other.to_string() }),
        }
    }
}

impl TotoConfig {
    /// A config with the fields every preset shares.
    fn with_shape(
        patch: usize,
        embed_dim: usize,
        num_layers: usize,
        num_heads: usize,
        mlp_hidden_dim: usize,
        spacewise_every_n_layers: i64,
        k_components: usize,
    ) -> Self {
        Self {
            patch_size: patch,
            stride: patch,
            embed_dim,
            num_layers,
            num_heads,
            mlp_hidden_dim,
            dropout: 0.0,
            spacewise_every_n_layers,
            scaler_cls: CAUSAL_PATCH_SCALER.to_string(),
            output_distribution_classes: vec![MIXTURE_OF_STUDENT_TS.to_string()],
            spacewise_first: false,
            output_distribution_kwargs: Some(OutputDistributionKwargs { k_components }),
            use_memory_efficient_attention: false,
            stabilize_with_global: true,
            scale_factor_exponent: 10.0,
        }
    }

    /// Toto-Open-Base-1.0: patches of 64, d_model 768, 12 layers of which only the last is
    /// space-wise, 12 heads, MLP 3072, 24 Student-T components. 151,306,080 parameters.
    pub fn base() -> Self {
        Self::with_shape(64, 768, 12, 12, 3072, 12, 24)
    }

    /// The tiny config of the reference fixtures: layers TIME, SPACE, TIME, SPACE.
    pub fn mini() -> Self {
        Self::with_shape(8, 32, 4, 4, 64, 2, 3)
    }

    /// Not a released shape: a mid-sized model for CPU benchmarks and quick GPU runs.
    pub fn small() -> Self {
        Self::with_shape(32, 256, 6, 8, 1024, 3, 8)
    }

    pub fn preset(preset: TotoPreset) -> Self {
        match preset {
            TotoPreset::Mini => Self::mini(),
            TotoPreset::Small => Self::small(),
            TotoPreset::Base => Self::base(),
        }
    }

    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    pub fn k_components(&self) -> usize {
        self.output_distribution_kwargs.as_ref().map_or(0, |k| k.k_components)
    }

    /// Refuses configurations this port does not implement, with the reason.
    pub fn validate(&self) -> Result<(), Error> {
        let unsupported = |msg: String| Err(Error::Unsupported(msg));
        if self.patch_size == 0 || self.patch_size != self.stride {
            return unsupported(format!(
                "patch_size ({}) must equal stride ({}) and be positive",
                self.patch_size, self.stride
            ));
        }
        if self.num_heads == 0 || !self.embed_dim.is_multiple_of(self.num_heads) {
            return unsupported(format!(
                "embed_dim {} is not divisible by num_heads {}",
                self.embed_dim, self.num_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return unsupported(format!("head_dim {} must be even for rotary embeddings", self.head_dim()));
        }
        if self.scaler_cls != CAUSAL_PATCH_SCALER {
            return unsupported(format!(
                "scaler_cls {:?}: only {CAUSAL_PATCH_SCALER:?} is implemented",
                self.scaler_cls
            ));
        }
        if self.output_distribution_classes.first().map(String::as_str) != Some(MIXTURE_OF_STUDENT_TS) {
            return unsupported(format!(
                "output_distribution_classes {:?}: only [{MIXTURE_OF_STUDENT_TS:?}] is implemented",
                self.output_distribution_classes
            ));
        }
        if self.k_components() == 0 {
            return unsupported("output_distribution_kwargs.k_components must be set and positive".into());
        }
        let n = self.spacewise_every_n_layers;
        if n != -1 && (n <= 0 || !self.num_layers.is_multiple_of(n as usize)) {
            return unsupported(format!(
                "spacewise_every_n_layers {n} must be -1 or divide num_layers {}",
                self.num_layers
            ));
        }
        Ok(())
    }

    /// The attention axis of each layer, as upstream's `Transformer._get_layer_types`.
    pub fn layer_axes(&self) -> Vec<AttentionAxis> {
        if self.spacewise_every_n_layers == -1 {
            return vec![AttentionAxis::Time; self.num_layers];
        }
        let n = self.spacewise_every_n_layers as usize;
        let mut block = vec![AttentionAxis::Time; n - 1];
        if self.spacewise_first {
            block.insert(0, AttentionAxis::Space);
        } else {
            block.push(AttentionAxis::Space);
        }
        block.iter().copied().cycle().take(self.num_layers).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_axes_follow_upstream() {
        use AttentionAxis::{Space as S, Time as T};
        assert_eq!(TotoConfig::mini().layer_axes(), vec![T, S, T, S]);
        let base = TotoConfig::base().layer_axes();
        assert_eq!(base.len(), 12);
        assert_eq!(base.iter().filter(|a| **a == S).count(), 1);
        assert_eq!(base[11], S);
        let mut first = TotoConfig::mini();
        first.spacewise_first = true;
        assert_eq!(first.layer_axes(), vec![S, T, S, T]);
    }

    #[test]
    fn rejects_other_scalers() {
        let mut cfg = TotoConfig::mini();
        cfg.scaler_cls = "<class 'model.scaler.StdMeanScaler'>".into();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("StdMeanScaler"), "{err}");
    }
}
