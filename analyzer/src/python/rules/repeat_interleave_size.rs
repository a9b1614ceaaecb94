use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `repeat_interleave` with tensor `repeats` and no `output_size=`.
    ///
    /// ## Why is this bad?
    /// The output length is `repeats.sum()`, which PyTorch reads back to the host to allocate the
    /// result.
    ///
    /// ## Example
    /// ```python
    /// expanded = x.repeat_interleave(counts, dim=0)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// expanded = x.repeat_interleave(counts, dim=0, output_size=total)  # total known on the host
    /// ```
    ///
    /// ## Known false positives
    /// Integer `repeats` never sync and are not reported; neither are repeats of unproven type.
    pub static RULE = Rule { code: "GL505", name: "repeat-interleave-size", family: DynamicShape, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.keyword("output_size").is_some() {
        return;
    }
    let repeats_is_tensor = if call.torch_function(&["repeat_interleave"]).is_some() {
        // torch.repeat_interleave(repeats) or torch.repeat_interleave(input, repeats)
        match call.args.len() {
            1 => call.args[0].is_device_tensor() && call.keyword("repeats").is_none(),
            _ => call.args.get(1).copied().or(call.keyword_ty("repeats")).is_some_and(|t| t.is_device_tensor()),
        }
    } else if call.tensor_method(&["repeat_interleave"]).is_some() {
        call.args.first().copied().or(call.keyword_ty("repeats")).is_some_and(|t| t.is_device_tensor())
    } else {
        return;
    };
    if !repeats_is_tensor {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        "`repeat_interleave` with tensor repeats reads `repeats.sum()` back to the host to size its output".to_string(),
        "pass `output_size=` (the total, known on the host) so the op does not need to sync",
    );
}
