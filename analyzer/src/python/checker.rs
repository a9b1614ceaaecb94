//! The per-file pass: ONE traversal of the AST that infers types bottom-up, hands every node to
//! the rules that care about it, and fills the file's [`FileSummary`] for the hot-path pass.

use std::borrow::Cow;
use std::ops::Range;

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::adapter::{
    ast, span, string_value, CmpOp, Expr, ExprContext, InterpolatedStringElement, Number, Operator, Ranged, Stmt,
    UnaryOp,
};
use super::rules::{self, CallInfo, TestContext};
use super::summary::*;
use super::types::{self, Ty};
use crate::frontend::{Candidate, FileContext};
use crate::rule::Rule;

/// A qualified name, segment by segment (`["torch", "cuda", "synchronize"]`).
pub(crate) type QualName<'a> = SmallVec<[&'a str; 8]>;

struct Import<'a> {
    level: u32,
    segments: SmallVec<[&'a str; 6]>,
}

struct Scope<'a> {
    func: FuncIdx,
    vars: FxHashMap<&'a str, Ty>,
    /// The name of `self` and the class index, inside a method.
    self_of: Option<(&'a str, u32)>,
}

/// Per-class knowledge gathered before the class body is visited.
#[derive(Default)]
struct ClassInfo<'a> {
    /// (Owned only for an implicitly concatenated `register_buffer` name.)
    attr_tys: FxHashMap<Cow<'a, str>, Ty>,
    method_returns: FxHashMap<&'a str, Ty>,
    local_bases: Vec<u32>,
}

