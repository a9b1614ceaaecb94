//! Per-patch decode latency of the three Toto paths on CPU.
//!
//! `cargo bench -p models --bench toto_decode [-- mini small base]` (default: mini small).
//! Context: the first 512 rows of the embedded OHLC data (4 variates); 8 generated patches.
//! - recompute / kv: `(T(8 patches) - T(1 patch)) / 7`, i.e. the cost of one decode call
//!   without the first call (the prefill);
//! - graph: the median `step()` of `TotoGraphDecoder`, run eagerly (no capture on CPU).
//!
//! Each figure is the median over 5 runs.

use std::time::Instant;

use candle_core::Device;
use models::data::OhlcvFrame;
use models::toto::{
    DecodeOptions, Decoding, ForecastOptions, Toto, TotoConfig, TotoGraphDecoder, TotoInput, TotoPreset,
};
use models::GraphDecoder;

const CONTEXT: usize = 512;
const PATCHES: usize = 8;
const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn seconds(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn main() {
    let presets: Vec<TotoPreset> = {
        let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
        if args.is_empty() {
            vec![TotoPreset::Mini, TotoPreset::Small]
        } else {
            args.iter().map(|a| a.parse().unwrap_or_else(|e| panic!("{e}"))).collect()
        }
    };
    let device = Device::Cpu;
    let input = TotoInput::from_frame(&OhlcvFrame::embedded(), 0, CONTEXT);
    println!("Toto per-patch decode latency on CPU, context {CONTEXT} steps x 4 variates, {PATCHES} patches, median of {RUNS}");
    println!("| preset | params | patch | recompute (ms/patch) | kv cache (ms/patch) | graph path, eager (ms/step) | graph prefill (ms) |");
    println!("|---|---|---|---|---|---|---|");
    for preset in presets {
        let cfg = TotoConfig::preset(preset);
        let model = Toto::random(&cfg, 0, &device).expect("model");
        let p = cfg.patch_size;
        let forecast = |patches: usize, use_kv_cache: bool| {
            let options = ForecastOptions { prediction_length: patches * p, decoding: Decoding::Mean, use_kv_cache };
            seconds(|| {
                model.forecast(&input, &options).expect("forecast");
            })
        };
        let per_patch = |use_kv_cache: bool| {
            forecast(1, use_kv_cache); // warm-up
            median(
                (0..RUNS)
                    .map(|_| (forecast(PATCHES, use_kv_cache) - forecast(1, use_kv_cache)) / (PATCHES - 1) as f64)
                    .collect(),
            )
        };
        let recompute = per_patch(false);
        let kv = per_patch(true);
        let options = DecodeOptions { prediction_length: PATCHES * p, decoding: Decoding::Mean, upstream_syncs: false };
        let mut prefill = vec![];
        let mut steps = vec![];
        for _ in 0..RUNS {
            let mut decoder = None;
            prefill.push(seconds(|| {
                decoder = Some(TotoGraphDecoder::new(&model, &input, options, &device).expect("decoder"))
            }));
            let mut decoder = decoder.unwrap();
            decoder.reset().unwrap();
            for i in 0..decoder.num_steps() {
                decoder.prepare_step(i).unwrap();
                steps.push(seconds(|| decoder.step().unwrap()));
            }
            decoder.finish().unwrap();
        }
        println!(
            "| {preset:?} | {:.1}M | {p} | {:.2} | {:.2} | {:.2} | {:.1} |",
            model.num_parameters() as f64 / 1e6,
            recompute * 1e3,
            kv * 1e3,
            median(steps) * 1e3,
            median(prefill) * 1e3,
        );
    }
}
