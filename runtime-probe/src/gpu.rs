//! The CUDA path of `probe run`: the traced eager run (phase 1), the capture of one decode step
//! (phase 2), graph replay (3), and CUDA-event timing and memory (5). Parity and the report are
//! shared with the CPU path (`runner::assemble`).

use std::sync::Arc;
use std::time::Instant;

use candle_core::cuda::cudarc::driver::{result, sys, CudaContext, CudaEvent, CudaStream};
use candle_core::{CudaDevice, Device};
use models::GraphDecoder;

use crate::capture::{self, GraphExec, GraphScan};
use crate::error::{error_text, ProbeError};
use crate::metrics;
use crate::progress::Progress;
use crate::report::*;
use crate::runner::{decode, eager_step, Parts, RunConfig, StepTimer};
use crate::trace::cupti::Cupti;
use crate::trace::{self, Stage, SyncClass, SyncEvent, Trace};

const NO_GPU_HINT: &str = "run on a machine with an NVIDIA GPU and driver (with libcublas and libcurand on \
                           LD_LIBRARY_PATH), or pass --device cpu to run the eager phases only";

fn no_device(message: String) -> ProbeError {
    ProbeError::NoDevice { message, hint: NO_GPU_HINT.into() }
}

/// Checks that `cuda:N` exists, turning every way this can fail in-process (driver without a
/// device, bad ordinal) into a clear error. candle links libcuda dynamically: without a driver at
/// all, the dynamic loader refuses to start this binary before `main` (see the README).
fn check_driver(ordinal: usize) -> Result<(), ProbeError> {
    // Raw calls returning plain integers: a stub or mismatched libcuda may return a code that
    // cudarc's CUresult enum lacks, and formatting that is undefined behaviour (it crashed here).
    // SAFETY: cuInit takes flags 0 and has no other precondition.
    let rc = unsafe { raw::cuInit(0) };
    if rc != 0 {
        return Err(no_device(format!("the CUDA driver failed to initialise: {}", raw::error_name(rc))));
    }
    let mut count = 0i32;
    // SAFETY: valid out pointer; the driver is initialised.
    let rc = unsafe { raw::cuDeviceGetCount(&mut count) };
    if rc != 0 {
        return Err(no_device(format!("cannot count CUDA devices: {}", raw::error_name(rc))));
    }
    if count == 0 {
        return Err(no_device("the CUDA driver sees no device".into()));
    }
    if ordinal >= count as usize {
        return Err(no_device(format!("--device cuda:{ordinal}: this machine has {count} CUDA device(s)")));
    }
    Ok(())
}

fn open_device(ordinal: usize) -> Result<Device, ProbeError> {
    // cudarc panics when it cannot open a CUDA library (cuBLAS, cuRAND): report it instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| Device::new_cuda_with_stream(ordinal));
    std::panic::set_hook(hook);
    match opened {
        Ok(Ok(dev)) => Ok(dev),
        Ok(Err(e)) => Err(no_device(format!("cannot open cuda:{ordinal}: {e}"))),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(no_device(format!("cannot open cuda:{ordinal}: {msg}")))
        }
    }
}

/// The few driver entry points called before candle opens the device, declared with an `int`
/// result (libcuda is linked by cudarc).
mod raw {
    use std::ffi::{c_char, CStr};

    extern "C" {
        pub fn cuInit(flags: u32) -> i32;
        pub fn cuDeviceGetCount(count: *mut i32) -> i32;
        fn cuGetErrorName(error: i32, name: *mut *const c_char) -> i32;
    }

    pub fn error_name(code: i32) -> String {
        let mut name: *const c_char = std::ptr::null();
        // SAFETY: valid out pointer; the driver returns a static string or an error.
        if unsafe { cuGetErrorName(code, &mut name) } == 0 && !name.is_null() {
            // SAFETY: non-null, NUL-terminated static string owned by the driver.
            return format!("{} ({code})", unsafe { CStr::from_ptr(name) }.to_string_lossy());
        }
        format!("CUDA error {code}")
    }
}

