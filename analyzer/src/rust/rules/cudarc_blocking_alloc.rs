use super::{Checker, MethodCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags allocations that block the host in a hot path: cudarc's `alloc_pinned` and
    /// `alloc_pinned_with_flags` (`cuMemHostAlloc`, always synchronous), and `alloc`/`alloc_zeros`
    /// on a stream, which fall back to the blocking `cuMemAlloc` when the context has no
    /// stream-ordered allocator (`CudaContext::has_async_alloc()` is `false`).
    ///
    /// ## Why is this bad?
    /// `cuMemAlloc` and `cuMemHostAlloc` synchronize the device and are not allowed during CUDA
    /// graph capture. Page-locking host memory is also slow. Only the stream-ordered
    /// `cuMemAllocAsync` is safe to call per step.
    ///
    /// ## Example
    /// ```rs
    /// fn step(&self, stream: &Arc<CudaStream>) -> Result<CudaSlice<f32>, DriverError> {
    ///     let mut scratch = stream.alloc_zeros::<f32>(self.n)?;
    ///     // ...
    ///     Ok(scratch)
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// // Allocate scratch and pinned buffers once, outside the step, and reuse them.
    /// stream.memset_zeros(&mut self.scratch)?;
    /// ```
    ///
    /// ## Known false positives
    /// On a GPU with memory pools (the default on recent cards), `alloc`/`alloc_zeros` use
    /// `cuMemAllocAsync` and do not block; graphlint cannot see the device, so they are reported
    /// when the receiver is proven to be a cudarc stream. Suppress with a reason if your
    /// deployment guarantees `has_async_alloc()`.
    pub static RULE = Rule { code: "GL904", name: "cudarc-blocking-alloc", family: RustCuda, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    let message = match call.name {
        "alloc_pinned" | "alloc_pinned_with_flags"
            if !matches!(call.receiver_ty, Ty::Other | Ty::Tensor | Ty::HostVec) =>
        {
            format!("`{}` page-locks new host memory with `cuMemHostAlloc`, which synchronizes the device", call.name)
        }
        "alloc" | "alloc_zeros"
            if matches!(call.receiver_ty, Ty::CudaStream) || (call.receiver_ty == Ty::CudaDevice && checker.cudarc) =>
        {
            format!("`{}` falls back to the blocking `cuMemAlloc` when the context has no async allocator", call.name)
        }
        _ => return,
    };
    let range = call.range();
    checker.report(&RULE, range, message, "allocate once outside the hot path and reuse the buffer");
}
