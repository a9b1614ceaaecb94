//! The summary's names, and the symbolic values of names and attributes, bound and looked up
//! through the scopes.

use super::Checker;
use crate::python::adapter::{CmpOp, Expr};
use crate::python::summary::*;
use crate::python::types::Ty;
use rustc_hash::FxHashSet;

impl<'a> Checker<'a> {
    /// The summary's id for `text`.
    pub(super) fn name(&mut self, text: &'a str) -> NameId {
        if let Some(&id) = self.name_ids.get(text) {
            return id;
        }
        let id = self.summary.names.push(text);
        self.name_ids.insert(text, id);
        id
    }

    /// [`Self::name`] for text that may not outlive the traversal (a parsed string annotation).
    pub(super) fn name_of(&mut self, text: &str) -> NameId {
        match self.name_ids.get(text) {
            Some(&id) => id,
            None => self.summary.names.push(text),
        }
    }

    fn global_val(&mut self, name: &'a str) -> ValId {
        if let Some(val) = self.global_vals.get(name) {
            return *val;
        }
        let id = self.name(name);
        let val = self.summary.add_val(Val::Global(id));
        self.global_vals.insert(name, val);
        val
    }

    /// `value.name`, shared by every occurrence in the file (so the project pass evaluates it once).
    pub(super) fn attr_val(&mut self, value: ValId, name: &'a str) -> ValId {
        if let Some(val) = self.attr_vals.get(&(value, name)) {
            return *val;
        }
        let id = self.name(name);
        let val = self.summary.add_val(Val::Attr(value, id));
        self.attr_vals.insert((value, name), val);
        val
    }

    pub(super) fn self_attr_val(&mut self, class: u32, name: &'a str) -> ValId {
        if let Some(val) = self.self_attr_vals.get(&(class, name)) {
            return *val;
        }
        if self.self_attr_vals.capacity() == 0 {
            // Sized from the file on first use, as `attr_vals` is (it is only looked up).
            self.self_attr_vals.reserve(self.context.source.len() / 1024);
        }
        let id = self.name(name);
        let val = self.summary.add_val(Val::SelfAttr { class, name: id });
        self.self_attr_vals.insert((class, name), val);
        val
    }

    pub(super) fn lookup(&mut self, name: &'a str) -> Ty {
        if !self.loop_frames.is_empty() {
            if let Some(&ty) = self.scopes.last().and_then(|scope| scope.vars.get(name)) {
                self.flow_read(name, ty);
                return ty;
            }
        }
        for scope in self.scopes.iter().rev() {
            if let Some(ty) = scope.vars.get(name) {
                return *ty;
            }
        }
        // Imports and names looked up before are found at once: `global_vals` only holds names
        // that pass the test below, which only ever admits more names.
        if let Some(&val) = self.global_vals.get(name) {
            return Ty::Val(val);
        }
        // A name no statement of the file binds may come from a star import (EAGLE's
        // `from .utils import *` brings the per-step `evaluate_posterior`).
        if self.module_names.contains(name) || self.imports.contains_key(name) || !self.summary.star_imports.is_empty()
        {
            return Ty::Val(self.global_val(name));
        }
        Ty::Unknown
    }

    /// The index of the current function's parameter `name`, if it still holds what the caller
    /// passed (no statement before this point bound it again).
    pub(super) fn unchanged_param(&self, name: &str) -> Option<u32> {
        let scope = self.scopes.last()?;
        let index = scope.params.iter().position(|param| *param == name).filter(|&i| i < 32)?;
        (scope.rebound & (1 << index) == 0).then_some(index as u32)
    }

