//! The traversal: items, blocks, statements and expressions in source order, with the
//! functions, regions and calls it records.

use super::*;

impl<'a> Checker<'a> {
    fn enter_fn(&mut self, func_item: &Func<'a>) {
        let name = func_item.name.to_string();
        let impl_ctx = self.impls.last();
        let self_ty = impl_ctx.and_then(|i| i.self_ty.clone());
        let owner = match (&self_ty, impl_ctx) {
            (Some(ty), _) => ty.last().map(str::to_string),
            (None, Some(ImplCtx { trait_name: Some(trait_name), .. })) => Some(trait_name.clone()),
            _ => None,
        };
        let qualname = match &owner {
            Some(owner) if self.frames.is_empty() => format!("{owner}::{name}"),
            _ => name.clone(),
        };
        let fn_row = self.row(func_item.fn_at);
        let mut rows = vec![fn_row, fn_row.saturating_sub(1)];
        if let Some(first) = func_item.attrs.first() {
            rows.push(self.row(first.start).saturating_sub(1));
        }
        let marker = rows.iter().find_map(|row| self.context.markers.get(row).copied());
        let test_only = self.test_depth > 0 || func_item.attrs.iter().any(|a| a.is_test);
        let func = self.summary.funcs.len() as FuncIdx;
        self.summary.funcs.push(FuncSummary {
            name,
            qualname,
            module: *self.modules.last().unwrap_or(&0),
            self_ty: if self.frames.is_empty() { self_ty } else { None },
            trait_name: if self.frames.is_empty() { impl_ctx.and_then(|i| i.trait_name.clone()) } else { None },
            row: fn_row,
            marker,
            ret: func_item.ret.clone(),
            test_only,
        });
        let bindings_base = self.bindings.len();
        self.frames.push(Frame { func, bindings_base });
        self.scope_changed();
        for (name, ty) in &func_item.inputs {
            if let Some(name) = name {
                self.bind(name, ty.clone().map_or(Sym::Unknown, Sym::Ty));
            }
        }
        // A nested `fn` does not see the outer function's regions.
        let saved_regions = std::mem::take(&mut self.regions);
        if let Some(body) = &func_item.body {
            self.visit_block(body);
        }
        self.frames.pop();
        self.bindings.truncate(bindings_base);
        self.scope_changed();
        self.regions = saved_regions;
    }

    fn push_region(&mut self, kind: RegionKind, offset: u32) {
        let Some(frame) = self.frames.last() else { return };
        let region = Region { kind, func: frame.func, parent: self.regions.last().copied(), row: self.row(offset) };
        self.summary.regions.push(region);
        self.regions.push((self.summary.regions.len() - 1) as RegionIdx);
    }

    fn in_loop(&mut self, offset: u32, body: impl FnOnce(&mut Self)) {
        let depth = self.regions.len();
        self.push_region(RegionKind::Loop, offset);
        body(self);
        // Closes the loop and any capture region left open inside it.
        self.regions.truncate(depth);
    }

    fn end_capture(&mut self) {
        // Each function starts with an empty region stack, so this never closes a caller's region.
        if let Some(at) =
            self.regions.iter().rposition(|&r| self.summary.regions[r as usize].kind == RegionKind::Capture)
        {
            self.regions.truncate(at);
        }
    }

    fn record_call(&mut self, callee: Callee) {
        let Some(frame) = self.frames.last() else { return };
        let func = frame.func;
        self.summary.calls.push(CallSite { func, region: self.regions.last().copied(), callee });
    }

    fn with_scope(&mut self, body: impl FnOnce(&mut Self)) {
        let start = self.bindings.len();
        body(self);
        self.bindings.truncate(start);
        self.scope_changed();
    }

