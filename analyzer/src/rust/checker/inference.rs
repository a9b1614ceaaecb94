//! What the checker knows about values: scopes, symbolic values ([`Sym`]) and the library
//! types ([`Ty`]) they reduce to.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn bind(&mut self, name: &'a str, sym: Sym) {
        if !self.frames.is_empty() {
            self.bindings.push((name, sym));
            self.scope_changed();
        }
    }

    /// Forgets the described values, which depend on the bindings and the `impl` in scope.
    pub(super) fn scope_changed(&mut self) {
        let memo = self.sym_memo.get_mut();
        if !memo.is_empty() {
            *memo = FxHashMap::default();
        }
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<&Sym> {
        let base = self.frames.last()?.bindings_base;
        self.bindings[base..].iter().rev().find(|(bound, _)| *bound == name).map(|(_, sym)| sym)
    }

    pub(super) fn bind_pat(&mut self, pat: &Pat<'a>, sym: Sym) {
        match pat {
            Pat::Ident { name, sub } => {
                self.bind(name, sym);
                if let Some(sub) = sub {
                    self.bind_pat(sub, Sym::Unknown);
                }
            }
            Pat::Type { pat, ty } => {
                let sym = ty.clone().map_or(sym, Sym::Ty);
                self.bind_pat(pat, sym);
            }
            Pat::Reference(inner) | Pat::Paren(inner) => self.bind_pat(inner, sym),
            // `Some(x)`, `Ok(x)`: the wrappers are already stripped from types.
            Pat::TupleStruct(elems) if elems.len() == 1 => self.bind_pat(&elems[0], sym),
            other => {
                // Shadow every name the pattern binds, so a stale type is never used.
                let mut names = Vec::new();
                pat_idents(other, &mut names);
                for name in names {
                    self.bind(name, Sym::Unknown);
                }
            }
        }
    }

    fn impl_self(&self) -> Option<&TyRef> {
        self.impls.last().and_then(|i| i.self_ty.as_ref())
    }

    /// A value as the project pass will see it.
    pub(crate) fn sym_of(&self, expr: &Expr) -> Sym {
        if !matches!(expr.kind, ExprKind::MethodCall { .. } | ExprKind::Field { .. }) {
            return self.sym_of_uncached(expr);
        }
        let key = (expr.start, expr.end);
        if let Some(sym) = self.sym_memo.borrow().get(&key) {
            return sym.clone();
        }
        let sym = self.sym_of_uncached(expr);
        self.sym_memo.borrow_mut().insert(key, sym.clone());
        sym
    }

    fn sym_of_uncached(&self, expr: &Expr) -> Sym {
        match &expr.kind {
            ExprKind::Path(p) if p.qself.is_none() => {
                let segments = &p.segments;
                if segments.len() == 1 {
                    let name = segments[0];
                    if name == "self" {
                        return Sym::SelfValue;
                    }
                    return self.lookup(name).cloned().unwrap_or(Sym::Unknown);
                }
                let n = segments.len();
                if segments[n - 1] == "Cpu" && segments[n - 2] == "Device" {
                    return Sym::Ty(TyRef::path(&["Device", "Cpu"]));
                }
                Sym::Unknown
            }
            ExprKind::Field { base, member } => Sym::Field(Arc::new(self.sym_of(base)), member.to_string()),
            ExprKind::Reference(inner)
            | ExprKind::Paren(inner)
            | ExprKind::Try(inner)
            | ExprKind::Await(inner)
            | ExprKind::Deref(inner) => self.sym_of(inner),
            ExprKind::MethodCall { receiver, method, .. } => match *method {
                "clone" | "as_ref" | "as_mut" | "unwrap" | "expect" | "borrow" | "borrow_mut" | "lock" | "read"
                | "write" | "to_owned" | "deref" | "context" | "with_context" | "iter" | "iter_mut" | "into_iter" => {
                    self.sym_of(receiver)
                }
                "get" | "get_mut" | "first" | "last" | "first_mut" | "last_mut" => {
                    Sym::Elem(Arc::new(self.sym_of(receiver)))
                }
                _ => Sym::Ret(Arc::new(Callee::Method(self.sym_of(receiver), method.to_string()))),
            },
            ExprKind::Call { func, .. } => match func.call_path() {
                Some(segments) => Sym::Ret(Arc::new(Callee::Path(segments))),
                None => Sym::Unknown,
            },
            ExprKind::Index { expr, .. } => Sym::Elem(Arc::new(self.sym_of(expr))),
            ExprKind::Block(block) => self.tail_sym(block),
            ExprKind::Struct { ty, .. } => ty.clone().map_or(Sym::Unknown, Sym::Ty),
            ExprKind::Array(_) | ExprKind::Repeat { .. } => Sym::Ty(TyRef::Elem(Box::new(TyRef::path(&["_"])))),
            ExprKind::Macro(m) if m.is_vec => Sym::Ty(TyRef::Elem(Box::new(TyRef::path(&["_"])))),
            ExprKind::Binary { left, right, .. } => {
                let left = self.sym_of(left);
                if matches!(self.sym_ty(&left), Ty::Tensor | Ty::TchTensor) {
                    return left;
                }
                let right = self.sym_of(right);
                if matches!(self.sym_ty(&right), Ty::Tensor | Ty::TchTensor) {
                    right
                } else {
                    Sym::Unknown
                }
            }
            _ => Sym::Unknown,
        }
    }

    /// The value of a block: its tail expression.
    fn tail_sym(&self, block: &Block) -> Sym {
        match block.stmts.last() {
            Some(Stmt::Expr { expr, semi: false }) => self.sym_of(expr),
            _ => Sym::Unknown,
        }
    }

    /// The type of a symbolic value, as far as this file alone tells (borrowed where it can be:
    /// this runs for every call's receiver).
    pub(crate) fn local_ty<'t>(&'t self, sym: &'t Sym) -> Option<Cow<'t, TyRef>> {
        match sym {
            Sym::Ty(ty) if ty.last() == Some("Self") => self.impl_self().map(Cow::Borrowed),
            Sym::Ty(ty) => Some(Cow::Borrowed(ty)),
            Sym::SelfValue => self.impl_self().map(Cow::Borrowed),
            Sym::Field(base, field) => {
                let base = self.local_ty(base)?;
                let fields = self.local_structs.get(base.last()?)?;
                let ty = &fields.iter().find(|(name, _)| name == field)?.1;
                if ty.last() == Some("Self") {
                    return Some(base);
                }
                Some(Cow::Borrowed(ty))
            }
            Sym::Elem(inner) => match self.local_ty(inner)? {
                Cow::Borrowed(TyRef::Elem(elem)) => Some(Cow::Borrowed(elem)),
                Cow::Owned(TyRef::Elem(elem)) => Some(Cow::Owned(*elem)),
                _ => None,
            },
            Sym::Ret(callee) => self.ret_ty(callee),
            Sym::Unknown => None,
        }
    }

    fn ret_ty<'t>(&'t self, callee: &'t Callee) -> Option<Cow<'t, TyRef>> {
        static TENSOR: LazyLock<TyRef> = LazyLock::new(|| TyRef::path(&["Tensor"]));
        let tensor = || Some(Cow::Borrowed(&*TENSOR));
        let owned = |ty: TyRef| Some(Cow::Owned(ty));
        match callee {
            Callee::Method(recv, method) => {
                let method = method.as_str();
                // Computed once: a builder chain `a.b().c()...` nests receivers, and evaluating
                // each twice would take exponential time.
                let recv_ty = self.local_ty(recv);
                match (Ty::of(recv_ty.as_deref(), self.tch), method) {
                    (Ty::Tensor, "chunk") => owned(TyRef::Elem(Box::new(TyRef::path(&["Tensor"])))),
                    (Ty::Tensor, "device") => owned(TyRef::path(&["Device"])),
                    (Ty::Tensor | Ty::TchTensor, m) if tensor_method_returns_tensor(m) => tensor(),
                    (
                        Ty::CudaStream | Ty::CudaDevice,
                        "alloc" | "alloc_zeros" | "clone_htod" | "memcpy_stod" | "htod_copy" | "htod_sync_copy",
                    ) => owned(TyRef::path(&["CudaSlice"])),
                    (_, "alloc_pinned" | "alloc_pinned_with_flags") => owned(TyRef::path(&["PinnedHostSlice"])),
                    (Ty::CudaStream | Ty::CudaDevice, "clone_dtoh" | "memcpy_dtov" | "dtoh_sync_copy") => {
                        owned(TyRef::Elem(Box::new(TyRef::path(&["_"]))))
                    }
                    (Ty::CudaContext, "default_stream" | "new_stream") => owned(TyRef::path(&["CudaStream"])),
                    (Ty::CudaStream, "fork") => owned(TyRef::path(&["CudaStream"])),
                    (Ty::CudaStream | Ty::CudaContext, "record_event" | "new_event") => {
                        owned(TyRef::path(&["CudaEvent"]))
                    }
                    (Ty::Device, "as_cuda_device") => owned(TyRef::path(&["CudaDevice"])),
                    (Ty::CudaDevice, "cuda_stream") => owned(TyRef::path(&["CudaStream"])),
                    (Ty::Other, "forward" | "forward_t")
                        if recv_ty
                            .as_deref()
                            .and_then(|ty| self.candle_nn_item(ty))
                            .is_some_and(is_candle_nn_layer) =>
                    {
                        tensor()
                    }
                    _ => self.local_return(recv_ty?.last()?, method),
                }
            }
            Callee::Path(segments) => {
                let n = segments.len();
                let last = segments[n - 1].as_str();
                // candle-nn's builders, at its root (`candle_nn::ops::rms_norm` is a tensor op).
                let builder = self.candle_nn_path(segments).filter(|(len, _)| *len == 2);
                if let Some(layer) = builder.and_then(|(_, name)| candle_nn_layer_built_by(name)) {
                    return owned(TyRef::path(&["candle_nn", layer]));
                }
                if n == 1 {
                    return self.local_return("", last);
                }
                // candle_nn's functional ops (`candle_nn::ops::softmax_last_dim`, `sampling::…`).
                let candle_fn = matches!(segments[0].as_str(), "candle_nn" | "candle" | "candle_core");
                if candle_fn && matches!(segments[n - 2].as_str(), "ops" | "sampling" | "rotary_emb") {
                    return tensor();
                }
                let owner = segments[n - 2].as_str();
                let owner = if owner == "Self" { self.impl_self()?.last()?.to_string() } else { owner.to_string() };
                match (owner.as_str(), last) {
                    ("Tensor", _) => tensor(),
                    ("Device", "new_cuda" | "new_cuda_with_stream" | "cuda_if_available") => {
                        owned(TyRef::path(&["Device"]))
                    }
                    ("CudaContext", "new") => owned(TyRef::path(&["CudaContext"])),
                    ("Vec", _) => owned(TyRef::Elem(Box::new(TyRef::path(&["_"])))),
                    _ => self.local_return(&owner, last).or_else(|| {
                        // Constructor convention: `Type::new(..)` and friends return the type.
                        let is_constructor =
                            last.starts_with("new") || last.starts_with("load") || last.starts_with("from");
                        (is_constructor && owner.starts_with(char::is_uppercase))
                            .then(|| Cow::Owned(TyRef::Path(vec![owner])))
                    }),
                }
            }
        }
    }

    /// The name of the candle-nn item `ty` is, if it is one: `candle_nn::Linear`, `nn::Linear`
    /// after `use candle_nn as nn`, or `Linear` after `use candle_nn::Linear`.
    fn candle_nn_item<'t>(&self, ty: &'t TyRef) -> Option<&'t str> {
        match ty {
            TyRef::Path(segments) => self.candle_nn_path(segments).map(|(_, name)| name),
            TyRef::Elem(_) => None,
        }
    }

    /// For a path into candle-nn (directly or through a `use`): the length of its full path
    /// from `candle_nn`, and its last segment.
    fn candle_nn_path<'t>(&self, segments: &'t [String]) -> Option<(usize, &'t str)> {
        let first = segments.first()?;
        let last = segments.last()?.as_str();
        if first == "candle_nn" {
            return Some((segments.len(), last));
        }
        let used = self.summary.uses.iter().find(|u| u.alias == *first)?;
        (used.path.first()? == "candle_nn").then_some((used.path.len() + segments.len() - 1, last))
    }

    fn local_return(&self, owner: &str, name: &str) -> Option<Cow<'_, TyRef>> {
        self.local_returns.get(owner)?.get(name).map(Cow::Borrowed)
    }

    pub(crate) fn sym_ty(&self, sym: &Sym) -> Ty {
        Ty::of(self.local_ty(sym).as_deref(), self.tch)
    }

    pub(crate) fn expr_ty(&self, expr: &Expr) -> Ty {
        self.sym_ty(&self.sym_of(expr))
    }
}

fn pat_idents<'s>(pat: &Pat<'s>, names: &mut Vec<&'s str>) {
    match pat {
        Pat::Ident { name, .. } => names.push(name),
        Pat::Tuple(elems) | Pat::TupleStruct(elems) | Pat::Struct(elems) | Pat::Slice(elems) | Pat::Or(elems) => {
            elems.iter().for_each(|p| pat_idents(p, names))
        }
        Pat::Reference(inner) | Pat::Paren(inner) => pat_idents(inner, names),
        Pat::Type { pat, .. } => pat_idents(pat, names),
        Pat::Other => {}
    }
}
