//! Phase 2, capture: one decode step captured as a CUDA graph on the model's own stream, the
//! graph scanned for silent syncs, and the capture's section of the report. CUDA only; a CPU run
//! reports the phase as skipped ([`CaptureSection::skipped`]).

use std::sync::Arc;
use std::time::Instant;

use candle_core::cuda::cudarc::driver::{sys, CudaStream};
use candle_core::CudaDevice;
use models::GraphDecoder;

use super::report::{CaptureSection, CaptureStatus, FailingCall, GraphNodes, SilentSync};
use crate::cuda_graph::{self, GraphExec, GraphScan};
use crate::error::error_text;
use crate::trace::{self, Stage, SyncClass, SyncEvent, Trace};

pub(crate) enum CaptureOutcome {
    Ready(GraphExec),
    WarmupFailed(String),
    StepFailed(String),
    Invalidated(String),
    Refused,
}

pub(crate) struct CaptureAttempt {
    pub outcome: CaptureOutcome,
    scan: Option<GraphScan>,
    pub capture_ms: Option<f64>,
    pub instantiate_ms: Option<f64>,
    cleared: Vec<String>,
}

/// One decode step captured on the model's stream, exactly as the contract allows:
/// H2D cache guard alive, an eager warm-up first, status checked after the step, stale cudarc
/// errors cleared before ending the capture, and the graph scanned before it is instantiated.
pub(crate) fn capture_step(
    model: &mut dyn GraphDecoder,
    cuda: &CudaDevice,
    stream: &Arc<CudaStream>,
) -> CaptureAttempt {
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
    if let Err(e) = cuda_graph::begin(stream) {
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
    let ended = cuda_graph::end(stream);
    let capture_ms = t0.elapsed().as_secs_f64() * 1e3;
    if matches!(stream.capture_status(), Ok(s) if s != sys::CUstreamCaptureStatus::CU_STREAM_CAPTURE_STATUS_NONE) {
        // Still capturing: end it, whatever it holds.
        let _ = cuda_graph::end(stream);
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
pub(crate) fn split_events(events: Vec<SyncEvent>) -> (Vec<SyncEvent>, Vec<SyncEvent>) {
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
                cuda_graph::Direction::DeviceToHost => &[SyncClass::DeviceToHostPageable, SyncClass::DeviceToHost],
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

pub(crate) fn capture_section(
    attempt: &CaptureAttempt,
    trace: &Trace,
    during_capture: Vec<SyncEvent>,
) -> CaptureSection {
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
