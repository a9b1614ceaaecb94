use super::{Checker, TestContext};
use crate::declare_rule;
use crate::python::adapter::{span, Expr};

declare_rule! {
    /// ## What it does
    /// Flags a tensor used as the condition of `if`, `elif`, `while`, a conditional expression
    /// (`a if t else b`) or a comprehension filter.
    ///
    /// ## Why is this bad?
    /// Python calls `bool(t)`, which copies the value to the host and waits for the device. The
    /// branch taken then depends on data the host has to wait for, and a CUDA graph can only
    /// capture one of the branches.
    ///
    /// ## Example
    /// ```python
    /// if (x > 0).any():
    ///     x = x * scale
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// x = torch.where(x > 0, x * scale, x)  # both branches on the device
    /// ```
    ///
    /// ## Known false positives
    /// Only conditions proven to be tensors are reported: `if x is None`, `if t.shape[0] > 1`,
    /// `if len(t)` are fine. A name one path binds to a device tensor and another to a Python
    /// value (`done = False` before a loop whose body sets `done = (ids == eos).all()`, or the two
    /// arms of an `if`) counts as the tensor: the first iteration, or the other path, does not wait.
    /// A tensor proven to be in host memory (see `item-call` for what proves it) is not reported;
    /// one in host memory with no sign of it (a scheduler's CPU `sigmas` read in another module) is.
    pub static RULE = Rule { code: "GL401", name: "tensor-condition", family: ControlFlow, language: Python }
}

pub(crate) fn check(checker: &mut Checker, expr: &Expr, context: TestContext) {
    let text = checker.text(expr);
    checker.report(
        &RULE,
        span(expr),
        format!(
            "tensor `{text}` used as {}: `bool()` copies it to the host and waits for the device",
            context.describe()
        ),
        "select on the device with `torch.where(cond, a, b)` or `masked_fill`, so both branches stay on the GPU",
    );
}
