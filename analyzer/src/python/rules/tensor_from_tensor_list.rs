use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.tensor([...])`, `torch.as_tensor([...])` and `torch.asarray([...])` whose list
    /// or tuple literal (or list comprehension) holds tensors, such as
    /// `torch.tensor([a.max(), b.max()])`.
    ///
    /// ## Why is this bad?
    /// A Python sequence is not a tensor, so PyTorch builds the result element by element on the
    /// host: each element is stored through the Python number protocol (`__float__`/`__index__`),
    /// which for a tensor means one `.item()`, that is one copy to the host and one wait for the
    /// device per element. The new tensor is then built in host memory and, with `device=`, copied
    /// back to the device.
    ///
    /// ## Example
    /// ```python
    /// lengths = torch.tensor([seq.sum() for seq in masks])
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// lengths = torch.stack([seq.sum() for seq in masks])  # stays on the device
    /// ```
    ///
    /// ## Known false positives
    /// Only elements proven to be tensors are reported; a list built elsewhere (`vals.append(t)`,
    /// then `torch.tensor(vals)`) is not followed, so that case goes unreported.
    pub static RULE = Rule { code: "GL205", name: "tensor-from-tensor-list", family: TensorToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let Some(name) = call.torch_function(&["tensor", "as_tensor", "asarray"]) else { return };
    let Some(data) = call.arg(0).or_else(|| call.keyword("data")) else { return };
    if !checker.holds_device_tensors(data) {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        format!("`torch.{name}(...)` of a list of tensors reads every element back to the host (one `.item()` each), waiting for the device"),
        "combine the tensors on the device with `torch.stack` or `torch.cat`",
    );
}
