//! `toy`: the probe's own test model, a small autoregressive MLP over the last `window` rows.
//!
//! It is written the way the Kronos and Toto ports must be (see `models::graph`): every buffer that
//! changes between steps is allocated once and updated in place, the step position and the sampling
//! noise are device inputs written by `prepare_step`, and the step never reads anything back.
//! The `toy-*` variants each add one deliberate host sync to the step, so that the probe can be
//! shown to catch it: a candle `to_scalar`, a raw cudarc copy that candle cannot see, and a
//! device synchronize.

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use models::{Forecast, GraphDecoder};

use crate::data::Window;
use crate::model::{BuildError, ModelOptions};

/// The deliberate sync a variant adds to the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncVariant {
    /// Clean: graph-capturable.
    None,
    /// A NaN guard that reads a value back with candle's `to_scalar`.
    ToScalar,
    /// A host-side monitor reading the step's values through cudarc directly, out of candle's
    /// sight (CUDA builds). It never fails the step: under capture it silently reads garbage.
    RawCopy,
    /// `Device::synchronize` in the step: invalidates a stream capture.
    DeviceSync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToyConfig {
    /// Past rows the MLP reads.
    pub window: usize,
    pub hidden: usize,
    pub layers: usize,
}

pub const PRESETS: &[&str] = &["mini", "small", "base"];

impl ToyConfig {
    pub fn preset(name: &str) -> Option<Self> {
        Some(match name {
            "mini" => Self { window: 16, hidden: 32, layers: 2 },
            "small" => Self { window: 32, hidden: 128, layers: 4 },
            "base" => Self { window: 64, hidden: 512, layers: 8 },
            _ => return None,
        })
    }
}

/// How far a step moves from the last value, in units of the context's standard deviation.
const STEP_SCALE: f64 = 0.1;
const NOISE_SCALE: f64 = 0.02;

pub struct Toy {
    device: Device,
    variant: SyncVariant,
    channels: Vec<String>,
    num_steps: usize,
    samples: usize,
    seed: u64,
    /// Per layer: `weight` (in, out) and `bias` (1, out).
    layers: Vec<(Tensor, Tensor)>,
    head: Tensor,
    /// Per channel normalisation of the context.
    mean: Vec<f32>,
    std: Vec<f32>,
    // Device state, allocated once (the graph keeps these addresses).
    /// (samples, window * channels): the normalised rows the next step reads.
    window: Tensor,
    initial_window: Tensor,
    /// (steps, samples, channels): every step adds its row here.
    outputs: Tensor,
    /// (steps, 1, 1): one-hot position of the current step, written by `prepare_step`.
    position: Tensor,
    /// (samples, channels): this step's sampling noise, written by `prepare_step`.
    noise: Tensor,
    /// What the `RawCopy` monitor last read: the largest |value| of the step's output.
    monitor: f32,
}

/// SplitMix64 with Box-Muller: a seeded, platform-independent generator, so that eager and graph
/// runs (and CPU and GPU runs) draw the same noise.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        Self(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// The checkpoint keys and shapes the toy expects, in load order.
pub fn weight_shapes(cfg: &ToyConfig, channels: usize) -> Vec<(String, Vec<usize>)> {
    let mut shapes = Vec::new();
    let mut fan_in = cfg.window * channels;
    for i in 0..cfg.layers {
        shapes.push((format!("layers.{i}.weight"), vec![fan_in, cfg.hidden]));
        shapes.push((format!("layers.{i}.bias"), vec![cfg.hidden]));
        fan_in = cfg.hidden;
    }
    shapes.push(("head.weight".to_string(), vec![cfg.hidden, channels]));
    shapes
}

