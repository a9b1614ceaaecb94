use super::Checker;
use crate::declare_rule;
use crate::python::adapter::{ast, span, Expr};

declare_rule! {
    /// ## What it does
    /// Flags `x in t` and `x not in t` where `t` is a tensor, and `t in (a, b)` / `t in [a, b]`
    /// / `t in some_list` where `t` is a tensor and the container a Python list or tuple.
    ///
    /// ## Why is this bad?
    /// `in` calls `Tensor.__contains__`, which compares `x` with every element on the device,
    /// reduces the result with `any()` and turns it into a Python `bool` with `.item()`: the host
    /// waits for the device on every test. It reads like a cheap Python membership test, which is
    /// why it hides well in sampling and stopping code (`if token in stop_ids:`). A list or tuple
    /// tests its items one by one with `==` and asks each answer for its truth value: with a
    /// tensor on either side that answer is a tensor, and its `bool()` reads it back.
    ///
    /// ## Example
    /// ```python
    /// if next_token in self.eos_token_ids:  # a tensor of ids on the device
    ///     done = True
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// is_done = torch.isin(next_tokens, self.eos_token_ids)  # stays on the device
    /// ```
    /// Or keep the ids as a Python `set` when the value tested is already a host int.
    ///
    /// ## Known false positives
    /// Only containers proven to be tensors are reported, so `x in some_list` is not, unless `x`
    /// is the tensor and the container a list/tuple literal or a value known to be a list. A set
    /// or dict is not reported (a tensor hashes by identity, no value is read). A tensor
    /// known to live on the host (created without a device in the same function) is not reported,
    /// nor is a string tested against a value inferred as a tensor (`Tensor.__contains__` would
    /// raise, so the value must be something else, such as a dict). A tensor that in fact lives on
    /// the host without graphlint knowing (token ids from a tokenizer) is reported; its test does
    /// not wait for the device.
    pub static RULE = Rule { code: "GL405", name: "tensor-membership", family: ControlFlow, language: Python }
}

pub(crate) fn check(checker: &mut Checker, compare: &ast::ExprCompare, container: &Expr) {
    let text = checker.text(container);
    checker.report(
        &RULE,
        span(compare),
        format!("`in` on tensor `{text}` calls `Tensor.__contains__`, which compares on the device and reads the answer back with `.item()`"),
        "test membership on the device with `torch.isin(x, t)` and keep the result a tensor, or keep the values as a Python set",
    );
}

/// `t in (a, b)`, `t in [a, b]`, `t in some_list` with `t` a tensor.
pub(crate) fn check_sequence(checker: &mut Checker, compare: &ast::ExprCompare, element: &Expr, container: &Expr) {
    let text = checker.text(element);
    let container = checker.text(container);
    checker.report(
        &RULE,
        span(compare),
        format!("`in {container}` compares tensor `{text}` with each item by `==` and reads every answer back with `bool()`"),
        "compare on the device (`torch.isin(t, torch.tensor(items, device=t.device))`) and keep the result a tensor",
    );
}
