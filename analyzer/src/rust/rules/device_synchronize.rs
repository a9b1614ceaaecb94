use super::{Checker, MethodCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags candle's `Device::synchronize()` and `CudaDevice::synchronize()` in a hot path.
    ///
    /// ## Why is this bad?
    /// The call blocks the host until every kernel queued on the device has finished: the whole
    /// point of asynchronous execution is lost for that step. During CUDA graph capture it is an
    /// error (`CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED`) that invalidates the capture.
    ///
    /// ## Example
    /// ```rs
    /// fn step(&mut self, xs: &Tensor) -> Result<Tensor> {
    ///     let ys = self.model.forward(xs)?;
    ///     self.device.synchronize()?;
    ///     Ok(ys)
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// fn step(&mut self, xs: &Tensor) -> Result<Tensor> {
    ///     self.model.forward(xs) // reading the result later synchronizes only when needed
    /// }
    /// ```
    /// Synchronize once where the host really needs the result, e.g. around a timing measurement.
    ///
    /// ## Known false positives
    /// A `synchronize()` whose receiver type was not proven is reported in files that do not
    /// import cudarc (cudarc's own syncs are GL901), with the message saying so. On the CPU device
    /// the call is a no-op.
    pub static RULE = Rule { code: "GL803", name: "device-synchronize", family: Candle, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    if call.name != "synchronize" || !call.args.is_empty() || checker.tch {
        return;
    }
    let proven = match call.receiver_ty {
        Ty::Device => true,
        Ty::CudaDevice if !checker.cudarc => true,
        Ty::Unknown if !checker.cudarc => false,
        _ => return,
    };
    let receiver = call.receiver_text(checker);
    let message = if proven {
        format!("`{receiver}.synchronize()` blocks the host until every queued kernel on the device has finished")
    } else {
        format!("`{receiver}.synchronize()`: the receiver's type was not proven; on a candle device this blocks the host until the device is idle")
    };
    let range = call.range();
    checker.report(
        &RULE,
        range,
        message,
        "remove it from the per-step path; synchronize once where the host needs the result",
    );
}
