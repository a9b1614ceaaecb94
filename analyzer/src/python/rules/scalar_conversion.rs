use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `int(t)`, `float(t)`, `bool(t)` and `complex(t)` where `t` is a tensor.
    ///
    /// ## Why is this bad?
    /// The conversion calls `t.item()` under the hood: the value is copied to the host and the host
    /// waits for the device. Replacing `.item()` with `int(...)` does not remove the sync.
    ///
    /// ## Example
    /// ```python
    /// end = int(self.current_idx[layer])
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// end = self.current_len  # a Python int kept in step with the tensor, on the host
    /// ```
    /// If the number is a size, take it from `t.shape`, which is known on the host.
    ///
    /// ## Known false positives
    /// Only arguments proven to be tensors are reported: `int(n)` on a Python int, `int(t.shape[0])`
    /// or `int(t.size(0))` are not.
    pub static RULE = Rule { code: "GL203", name: "scalar-conversion", family: TensorToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let Some(name) = call.builtin(&["int", "float", "bool", "complex"]) else { return };
    let Some(arg) = call.arg(0) else { return };
    if !call.args[0].is_device_tensor() {
        return;
    }
    let text = checker.text(arg);
    checker.report_call(
        &RULE,
        call,
        format!("`{name}({text})` reads the tensor's value on the host (like `.item()`), which waits for the device"),
        "keep it a tensor (e.g. `t.to(torch.int64)`), or take sizes from `.shape`, which is known on the host",
    );
}