/// Loads `DIR/model.safetensors`, checking every key and shape before the model uses any of it.
fn load_weights(
    dir: &Path,
    expected: &[(String, Vec<usize>)],
    device: &Device,
) -> std::result::Result<Vec<Tensor>, BuildError> {
    let path = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&path, device)
        .map_err(|e| BuildError::Weights(format!("cannot read {}: {e}", path.display())))?;
    expected
        .iter()
        .map(|(key, shape)| {
            let t = tensors.get(key).ok_or_else(|| {
                BuildError::Weights(format!("{}: missing key `{key}` (expected shape {shape:?})", path.display()))
            })?;
            if t.dims() != shape.as_slice() {
                return Err(BuildError::Weights(format!(
                    "{}: key `{key}` has shape {:?}, the model expects {shape:?}",
                    path.display(),
                    t.dims()
                )));
            }
            Ok(t.to_dtype(DType::F32)?)
        })
        .collect()
}

fn random_weights(expected: &[(String, Vec<usize>)], seed: u64, device: &Device) -> Result<Vec<Tensor>> {
    expected
        .iter()
        .enumerate()
        .map(|(i, (_, shape))| {
            let mut rng = Rng::new(seed, 1_000 + i as u64);
            let fan_in = shape[0] as f64;
            let scale = if shape.len() == 1 { 0.1 } else { 1.0 / fan_in.sqrt() };
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n).map(|_| (f64::from(rng.normal()) * scale) as f32).collect();
            Tensor::from_vec(v, shape.as_slice(), device)
        })
        .collect()
}

impl Toy {
    pub fn new(
        device: &Device,
        opts: &ModelOptions,
        window: &Window,
        variant: SyncVariant,
    ) -> std::result::Result<Self, BuildError> {
        let preset = opts.preset.as_deref().unwrap_or("mini");
        let cfg = ToyConfig::preset(preset).ok_or_else(|| {
            BuildError::Config(format!("unknown preset `{preset}` (toy has: {})", PRESETS.join(", ")))
        })?;
        let c = window.channels.len();
        if window.context.len() < cfg.window {
            return Err(BuildError::Config(format!(
                "toy-{preset} reads the last {} rows: --context must be at least {}",
                cfg.window, cfg.window
            )));
        }
        if opts.samples == 0 || opts.steps == 0 {
            return Err(BuildError::Config("--samples and --steps must be at least 1".into()));
        }
        let shapes = weight_shapes(&cfg, c);
        let mut params = match &opts.weights {
            Some(dir) => load_weights(dir, &shapes, device)?,
            None => random_weights(&shapes, opts.seed, device)?,
        };
        let head = params.pop().expect("head.weight is last");
        let mut layers = Vec::with_capacity(cfg.layers);
        let mut it = params.into_iter();
        while let (Some(w), Some(b)) = (it.next(), it.next()) {
            layers.push((w, b.unsqueeze(0)?));
        }

        let (mean, std) = normalisation(&window.context);
        let tail = &window.context[window.context.len() - cfg.window..];
        let flat: Vec<f32> =
            tail.iter().flat_map(|row| row.iter().enumerate().map(|(j, v)| (v - mean[j]) / std[j])).collect();
        let one = Tensor::from_vec(flat, (1, cfg.window * c), device)?;
        let initial_window = one.repeat((opts.samples, 1))?.contiguous()?;
        let model = Self {
            device: device.clone(),
            variant,
            channels: window.channels.clone(),
            num_steps: opts.steps,
            samples: opts.samples,
            seed: opts.seed,
            layers,
            head,
            mean,
            std,
            window: initial_window.copy()?,
            initial_window,
            outputs: Tensor::zeros((opts.steps, opts.samples, c), DType::F32, device)?,
            position: Tensor::zeros((opts.steps, 1, 1), DType::F32, device)?,
            noise: Tensor::zeros((opts.samples, c), DType::F32, device)?,
            monitor: 0.0,
        };
        Ok(model)
    }