pub(crate) struct Checker<'a> {
    context: FileContext<'a>,
    imports: FxHashMap<&'a str, Import<'a>>,
    /// Names bound at module level (they shadow builtins).
    module_names: FxHashSet<&'a str>,
    function_returns: FxHashMap<&'a str, Ty>,
    type_aliases: FxHashMap<&'a str, Ty>,
    has_star_import: bool,
    scopes: Vec<Scope<'a>>,
    /// Emptied variable maps of finished scopes, reused so they need not grow again.
    spare_vars: Vec<FxHashMap<&'a str, Ty>>,
    classes: Vec<ClassInfo<'a>>,
    regions: Vec<RegionIdx>,
    /// Inside an `assert` message or a `raise`: formatting there only runs on the error path.
    error_path: u32,
    /// Nesting of [`Self::expr`] calls, to check the stack only now and then.
    expr_depth: u32,
    global_vals: FxHashMap<&'a str, ValId>,
    attr_vals: FxHashMap<(ValId, &'a str), ValId>,
    self_attr_vals: FxHashMap<(u32, &'a str), ValId>,
    /// The summary's names, each stored once.
    name_ids: FxHashMap<&'a str, NameId>,
    pub summary: FileSummary,
    pub candidates: Vec<Candidate>,
}

impl<'a> Checker<'a> {
    pub fn new(context: FileContext<'a>) -> Self {
        let source_len = context.source.len();
        let mut summary = FileSummary::default();
        summary.funcs.push(FuncSummary {
            name: "<module>".into(),
            qualname: "<module>".into(),
            class: None,
            row: 1,
            params: Vec::new(),
            compiled: false,
            marker: None,
            is_static: true,
        });
        Checker {
            context,
            imports: FxHashMap::default(),
            module_names: FxHashSet::default(),
            function_returns: FxHashMap::default(),
            type_aliases: FxHashMap::default(),
            has_star_import: false,
            scopes: vec![Scope { func: MODULE_FUNC, vars: FxHashMap::default(), self_of: None }],
            spare_vars: Vec::new(),
            classes: Vec::new(),
            regions: Vec::new(),
            error_path: 0,
            expr_depth: 0,
            global_vals: FxHashMap::default(),
            // Sized from the file (about one entry per 150 bytes on the transformers corpus), so
            // that they do not rehash while they grow.
            attr_vals: FxHashMap::with_capacity_and_hasher(source_len / 150, Default::default()),
            self_attr_vals: FxHashMap::default(),
            name_ids: FxHashMap::with_capacity_and_hasher(source_len / 150, Default::default()),
            summary,
            candidates: Vec::new(),
        }
    }

    pub fn check_module(&mut self, body: &'a [Stmt]) {
        self.prescan_module(body);
        for stmt in body {
            self.stmt(stmt);
        }
    }

    // ----- reporting -------------------------------------------------------------------------

    pub(crate) fn report(&mut self, rule: &'static Rule, range: Range<usize>, message: String, help: &str) {
        let Some(diagnostic) = self.context.finding(rule, range, message, help) else { return };
        self.candidates.push(Candidate { diagnostic, func: self.current_func(), region: self.regions.last().copied() });
    }

    /// The source text of a node for messages: on one line, and shortened when long.
    pub(crate) fn text(&self, node: &impl Ranged) -> std::borrow::Cow<'a, str> {
        const MAX_CHARS: usize = 60;
        let text = &self.context.source[span(node)];
        if !text.contains('\n') && text.chars().count() <= MAX_CHARS {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut flat = String::with_capacity(text.len().min(4 * MAX_CHARS));
        for word in text.split_whitespace() {
            if !(flat.is_empty() || flat.ends_with(['(', '[', '{', '.']) || word.starts_with([')', ']', '}', '.', ',']))
            {
                flat.push(' ');
            }
            flat.push_str(word);
            if flat.chars().count() > MAX_CHARS {
                break;
            }
        }
        if flat.chars().count() > MAX_CHARS {
            flat = flat.chars().take(MAX_CHARS - 1).collect::<String>() + "…";
        }
        std::borrow::Cow::Owned(flat)
    }

    pub(crate) fn in_error_path(&self) -> bool {
        self.error_path > 0
    }

    fn current_func(&self) -> FuncIdx {
        self.scopes.last().map_or(MODULE_FUNC, |s| s.func)
    }

    fn row(&self, offset: usize) -> u32 {
        self.context.lines.row(offset)
    }

    // ----- names ------------------------------------------------------------------------------

    fn prescan_module(&mut self, body: &'a [Stmt]) {
        for stmt in body {
            self.prescan_stmt(stmt);
        }
    }

    /// Module-level bindings, imports and type aliases, before the traversal (statements only).
    fn prescan_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => self.add_import(import),
            Stmt::ImportFrom(import) => self.add_import_from(import),
            Stmt::FunctionDef(def) => {
                self.module_names.insert(def.name.as_str());
                if let Some(returns) = &def.returns {
                    let ty = self.annotation_ty(returns);
                    if ty != Ty::Unknown {
                        self.function_returns.insert(def.name.as_str(), ty);
                    }
                }
            }
            Stmt::ClassDef(def) => {
                self.module_names.insert(def.name.as_str());
            }
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    if let Expr::Name(name) = target {
                        self.module_names.insert(name.id.as_str());
                    }
                }
            }
            Stmt::AnnAssign(assign) => {
                if let Expr::Name(name) = &*assign.target {
                    self.module_names.insert(name.id.as_str());
                    // `K: TypeAlias = Float[torch.Tensor, "..."]`
                    if let Some(value) = &assign.value {
                        if self.text(&*assign.annotation).ends_with("TypeAlias") {
                            let ty = self.annotation_ty(value);
                            if ty != Ty::Unknown {
                                self.type_aliases.insert(name.id.as_str(), ty);
                            }
                        }
                    }
                }
            }
            Stmt::If(stmt_if) => {
                self.prescan_module(&stmt_if.body);
                for clause in &stmt_if.elif_else_clauses {
                    self.prescan_module(&clause.body);
                }
            }
            Stmt::Try(stmt_try) => {
                self.prescan_module(&stmt_try.body);
                for handler in &stmt_try.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    self.prescan_module(&handler.body);
                }
                self.prescan_module(&stmt_try.orelse);
                self.prescan_module(&stmt_try.finalbody);
            }
            _ => {}
        }
    }

    fn add_import(&mut self, import: &'a ast::StmtImport) {
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

    fn add_import_from(&mut self, import: &'a ast::StmtImportFrom) {
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
        self.scopes.iter().any(|scope| scope.vars.contains_key(name))
    }

    /// The qualified name of a dotted expression rooted in an absolute import or a builtin
    /// (`F.softmax` → `torch.nn.functional.softmax`, `int` → `builtins.int`).
    pub(crate) fn qualify(&self, expr: &'a Expr) -> Option<QualName<'a>> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                if let Some(import) = self.imports.get(id) {
                    return (import.level == 0).then(|| import.segments.iter().copied().collect());
                }
                if self.is_shadowed(id) || self.module_names.contains(id) {
                    return None;
                }
                if types::is_modelled_builtin(id) {
                    return Some(SmallVec::from_slice(&["builtins", id]));
                }
                // Names a star import may bind, spelled the way everyone spells them.
                if self.has_star_import {
                    let conventional: &[&'static str] = match id {
                        "torch" => &["torch"],
                        "nn" => &["torch", "nn"],
                        "F" => &["torch", "nn", "functional"],
                        "np" => &["numpy"],
                        _ => return None,
                    };
                    return Some(conventional.iter().copied().collect());
                }
                None
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
    fn dotted<'e>(&'e self, expr: &'e Expr) -> Option<SmallVec<[&'e str; 8]>> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                match self.imports.get(id) {
                    Some(import) if import.level == 0 => Some(import.segments.iter().copied().collect()),
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

    /// The summary's id for `text`.
    fn name(&mut self, text: &'a str) -> NameId {
        if let Some(&id) = self.name_ids.get(text) {
            return id;
        }
        let id = self.summary.names.push(text);
        self.name_ids.insert(text, id);
        id
    }

    /// [`Self::name`] for text that may not outlive the traversal (a parsed string annotation).
    fn name_of(&mut self, text: &str) -> NameId {
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
    fn attr_val(&mut self, value: ValId, name: &'a str) -> ValId {
        if let Some(val) = self.attr_vals.get(&(value, name)) {
            return *val;
        }
        let id = self.name(name);
        let val = self.summary.add_val(Val::Attr(value, id));
        self.attr_vals.insert((value, name), val);
        val
    }

    fn self_attr_val(&mut self, class: u32, name: &'a str) -> ValId {
        if let Some(val) = self.self_attr_vals.get(&(class, name)) {
            return *val;
        }
        let id = self.name(name);
        let val = self.summary.add_val(Val::SelfAttr { class, name: id });
        self.self_attr_vals.insert((class, name), val);
        val
    }

    fn lookup(&mut self, name: &'a str) -> Ty {
        for scope in self.scopes.iter().rev() {
            if let Some(ty) = scope.vars.get(name) {
                return *ty;
            }
        }
        if self.module_names.contains(name) || self.imports.contains_key(name) {
            return Ty::Val(self.global_val(name));
        }
        Ty::Unknown
    }

    fn bind(&mut self, name: &'a str, ty: Ty) {
        let scope = self.scopes.last_mut().expect("module scope");
        scope.vars.insert(name, ty);
        if self.scopes.len() == 1 {
            if let Ty::Val(val) = ty {
                let name = self.name(name);
                self.summary.globals.push((name, val));
            }
        }
    }

    // ----- annotations ------------------------------------------------------------------------

    /// The rule-level type an annotation proves.
    pub(crate) fn annotation_ty(&self, annotation: &Expr) -> Ty {
        match annotation {
            Expr::StringLiteral(string) => match super::adapter::parse_annotation(&string_value(&string.value)) {
                Some(parsed) => self.annotation_ty(&parsed),
                None => Ty::Unknown,
            },
            Expr::NoneLiteral(_) => Ty::None,
            Expr::BinOp(binop) if binop.op == Operator::BitOr => {
                self.annotation_ty(&binop.left).join(self.annotation_ty(&binop.right))
            }
            Expr::Name(_) | Expr::Attribute(_) => {
                if let Expr::Name(name) = annotation {
                    if let Some(ty) = self.type_aliases.get(name.id.as_str()) {
                        return *ty;
                    }
                }
                let Some(segments) = self.dotted(annotation) else { return Ty::Unknown };
                if let Some(ty) = types::tensor_class(&segments) {
                    return ty;
                }
                match segments.as_slice() {
                    ["int"] => Ty::Int,
                    ["float"] => Ty::Float,
                    ["bool"] => Ty::Bool,
                    ["str"] => Ty::Str,
                    ["torch", "device"] => Ty::Device,
                    ["torch", "dtype"] => Ty::Dtype,
                    ["torch", "Size"] => Ty::Shape,
                    ["torch", "cuda", "Stream" | "Event"] | ["torch", "Stream" | "Event"] => Ty::Stream,
                    _ => Ty::Unknown,
                }
            }
            Expr::Subscript(subscript) => {
                let head: SmallVec<[&str; 8]> = self.dotted(&subscript.value).unwrap_or_default();
                let last = head.last().copied().unwrap_or("");
                let elements: &[Expr] = match &*subscript.slice {
                    Expr::Tuple(tuple) => &tuple.elts,
                    other => std::slice::from_ref(other),
                };
                match last {
                    "Optional" | "Annotated" | "Final" | "ClassVar" => {
                        elements.first().map_or(Ty::Unknown, |e| self.annotation_ty(e))
                    }
                    "Union" => elements.iter().map(|e| self.annotation_ty(e)).reduce(Ty::join).unwrap_or(Ty::Unknown),
                    "tuple" | "Tuple" | "list" | "List" | "Sequence" | "Iterable" | "Iterator" => {
                        let all_tensors = !elements.is_empty()
                            && elements
                                .iter()
                                .filter(|e| !matches!(e, Expr::EllipsisLiteral(_)))
                                .all(|e| self.annotation_ty(e).is_tensor());
                        if all_tensors {
                            Ty::Tensors
                        } else {
                            Ty::Unknown
                        }
                    }
                    _ => {
                        let from_array_lib = matches!(head.first(), Some(&("jaxtyping" | "torchtyping")));
                        let local = head.len() == 1;
                        match types::array_annotation(last) {
                            Some(ty)
                                if from_array_lib
                                    || (local && last != "Int" && last != "Float")
                                    || elements.first().is_some_and(|e| self.annotation_ty(e).is_tensor()) =>
                            {
                                ty
                            }
                            _ => Ty::Unknown,
                        }
                    }
                }
            }
            _ => Ty::Unknown,
        }
    }

    /// The class an annotation names, as a symbolic instance value (for call resolution).
    fn annotation_val(&mut self, annotation: &Expr) -> Option<ValId> {
        match annotation {
            Expr::StringLiteral(string) => {
                let parsed = super::adapter::parse_annotation(&string_value(&string.value))?;
                self.annotation_val(&parsed)
            }
            Expr::Name(_) | Expr::Attribute(_) => {
                let skip = {
                    let segments = self.dotted(annotation)?;
                    let head = segments[0];
                    matches!(head, "torch" | "typing" | "builtins" | "numpy" | "jaxtyping" | "collections")
                        || (segments.len() == 1
                            && (types::is_modelled_builtin(head)
                                || matches!(head, "Any" | "Optional" | "Union" | "Callable")))
                };
                if skip {
                    return None;
                }
                let class = self.expr_val(annotation)?;
                Some(self.summary.add_val(Val::Call(class)))
            }
            Expr::Subscript(subscript) => {
                let last = match &*subscript.value {
                    Expr::Name(name) => name.id.as_str(),
                    Expr::Attribute(attribute) => attribute.attr.as_str(),
                    _ => return None,
                };
                if !matches!(last, "Optional" | "Union" | "Annotated") {
                    return None;
                }
                let elements: Vec<&Expr> = match &*subscript.slice {
                    Expr::Tuple(tuple) if last != "Annotated" => tuple.elts.iter().collect(),
                    Expr::Tuple(tuple) => tuple.elts.first().into_iter().collect(),
                    other => vec![other],
                };
                self.union_of(elements)
            }
            Expr::BinOp(binop) if binop.op == Operator::BitOr => self.union_of(vec![&binop.left, &binop.right]),
            _ => None,
        }
    }

    fn union_of(&mut self, elements: Vec<&Expr>) -> Option<ValId> {
        let vals: SmallVec<[ValId; 4]> = elements.into_iter().filter_map(|e| self.annotation_val(e)).collect();
        match vals.len() {
            0 => None,
            1 => Some(vals[0]),
            _ => {
                let items = self.summary.add_items(vals);
                Some(self.summary.add_val(Val::Union(items)))
            }
        }
    }

    /// A symbolic value for a dotted name (class bases, annotations).
    fn expr_val(&mut self, expr: &Expr) -> Option<ValId> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                if let Some(val) = self.global_vals.get(id) {
                    return Some(*val);
                }
                let id = self.name_of(id);
                Some(self.summary.add_val(Val::Global(id)))
            }
            Expr::Attribute(attribute) => {
                let base = self.expr_val(&attribute.value)?;
                let name = self.name_of(attribute.attr.as_str());
                Some(self.summary.add_val(Val::Attr(base, name)))
            }
            _ => None,
        }
    }

    // ----- statements -------------------------------------------------------------------------

    fn body(&mut self, body: &'a [Stmt]) {
        for stmt in body {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => {
                let func = self.function(def, None);
                let ty = Ty::Val(self.summary.add_val(Val::Func(func)));
                self.bind(def.name.as_str(), ty);
            }
            Stmt::ClassDef(def) => self.class(def),
            Stmt::Return(ret) => {
                if let Some(value) = &ret.value {
                    self.expr(value);
                }
            }
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    self.expr(target);
                }
            }
            Stmt::Assign(assign) => {
                if let (Expr::Tuple(value), [Expr::Tuple(target)]) = (&*assign.value, assign.targets.as_slice()) {
                    if value.elts.len() == target.elts.len() && !value.elts.iter().any(Expr::is_starred_expr) {
                        let tys: Vec<Ty> = value.elts.iter().map(|e| self.expr(e)).collect();
                        for (target, ty) in target.elts.iter().zip(tys) {
                            self.assign(target, ty);
                        }
                        return;
                    }
                }
                let ty = self.expr(&assign.value);
                for target in &assign.targets {
                    self.assign(target, ty);
                }
            }
            Stmt::AugAssign(aug) => {
                let target = self.expr(&aug.target);
                let value = self.expr(&aug.value);
                let ty = binop_ty(aug.op, target, value);
                if let Expr::Name(name) = &*aug.target {
                    self.bind(name.id.as_str(), ty);
                }
            }
            Stmt::AnnAssign(assign) => {
                let annotated = self.annotation_ty(&assign.annotation);
                let value = assign.value.as_ref().map(|v| self.expr(v));
                let ty = if annotated != Ty::Unknown { annotated } else { value.unwrap_or(Ty::Unknown) };
                if assign.value.is_some() || annotated != Ty::Unknown {
                    self.assign(&assign.target, ty);
                }
            }
            Stmt::For(stmt_for) => {
                let element = self.iteration(&stmt_for.iter, &stmt_for.target);
                self.push_region(RegionKind::Loop, stmt.range().start().to_usize());
                if let Some(element) = element {
                    self.assign(&stmt_for.target, element);
                }
                self.body(&stmt_for.body);
                self.regions.pop();
                self.body(&stmt_for.orelse);
            }
            Stmt::While(stmt_while) => {
                self.push_region(RegionKind::Loop, stmt.range().start().to_usize());
                self.test(&stmt_while.test, TestContext::While);
                self.body(&stmt_while.body);
                self.regions.pop();
                self.body(&stmt_while.orelse);
            }
            Stmt::If(stmt_if) => {
                self.test(&stmt_if.test, TestContext::If);
                self.body(&stmt_if.body);
                for clause in &stmt_if.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.test(test, TestContext::If);
                    }
                    self.body(&clause.body);
                }
            }
            Stmt::With(with) => {
                let mut graph = false;
                for item in &with.items {
                    let ty = self.expr(&item.context_expr);
                    if let Expr::Call(call) = &item.context_expr {
                        if let Some(q) = self.qualify(&call.func) {
                            graph |= matches!(
                                q.as_slice(),
                                ["torch", "cuda", "graph"] | ["torch", "cuda", "graphs", "graph"]
                            );
                        }
                    }
                    if let Some(vars) = &item.optional_vars {
                        self.assign(vars, if ty.is_tensor() { ty } else { Ty::Unknown });
                    }
                }
                if graph {
                    self.push_region(RegionKind::CudaGraph, stmt.range().start().to_usize());
                    self.body(&with.body);
                    self.regions.pop();
                } else {
                    self.body(&with.body);
                }
            }
            Stmt::Match(stmt_match) => {
                self.expr(&stmt_match.subject);
                for case in &stmt_match.cases {
                    if let Some(guard) = &case.guard {
                        self.test(guard, TestContext::If);
                    }
                    self.body(&case.body);
                }
            }
            Stmt::Raise(raise) => {
                self.error_path += 1;
                if let Some(exc) = &raise.exc {
                    self.expr(exc);
                }
                if let Some(cause) = &raise.cause {
                    self.expr(cause);
                }
                self.error_path -= 1;
            }
            Stmt::Try(stmt_try) => {
                self.body(&stmt_try.body);
                for handler in &stmt_try.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(name) = &handler.name {
                        self.bind(name.as_str(), Ty::Unknown);
                    }
                    self.body(&handler.body);
                }
                self.body(&stmt_try.orelse);
                self.body(&stmt_try.finalbody);
            }
            Stmt::Assert(assert) => {
                self.test(&assert.test, TestContext::Assert);
                if let Some(msg) = &assert.msg {
                    self.error_path += 1;
                    self.expr(msg);
                    self.error_path -= 1;
                }
            }
            Stmt::Import(import) => {
                if self.scopes.len() > 1 {
                    self.add_import(import)
                }
            }
            Stmt::ImportFrom(import) => {
                if self.scopes.len() > 1 {
                    self.add_import_from(import)
                }
            }
            Stmt::Expr(expr) => {
                self.expr(&expr.value);
            }
            Stmt::TypeAlias(_)
            | Stmt::Global(_)
            | Stmt::Nonlocal(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_)
            | Stmt::IpyEscapeCommand(_) => {}
        }
    }

    fn push_region(&mut self, kind: RegionKind, offset: usize) {
        let region = Region {
            kind,
            func: self.current_func(),
            parent: self.regions.last().copied(),
            row: self.row(offset),
            training: false,
        };
        self.summary.regions.push(region);
        self.regions.push((self.summary.regions.len() - 1) as RegionIdx);
    }

    /// The element type of `for target in iter`, binding `enumerate`/`zip` targets itself.
    fn iteration(&mut self, iter: &'a Expr, target: &'a Expr) -> Option<Ty> {
        if let Expr::Call(call) = iter {
            let builtin = self.qualify(&call.func).and_then(|q| (q[0] == "builtins").then(|| q[1]));
            match (builtin, target) {
                (Some("range"), _) => {
                    for arg in &call.arguments.args {
                        let ty = self.expr(arg);
                        rules::tensor_as_index::check_range_arg(self, arg, ty);
                    }
                    return Some(Ty::Int);
                }
                (Some("enumerate"), Expr::Tuple(tuple)) if tuple.elts.len() == 2 && call.arguments.args.len() == 1 => {
                    let element = self.element_of(&call.arguments.args[0]);
                    self.assign(&tuple.elts[0], Ty::Int);
                    self.assign(&tuple.elts[1], element);
                    return None;
                }
                (Some("zip"), Expr::Tuple(tuple)) if tuple.elts.len() == call.arguments.args.len() => {
                    for (target, arg) in tuple.elts.iter().zip(call.arguments.args.iter()) {
                        let element = self.element_of(arg);
                        self.assign(target, element);
                    }
                    return None;
                }
                _ => {}
            }
        }
        Some(self.element_of(iter))
    }

    fn element_of(&mut self, iterable: &'a Expr) -> Ty {
        match self.expr(iterable) {
            Ty::Tensor { host, .. } => Ty::Tensor { boolean: false, host },
            Ty::Tensors => Ty::TENSOR,
            Ty::Shape => Ty::Int,
            Ty::Val(val) => Ty::Val(self.summary.add_val(Val::Elem(val))),
            _ => Ty::Unknown,
        }
    }

    fn assign(&mut self, target: &'a Expr, ty: Ty) {
        match target {
            Expr::Name(name) => self.bind(name.id.as_str(), ty),
            Expr::Attribute(attribute) => {
                self.expr(&attribute.value);
                if let Some(class) = self.self_attribute_owner(&attribute.value) {
                    if let Ty::Val(val) = ty {
                        let name = self.name(attribute.attr.as_str());
                        self.summary.classes[class as usize].attrs.push((name, val));
                    }
                }
            }
            Expr::Subscript(subscript) => {
                self.subscript(subscript, Some(ty));
            }
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                let element = match ty {
                    Ty::Tensors | Ty::Tensor { .. } => Ty::TENSOR,
                    Ty::Shape => Ty::Int,
                    Ty::Val(val) => Ty::Val(self.summary.add_val(Val::Elem(val))),
                    _ => Ty::Unknown,
                };
                for elt in elts {
                    self.assign(elt, element);
                }
            }
            Expr::Starred(starred) => self.assign(&starred.value, Ty::List),
            other => {
                self.expr(other);
            }
        }
    }

    /// When `value` is `self` inside a method, the class index.
    fn self_attribute_owner(&self, value: &Expr) -> Option<u32> {
        let Expr::Name(name) = value else { return None };
        let scope = self.scopes.iter().rev().find(|s| s.self_of.is_some())?;
        let (self_name, class) = scope.self_of?;
        (self_name == name.id.as_str()).then_some(class)
    }

    // ----- functions and classes --------------------------------------------------------------

    fn function(&mut self, def: &'a ast::StmtFunctionDef, class: Option<u32>) -> FuncIdx {
        let mut compiled = false;
        let mut is_static = false;
        let mut is_classmethod = false;
        for decorator in &def.decorator_list {
            let expr = &decorator.expression;
            let head = match expr {
                Expr::Call(call) => &*call.func,
                other => other,
            };
            match self.qualify(head).as_deref() {
                Some(["torch", "compile"]) | Some(["torch", "compiler", "compile"]) => compiled = true,
                Some(["builtins", ..]) | None => {
                    let text = self.text(head);
                    is_static |= text == "staticmethod";
                    is_classmethod |= text == "classmethod";
                }
                _ => {}
            }
            self.expr(expr);
        }
        // Defaults are evaluated in the enclosing scope.
        for param in def.parameters.iter_non_variadic_params() {
            if let Some(default) = &param.default {
                self.expr(default);
            }
        }
        let name_row = self.row(def.name.range.start().to_usize());
        let qualname = match (class, self.scopes.len() > 1) {
            (Some(class), _) => format!("{}.{}", self.summary.classes[class as usize].name, def.name.as_str()),
            (None, true) => {
                format!("{}.{}", self.summary.funcs[self.current_func() as usize].qualname, def.name.as_str())
            }
            (None, false) => def.name.to_string(),
        };
        let func = self.summary.funcs.len() as FuncIdx;
        self.summary.funcs.push(FuncSummary {
            name: def.name.to_string(),
            qualname,
            class,
            row: name_row,
            params: Vec::new(),
            compiled,
            // On the `def` line, or on its own line right above the `def` (or its decorators).
            marker: self
                .context
                .markers
                .get(&name_row)
                .or_else(|| self.context.markers.get(&(self.row(def.range.start().to_usize()).saturating_sub(1))))
                .copied(),
            is_static: is_static || class.is_none(),
        });

        let vars = self.spare_vars.pop().unwrap_or_default();
        let mut scope = Scope { func, vars, self_of: None };
        let mut params = Vec::new();
        let parameters = &def.parameters;
        let all = parameters
            .posonlyargs
            .iter()
            .chain(parameters.args.iter())
            .map(|p| &p.parameter)
            .chain(parameters.vararg.as_deref())
            .chain(parameters.kwonlyargs.iter().map(|p| &p.parameter))
            .chain(parameters.kwarg.as_deref());
        for (index, param) in all.enumerate() {
            let name = param.name.as_str();
            let is_receiver = index == 0 && class.is_some() && !is_static;
            let annotated = param.annotation.as_deref().map_or(Ty::Unknown, |a| self.annotation_ty(a));
            let annotation_val =
                if is_receiver { None } else { param.annotation.as_deref().and_then(|a| self.annotation_val(a)) };
            params.push((self.name(name), annotation_val));
            let ty = if is_receiver {
                if !is_classmethod {
                    scope.self_of = Some((name, class.unwrap_or(0)));
                }
                let val = self.summary.add_val(Val::Param { func, index: 0 });
                Ty::Val(val)
            } else if annotated != Ty::Unknown {
                annotated
            } else {
                Ty::Val(self.summary.add_val(Val::Param { func, index: index as u32 }))
            };
            scope.vars.insert(name, ty);
        }
        self.summary.funcs[func as usize].params = params;

        let saved_regions = std::mem::take(&mut self.regions);
        self.scopes.push(scope);
        self.body(&def.body);
        if let Some(mut scope) = self.scopes.pop() {
            scope.vars.clear();
            self.spare_vars.push(scope.vars);
        }
        self.regions = saved_regions;
        func
    }

    fn class(&mut self, def: &'a ast::StmtClassDef) {
        let mut bases = Vec::new();
        let mut local_bases = Vec::new();
        if let Some(arguments) = &def.arguments {
            for base in arguments.args.iter() {
                if let Some(val) = self.expr_val(base) {
                    bases.push(val);
                }
                if let Expr::Name(name) = base {
                    if let Some(index) = self.summary.classes.iter().position(|c| c.name == name.id.as_str()) {
                        local_bases.push(index as u32);
                    }
                }
            }
            for keyword in arguments.keywords.iter() {
                self.expr(&keyword.value);
            }
        }
        for decorator in &def.decorator_list {
            self.expr(&decorator.expression);
        }
        let index = self.summary.classes.len() as u32;
        self.summary.classes.push(ClassSummary {
            name: def.name.to_string(),
            row: self.row(def.name.range.start().to_usize()),
            bases,
            attrs: Vec::new(),
            methods: Vec::new(),
        });
        let info = self.prescan_class(def, local_bases);
        self.classes.push(info);

        for stmt in &def.body {
            match stmt {
                Stmt::FunctionDef(method) => {
                    let func = self.function(method, Some(index));
                    let name = self.name(method.name.as_str());
                    self.summary.classes[index as usize].methods.push((name, func));
                }
                Stmt::Assign(assign) => {
                    let ty = self.expr(&assign.value);
                    for target in &assign.targets {
                        if let (Expr::Name(name), Ty::Val(val)) = (target, ty) {
                            let name = self.name(name.id.as_str());
                            self.summary.classes[index as usize].attrs.push((name, val));
                        }
                    }
                }
                Stmt::AnnAssign(assign) => {
                    if let Some(value) = &assign.value {
                        self.expr(value);
                    }
                    if let Expr::Name(name) = &*assign.target {
                        if let Some(val) = self.annotation_val(&assign.annotation) {
                            let name = self.name(name.id.as_str());
                            self.summary.classes[index as usize].attrs.push((name, val));
                        }
                    }
                }
                other => self.stmt(other),
            }
        }
        let ty = Ty::Val(self.summary.add_val(Val::Class(index)));
        self.bind(def.name.as_str(), ty);
    }

    /// Types of `self.x` attributes (assigned anywhere in the class, or annotated on the class)
    /// and of methods' return annotations, gathered from statements before the body is visited.
    fn prescan_class(&mut self, def: &'a ast::StmtClassDef, local_bases: Vec<u32>) -> ClassInfo<'a> {
        let mut info = ClassInfo { local_bases, ..Default::default() };
        // One map for every method's locals, emptied between them.
        let mut locals: FxHashMap<&'a str, Ty> = FxHashMap::default();
        for stmt in &def.body {
            match stmt {
                Stmt::AnnAssign(assign) => {
                    if let Expr::Name(name) = &*assign.target {
                        let ty = self.annotation_ty(&assign.annotation);
                        if ty != Ty::Unknown {
                            info.attr_tys.insert(name.id.as_str().into(), ty);
                        }
                    }
                }
                Stmt::FunctionDef(method) => {
                    if let Some(returns) = &method.returns {
                        let ty = self.annotation_ty(returns);
                        if ty != Ty::Unknown {
                            info.method_returns.insert(method.name.as_str(), ty);
                        }
                    }
                    let Some(receiver) = method.parameters.args.first().or(method.parameters.posonlyargs.first())
                    else {
                        continue;
                    };
                    locals.clear();
                    for param in method.parameters.iter_non_variadic_params() {
                        if let Some(annotation) = &param.parameter.annotation {
                            let ty = self.annotation_ty(annotation);
                            if ty != Ty::Unknown {
                                locals.insert(param.parameter.name.as_str(), ty);
                            }
                        }
                    }
                    self.prescan_self_assignments(
                        &method.body,
                        receiver.parameter.name.as_str(),
                        &mut locals,
                        &mut info,
                    );
                }
                _ => {}
            }
        }
        info
    }

    fn prescan_self_assignments(
        &self,
        body: &'a [Stmt],
        receiver: &str,
        locals: &mut FxHashMap<&'a str, Ty>,
        info: &mut ClassInfo<'a>,
    ) {
        for stmt in body {
            let (targets, value, annotation): (&[Expr], Option<&Expr>, Option<&Expr>) = match stmt {
                Stmt::Assign(assign) => (&assign.targets, Some(&assign.value), None),
                Stmt::AnnAssign(assign) => {
                    (std::slice::from_ref(&*assign.target), assign.value.as_deref(), Some(&*assign.annotation))
                }
                Stmt::Expr(expr) => {
                    // self.register_buffer("name", tensor)
                    if let Expr::Call(call) = &*expr.value {
                        if let Expr::Attribute(attribute) = &*call.func {
                            let on_self = matches!(&*attribute.value, Expr::Name(n) if n.id.as_str() == receiver);
                            if on_self && matches!(attribute.attr.as_str(), "register_buffer" | "register_parameter") {
                                if let Some(Expr::StringLiteral(name)) = call.arguments.args.first() {
                                    info.attr_tys.insert(string_value(&name.value), Ty::TENSOR);
                                }
                            }
                        }
                    }
                    continue;
                }
                Stmt::If(stmt_if) => {
                    self.prescan_self_assignments(&stmt_if.body, receiver, locals, info);
                    for clause in &stmt_if.elif_else_clauses {
                        self.prescan_self_assignments(&clause.body, receiver, locals, info);
                    }
                    continue;
                }
                Stmt::For(stmt_for) => {
                    self.prescan_self_assignments(&stmt_for.body, receiver, locals, info);
                    continue;
                }
                Stmt::With(with) => {
                    self.prescan_self_assignments(&with.body, receiver, locals, info);
                    continue;
                }
                Stmt::Try(stmt_try) => {
                    self.prescan_self_assignments(&stmt_try.body, receiver, locals, info);
                    continue;
                }
                _ => continue,
            };
            let mut ty = annotation.map_or(Ty::Unknown, |a| self.annotation_ty(a));
            if ty == Ty::Unknown {
                if let Some(value) = value {
                    ty = self.quick_ty(value, receiver, locals, info);
                }
            }
            for target in targets {
                match target {
                    Expr::Name(name) => {
                        locals.insert(name.id.as_str(), ty);
                    }
                    Expr::Attribute(attribute) if matches!(&*attribute.value, Expr::Name(n) if n.id.as_str() == receiver) =>
                    {
                        let name = attribute.attr.as_str();
                        match (info.attr_tys.get(name).copied(), ty) {
                            (_, Ty::Unknown | Ty::None) => {}
                            (None, ty) => {
                                info.attr_tys.insert(name.into(), ty);
                            }
                            (Some(previous), ty) if previous != ty => {
                                info.attr_tys.insert(name.into(), previous.join(ty));
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// A cheap, side-effect-free typing of an attribute's assigned value.
    fn quick_ty(&self, value: &'a Expr, receiver: &str, locals: &FxHashMap<&'a str, Ty>, info: &ClassInfo<'a>) -> Ty {
        match value {
            Expr::Call(call) => {
                if let Some(q) = self.qualify(&call.func) {
                    if q[0] == "torch" {
                        let has_device = call
                            .arguments
                            .keywords
                            .iter()
                            .any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "device"));
                        return types::torch_call_result(&q[1..], call.arguments.args.len(), has_device, false);
                    }
                    return Ty::Unknown;
                }
                if let Expr::Attribute(attribute) = &*call.func {
                    let receiver_ty = self.quick_ty(&attribute.value, receiver, locals, info);
                    if receiver_ty.is_tensor() {
                        return types::tensor_method_result(
                            receiver_ty,
                            attribute.attr.as_str(),
                            call.arguments.args.len(),
                            false,
                        );
                    }
                }
                Ty::Unknown
            }
            Expr::Name(name) => locals.get(name.id.as_str()).copied().unwrap_or(Ty::Unknown),
            Expr::Attribute(attribute) => {
                if matches!(&*attribute.value, Expr::Name(n) if n.id.as_str() == receiver) {
                    info.attr_tys.get(attribute.attr.as_str()).copied().unwrap_or(Ty::Unknown)
                } else {
                    Ty::Unknown
                }
            }
            Expr::BinOp(binop) => {
                let left = self.quick_ty(&binop.left, receiver, locals, info);
                let right = self.quick_ty(&binop.right, receiver, locals, info);
                if left.is_tensor() || right.is_tensor() {
                    Ty::TENSOR
                } else {
                    Ty::Unknown
                }
            }
            _ => Ty::Unknown,
        }
    }

    fn is_local_class(&self, name: &str) -> bool {
        self.summary.classes.iter().any(|c| c.name == name)
    }

    /// The type of `self.<name>` in the current class (or its bases in this file).
    fn self_attr_ty(&self, class: u32, name: &str) -> Ty {
        let mut stack = vec![class];
        let mut seen = 0;
        while let Some(class) = stack.pop() {
            seen += 1;
            if seen > 32 {
                break;
            }
            let Some(info) = self.classes.get(class as usize) else { continue };
            if let Some(ty) = info.attr_tys.get(name) {
                return *ty;
            }
            stack.extend(info.local_bases.iter().copied());
        }
        Ty::Unknown
    }

    fn self_method_return(&self, class: u32, name: &str) -> Ty {
        self.classes.get(class as usize).and_then(|info| info.method_returns.get(name).copied()).unwrap_or(Ty::Unknown)
    }

    // ----- expressions ------------------------------------------------------------------------

    /// Visits a condition: `and`/`or`/`not` are looked through, every operand is truth-tested.
    fn test(&mut self, expr: &'a Expr, context: TestContext) -> Ty {
        match expr {
            Expr::BoolOp(boolop) => {
                for value in &boolop.values {
                    self.test(value, context);
                }
                Ty::Bool
            }
            Expr::UnaryOp(unary) if unary.op == UnaryOp::Not => {
                self.test(&unary.operand, context);
                Ty::Bool
            }
            _ => {
                let ty = self.expr(expr);
                if ty.is_device_tensor() {
                    rules::on_truth_test(self, expr, context);
                }
                ty
            }
        }
    }

    pub(crate) fn expr(&mut self, expr: &'a Expr) -> Ty {
        // Deeply nested expressions recurse deeply: grow the stack instead of overflowing it.
        // Checked every 16 levels (a level takes well under 2 KiB, the red zone is 128 KiB).
        self.expr_depth += 1;
        let ty = if self.expr_depth.is_multiple_of(16) {
            stacker::maybe_grow(128 * 1024, 8 * 1024 * 1024, || self.expr_inner(expr))
        } else {
            self.expr_inner(expr)
        };
        self.expr_depth -= 1;
        ty
    }

    fn expr_inner(&mut self, expr: &'a Expr) -> Ty {
        match expr {
            Expr::Name(name) => match name.ctx {
                ExprContext::Load => self.lookup(name.id.as_str()),
                _ => Ty::Unknown,
            },
            Expr::Attribute(attribute) => self.attribute(attribute),
            Expr::Call(call) => self.call(call),
            Expr::Subscript(subscript) => self.subscript(subscript, None),
            Expr::BinOp(binop) => {
                let left = self.expr(&binop.left);
                let right = self.expr(&binop.right);
                if binop.op == Operator::Mod && matches!(left, Ty::Str) {
                    rules::format_tensor::check_percent(self, binop, right);
                }
                binop_ty(binop.op, left, right)
            }
            Expr::UnaryOp(unary) => {
                let operand = self.expr(&unary.operand);
                match unary.op {
                    UnaryOp::Not => {
                        if operand.is_device_tensor() {
                            rules::tensor_bool_operator::check_not(self, unary);
                        }
                        Ty::Bool
                    }
                    _ => match operand {
                        Ty::Tensor { .. } | Ty::Int | Ty::Float => operand,
                        Ty::Bool => Ty::Int,
                        _ => Ty::Unknown,
                    },
                }
            }
            Expr::BoolOp(boolop) => {
                let mut result: Option<Ty> = None;
                let last = boolop.values.len().saturating_sub(1);
                for (index, value) in boolop.values.iter().enumerate() {
                    let ty = self.expr(value);
                    if index < last && ty.is_device_tensor() {
                        rules::tensor_bool_operator::check_operand(self, boolop.op, value);
                    }
                    result = Some(result.map_or(ty, |r| r.join(ty)));
                }
                result.unwrap_or(Ty::Unknown)
            }
            Expr::Compare(compare) => {
                let mut tensor: Option<bool> = None;
                let left = self.expr(&compare.left);
                let mut operands = vec![left];
                for comparator in compare.comparators.iter() {
                    operands.push(self.expr(comparator));
                }
                let identity =
                    compare.ops.iter().any(|op| matches!(op, CmpOp::Is | CmpOp::IsNot | CmpOp::In | CmpOp::NotIn));
                for ty in &operands {
                    if let Ty::Tensor { host, .. } = ty {
                        tensor = Some(tensor.unwrap_or(true) && *host);
                    }
                }
                match tensor {
                    Some(host) if !identity => Ty::Tensor { boolean: true, host },
                    _ => Ty::Bool,
                }
            }
            Expr::If(ternary) => {
                self.test(&ternary.test, TestContext::Ternary);
                let body = self.expr(&ternary.body);
                let orelse = self.expr(&ternary.orelse);
                match (body, orelse) {
                    (Ty::Val(a), Ty::Val(b)) => {
                        let items = self.summary.add_items([a, b]);
                        Ty::Val(self.summary.add_val(Val::Union(items)))
                    }
                    (Ty::Val(a), Ty::None | Ty::Unknown) | (Ty::None | Ty::Unknown, Ty::Val(a)) => Ty::Val(a),
                    _ => body.join(orelse),
                }
            }
            Expr::Lambda(lambda) => {
                self.expr(&lambda.body);
                Ty::Unknown
            }
            Expr::Named(named) => {
                let ty = self.expr(&named.value);
                self.assign(&named.target, ty);
                ty
            }
            Expr::Tuple(ast::ExprTuple { elts, .. })
            | Expr::List(ast::ExprList { elts, .. })
            | Expr::Set(ast::ExprSet { elts, .. }) => {
                let tys: SmallVec<[Ty; 8]> = elts.iter().map(|e| self.expr(e)).collect();
                let items =
                    self.summary.add_items(tys.iter().filter_map(|t| if let Ty::Val(v) = t { Some(*v) } else { None }));
                if items.len > 0 {
                    return Ty::Val(self.summary.add_val(Val::Collection(items)));
                }
                match expr {
                    Expr::Tuple(_) if !tys.is_empty() && tys.iter().all(|t| *t == Ty::Int) => Ty::Shape,
                    Expr::Tuple(_) if !tys.is_empty() && tys.iter().all(|t| t.is_tensor()) => Ty::Tensors,
                    Expr::List(_) => Ty::List,
                    _ => Ty::Unknown,
                }
            }
            Expr::Dict(dict) => {
                let mut vals: SmallVec<[ValId; 8]> = SmallVec::new();
                for item in &dict.items {
                    if let Some(key) = &item.key {
                        self.expr(key);
                    }
                    if let Ty::Val(val) = self.expr(&item.value) {
                        vals.push(val);
                    }
                }
                if vals.is_empty() {
                    Ty::Dict
                } else {
                    let items = self.summary.add_items(vals);
                    Ty::Val(self.summary.add_val(Val::Collection(items)))
                }
            }
            Expr::ListComp(comp) => {
                self.comprehension(&comp.generators);
                let element = self.expr(&comp.elt);
                match element {
                    Ty::Val(val) => {
                        let items = self.summary.add_items([val]);
                        Ty::Val(self.summary.add_val(Val::Collection(items)))
                    }
                    _ => Ty::List,
                }
            }
            Expr::SetComp(comp) => {
                self.comprehension(&comp.generators);
                self.expr(&comp.elt);
                Ty::Unknown
            }
            Expr::Generator(comp) => {
                self.comprehension(&comp.generators);
                self.expr(&comp.elt);
                Ty::Unknown
            }
            Expr::DictComp(comp) => {
                self.comprehension(&comp.generators);
                if let Some(key) = &comp.key {
                    self.expr(key);
                }
                self.expr(&comp.value);
                Ty::Dict
            }
            Expr::Await(inner) => self.expr(&inner.value),
            Expr::Yield(inner) => {
                if let Some(value) = &inner.value {
                    self.expr(value);
                }
                Ty::Unknown
            }
            Expr::YieldFrom(inner) => {
                self.expr(&inner.value);
                Ty::Unknown
            }
            Expr::Starred(starred) => self.expr(&starred.value),
            Expr::FString(fstring) => {
                for element in fstring.value.elements() {
                    self.interpolated_element(element);
                }
                Ty::Str
            }
            Expr::TString(tstring) => {
                for element in tstring.value.elements() {
                    self.interpolated_element(element);
                }
                Ty::Unknown
            }
            Expr::StringLiteral(_) | Expr::BytesLiteral(_) => Ty::Str,
            Expr::NumberLiteral(number) => match number.value {
                Number::Int(_) => Ty::Int,
                Number::Float(_) => Ty::Float,
                Number::Complex { .. } => Ty::Unknown,
            },
            Expr::BooleanLiteral(_) => Ty::Bool,
            Expr::NoneLiteral(_) => Ty::None,
            Expr::EllipsisLiteral(_) | Expr::IpyEscapeCommand(_) => Ty::Unknown,
            Expr::Slice(slice) => {
                for bound in [&slice.lower, &slice.upper, &slice.step].into_iter().flatten() {
                    self.expr(bound);
                }
                Ty::Unknown
            }
        }
    }

    fn interpolated_element(&mut self, element: &'a InterpolatedStringElement) {
        if let InterpolatedStringElement::Interpolation(interpolation) = element {
            let ty = self.expr(&interpolation.expression);
            if ty.is_device_tensor() {
                rules::format_tensor::check_interpolation(self, &interpolation.expression);
            }
            if let Some(spec) = &interpolation.format_spec {
                for nested in spec.elements.iter() {
                    self.interpolated_element(nested);
                }
            }
        }
    }

    fn comprehension(&mut self, generators: &'a [ast::Comprehension]) {
        for generator in generators {
            if let Some(element) = self.iteration(&generator.iter, &generator.target) {
                self.assign(&generator.target, element);
            }
            for condition in &generator.ifs {
                self.test(condition, TestContext::Comprehension);
            }
        }
    }

    fn attribute(&mut self, attribute: &'a ast::ExprAttribute) -> Ty {
        if let Some(q) = self.qualify(&attribute.value) {
            // `torch.float32`, `torch.bool`: attributes of modules are dtypes, classes, submodules.
            if q[0] == "torch" {
                let name = attribute.attr.as_str();
                let is_dtype = q.len() == 1
                    && (name.starts_with("float")
                        || name.starts_with("int")
                        || name.starts_with("uint")
                        || name.starts_with("bfloat")
                        || name.starts_with("complex")
                        || matches!(name, "bool" | "half" | "double" | "long" | "short"));
                return if is_dtype { Ty::Dtype } else { Ty::Unknown };
            }
            if q[0] != "builtins" {
                return self.lookup_dotted(attribute);
            }
        }
        let receiver = self.expr(&attribute.value);
        let name = attribute.attr.as_str();
        match receiver {
            Ty::Tensor { .. } => types::tensor_attribute(receiver, name),
            Ty::Tensors if matches!(name, "values" | "indices") => Ty::TENSOR,
            Ty::Val(val) => {
                if let Some(class) = self.self_attribute_owner(&attribute.value) {
                    let ty = self.self_attr_ty(class, name);
                    if ty != Ty::Unknown {
                        return ty;
                    }
                    return Ty::Val(self.self_attr_val(class, name));
                }
                Ty::Val(self.attr_val(val, name))
            }
            _ => Ty::Unknown,
        }
    }

    /// `module.attr` of an import that is not torch (a project module or third-party package).
    fn lookup_dotted(&mut self, attribute: &'a ast::ExprAttribute) -> Ty {
        match self.expr(&attribute.value) {
            Ty::Val(val) => Ty::Val(self.attr_val(val, attribute.attr.as_str())),
            _ => Ty::Unknown,
        }
    }

    fn subscript(&mut self, subscript: &'a ast::ExprSubscript, stored: Option<Ty>) -> Ty {
        let value = self.expr(&subscript.value);
        let elements: &'a [Expr] = match &*subscript.slice {
            Expr::Tuple(tuple) => &tuple.elts,
            other => std::slice::from_ref(other),
        };
        let mut index_tys: SmallVec<[Ty; 4]> = SmallVec::new();
        for element in elements {
            match element {
                Expr::Slice(slice) => {
                    for bound in [&slice.lower, &slice.upper, &slice.step].into_iter().flatten() {
                        let ty = self.expr(bound);
                        if ty.is_device_tensor() {
                            rules::tensor_as_index::check_slice_bound(self, bound);
                        }
                    }
                    index_tys.push(Ty::Int);
                }
                other => index_tys.push(self.expr(other)),
            }
        }
        rules::on_subscript(self, subscript, value, elements, &index_tys, stored);
        match value {
            Ty::Tensor { boolean, host } => {
                if stored.is_none() {
                    Ty::Tensor { boolean, host }
                } else {
                    Ty::Unknown
                }
            }
            Ty::Tensors => Ty::TENSOR,
            Ty::Shape => {
                if matches!(&*subscript.slice, Expr::Slice(_)) {
                    Ty::Shape
                } else {
                    Ty::Int
                }
            }
            Ty::NdArray => Ty::NdArray,
            Ty::Val(val) if stored.is_none() => {
                let call = CallSite {
                    func: self.current_func(),
                    region: self.regions.last().copied(),
                    callee: val,
                    kind: CallKind::GetItem,
                    args: Items::default(),
                    kwargs: Items::default(),
                };
                self.summary.calls.push(call);
                Ty::Val(self.summary.add_val(Val::Elem(val)))
            }
            _ => Ty::Unknown,
        }
    }

    fn call(&mut self, call: &'a ast::ExprCall) -> Ty {
        let func = &*call.func;
        let qualified = self.qualify(func);
        let external = qualified.as_ref().is_some_and(|q| {
            matches!(q[0], "builtins" | "torch" | "numpy" | "logging" | "einops" | "math" | "warnings" | "operator")
        });
        let mut method = None;
        let mut receiver = Ty::Unknown;
        let mut receiver_expr = None;
        let mut callee = Ty::Unknown;
        if !external {
            match func {
                Expr::Attribute(attribute) => {
                    method = Some(attribute.attr.as_str());
                    receiver_expr = Some(&*attribute.value);
                    receiver = self.expr(&attribute.value);
                    if let Ty::Val(val) = receiver {
                        callee = Ty::Val(self.attr_val(val, attribute.attr.as_str()));
                    }
                }
                other => callee = self.expr(other),
            }
        }

        let mut args: SmallVec<[Ty; 6]> = SmallVec::new();
        for arg in call.arguments.args.iter() {
            args.push(self.expr(arg));
        }
        let mut keywords: SmallVec<[(Option<&'a str>, Ty); 4]> = SmallVec::new();
        for keyword in call.arguments.keywords.iter() {
            keywords.push((keyword.arg.as_ref().map(|a| a.as_str()), self.expr(&keyword.value)));
        }

        let info = CallInfo {
            call,
            qualified: if external { qualified.as_deref() } else { None },
            method,
            receiver,
            receiver_expr,
            args: &args,
            keywords: &keywords,
        };
        rules::on_call(self, &info);
        let result = self.call_result(&info, callee);

        // What the hot-path pass needs to know about this call.
        if let Some(q) = info.qualified {
            match q {
                ["torch", "compile"] | ["torch", "compiler", "compile"] => {
                    if let Some(Ty::Val(val)) = args.first() {
                        self.summary.root_sites.push(RootSite { value: *val, reason: "compiled with torch.compile" });
                    }
                }
                ["torch", "cuda", "make_graphed_callables"] | ["torch", "cuda", "graphs", "make_graphed_callables"] => {
                    if let Some(Ty::Val(val)) = args.first() {
                        self.summary
                            .root_sites
                            .push(RootSite { value: *val, reason: "passed to torch.cuda.make_graphed_callables" });
                    }
                }
                _ => {}
            }
        }
        if let Some(name) = method {
            let optimizer_step = name == "step"
                && receiver_expr.is_some_and(|r| {
                    let text = self.text(r).to_ascii_lowercase();
                    text.contains("optim") || text.contains("sched") || text.contains("scaler")
                });
            if matches!(name, "backward" | "zero_grad") || optimizer_step {
                self.mark_training();
            }
        }
        if let Ty::Val(val) = callee {
            let start = self.summary.call_args.len();
            self.summary.call_args.extend(args.iter().map(|t| if let Ty::Val(v) = t { Some(*v) } else { None }));
            let call_args = Items { start: start as u32, len: args.len() as u32 };
            let start = self.summary.call_kwargs.len();
            for (name, ty) in &keywords {
                if let (Some(name), Ty::Val(val)) = (name, ty) {
                    let name = self.name(name);
                    self.summary.call_kwargs.push((name, *val));
                }
            }
            let call_kwargs = Items { start: start as u32, len: (self.summary.call_kwargs.len() - start) as u32 };
            let call_site = CallSite {
                func: self.current_func(),
                region: self.regions.last().copied(),
                callee: val,
                kind: CallKind::Call,
                args: call_args,
                kwargs: call_kwargs,
            };
            self.summary.calls.push(call_site);
        }
        result
    }

    fn mark_training(&mut self) {
        for region in &self.regions {
            self.summary.regions[*region as usize].training = true;
        }
    }

    fn call_result(&mut self, info: &CallInfo<'a, '_>, callee: Ty) -> Ty {
        let has_kw = |name: &str| info.keywords.iter().any(|(k, _)| *k == Some(name));
        if let Some(q) = info.qualified {
            return match q {
                ["builtins", name] => match *name {
                    "int" | "len" | "round" | "hash" | "id" => Ty::Int,
                    "float" => Ty::Float,
                    "bool" | "isinstance" | "hasattr" | "callable" | "any" | "all" => Ty::Bool,
                    "str" | "repr" | "format" => Ty::Str,
                    "list" | "sorted" => Ty::List,
                    "dict" => Ty::Dict,
                    "max" | "min" | "sum" | "abs" => info.args.iter().copied().reduce(Ty::join).unwrap_or(Ty::Unknown),
                    "super" => match self.scopes.iter().rev().find_map(|s| s.self_of) {
                        Some((_, class)) => Ty::Val(self.summary.add_val(Val::Super { class })),
                        None => Ty::Unknown,
                    },
                    _ => Ty::Unknown,
                },
                ["torch", "compile"]
                | ["torch", "compiler", "compile"]
                | ["torch", "cuda", "make_graphed_callables"] => info.args.first().copied().unwrap_or(Ty::Unknown),
                // `nn.ModuleList([...])`, `nn.Sequential(a, b)`: the elements, for the hot-path pass.
                ["torch", "nn", "ModuleList" | "Sequential" | "ModuleDict"] => {
                    let items = self.summary.add_items(
                        info.args.iter().chain(info.keywords.iter().map(|(_, t)| t)).filter_map(|t| {
                            if let Ty::Val(v) = t {
                                Some(*v)
                            } else {
                                None
                            }
                        }),
                    );
                    if items.len == 0 {
                        Ty::Layer
                    } else {
                        Ty::Val(self.summary.add_val(Val::Collection(items)))
                    }
                }
                ["torch", rest @ ..] => {
                    let ty = types::torch_call_result(rest, info.args.len(), has_kw("device"), has_kw("dim"));
                    // `torch.zeros_like(x)`, `torch.cat([...])` keep the device of their input.
                    match ty {
                        Ty::Tensor { boolean, host: true } if !rest.first().is_some_and(|n| is_host_factory(n)) => {
                            Ty::Tensor { boolean, host: false }
                        }
                        Ty::Tensor { boolean, .. } if rest.len() == 1 && !is_host_factory(rest[0]) => {
                            let host = info.args.first().is_some_and(|t| t.is_host_tensor());
                            Ty::Tensor { boolean, host }
                        }
                        other => other,
                    }
                }
                ["numpy", ..] => Ty::NdArray,
                ["logging", "getLogger"] => Ty::Logger,
                ["einops", "rearrange" | "repeat" | "reduce" | "einsum"] => Ty::TENSOR,
                _ => Ty::Unknown,
            };
        }
        if let Some(name) = info.method {
            return match info.receiver {
                Ty::Tensor { .. } => types::tensor_method_result(info.receiver, name, info.args.len(), has_kw("dim")),
                Ty::Layer if types::returns_self_module(name) => Ty::Layer,
                Ty::Layer | Ty::Stream => Ty::Unknown,
                Ty::Str if name == "format" => Ty::Str,
                Ty::Val(_) => {
                    if let Some(receiver) = info.receiver_expr {
                        if let Some(class) = self.self_attribute_owner(receiver) {
                            if self.self_attr_ty(class, name) == Ty::Layer {
                                return Ty::TENSOR;
                            }
                            let returns = self.self_method_return(class, name);
                            if returns != Ty::Unknown {
                                return returns;
                            }
                        }
                    }
                    match callee {
                        Ty::Val(val) if may_return_instance(name) => Ty::Val(self.summary.add_val(Val::Call(val))),
                        _ => Ty::Unknown,
                    }
                }
                _ => Ty::Unknown,
            };
        }
        match callee {
            Ty::Layer => Ty::TENSOR,
            Ty::Val(val) => {
                if let Expr::Name(name) = &*info.call.func {
                    if let Some(ty) = self.function_returns.get(name.id.as_str()) {
                        return *ty;
                    }
                    if !may_return_instance(name.id.as_str()) && !self.is_local_class(name.id.as_str()) {
                        return Ty::Unknown;
                    }
                }
                Ty::Val(self.summary.add_val(Val::Call(val)))
            }
            _ => Ty::Unknown,
        }
    }
}

/// Whether calling something of this name can give a value the hot-path pass can use: the
/// project pass only follows constructors (class names are capitalised), `from_pretrained`-style
/// factories and methods that return the module itself (`.to()`, `.eval()`). Other call results
/// are not tracked, so no symbolic value is kept for them.
fn may_return_instance(name: &str) -> bool {
    name.starts_with(char::is_uppercase)
        || matches!(name, "from_pretrained" | "from_config" | "_from_config" | "load_from_checkpoint")
        || types::returns_self_module(name)
}

/// Factories that allocate in host memory unless given `device=`.
fn is_host_factory(name: &str) -> bool {
    matches!(
        name,
        "tensor"
            | "as_tensor"
            | "asarray"
            | "zeros"
            | "ones"
            | "empty"
            | "full"
            | "arange"
            | "range"
            | "linspace"
            | "logspace"
            | "rand"
            | "randn"
            | "randint"
            | "randperm"
            | "eye"
            | "tril_indices"
            | "triu_indices"
            | "empty_strided"
            | "frombuffer"
            | "from_numpy"
            | "get_rng_state"
    )
}

fn binop_ty(op: Operator, left: Ty, right: Ty) -> Ty {
    match (left, right) {
        (Ty::Tensor { boolean: b1, host: h1 }, Ty::Tensor { boolean: b2, host: h2 }) => {
            let boolean = b1 && b2 && matches!(op, Operator::BitAnd | Operator::BitOr | Operator::BitXor);
            Ty::Tensor { boolean, host: h1 && h2 }
        }
        (Ty::Tensor { boolean, host }, _) | (_, Ty::Tensor { boolean, host }) => {
            let boolean = boolean && matches!(op, Operator::BitAnd | Operator::BitOr | Operator::BitXor);
            Ty::Tensor { boolean, host }
        }
        (Ty::Int | Ty::Bool, Ty::Int | Ty::Bool) if op == Operator::Div => Ty::Float,
        (Ty::Int | Ty::Bool, Ty::Int | Ty::Bool) => Ty::Int,
        (Ty::Int | Ty::Float, Ty::Int | Ty::Float) => Ty::Float,
        (Ty::Shape, Ty::Shape) if op == Operator::Add => Ty::Shape,
        (Ty::Str, _) if matches!(op, Operator::Add | Operator::Mod) => Ty::Str,
        (Ty::List, Ty::List) => Ty::List,
        _ => Ty::Unknown,
    }
}
