use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::{span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags tensors used where Python needs an integer: `range(t)`, slice bounds `x[a:b]` with
    /// tensor `a` or `b`, and `operator.index(t)`.
    ///
    /// ## Why is this bad?
    /// Python calls the tensor's `__index__`, which copies its value to the host and waits for the
    /// device. A KV cache sliced with a tensor position syncs on every decode step.
    ///
    /// ## Example
    /// ```python
    /// start = self.current_idx[layer]
    /// self.keys[layer, :, start:start + n] = k
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// start = self.current_len  # a Python int advanced by the host each step
    /// self.keys[layer, :, start:start + n] = k
    /// ```
    /// Or write with an index tensor that stays on the device (`index_copy_`, `scatter_`).
    ///
    /// ## Known false positives
    /// Only bounds proven to be tensors are reported.
    pub static RULE = Rule { code: "GL204", name: "tensor-as-index", family: TensorToHost, language: Python }
}

const HELP: &str =
    "keep bounds as Python ints tracked on the host, or index with a tensor that stays on the device (`index_copy_`, `gather`)";

pub(crate) fn check_slice_bound(checker: &mut Checker, bound: &Expr) {
    let text = checker.text(bound);
    checker.report(
        &RULE,
        span(bound),
        format!("slice bound `{text}` is a tensor: Python calls `__index__`, which copies it to the host and waits for the device"),
        HELP,
    );
}

pub(crate) fn check_range_arg(checker: &mut Checker, arg: &Expr, ty: Ty) {
    if ty.is_device_tensor() {
        let text = checker.text(arg);
        checker.report(
            &RULE,
            span(arg),
            format!("`range()` of tensor `{text}` converts it to a Python int, which waits for the device"),
            HELP,
        );
    }
}

pub(crate) fn check_call(checker: &mut Checker, call: &CallInfo) {
    let is_range = call.builtin(&["range"]).is_some();
    if !is_range && !call.is(&["operator", "index"]) {
        return;
    }
    for (index, ty) in call.args.iter().enumerate() {
        if let (true, Some(arg)) = (ty.is_device_tensor(), call.arg(index)) {
            check_range_arg(checker, arg, *ty);
        }
    }
}
