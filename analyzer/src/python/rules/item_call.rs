use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `.item()` in a hot path.
    ///
    /// ## Why is this bad?
    /// `.item()` copies a tensor's single value into a Python number. The host must wait until the
    /// device has produced that value, so the CPU stops queueing work and the GPU drains. Under
    /// CUDA graph capture the read is not recorded at all.
    ///
    /// ## Example
    /// ```python
    /// def forward(self, x):
    ///     n = self.lengths[0].item()
    ///     return x[:, :n]
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// def forward(self, x, n: int):  # track lengths on the host, next to the tensors
    ///     return x[:, :n]
    /// ```
    /// Or keep the value as a 0-d tensor and use it in tensor ops (`torch.where`, masks).
    ///
    /// ## Known false positives
    /// `.item()` is reported even when the receiver's type was not proven, since almost every
    /// `.item()` in model code is a tensor's; the message then says so. A receiver proven to be
    /// something else (a numpy array, a Python number) is not reported, nor is one in host
    /// memory: what `.cpu()`, `.to("cpu")` or `.numpy()` returned (whatever their receiver), a
    /// tensor created with `device="cpu"`, `device=t.device` of a host tensor `t`, with
    /// `pin_memory=` or without `device=`, what torch functions, tensor methods, indexing and
    /// arithmetic compute from host tensors with no input proven to be on the device
    /// (`torch.stack(torch.meshgrid(*[torch.linspace(...) ...]))`, `torch.cat([a, b])`), a `self.x`
    /// that every assignment fills with host data (one of unknown type may be a device tensor;
    /// `None` and literals are not tensors), numpy calls and their
    /// results' methods. A file that may change the default device (`torch.set_default_device`,
    /// `torch.set_default_tensor_type`, `with torch.device(...):`) proves nothing by a missing
    /// `device=`; a default device set in another module is not seen, and a factory's `.item()`
    /// there is missed. Serving engines keep host mirrors of device buffers under names that say
    /// so, and graphlint follows that convention for values it cannot type otherwise (and for
    /// tensors whose device it does not know): a name with a `cpu` word (`seq_lens_cpu`,
    /// `query_start_loc_cpu_upper`, a buffer's `.cpu` field) is host data, one with an `np` or
    /// `numpy` word (`positions_np`, a buffer's `.np` view) a numpy array. A device tensor named
    /// that way is missed, and so is the value after its name is gone. A host tensor graphlint
    /// sees no sign of (token ids from a tokenizer) is reported; its `.item()` does not wait.
    pub static RULE = Rule { code: "GL201", name: "item-call", family: TensorToHost, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.method != Some("item") || !call.args.is_empty() {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("tensor".into());
    let message = if call.receiver.is_device_tensor() {
        format!("`{receiver}.item()` copies the tensor's value to the host and waits for the device to produce it")
    } else if call.receiver.is_unproven() {
        format!(
            "`{receiver}.item()`: the receiver's type was not proven; if it is a tensor, this copies its value to the host and waits for the device"
        )
    } else {
        return;
    };
    checker.report_call(
        &RULE,
        call,
        message,
        "keep the value on the device (use the 0-d tensor in tensor ops), or track it as a Python int next to the tensor",
    );
}
