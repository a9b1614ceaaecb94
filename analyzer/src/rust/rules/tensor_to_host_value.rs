use super::{Checker, MethodCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags candle's `to_scalar`, `to_vec0`, `to_vec1`, `to_vec2` and `to_vec3` in a hot path.
    ///
    /// ## Why is this bad?
    /// These copy the tensor's values from device memory into host values. The host blocks until
    /// the device has produced them, so the CPU stops queueing kernels and the GPU drains. Inside
    /// a CUDA graph capture the copy is recorded as a device-to-host memcpy node into pageable
    /// memory: the call returns garbage without any error.
    ///
    /// ## Example
    /// ```rs
    /// fn forward(&self, xs: &Tensor) -> Result<Tensor> {
    ///     let len = self.lengths.i(0)?.to_scalar::<u32>()? as usize;
    ///     xs.narrow(1, 0, len)
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// fn forward(&self, xs: &Tensor, len: usize) -> Result<Tensor> {
    ///     xs.narrow(1, 0, len) // track lengths on the host, next to the tensors
    /// }
    /// ```
    /// Or keep the value on the device and use it in tensor ops (`where_cond`, masks).
    ///
    /// ## Known false positives
    /// The method names are candle's own, so a receiver whose type was not proven is still
    /// reported (the message says so); a receiver proven to be something else is not. Reading a
    /// tensor that already lives on the CPU does not sync, but graphlint does not track devices.
    pub static RULE = Rule { code: "GL801", name: "tensor-to-host-value", family: Candle, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    if !matches!(call.name, "to_scalar" | "to_vec0" | "to_vec1" | "to_vec2" | "to_vec3")
        || !call.receiver_ty.may_be_tensor()
    {
        return;
    }
    let receiver = call.receiver_text(checker);
    let name = call.name;
    let message = if call.receiver_ty == Ty::Tensor {
        format!("`{receiver}.{name}()` copies the tensor's values to the host and waits for the device to produce them")
    } else {
        format!("`{receiver}.{name}()`: the receiver's type was not proven; on a candle tensor this copies its values to the host and waits for the device")
    };
    let range = call.range();
    checker.report(
        &RULE,
        range,
        message,
        "keep the value on the device and use it in tensor ops, or track it on the host next to the tensor",
    );
}
