//! Multimodal input fields that stay in host memory. vLLM's models declare each field of their
//! multimodal inputs in `_get_mm_fields_config` (`image_grid_thw=MultiModalFieldConfig.batched(
//! "image", keep_on_cpu=True)`, as a keyword argument, a dict literal's key or an assignment to
//! `fields["image_grid_thw"]`); the runner moves the inputs to the device except the fields kept
//! on the CPU, so the model reads those (`kwargs.pop("image_grid_thw")`, `image_input[
//! "image_grid_thw"]`, `.get(...)`) as host tensors, and `.tolist()` on them waits for nothing.
//!
//! The first pass takes the file's own declarations; those of other files reach a re-check
//! through the project pass ([`crate::python::types::ForeignTypes::kept_fields`]), which keeps a
//! name only when every declaration of it in the tree keeps it on the CPU. A file's own
//! declarations decide for it.

use rustc_hash::FxHashSet;

use super::Checker;
use crate::python::adapter::{ast, Expr, ExprContext, Stmt};
use crate::python::types::Ty;

impl<'a> Checker<'a> {
    /// Before the traversal: the fields `body` declares, kept on the CPU or not (only files that
    /// name a `...FieldConfig` are walked).
    pub(super) fn prescan_kept_fields(&mut self, body: &'a [Stmt]) {
        if memchr::memmem::find(self.context.source.as_bytes(), b"FieldConfig").is_none() {
            return;
        }
        let mut declarations = Declarations::default();
        for stmt in body {
            ast::visitor::Visitor::visit_stmt(&mut declarations, stmt);
        }
        for &(name, kept) in &declarations.fields {
            let id = self.name(name);
            self.summary.mm_fields.push((id, kept));
        }
        let shared: FxHashSet<&str> = declarations.fields.iter().filter(|f| !f.1).map(|f| f.0).collect();
        self.kept_fields.extend(declarations.fields.iter().filter(|f| f.1 && !shared.contains(f.0)).map(|f| f.0));
    }

    /// `mapping["name"]`, `mapping.pop("name", ...)` or `mapping.get("name", ...)` (visited): a
    /// host tensor when `name` is a field kept on the CPU. In the first pass every such key is
    /// recorded, for the project pass to answer from other files' declarations.
    pub(super) fn kept_field_read(&mut self, expr: &'a Expr) -> Option<Ty> {
        let key = match expr {
            Expr::Subscript(subscript) if subscript.ctx == ExprContext::Load => literal_key(&subscript.slice)?,
            Expr::Call(call) => match (&*call.func, call.arguments.args.first()) {
                (Expr::Attribute(attribute), Some(first)) if matches!(attribute.attr.as_str(), "pop" | "get") => {
                    literal_key(first)?
                }
                _ => return None,
            },
            _ => return None,
        };
        if self.foreign.is_none() && !self.kept_fields.contains(key) && self.keys_read.insert(key) {
            let id = self.name(key);
            self.summary.field_reads.push(id);
        }
        let foreign = self.foreign.is_some_and(|foreign| foreign.kept_fields.iter().any(|name| name == key));
        (foreign || self.kept_fields.contains(key)).then_some(Ty::HOST_TENSOR)
    }
}

/// A string literal written in one piece (its text borrows the tree).
fn literal_key(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::StringLiteral(string) if !string.value.is_implicit_concatenated() => {
            string.value.iter().next().map(|part| part.as_str())
        }
        _ => None,
    }
}

/// The field declarations of a module: (name, kept on the CPU).
#[derive(Default)]
struct Declarations<'a> {
    fields: Vec<(&'a str, bool)>,
}

impl Declarations<'_> {
    /// Whether `value` declares a field (`MultiModalFieldConfig.batched(...)`), and if so whether
    /// it keeps it on the CPU (`keep_on_cpu=True`, literally).
    fn declares(value: &Expr) -> Option<bool> {
        let Expr::Call(call) = value else { return None };
        let Expr::Attribute(method) = &*call.func else { return None };
        let config = match &*method.value {
            Expr::Name(name) => name.id.as_str(),
            Expr::Attribute(attribute) => attribute.attr.as_str(),
            _ => return None,
        };
        if !config.ends_with("FieldConfig") {
            return None;
        }
        let kept = call.arguments.keywords.iter().any(|keyword| {
            keyword.arg.as_ref().is_some_and(|arg| arg.as_str() == "keep_on_cpu")
                && matches!(&keyword.value, Expr::BooleanLiteral(literal) if literal.value)
        });
        Some(kept)
    }
}

impl<'a> ast::visitor::Visitor<'a> for Declarations<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        // `fields["image_grid_thw"] = MultiModalFieldConfig.batched("image", keep_on_cpu=True)`
        if let Stmt::Assign(assign) = stmt {
            if let ([Expr::Subscript(target)], Some(kept)) = (assign.targets.as_slice(), Self::declares(&assign.value))
            {
                if let Some(name) = literal_key(&target.slice) {
                    self.fields.push((name, kept));
                }
            }
        }
        ast::visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            // `dict(image_grid_thw=MultiModalFieldConfig.batched(...))`
            Expr::Call(call) => {
                for keyword in &call.arguments.keywords {
                    if let (Some(name), Some(kept)) = (&keyword.arg, Self::declares(&keyword.value)) {
                        self.fields.push((name.as_str(), kept));
                    }
                }
            }
            // `{"image_grid_thw": MultiModalFieldConfig.batched(...)}`
            Expr::Dict(dict) => {
                for item in &dict.items {
                    if let (Some(name), Some(kept)) =
                        (item.key.as_ref().and_then(literal_key), Self::declares(&item.value))
                    {
                        self.fields.push((name, kept));
                    }
                }
            }
            _ => {}
        }
        ast::visitor::walk_expr(self, expr);
    }
}
