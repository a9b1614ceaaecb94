use super::{Checker, MethodCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags tch's `tensor.to_device(Device::Cpu)` and `tensor.to(Device::Cpu)` in a hot path.
    ///
    /// ## Why is this bad?
    /// The copy to host memory waits for the device to finish the kernels that produce the
    /// tensor, and blocks the host for the transfer.
    ///
    /// ## Example
    /// ```rs
    /// let probs = logits.softmax(-1, Kind::Float).to_device(Device::Cpu);
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// let probs = logits.softmax(-1, Kind::Float); // stay on the device
    /// ```
    ///
    /// ## Known false positives
    /// Reported in files that import tch (or when the receiver is proven a tch tensor); only the
    /// device written `Device::Cpu` is recognised.
    pub static RULE = Rule { code: "GL906", name: "tch-to-cpu", family: RustCuda, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    if !matches!(call.name, "to_device" | "to") || !(checker.tch || call.receiver_ty == Ty::TchTensor) {
        return;
    }
    if !matches!(call.receiver_ty, Ty::TchTensor | Ty::Unknown) {
        return;
    }
    let Some(device) = call.arg(0) else { return };
    let is_cpu = super::is_cpu_device_path(device);
    if !is_cpu {
        return;
    }
    let receiver = call.receiver_text(checker);
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!("`{receiver}.{}(Device::Cpu)` copies the tensor to host memory and waits for the device", call.name),
        "keep the tensor on the device; move results to the CPU once, outside the hot path",
    );
}
