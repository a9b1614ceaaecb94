use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::Expr;

declare_rule! {
    /// ## What it does
    /// Flags `.numpy(force=True)` in a hot path.
    ///
    /// ## Why is this bad?
    /// A numpy array lives in host memory. `.numpy(force=True)` copies a CUDA tensor there first,
    /// and the host waits for the copy. (A plain `.numpy()` does not copy: on a CUDA tensor it
    /// raises `TypeError`, so code that calls it works on host tensors, and graphlint takes its
    /// receiver for one from there on.)
    ///
    /// ## Example
    /// ```python
    /// top = logits.argmax(-1).numpy(force=True)
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
    if !call.keyword("force").is_some_and(|force| !matches!(force, Expr::BooleanLiteral(b) if !b.value)) {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("tensor".into());
    let unproven = if call.receiver.is_device_tensor() { "" } else { " (the receiver's type was not proven)" };
    checker.report_call(
        &RULE,
        call,
        format!(
            "`{receiver}.numpy(force=True)` needs the data in host memory, so the host waits for the device{unproven}"
        ),
        "keep the data as a device tensor in the hot path; convert to numpy once, outside it",
    );
}
