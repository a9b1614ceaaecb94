//! Optional recording of intermediate tensors, named as in the reference fixtures
//! (`layer0.q`, `dist.probs`, …), so parity tests can compare every stage.

use std::collections::BTreeMap;

use candle_core::Tensor;

/// Records named intermediates when created with [`Taps::recording`]; costs nothing otherwise.
#[derive(Debug, Default)]
pub struct Taps {
    recorded: Option<BTreeMap<String, Tensor>>,
}

impl Taps {
    pub fn off() -> Self {
        Self { recorded: None }
    }

    pub fn recording() -> Self {
        Self { recorded: Some(BTreeMap::new()) }
    }

    /// Records `tensor` as `scope.name` (or `name` when `scope` is empty).
    pub fn put(&mut self, scope: &str, name: &str, tensor: &Tensor) {
        if let Some(map) = &mut self.recorded {
            let key = if scope.is_empty() { name.to_string() } else { format!("{scope}.{name}") };
            map.insert(key, tensor.clone());
        }
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.recorded.as_ref()?.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.recorded.as_ref().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}
