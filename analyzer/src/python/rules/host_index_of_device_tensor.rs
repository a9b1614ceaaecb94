use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags indexing a tensor with a Python list (`x[[0, 2, 5]]`) or with a tensor known to live
    /// in host memory (`x[torch.arange(n)]` without `device=`).
    ///
    /// ## Why is this bad?
    /// The indices have to reach the device first: every call copies them host-to-device from
    /// pageable memory, which blocks the host and cannot be captured in a CUDA graph.
    ///
    /// ## Example
    /// ```python
    /// picked = hidden[:, [0, 3, 7]]
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// # in __init__: self.register_buffer("picked_idx", torch.tensor([0, 3, 7]))
    /// picked = hidden[:, self.picked_idx]
    /// ```
    ///
    /// ## Known false positives
    /// Host-ness of an index tensor is inferred from factories called without `device=`; code that
    /// sets a default CUDA device with `torch.set_default_device` is reported anyway.
    pub static RULE = Rule { code: "GL602", name: "host-index-of-device-tensor", family: HostToDevice, language: Python }
}

pub(crate) fn check(checker: &mut Checker, elements: &[Expr], index_tys: &[Ty]) {
    for (element, ty) in elements.iter().zip(index_tys) {
        let what = match (element, ty) {
            (Expr::List(_), _) | (_, Ty::List) => "a Python list",
            (_, Ty::Tensor { host: true, .. }) => "a tensor in host memory",
            _ => continue,
        };
        let text = checker.text(element);
        checker.report(
            &RULE,
            span(element),
            format!("indexing with {what} (`{text}`) copies the indices to the device on every call"),
            "build the index tensor once on the device (e.g. a buffer registered in `__init__`) and reuse it",
        );
    }
}
