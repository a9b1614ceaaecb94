use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `.cpu()` in a hot path.
    ///
    /// ## Why is this bad?
    /// `.cpu()` copies the tensor into pageable host memory; the host waits until the device has
    /// produced the data and the copy has finished.
    ///
    /// ## Example
    /// ```python
    /// probs = logits.softmax(-1).cpu()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// probs = logits.softmax(-1)  # stay on the device; copy once after the loop
    /// ```
    /// If the host really needs the data every step, copy into pinned memory with
    /// `non_blocking=True` and wait on an event only when the data is used.
    ///
    /// ## Known false positives
    /// A receiver whose type was not proven is reported (the message says so), since `.cpu()` is a
    /// tensor method in practice; receivers proven to be modules or other objects are not.
    pub static RULE = Rule { code: "GL301", name: "cpu-call", family: DeviceToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.method != Some("cpu") || !(call.receiver.is_device_tensor() || call.receiver.is_unproven()) {
        return;
    }
    if call.receiver.is_host_tensor() {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("tensor".into());
    let unproven = if call.receiver.is_device_tensor() { "" } else { " (the receiver's type was not proven)" };
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}.cpu()` copies the tensor to host memory and waits for the device{unproven}"),
        "keep the tensor on the device; copy once after the loop, or into pinned memory with `non_blocking=True`",
    );
}
