use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::{ast, span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags tensors used where Python needs an integer: `range(t)`, slice bounds `x[a:b]` with
    /// tensor `a` or `b`, `operator.index(t)`, a Python list or tuple (or a `torch.Size`)
    /// indexed by a tensor, `items[t]`, and a tensor or numpy array indexed by a 0-d tensor
    /// (`logits[best, n]` with `best = scores.argmax()`).
    ///
    /// ## Why is this bad?
    /// Python calls the tensor's `__index__`, which copies its value to the host and waits for the
    /// device. A KV cache sliced with a tensor position syncs on every decode step. A list indexed
    /// by a tensor works only when the tensor holds one integer (any other tensor raises), so
    /// every such index is a read-back. A tensor indexed by a 0-d integer tensor selects with the
    /// index's value, which PyTorch reads on the host first (a tensor with elements gathers on
    /// the device instead). Iterating over a tensor (`for row in t:`) is not reported:
    /// it calls `unbind`, which makes views without reading values.
    ///
    /// When PyTorch reads a tensor index (checked in its C++ indexing code, reads and writes
    /// alike): a tensor index, alone or as one element of an index tuple next to numbers, slices,
    /// `None`, `...` or other tensors, that has no dimensions and an integer dtype is turned into
    /// a plain position: its value is fetched with `item()` and the indexed dimension is
    /// selected. Where the index lives does not change this path, so an index on the GPU is
    /// copied to the host and the host waits. A list holding tensors (`x[[i, j]]`) is unpacked
    /// like a tuple and goes the same way. A 0-d `bool` or `uint8` index is read too (to keep or
    /// empty an added dimension); the mask rules cover those. A 0-d floating index is not a valid
    /// index (PyTorch raises). JIT tracing still reads the value (it only records the index as
    /// an input of the trace); an index batched by `vmap` skips this path.
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
    /// Only bounds and indices proven to be tensors are reported, and only on containers known to
    /// be Python lists, tuples or shapes: a dict keyed by tensors (hashed by identity, no sync) is
    /// not reported, nor is a container whose type is not known. A tensor indexed by a tensor is
    /// reported only when the index is proven 0-d, in the same function: a full reduction such
    /// as `x.max()` or `torch.argmax(x)`, `torch.tensor(3)`, arithmetic of one with numbers, or
    /// a tensor of a known rank indexed by as many Python integers or iterated down to its
    /// elements (`v[-1]` and `for tok in v` with `v` 1-d; `m[0, i]`, `m[0, a:b][k]` or `for row
    /// in m: for tok in row` with `m` 2-d). Ranks come from the code only: `b, n = m.shape`
    /// (unpacking raises unless `m` is 2-d), flattening (`x.flatten()`, `x.view(-1)`),
    /// `torch.arange`, `nonzero(as_tuple=True)[k]`, and numbers, slices and `None` indexing one
    /// of those. An index whose rank is not known this way (`t[-1]` of a parameter, an element
    /// of a tensor of unknown rank) is not reported.
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

/// `items[t]` on a Python list or tuple (or a shape), read or assigned.
pub(crate) fn check_sequence_index(checker: &mut Checker, subscript: &ast::ExprSubscript, value: Ty, index: Ty) {
    if !matches!(value, Ty::List | Ty::Tensors | Ty::Shape) || !index.is_device_tensor() {
        return;
    }
    let text = checker.text(&*subscript.slice);
    let container = if value == Ty::Shape { "a shape" } else { "a Python sequence" };
    checker.report(
        &RULE,
        span(subscript),
        format!("indexing {container} with tensor `{text}` calls `__index__`, which copies it to the host and waits for the device"),
        "keep the index as a Python int tracked on the host, or stack the items into a tensor and index that on the device",
    );
}

/// `x[t]` with `t` a 0-d device tensor.
pub(crate) fn check_scalar_index(checker: &mut Checker, index: &Expr) {
    let text = checker.text(index);
    checker.report(
        &RULE,
        span(index),
        format!("index `{text}` is a 0-d tensor: indexing reads its value on the host, which waits for the device"),
        "keep the index a Python int tracked on the host, or select on the device (`index_select`, `gather`, `torch.where`)",
    );
}