fn device_info(ctx: &Arc<CudaContext>, ordinal: usize) -> DeviceInfo {
    let mut driver = 0i32;
    // SAFETY: valid out pointer; the driver is initialised.
    let driver_ok = unsafe { sys::cuDriverGetVersion(&mut driver) } == sys::CUresult::CUDA_SUCCESS;
    DeviceInfo {
        kind: "cuda",
        ordinal: Some(ordinal),
        name: ctx.name().unwrap_or_else(|e| format!("cuda:{ordinal} ({e})")),
        compute_capability: ctx.compute_capability().ok().map(|(a, b)| format!("{a}.{b}")),
        driver_version: driver_ok.then(|| format!("{}.{}", driver / 1000, driver % 1000 / 10)),
    }
}

fn memory_used() -> Option<(u64, u64)> {
    result::mem_get_info().ok().map(|(free, total)| ((total - free) as u64, total as u64))
}

/// Per-step GPU time between two CUDA events around the step. The stream is drained first, so
/// each step is timed alone.
struct EventTimer {
    stream: Arc<CudaStream>,
    start: CudaEvent,
    end: CudaEvent,
}

impl EventTimer {
    fn new(stream: &Arc<CudaStream>) -> candle_core::Result<Self> {
        let ctx = stream.context();
        let ev = || ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(candle_core::Error::wrap);
        Ok(Self { stream: stream.clone(), start: ev()?, end: ev()? })
    }
}

impl StepTimer for EventTimer {
    fn start(&mut self) -> candle_core::Result<()> {
        self.stream.synchronize().map_err(candle_core::Error::wrap)?;
        self.start.record(&self.stream).map_err(candle_core::Error::wrap)
    }
    fn stop(&mut self) -> candle_core::Result<f64> {
        self.end.record(&self.stream).map_err(candle_core::Error::wrap)?;
        let ms = self.start.elapsed_ms(&self.end).map_err(candle_core::Error::wrap)?;
        Ok(f64::from(ms) * 1000.0)
    }
}

enum CaptureOutcome {
    Ready(GraphExec),
    WarmupFailed(String),
    StepFailed(String),
    Invalidated(String),
    Refused,
}

struct CaptureAttempt {
    outcome: CaptureOutcome,
    scan: Option<GraphScan>,
    capture_ms: Option<f64>,
    instantiate_ms: Option<f64>,
    cleared: Vec<String>,
}

