//! The summary's names, and the symbolic values of names and attributes, bound and looked up
//! through the scopes.

use super::Checker;
use crate::python::summary::*;
use crate::python::types::Ty;

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
        let id = self.name(name);
        let val = self.summary.add_val(Val::SelfAttr { class, name: id });
        self.self_attr_vals.insert((class, name), val);
        val
    }

    pub(super) fn lookup(&mut self, name: &'a str) -> Ty {
        for scope in self.scopes.iter().rev() {
            if let Some(ty) = scope.vars.get(name) {
                return *ty;
            }
        }
        // A name no statement of the file binds may come from a star import (EAGLE's
        // `from .utils import *` brings the per-step `evaluate_posterior`).
        if self.module_names.contains(name) || self.imports.contains_key(name) || !self.summary.star_imports.is_empty()
        {
            return Ty::Val(self.global_val(name));
        }
        Ty::Unknown
    }

    pub(super) fn bind(&mut self, name: &'a str, ty: Ty) {
        if !self.scalars.is_empty() {
            let func = self.current_func();
            self.scalars.remove(&(func, name));
        }
        let scope = self.scopes.last_mut().expect("module scope");
        scope.vars.insert(name, ty);
        if self.scopes.len() == 1 {
            if let Ty::Val(val) = ty {
                let name = self.name(name);
                self.summary.globals.push((name, val));
            }
        }
    }
}
