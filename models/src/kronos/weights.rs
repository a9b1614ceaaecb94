//! Where the weights come from: an upstream checkpoint, a seeded random init, or (for counting)
//! nothing at all. Every source is a candle `SimpleBackend`, so the model code reads its tensors
//! with `VarBuilder::pp` paths that spell upstream's state-dict keys.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Error, Result, Shape, Tensor};
use candle_nn::{var_builder::SimpleBackend, Init, VarBuilder};

use crate::rng::{hash_name, SplitMix64};

/// Non-trainable buffers that upstream stores in its state dict next to the parameters.
pub(crate) fn is_buffer(name: &str) -> bool {
    name.ends_with("rotary.inv_freq") || name.ends_with("bsq.basis") || name.ends_with("bsq.group_basis")
}

/// A set of named tensors, for instance an upstream `model.safetensors`, held on the CPU until a
/// model asks for them.
///
/// Lookups fail with an error that names the full key and both shapes, so a checkpoint that does
/// not fit its config says exactly where.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    tensors: HashMap<String, Tensor>,
    origin: String,
}

impl Checkpoint {
    pub fn from_tensors(tensors: HashMap<String, Tensor>, origin: impl Into<String>) -> Self {
        Self { tensors, origin: origin.into() }
    }

    pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| Error::Msg(format!("cannot read {}: {e}", path.display())))?;
        Ok(Self::from_tensors(tensors, path.display().to_string()))
    }

    pub fn tensors(&self) -> &HashMap<String, Tensor> {
        &self.tensors
    }

    pub fn into_var_builder(self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self), dtype, device.clone())
    }
}

impl SimpleBackend for Checkpoint {
    fn get(&self, shape: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let Some(t) = self.tensors.get(name) else {
            return Err(Error::Msg(format!(
                "missing tensor `{name}` in {}: the model expects shape {:?}, the checkpoint has no such key",
                self.origin,
                shape.dims()
            )));
        };
        if t.shape() != &shape {
            return Err(Error::Msg(format!(
                "tensor `{name}` in {} has shape {:?}, the model expects {:?}",
                self.origin,
                t.dims(),
                shape.dims()
            )));
        }
        t.to_device(dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        match self.tensors.get(name) {
            Some(t) => t.to_device(dev)?.to_dtype(dtype),
            None => Err(Error::Msg(format!("missing tensor `{name}` in {}", self.origin))),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

/// Seeded random init following the init hints the model code gives (upstream's schemes).
///
/// Each tensor draws from its own stream, keyed by the seed and the tensor's name, so a tensor's
/// values do not depend on the order in which the model asks for them. Buffers are absent, so the
/// model computes them as upstream does.
#[derive(Debug, Clone)]
pub struct SeededInit {
    seed: u64,
}

impl SeededInit {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    pub fn into_var_builder(self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self), dtype, device.clone())
    }
}

impl SimpleBackend for SeededInit {
    fn get(&self, shape: Shape, name: &str, init: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let n = shape.elem_count();
        let mut rng = SplitMix64::for_stream(self.seed, &[hash_name(name)]);
        let values: Vec<f32> = match init {
            Init::Const(v) => vec![v as f32; n],
            Init::Randn { mean, stdev } => (0..n).map(|_| (mean + stdev * rng.next_normal()) as f32).collect(),
            Init::Uniform { lo, up } => (0..n).map(|_| (lo + (up - lo) * rng.next_open01()) as f32).collect(),
            Init::Kaiming { .. } => {
                return Err(Error::Msg(format!("SeededInit: no Kaiming init for `{name}`, give explicit bounds")))
            }
        };
        Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> Result<Tensor> {
        Err(Error::Msg(format!("SeededInit needs a shape to create `{name}`")))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        !is_buffer(name)
    }
}

/// Records the name and shape of every parameter a model asks for, allocating nothing.
#[derive(Debug, Clone, Default)]
pub struct ShapeRecorder {
    seen: Arc<Mutex<Vec<(String, Shape)>>>,
}

impl ShapeRecorder {
    /// Builds a model against this recorder and returns the parameters it asked for, in order.
    pub fn record<T>(build: impl FnOnce(VarBuilder<'static>) -> Result<T>) -> Result<Vec<(String, Shape)>> {
        let recorder = ShapeRecorder::default();
        let seen = recorder.seen.clone();
        build(VarBuilder::from_backend(Box::new(recorder), DType::F32, Device::Cpu))?;
        let seen = seen.lock().map_err(|_| Error::Msg("poisoned recorder".into()))?;
        Ok(seen.clone())
    }
}

impl SimpleBackend for ShapeRecorder {
    fn get(&self, shape: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        self.seen.lock().map_err(|_| Error::Msg("poisoned recorder".into()))?.push((name.to_string(), shape.clone()));
        // A zero-stride view of one element: the model only stores it.
        Tensor::zeros((), dtype, dev)?.broadcast_as(shape)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> Result<Tensor> {
        Err(Error::Msg(format!("ShapeRecorder needs a shape for `{name}`")))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        !is_buffer(name)
    }
}
