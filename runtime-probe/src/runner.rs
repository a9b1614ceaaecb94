//! The phases of `probe run`, generic over any registered [`GraphDecoder`]. The CPU path runs the
//! eager phases and the parity bookkeeping; the CUDA path (`gpu.rs`) adds tracing, capture, replay
//! and CUDA-event timing, and both end in [`assemble`].

use std::time::Instant;

use candle_core::Device;
use models::{Forecast, GraphDecoder};

use crate::cli::{DeviceArg, RunArgs};
use crate::data::{Series, Window};
use crate::error::{error_text, ProbeError};
use crate::metrics;
use crate::model::{BuildError, ModelEntry, ModelOptions};
use crate::progress::Progress;
use crate::registry;
use crate::report::*;
use crate::trace::{self, Stage, SyncEvent};

/// Everything a run needs, resolved and checked from the command line.
pub struct RunConfig {
    pub entry: ModelEntry,
    pub preset: String,
    pub opts: ModelOptions,
    pub window: Window,
    pub atol: f64,
    pub repeats: usize,
    pub command: String,
    /// `--static-check`: where to find the sources the frames name.
    pub static_check: Option<crate::crosscheck::SourceLocator>,
}

pub struct Outcome {
    pub report: Report,
    pub window: Window,
}

impl RunConfig {
    pub fn resolve(args: &RunArgs) -> Result<Self, ProbeError> {
        let entry = registry::find(&args.model).ok_or_else(|| ProbeError::UnknownModel {
            name: args.model.clone(),
            known: registry::names().join(", "),
        })?;
        let preset = args.preset.clone().unwrap_or_else(|| entry.presets[0].to_string());
        if !entry.presets.contains(&preset.as_str()) {
            return Err(ProbeError::Usage(format!(
                "model `{}` has no preset `{preset}` (it has: {})",
                entry.name,
                entry.presets.join(", ")
            )));
        }
        if let Some(dir) = &args.weights {
            if !dir.is_dir() {
                return Err(ProbeError::Weights(format!("--weights {}: not a directory", dir.display())));
            }
        }
        if let Some(dir) = &args.source_root {
            if !args.static_check {
                return Err(ProbeError::Usage("--source-root is for --static-check".into()));
            }
            if !dir.is_dir() {
                return Err(ProbeError::Usage(format!("--source-root {}: not a directory", dir.display())));
            }
        }
        if args.atol.is_nan() || args.atol < 0.0 {
            return Err(ProbeError::Usage(format!("--atol must be a number >= 0, got {}", args.atol)));
        }
        if args.upstream_syncs && !entry.upstream_syncs {
            return Err(ProbeError::Usage(format!(
                "model `{}` has no upstream-style syncs mode (--upstream-syncs is for: {})",
                entry.name,
                registry::models().iter().filter(|m| m.upstream_syncs).map(|m| m.name).collect::<Vec<_>>().join(", ")
            )));
        }
        let (default_context, default_steps) = (entry.default_window)(&preset);
        let context = args.context.unwrap_or(default_context);
        let steps = args.steps.unwrap_or(default_steps);
        let series = Series::load(args.data.as_deref())?;
        let window = series.window(entry.channels, context, steps)?;
        let opts = ModelOptions {
            preset: Some(preset.clone()),
            weights: args.weights.clone(),
            context,
            steps,
            samples: args.samples,
            seed: args.seed,
            upstream_syncs: args.upstream_syncs,
        };
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let static_check =
            args.static_check.then(|| crate::crosscheck::SourceLocator::new(args.source_root.as_deref()));
        Ok(Self { entry, preset, opts, window, atol: args.atol, repeats: args.repeats, command, static_check })
    }

