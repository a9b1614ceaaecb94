use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `.numpy()` in a hot path.
    ///
    /// ## Why is this bad?
    /// A numpy array lives in host memory: on a CUDA tensor `.numpy()` needs a device-to-host copy
    /// (usually spelled `.cpu().numpy()`), and the host waits for it.
    ///
    /// ## Example
    /// ```python
    /// top = logits.argmax(-1).cpu().numpy()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// top = logits.argmax(-1)  # convert to numpy once, after the loop
    /// ```
    ///
    /// ## Known false positives
    /// Unproven receivers are reported, since `.numpy()` is a tensor method in practice.
    pub static RULE = Rule { code: "GL303", name: "numpy-call", family: DeviceToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.method != Some("numpy") || !(call.receiver.is_device_tensor() || call.receiver.is_unproven()) {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("tensor".into());
    let unproven = if call.receiver.is_device_tensor() { "" } else { " (the receiver's type was not proven)" };
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}.numpy()` needs the data in host memory, so the host waits for the device{unproven}"),
        "keep the data as a device tensor in the hot path; convert to numpy once, outside it",
    );
}