    pub(super) fn visit_item(&mut self, item: &Item<'a>) {
        match item {
            Item::Fn(f) => {
                // A free function, even inside an impl's method: no self type.
                self.impls.push(ImplCtx { self_ty: None, trait_name: None });
                self.scope_changed();
                self.enter_fn(f);
                self.impls.pop();
                self.scope_changed();
            }
            Item::Impl { attrs, self_ty, trait_name, items } => {
                self.impls.push(ImplCtx { self_ty: self_ty.clone(), trait_name: trait_name.map(str::to_string) });
                self.scope_changed();
                let is_test = attrs.iter().any(|a| a.is_test);
                self.test_depth += is_test as u32;
                self.visit_assoc_items(items);
                self.test_depth -= is_test as u32;
                self.impls.pop();
                self.scope_changed();
            }
            Item::Trait { name, items } => {
                // Methods declared by the trait: no self type, the trait's name.
                self.impls.push(ImplCtx { self_ty: None, trait_name: Some(name.to_string()) });
                self.scope_changed();
                // Declared even without a default body: a `hot` marker here makes every impl's
                // method hot.
                self.visit_assoc_items(items);
                self.impls.pop();
                self.scope_changed();
            }
            Item::Struct { name, fields } => {
                let module = *self.modules.last().unwrap_or(&0);
                self.summary.types.push(TypeDef { module, name: name.to_string(), fields: fields.clone() });
            }
            Item::Enum { name } => {
                let module = *self.modules.last().unwrap_or(&0);
                self.summary.types.push(TypeDef { module, name: name.to_string(), fields: Vec::new() });
            }
            Item::Use(tree) => {
                let module = *self.modules.last().unwrap_or(&0);
                let mut prefix = Vec::new();
                collect_uses(tree, &mut prefix, module, &mut self.summary.uses);
            }
            Item::Mod { attrs, name, items } => {
                let is_test = attrs.iter().any(|a| a.is_test);
                let parent = *self.modules.last().unwrap_or(&0);
                self.summary.modules.push(ModuleDef { parent, name: name.to_string() });
                self.modules.push((self.summary.modules.len() - 1) as ModIdx);
                self.test_depth += is_test as u32;
                for item in items.iter().flatten() {
                    self.visit_item(item);
                }
                self.test_depth -= is_test as u32;
                self.modules.pop();
            }
            Item::Const(Some(expr)) => self.visit_expr(expr),
            Item::Macro(mac) => self.check_macro(mac),
            Item::Const(None) | Item::Other => {}
        }
    }

