//! The Toto-Open-Base-1.0 shape (151M parameters) on CPU: the random-init parameter count, and
//! one forward with every weight rebuilt from the reference's closed-form formula, compared with
//! upstream's recorded forward (4 variates × 2 patches of 64 steps).

mod toto_common;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use models::toto::{Taps, Toto, TotoConfig};
use serde_json::Value;
use toto_common::*;

/// The weight formula of `real_shape_manifest.json`: for element `i` of the tensor with index
/// `seed` among the sorted checkpoint names, `k = (i·2654435761 + seed·40503 + 12345) mod 2³²`,
/// `u = f32(k >> 8)·2⁻²⁴ − 0.5`, `w = u·s + offset` as two separate f32 operations.
fn hash_weights(numel: usize, seed: u64, s: f32, offset: f32) -> Vec<f32> {
    (0..numel as u64)
        .map(|i| {
            let k = (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 40_503).wrapping_add(12_345)) & 0xFFFF_FFFF;
            let u = (k >> 8) as f32 * (1.0 / (1u32 << 24) as f32) - 0.5;
            let scaled = u * s;
            scaled + offset
        })
        .collect()
}

/// Rebuilds every weight and checks it against the manifest's first values and float64 sum.
fn rebuild_weights(manifest: &Value) -> HashMap<String, Tensor> {
    let specs = manifest["weights (checkpoint names)"].as_object().expect("weights table");
    let mut names: Vec<&String> = specs.keys().collect();
    names.sort();
    let mut out = HashMap::new();
    for (index, name) in names.into_iter().enumerate() {
        let spec = &specs[name];
        assert_eq!(spec["seed"].as_u64(), Some(index as u64), "{name}: seed is its sorted index");
        let shape: Vec<usize> =
            spec["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let s = f32::from_bits(u32::from_str_radix(spec["s_f32_hex"].as_str().unwrap(), 16).unwrap());
        assert_eq!(s as f64, spec["s"].as_f64().unwrap());
        let offset = spec["offset"].as_f64().unwrap() as f32;
        let values = hash_weights(shape.iter().product(), index as u64, s, offset);
        let first4: Vec<f32> = spec["first4"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        assert_eq!(values[..4], first4[..], "{name}: first values");
        let sum: f64 = values.iter().map(|&v| v as f64).sum();
        let want = spec["sum_f64"].as_f64().unwrap();
        assert!((sum - want).abs() <= 1e-9 * want.abs().max(1.0), "{name}: sum {sum} vs {want}");
        out.insert(name.clone(), Tensor::from_vec(values, shape, &Device::Cpu).unwrap());
    }
    out
}

#[test]
fn toto_base_preset_has_the_released_parameter_count() {
    let model = Toto::random(&TotoConfig::base(), 0, &Device::Cpu).unwrap();
    assert_eq!(model.num_parameters(), 151_306_080);
}

#[test]
fn toto_real_shape_forward_matches_upstream() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("real_shape_manifest.json")).unwrap())
            .unwrap();
    let cfg: TotoConfig = serde_json::from_value(manifest["config"].clone()).unwrap();
    assert_eq!(cfg, TotoConfig { use_memory_efficient_attention: false, ..TotoConfig::base() });
    let weights = rebuild_weights(&manifest);
    let model = Toto::from_tensors(&cfg, weights, &Device::Cpu).unwrap();
    assert_eq!(model.num_parameters(), manifest["param_count"].as_u64().unwrap() as usize);

    let reference = load("real_shape.safetensors");
    let series = &reference["input.series"];
    let mut taps = Taps::recording();
    let out =
        model.forward(series, &series.ones_like().unwrap(), &series.zeros_like().unwrap(), 128, &mut taps).unwrap();
    for name in ["scaler.loc", "scaler.scale"] {
        check_abs(name, taps.get(name).unwrap(), &reference[name], 1e-9);
    }
    let mut names: Vec<String> = vec!["patch_embed".into()];
    names.extend((0..12).map(|i| format!("layer{i}.out")));
    names.extend(["dist.probs", "dist.df", "dist.loc", "dist.scale"].map(String::from));
    for name in &names {
        check_rel(name, taps.get(name).unwrap(), &reference[name.as_str()], 2e-5);
    }
    check_rel("affine_mean", &out.affine_mean, &reference["affine_mean"], 2e-5);
}
