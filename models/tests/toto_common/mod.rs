//! Shared helpers of the Toto parity tests: fixture loading and tolerance checks that print the
//! measured maxima (run with `--nocapture` to see them).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use models::toto::{Toto, TotoInput, SAMPLE_CHANNELS};

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/reference/toto")
}

pub fn load(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture_dir().join(name), &Device::Cpu).expect("reference fixture")
}

/// The tiny reference model, loaded from its checkpoint with upstream's key names.
pub fn tiny_model() -> Toto {
    Toto::load(&fixture_dir(), &Device::Cpu).expect("tiny reference checkpoint")
}

pub fn flat_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

/// `max |got - want|`.
pub fn max_abs_diff(got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.dims(), want.dims(), "shape mismatch");
    flat_f64(got).iter().zip(flat_f64(want)).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// `max |got - want| / max |want|`.
pub fn max_rel_diff(got: &Tensor, want: &Tensor) -> f64 {
    let scale = flat_f64(want).iter().map(|v| v.abs()).fold(0.0, f64::max);
    max_abs_diff(got, want) / scale.max(f64::MIN_POSITIVE)
}

/// Asserts `max|got - want| <= tol · max|want|`, printing the measured ratio.
pub fn check_rel(name: &str, got: &Tensor, want: &Tensor, tol: f64) -> f64 {
    let rel = max_rel_diff(got, want);
    println!("{name:<28} max |diff| / max |ref| = {rel:.3e} (tolerance {tol:.0e})");
    assert!(rel <= tol, "{name}: {rel:.3e} exceeds {tol:.0e}");
    rel
}

/// Asserts `max|got - want| <= tol`, printing the measured maximum.
pub fn check_abs(name: &str, got: &Tensor, want: &Tensor, tol: f64) -> f64 {
    let abs = max_abs_diff(got, want);
    println!("{name:<28} max |diff| = {abs:.3e} (tolerance {tol:.0e})");
    assert!(abs <= tol, "{name}: {abs:.3e} exceeds {tol:.0e}");
    abs
}

/// A `[1, variates, time]` fixture series as a forecaster input with the OHLC names.
pub fn input_from(series: &Tensor) -> TotoInput {
    let rows = series.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    TotoInput::from_variates(&rows, &SAMPLE_CHANNELS)
}

/// The `pad` case: rows 3..63, ids {open, high} = 0, {low, close} = 1 (checked against the fixture).
pub fn pad_input(fixtures: &HashMap<String, Tensor>) -> TotoInput {
    let ids = fixtures["pad.input.id_mask"].squeeze(0).unwrap().to_dtype(DType::I64).unwrap();
    let per_variate: Vec<i64> = ids.to_vec2::<i64>().unwrap().iter().map(|r| r[0]).collect();
    let input = input_from(&fixtures["pad.input.series"]).with_variate_ids(&per_variate);
    let expected: Vec<i64> = ids.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(input.id_mask, expected);
    input
}

/// `values[t][c]` as a `[1, channels, steps]` tensor.
pub fn forecast_tensor(values: &[Vec<f32>]) -> Tensor {
    let (t, c) = (values.len(), values[0].len());
    let flat: Vec<f32> = (0..c).flat_map(|ch| values.iter().map(move |row| row[ch])).collect();
    Tensor::from_vec(flat, (1, c, t), &Device::Cpu).unwrap()
}
