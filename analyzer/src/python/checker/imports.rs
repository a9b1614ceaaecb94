//! Imports, and the qualified names they give dotted expressions (`F.softmax` →
//! `torch.nn.functional.softmax`).

use smallvec::SmallVec;

use super::{Checker, Import, QualName};
use crate::python::adapter::{ast, Expr};
use crate::python::summary::*;
use crate::python::types;

impl<'a> Checker<'a> {
    pub(super) fn add_import(&mut self, import: &'a ast::StmtImport) {
        for alias in &import.names {
            let dotted = alias.name.as_str();
            let (bound, target, segments): (&'a str, &'a str, SmallVec<[&'a str; 6]>) = match &alias.asname {
                Some(asname) => (asname.as_str(), dotted, dotted.split('.').collect()),
                // `import torch.nn` binds `torch`.
                None => {
                    let head = dotted.split('.').next().unwrap_or(dotted);
                    (head, head, SmallVec::from_slice(&[head]))
                }
            };
            self.imports.insert(bound, Import { level: 0, segments });
            let dotted = self.name(target);
            let val = self.summary.add_val(Val::Import(ImportPath { level: 0, dotted }));
            self.global_vals.insert(bound, val);
            if self.scopes.len() == 1 {
                let bound = self.name(bound);
                self.summary.globals.push((bound, val));
            }
        }
    }

    pub(super) fn add_import_from(&mut self, import: &'a ast::StmtImportFrom) {
        let module_name: &'a str = import.module.as_ref().map_or("", |m| m.as_str());
        let module: SmallVec<[&'a str; 6]> =
            import.module.as_ref().map(|m| m.as_str().split('.').collect()).unwrap_or_default();
        for alias in &import.names {
            let name = alias.name.as_str();
            if name == "*" {
                self.has_star_import = true;
                let dotted = self.name(module_name);
                self.summary.star_imports.push(ImportPath { level: import.level, dotted });
                continue;
            }
            let bound = alias.asname.as_ref().map_or(name, |a| a.as_str());
            let mut segments = module.clone();
            segments.push(name);
            let dotted =
                if module.is_empty() { self.name(name) } else { self.summary.names.push_dotted([module_name, name]) };
            self.imports.insert(bound, Import { level: import.level, segments });
            let val = self.summary.add_val(Val::Import(ImportPath { level: import.level, dotted }));
            self.global_vals.insert(bound, val);
            if self.scopes.len() == 1 {
                let bound = self.name(bound);
                self.summary.globals.push((bound, val));
            }
        }
    }

    /// Whether a local or module binding hides an imported or builtin name.
    fn is_shadowed(&self, name: &str) -> bool {
        // Innermost first: most names are the function's own locals.
        self.scopes.iter().rev().any(|scope| scope.vars.contains_key(name))
    }

    /// The qualified name of a dotted expression rooted in an absolute import or a builtin
    /// (`F.softmax` → `torch.nn.functional.softmax`, `int` → `builtins.int`).
    pub(crate) fn qualify(&self, expr: &'a Expr) -> Option<QualName<'a>> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                if let Some(import) = self.imports.get(id) {
                    return (import.level == 0).then(|| SmallVec::from_slice(&import.segments));
                }
                // Only a modelled builtin, or a name a star import may bind spelled the way
                // everyone spells it, qualifies: told first, as most names are neither and the
                // scopes' maps cost a lookup each.
                let qualified: QualName<'a> = if types::is_modelled_builtin(id) {
                    SmallVec::from_slice(&["builtins", id])
                } else if self.has_star_import {
                    let conventional: &[&'static str] = match id {
                        "torch" => &["torch"],
                        "nn" => &["torch", "nn"],
                        "F" => &["torch", "nn", "functional"],
                        "np" => &["numpy"],
                        _ => return None,
                    };
                    conventional.iter().copied().collect()
                } else {
                    return None;
                };
                if self.is_shadowed(id) || self.module_names.contains(id) {
                    return None;
                }
                Some(qualified)
            }
            Expr::Attribute(attribute) => {
                let mut qualified = self.qualify(&attribute.value)?;
                if qualified[0] == "builtins" {
                    return None;
                }
                qualified.push(attribute.attr.as_str());
                Some(qualified)
            }
            _ => None,
        }
    }

    /// A dotted name's segments, resolved through absolute imports (for annotations, which may
    /// come from a parsed string, so the lifetime is the expression's).
    pub(crate) fn dotted<'e>(&'e self, expr: &'e Expr) -> Option<SmallVec<[&'e str; 8]>> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                match self.imports.get(id) {
                    Some(import) if import.level == 0 => Some(SmallVec::from_slice(&import.segments)),
                    _ => Some(SmallVec::from_slice(&[id])),
                }
            }
            Expr::Attribute(attribute) => {
                let mut segments = self.dotted(&attribute.value)?;
                segments.push(attribute.attr.as_str());
                Some(segments)
            }
            _ => None,
        }
    }
}
