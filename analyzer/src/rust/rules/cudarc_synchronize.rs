use super::{Checker, MethodCall, PathCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags cudarc's `synchronize()` on a `CudaStream`, `CudaContext` or `CudaEvent` (and on the
    /// pre-0.13 `CudaDevice`), the raw `result::stream::synchronize`/`result::ctx::synchronize`,
    /// and tch's `Cuda::synchronize`, in a hot path.
    ///
    /// ## Why is this bad?
    /// The host blocks until the stream (or the whole context, or the event) has finished its
    /// work, so nothing is queued ahead of the device. Inside a CUDA graph capture a stream or
    /// context synchronize is illegal and invalidates the capture.
    ///
    /// ## Example
    /// ```rs
    /// stream.launch_builder(&kernel).arg(&mut out).launch(cfg)?;
    /// stream.synchronize()?;
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// stream.launch_builder(&kernel).arg(&mut out).launch(cfg)?;
    /// let done = stream.record_event(None)?; // order other streams with `wait(&done)`
    /// other.wait(&done)?;
    /// ```
    ///
    /// ## Known false positives
    /// In files that import cudarc, a `synchronize()` whose receiver type was not proven is
    /// reported here, with the message saying so. An event synchronize only blocks the host when
    /// the event was created with `CU_EVENT_BLOCKING_SYNC`, but it always waits.
    pub static RULE = Rule { code: "GL901", name: "cudarc-synchronize", family: RustCuda, language: Rust }
}

const HELP: &str = "order work with events (`record_event` + `wait`) instead of blocking the host; synchronize once where the host needs the result";

pub(crate) fn check_method(checker: &mut Checker, call: &MethodCall) {
    if call.name != "synchronize" || !call.args.is_empty() {
        return;
    }
    let what = match call.receiver_ty {
        Ty::CudaStream => "stream",
        Ty::CudaContext => "context",
        Ty::CudaEvent => "event",
        Ty::CudaDevice if checker.cudarc => "device",
        Ty::Unknown if checker.cudarc => "",
        _ => return,
    };
    let receiver = call.receiver_text(checker);
    let message = if what.is_empty() {
        format!("`{receiver}.synchronize()`: the receiver's type was not proven; on a cudarc stream, context or event this blocks the host until its work is done")
    } else {
        format!("`{receiver}.synchronize()` blocks the host until the {what}'s queued work has finished")
    };
    let range = call.range();
    checker.report(&RULE, range, message, HELP);
}

pub(crate) fn check_path(checker: &mut Checker, call: &PathCall) {
    let (owner, name) = call.tail();
    if name != "synchronize" {
        return;
    }
    let what = match owner {
        "Cuda" if checker.tch => "`Cuda::synchronize` blocks the host until the device is idle",
        "stream" if checker.cudarc => "`stream::synchronize` blocks the host until the stream's work has finished",
        "ctx" if checker.cudarc => "`ctx::synchronize` blocks the host until the context is idle",
        _ => return,
    };
    let range = call.range();
    checker.report(&RULE, range, what.to_string(), HELP);
}
