//! The checkpoint schema (key names and shapes, exactly upstream's), checked loading, and the
//! deterministic random initialisation behind `Toto::random`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::config::TotoConfig;
use crate::rng::SplitMix64;
use crate::Error;

/// One parameter of the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub key: String,
    pub shape: Vec<usize>,
    pub kind: ParamKind,
}

/// What a parameter is, which decides its default initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// `Linear.weight` with this many input features.
    LinearWeight { fan_in: usize },
    /// `Linear.bias` of a layer with this many input features.
    LinearBias { fan_in: usize },
    /// RMSNorm `scale`.
    NormScale,
}

/// Every parameter of upstream's state dict, under its checkpoint name. The MLP uses the fused
/// SwiGLU names (`mlp.0.w12`, `mlp.0.w3`) that the released checkpoint carries; `w12`'s first
/// half of rows is the gate. The rotary `freqs` buffer is not persistent upstream, so not here.
pub fn checkpoint_schema(cfg: &TotoConfig) -> Vec<ParamSpec> {
    let (d, p, f, k) = (cfg.embed_dim, cfg.patch_size, cfg.mlp_hidden_dim, cfg.k_components());
    let mut specs = Vec::new();
    let mut linear = |prefix: String, fan_in: usize, out: usize| {
        specs.push(ParamSpec {
            key: format!("{prefix}.weight"),
            shape: vec![out, fan_in],
            kind: ParamKind::LinearWeight { fan_in },
        });
        specs.push(ParamSpec {
            key: format!("{prefix}.bias"),
            shape: vec![out],
            kind: ParamKind::LinearBias { fan_in },
        });
    };
    linear("model.patch_embed.projection".into(), p, d);
    for i in 0..cfg.num_layers {
        let layer = format!("model.transformer.layers.{i}");
        linear(format!("{layer}.attention.wQKV"), d, 3 * d);
        linear(format!("{layer}.attention.wO"), d, d);
        linear(format!("{layer}.mlp.0.w12"), d, 2 * f);
        linear(format!("{layer}.mlp.0.w3"), f, d);
    }
    linear("model.unembed".into(), d, d * p);
    for head in ["df", "loc_proj", "scale_proj", "mixture_weights"] {
        linear(format!("model.output_distribution.{head}"), d, k);
    }
    for i in 0..cfg.num_layers {
        for norm in ["norm1", "norm2"] {
            specs.push(ParamSpec {
                key: format!("model.transformer.layers.{i}.{norm}.scale"),
                shape: vec![d],
                kind: ParamKind::NormScale,
            });
        }
    }
    specs
}

/// Checks `tensors` against the schema and returns exactly the schema's tensors, as f32 on
/// `device`. Keys the model does not use are ignored, as upstream's loader filters them out.
pub fn check_and_convert(
    cfg: &TotoConfig,
    mut tensors: HashMap<String, Tensor>,
    device: &Device,
) -> Result<HashMap<String, Tensor>, Error> {
    let mut checked = HashMap::new();
    for spec in checkpoint_schema(cfg) {
        let tensor = tensors
            .remove(&spec.key)
            .or_else(|| unfused_mlp_name(&spec.key).and_then(|alias| tensors.remove(&alias)))
            .ok_or_else(|| Error::MissingKey { key: spec.key.clone(), expected: spec.shape.clone() })?;
        if tensor.dims() != spec.shape.as_slice() {
            return Err(Error::ShapeMismatch { key: spec.key, expected: spec.shape, found: tensor.dims().to_vec() });
        }
        let tensor = tensor.to_dtype(DType::F32)?.to_device(device)?;
        checked.insert(spec.key, tensor);
    }
    Ok(checked)
}

