//! The Rust rules (candle GL8xx, cudarc and tch GL9xx), one file per rule. Each file declares its
//! rule (code, name, family and the documentation `graphlint rule` prints) and the check the
//! single traversal calls.
//!
//! Dispatch is by node kind: the checker calls [`on_method_call`], [`on_path_call`] and
//! [`on_format_macro`] once per node, with the receiver's type as far as it is known.

pub mod argmax_to_scalar;
pub mod cudarc_blocking_alloc;
pub mod cudarc_device_to_host;
pub mod cudarc_pageable_host_to_device;
pub mod cudarc_synchronize;
pub mod device_synchronize;
pub mod tch_tensor_to_host_value;
pub mod tch_to_cpu;
pub mod tensor_from_host;
pub mod tensor_in_format_macro;
pub mod tensor_to_host_value;
pub mod to_device_cpu;

/// This frontend's rules, ordered by code (the registry assembles every frontend's list).
pub static RULES: &[&crate::rule::Rule] = &[
    &tensor_to_host_value::RULE,
    &to_device_cpu::RULE,
    &device_synchronize::RULE,
    &tensor_from_host::RULE,
    &tensor_in_format_macro::RULE,
    &argmax_to_scalar::RULE,
    &cudarc_synchronize::RULE,
    &cudarc_device_to_host::RULE,
    &cudarc_pageable_host_to_device::RULE,
    &cudarc_blocking_alloc::RULE,
    &tch_tensor_to_host_value::RULE,
    &tch_to_cpu::RULE,
];

use std::borrow::Cow;
use std::ops::Range;

use super::ast::{Expr, ExprKind};
use super::checker::{Checker, MacroArg};
use super::summary::{Callee, Sym};
use super::types::Ty;

/// `receiver.name(args)`, with what the checker knows about the receiver.
pub(crate) struct MethodCall<'a, 's> {
    pub receiver: &'a Expr<'s>,
    pub args: &'a [Expr<'s>],
    pub name: &'a str,
    pub recv: &'a Sym,
    pub receiver_ty: Ty,
    /// Where the method name starts and the closing parenthesis ends.
    pub method_start: u32,
    pub close_end: u32,
}

impl MethodCall<'_, '_> {
    /// From the method name to the closing parenthesis.
    pub fn range(&self) -> Range<usize> {
        self.method_start as usize..self.close_end as usize
    }

    /// The receiver's source text, for messages.
    pub fn receiver_text<'s>(&self, checker: &Checker<'s>) -> Cow<'s, str> {
        checker.expr_text(self.receiver)
    }

    pub fn arg(&self, index: usize) -> Option<&Expr<'_>> {
        self.args.get(index)
    }
}

/// `a::b::f(args)`, with the path's segments (generic arguments dropped).
pub(crate) struct PathCall<'a, 's> {
    pub args: &'a [Expr<'s>],
    pub segments: &'a [String],
    /// Where the path's first segment starts and the closing parenthesis ends.
    pub start: u32,
    pub close_end: u32,
}

impl PathCall<'_, '_> {
    /// The last two segments (`["Tensor", "new"]`), or the only one.
    pub fn tail(&self) -> (&str, &str) {
        let n = self.segments.len();
        let last = self.segments[n - 1].as_str();
        let owner = if n >= 2 { self.segments[n - 2].as_str() } else { "" };
        (owner, last)
    }

    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.close_end as usize
    }
}

pub(crate) fn on_method_call(checker: &mut Checker, call: &MethodCall) {
    if argmax_to_scalar::check(checker, call) {
        // The sampling pattern is the more specific report for the same read.
        return;
    }
    tensor_to_host_value::check(checker, call);
    to_device_cpu::check(checker, call);
    device_synchronize::check(checker, call);
    cudarc_synchronize::check_method(checker, call);
    cudarc_device_to_host::check(checker, call);
    cudarc_pageable_host_to_device::check(checker, call);
    cudarc_blocking_alloc::check(checker, call);
    tch_tensor_to_host_value::check_method(checker, call);
    tch_to_cpu::check(checker, call);
}

pub(crate) fn on_path_call(checker: &mut Checker, call: &PathCall) {
    tensor_from_host::check(checker, call);
    cudarc_synchronize::check_path(checker, call);
    tch_tensor_to_host_value::check_path(checker, call);
}

/// Macros that format their arguments on every call (not only on an error path).
pub(crate) fn is_format_macro(name: &str) -> bool {
    matches!(
        name,
        "println"
            | "print"
            | "eprintln"
            | "eprint"
            | "format"
            | "format_args"
            | "write"
            | "writeln"
            | "dbg"
            | "trace"
            | "debug"
            | "info"
            | "warn"
            | "error"
            | "log"
            | "event"
    )
}

pub(crate) fn on_format_macro(checker: &mut Checker, name: &str, args: &[MacroArg]) {
    tensor_in_format_macro::check(checker, name, args);
}

/// Whether an expression names the CPU device: `&Device::Cpu`, `&candle::Device::Cpu`, or a local
/// bound to it.
pub(crate) fn is_cpu_device(checker: &Checker, expr: &Expr) -> bool {
    checker.expr_ty(expr) == Ty::CpuDevice
}

/// Whether an expression is a path ending in `Device::Cpu`.
pub(crate) fn is_cpu_device_path(expr: &Expr) -> bool {
    matches!(&expr.kind, ExprKind::Path(p) if p.segments.ends_with(&["Device", "Cpu"]))
}

/// Whether a value is the result of `argmax`/`argmax_keepdim` (directly or through a local).
pub(crate) fn is_argmax_result(sym: &Sym) -> bool {
    matches!(sym, Sym::Ret(callee) if matches!(&**callee, Callee::Method(_, m) if m == "argmax" || m == "argmax_keepdim"))
}
