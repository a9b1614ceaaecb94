use super::{is_cpu_device, CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::Expr;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `.to("cpu")`, `.to(device="cpu")` and `.to(torch.device("cpu"))` on a tensor.
    ///
    /// A device proven to be the CPU's counts too: `.to(t.device)` with `t` in host memory, a
    /// name bound to `torch.device("cpu")`.
    ///
    /// ## Why is this bad?
    /// It is a device-to-host copy: the host waits for the device to produce the data and for the
    /// copy to land in pageable memory.
    ///
    /// ## Example
    /// ```python
    /// scores = scores.to("cpu")
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// scores = scores  # stay on the device; or .to("cpu", non_blocking=True) into pinned memory
    /// ```
    ///
    /// ## Known false positives
    /// Calls with `non_blocking=True` are not reported. Receivers proven to be modules are not
    /// reported; unproven receivers are.
    pub static RULE = Rule { code: "GL302", name: "to-cpu", family: DeviceToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.method != Some("to") || !(call.receiver.is_device_tensor() || call.receiver.is_unproven()) {
        return;
    }
    if call.receiver.is_host_tensor() {
        return;
    }
    // The CPU as written, or a value proven to be the CPU device (`other_cpu.device`).
    let target_ty = call.keyword_ty("device").or(call.args.first().copied());
    let Some(target) = call
        .keyword("device")
        .or_else(|| call.arg(0))
        .filter(|t| is_cpu_device(t) || target_ty == Some(Ty::HostDevice))
    else {
        return;
    };
    if call.keyword("non_blocking").is_some_and(|v| matches!(v, Expr::BooleanLiteral(b) if b.value)) {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("tensor".into());
    // The device as written (`"cpu"`, `torch.device("cpu")`, `device="cpu"`).
    let device = checker.text(target);
    let device = if call.keyword("device").is_some() { format!("device={device}") } else { device.to_string() };
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}.to({device})` copies the tensor to host memory and waits for the device"),
        "keep the tensor on the device, or copy into pinned memory with `non_blocking=True` and wait only when the data is used",
    );
}