    /// The graphlint-suppressed host syncs of the `toy-*` variants. Each line that syncs carries
    /// the suppression comment, so the static linter is told and the probe must catch it.
    fn deliberate_sync(&mut self, y: &Tensor) -> Result<()> {
        match self.variant {
            SyncVariant::None => Ok(()),
            SyncVariant::ToScalar => {
                let level = y.abs()?.mean_all()?.to_scalar::<f32>()?; // graphlint: ignore[GL801] -- deliberate (toy-bad): the probe must catch this sync
                check_finite(level)
            }
            SyncVariant::RawCopy => {
                // The sync is inside `raw_read`, on its copy line: that is where the probe points.
                let values = raw_read(y)?;
                self.monitor = values.iter().fold(0.0, |m, v| m.max(v.abs()));
                Ok(())
            }
            SyncVariant::DeviceSync => {
                // Not in tail position: a release build turns a tail call into a jump, and the
                // sync would be attributed to the caller's line.
                self.device.synchronize()?; // graphlint: ignore[GL803] -- deliberate (toy-sync): the probe must catch this sync
                Ok(())
            }
        }
    }
}

fn check_finite(v: f32) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        candle_core::bail!("toy: the forecast diverged ({v})")
    }
}

/// Reads a contiguous f32 tensor through cudarc's stream directly. candle's capture guard checks
/// its own copies, not this one: under capture it becomes a device-to-host memcpy node.
#[cfg(feature = "cuda")]
fn raw_read(t: &Tensor) -> Result<Vec<f32>> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        candle_core::Storage::Cuda(s) => {
            let slice = s.as_cuda_slice::<f32>()?;
            let view = slice.slice(layout.start_offset()..layout.start_offset() + t.elem_count());
            let copied = s.device.cuda_stream().clone_dtoh(&view); // graphlint: ignore[GL902] -- deliberate (toy-silent): the probe must catch this sync
            copied.map_err(candle_core::Error::wrap)
        }
        _ => t.flatten_all()?.to_vec1(), // graphlint: ignore[GL801] -- toy-silent on CPU storage: a host read, no device to wait for
    }
}

#[cfg(not(feature = "cuda"))]
fn raw_read(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1() // graphlint: ignore[GL801] -- toy-silent in a build without CUDA: a host read, no device to wait for
}

/// Mean and standard deviation of each channel; a flat channel gets std 1 so it stays finite.
fn normalisation(rows: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
    let c = rows.first().map_or(0, Vec::len);
    let n = rows.len() as f64;
    (0..c)
        .map(|j| {
            let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
            let var = rows.iter().map(|r| (f64::from(r[j]) - mean).powi(2)).sum::<f64>() / n;
            let std = var.sqrt();
            (mean as f32, if std > 1e-12 { std as f32 } else { 1.0 })
        })
        .unzip()
}

impl GraphDecoder for Toy {
    fn device(&self) -> &Device {
        &self.device
    }

    fn num_steps(&self) -> usize {
        self.num_steps
    }

    fn reset(&mut self) -> Result<()> {
        self.window.slice_set(&self.initial_window, 1, 0)?;
        self.outputs.slice_set(&self.outputs.zeros_like()?, 0, 0)
    }

    fn prepare_step(&mut self, i: usize) -> Result<()> {
        let mut position = vec![0f32; self.num_steps];
        position[i] = 1.0;
        self.position.slice_set(&Tensor::from_vec(position, (self.num_steps, 1, 1), &self.device)?, 0, 0)?;
        // Noise depends only on (seed, step): eager and replayed runs see the same values.
        let mut rng = Rng::new(self.seed, i as u64);
        let noise: Vec<f32> = (0..self.noise.elem_count()).map(|_| rng.normal()).collect();
        self.noise.slice_set(&Tensor::from_vec(noise, self.noise.dims(), &self.device)?, 0, 0)
    }

