use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `.tolist()` on a tensor in a hot path.
    ///
    /// ## Why is this bad?
    /// `.tolist()` copies every element to the host as Python objects, waiting for the device to
    /// finish computing them first.
    ///
    /// ## Example
    /// ```python
    /// ids = next_tokens.tolist()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// ids = next_tokens  # keep token ids on the device; convert once, after generation
    /// ```
    ///
    /// ## Known false positives
    /// Only receivers proven to be tensors are reported (numpy arrays also have `tolist`), and
    /// not those in host memory (see `item-call` for what proves it, including the `*_cpu`
    /// naming convention). A tensor that lives on the host with no sign of it is reported.
    pub static RULE = Rule { code: "GL202", name: "tolist-call", family: TensorToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.tensor_method(&["tolist"]).is_none() {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("tensor".into());
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}.tolist()` copies the whole tensor to host memory and waits for the device"),
        "keep the values on the device, and convert them once outside the hot path",
    );
}
