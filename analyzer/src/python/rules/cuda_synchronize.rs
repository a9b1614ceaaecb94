use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.cuda.synchronize()` (and `torch.accelerator.synchronize()`, the XPU, MPS, NPU
    /// and MUSA modules' own, and `torch.get_device_module(...).synchronize()`) in a hot path.
    ///
    /// ## Why is this bad?
    /// It blocks the host until every kernel queued on the device has finished. In a decode step
    /// that drains the queue the host worked to fill, so the GPU idles while the host catches up,
    /// and it is not allowed while a CUDA graph is being captured.
    ///
    /// ## Example
    /// ```python
    /// def forward(self, x):
    ///     y = self.block(x)
    ///     torch.cuda.synchronize()
    ///     return y
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// def forward(self, x):
    ///     return self.block(x)
    /// ```
    /// To time GPU work, record `torch.cuda.Event(enable_timing=True)` events and read them once,
    /// after the loop.
    ///
    /// ## Known false positives
    /// None: the call always synchronizes. If the wait is intended (a benchmark harness marked
    /// hot), suppress it with `# graphlint: ignore[GL101]`.
    pub static RULE = Rule { code: "GL101", name: "cuda-synchronize", family: ExplicitSync, language: Python }
}

/// The device modules whose `synchronize()` waits for the whole device: CUDA/ROCm, the generic
/// accelerator API, and the backends that plug into `torch` (Intel XPU, Apple MPS, Ascend NPU,
/// Moore Threads MUSA).
const DEVICE_MODULES: &[&str] = &["cuda", "accelerator", "xpu", "mps", "npu", "musa"];

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let text = match call.qualified {
        Some(["torch", module, "synchronize"]) if DEVICE_MODULES.contains(module) => format!("torch.{module}"),
        // `torch.get_device_module(device).synchronize()`: the module of the device's backend.
        None if call.method == Some("synchronize") && is_device_module_call(checker, call.receiver_expr) => {
            "torch.get_device_module(...)".to_string()
        }
        _ => return,
    };
    checker.report_call(
        &RULE,
        call,
        format!("`{text}.synchronize()` blocks the host until all queued device work has finished"),
        "remove it from the hot path; to time GPU work, record CUDA events and read them after the loop",
    );
}

fn is_device_module_call(checker: &Checker, receiver: Option<&crate::python::adapter::Expr>) -> bool {
    use crate::python::adapter::Expr;
    matches!(receiver, Some(Expr::Call(inner))
        if checker.dotted(&inner.func).is_some_and(|q| q.as_slice() == ["torch", "get_device_module"]))
}
