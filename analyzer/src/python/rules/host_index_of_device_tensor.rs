use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags indexing a tensor with a Python list (`x[[0, 2, 5]]`) or with a tensor known to live
    /// in host memory (`x[torch.arange(n)]` without `device=`).
    ///
    /// A list is known as one when it is written as a literal, built by `list(...)`, `sorted(...)`
    /// or a comprehension, taken out of a list of lists (`for i, row in enumerate(rows)` with
    /// `rows = [[...], ...]` or `[f(x) for x in xs]` where this file's `f` returns a list on every
    /// path), or read with a list default (`d.get(key, [])`).
    ///
    /// ## Why is this bad?
    /// The indices have to reach the device first: every call copies them host-to-device from
    /// pageable memory, which blocks the host and cannot be captured in a CUDA graph. Assigning
    /// a Python number through such an index (`scores[i, banned] = -inf`) uploads the number
    /// too; an H100 run of transformers' `EncoderNoRepeatNGramLogitsProcessor` showed the host
    /// waiting on that line every step.
    ///
    /// ## Example
    /// ```python
    /// picked = hidden[:, [0, 3, 7]]
    /// banned = [banned_tokens(seq) for seq in sequences]  # a list of lists
    /// for i, tokens in enumerate(banned):
    ///     scores[i, tokens] = -float("inf")
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// # in __init__: self.register_buffer("picked_idx", torch.tensor([0, 3, 7]))
    /// picked = hidden[:, self.picked_idx]
    /// # or gather all rows' indices into one boolean mask on the device:
    /// scores = scores.masked_fill(banned_mask, -float("inf"))
    /// ```
    ///
    /// ## Known false positives
    /// Host-ness of an index tensor is inferred from factories called without `device=`; code that
    /// sets a default CUDA device with `torch.set_default_device` is reported anyway. A mapping read
    /// with `d.get(key, [])` is taken to hold lists, which a mapping holding tensors with a list
    /// default contradicts. A 0-d integer tensor in host memory used as an index is read as a
    /// Python integer (a select, no copy) and is not reported where graphlint can tell the rank
    /// (`torch.tensor(0)`, an element of a 1-d host tensor walked by `for` or `zip`); where it
    /// cannot, as for the elements of a parameter of unknown rank (sglang's `for lora_idx, ... in
    /// zip(weight_indices, ...)`), it is reported anyway.
    pub static RULE = Rule { code: "GL602", name: "host-index-of-device-tensor", family: HostToDevice, language: Python }
}

pub(crate) fn check<'a>(checker: &mut Checker<'a>, elements: &'a [Expr], index_tys: &[Ty]) {
    for (element, ty) in elements.iter().zip(index_tys) {
        let what = match (element, ty) {
            (Expr::List(_), _) | (_, Ty::List) => "a Python list",
            // A 0-d host tensor is read as an integer on the host: no index is copied.
            (_, Ty::Tensor { host: true, .. }) if checker.is_scalar(element) => continue,
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
