//! Phase 6, the report: what the device driver measured, with parity (phase 4) and the verdict,
//! as one serde type written as JSON (`--report`, schema in `REPORT.md`) and rendered as the
//! terminal table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use models::Forecast;
use serde::Serialize;

use super::parity::{self, AccuracySection, ParitySection};
use super::static_check::{self, StaticCheck};
use crate::error::ProbeError;
use crate::metrics::{self, Accuracy, LatencyStats};
use crate::runner::RunConfig;
use crate::trace::{self, CaptureFailure, Site, SiteSummary, Stage, SyncEvent};

/// Bumped on any change that can break a reader of the JSON.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub probe: ProbeInfo,
    pub model: ModelInfo,
    pub data: DataInfo,
    pub device: DeviceInfo,
    pub tracer: TracerInfo,
    pub eager: EagerSection,
    pub capture: CaptureSection,
    pub forecast: ForecastSection,
    pub parity: Option<ParitySection>,
    pub accuracy: AccuracySection,
    pub timing: TimingSection,
    pub memory: Option<MemorySection>,
    /// `--static-check`: the runtime sync sites against graphlint's findings on their sources.
    pub static_check: Option<StaticCheck>,
    pub verdict: VerdictSection,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeInfo {
    pub version: &'static str,
    /// The commit the binary was built from (`-dirty` when the tree had changes), or `unknown`.
    pub commit: &'static str,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub preset: String,
    /// `DIR` given by `--weights`, or `null` for the embedded random-init model.
    pub weights: Option<String>,
    pub context: usize,
    pub steps: usize,
    pub samples: usize,
    pub seed: u64,
    /// `--upstream-syncs`: the port's opt-in mode that reads back to the host every step.
    pub upstream_syncs: bool,
    /// `GraphDecoder::num_steps`: decode steps per forecast (may differ from forecast rows).
    pub decode_steps: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataInfo {
    pub origin: String,
    pub channels: Vec<String>,
    pub context_rows: usize,
    pub future_rows: usize,
    pub first_timestamp: Option<String>,
    pub last_timestamp: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// `cuda` or `cpu`.
    pub kind: &'static str,
    pub ordinal: Option<usize>,
    pub name: String,
    pub compute_capability: Option<String>,
    pub driver_version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TracerInfo {
    /// `cupti` (tracing), `unavailable` (CUDA run without CUPTI) or `not_applicable` (CPU run).
    pub status: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EagerSection {
    /// Syncs of the decode step itself, per step index (stage `step`).
    pub syncs_per_step: Vec<usize>,
    /// All syncs of phase 1, per stage (setup, reset, prepare, step, finish).
    pub syncs_per_phase: BTreeMap<Stage, usize>,
    pub sites: Vec<SiteSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureStatus {
    /// The graph was captured, scanned clean, instantiated and replayed.
    Captured,
    /// The step returned an error inside the capture (candle refusing a host copy, say).
    StepFailed,
    /// The driver invalidated the capture (a synchronize inside it, say).
    Invalidated,
    /// The graph was captured but holds memcpy nodes with a host side: silent syncs. Not launched.
    Refused,
    /// The eager warm-up under the H2D cache guard failed, so nothing was captured.
    WarmupFailed,
    /// Not attempted (CPU run).
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphNodes {
    pub total: usize,
    pub kernel: usize,
    pub memcpy: usize,
    pub memset: usize,
    pub mem_alloc: usize,
    pub mem_free: usize,
    pub host_function: usize,
    pub other: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SilentSync {
    /// `device_to_host`, `host_to_device` or `host_to_host`.
    pub direction: &'static str,
    pub bytes: u64,
    /// The call that made the node, matched by its host buffer; `null` without CUPTI.
    pub api: Option<String>,
    pub site: Option<Site>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailingCall {
    pub api: String,
    pub site: Option<Site>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureSection {
    pub status: CaptureStatus,
    /// Why the capture did not give a launchable graph (or why it was skipped).
    pub detail: Option<String>,
    /// Syncs the tracer saw while the step was captured: must be empty for a graph-safe step.
    pub syncs_during_capture: Vec<SyncEvent>,
    /// Calls that failed with a stream-capture error, with their source lines. The first is the
    /// offending call; later ones fail because the capture is already invalidated.
    pub capture_errors: Vec<CaptureFailure>,
    /// For `step_failed`: the last CUDA call the step made before returning its error.
    pub failing_call: Option<FailingCall>,
    pub silent_syncs: Vec<SilentSync>,
    pub nodes: Option<GraphNodes>,
    /// After a failed capture: did an eager rerun on the same context match phase 1 bit for bit?
    pub context_usable_after_failure: Option<bool>,
    /// Errors cudarc had stored (from drops during the capture) and the probe cleared.
    pub cleared_errors: Vec<String>,
}

impl CaptureSection {
    /// The section of a run that does not capture (CPU).
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

#[derive(Debug, Clone, Serialize)]
pub struct ForecastSection {
    pub channels: Vec<String>,
    pub eager: Vec<Vec<f32>>,
    /// The graph replay's forecast, when a graph ran.
    pub graph: Option<Vec<Vec<f32>>>,
    /// The eager rerun's forecast (CPU runs, and CUDA runs whose capture failed).
    pub eager_rerun: Option<Vec<Vec<f32>>>,
    pub actual: Vec<Vec<f32>>,
    pub baseline_last_value: Vec<Vec<f32>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimingSection {
    /// `cuda_events` (GPU time between events around each step) or `wall` (CPU).
    pub clock: &'static str,
    /// Timed forecasts per mode (after the traced run; the tracer is off while timing).
    pub repeats: usize,
    pub eager: Option<LatencyStats>,
    pub graph: Option<LatencyStats>,
    /// eager median / graph median.
    pub speedup: Option<f64>,
    pub capture_ms: Option<f64>,
    pub instantiate_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemorySection {
    pub total_bytes: u64,
    /// Device memory in use (total - free) after the model was built, before capture.
    pub used_before_bytes: u64,
    /// In use after replay and timing, with the graph still instantiated.
    pub used_after_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictSection {
    pub ok: bool,
    /// What `probe` exits with: 0 OK, 1 FAIL.
    pub exit_code: i32,
    /// The one-line verdict printed last.
    pub line: String,
    pub notes: Vec<String>,
}

fn site_text(site: &Option<Site>) -> String {
    site.as_ref().map_or_else(|| "<no user frame>".to_string(), Site::to_string)
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// Scientific notation for errors, so that 0 and 1e-7 both read clearly.
fn fmt_err(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else {
        format!("{v:.3e}")
    }
}

/// The terminal table.
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let m = &r.model;
    let _ = writeln!(
        o,
        "probe: model {} (preset {}, {}{}), device {} ({}), {} context rows, {} steps ({} decode steps), {} sample(s), seed {}",
        m.name,
        m.preset,
        m.weights.as_deref().unwrap_or("random-init"),
        if m.upstream_syncs { ", upstream-style syncs" } else { "" },
        r.device.kind,
        r.device.name,
        m.context,
        m.steps,
        m.decode_steps,
        m.samples,
        m.seed
    );
    let _ = writeln!(o, "tracer: {} ({})", r.tracer.status, r.tracer.detail);

    let _ = writeln!(o, "\n[1] eager run: host syncs by site");
    if r.eager.sites.is_empty() {
        let _ = writeln!(o, "    none recorded");
    } else {
        let _ = writeln!(o, "    {:<18} {:<26} {:>7} {:>6}  site", "class", "api", "total", "steps");
        for s in &r.eager.sites {
            let _ = writeln!(
                o,
                "    {:<18} {:<26} {:>7} {:>6}  {}",
                s.class.label(),
                s.api,
                s.total,
                s.steps_seen,
                site_text(&s.site)
            );
        }
    }
    let per_step = &r.eager.syncs_per_step;
    if !per_step.is_empty() {
        let (min, max) = (per_step.iter().min().unwrap(), per_step.iter().max().unwrap());
        let _ = writeln!(o, "    syncs per decode step: min {min}, max {max}");
    }

    let c = &r.capture;
    let _ = writeln!(o, "\n[2] capture: {}", serde_json::to_value(c.status).unwrap().as_str().unwrap_or("?"));
    if let Some(d) = &c.detail {
        let _ = writeln!(o, "    {d}");
    }
    if let Some(n) = &c.nodes {
        let _ = writeln!(
            o,
            "    graph: {} nodes ({} kernel, {} memcpy, {} memset, {} alloc, {} free, {} host fn, {} other)",
            n.total, n.kernel, n.memcpy, n.memset, n.mem_alloc, n.mem_free, n.host_function, n.other
        );
    }
    for e in &c.syncs_during_capture {
        let _ = writeln!(o, "    sync during capture: {} {} at {}", e.class.label(), e.api, site_text(&e.site));
    }
    for (i, f) in c.capture_errors.iter().enumerate() {
        let role = if i == 0 { "offending call" } else { "then" };
        let _ = writeln!(o, "    {role}: {} returned {} at {}", f.api, f.result_name, site_text(&f.site));
    }
    if let Some(f) = &c.failing_call {
        let _ = writeln!(o, "    failing call: {} at {}", f.api, site_text(&f.site));
    }
    for s in &c.silent_syncs {
        let _ = writeln!(
            o,
            "    SILENT SYNC: {} memcpy node, {} bytes, made by {} at {}",
            s.direction,
            s.bytes,
            s.api.as_deref().unwrap_or("?"),
            site_text(&s.site)
        );
    }
    for e in &c.cleared_errors {
        let _ = writeln!(o, "    cleared stored CUDA error: {e}");
    }
    if let Some(ok) = c.context_usable_after_failure {
        let _ = writeln!(
            o,
            "    context after the failure: {}",
            if ok {
                "usable (an eager rerun matched phase 1 bit for bit)"
            } else {
                "eager rerun DIFFERED from phase 1"
            }
        );
    }

    if let Some(p) = &r.parity {
        let _ =
            writeln!(o, "\n[4] parity ({}) and accuracy against the real future values", p.compared.replace('_', " "));
        let other = if r.forecast.graph.is_some() { "graph" } else { "rerun" };
        let _ = writeln!(
            o,
            "    {:>4} {:>12} {:>12} {:>12} {:>12} {:>12}",
            "step",
            "max|diff|",
            "MAE(diff)",
            "MAE eager",
            format!("MAE {other}"),
            "MAE naive"
        );
        let other_acc = r.accuracy.graph.as_ref().unwrap_or(&r.accuracy.eager);
        for (i, s) in p.comparison.per_step.iter().enumerate() {
            let _ = writeln!(
                o,
                "    {:>4} {:>12} {:>12} {:>12.5} {:>12.5} {:>12.5}",
                s.step,
                fmt_err(s.max_abs_diff),
                fmt_err(s.mae),
                r.accuracy.eager.per_step_mae.get(i).copied().unwrap_or(f64::NAN),
                other_acc.per_step_mae.get(i).copied().unwrap_or(f64::NAN),
                r.accuracy.baseline_last_value.per_step_mae.get(i).copied().unwrap_or(f64::NAN),
            );
        }
        let _ = writeln!(
            o,
            "    overall: max|diff| {}, MAE(diff) {}, bit-identical: {}",
            fmt_err(p.comparison.max_abs_diff),
            fmt_err(p.comparison.mae),
            if p.comparison.bit_identical { "yes" } else { "no" }
        );
    }
    let a = &r.accuracy;
    let mape = |acc: &Accuracy| fmt_opt(acc.mape_percent, 3);
    let _ = writeln!(o, "    {:<22} {:>12} {:>10}", "forecast vs actual", "MAE", "MAPE %");
    let _ = writeln!(o, "    {:<22} {:>12.5} {:>10}", "eager", a.eager.mae, mape(&a.eager));
    if let Some(g) = &a.graph {
        let _ = writeln!(o, "    {:<22} {:>12.5} {:>10}", "graph", g.mae, mape(g));
    }
    let _ = writeln!(
        o,
        "    {:<22} {:>12.5} {:>10}",
        "naive last value",
        a.baseline_last_value.mae,
        mape(&a.baseline_last_value)
    );

    let t = &r.timing;
    let _ =
        writeln!(o, "\n[5] timing per decode step ({}, {} timed forecast(s) per mode, tracer off)", t.clock, t.repeats);
    let _ = writeln!(o, "    {:<6} {:>11} {:>11} {:>11}", "mode", "median us", "p10 us", "p90 us");
    for (name, s) in [("eager", &t.eager), ("graph", &t.graph)] {
        if let Some(s) = s {
            let _ = writeln!(o, "    {:<6} {:>11.1} {:>11.1} {:>11.1}", name, s.median_us, s.p10_us, s.p90_us);
        }
    }
    if let Some(s) = t.speedup {
        let _ = writeln!(o, "    speedup (eager / graph median): {s:.2}x");
    }
    if t.capture_ms.is_some() || t.instantiate_ms.is_some() {
        let _ =
            writeln!(o, "    capture {} ms, instantiate {} ms", fmt_opt(t.capture_ms, 3), fmt_opt(t.instantiate_ms, 3));
    }
    if let Some(mem) = &r.memory {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = writeln!(
            o,
            "    device memory in use: {:.1} MiB before capture, {:.1} MiB after replay (of {:.0} MiB)",
            mib(mem.used_before_bytes),
            mib(mem.used_after_bytes),
            mib(mem.total_bytes)
        );
    }

    if let Some(c) = &r.static_check {
        o.push_str(&static_check::render(c));
    }

    let _ = writeln!(o);
    for n in &r.verdict.notes {
        let _ = writeln!(o, "note: {n}");
    }
    let _ = writeln!(o, "{}", r.verdict.line);
    o
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
    let eager = parity::forecast_rows(&p.eager, w)?;
    let graph = p.graph.as_ref().map(|f| parity::forecast_rows(f, w)).transpose()?;
    let rerun = p.rerun.as_ref().map(|f| parity::forecast_rows(f, w)).transpose()?;
    let baseline = metrics::last_value_forecast(&w.context, w.future.len());

    let parity_section = parity::compare(&eager, graph.as_deref(), rerun.as_deref(), cfg.atol)?;
    let accuracy = parity::accuracy(&eager, graph.as_deref(), &baseline, &w.future)?;

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
    let verdict = verdict(cfg, &p, parity_section.as_ref());
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
        parity: parity_section,
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