    fn step(&mut self) -> Result<()> {
        let c = self.channels.len();
        let w = self.window.dim(1)? / c;
        let mut h = self.window.clone();
        for (weight, bias) in &self.layers {
            h = h.matmul(weight)?.broadcast_add(bias)?.tanh()?;
        }
        let delta = h.matmul(&self.head)?;
        let last = self.window.narrow(1, (w - 1) * c, c)?;
        let y = ((last + (delta * STEP_SCALE)?)? + (&self.noise * NOISE_SCALE)?)?;
        self.deliberate_sync(&y)?;
        let next = Tensor::cat(&[&self.window.narrow(1, c, (w - 1) * c)?, &y], 1)?;
        self.window.slice_set(&next, 1, 0)?;
        // Row `i` of the outputs is still zero: adding position * y writes y there exactly.
        let written = self.outputs.broadcast_add(&self.position.broadcast_mul(&y.unsqueeze(0)?)?)?;
        self.outputs.slice_set(&written, 0, 0)
    }

    fn finish(&mut self) -> Result<Forecast> {
        let mean_over_samples = self.outputs.mean(1)?; // (steps, channels)
        let rows: Vec<Vec<f32>> = mean_over_samples.to_vec2()?;
        let values = rows
            .into_iter()
            .map(|r| r.into_iter().enumerate().map(|(j, v)| v * self.std[j] + self.mean[j]).collect())
            .collect();
        debug_assert!(self.samples >= 1);
        Ok(Forecast { channels: self.channels.clone(), values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Series;

    fn opts(steps: usize, samples: usize) -> ModelOptions {
        ModelOptions { preset: None, weights: None, context: 64, steps, samples, seed: 7, upstream_syncs: false }
    }

    fn run(model: &mut Toy) -> Forecast {
        model.reset().unwrap();
        for i in 0..model.num_steps() {
            model.prepare_step(i).unwrap();
            model.step().unwrap();
        }
        model.finish().unwrap()
    }

    #[test]
    fn a_reset_run_repeats_bit_for_bit_and_stays_near_the_data() {
        let w = Series::embedded().window(&["open", "close"], 64, 8).unwrap();
        let mut m = Toy::new(&Device::Cpu, &opts(8, 3), &w, SyncVariant::None).unwrap();
        let a = run(&mut m);
        let b = run(&mut m);
        assert_eq!(a, b);
        assert_eq!((a.values.len(), a.channels.len()), (8, 2));
        // Steps move by a fraction of the context's spread: the forecast stays in its range.
        let last = w.context.last().unwrap()[1];
        assert!(a.values.iter().all(|r| (r[1] - last).abs() < 1.0), "{:?}", a.values);
    }

    #[test]
    fn every_variant_forecasts_the_same_values_on_cpu() {
        let w = Series::embedded().window(&["close"], 32, 4).unwrap();
        let clean = run(&mut Toy::new(&Device::Cpu, &opts(4, 1), &w, SyncVariant::None).unwrap());
        for v in [SyncVariant::ToScalar, SyncVariant::RawCopy, SyncVariant::DeviceSync] {
            assert_eq!(run(&mut Toy::new(&Device::Cpu, &opts(4, 1), &w, v).unwrap()), clean, "{v:?}");
        }
    }

    #[test]
    fn a_short_context_and_an_unknown_preset_are_config_errors() {
        let w = Series::embedded().window(&["close"], 8, 4).unwrap();
        let e = Toy::new(&Device::Cpu, &opts(4, 1), &w, SyncVariant::None).err().unwrap();
        assert_eq!(e.to_string(), "toy-mini reads the last 16 rows: --context must be at least 16");
        let mut o = opts(4, 1);
        o.preset = Some("huge".into());
        let w = Series::embedded().window(&["close"], 32, 4).unwrap();
        let e = Toy::new(&Device::Cpu, &o, &w, SyncVariant::None).err().unwrap();
        assert_eq!(e.to_string(), "unknown preset `huge` (toy has: mini, small, base)");
    }
}
