//! The static-shape graph decoder against the upstream-style KV path (CPU): same mean forecast
//! within 2e-6 of its largest magnitude, same sampled trajectories from the same noise, and a
//! state that `reset` restores in place.

mod toto_common;

use candle_core::{Device, Tensor};
use models::toto::{DecodeOptions, Decoding, ForecastOptions, Toto, TotoGraphDecoder, TotoInput};
use models::{Forecast, GraphDecoder};
use toto_common::*;

const GRAPH_VS_KV_TOLERANCE: f64 = 2e-6;

/// Drives the decoder the way the probe does.
fn run(decoder: &mut TotoGraphDecoder) -> Forecast {
    decoder.reset().unwrap();
    for i in 0..decoder.num_steps() {
        decoder.prepare_step(i).unwrap();
        decoder.step().unwrap();
    }
    decoder.finish().unwrap()
}

fn decoder(
    model: &Toto,
    input: &TotoInput,
    prediction_length: usize,
    decoding: Decoding,
    upstream_syncs: bool,
) -> TotoGraphDecoder {
    let options = DecodeOptions { prediction_length, decoding, upstream_syncs };
    TotoGraphDecoder::new(model, input, options, &Device::Cpu).unwrap()
}

fn kv_mean(model: &Toto, input: &TotoInput, prediction_length: usize) -> Tensor {
    let options = ForecastOptions { prediction_length, decoding: Decoding::Mean, use_kv_cache: true };
    model.forecast(input, &options).unwrap().mean
}

#[test]
fn toto_graph_mean_forecast_equals_kv_path_and_upstream() {
    let fixtures = load("fixtures.safetensors");
    let model = tiny_model();
    for (name, input, reference) in [
        ("plain", input_from(&fixtures["input.series"]), "ar.kv.mean"),
        ("pad", pad_input(&fixtures), "pad.ar.kv.mean"),
    ] {
        let mut dec = decoder(&model, &input, 24, Decoding::Mean, false);
        assert_eq!(dec.num_steps(), 2);
        let graph = run(&mut dec);
        assert_eq!(graph.channels, ["open", "high", "low", "close"]);
        let graph = forecast_tensor(&graph.values);
        check_rel(&format!("{name}: graph vs kv"), &graph, &kv_mean(&model, &input, 24), GRAPH_VS_KV_TOLERANCE);
        check_abs(&format!("{name}: graph vs upstream kv"), &graph, &fixtures[reference], 1e-5);
    }
}

/// 20 decode steps (21 patches after a 64-step context), so the xPos centre moves many times
/// and the mask opens many cache slots.
#[test]
fn toto_graph_long_horizon_equals_kv_path() {
    let fixtures = load("fixtures.safetensors");
    let model = tiny_model();
    let input = input_from(&fixtures["input.series"]);
    let mut dec = decoder(&model, &input, 165, Decoding::Mean, false);
    assert_eq!(dec.num_steps(), 20);
    let graph = forecast_tensor(&run(&mut dec).values);
    check_rel("165 steps: graph vs kv", &graph, &kv_mean(&model, &input, 165), GRAPH_VS_KV_TOLERANCE);
}

#[test]
fn toto_graph_reset_replays_identically_and_upstream_syncs_change_nothing() {
    let fixtures = load("fixtures.safetensors");
    let model = tiny_model();
    let input = pad_input(&fixtures);
    let mut dec = decoder(&model, &input, 40, Decoding::Mean, false);
    let first = run(&mut dec);
    let second = run(&mut dec);
    assert_eq!(first, second, "reset must restore the post-prefill state exactly");
    let mut syncing = decoder(&model, &input, 40, Decoding::Mean, true);
    assert!(syncing.options().upstream_syncs);
    assert_eq!(run(&mut syncing), first);
}

#[test]
fn toto_graph_samples_equal_kv_path_samples() {
    let fixtures = load("fixtures.safetensors");
    let model = tiny_model();
    let input = input_from(&fixtures["input.series"]);
    let decoding = Decoding::Samples { num_samples: 16, seed: 7 };
    let kv = model.forecast(&input, &ForecastOptions { prediction_length: 24, decoding, use_kv_cache: true }).unwrap();
    let kv_samples = kv.samples.clone().unwrap(); // [1, 4, 24, 16]
    let mut dec = decoder(&model, &input, 24, decoding, false);
    for _ in 0..2 {
        let sampled = {
            run(&mut dec);
            dec.finish_samples().unwrap()
        };
        let flat: Vec<f32> = (0..4)
            .flat_map(|c| {
                let sampled = &sampled;
                (0..24).flat_map(move |t| sampled.samples[t][c].clone())
            })
            .collect();
        let graph = Tensor::from_vec(flat, (1, 4, 24, 16), &Device::Cpu).unwrap();
        check_rel("samples: graph vs kv", &graph, &kv_samples, GRAPH_VS_KV_TOLERANCE);
        // The trajectories really differ from each other and from the mean path.
        let spread = max_abs_diff(&graph.narrow(3, 0, 1).unwrap(), &graph.narrow(3, 1, 1).unwrap());
        assert!(spread > 1e-3, "trajectories 0 and 1 coincide ({spread:.3e})");
        let median = forecast_tensor(&sampled.median().values);
        assert_eq!(median.dims(), &[1, 4, 24]);
    }
    // The eager path's quantiles agree with the graph decoder's.
    let eager_q90 = kv.quantile(0.9).unwrap();
    let graph_q90 = forecast_tensor(&dec.finish_samples().unwrap().quantile(0.9).values);
    check_rel("q90: graph vs kv", &graph_q90, &eager_q90, GRAPH_VS_KV_TOLERANCE);
    // The trait's `finish` gives the median in sampling mode.
    let median = dec.finish().unwrap();
    assert_eq!(median, dec.finish_samples().unwrap().median());
}
