//! Per-step decode latency of Kronos on the CPU, both generation paths.
//!
//! `cargo bench -p models --bench kronos_decode [-- --preset mini --context 256 --steps 32 --samples 1]`
//! (`RAYON_NUM_THREADS` sets candle's CPU threads.)
//!
//! Reference path: one `ReferenceGenerator::step` (the whole window re-run, upstream's algorithm).
//! Graph path: `prepare_step` + `step` of the `GraphGenerator` (one token against the KV buffers),
//! run eagerly: on the CPU there is no graph to replay, so this is the same work a captured step
//! does, plus candle's per-op overhead.

use std::time::Instant;

use candle_core::{DType, Device};
use models::data::OhlcvFrame;
use models::kronos::{ForecastInput, GraphOptions, KronosPredictor, Preset, SamplingParams};
use models::GraphDecoder;

struct Args {
    preset: Preset,
    context: usize,
    steps: usize,
    samples: usize,
}

fn parse_args() -> Args {
    let mut args = Args { preset: Preset::Mini, context: 256, steps: 32, samples: 1 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--preset" => args.preset = value().parse().unwrap(),
            "--context" => args.context = value().parse().unwrap(),
            "--steps" => args.steps = value().parse().unwrap(),
            "--samples" => args.samples = value().parse().unwrap(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn row(path: &str, sampling: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "| {path:<9} | {sampling:<13} | {:>8.2} | {:>8.2} | {:>8.2} |",
        percentile(&ms, 0.5),
        percentile(&ms, 0.1),
        percentile(&ms, 0.9)
    );
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() -> candle_core::Result<()> {
    let args = parse_args();
    let device = Device::Cpu;
    let predictor = KronosPredictor::random(args.preset, 0, DType::F32, &device)?;
    let input = ForecastInput::from_frame(&OhlcvFrame::embedded(), 0, args.context, args.steps)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    println!(
        "Kronos-{} (random init, f32), CPU: {} ({} threads), context {}, {} steps, {} sample path(s), max_context {}",
        args.preset,
        cpu_name(),
        candle_core::utils::get_num_threads(),
        args.context,
        args.steps,
        args.samples,
        predictor.max_context
    );
    println!("per-step latency in ms:\n");
    println!("| path      | sampling      |   median |      p10 |      p90 |");
    println!("|-----------|---------------|----------|----------|----------|");
    let modes = [
        ("greedy", SamplingParams { sample_count: args.samples, ..SamplingParams::greedy() }),
        ("top_p 0.9", SamplingParams { sample_count: args.samples, ..SamplingParams::default() }),
    ];
    for (name, params) in &modes {
        // Each path runs twice; the second pass is timed (the first warms allocators up).
        let mut times = Vec::new();
        for _pass in 0..2 {
            times.clear();
            let mut reference = predictor.reference_generator(&input, params)?;
            for _ in 0..args.steps {
                let t = Instant::now();
                reference.step()?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        row("reference", name, times.clone());

        let mut graph = predictor.graph_generator(&input, params, GraphOptions::default())?;
        for _pass in 0..2 {
            times.clear();
            graph.reset()?;
            for i in 0..args.steps {
                let t = Instant::now();
                graph.prepare_step(i)?;
                graph.step()?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        row("graph", name, times.clone());
    }
    Ok(())
}