/// The name a state dict saved without xFormers gives an MLP parameter (`mlp.0.w12.*` is then
/// `mlp.0.*`, `mlp.0.w3.*` is `mlp.2.*`). Upstream's loader maps between the two namings
/// (`Toto._map_state_dict_keys`), so both load here too; the released checkpoint uses the fused one.
fn unfused_mlp_name(key: &str) -> Option<String> {
    if key.contains(".mlp.0.w12.") {
        Some(key.replace(".mlp.0.w12.", ".mlp.0."))
    } else if key.contains(".mlp.0.w3.") {
        Some(key.replace(".mlp.0.w3.", ".mlp.2."))
    } else {
        None
    }
}

/// Reads a `config.json` in upstream's format.
pub fn read_config(path: &Path) -> Result<TotoConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let cfg: TotoConfig =
        serde_json::from_str(&text).map_err(|source| Error::Config { path: path.to_path_buf(), source })?;
    cfg.validate()?;
    Ok(cfg)
}

/// Reads a safetensors file into host tensors, naming the file on failure.
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>, Error> {
    if !path.is_file() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    Ok(candle_core::safetensors::load(path, &Device::Cpu)?)
}

/// Random weights with torch's default distributions: `Linear` weights and biases uniform in
/// `±1/sqrt(fan_in)`, norm scales 1. Deterministic in `seed` (a [`SplitMix64`] stream per tensor,
/// keyed by its index in the schema), not bit-equal to any torch run.
pub fn random_weights(cfg: &TotoConfig, seed: u64, device: &Device) -> Result<HashMap<String, Tensor>, Error> {
    let mut out = HashMap::new();
    for (index, spec) in checkpoint_schema(cfg).into_iter().enumerate() {
        let numel: usize = spec.shape.iter().product();
        let values: Vec<f32> = match spec.kind {
            ParamKind::NormScale => vec![1.0; numel],
            ParamKind::LinearWeight { fan_in } | ParamKind::LinearBias { fan_in } => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                let mut rng = SplitMix64::for_stream(seed, &[index as u64]);
                (0..numel).map(|_| (bound * (2.0 * rng.next_open01() - 1.0)) as f32).collect()
            }
        };
        out.insert(spec.key, Tensor::from_vec(values, spec.shape, device)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_schema_has_the_released_parameter_count() {
        let total: usize =
            checkpoint_schema(&TotoConfig::base()).iter().map(|s| s.shape.iter().product::<usize>()).sum();
        assert_eq!(total, 151_306_080);
    }

    #[test]
    fn missing_and_misshapen_keys_name_key_and_shapes() {
        let cfg = TotoConfig::mini();
        let mut tensors = random_weights(&cfg, 0, &Device::Cpu).unwrap();
        let key = "model.unembed.weight";
        tensors.insert(key.into(), Tensor::zeros((255, 32), DType::F32, &Device::Cpu).unwrap());
        let err = check_and_convert(&cfg, tensors.clone(), &Device::Cpu).unwrap_err().to_string();
        assert_eq!(err, "checkpoint tensor `model.unembed.weight` has shape [255, 32], expected [256, 32]");
        tensors.remove(key);
        let err = check_and_convert(&cfg, tensors, &Device::Cpu).unwrap_err().to_string();
        assert_eq!(err, "checkpoint has no tensor `model.unembed.weight` (expected shape [256, 32])");
    }

    #[test]
    fn unfused_mlp_names_load_like_upstream() {
        let cfg = TotoConfig::mini();
        let fused = random_weights(&cfg, 3, &Device::Cpu).unwrap();
        let renamed: HashMap<String, Tensor> =
            fused.iter().map(|(k, v)| (unfused_mlp_name(k).unwrap_or_else(|| k.clone()), v.clone())).collect();
        assert!(renamed.contains_key("model.transformer.layers.1.mlp.2.weight"));
        let loaded = check_and_convert(&cfg, renamed, &Device::Cpu).unwrap();
        let key = "model.transformer.layers.1.mlp.0.w3.weight";
        let same = loaded[key].eq(&fused[key]).unwrap().min_all().unwrap().to_scalar::<u8>().unwrap();
        assert_eq!(same, 1);
    }
}
