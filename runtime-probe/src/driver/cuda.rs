//! The CUDA driver of `probe run`: checks and opens the device, attaches the tracer, and runs the
//! phases in order: the traced eager run (1), the capture of one step (2), the replay (3), or an
//! eager rerun after a failed capture, and the timed runs with memory (5). Parity and the report
//! (4, 6) are shared with the CPU driver (`phases::report::assemble`).

use std::sync::Arc;

use candle_core::cuda::cudarc::driver::{sys, CudaContext};
use candle_core::Device;

use crate::error::ProbeError;
use crate::phases::capture::{capture_section, capture_step, split_events, CaptureOutcome};
use crate::phases::eager::{self, eager_step};
use crate::phases::replay;
use crate::phases::report::{DeviceInfo, Parts, TracerInfo};
use crate::phases::timing::{self, EventTimer};
use crate::progress::Progress;
use crate::runner::RunConfig;
use crate::trace;
use crate::trace::cupti::Cupti;

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

pub(crate) fn run(cfg: &RunConfig, ordinal: usize, progress: &Progress) -> Result<Parts, ProbeError> {
    check_driver(ordinal)?;
    // CUPTI before the context, so that context creation and weight uploads are traced as well.
    let cupti = Cupti::load();
    let tracer = match &cupti {
        Ok(c) => TracerInfo { status: "cupti", detail: c.library.clone() },
        Err(e) => {
            progress.println(&format!("probe: CUPTI unavailable ({e}); syncs will not be traced"));
            TracerInfo { status: "unavailable", detail: e.to_string() }
        }
    };
    let set_tracing = |on: bool| -> Result<(), ProbeError> {
        match &cupti {
            Ok(c) => c.set_enabled(on),
            Err(_) => Ok(()),
        }
    };

    let device = open_device(ordinal)?;
    let cuda = device.as_cuda_device().map_err(|e| no_device(e.to_string()))?;
    // SAFETY: no tensor exists on this device yet; with event tracking on, the first op captured
    // on an own stream fails with STREAM_CAPTURE_ISOLATION (seen with candle 0.11.1, CUDA 13.0).
    unsafe { cuda.disable_event_tracking() };
    let stream = cuda.cuda_stream();
    let info = device_info(stream.context(), ordinal);
    let wrap = |what: &str, e: &dyn std::fmt::Display| ProbeError::Model(format!("{what}: {e}"));

    set_tracing(true)?;
    let mut model = cfg.build(&device)?;
    let n = model.num_steps();
    progress.start((n * (2 + 2 * cfg.repeats)) as u64);
    stream.synchronize().map_err(|e| wrap("after building the model", &e))?;
    let used_before = timing::memory_used();

    // Phase 1: the eager run, traced.
    progress.phase("eager run (traced)");
    let eager_run = eager::run(&mut *model, progress, "eager run")?;
    // Phase 2: capture one step, still traced.
    progress.phase("capture");
    let attempt = capture_step(&mut *model, cuda, &stream);
    set_tracing(false)?;
    let trace = trace::take();
    let (eager_events, during_capture) = split_events(trace.events.clone());
    let mut capture = capture_section(&attempt, &trace, during_capture);
    let mut notes = Vec::new();

    // Phase 3: replay, or, after a failed capture, finish the run eagerly on the same context.
    let (graph_forecast, rerun) = match &attempt.outcome {
        CaptureOutcome::Ready(graph) => (replay::run(&mut *model, graph, &mut capture, progress), None),
        _ => {
            progress.phase("eager rerun after failure");
            let d = eager::run(&mut *model, progress, "eager rerun after the failed capture")?;
            capture.context_usable_after_failure = Some(d.forecast == eager_run.forecast);
            (None, Some(d.forecast))
        }
    };

    // Phase 5: timing, tracer off.
    let mut graph_us = Vec::new();
    let mut timer = EventTimer::new(&stream).map_err(|e| wrap("creating CUDA events", &e))?;
    progress.phase("timing eager");
    let eager_us = timing::time(&mut *model, &mut eager_step, &mut timer, cfg.repeats, progress, "timed eager run")?;
    if let (CaptureOutcome::Ready(graph), Some(_)) = (&attempt.outcome, &graph_forecast) {
        progress.phase("timing graph");
        let mut launch = replay::launch(graph);
        graph_us = timing::time(&mut *model, &mut launch, &mut timer, cfg.repeats, progress, "timed graph replay")?;
    }
    stream.synchronize().map_err(|e| wrap("after timing", &e))?;
    let used_after = timing::memory_used();
    if cupti.is_err() {
        notes.push("no CUPTI: syncs were not traced; the graph node scan still ran".into());
    }
    Ok(Parts {
        device: info,
        tracer,
        decode_steps: n,
        eager_events,
        capture,
        eager: eager_run.forecast,
        graph: graph_forecast,
        rerun,
        timing: timing::section(
            "cuda_events",
            cfg.repeats,
            &eager_us,
            &graph_us,
            attempt.capture_ms,
            attempt.instantiate_ms,
        ),
        memory: timing::memory(used_before, used_after),
        notes,
    })
}
