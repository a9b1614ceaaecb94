use super::{Checker, MethodCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags cudarc copies from device memory into host memory in a hot path: `clone_dtoh`,
    /// `memcpy_dtoh`, `memcpy_dtov`, and the older `dtoh_sync_copy` and `dtoh_sync_copy_into`.
    ///
    /// ## Why is this bad?
    /// The host needs the data, so it waits for the stream to produce it; into a `Vec` or slice
    /// (pageable memory) cudarc also synchronizes the stream after the copy. Under CUDA graph
    /// capture the copy is recorded as a memcpy node into pageable memory and silently returns
    /// garbage.
    ///
    /// ## Example
    /// ```rs
    /// let logits: Vec<f32> = stream.clone_dtoh(&logits_dev)?;
    /// let next = argmax(&logits);
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// // Reduce on the device and copy back only what the host needs, as rarely as possible,
    /// // into pinned memory (`alloc_pinned`) allocated once.
    /// stream.memcpy_dtoh(&next_token_dev, &mut pinned_next)?;
    /// ```
    ///
    /// ## Known false positives
    /// Any receiver not proven to be some other type is reported: these method names are cudarc's.
    /// A copy into pinned memory is still a wait for the data, so it is reported too.
    pub static RULE = Rule { code: "GL902", name: "cudarc-device-to-host", family: RustCuda, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, call: &MethodCall) {
    if !matches!(call.name, "clone_dtoh" | "memcpy_dtoh" | "memcpy_dtov" | "dtoh_sync_copy" | "dtoh_sync_copy_into") {
        return;
    }
    if matches!(call.receiver_ty, Ty::Other | Ty::Tensor | Ty::TchTensor | Ty::HostVec) {
        return;
    }
    let receiver = call.receiver_text(checker);
    let name = call.name;
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!("`{receiver}.{name}(..)` copies device memory to the host and waits for the stream to produce it"),
        "reduce on the device and copy back only what the host needs, rarely, into pinned memory allocated once",
    );
}
