//! What the traversal needs before it visits a body: module-level bindings, imports and type
//! aliases, and per class the types of `self.x` attributes and of methods' return annotations.

use rustc_hash::{FxHashMap, FxHashSet};

use super::inference::{moves_to_device, moves_to_host};
use super::{Checker, ClassInfo};
use crate::python::adapter::{ast, string_value, CmpOp, Expr, Stmt};
use crate::python::types::{self, Ty};

impl<'a> Checker<'a> {
    pub(super) fn prescan_module(&mut self, body: &'a [Stmt]) {
        self.prescan_body(body);
        // Most module-level names are bound once the traversal reaches them: the module scope
        // is sized for them (its map is only looked up, so its capacity changes nothing else).
        let module_names = self.module_names.len();
        if let Some(module) = self.scopes.first_mut() {
            module.vars.reserve(module_names);
        }
    }

    fn prescan_body(&mut self, body: &'a [Stmt]) {
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
                    if ty != Ty::Unknown && !super::attribute_flow::annotation_contradicted_by_tuple(returns, &def.body)
                    {
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
                self.prescan_body(&stmt_if.body);
                for clause in &stmt_if.elif_else_clauses {
                    self.prescan_body(&clause.body);
                }
            }
            Stmt::Try(stmt_try) => {
                self.prescan_body(&stmt_try.body);
                for handler in &stmt_try.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    self.prescan_body(&handler.body);
                }
                self.prescan_body(&stmt_try.orelse);
                self.prescan_body(&stmt_try.finalbody);
            }
            _ => {}
        }
    }

    /// Types of `self.x` attributes (assigned anywhere in the class, or annotated on the class)
    /// and of methods' return annotations, gathered from statements before the body is visited.
    pub(super) fn prescan_class(&mut self, def: &'a ast::StmtClassDef, local_bases: Vec<u32>) -> ClassInfo<'a> {
        let mut info = ClassInfo { local_bases, ..Default::default() };
        // One map for every method's locals, emptied between them.
        let mut locals: FxHashMap<&'a str, Ty> = FxHashMap::default();
        let mut memory = Memory::default();
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
                        // (`-> torch.LongTensor` over `return ids, n` says nothing: callers unpack it.)
                        if ty != Ty::Unknown
                            && !(ty.is_tensor() && super::attribute_flow::returns_a_tuple(&method.body))
                            && !super::attribute_flow::annotation_contradicted_by_tuple(returns, &method.body)
                        {
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
                    let mut in_method = Memory::default();
                    self.prescan_self_assignments(
                        &method.body,
                        receiver.parameter.name.as_str(),
                        &mut locals,
                        &mut info,
                        &mut in_method,
                    );
                    memory.host.extend(in_method.host);
                    memory.device.extend(in_method.device);
                    memory.buffers.extend(in_method.buffers);
                }
                _ => {}
            }
        }
        // A host tensor attribute that some assignment fills with a value of unknown type (or a
        // device tensor) may be on the device.
        for name in &memory.device {
            if let Some(Ty::Tensor { boolean, host: true }) = info.attr_tys.get(*name).copied() {
                info.attr_tys.insert((*name).into(), Ty::Tensor { boolean, host: false });
            }
        }
        // An annotation proves a tensor, not its memory: a tensor attribute that every typed
        // assignment fills with host data is host data.
        for name in memory.host.iter().filter(|n| !memory.device.contains(*n) && !memory.buffers.contains(*n)) {
            if let Some(Ty::Tensor { boolean, .. }) = info.attr_tys.get(*name).copied() {
                info.attr_tys.insert((*name).into(), Ty::Tensor { boolean, host: true });
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
        memory: &mut Memory<'a>,
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
                                    // A buffer moves with its module: not host data, whatever
                                    // is assigned to it later.
                                    memory.buffers.insert(name.value.to_str());
                                    info.attr_tys.insert(string_value(&name.value), Ty::TENSOR);
                                }
                            }
                        }
                    }
                    continue;
                }
                Stmt::If(stmt_if) => {
                    self.nested(
                        |this, memory| this.prescan_self_assignments(&stmt_if.body, receiver, locals, info, memory),
                        memory,
                    );
                    for clause in &stmt_if.elif_else_clauses {
                        self.nested(
                            |this, memory| this.prescan_self_assignments(&clause.body, receiver, locals, info, memory),
                            memory,
                        );
                    }
                    continue;
                }
                Stmt::For(stmt_for) => {
                    self.nested(
                        |this, memory| this.prescan_self_assignments(&stmt_for.body, receiver, locals, info, memory),
                        memory,
                    );
                    continue;
                }
                Stmt::With(with) => {
                    self.nested(
                        |this, memory| this.prescan_self_assignments(&with.body, receiver, locals, info, memory),
                        memory,
                    );
                    continue;
                }
                Stmt::Try(stmt_try) => {
                    self.nested(
                        |this, memory| this.prescan_self_assignments(&stmt_try.body, receiver, locals, info, memory),
                        memory,
                    );
                    continue;
                }
                _ => continue,
            };
            let value_ty = value.map_or(Ty::Unknown, |v| self.quick_ty(v, receiver, locals, info));
            let mut ty = annotation.map_or(Ty::Unknown, |a| self.annotation_ty(a));
            if ty == Ty::Unknown {
                ty = value_ty;
            }
            for target in targets {
                match target {
                    // (An unknown type is stored as no entry, since most locals are of unknown
                    // type and the map is only read through `quick_ty`, which takes a missing
                    // entry for unknown.)
                    Expr::Name(name) if ty == Ty::Unknown => {
                        locals.remove(name.id.as_str());
                    }
                    Expr::Name(name) => {
                        locals.insert(name.id.as_str(), ty);
                    }
                    Expr::Attribute(attribute) if matches!(&*attribute.value, Expr::Name(n) if n.id.as_str() == receiver) =>
                    {
                        let name = attribute.attr.as_str();
                        // A later assignment in the method body itself replaces what the
                        // method stored before (`self.x = cat(...)`, then `self.x =
                        // self.x.to("cpu")`); `top_level` is set for that body only.
                        if memory.top_level {
                            memory.host.remove(name);
                            memory.device.remove(name);
                        }
                        if value_ty.is_tensor() {
                            let side = if value_ty.is_host_tensor() { &mut memory.host } else { &mut memory.device };
                            side.insert(name);
                        } else if value.is_some_and(copies_to_host) {
                            // `.cpu()` of something unknown: host memory, but maybe a module's
                            // (`self.vae = self.vae.to("cpu")` offloads), so it only says where
                            // an attribute typed a tensor elsewhere lives.
                            memory.host.insert(name);
                        } else if value_ty.is_unproven() && value.is_some_and(may_be_tensor) {
                            // A value of unknown type may be a device tensor (`self.timesteps =
                            // sigmas * n` after `sigmas` was built on `device`): the attribute is
                            // host data only where every assignment proves it.
                            memory.device.insert(name);
                        }
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

    /// Runs `visit` on a nested block (not the method's own body).
    fn nested(&self, visit: impl FnOnce(&Self, &mut Memory<'a>), memory: &mut Memory<'a>) {
        let top_level = std::mem::replace(&mut memory.top_level, false);
        visit(self, memory);
        memory.top_level = top_level;
    }

    /// A cheap, side-effect-free typing of an attribute's assigned value.
    fn quick_ty(&self, value: &'a Expr, receiver: &str, locals: &FxHashMap<&'a str, Ty>, info: &ClassInfo<'a>) -> Ty {
        match value {
            Expr::Call(call) => {
                if let Some(q) = self.qualify(&call.func) {
                    if q[0] == "torch" {
                        let on_device = self.factory_on_device(call, None);
                        return types::torch_call_result(&q[1..], call.arguments.args.len(), on_device, false);
                    }
                    return if q[0] == "numpy" { Ty::NdArray } else { Ty::Unknown };
                }
                if let Expr::Attribute(attribute) = &*call.func {
                    if attribute.attr.as_str() == "numpy" {
                        return Ty::NdArray;
                    }
                    let receiver_ty = self.quick_ty(&attribute.value, receiver, locals, info);
                    if receiver_ty.is_tensor() && attribute.attr.as_str() == "to" {
                        if moves_to_host(call) {
                            return Ty::HOST_TENSOR;
                        }
                        if moves_to_device(call) {
                            return Ty::TENSOR;
                        }
                    }
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
            Expr::If(ternary) => {
                let body = self.quick_ty(&ternary.body, receiver, locals, info);
                body.join(self.quick_ty(&ternary.orelse, receiver, locals, info))
            }
            Expr::NoneLiteral(_) => Ty::None,
            // `self.mask = self.x > 0`: a boolean tensor, on the host only when every tensor
            // compared is (as the traversal types comparisons); identity and membership tests
            // are left unknown here.
            Expr::Compare(compare) => {
                if compare.ops.iter().any(|op| matches!(op, CmpOp::Is | CmpOp::IsNot | CmpOp::In | CmpOp::NotIn)) {
                    return Ty::Unknown;
                }
                let operands = std::iter::once(&*compare.left).chain(compare.comparators.iter());
                types::compared_mask(operands.map(|operand| self.quick_ty(operand, receiver, locals, info)))
                    .unwrap_or(Ty::Unknown)
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
}

/// Which `self.x` attributes some assignment fills with host data, and which with a tensor not
/// proven to be in host memory.
struct Memory<'a> {
    host: FxHashSet<&'a str>,
    device: FxHashSet<&'a str>,
    /// Registered buffers and parameters.
    buffers: FxHashSet<&'a str>,
    /// Visiting a method's own body, not a block nested in it.
    top_level: bool,
}

impl Default for Memory<'_> {
    fn default() -> Self {
        Memory {
            host: FxHashSet::default(),
            device: FxHashSet::default(),
            buffers: FxHashSet::default(),
            top_level: true,
        }
    }
}

/// Whether an expression of unknown type may give a tensor (a literal, a comprehension or a
/// constant gives none).
fn may_be_tensor(value: &Expr) -> bool {
    matches!(
        value,
        Expr::Call(_)
            | Expr::Name(_)
            | Expr::Attribute(_)
            | Expr::Subscript(_)
            | Expr::BinOp(_)
            | Expr::UnaryOp(_)
            | Expr::If(_)
            | Expr::BoolOp(_)
            | Expr::Await(_)
    )
}

/// `x.cpu()`, `x.to("cpu")`.
fn copies_to_host(value: &Expr) -> bool {
    let Expr::Call(call) = value else { return false };
    let Expr::Attribute(attribute) = &*call.func else { return false };
    match attribute.attr.as_str() {
        "cpu" => true,
        "to" => moves_to_host(call),
        _ => false,
    }
}
