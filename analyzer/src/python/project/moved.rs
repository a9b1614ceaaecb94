//! Attributes that a method moves to the device. A class may create a tensor attribute in host
//! memory in `__init__` and replace it with a device tensor in another method (diffusers'
//! schedulers keep `self.timesteps` from numpy until `set_timesteps(n, device=device)` stores
//! `torch.from_numpy(ts).to(device)`). Read anywhere, such an attribute is on the device on one
//! path and in host memory on another, and stays unknown (`declared.rs`). Read in a function that
//! calls the moving method on the same object (`scheduler.set_timesteps(n, device=device)`, then
//! `scheduler.timesteps`), it is a device tensor. This answers what functions return of such
//! reads (`return scheduler.timesteps, n`), so that a loop over the result passes device tensors
//! to the parameters it calls (`for t in timesteps: scheduler.step(out, t, x)`).

use smallvec::SmallVec;

use super::{Entity, FileIdx, Project, Sym};

/// An attribute read after calls on its object: its name, and the methods called.
#[derive(Debug, Clone)]
pub(super) struct MovedAttr {
    name: Sym,
    called: SmallVec<[Sym; 4]>,
}
use crate::python::summary::*;
use crate::python::types::Ty;

impl Project<'_> {
    /// Types the attributes a function returns (see [`FuncSummary::return_attrs`]) that are on
    /// the device after a call in it: in `returns` for a whole value, in `elements` for a tuple's.
    pub(super) fn type_returned_attrs(
        &mut self,
        file: FileIdx,
        func: FuncIdx,
        returns: &mut Ty,
        elements: &mut Option<Vec<Ty>>,
    ) {
        let files = self.files;
        for &(position, val) in &files[file].summary.funcs[func as usize].return_attrs {
            let ty = self.moved_attribute_ty(file, func, val);
            if !ty.is_device_tensor() {
                continue;
            }
            if position == u32::MAX {
                *returns = ty;
            } else if let Some(slot) = elements.as_mut().and_then(|e| e.get_mut(position as usize)) {
                *slot = ty;
            }
        }
    }

    /// `base.name` read in `func`: a device tensor when `func` calls a method on `base` that
    /// moves `name` to the device in one of the classes `base` may be, and no class stores a host
    /// value in it outside `__init__`; else unknown.
    fn moved_attribute_ty(&mut self, file: FileIdx, func: FuncIdx, val: ValId) -> Ty {
        let Some((base, moved)) = self.attribute_read_after_calls(file, func, val) else { return Ty::Unknown };
        let mut any = false;
        for entity in self.eval(file, base) {
            let (Entity::Instance(f, c) | Entity::Declared(f, c)) = entity else { continue };
            match self.moved_by(f, c, &moved) {
                Some(true) => any = true,
                Some(false) => return Ty::Unknown,
                None => {}
            }
        }
        if any {
            Ty::TENSOR
        } else {
            Ty::Unknown
        }
    }

    /// What a call's result (or its tuple's `element`) is, when it is an attribute returned by a
    /// function that moves it to the device before (see [`FuncSummary::return_attrs`]) in at least
    /// one class it may belong to, whatever the others do: the value is a device tensor for the
    /// methods of those classes ([`Self::receives_moved`]), which a call on the same object reaches.
    pub(super) fn moved_result(&mut self, file: FileIdx, callee: ValId, element: Option<u32>) -> Option<MovedAttr> {
        let files = self.files;
        let position = element.unwrap_or(u32::MAX);
        for entity in self.eval(file, callee) {
            let (Entity::Func(f, m) | Entity::Bound(f, m)) = entity else { continue };
            let function = &files[f].summary.funcs[m as usize];
            let Some(&(_, val)) = function.return_attrs.iter().find(|&&(p, _)| p == position) else { continue };
            let Some((base, moved)) = self.attribute_read_after_calls(f, m, val) else { continue };
            for entity in self.eval(f, base) {
                let (Entity::Instance(bf, bc) | Entity::Declared(bf, bc)) = entity else { continue };
                if self.moved_by(bf, bc, &moved) == Some(true) {
                    return Some(moved);
                }
            }
        }
        None
    }

    /// Whether `func` is a method of a class that moves the attribute to the device (so a value
    /// read from it after the move, passed to the method, is a device tensor).
    pub(super) fn receives_moved(&mut self, file: FileIdx, func: FuncIdx, moved: &MovedAttr) -> bool {
        match self.files[file].summary.funcs[func as usize].class {
            Some(class) => self.moved_by(file, class, moved) == Some(true),
            None => false,
        }
    }

    /// For `val` = `base.name` read in `func`: `base`, and the attribute with the methods `func`
    /// calls on `base` (`None` when it calls none).
    fn attribute_read_after_calls(&mut self, file: FileIdx, func: FuncIdx, val: ValId) -> Option<(ValId, MovedAttr)> {
        let files = self.files;
        let summary = &files[file].summary;
        let Val::Attr(base, name) = summary.vals[val as usize] else { return None };
        let called: SmallVec<[Sym; 4]> = summary
            .calls
            .iter()
            .filter(|call| call.func == func)
            .filter_map(|call| match summary.vals[call.callee as usize] {
                Val::Attr(receiver, method) if receiver == base => Some(self.sym(file, method)),
                _ => None,
            })
            .collect();
        (!called.is_empty()).then(|| (base, MovedAttr { name: self.sym(file, name), called }))
    }

    /// Whether one of the `called` methods of the class (or of a base) moves attribute `name` to
    /// the device (`Some(true)`), or a method other than `__init__` stores a host value in it
    /// (`Some(false)`, which wins); `None` when neither.
    fn moved_by(&mut self, file: FileIdx, class: u32, moved: &MovedAttr) -> Option<bool> {
        let MovedAttr { name, called } = moved;
        let name = *name;
        let files = self.files;
        let mut result = None;
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            let info = &files[f].summary.classes[c as usize];
            let syms = &self.syms[f];
            if info.late_host_attrs.iter().any(|&attr| syms[attr as usize] == name) {
                return Some(false);
            }
            let by_called = |&(attr, method): &(NameId, NameId)| {
                syms[attr as usize] == name && called.contains(&syms[method as usize])
            };
            if info.device_moves.iter().any(by_called) {
                result = Some(true);
            }
        }
        result
    }
}
