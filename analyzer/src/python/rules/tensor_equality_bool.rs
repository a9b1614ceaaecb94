use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.equal(a, b)`, `torch.allclose(a, b)` and their method forms.
    ///
    /// ## Why is this bad?
    /// They return a Python `bool`, not a tensor: the comparison result is copied to the host and
    /// the host waits for the device before it can branch on it.
    ///
    /// ## Example
    /// ```python
    /// if torch.equal(mask, prev_mask):
    ///     return cached
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// same = (mask == prev_mask).all()  # a 0-d tensor on the device
    /// out = torch.where(same, cached, fresh)
    /// ```
    ///
    /// ## Known false positives
    /// Method forms (`a.equal(b)`) are only reported when `a` is proven to be a tensor.
    pub static RULE = Rule { code: "GL304", name: "tensor-equality-bool", family: DeviceToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let Some(name) = call.torch_function(&["equal", "allclose"]).or_else(|| call.tensor_method(&["equal", "allclose"]))
    else {
        return;
    };
    checker.report_call(
        &RULE,
        call,
        format!(
            "`{name}` returns a Python bool, so the result is copied to the host and the host waits for the device"
        ),
        "compare on the device (`(a == b).all()`, `torch.isclose(a, b).all()`) and consume the result with tensor ops",
    );
}
