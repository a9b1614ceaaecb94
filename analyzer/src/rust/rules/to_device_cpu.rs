use super::{is_cpu_device, Checker, MethodCall};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags candle's `tensor.to_device(&Device::Cpu)` in a hot path.
    ///
    /// ## Why is this bad?
    /// Moving a device tensor to the CPU copies it into host memory, and the host waits for the
    /// device to finish every kernel that produces it. Under CUDA graph capture the copy is
    /// recorded into pageable memory and reads garbage on replay.
    ///
    /// ## Example
    /// ```rs
    /// let probs = candle_nn::ops::softmax_last_dim(&logits)?.to_device(&Device::Cpu)?;
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// let probs = candle_nn::ops::softmax_last_dim(&logits)?; // keep computing on the device
    /// ```
    /// Move results to the CPU once, outside the per-step path.
    ///
    /// ## Known false positives
    /// Only the CPU device written as `Device::Cpu` (or a local bound to it) is recognised. A
    /// tensor that already lives on the CPU is a cheap clone, but graphlint does not track devices.
    pub static RULE = Rule { code: "GL802", name: "to-device-cpu", family: Candle, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    if call.name != "to_device" || checker.tch || !call.receiver_ty.may_be_tensor() {
        return;
    }
    let Some(device) = call.arg(0) else { return };
    if !matches!(device.kind, crate::rust::ast::ExprKind::Reference(_)) || !is_cpu_device(checker, device) {
        return;
    }
    let receiver = call.receiver_text(checker);
    let device = checker.expr_text(device);
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!("`{receiver}.to_device({device})` copies the tensor to host memory and waits for the device"),
        "keep the tensor on the device; move results to the CPU once, outside the hot path",
    );
}