    pub(crate) fn build(&self, device: &Device) -> Result<Box<dyn GraphDecoder>, ProbeError> {
        trace::set_position(Stage::Setup, None);
        let built = (self.entry.build)(device, &self.opts, &self.window);
        trace::set_position(Stage::Probe, None);
        built.map_err(|e| match e {
            BuildError::Weights(m) => ProbeError::Weights(m),
            BuildError::Config(m) => ProbeError::Usage(m),
            BuildError::Candle(e) => {
                ProbeError::Model(format!("building `{}` failed: {}", self.entry.name, error_text(&e)))
            }
        })
    }
}

/// Runs `probe run` with the parsed arguments.
pub fn run(args: &RunArgs) -> Result<Outcome, ProbeError> {
    let cfg = RunConfig::resolve(args)?;
    let progress = Progress::new();
    let parts = match args.device {
        DeviceArg::Cpu => run_cpu(&cfg, &progress),
        #[cfg(feature = "cuda")]
        DeviceArg::Cuda(ordinal) => crate::gpu::run_cuda(&cfg, ordinal, &progress),
        #[cfg(not(feature = "cuda"))]
        DeviceArg::Cuda(ordinal) => Err(ProbeError::NoDevice {
            message: format!("--device cuda:{ordinal}: this probe was built without CUDA support"),
            hint: "build with `cargo build --release --features cuda -p runtime-probe`, \
                   or pass --device cpu to run the eager phases only"
                .into(),
        }),
    };
    progress.finish();
    let mut report = assemble(&cfg, parts?)?;
    if let Some(locator) = &cfg.static_check {
        // After the run, from the report itself: `probe static-check REPORT` gives the same answer.
        let json = serde_json::to_value(&report).expect("the report serialises");
        report.static_check = Some(crate::crosscheck::check_report(&json, locator));
    }
    Ok(Outcome { report, window: cfg.window })
}

/// Times one decode step.
pub(crate) trait StepTimer {
    fn start(&mut self) -> candle_core::Result<()>;
    /// Microseconds since `start`.
    fn stop(&mut self) -> candle_core::Result<f64>;
}

/// Wall-clock timing, for CPU runs.
pub(crate) struct WallTimer(Option<Instant>);

impl StepTimer for WallTimer {
    fn start(&mut self) -> candle_core::Result<()> {
        self.0 = Some(Instant::now());
        Ok(())
    }
    fn stop(&mut self) -> candle_core::Result<f64> {
        Ok(self.0.take().map_or(f64::NAN, |t| t.elapsed().as_secs_f64() * 1e6))
    }
}

pub(crate) struct Decoded {
    pub forecast: Forecast,
    pub step_us: Vec<f64>,
}

/// One forecast, in the order the contract prescribes: `reset`, then `prepare_step(i)` and the
/// step for each `i`, then `finish`. `run_step` is the model's `step` (eager) or a graph launch.
pub(crate) fn decode(
    model: &mut dyn GraphDecoder,
    run_step: &mut dyn FnMut(&mut dyn GraphDecoder) -> candle_core::Result<()>,
    mut timer: Option<&mut dyn StepTimer>,
    progress: &Progress,
    what: &str,
) -> Result<Decoded, ProbeError> {
    let fail = |phase: &str, step: Option<usize>, e: candle_core::Error| {
        trace::set_position(Stage::Probe, None);
        let at = step.map_or_else(String::new, |s| format!(" of step {s}"));
        ProbeError::Model(format!("{what}: {phase}{at} failed: {}", error_text(&e)))
    };
    trace::set_position(Stage::Reset, None);
    model.reset().map_err(|e| fail("reset", None, e))?;
    let mut step_us = Vec::new();
    for i in 0..model.num_steps() {
        trace::set_position(Stage::Prepare, Some(i));
        model.prepare_step(i).map_err(|e| fail("prepare_step", Some(i), e))?;
        if let Some(t) = timer.as_deref_mut() {
            t.start().map_err(|e| fail("timer start", Some(i), e))?;
        }
        trace::set_position(Stage::Step, Some(i));
        run_step(model).map_err(|e| fail("the step", Some(i), e))?;
        if let Some(t) = timer.as_deref_mut() {
            step_us.push(t.stop().map_err(|e| fail("timer stop", Some(i), e))?);
        }
        progress.inc();
    }
    trace::set_position(Stage::Finish, None);
    let forecast = model.finish().map_err(|e| fail("finish", None, e))?;
    trace::set_position(Stage::Probe, None);
    Ok(Decoded { forecast, step_us })
}

