use super::{is_accelerator_device, CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::Expr;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `torch.tensor(...)`, `torch.as_tensor(...)` and `torch.asarray(...)` that create the
    /// tensor on an accelerator (`device="cuda"`, `device=x.device`) in a hot path.
    ///
    /// ## Why is this bad?
    /// The data starts in host memory, so every call is a host-to-device copy from pageable memory:
    /// the host blocks until the copy is staged, and CUDA graph capture cannot record it (a graph
    /// replays the copy of whatever the buffer held at capture time, or the capture fails).
    ///
    /// ## Example
    /// ```python
    /// floor = torch.tensor(self.min_scale, device=x.device)
    /// scale = torch.maximum(scale, floor)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// scale = scale.clamp(min=self.min_scale)  # Python scalars go in as kernel arguments
    /// ```
    /// Or `torch.full((), value, device=...)` (a fill kernel, no copy), or a buffer registered once
    /// in `__init__`.
    ///
    /// ## Known false positives
    /// `device=` given as `x.device` (or a name bound to it) is taken for the accelerator, unless
    /// `x` is proven to be in host memory (see `item-call` for what proves it), and so is a
    /// variable typed `torch.device` unless it is bound to `torch.device("cpu")`: a CPU device
    /// reached any other way (a parameter's annotation, another module) is reported.
    pub static RULE = Rule { code: "GL601", name: "tensor-creation-on-device", family: HostToDevice, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let Some(name) = call.torch_function(&["tensor", "as_tensor", "asarray"]) else { return };
    let Some(device) = call.keyword("device") else { return };
    if !is_accelerator_device(device, call.keyword_ty("device").unwrap_or(Ty::Unknown)) {
        return;
    }
    // A literal of device tensors is GL205's finding (the elements are read back first).
    if call.arg(0).is_some_and(|data| checker.holds_device_tensors(data)) {
        return;
    }
    // Empty data (`torch.tensor([], device=d)`) has nothing to copy: PyTorch skips the copy of an
    // empty tensor (no transfer seen at runtime: transformers' `DynamicLayer.lazy_initialization`).
    if call.arg(0).is_some_and(is_empty_literal) {
        return;
    }
    // `torch.as_tensor(t, device=...)` of a tensor already on the device is a no-op.
    if name != "tensor" && call.args.first().is_some_and(|t| t.is_tensor() && !t.is_host_tensor()) {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        format!("`torch.{name}(...)` on the device copies host data from pageable memory on every call, which CUDA graph capture cannot record"),
        "pass Python scalars straight to the op (`clamp(min=v)`, `torch.where(c, x, v)`), use `torch.full((), v, device=...)`, or register a buffer once in `__init__`",
    );
}

fn is_empty_literal(data: &Expr) -> bool {
    match data {
        Expr::List(list) => list.elts.is_empty(),
        Expr::Tuple(tuple) => tuple.elts.is_empty(),
        _ => false,
    }
}
