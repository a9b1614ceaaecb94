//! `probe run`: resolves the run, hands it to the device's driver (`cpu`, or `cuda` in CUDA
//! builds), which runs the phases in `phases/`, assembles the report (phases 4 and 6) and, with
//! `--static-check`, cross-checks it (phase 7).

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;

use crate::cli::{DeviceArg, RunArgs};
use crate::data::Window;
use crate::error::ProbeError;
use crate::phases::report::{self, Report};
use crate::phases::static_check;
use crate::progress::Progress;
use crate::runner::RunConfig;

pub struct Outcome {
    pub report: Report,
    pub window: Window,
}

/// Runs `probe run` with the parsed arguments.
pub fn run(args: &RunArgs) -> Result<Outcome, ProbeError> {
    let cfg = RunConfig::resolve(args)?;
    let progress = Progress::new();
    let parts = match args.device {
        DeviceArg::Cpu => cpu::run(&cfg, &progress),
        #[cfg(feature = "cuda")]
        DeviceArg::Cuda(ordinal) => cuda::run(&cfg, ordinal, &progress),
        #[cfg(not(feature = "cuda"))]
        DeviceArg::Cuda(ordinal) => Err(ProbeError::NoDevice {
            message: format!("--device cuda:{ordinal}: this probe was built without CUDA support"),
            hint: "build with `cargo build --release --features cuda -p runtime-probe`, \
                   or pass --device cpu to run the eager phases only"
                .into(),
        }),
    };
    progress.finish();
    let mut report = report::assemble(&cfg, parts?)?;
    if let Some(locator) = &cfg.static_check {
        // After the run, from the report itself: `probe static-check REPORT` gives the same answer.
        let json = serde_json::to_value(&report).expect("the report serialises");
        report.static_check = Some(static_check::check_report(&json, locator));
    }
    Ok(Outcome { report, window: cfg.window })
}
