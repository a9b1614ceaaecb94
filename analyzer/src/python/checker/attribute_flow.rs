//! What the first pass records so that the project pass can follow tensors through attributes
//! that a method moves to the device, and through the values built from them
//! (`project/moved.rs`): the moves themselves, `return`s of such attributes, and loops over
//! call results the file asks other files about.

use super::inference::{allocates_on_device, moves_to_device, moves_to_host, ReturnFlow};
use super::Checker;
use crate::python::adapter::{Expr, Stmt};
use crate::python::summary::*;
use crate::python::types::{names_host_buffer, Ty};

impl<'a> Checker<'a> {
    /// Whether the current function is a constructor (`__init__`): what it stores is what an
    /// instance starts with, which other methods may replace.
    pub(super) fn in_constructor(&self) -> bool {
        self.summary.funcs[self.current_func() as usize].name == "__init__"
    }

    /// `self.x = <device tensor>` in a method other than `__init__`: after a call of that method
    /// the attribute is on the device (`set_timesteps` moving `self.timesteps`).
    pub(super) fn note_device_move(&mut self, targets: &'a [Expr], value: &Expr, ty: Ty) {
        if self.foreign.is_some() || !ty.is_device_tensor() || self.in_constructor() || !places_on_device(value) {
            return;
        }
        let func = self.current_func();
        for target in targets {
            let Expr::Attribute(attribute) = target else { continue };
            let Some(class) = self.self_attribute_owner(&attribute.value) else { continue };
            if names_host_buffer(attribute.attr.as_str()) {
                continue;
            }
            let name = self.name(attribute.attr.as_str());
            let method = self.name_of_func(func);
            let moves = &mut self.summary.classes[class as usize].device_moves;
            if !moves.contains(&(name, method)) {
                moves.push((name, method));
            }
        }
    }

    fn name_of_func(&mut self, func: FuncIdx) -> NameId {
        // (Function names are not interned as names of their own.)
        let name = self.summary.funcs[func as usize].name.clone();
        self.name_of(&name)
    }

    /// `for t in xs:` (or `enumerate(xs)`) with `xs` bound to a call result the file asks other
    /// files about: `t` is an element of it, so an argument `t` is answered like `xs` (a row of a
    /// device tensor is a device tensor).
    pub(super) fn note_unknown_iteration(&mut self, iterable: &Expr, target: &'a Expr) {
        if self.foreign.is_some() || self.unknown_names.is_empty() {
            return;
        }
        let (Expr::Name(source), Expr::Name(target)) = (iterable, target) else { return };
        let func = self.current_func();
        if let Some(&entry) = self.unknown_names.get(&(func, source.id.as_str())) {
            self.unknown_names.insert((func, target.id.as_str()), entry);
        }
    }

    /// The attributes of other values that a function's `return`s give (`return
    /// scheduler.timesteps, n`), for the project pass to type.
    pub(super) fn note_return_attrs(&mut self, func: FuncIdx, flow: &ReturnFlow) {
        if self.foreign.is_some() {
            return;
        }
        let is_attr = |summary: &FileSummary, ty: Ty| match ty {
            Ty::Val(val) if matches!(summary.vals[val as usize], Val::Attr(..)) => Some(val),
            _ => None,
        };
        let mut found: Vec<(u32, ValId)> = Vec::new();
        match (flow.elements(), flow.ty()) {
            (Some(elements), _) => {
                for (position, &ty) in elements.iter().enumerate() {
                    if let Some(val) = is_attr(&self.summary, ty) {
                        found.push((position as u32, val));
                    }
                }
                if !found.is_empty() && self.summary.funcs[func as usize].return_elements.is_empty() {
                    self.summary.funcs[func as usize].return_elements = vec![Ty::Unknown; elements.len()];
                }
            }
            (None, Some(ty)) => found.extend(is_attr(&self.summary, ty).map(|val| (u32::MAX, val))),
            (None, None) => {}
        }
        self.summary.funcs[func as usize].return_attrs = found;
    }

    /// `prev = timestep - k` with `timestep` a parameter not rebound (or a name bound to one):
    /// `prev` is arithmetic on it, a tensor when the parameter is one (see [`ForwardedArg::derived`]).
    pub(super) fn note_derived_param(&mut self, targets: &'a [Expr], value: &Expr) {
        let ([Expr::Name(target)], Expr::BinOp(binop), None) = (targets, value, self.foreign) else { return };
        let func = self.current_func();
        let param_of = |expr: &Expr| match expr {
            Expr::Name(name) => self
                .unchanged_param(name.id.as_str())
                .or_else(|| self.param_aliases.get(&(func, name.id.as_str())).copied()),
            _ => None,
        };
        if let Some(param) = param_of(&binop.left).or_else(|| param_of(&binop.right)) {
            self.derived_params.insert((func, target.id.as_str()), param);
        }
    }

    /// `return p`, `return p - 1`, `return t` (`t = p`), `return p[0]`... with `p` a parameter:
    /// the call's result holds what callers give `p` (see [`FuncSummary::returns_params`]). A
    /// tuple is not such a value (its elements are not followed).
    pub(super) fn note_returned_params(&mut self, value: &Expr) {
        if self.foreign.is_some() {
            return;
        }
        let func = self.current_func();
        if let Expr::Tuple(tuple) = value {
            let mut masks = std::mem::take(&mut self.summary.funcs[func as usize].return_element_params);
            for (position, element) in tuple.elts.iter().enumerate() {
                if let Some(param) = self.param_derived_value(func, element) {
                    // (As long as the tuple: the call site unpacks all of it.)
                    if masks.len() < tuple.elts.len() {
                        masks.resize(tuple.elts.len(), 0);
                    }
                    masks[position] |= 1 << param;
                }
            }
            self.summary.funcs[func as usize].return_element_params = masks;
        } else if let Some(param) = self.param_derived_value(func, value) {
            self.summary.funcs[func as usize].returns_params |= 1 << param;
        }
    }