    /// An `impl`'s or a trait's items: methods keep the block's context.
    fn visit_assoc_items(&mut self, items: &[Item<'a>]) {
        for item in items {
            match item {
                Item::Fn(f) => self.enter_fn(f),
                other => self.visit_item(other),
            }
        }
    }

    fn visit_block(&mut self, block: &Block<'a>) {
        self.with_scope(|v| {
            for stmt in &block.stmts {
                v.visit_stmt(stmt);
            }
        });
    }

    fn visit_stmt(&mut self, stmt: &Stmt<'a>) {
        match stmt {
            Stmt::Local { pat, init, diverge } => {
                if let Some(init) = init {
                    self.visit_expr(init);
                    if let Some(diverge) = diverge {
                        self.visit_block(diverge);
                    }
                }
                // `let (a, b) = (x, y);` binds pairwise.
                if let (Pat::Tuple(pats), Some(Expr { kind: ExprKind::Tuple(values), .. })) = (pat, init) {
                    if pats.len() == values.len() {
                        for (pat, value) in pats.iter().zip(values) {
                            let sym = self.sym_of(value);
                            self.bind_pat(pat, sym);
                        }
                        return;
                    }
                }
                let sym = init.as_ref().map_or(Sym::Unknown, |init| self.sym_of(init));
                self.bind_pat(pat, sym);
            }
            Stmt::Item(item) => self.visit_item(item),
            Stmt::Expr { expr, .. } => self.visit_expr(expr),
            Stmt::Macro(mac) => self.check_macro(mac),
            Stmt::Empty => {}
        }
    }

    pub(super) fn visit_expr(&mut self, expr: &Expr<'a>) {
        match &expr.kind {
            ExprKind::Path(_) | ExprKind::Lit | ExprKind::Other => {}
            ExprKind::MethodCall { receiver, method, method_at, args, close_end } => {
                self.visit_expr(receiver);
                for arg in args {
                    self.visit_expr(arg);
                }
                let name = *method;
                let recv = self.sym_of(receiver);
                let receiver_ty = self.sym_ty(&recv);
                let call = MethodCall {
                    receiver,
                    args,
                    name,
                    recv: &recv,
                    receiver_ty,
                    method_start: method_at.0,
                    close_end: *close_end,
                };
                rules::on_method_call(self, &call);
                match name {
                    "begin_capture" => self.push_region(RegionKind::Capture, method_at.0),
                    "end_capture" => self.end_capture(),
                    // `xs.apply(&module)` is `module.forward(xs)`.
                    "apply" if args.len() == 1 => {
                        let module = self.sym_of(&args[0]);
                        if module != Sym::Unknown {
                            self.record_call(Callee::Method(module, "forward".into()));
                        }
                    }
                    _ => {}
                }
                if recv != Sym::Unknown && !matches!(receiver_ty, Ty::Tensor | Ty::TchTensor | Ty::HostVec) {
                    self.record_call(Callee::Method(recv, name.to_string()));
                }
            }
            ExprKind::Call { func, args, open_at, close_end } => {
                self.visit_expr(func);
                for arg in args {
                    self.visit_expr(arg);
                }
                let Some(segments) = func.call_path() else { return };
                let ExprKind::Path(path) = &func.kind else { return };
                let call = PathCall { args, segments: &segments, start: path.first_at, close_end: *close_end };
                rules::on_path_call(self, &call);
                match segments.last().map(String::as_str) {
                    Some("begin_capture") => {
                        let at = if path.segments.is_empty() { open_at.0 } else { path.last_at.0 };
                        self.push_region(RegionKind::Capture, at)
                    }
                    Some("end_capture") => self.end_capture(),
                    _ => {}
                }
                let external = matches!(
                    segments[0].as_str(),
                    "std" | "core" | "alloc" | "candle" | "candle_core" | "candle_nn" | "tch" | "cudarc"
                );
                if !external {
                    self.record_call(Callee::Path(segments));
                }
            }
            ExprKind::Field { base: inner, .. }
            | ExprKind::Reference(inner)
            | ExprKind::Paren(inner)
            | ExprKind::Try(inner)
            | ExprKind::Await(inner)
            | ExprKind::Deref(inner)
            | ExprKind::Unary(inner)
            | ExprKind::Cast(inner) => self.visit_expr(inner),
            ExprKind::Binary { left, right, .. } | ExprKind::Assign { left, right } => {
                self.visit_expr(left);
                self.visit_expr(right);
            }
            ExprKind::Index { expr, index } => {
                self.visit_expr(expr);
                self.visit_expr(index);
            }
            ExprKind::Range { start, end } => {
                for part in [start, end].into_iter().flatten() {
                    self.visit_expr(part);
                }
            }
            ExprKind::Jump(value) => {
                if let Some(value) = value {
                    self.visit_expr(value);
                }
            }
            ExprKind::Block(block) | ExprKind::OtherBlock(block) | ExprKind::Async(block) => self.visit_block(block),
            ExprKind::Struct { fields, rest, .. } => {
                for field in fields {
                    self.visit_expr(field);
                }
                if let Some(rest) = rest {
                    self.visit_expr(rest);
                }
            }
            ExprKind::Array(elems) | ExprKind::Tuple(elems) => {
                for elem in elems {
                    self.visit_expr(elem);
                }
            }
            ExprKind::Repeat { value, len } => {
                self.visit_expr(value);
                self.visit_expr(len);
            }
            ExprKind::Macro(mac) => self.check_macro(mac),
            ExprKind::Closure { inputs, body } => self.with_scope(|v| {
                for input in inputs {
                    v.bind_pat(input, Sym::Unknown);
                }
                v.visit_expr(body);
            }),
            ExprKind::ForLoop { for_at, pat, expr, body } => {
                self.visit_expr(expr);
                let (collection, items) = iterated(expr);
                let elem = Sym::Elem(Arc::new(self.sym_of(collection)));
                self.in_loop(*for_at, |v| {
                    v.with_scope(|v| {
                        match (pat, items) {
                            (Pat::Tuple(tuple), Items::Second) if tuple.len() == 2 => {
                                v.bind_pat(&tuple[0], Sym::Unknown);
                                v.bind_pat(&tuple[1], elem);
                            }
                            (Pat::Tuple(tuple), Items::First) if tuple.len() == 2 => {
                                v.bind_pat(&tuple[0], elem);
                                v.bind_pat(&tuple[1], Sym::Unknown);
                            }
                            (pat, Items::Element) => v.bind_pat(pat, elem),
                            (pat, _) => v.bind_pat(pat, Sym::Unknown),
                        }
                        v.visit_block(body);
                    });
                });
            }
            ExprKind::While { while_at, cond, body } => self.in_loop(*while_at, |v| {
                v.with_scope(|v| {
                    v.visit_expr(cond);
                    v.visit_block(body);
                })
            }),
            ExprKind::Loop { loop_at, body } => self.in_loop(*loop_at, |v| v.visit_block(body)),
            ExprKind::Match { expr, arms } => {
                self.visit_expr(expr);
                let scrutinee = self.sym_of(expr);
                for arm in arms {
                    self.with_scope(|v| {
                        v.bind_pat(&arm.pat, scrutinee.clone());
                        if let Some(guard) = &arm.guard {
                            v.visit_expr(guard);
                        }
                        v.visit_expr(&arm.body);
                    });
                }
            }
            ExprKind::If { cond, then, otherwise } => {
                self.visit_expr(cond);
                self.visit_block(then);
                if let Some(otherwise) = otherwise {
                    self.visit_expr(otherwise);
                }
            }
            ExprKind::Let { pat, expr } => {
                self.visit_expr(expr);
                let sym = self.sym_of(expr);
                self.bind_pat(pat, sym);
            }
        }
    }
}

/// How a `for` loop's items relate to the collection it walks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Items {
    /// `for x in &v`: each item is an element.
    Element,
    /// `for (i, x) in v.iter().enumerate()`: the second of a pair.
    Second,
    /// `for (x, y) in v.iter().zip(w)`: the first of a pair.
    First,
}

