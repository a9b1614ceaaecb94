use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.cuda.synchronize()` (and `torch.accelerator.synchronize()`) in a hot path.
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

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let Some(q) = call.qualified else { return };
    if matches!(q, ["torch", "cuda" | "accelerator" | "xpu", "synchronize"]) {
        checker.report_call(
            &RULE,
            call,
            format!("`{}()` blocks the host until all queued device work has finished", q.join(".")),
            "remove it from the hot path; to time GPU work, record CUDA events and read them after the loop",
        );
    }
}
