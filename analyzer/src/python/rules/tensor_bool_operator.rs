use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{ast, span, BoolOp, Expr};

declare_rule! {
    /// ## What it does
    /// Flags `and`, `or` and `not` applied to a tensor outside a condition (inside one, GL401
    /// reports it).
    ///
    /// ## Why is this bad?
    /// `a and b` and `not a` call `bool(a)`: the value is copied to the host and the host waits for
    /// the device. They are not element-wise operators.
    ///
    /// ## Example
    /// ```python
    /// valid = mask and (lengths > 0)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// valid = mask & (lengths > 0)  # element-wise, stays on the device
    /// ```
    ///
    /// ## Known false positives
    /// The last operand of `and`/`or` is returned, not tested, and is not reported.
    pub static RULE = Rule { code: "GL402", name: "tensor-bool-operator", family: ControlFlow, language: Python }
}

const HELP: &str = "use the element-wise operators `&`, `|`, `~` (or `torch.logical_and`/`logical_or`/`logical_not`)";

pub(crate) fn check_operand(checker: &mut Checker, op: BoolOp, operand: &Expr) {
    let text = checker.text(operand);
    let word = if op == BoolOp::And { "and" } else { "or" };
    checker.report(
        &RULE,
        span(operand),
        format!("`{word}` calls `bool()` on tensor `{text}`, which copies it to the host and waits for the device"),
        HELP,
    );
}

pub(crate) fn check_not(checker: &mut Checker, unary: &ast::ExprUnaryOp) {
    let text = checker.text(&*unary.operand);
    checker.report(
        &RULE,
        span(unary),
        format!("`not` calls `bool()` on tensor `{text}`, which copies it to the host and waits for the device"),
        HELP,
    );
}
