use super::{is_cpu_device, Checker, PathCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags candle tensors built from host data on a non-CPU device in a hot path:
    /// `Tensor::new`, `Tensor::from_vec`, `Tensor::from_slice`, `Tensor::from_iter`,
    /// `Tensor::arange` and `Tensor::arange_step`.
    ///
    /// ## Why is this bad?
    /// Each builds the data in pageable host memory and copies it to the device. A copy from
    /// pageable memory is staged through a driver buffer and does not overlap with the host; in a
    /// decode step it runs on every token. Under CUDA graph capture it becomes a host-to-device
    /// memcpy node that reads host memory freed right after capture.
    ///
    /// ## Example
    /// ```rs
    /// fn forward(&self, xs: &Tensor, pos: usize) -> Result<Tensor> {
    ///     let positions = Tensor::arange(pos as u32, (pos + 1) as u32, xs.device())?;
    ///     self.embed(xs, &positions)
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// // Build the table once, on the device, and slice it per step.
    /// let positions = self.all_positions.narrow(0, pos, 1)?;
    /// ```
    /// Or write new inputs into a preallocated device tensor before each step.
    ///
    /// ## Known false positives
    /// The device argument counts as non-CPU unless it is written `&Device::Cpu` or is a local
    /// bound to it; a `device` that is the CPU at run time is still reported.
    pub static RULE = Rule { code: "GL804", name: "tensor-from-host", family: Candle, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &PathCall) {
    let (owner, name) = call.tail();
    let device_index = match name {
        "new" | "from_iter" => 1,
        "from_vec" | "from_slice" | "arange" => 2,
        "arange_step" => 3,
        _ => return,
    };
    if owner != "Tensor" || checker.tch {
        return;
    }
    let Some(device) = call.args.get(device_index) else { return };
    if is_cpu_device(checker, device) || checker.expr_ty(device) == Ty::Other {
        return;
    }
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!("`Tensor::{name}` on a device copies host data from pageable memory to the device on every call"),
        "build the tensor once on the device (or in pinned memory) and reuse or slice it per step",
    );
}
