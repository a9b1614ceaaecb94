use super::{is_accelerator_device, CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::Expr;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `.cuda()` and `.to(<accelerator>)` applied to data known to be in host memory (a
    /// tensor from a factory without `device=`, `torch.from_numpy(...)`, a `.cpu()` result) in a
    /// hot path.
    ///
    /// ## Why is this bad?
    /// Each call is a host-to-device copy from pageable memory: it blocks the host and is not
    /// recorded by CUDA graph capture.
    ///
    /// ## Example
    /// ```python
    /// positions = torch.arange(seq_len).cuda()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// positions = torch.arange(seq_len, device=x.device)  # created on the device
    /// ```
    /// For streaming inputs, copy from pinned memory with `non_blocking=True` outside the step.
    ///
    /// ## Known false positives
    /// Calls with `non_blocking=True` are not reported. Receivers whose device is unknown are not
    /// reported.
    pub static RULE = Rule { code: "GL603", name: "host-to-device-move", family: HostToDevice, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let moves = match call.method {
        Some("cuda") => true,
        Some("to") => {
            let target = call.keyword("device").or_else(|| call.arg(0));
            let ty = call.keyword_ty("device").or(call.args.first().copied()).unwrap_or(Ty::Unknown);
            target.is_some_and(|t| is_accelerator_device(t, ty))
        }
        _ => false,
    };
    if !moves || !call.receiver.is_host_tensor() {
        return;
    }
    if call.keyword("non_blocking").is_some_and(|v| matches!(v, Expr::BooleanLiteral(b) if b.value)) {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.text(r)).unwrap_or("tensor".into());
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}` is in host memory: moving it to the device is a blocking copy from pageable memory"),
        "create it on the device directly (`device=...`), or preload it once outside the hot path",
    );
}
