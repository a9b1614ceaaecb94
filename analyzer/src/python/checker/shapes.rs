//! What literals and comprehensions that hold boolean tensors hold, for the dataclass fields
//! that constructions fill with them (`project/declared.rs`): a field declared
//! `Dict[int, Tuple[P, torch.Tensor]]` says nothing of the tensor's dtype, but a construction
//! `Info(masks={k: (p, torch.zeros(n, dtype=torch.bool)) for ...})` does. First pass only: the
//! structure is recorded as a [`Declared`] with the boolean tensors as leaves, for the keyword
//! arguments of calls that may construct a class.

use super::Checker;
use crate::python::adapter::{ast, span, Expr};
use crate::python::summary::{Val, ValId};
use crate::python::types::{Declared, Ty};

impl<'a> Checker<'a> {
    /// What `expr` (of type `ty`) holds: a literal or comprehension recorded as holding boolean
    /// tensors, a local name bound to one, else a leaf of its type (tensors only: other types
    /// are not compared across files).
    pub(super) fn shape_of(&self, expr: &Expr, ty: Ty) -> Declared {
        if ty.is_tensor() {
            return Declared::Leaf(ty);
        }
        let known = match expr {
            Expr::Name(name) if !self.bool_names.is_empty() => {
                self.bool_names.get(&(self.current_func(), name.id.as_str()))
            }
            _ if !self.bool_literals.is_empty() => self.bool_literals.get(&(span(expr).start as u32)),
            _ => None,
        };
        known.cloned().unwrap_or(Declared::Leaf(if ty == Ty::None { Ty::None } else { Ty::Unknown }))
    }

    /// A tuple or list literal's elements (of types `tys`), when one holds boolean tensors.
    pub(super) fn note_sequence_shape(&mut self, expr: &Expr, elts: &[Expr], tys: &[Ty]) {
        if self.foreign.is_some() || !tys.iter().any(|t| matches!(t, Ty::Tensor { .. } | Ty::Unknown | Ty::Val(_))) {
            return;
        }
        let shapes: Vec<Declared> = elts.iter().zip(tys).map(|(e, &t)| self.shape_of(e, t)).collect();
        if !shapes.iter().any(Declared::holds_bool_tensor) {
            return;
        }
        let shape = match expr {
            Expr::Tuple(_) => Declared::Tuple(shapes),
            // A list: every element the same.
            _ if shapes.iter().all(|s| *s == shapes[0]) => Declared::Seq(Box::new(shapes[0].clone())),
            _ => return,
        };
        self.bool_literals.insert(span(expr).start as u32, shape);
    }

    /// A comprehension whose element (`element`, of type `ty`) holds boolean tensors: a list of
    /// them, or with `key`, a dict of them. (Called while the comprehension's names are bound.)
    pub(super) fn note_comprehension_shape(&mut self, expr: &Expr, key: Option<Ty>, element: &Expr, ty: Ty) {
        if self.foreign.is_some() {
            return;
        }
        let shape = self.shape_of(element, ty);
        if !shape.holds_bool_tensor() {
            return;
        }
        let shape = match key {
            Some(key) => Declared::Map(Box::new(Declared::Leaf(leaf_ty(key))), Box::new(shape)),
            None => Declared::Seq(Box::new(shape)),
        };
        self.bool_literals.insert(span(expr).start as u32, shape);
    }

    /// `name = value` where `value` holds boolean tensors: the name holds them too (until bound
    /// to something other than `None`).
    pub(super) fn note_bool_name(&mut self, targets: &'a [Expr], value: &Expr, ty: Ty) {
        if self.foreign.is_some() || self.bool_literals.is_empty() || ty.is_tensor() {
            return;
        }
        let [Expr::Name(name)] = targets else { return };
        let Some(shape) = self.bool_literals.get(&(span(value).start as u32)).cloned() else { return };
        let func = self.current_func();
        self.bool_names.insert((func, name.id.as_str()), shape);
    }

    /// The keyword arguments of a call of `callee` that may construct a class (`cls(...)` in a
    /// classmethod, `Info(...)`), with what each holds (see
    /// [`crate::python::summary::FileSummary::field_kwargs`]).
    pub(super) fn note_field_kwargs(
        &mut self,
        call: &ast::ExprCall,
        callee: ValId,
        keywords: &[(Option<&'a str>, Ty)],
    ) {
        if self.foreign.is_some() {
            return;
        }
        let own_class = match &*call.func {
            Expr::Name(name) => self.scopes.last().and_then(|s| s.cls_of).filter(|(cls, _)| *cls == name.id.as_str()),
            _ => None,
        };
        let callee = match own_class {
            Some((_, class)) => self.summary.add_val(Val::Class(class)),
            None if capitalised(&call.func) => callee,
            None => return,
        };
        if !call.arguments.args.is_empty() || call.arguments.keywords.iter().any(|k| k.arg.is_none()) {
            self.summary.opaque_constructions.push(callee);
        }
        for (keyword, (name, ty)) in call.arguments.keywords.iter().zip(keywords) {
            let Some(name) = name else { continue };
            let shape = self.shape_of(&keyword.value, *ty);
            if shape == Declared::Leaf(Ty::None) {
                continue; // The field's default, as far as its dtype goes.
            }
            let name = self.name(name);
            self.summary.field_kwargs.push((callee, name, shape));
        }
    }
}

/// A leaf's type as recorded: tensors as they are, anything else unknown.
fn leaf_ty(ty: Ty) -> Ty {
    if ty.is_tensor() {
        ty
    } else {
        Ty::Unknown
    }
}

/// A call of a capitalised name (`Info(...)`, `mod.Info(...)`).
fn capitalised(func: &Expr) -> bool {
    let name = match func {
        Expr::Name(name) => name.id.as_str(),
        Expr::Attribute(attribute) => attribute.attr.as_str(),
        _ => return false,
    };
    name.starts_with(|c: char| c.is_ascii_uppercase())
}