/// Phase 2: one decode step captured on the model's stream, exactly as the contract allows:
/// H2D cache guard alive, an eager warm-up first, status checked after the step, stale cudarc
/// errors cleared before ending the capture, and the graph scanned before it is instantiated.
fn capture_step(model: &mut dyn GraphDecoder, cuda: &CudaDevice, stream: &Arc<CudaStream>) -> CaptureAttempt {
    let ctx = stream.context().clone();
    let attempt =
        |outcome| CaptureAttempt { outcome, scan: None, capture_ms: None, instantiate_ms: None, cleared: Vec::new() };
    // While alive, candle serves small host-to-device parameter uploads from device copies and
    // refuses device-to-host copies during capture.
    let guard = cuda.enable_cuda_graph_htod_cache();
    // The warm-up fills candle's parameter cache, so that the captured step uploads nothing. Its
    // calls are kept out of phase 1's counts.
    trace::set_position(Stage::Warmup, Some(0));
    let warmup = (|| -> candle_core::Result<()> {
        model.reset()?;
        model.prepare_step(0)?;
        model.step()?;
        model.reset()?;
        model.prepare_step(0)?;
        stream.synchronize().map_err(candle_core::Error::wrap)
    })();
    trace::set_position(Stage::Probe, None);
    if let Err(e) = warmup {
        return attempt(CaptureOutcome::WarmupFailed(e.to_string()));
    }
    let mut cleared = Vec::new();
    if let Err(e) = ctx.check_err() {
        cleared.push(format!("before capture: {e}"));
    }

    let t0 = Instant::now();
    if let Err(e) = capture::begin(stream) {
        return attempt(CaptureOutcome::Invalidated(format!("cuStreamBeginCapture failed: {e}")));
    }
    trace::set_position(Stage::Capture, Some(0));
    let step = model.step();
    trace::set_position(Stage::Probe, None);
    let status = stream.capture_status();
    // cudarc returns an error stored by an earlier Drop from the next call, before doing it:
    // clear it now, or end_capture could fail without ending the capture.
    if let Err(e) = ctx.check_err() {
        cleared.push(format!("during capture: {e}"));
    }
    let ended = capture::end(stream);
    let capture_ms = t0.elapsed().as_secs_f64() * 1e3;
    if matches!(stream.capture_status(), Ok(s) if s != sys::CUstreamCaptureStatus::CU_STREAM_CAPTURE_STATUS_NONE) {
        // Still capturing: end it, whatever it holds.
        let _ = capture::end(stream);
    }
    drop(guard);

    // cuStreamIsCapturing answers an invalidated capture with the INVALIDATED error itself.
    let invalidated = match &status {
        Ok(s) => *s == sys::CUstreamCaptureStatus::CU_STREAM_CAPTURE_STATUS_INVALIDATED,
        Err(e) => e.0 == sys::CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,
    };
    let status_text = match status {
        Ok(s) => format!("{s:?}"),
        Err(e) => format!("unknown ({e})"),
    };
    let mut result = CaptureAttempt {
        outcome: CaptureOutcome::Refused,
        scan: None,
        capture_ms: Some(capture_ms),
        instantiate_ms: None,
        cleared,
    };
    result.outcome = match (step, ended) {
        // The driver invalidated the capture under the step (a synchronize, say): candle passed
        // the driver's error up, but the capture status is the verdict.
        (Err(e), _) if invalidated => CaptureOutcome::Invalidated(format!("the step failed: {}", error_text(&e))),
        (Err(e), _) => {
            CaptureOutcome::StepFailed(format!("{} (capture status after the step: {status_text})", error_text(&e)))
        }
        (Ok(()), Err(e)) => CaptureOutcome::Invalidated(format!(
            "cuStreamEndCapture returned {e}; capture status after the step: {status_text}"
        )),
        (Ok(()), Ok(None)) => CaptureOutcome::Invalidated("the capture produced no graph".into()),
        (Ok(()), Ok(Some(graph))) => match graph.scan() {
            Err(e) => CaptureOutcome::Invalidated(format!("scanning the graph's nodes failed: {e}")),
            Ok(scan) => {
                let refused = !scan.host_copies.is_empty();
                result.scan = Some(scan);
                if refused {
                    CaptureOutcome::Refused
                } else {
                    let t1 = Instant::now();
                    match graph.instantiate(stream) {
                        Ok(exec) => {
                            result.instantiate_ms = Some(t1.elapsed().as_secs_f64() * 1e3);
                            CaptureOutcome::Ready(exec)
                        }
                        Err(e) => CaptureOutcome::Invalidated(format!("instantiating the graph failed: {e}")),
                    }
                }
            }
        },
    };
    if !matches!(result.outcome, CaptureOutcome::Ready(_)) {
        // Tensors allocated inside a graph that never ran store an error when dropped.
        if let Err(e) = ctx.check_err() {
            result.cleared.push(format!("after the failed capture: {e}"));
        }
    }
    result
}

/// The tracer's syncs, split into phase 1's and the capture's.
fn split_events(events: Vec<SyncEvent>) -> (Vec<SyncEvent>, Vec<SyncEvent>) {
    let (capture, rest): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.phase == Stage::Capture);
    let eager = rest.into_iter().filter(|e| e.phase != Stage::Warmup && e.phase != Stage::Probe).collect();
    (eager, capture)
}