pub(crate) fn eager_step(m: &mut dyn GraphDecoder) -> candle_core::Result<()> {
    m.step()
}

/// Everything a device path measured, for [`assemble`].
pub(crate) struct Parts {
    pub device: DeviceInfo,
    pub tracer: TracerInfo,
    pub decode_steps: usize,
    /// Syncs of phase 1 (setup, reset, prepare, step, finish).
    pub eager_events: Vec<SyncEvent>,
    pub capture: CaptureSection,
    pub eager: Forecast,
    pub graph: Option<Forecast>,
    pub rerun: Option<Forecast>,
    pub timing: TimingSection,
    pub memory: Option<MemorySection>,
    pub notes: Vec<String>,
}

fn run_cpu(cfg: &RunConfig, progress: &Progress) -> Result<Parts, ProbeError> {
    let device = Device::Cpu;
    let mut model = cfg.build(&device)?;
    let n = model.num_steps();
    progress.start((n * (2 + cfg.repeats)) as u64);
    let eager = decode(&mut *model, &mut eager_step, None, progress, "eager run")?;
    let rerun = decode(&mut *model, &mut eager_step, None, progress, "eager rerun")?;
    let mut step_us = Vec::new();
    for _ in 0..cfg.repeats {
        let mut timer = WallTimer(None);
        step_us.extend(decode(&mut *model, &mut eager_step, Some(&mut timer), progress, "timed eager run")?.step_us);
    }
    Ok(Parts {
        device: DeviceInfo {
            kind: "cpu",
            ordinal: None,
            name: "cpu".into(),
            compute_capability: None,
            driver_version: None,
        },
        tracer: TracerInfo { status: "not_applicable", detail: "cpu device: no CUDA calls to trace".into() },
        decode_steps: n,
        eager_events: Vec::new(),
        capture: CaptureSection::skipped("--device cpu: eager phases and parity bookkeeping only; no CUDA graph"),
        eager: eager.forecast,
        graph: None,
        rerun: Some(rerun.forecast),
        timing: TimingSection {
            clock: "wall",
            repeats: cfg.repeats,
            eager: metrics::latency_stats(&step_us),
            graph: None,
            speedup: None,
            capture_ms: None,
            instantiate_ms: None,
        },
        memory: None,
        notes: vec!["--device cpu: eager phases and parity bookkeeping only (no tracer, no capture, no replay)".into()],
    })
}

impl CaptureSection {
    pub(crate) fn skipped(detail: &str) -> Self {
        Self {
            status: CaptureStatus::Skipped,
            detail: Some(detail.into()),
            syncs_during_capture: Vec::new(),
            capture_errors: Vec::new(),
            failing_call: None,
            silent_syncs: Vec::new(),
            nodes: None,
            context_usable_after_failure: None,
            cleared_errors: Vec::new(),
        }
    }
}

