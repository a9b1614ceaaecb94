//! Shared helpers of the Kronos tests: fixture paths and tolerance checks.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use models::kronos::{Kronos, KronosPredictor, KronosTokenizer};

/// Tolerance of the parity tests: max |ours - upstream| over a tensor, relative to the tensor's
/// largest magnitude. Two CPUs running upstream itself differ by up to 2.2e-6 of it.
pub const REL_TOL: f64 = 2e-5;

pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/kronos")
}

pub fn fixtures() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(reference_dir().join("fixtures.safetensors"), &Device::Cpu).unwrap()
}

pub fn tokenizer() -> KronosTokenizer {
    KronosTokenizer::from_dir(reference_dir().join("tokenizer"), DType::F32, &Device::Cpu).unwrap()
}

pub fn model() -> Kronos {
    Kronos::from_dir(reference_dir().join("predictor"), DType::F32, &Device::Cpu).unwrap()
}

pub fn predictor(max_context: usize) -> KronosPredictor {
    KronosPredictor::new(tokenizer(), model(), max_context).unwrap()
}

/// Integer ids (stored as i64) as the u32 tensors the port uses.
pub fn ids(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}

pub fn as_f32_vec(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// max |got - want| / max |want|, after checking the shapes agree.
pub fn rel_max_diff(got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.dims(), want.dims(), "shape");
    let (g, w) = (as_f32_vec(got), as_f32_vec(want));
    let scale = w.iter().fold(0f64, |m, v| m.max(v.abs() as f64));
    let diff = g.iter().zip(&w).fold(0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    assert!(g.iter().all(|v| v.is_finite()), "non-finite values");
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// Asserts parity within [`REL_TOL`] and prints the measured maximum.
pub fn assert_close(name: &str, got: &Tensor, want: &Tensor) -> f64 {
    let rel = rel_max_diff(got, want);
    println!("parity {name:<32} max|diff|/max|ref| = {rel:.2e}");
    assert!(rel <= REL_TOL, "{name}: relative max difference {rel:.3e} exceeds {REL_TOL:e}");
    rel
}

pub fn assert_ids_eq(name: &str, got: &Tensor, want: &Tensor) {
    let g = got.to_dtype(DType::I64).unwrap().flatten_all().unwrap().to_vec1::<i64>().unwrap();
    let w = want.to_dtype(DType::I64).unwrap().flatten_all().unwrap().to_vec1::<i64>().unwrap();
    assert_eq!(got.dims(), want.dims(), "{name}: shape");
    assert_eq!(g, w, "{name}: ids differ");
    println!("parity {name:<32} identical ({} ids)", g.len());
}
