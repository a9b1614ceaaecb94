use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags the builtins `max`, `min` and `sorted` applied to tensors.
    ///
    /// ## Why is this bad?
    /// They compare with Python's `<`/`>`, which produce tensors that Python then converts with
    /// `bool()`: one host sync per comparison. `max(t)` over a tensor iterates it element by
    /// element.
    ///
    /// ## Example
    /// ```python
    /// longest = max(len_a, len_b)  # both tensors
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// longest = torch.maximum(len_a, len_b)
    /// ```
    /// `torch.max(t)`, `torch.sort(t)` and `torch.topk` work on the device.
    ///
    /// ## Known false positives
    /// Only calls with an argument proven to be a tensor are reported.
    pub static RULE = Rule { code: "GL404", name: "builtin-tensor-compare", family: ControlFlow, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let Some(name) = call.builtin(&["max", "min", "sorted"]) else { return };
    if !call.args.iter().any(|t| t.is_device_tensor()) {
        return;
    }
    let alternative = match name {
        "max" => "`torch.maximum(a, b)` or `torch.max(t)`",
        "min" => "`torch.minimum(a, b)` or `torch.min(t)`",
        _ => "`torch.sort(t)`",
    };
    checker.report_call(
        &RULE,
        call,
        format!(
            "builtin `{name}` compares tensors with Python operators, calling `bool()` (a host sync) per comparison"
        ),
        &format!("use {alternative}, which stays on the device"),
    );
}