/// The collection a `for` loop walks (`&self.layers`, `self.layers.iter().enumerate()`), and
/// where its elements sit in each item.
fn iterated<'e, 's>(expr: &'e Expr<'s>) -> (&'e Expr<'s>, Items) {
    match &expr.kind {
        ExprKind::MethodCall { receiver, method: "enumerate", .. } => (iterated(receiver).0, Items::Second),
        ExprKind::MethodCall { receiver, method: "zip", .. } => (iterated(receiver).0, Items::First),
        ExprKind::MethodCall { receiver, method: "iter" | "iter_mut" | "into_iter", .. } => iterated(receiver),
        ExprKind::Reference(inner) | ExprKind::Paren(inner) => iterated(inner),
        _ => (expr, Items::Element),
    }
}

fn collect_uses(tree: &UseTree, prefix: &mut Vec<String>, module: ModIdx, out: &mut Vec<UseDef>) {
    match tree {
        UseTree::Path(name, rest) => {
            prefix.push(name.to_string());
            collect_uses(rest, prefix, module, out);
            prefix.pop();
        }
        UseTree::Name(name) => {
            if *name == "self" {
                if let Some(last) = prefix.last() {
                    out.push(UseDef { module, alias: last.clone(), path: prefix.clone() });
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.to_string());
                out.push(UseDef { module, alias: name.to_string(), path });
            }
        }
        UseTree::Rename(name, alias) => {
            let mut path = prefix.clone();
            path.push(name.to_string());
            out.push(UseDef { module, alias: alias.to_string(), path });
        }
        UseTree::Glob => out.push(UseDef { module, alias: "*".into(), path: prefix.clone() }),
        UseTree::Group(trees) => {
            for tree in trees {
                collect_uses(tree, prefix, module, out);
            }
        }
    }
}
