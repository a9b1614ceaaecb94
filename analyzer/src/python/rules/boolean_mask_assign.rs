use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{ast, span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `x[mask] = value` where `mask` is a boolean tensor and `value` is a tensor.
    ///
    /// ## Why is this bad?
    /// With a tensor on the right, PyTorch turns the mask into indices (`mask.nonzero()`) to
    /// scatter the values, and the host waits for the count. Assigning a Python scalar
    /// (`x[mask] = 0.0`) is a `masked_fill` and does not sync.
    ///
    /// ## Example
    /// ```python
    /// logits[finished] = pad_logits
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// logits = torch.where(finished, pad_logits, logits)
    /// ```
    ///
    /// ## Known false positives
    /// Only masks proven boolean (as for GL502: comparisons, `.bool()`, `dtype=torch.bool`
    /// factories, and device moves, views and in-place updates of one) and values proven to be
    /// tensors are reported.
    pub static RULE = Rule { code: "GL507", name: "boolean-mask-assign", family: DynamicShape, language: Python }
}

pub(crate) fn check(
    checker: &mut Checker,
    subscript: &ast::ExprSubscript,
    elements: &[Expr],
    index_tys: &[Ty],
    stored: Ty,
) {
    if !stored.is_device_tensor() {
        return;
    }
    let Some(position) = index_tys.iter().position(|t| t.is_bool_tensor()) else { return };
    let mask = checker.text(&elements[position]);
    checker.report(
        &RULE,
        span(subscript),
        format!("assigning a tensor through boolean mask `{mask}` computes `nonzero()`, which waits for the device"),
        "use `torch.where(mask, value, x)` (or `masked_fill` for a scalar), which keeps shapes fixed",
    );
}
