use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::{ast, span, Expr};
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags formatting a tensor into a string: f-strings (`f"{t}"`), `str(t)`, `repr(t)`,
    /// `format(t)`, `"...".format(t)` and `"%s" % t`.
    ///
    /// ## Why is this bad?
    /// Formatting reads the tensor's values, which copies them to the host and waits for the
    /// device, even when the string is then thrown away.
    ///
    /// ## Example
    /// ```python
    /// self.last_msg = f"loss={loss}"
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// self.last_loss = loss.detach()  # format it later, outside the hot path
    /// ```
    ///
    /// ## Known false positives
    /// Formatting inside an `assert` message or a `raise` is not reported: it only runs when the
    /// check fails.
    pub static RULE = Rule { code: "GL702", name: "format-tensor", family: Formatting, language: Python }
}

const HELP: &str = "format shapes/dtypes instead, or keep the tensor and format it outside the hot path";

pub(crate) fn check_interpolation(checker: &mut Checker, expression: &Expr) {
    if checker.in_error_path() {
        return;
    }
    let text = checker.text(expression);
    checker.report(
        &RULE,
        span(expression),
        format!("f-string formats tensor `{text}`, which copies its values to the host and waits for the device"),
        HELP,
    );
}

pub(crate) fn check_percent(checker: &mut Checker, binop: &ast::ExprBinOp, right: Ty) {
    if checker.in_error_path() || !(right.is_device_tensor() || right == Ty::Tensors) {
        return;
    }
    checker.report(
        &RULE,
        span(binop),
        "`%` formatting of a tensor copies its values to the host and waits for the device".to_string(),
        HELP,
    );
}

pub(crate) fn check_call(checker: &mut Checker, call: &CallInfo) {
    if checker.in_error_path() {
        return;
    }
    let name = if let Some(name) = call.builtin(&["str", "repr", "format"]) {
        if !call.args.first().is_some_and(|t| t.is_device_tensor()) {
            return;
        }
        name
    } else if call.method == Some("format") && call.receiver == Ty::Str {
        if !call.args.iter().chain(call.keywords.iter().map(|(_, t)| t)).any(|t| t.is_device_tensor()) {
            return;
        }
        "str.format"
    } else {
        return;
    };
    checker.report_call(
        &RULE,
        call,
        format!("`{name}` of a tensor formats its values, which copies them to the host and waits for the device"),
        HELP,
    );
}