/// Each host memcpy node, with the traced call that made it: the same host buffer, else the
/// next unused traced copy in that direction.
fn attribute_silent_syncs(scan: &GraphScan, during_capture: &[SyncEvent]) -> Vec<SilentSync> {
    let mut used = vec![false; during_capture.len()];
    scan.host_copies
        .iter()
        .map(|copy| {
            let wanted: &[SyncClass] = match copy.direction {
                capture::Direction::DeviceToHost => &[SyncClass::DeviceToHostPageable, SyncClass::DeviceToHost],
                _ => &[SyncClass::HostToDevicePageable],
            };
            let by_ptr = during_capture.iter().position(|e| e.host_ptr == Some(copy.host_ptr));
            let by_order =
                || during_capture.iter().enumerate().position(|(i, e)| !used[i] && wanted.contains(&e.class));
            let hit = by_ptr.or_else(by_order);
            if let Some(i) = hit {
                used[i] = true;
            }
            SilentSync {
                direction: copy.direction.name(),
                bytes: copy.bytes,
                api: hit.map(|i| during_capture[i].api.clone()),
                site: hit.and_then(|i| during_capture[i].site.clone()),
            }
        })
        .collect()
}

fn nodes(scan: &GraphScan) -> GraphNodes {
    GraphNodes {
        total: scan.total,
        kernel: scan.kernel,
        memcpy: scan.memcpy,
        memset: scan.memset,
        mem_alloc: scan.mem_alloc,
        mem_free: scan.mem_free,
        host_function: scan.host_function,
        other: scan.other,
    }
}

fn capture_section(attempt: &CaptureAttempt, trace: &Trace, during_capture: Vec<SyncEvent>) -> CaptureSection {
    let (mut status, detail) = match &attempt.outcome {
        CaptureOutcome::Ready(_) => (CaptureStatus::Captured, None),
        CaptureOutcome::WarmupFailed(e) => (CaptureStatus::WarmupFailed, Some(e.clone())),
        CaptureOutcome::StepFailed(e) => (CaptureStatus::StepFailed, Some(e.clone())),
        CaptureOutcome::Invalidated(e) => (CaptureStatus::Invalidated, Some(e.clone())),
        CaptureOutcome::Refused => {
            (CaptureStatus::Refused, Some("the graph holds memcpy nodes with a host side; it was not launched".into()))
        }
    };
    // A call that failed with a capture error means the driver invalidated the capture, whatever
    // the step did with the error afterwards.
    if status == CaptureStatus::StepFailed && !trace.capture_failures.is_empty() {
        status = CaptureStatus::Invalidated;
    }
    let failing_call = match status {
        CaptureStatus::StepFailed => {
            trace.last_capture_call.as_ref().map(|(api, site)| FailingCall { api: api.clone(), site: site.clone() })
        }
        _ => None,
    };
    CaptureSection {
        status,
        detail,
        silent_syncs: attempt.scan.as_ref().map(|s| attribute_silent_syncs(s, &during_capture)).unwrap_or_default(),
        syncs_during_capture: during_capture,
        capture_errors: trace.capture_failures.clone(),
        failing_call,
        nodes: attempt.scan.as_ref().map(nodes),
        context_usable_after_failure: None,
        cleared_errors: attempt.cleared.clone(),
    }
}

