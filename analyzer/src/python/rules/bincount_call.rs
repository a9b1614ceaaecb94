use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.bincount` and `Tensor.bincount`.
    ///
    /// ## Why is this bad?
    /// The output length is `max(input) + 1` (at least `minlength`), so PyTorch reads the maximum
    /// back to the host before allocating the result, even when `minlength` is given.
    ///
    /// ## Example
    /// ```python
    /// tokens_per_expert = torch.bincount(expert_ids, minlength=n_experts)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// tokens_per_expert = torch.zeros(n_experts, dtype=torch.long, device=expert_ids.device)
    /// tokens_per_expert.scatter_add_(0, expert_ids, torch.ones_like(expert_ids))
    /// ```
    ///
    /// ## Known false positives
    /// Method forms are reported only on proven tensors.
    pub static RULE = Rule { code: "GL504", name: "bincount-call", family: DynamicShape, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.torch_function(&["bincount"]).is_none() && call.tensor_method(&["bincount"]).is_none() {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        "`bincount` sizes its output from the input's maximum, which the host reads back from the device".to_string(),
        "with a known number of bins, count with `torch.zeros(n).scatter_add_(0, x, ones)` (fixed shape, no sync)",
    );
}
