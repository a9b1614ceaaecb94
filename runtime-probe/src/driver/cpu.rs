//! The CPU driver of `probe run`: no tracer, no capture, no replay. It runs the eager phase (1)
//! twice, the second run standing in for the replay as the partner of the parity check, and times
//! eager forecasts with the wall clock (5). Parity and the report (4, 6) are shared with the CUDA
//! driver (`phases::report::assemble`).

use candle_core::Device;

use crate::error::ProbeError;
use crate::phases::eager::{self, eager_step};
use crate::phases::report::{CaptureSection, DeviceInfo, Parts, TracerInfo};
use crate::phases::timing::{self, WallTimer};
use crate::progress::Progress;
use crate::runner::RunConfig;

pub(crate) fn run(cfg: &RunConfig, progress: &Progress) -> Result<Parts, ProbeError> {
    let device = Device::Cpu;
    let mut model = cfg.build(&device)?;
    let n = model.num_steps();
    progress.start((n * (2 + cfg.repeats)) as u64);
    let eager_run = eager::run(&mut *model, progress, "eager run")?;
    let rerun = eager::run(&mut *model, progress, "eager rerun")?;
    let mut timer = WallTimer::default();
    let step_us = timing::time(&mut *model, &mut eager_step, &mut timer, cfg.repeats, progress, "timed eager run")?;
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
        eager: eager_run.forecast,
        graph: None,
        rerun: Some(rerun.forecast),
        timing: timing::section("wall", cfg.repeats, &step_us, &[], None, None),
        memory: None,
        notes: vec!["--device cpu: eager phases and parity bookkeeping only (no tracer, no capture, no replay)".into()],
    })
}