pub(crate) fn run_cuda(cfg: &RunConfig, ordinal: usize, progress: &Progress) -> Result<Parts, ProbeError> {
    check_driver(ordinal)?;
    // CUPTI before the context, so that context creation and weight uploads are traced as well.
    let cupti = Cupti::load();
    let tracer = match &cupti {
        Ok(c) => TracerInfo { status: "cupti", detail: c.library.clone() },
        Err(e) => {
            progress.println(&format!("probe: CUPTI unavailable ({e}); syncs will not be traced"));
            TracerInfo { status: "unavailable", detail: e.clone() }
        }
    };
    let set_tracing = |on: bool| -> Result<(), ProbeError> {
        match &cupti {
            Ok(c) => c.set_enabled(on).map_err(ProbeError::Model),
            Err(_) => Ok(()),
        }
    };

    let device = open_device(ordinal)?;
    let cuda = device.as_cuda_device().map_err(|e| no_device(e.to_string()))?;
    // SAFETY: no tensor exists on this device yet; with event tracking on, the first op captured
    // on an own stream fails with STREAM_CAPTURE_ISOLATION (shared/cuda/NOTES.md).
    unsafe { cuda.disable_event_tracking() };
    let stream = cuda.cuda_stream();
    let info = device_info(stream.context(), ordinal);
    let wrap = |what: &str, e: &dyn std::fmt::Display| ProbeError::Model(format!("{what}: {e}"));

    set_tracing(true)?;
    let mut model = cfg.build(&device)?;
    let n = model.num_steps();
    progress.start((n * (2 + 2 * cfg.repeats)) as u64);
    stream.synchronize().map_err(|e| wrap("after building the model", &e))?;
    let used_before = memory_used();

    // Phase 1: the eager run, traced.
    progress.phase("eager run (traced)");
    let eager = decode(&mut *model, &mut eager_step, None, progress, "eager run")?;
    // Phase 2: capture one step, still traced.
    progress.phase("capture");
    let attempt = capture_step(&mut *model, cuda, &stream);
    set_tracing(false)?;
    let trace = trace::take();
    let (eager_events, during_capture) = split_events(trace.events.clone());
    let mut capture = capture_section(&attempt, &trace, during_capture);
    let mut notes = Vec::new();

    // Phase 3: replay, or, after a failed capture, finish the run eagerly on the same context.
    let (mut graph_forecast, mut rerun) = (None, None);
    match &attempt.outcome {
        CaptureOutcome::Ready(graph) => {
            progress.phase("graph replay");
            let mut launch = |_: &mut dyn GraphDecoder| graph.launch().map_err(candle_core::Error::wrap);
            match decode(&mut *model, &mut launch, None, progress, "graph replay") {
                Ok(d) => graph_forecast = Some(d.forecast),
                Err(e) => {
                    capture.status = CaptureStatus::Invalidated;
                    capture.detail = Some(format!(
                        "{e} (a buffer allocated inside the step that outlives it makes relaunches fail: \
                         write step outputs into buffers allocated before capture)"
                    ));
                }
            }
        }
        _ => {
            progress.phase("eager rerun after failure");
            let d = decode(&mut *model, &mut eager_step, None, progress, "eager rerun after the failed capture")?;
            capture.context_usable_after_failure = Some(d.forecast == eager.forecast);
            rerun = Some(d.forecast);
        }
    }

    // Phase 5: timing, tracer off.
    let mut eager_us = Vec::new();
    let mut graph_us = Vec::new();
    let mut timer = EventTimer::new(&stream).map_err(|e| wrap("creating CUDA events", &e))?;
    progress.phase("timing eager");
    for _ in 0..cfg.repeats {
        eager_us.extend(decode(&mut *model, &mut eager_step, Some(&mut timer), progress, "timed eager run")?.step_us);
    }
    if let (CaptureOutcome::Ready(graph), Some(_)) = (&attempt.outcome, &graph_forecast) {
        progress.phase("timing graph");
        let mut launch = |_: &mut dyn GraphDecoder| graph.launch().map_err(candle_core::Error::wrap);
        for _ in 0..cfg.repeats {
            graph_us
                .extend(decode(&mut *model, &mut launch, Some(&mut timer), progress, "timed graph replay")?.step_us);
        }
    }
    stream.synchronize().map_err(|e| wrap("after timing", &e))?;
    let used_after = memory_used();
    let eager_stats = metrics::latency_stats(&eager_us);
    let graph_stats = metrics::latency_stats(&graph_us);
    if cupti.is_err() {
        notes.push("no CUPTI: syncs were not traced; the graph node scan still ran".into());
    }
    let memory = match (used_before, used_after) {
        (Some((before, total)), Some((after, _))) => {
            Some(MemorySection { total_bytes: total, used_before_bytes: before, used_after_bytes: after })
        }
        _ => None,
    };
    Ok(Parts {
        device: info,
        tracer,
        decode_steps: n,
        eager_events,
        capture,
        eager: eager.forecast,
        graph: graph_forecast,
        rerun,
        timing: TimingSection {
            clock: "cuda_events",
            repeats: cfg.repeats,
            speedup: eager_stats.zip(graph_stats).map(|(e, g)| e.median_us / g.median_us),
            eager: eager_stats,
            graph: graph_stats,
            capture_ms: attempt.capture_ms,
            instantiate_ms: attempt.instantiate_ms,
        },
        memory,
        notes,
    })
}