    /// `n += d` in the first pass: the parameter `n` becomes arithmetic on (`d`'s first, else
    /// the one `n` already was).
    pub(super) fn augmented_param(&self, value: &Expr, target: &Expr) -> Option<u32> {
        if self.foreign.is_some() {
            return None;
        }
        let func = self.current_func();
        self.param_derived_value(func, value).or_else(|| self.param_derived_value(func, target))
    }

    /// The parameter whose value `expr` is, or arithmetic on, or an element of.
    fn param_derived_value(&self, func: FuncIdx, expr: &Expr) -> Option<u32> {
        match expr {
            Expr::Name(name) => {
                let name = name.id.as_str();
                self.unchanged_param(name)
                    .or_else(|| self.param_aliases.get(&(func, name)).copied())
                    .or_else(|| self.derived_params.get(&(func, name)).copied())
            }
            Expr::BinOp(binop) => {
                self.param_derived_value(func, &binop.left).or_else(|| self.param_derived_value(func, &binop.right))
            }
            Expr::UnaryOp(unary) => self.param_derived_value(func, &unary.operand),
            Expr::Subscript(subscript) => self.param_derived_value(func, &subscript.value),
            _ => None,
        }
        .filter(|&param| param < 32)
    }

    /// `h = f(x)` or `a, b = f(x)` where the file keeps the call's result symbolic (a project
    /// function it resolves in the project pass): the names are bound to the call's result (or an
    /// element of it), like those of calls it asks about, so that the result's type, once the
    /// project pass knows it, reaches the parameters they are passed to.
    pub(super) fn note_symbolic_call_binding(&mut self, targets: &'a [Expr], ty: Ty) {
        let (Ty::Val(val), None) = (ty, self.foreign) else { return };
        let Val::Call(callee) = self.summary.vals[val as usize] else { return };
        let func = self.current_func();
        for target in targets {
            match target {
                Expr::Name(name) => {
                    self.unknown_names.insert((func, name.id.as_str()), (callee, None));
                }
                Expr::Tuple(tuple) if !tuple.elts.iter().any(Expr::is_starred_expr) => {
                    for (position, element) in tuple.elts.iter().enumerate() {
                        if let Expr::Name(name) = element {
                            self.unknown_names.insert((func, name.id.as_str()), (callee, Some(position as u32)));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether `value` visibly puts a tensor on a device other than the CPU: `.to(device)`,
/// `.cuda()`, a torch factory with `device=` (what it names may still be the CPU at run time, as
/// for any device argument), possibly followed by methods that keep the device (`.float()`).
pub(super) fn places_on_device(value: &Expr) -> bool {
    let Expr::Call(call) = value else { return false };
    match &*call.func {
        Expr::Attribute(attribute) => match attribute.attr.as_str() {
            "cuda" => true,
            "to" => !moves_to_host(call) && (moves_to_device(call) || places_on_device(&attribute.value)),
            "float" | "long" | "int" | "half" | "bfloat16" | "double" | "contiguous" | "flip" | "clone" => {
                places_on_device(&attribute.value)
            }
            _ => allocates_on_device(call),
        },
        _ => allocates_on_device(call),
    }
}

/// Whether a function's own body (not a nested block) ends in `return a, b`: a tuple, whatever its
/// return annotation says.
pub(super) fn returns_a_tuple(body: &[Stmt]) -> bool {
    body.iter().any(|stmt| matches!(stmt, Stmt::Return(ret) if matches!(ret.value.as_deref(), Some(Expr::Tuple(t)) if t.elts.len() > 1)))
}

/// Whether the function's own body returns a tuple literal longer than its return annotation
/// says (`-> tuple[torch.Tensor, torch.Tensor]` over `return latents, n, cond, k`): the names a
/// caller unpacks past the annotation's length are typed by nothing it says, so it is not used.
/// (A shorter tuple keeps it: `-> tuple[Tensor, Tensor, Tensor, Tensor]` over `return a, b`
/// still says what `a` and `b` are.)
pub(super) fn annotation_contradicted_by_tuple(annotation: &Expr, body: &[Stmt]) -> bool {
    let declared = match annotation {
        Expr::Subscript(subscript)
            if matches!(&*subscript.value, Expr::Name(n) if matches!(n.id.as_str(), "tuple" | "Tuple"))
                || matches!(&*subscript.value, Expr::Attribute(a) if a.attr.as_str() == "Tuple") =>
        {
            match &*subscript.slice {
                // `tuple[int, ...]`: any length.
                Expr::Tuple(t) if t.elts.iter().any(|e| matches!(e, Expr::EllipsisLiteral(_))) => return false,
                Expr::Tuple(t) => t.elts.len(),
                _ => 1,
            }
        }
        _ => 1,
    };
    body.iter().any(|stmt| {
        matches!(stmt, Stmt::Return(ret)
            if matches!(ret.value.as_deref(), Some(Expr::Tuple(t)) if t.elts.len() > declared))
    })
}
