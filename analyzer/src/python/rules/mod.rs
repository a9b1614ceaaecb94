//! The Python rules, one file per rule. Each file declares its rule (code, name, family and the
//! documentation `graphlint rule` prints) and the check the single traversal calls.
//!
//! Dispatch is by node kind: the checker calls [`on_call`], [`on_truth_test`] and
//! [`on_subscript`] once per node with the types it has already inferred; f-strings, `%`
//! formatting, `and`/`or`/`not`, `in` and `range()` call their rule directly.

pub mod bincount_call;
pub mod boolean_mask_assign;
pub mod boolean_mask_read;
pub mod builtin_tensor_compare;
pub mod cpu_call;
pub mod cuda_synchronize;
pub mod distributed_barrier;
pub mod distribution_validation;
pub mod format_tensor;
pub mod host_index_of_device_tensor;
pub mod host_to_device_move;
pub mod item_call;
pub mod log_tensor;
pub mod nonzero_like;
pub mod numpy_call;
pub mod one_hot_num_classes;
pub mod print_tensor;
pub mod repeat_interleave_size;
pub mod scalar_conversion;
pub mod scalar_index_put;
pub mod stream_query;
pub mod stream_synchronize;
pub mod tensor_as_index;
pub mod tensor_assert;
pub mod tensor_bool_operator;
pub mod tensor_condition;
pub mod tensor_creation_on_device;
pub mod tensor_equality_bool;
pub mod tensor_from_tensor_list;
pub mod tensor_membership;
pub mod to_cpu;
pub mod tolist_call;
pub mod unique_call;

/// This frontend's rules, ordered by code (the registry assembles every frontend's list).
pub static RULES: &[&crate::rule::Rule] = &[
    &cuda_synchronize::RULE,
    &stream_synchronize::RULE,
    &stream_query::RULE,
    &distributed_barrier::RULE,
    &item_call::RULE,
    &tolist_call::RULE,
    &scalar_conversion::RULE,
    &tensor_as_index::RULE,
    &tensor_from_tensor_list::RULE,
    &cpu_call::RULE,
    &to_cpu::RULE,
    &numpy_call::RULE,
    &tensor_equality_bool::RULE,
    &tensor_condition::RULE,
    &tensor_bool_operator::RULE,
    &tensor_assert::RULE,
    &builtin_tensor_compare::RULE,
    &tensor_membership::RULE,
    &distribution_validation::RULE,
    &nonzero_like::RULE,
    &boolean_mask_read::RULE,
    &unique_call::RULE,
    &bincount_call::RULE,
    &repeat_interleave_size::RULE,
    &one_hot_num_classes::RULE,
    &boolean_mask_assign::RULE,
    &tensor_creation_on_device::RULE,
    &host_index_of_device_tensor::RULE,
    &host_to_device_move::RULE,
    &scalar_index_put::RULE,
    &print_tensor::RULE,
    &format_tensor::RULE,
    &log_tensor::RULE,
];

use super::adapter::{ast, string_value, Expr};
use super::checker::Checker;
use super::types::Ty;

/// A call, with what the checker inferred about it.
pub(crate) struct CallInfo<'a, 'b> {
    pub call: &'a ast::ExprCall,
    /// The callee's qualified name when it is a torch/builtin/stdlib function
    /// (`["torch", "cuda", "synchronize"]`, `["builtins", "int"]`).
    pub qualified: Option<&'b [&'a str]>,
    /// For `receiver.method(...)` calls that are not qualified names.
    pub method: Option<&'a str>,
    pub receiver: Ty,
    pub receiver_expr: Option<&'a Expr>,
    /// Types of the positional arguments.
    pub args: &'b [Ty],
    /// Names and types of the keyword arguments (`None` for `**kwargs`).
    pub keywords: &'b [(Option<&'a str>, Ty)],
}

impl<'a> CallInfo<'a, '_> {
    pub fn is(&self, path: &[&str]) -> bool {
        self.qualified == Some(path)
    }

    /// `torch.<name>(...)` for any of `names`.
    pub fn torch_function(&self, names: &[&str]) -> Option<&'a str> {
        match self.qualified {
            Some(["torch", name]) if names.contains(name) => Some(name),
            _ => None,
        }
    }

    pub fn builtin(&self, names: &[&str]) -> Option<&'a str> {
        match self.qualified {
            Some(["builtins", name]) if names.contains(name) => Some(name),
            _ => None,
        }
    }

    /// `<tensor>.<name>(...)` for any of `names`.
    pub fn tensor_method(&self, names: &[&str]) -> Option<&'a str> {
        self.method.filter(|m| names.contains(m) && self.receiver.is_device_tensor())
    }

    pub fn arg(&self, index: usize) -> Option<&'a Expr> {
        self.call.arguments.args.get(index)
    }

    pub fn keyword(&self, name: &str) -> Option<&'a Expr> {
        self.call
            .arguments
            .keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
            .map(|k| &k.value)
    }

    pub fn keyword_ty(&self, name: &str) -> Option<Ty> {
        self.keywords.iter().find(|(k, _)| *k == Some(name)).map(|(_, t)| *t)
    }

    /// The call's range, for the diagnostic.
    pub fn range(&self) -> std::ops::Range<usize> {
        super::adapter::span(self.call)
    }
}