/// The forecast's rows in the window's channel order, checked against the future's shape.
pub(crate) fn forecast_rows(f: &Forecast, window: &Window) -> Result<Vec<Vec<f32>>, ProbeError> {
    let idx = window
        .channels
        .iter()
        .map(|c| {
            f.channels.iter().position(|fc| fc == c).ok_or_else(|| {
                ProbeError::Model(format!(
                    "the forecast has no channel `{c}` (it has: {}); the registry entry's channels must \
                     name the model's forecast channels",
                    f.channels.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if f.values.len() != window.future.len() {
        return Err(ProbeError::Model(format!(
            "the forecast has {} rows, --steps asked for {}",
            f.values.len(),
            window.future.len()
        )));
    }
    f.values
        .iter()
        .enumerate()
        .map(|(t, row)| {
            idx.iter()
                .map(|&i| {
                    row.get(i).copied().ok_or_else(|| {
                        ProbeError::Model(format!(
                            "forecast row {t} has {} values, expected {}",
                            row.len(),
                            f.channels.len()
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

fn mismatch(e: metrics::ShapeMismatch) -> ProbeError {
    ProbeError::Model(e.to_string())
}

/// UTC now as RFC 3339, without a date library.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Builds the report from what a device path measured: parity, accuracy, verdict.
pub(crate) fn assemble(cfg: &RunConfig, p: Parts) -> Result<Report, ProbeError> {
    let w = &cfg.window;
    let eager = forecast_rows(&p.eager, w)?;
    let graph = p.graph.as_ref().map(|f| forecast_rows(f, w)).transpose()?;
    let rerun = p.rerun.as_ref().map(|f| forecast_rows(f, w)).transpose()?;
    let baseline = metrics::last_value_forecast(&w.context, w.future.len());

    let parity = match (&graph, &rerun) {
        (Some(g), _) => Some(("eager_vs_graph", g)),
        (None, Some(r)) => Some(("eager_vs_eager_rerun", r)),
        (None, None) => None,
    }
    .map(|(compared, other)| -> Result<ParitySection, ProbeError> {
        let comparison = metrics::compare(&eager, other).map_err(mismatch)?;
        let verdict = metrics::verdict(&comparison, cfg.atol);
        Ok(ParitySection { compared, comparison, verdict })
    })
    .transpose()?;
    let accuracy = AccuracySection {
        eager: metrics::accuracy(&eager, &w.future).map_err(mismatch)?,
        graph: graph.as_ref().map(|g| metrics::accuracy(g, &w.future)).transpose().map_err(mismatch)?,
        baseline_last_value: metrics::accuracy(&baseline, &w.future).map_err(mismatch)?,
    };

    let mut syncs_per_phase = std::collections::BTreeMap::new();
    for e in &p.eager_events {
        *syncs_per_phase.entry(e.phase).or_insert(0) += 1;
    }
    let eager_section = EagerSection {
        syncs_per_step: if p.tracer.status == "cupti" {
            trace::per_step_counts(&p.eager_events, p.decode_steps)
        } else {
            Vec::new()
        },
        syncs_per_phase,
        sites: trace::summarize(&p.eager_events),
    };
    let verdict = verdict(cfg, &p, parity.as_ref());
    let m = &cfg.opts;
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        probe: ProbeInfo {
            version: env!("CARGO_PKG_VERSION"),
            commit: env!("PROBE_GIT_COMMIT"),
            started_at: utc_now(),
            command: cfg.command.clone(),
        },
        model: ModelInfo {
            name: cfg.entry.name.to_string(),
            preset: cfg.preset.clone(),
            weights: m.weights.as_ref().map(|d| d.display().to_string()),
            context: m.context,
            steps: m.steps,
            samples: m.samples,
            seed: m.seed,
            upstream_syncs: m.upstream_syncs,
            decode_steps: p.decode_steps,
        },
        data: DataInfo {
            origin: w.origin.clone(),
            channels: w.channels.clone(),
            context_rows: w.context.len(),
            future_rows: w.future.len(),
            first_timestamp: w.timestamps.as_ref().and_then(|t| t.first().cloned()),
            last_timestamp: w.timestamps.as_ref().and_then(|t| t.last().cloned()),
        },
        device: p.device,
        tracer: p.tracer,
        eager: eager_section,
        capture: p.capture,
        forecast: ForecastSection {
            channels: w.channels.clone(),
            eager,
            graph,
            eager_rerun: rerun,
            actual: w.future.clone(),
            baseline_last_value: baseline,
        },
        parity,
        accuracy,
        timing: p.timing,
        memory: p.memory,
        static_check: None,
        verdict,
    })
}

fn first_site(sites: impl Iterator<Item = Option<String>>) -> String {
    let sites: Vec<String> = sites.map(|s| s.unwrap_or_else(|| "<unknown line>".into())).collect();
    if sites.is_empty() {
        String::new()
    } else {
        format!(" at {}", sites.join(", "))
    }
}

fn verdict(cfg: &RunConfig, p: &Parts, parity: Option<&ParitySection>) -> VerdictSection {
    let mut notes = p.notes.clone();
    let c = &p.capture;
    let parity_text = |par: &ParitySection| {
        let v = &par.verdict;
        if v.ok {
            let exact = if par.comparison.bit_identical { ", bit-identical" } else { "" };
            format!("PARITY OK within atol {} (max |diff| {}{exact})", v.atol, fmt_err(par.comparison.max_abs_diff))
        } else {
            let step = v.first_diverging_step.unwrap_or(0);
            let d = par.comparison.per_step.get(step).map_or(f64::NAN, |s| s.max_abs_diff);
            format!("PARITY FAIL: first diverging step {step} (max |diff| {} > atol {})", fmt_err(d), v.atol)
        }
    };
    let parity_ok = parity.is_some_and(|par| par.verdict.ok);
    let (ok, line) = match c.status {
        CaptureStatus::Skipped => {
            let what = parity.map_or_else(|| "no parity check".to_string(), parity_text);
            (parity_ok, format!("CPU RUN (eager only): {what} between two eager runs"))
        }
        CaptureStatus::Captured => {
            let syncs = c.syncs_during_capture.len();
            let what = parity.map_or_else(|| "no graph forecast".to_string(), parity_text);
            (
                parity_ok && syncs == 0,
                format!("{what}; {syncs} sync(s) per decode step under capture; {} graph replays", p.decode_steps),
            )
        }
        CaptureStatus::Refused => {
            let sites = first_site(c.silent_syncs.iter().map(|s| s.site.as_ref().map(|x| x.to_string())));
            (
                false,
                format!("GRAPH REFUSED: {} silent sync(s) captured as host memcpy nodes{sites}", c.silent_syncs.len()),
            )
        }
        CaptureStatus::StepFailed => {
            let at =
                c.failing_call.as_ref().and_then(|f| f.site.as_ref()).map(|s| format!(" at {s}")).unwrap_or_default();
            (false, format!("CAPTURE FAILED: the step returned an error inside the capture{at}"))
        }
        CaptureStatus::Invalidated => {
            let by = c.capture_errors.first().map_or_else(String::new, |f| {
                format!(" by {} at {}", f.api, f.site.as_ref().map_or("<unknown line>".into(), |s| s.to_string()))
            });
            (false, format!("CAPTURE INVALIDATED{by}"))
        }
        CaptureStatus::WarmupFailed => {
            (false, "CAPTURE NOT ATTEMPTED: the eager warm-up under the H2D cache guard failed".into())
        }
    };
    if !matches!(c.status, CaptureStatus::Captured | CaptureStatus::Skipped) {
        if let Some(par) = parity {
            notes.push(format!("the run finished eagerly: eager rerun vs phase 1: {}", parity_text(par)));
        }
    }
    let m = &cfg.opts;
    if m.samples > 1 {
        notes.push(format!(
            "--samples {}: sampled decoding (seed {}); prepare_step refills the noise before every step and \
             every graph launch, so eager and replayed steps draw the same values and parity stays exact",
            m.samples, m.seed
        ));
    }
    if m.upstream_syncs {
        notes.push(
            "--upstream-syncs: every decode step reads its KV length / position back to the host, as \
                    upstream does; the step is not expected to capture"
                .into(),
        );
    }
    if cfg.atol > 0.0 {
        notes.push(format!("--atol {} allows differences; the default 0 demands equality", cfg.atol));
    }
    VerdictSection { ok, exit_code: if ok { 0 } else { 1 }, line, notes }
}
