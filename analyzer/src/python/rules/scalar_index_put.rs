use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{ast, span, Expr, Operator};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `x[index] = <Python number>` on a device tensor where `index` holds an integer index
    /// tensor (`scores[rows, cols] = -float("inf")`, `cache[:, pos] = 0`).
    ///
    /// ## Why is this bad?
    /// For a CUDA tensor, PyTorch's `__setitem__` turns the Python number into a 0-d tensor in
    /// *host* memory; with a tensor index the assignment is an `index_put_`, which moves that
    /// value to the device first: a copy from pageable memory, after which the host waits for
    /// the stream. Measured with `probe exec` on an H100 (torch 2.11): transformers'
    /// `DiaEOSDelayPatternLogitsProcessor` does it on every decoding step
    /// (`bench/results/recall-runtime_2026-12-07_nvidia-h100_436e824.md`).
    ///
    /// ## Example
    /// ```python
    /// scores[idx_bsz, idx_channel] = -float("inf")
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// # a device scalar made once (e.g. a buffer registered in `__init__`), or a fill kernel:
    /// scores.index_put_((idx_bsz, idx_channel), self.neg_inf)
    /// ```
    ///
    /// ## Known false positives
    /// A boolean mask with a Python number (`x[mask] = 0.0`) is a `masked_fill` and does not
    /// sync, and graphlint cannot always tell a mask from an index tensor. So with a single
    /// tensor index it reports only indices shown to be integers: arithmetic on tensors
    /// (`lengths - 1`), integer producers (`arange`, `argmax`, `argsort`, `topk(...).indices`,
    /// `.long()`...), or a name that says so (`idx`, `indices`, `ids`, `slots`, `positions`,
    /// `order`, never one with `mask`). A tensor named like an index that holds booleans is
    /// reported wrongly, unless its dtype is shown (`dtype=torch.bool`, `.bool()`, a comparison,
    /// and device moves or in-place updates of one). With two or more tensor indices it always
    /// reports: boolean ones would sync through `nonzero()` instead.
    pub static RULE = Rule { code: "GL604", name: "scalar-index-put", family: HostToDevice, language: Python }
}

pub(crate) fn check(
    checker: &mut Checker,
    subscript: &ast::ExprSubscript,
    elements: &[Expr],
    index_tys: &[Ty],
    stored: Ty,
) {
    if !matches!(stored, Ty::Int | Ty::Float | Ty::Bool) {
        return;
    }
    // A boolean mask anywhere makes PyTorch take other paths (masked_fill for a lone mask).
    if index_tys.iter().any(|ty| ty.is_bool_tensor()) {
        return;
    }
    let tensors: Vec<usize> = (0..index_tys.len()).filter(|&i| index_tys[i].is_device_tensor()).collect();
    let position = match tensors[..] {
        [] => return,
        [only] if !shown_integer(&elements[only]) => return,
        [first, ..] => first,
    };
    let index = checker.text(&elements[position]);
    checker.report(
        &RULE,
        span(subscript),
        format!(
            "assigning a Python number through tensor index `{index}` is an `index_put_` that first copies the number from host memory to the device and waits"
        ),
        "assign a device tensor made once (e.g. a registered buffer), or use `masked_fill` with a boolean mask",
    );
}

/// Integer producers among tensor methods and `torch` functions.
const INTEGER_PRODUCERS: &[&str] = &[
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "randint",
    "randperm",
    "long",
    "int",
    "searchsorted",
    "bucketize",
    "multinomial",
];

/// Whether an index expression is shown to hold integers rather than a boolean mask.
fn shown_integer(expr: &Expr) -> bool {
    match expr {
        // `.to(device)` keeps what it moves.
        Expr::Call(call) => match &*call.func {
            Expr::Attribute(a) if a.attr.as_str() == "to" => shown_integer(&a.value),
            Expr::Attribute(a) => INTEGER_PRODUCERS.contains(&a.attr.as_str()),
            Expr::Name(n) => INTEGER_PRODUCERS.contains(&n.id.as_str()),
            _ => false,
        },
        // Arithmetic turns even booleans into integers.
        Expr::BinOp(binop) => {
            matches!(binop.op, Operator::Add | Operator::Sub | Operator::Mult | Operator::FloorDiv | Operator::Mod)
        }
        Expr::Attribute(a) => a.attr.as_str() == "indices" || index_like_name(a.attr.as_str()),
        Expr::Name(n) => index_like_name(n.id.as_str()),
        // `order[:k]`: a slice of an index tensor.
        Expr::Subscript(s) => shown_integer(&s.value),
        _ => false,
    }
}

fn index_like_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !name.contains("mask")
        && ["idx", "indices", "index", "ids", "slots", "positions", "order"].iter().any(|word| name.contains(word))
}
