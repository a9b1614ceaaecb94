use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.unique`, `torch.unique_consecutive` and their method forms.
    ///
    /// ## Why is this bad?
    /// The number of distinct values is data: the host waits for the device to know the output
    /// size.
    ///
    /// ## Example
    /// ```python
    /// experts = topk_ids.unique()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// counts = torch.zeros(n_experts, device=ids.device).scatter_add_(0, ids, torch.ones_like(ids, dtype=torch.float))
    /// active = counts > 0  # a fixed-size mask instead of a variable-size list
    /// ```
    ///
    /// ## Known false positives
    /// Method forms are reported only on proven tensors.
    pub static RULE = Rule { code: "GL503", name: "unique-call", family: DynamicShape, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let names = ["unique", "unique_consecutive"];
    let Some(name) = call.torch_function(&names).or_else(|| call.tensor_method(&names)) else { return };
    checker.report_call(
        &RULE,
        call,
        format!("`{name}` returns a data-dependent number of elements, so the host waits for the device"),
        "with a known number of values, count into a fixed-size tensor (`scatter_add_`, `one_hot(..., num_classes=n)`)",
    );
}
