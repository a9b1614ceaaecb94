use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::{ast, span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags reads through a boolean mask (`x[mask]`) and `masked_select`.
    ///
    /// ## Why is this bad?
    /// The result has one element per true entry of the mask. PyTorch computes `mask.nonzero()`
    /// to find them: the host waits for the device to learn the output size.
    ///
    /// ## Example
    /// ```python
    /// valid_scores = scores[mask]
    /// total = valid_scores.sum()
    /// rows = torch.zeros(n, dtype=torch.bool).scatter_(0, picked, True).to(device, non_blocking=True)
    /// chosen = logits[rows]
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// total = torch.where(mask, scores, 0).sum()  # fixed shape, no sync
    /// ```
    ///
    /// ## Known false positives
    /// Only indexes proven to be boolean tensors (comparisons, `~mask`, `.bool()`,
    /// `Bool[Tensor, ...]` annotations, `dtype=torch.bool` factories, `.to(torch.bool)`, and what
    /// keeps the dtype of one: `.to(device)`, in-place methods such as `scatter_`, views,
    /// `repeat_interleave`, `index_select`, `*_like`, and rows of one taken by `for`, `zip`,
    /// `enumerate` or unpacking) are reported. Integer index tensors are fine.
    pub static RULE = Rule { code: "GL502", name: "boolean-mask-read", family: DynamicShape, language: Python }
}

const HELP: &str = "keep the shape fixed: `torch.where(mask, x, 0)` or `x.masked_fill(~mask, 0)`, then reduce";

pub(crate) fn check_subscript(
    checker: &mut Checker,
    subscript: &ast::ExprSubscript,
    elements: &[Expr],
    index_tys: &[Ty],
) {
    let Some(position) = index_tys.iter().position(|t| t.is_bool_tensor()) else { return };
    let mask = checker.text(&elements[position]);
    checker.report(
        &RULE,
        span(subscript),
        format!("indexing with boolean mask `{mask}` yields a data-dependent number of elements, so the host waits for the device"),
        HELP,
    );
}

pub(crate) fn check_call(checker: &mut Checker, call: &CallInfo) {
    if call.torch_function(&["masked_select"]).is_none() && call.tensor_method(&["masked_select"]).is_none() {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        "`masked_select` yields a data-dependent number of elements, so the host waits for the device".to_string(),
        HELP,
    );
}