/// Where a value is truth-tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestContext {
    If,
    While,
    Ternary,
    Comprehension,
    Assert,
}

impl TestContext {
    pub fn describe(self) -> &'static str {
        match self {
            TestContext::If => "an `if` condition",
            TestContext::While => "a `while` condition",
            TestContext::Ternary => "a conditional expression",
            TestContext::Comprehension => "a comprehension filter",
            TestContext::Assert => "an `assert`",
        }
    }
}

/// The method names some rule looks at: a call that is neither a qualified function nor one of
/// these methods concerns no rule, and most calls are such. A rule on a new method must add it
/// here (its fixture's positive cases catch a forgotten one).
pub(crate) fn is_rule_method(name: &str) -> bool {
    matches!(
        name,
        "synchronize"
            | "query"
            | "item"
            | "tolist"
            | "cpu"
            | "to"
            | "numpy"
            | "equal"
            | "allclose"
            | "nonzero"
            | "argwhere"
            | "masked_select"
            | "unique"
            | "unique_consecutive"
            | "bincount"
            | "repeat_interleave"
            | "cuda"
            | "format"
    ) || log_tensor::LEVELS.contains(&name)
}

pub(crate) fn on_call(checker: &mut Checker, call: &CallInfo) {
    if call.qualified.is_none() && !call.method.is_some_and(is_rule_method) {
        return;
    }
    cuda_synchronize::check(checker, call);
    stream_synchronize::check(checker, call);
    stream_query::check(checker, call);
    distributed_barrier::check(checker, call);
    item_call::check(checker, call);
    tolist_call::check(checker, call);
    scalar_conversion::check(checker, call);
    tensor_as_index::check_call(checker, call);
    tensor_from_tensor_list::check(checker, call);
    cpu_call::check(checker, call);
    to_cpu::check(checker, call);
    numpy_call::check(checker, call);
    tensor_equality_bool::check(checker, call);
    builtin_tensor_compare::check(checker, call);
    distribution_validation::check(checker, call);
    nonzero_like::check(checker, call);
    boolean_mask_read::check_call(checker, call);
    unique_call::check(checker, call);
    bincount_call::check(checker, call);
    repeat_interleave_size::check(checker, call);
    one_hot_num_classes::check(checker, call);
    tensor_creation_on_device::check(checker, call);
    host_to_device_move::check(checker, call);
    print_tensor::check(checker, call);
    format_tensor::check_call(checker, call);
    log_tensor::check(checker, call);
}

/// A tensor whose truth value Python asks for.
pub(crate) fn on_truth_test(checker: &mut Checker, expr: &Expr, context: TestContext) {
    match context {
        TestContext::Assert => tensor_assert::check(checker, expr),
        _ => tensor_condition::check(checker, expr, context),
    }
}

/// `value[elements]`, read (`stored` is `None`) or assigned a value of type `stored`.
pub(crate) fn on_subscript<'a>(
    checker: &mut Checker<'a>,
    subscript: &ast::ExprSubscript,
    value: Ty,
    elements: &'a [Expr],
    index_tys: &[Ty],
    stored: Option<Ty>,
) {
    if !value.is_device_tensor() {
        if let ([element], [index]) = (elements, index_tys) {
            if !matches!(element, Expr::Slice(_)) {
                tensor_as_index::check_sequence_index(checker, subscript, value, *index);
            }
        }
        return;
    }
    match stored {
        None => boolean_mask_read::check_subscript(checker, subscript, elements, index_tys),
        Some(stored) => {
            boolean_mask_assign::check(checker, subscript, elements, index_tys, stored);
            scalar_index_put::check(checker, subscript, elements, index_tys, stored);
        }
    }
    host_index_of_device_tensor::check(checker, elements, index_tys);
}

/// Whether an expression names the CPU: `"cpu"`, `"cpu:0"`, `torch.device("cpu")`.
pub(crate) fn is_cpu_device(expr: &Expr) -> bool {
    device_literal(expr).is_some_and(|d| d == "cpu" || d.starts_with("cpu:"))
}

/// Whether an expression names a CUDA device, or the device of some value (`x.device`), which
/// in a hot path is the accelerator unless that value is proven to be in host memory (`ty` is
/// then [`Ty::HostDevice`]).
pub(crate) fn is_accelerator_device(expr: &Expr, ty: Ty) -> bool {
    if ty == Ty::HostDevice {
        return false;
    }
    if let Some(device) = device_literal(expr) {
        return device.starts_with("cuda") || device == "xpu" || device == "mps";
    }
    match expr {
        Expr::Attribute(attribute) => attribute.attr.as_str() == "device",
        _ => ty == Ty::Device && !matches!(expr, Expr::Call(_)),
    }
}

fn device_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(string_value(&s.value).into_owned()),
        Expr::Call(call) => {
            let is_device = match &*call.func {
                Expr::Attribute(a) => a.attr.as_str() == "device",
                Expr::Name(n) => n.id.as_str() == "device",
                _ => false,
            };
            match call.arguments.args.first() {
                Some(Expr::StringLiteral(s)) if is_device => Some(string_value(&s.value).into_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}