    /// In the first pass, the current function's parameters that `expr`, read by a rule's
    /// construct, mentions (`accept_length` in `x[:, : accept_length + 1]`): only those are worth
    /// typing from the callers' arguments, which costs the file a second check.
    pub(crate) fn note_param_reads(&mut self, expr: &Expr) {
        fn mentions(expr: &Expr, params: &[&str], mask: &mut u32) {
            match expr {
                Expr::Name(name) => {
                    if let Some(index) = params.iter().position(|p| *p == name.id.as_str()).filter(|&i| i < 32) {
                        *mask |= 1 << index;
                    }
                }
                Expr::Attribute(attribute) => mentions(&attribute.value, params, mask),
                Expr::Subscript(subscript) => {
                    mentions(&subscript.value, params, mask);
                    mentions(&subscript.slice, params, mask);
                }
                Expr::Slice(slice) => {
                    for bound in [&slice.lower, &slice.upper, &slice.step].into_iter().flatten() {
                        mentions(bound, params, mask);
                    }
                }
                Expr::BinOp(binop) => {
                    mentions(&binop.left, params, mask);
                    mentions(&binop.right, params, mask);
                }
                Expr::UnaryOp(unary) => mentions(&unary.operand, params, mask),
                // `x is None` reads no value.
                Expr::Compare(compare) if compare.ops.iter().all(|op| matches!(op, CmpOp::Is | CmpOp::IsNot)) => {}
                Expr::Compare(compare) => {
                    mentions(&compare.left, params, mask);
                    compare.comparators.iter().for_each(|c| mentions(c, params, mask));
                }
                // Nor do the builtins that look at a value's type or attributes.
                Expr::Call(call) if matches!(&*call.func, Expr::Name(f) if matches!(f.id.as_str(), "isinstance" | "hasattr" | "getattr" | "callable" | "type" | "len" | "id")) =>
                    {}
                Expr::BoolOp(boolop) => boolop.values.iter().for_each(|v| mentions(v, params, mask)),
                Expr::Call(call) => {
                    mentions(&call.func, params, mask);
                    call.arguments.args.iter().for_each(|a| mentions(a, params, mask));
                }
                Expr::Tuple(tuple) => tuple.elts.iter().for_each(|e| mentions(e, params, mask)),
                Expr::List(list) => list.elts.iter().for_each(|e| mentions(e, params, mask)),
                _ => {}
            }
        }
        let Some(scope) = self.scopes.last() else { return };
        if scope.params.is_empty() {
            return;
        }
        let mut mask = 0;
        mentions(expr, &scope.params, &mut mask);
        if mask != 0 {
            let func = scope.func;
            self.summary.funcs[func as usize].read_params |= mask;
        }
    }

    pub(super) fn bind(&mut self, name: &'a str, ty: Ty) {
        // What the name was bound to before, per function, is forgotten. (Most of these sets are
        // empty in most files: an empty set is not hashed into.)
        let key = (self.current_func(), name);
        let forget = |set: &mut FxHashSet<(FuncIdx, &'a str)>| {
            if !set.is_empty() {
                set.remove(&key);
            }
        };
        forget(&mut self.scalars);
        forget(&mut self.vectors);
        forget(&mut self.lists_of_lists);
        forget(&mut self.model_parts);
        forget(&mut self.training_flags);
        if !self.ranked.is_empty() {
            self.ranked.remove(&key);
        }
        if !self.callable_names.is_empty() {
            self.callable_names.remove(&key);
        }
        // (`x = None` on another path keeps what `x` holds where it is not None.)
        if !self.bool_names.is_empty() && ty != Ty::None {
            self.bool_names.remove(&key);
        }
        if self.tracks_flow() {
            self.flow_bind(name, ty);
        }
        if !self.param_aliases.is_empty() || !self.derived_params.is_empty() {
            self.param_aliases.remove(&key);
            self.derived_params.remove(&key);
        }
        let scope = self.scopes.last_mut().expect("module scope");
        if let Some(index) = scope.params.iter().position(|param| *param == name).filter(|&i| i < 32) {
            scope.rebound |= 1 << index;
        }
        scope.vars.insert(name, ty);
        if self.scopes.len() == 1 {
            if let Ty::Val(val) = ty {
                let name = self.name(name);
                self.summary.globals.push((name, val));
            }
        }
    }
}
