use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `nonzero`, `argwhere` and one-argument `torch.where(cond)`.
    ///
    /// ## Why is this bad?
    /// Their output has as many rows as there are true elements, which only the device knows. The
    /// host waits for that count before it can allocate the result, and a CUDA graph cannot hold a
    /// shape that changes from run to run.
    ///
    /// ## Example
    /// ```python
    /// idx = torch.nonzero(finished)
    /// logits[idx] = -inf
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// logits = logits.masked_fill(finished, float("-inf"))
    /// ```
    /// With a known upper bound, `torch.nonzero_static(x, size=n)` keeps the shape fixed.
    ///
    /// ## Known false positives
    /// Three-argument `torch.where(cond, a, b)` is element-wise and never reported.
    pub static RULE = Rule { code: "GL501", name: "nonzero-like", family: DynamicShape, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let total_args = call.args.len() + call.keywords.iter().filter(|(k, _)| k.is_some()).count();
    let name =
        match (call.torch_function(&["nonzero", "argwhere", "where"]), call.tensor_method(&["nonzero", "argwhere"])) {
            (Some("where"), _) if total_args == 1 => "where",
            (Some("where"), _) => return,
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => return,
        };
    checker.report_call(
        &RULE,
        call,
        format!("`{name}` returns a data-dependent number of elements, so the host waits for the device to learn the size"),
        "keep shapes fixed: mask with `torch.where(cond, a, b)`/`masked_fill`, or use `torch.nonzero_static(x, size=n)`",
    );
}
