use super::{Checker, MethodCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags cudarc copies to the device from a `Vec`, slice or array (pageable host memory) in a
    /// hot path: `clone_htod`, `memcpy_htod`, and the older `htod_copy`, `htod_sync_copy`,
    /// `htod_sync_copy_into` and `memcpy_stod`.
    ///
    /// ## Why is this bad?
    /// A copy from pageable memory cannot be done by the copy engine directly: the driver stages
    /// it through a pinned buffer and the call returns only once the source has been read, so it
    /// does not overlap with the host. Under CUDA graph capture the node keeps a pointer to host
    /// memory that is freed or reused before the replay.
    ///
    /// ## Example
    /// ```rs
    /// let ids: Vec<u32> = next_tokens(&state);
    /// let ids_dev = stream.clone_htod(&ids)?;
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// // Once: let mut ids_host = unsafe { ctx.alloc_pinned::<u32>(n) }?;
    /// //       let mut ids_dev = stream.alloc_zeros::<u32>(n)?;
    /// ids_host.as_mut_slice()?.copy_from_slice(&next_tokens(&state));
    /// stream.memcpy_htod(&ids_host, &mut ids_dev)?;
    /// ```
    ///
    /// ## Known false positives
    /// A source whose type was not proven is reported; a source proven to be a `PinnedHostSlice`
    /// (or the result of `alloc_pinned`) is not.
    pub static RULE = Rule { code: "GL903", name: "cudarc-pageable-host-to-device", family: RustCuda, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    if !matches!(
        call.name,
        "clone_htod" | "memcpy_htod" | "htod_copy" | "htod_sync_copy" | "htod_sync_copy_into" | "memcpy_stod"
    ) || matches!(call.receiver_ty, Ty::Other | Ty::Tensor | Ty::TchTensor | Ty::HostVec)
    {
        return;
    }
    let Some(source) = call.arg(0) else { return };
    let message = match checker.expr_ty(source) {
        Ty::PinnedHost | Ty::DeviceSlice | Ty::Other => return,
        Ty::HostVec => format!("`{}(..)` copies from pageable host memory, which the driver stages synchronously", call.name),
        _ => format!(
            "`{}(..)` copies from `{}`, not proven to be pinned memory; from a `Vec` or slice the driver stages the copy synchronously",
            call.name,
            checker.expr_text(source)
        ),
    };
    let range = call.range();
    checker.report(
        &RULE,
        range,
        message,
        "copy from a `PinnedHostSlice` allocated once (`alloc_pinned`), into a device buffer allocated once",
    );
}
