use super::{Checker, MethodCall, PathCall};
use crate::declare_rule;
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags tch reads of a tensor's values into host values in a hot path: `double_value`,
    /// `int64_value` (and their fallible `f_` forms), `f64::try_from(tensor)` (any number type) and
    /// `Vec::<T>::try_from(tensor)`.
    ///
    /// ## Why is this bad?
    /// Like PyTorch's `.item()` and `.tolist()`, these copy device memory to the host and wait
    /// for the device to produce it, stalling the queue on every step.
    ///
    /// ## Example
    /// ```rs
    /// let next = logits.argmax(-1, false).int64_value(&[0]);
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// let next = logits.argmax(-1, true); // keep the token on the device as the next input
    /// ```
    ///
    /// ## Known false positives
    /// `double_value`/`int64_value` are reported whatever the receiver, unless it is proven to be
    /// another type. `try_from` is reported only when its argument is proven to be a tch tensor.
    pub static RULE = Rule { code: "GL905", name: "tch-tensor-to-host-value", family: RustCuda, language: Rust }
}

const HELP: &str =
    "keep the value on the device and use it in tensor ops, or read results back once, outside the hot path";

pub(crate) fn check_method(checker: &mut Checker, call: &MethodCall) {
    if !matches!(call.name, "double_value" | "int64_value" | "f_double_value" | "f_int64_value")
        || !matches!(call.receiver_ty, Ty::TchTensor | Ty::Unknown)
    {
        return;
    }
    let receiver = call.receiver_text(checker);
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!("`{receiver}.{}(..)` copies a tensor value to the host and waits for the device", call.name),
        HELP,
    );
}

pub(crate) fn check_path(checker: &mut Checker, call: &PathCall) {
    let (owner, name) = call.tail();
    let is_number = matches!(owner, "f64" | "f32" | "i64" | "i32" | "i16" | "i8" | "u8" | "bool");
    if !matches!(name, "try_from" | "from") || !(is_number || owner == "Vec") {
        return;
    }
    let Some(arg) = call.args.first() else { return };
    if checker.expr_ty(arg) != Ty::TchTensor {
        return;
    }
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!("`{owner}::{name}` of a tch tensor copies its values to the host and waits for the device"),
        HELP,
    );
}
