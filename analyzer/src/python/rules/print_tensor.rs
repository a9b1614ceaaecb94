use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `print(...)` with a tensor argument in a hot path.
    ///
    /// ## Why is this bad?
    /// Printing formats the tensor's values, which copies them to the host and waits for the
    /// device. Debug prints left in `forward` sync on every step.
    ///
    /// ## Example
    /// ```python
    /// print("attn", attn_weights)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// print("attn", attn_weights.shape)  # shapes are known on the host
    /// ```
    ///
    /// ## Known false positives
    /// Only arguments proven to be tensors are reported.
    pub static RULE = Rule { code: "GL701", name: "print-tensor", family: Formatting, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.builtin(&["print"]).is_none() || !call.args.iter().any(|t| t.is_device_tensor()) {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        "`print` of a tensor formats its values, which copies them to the host and waits for the device".to_string(),
        "print shapes or dtypes (known on the host), or print values outside the hot path",
    );
}
