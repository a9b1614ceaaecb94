use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{span, Expr};

declare_rule! {
    /// ## What it does
    /// Flags `assert` on a tensor (`assert (x >= 0).all()`, `assert end <= self.max_len` with a
    /// tensor `end`).
    ///
    /// ## Why is this bad?
    /// `assert` calls `bool()` on the tensor: the host waits for the device on every call, in
    /// every step, just to check an invariant.
    ///
    /// ## Example
    /// ```python
    /// assert (ids < self.vocab_size).all(), "id out of range"
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// torch._assert_async((ids < self.vocab_size).all())  # checked on the device
    /// ```
    /// Or check it once, outside the hot path.
    ///
    /// ## Known false positives
    /// `python -O` strips asserts; graphlint assumes they run, as they do by default.
    pub static RULE = Rule { code: "GL403", name: "tensor-assert", family: ControlFlow, language: Python }
}

pub(crate) fn check(checker: &mut Checker, expr: &Expr) {
    let text = checker.text(expr);
    checker.report(
        &RULE,
        span(expr),
        format!("`assert` on tensor `{text}` calls `bool()`, which copies it to the host and waits for the device"),
        "use `torch._assert_async(cond)`, which checks on the device, or move the check out of the hot path",
    );
}
