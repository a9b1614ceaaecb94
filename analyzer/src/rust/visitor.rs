//! The per-file pass: ONE `syn::visit` traversal that tracks the few types the rules need, hands
//! every call and macro to the rules, and fills the file's [`FileSummary`] for the crate pass.

use std::ops::Range;

use proc_macro2::{Span, TokenStream, TokenTree};
use rustc_hash::FxHashMap;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ExprCall, ExprMethodCall, Pat};

use super::rules::{self, MethodCall, PathCall};
use super::summary::*;
use super::types::{path_ty, tensor_method_returns_tensor, ty_ref, Kind};
use crate::frontend::{Candidate, FileContext};
use crate::registry::Rule;

struct Frame {
    func: FuncIdx,
    scopes: Vec<FxHashMap<String, Sym>>,
}

struct ImplCtx {
    self_ty: Option<TyRef>,
    trait_name: Option<String>,
}

/// Macros whose arguments only run when something already failed: formatting there is free.
const ERROR_PATH_MACROS: &[&str] = &[
    "panic",
    "bail",
    "anyhow",
    "ensure",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "unreachable",
    "todo",
    "unimplemented",
    "format_err",
];

pub(crate) struct FileVisitor<'a> {
    context: FileContext<'a>,
    /// The file imports tch: `Tensor` is tch's, not candle's.
    pub tch: bool,
    /// The file imports cudarc.
    pub cudarc: bool,
    local_structs: FxHashMap<String, Vec<(String, TyRef)>>,
    /// Return types of this file's functions: `name` for free functions, `Type::name` for methods.
    local_returns: FxHashMap<String, TyRef>,
    modules: Vec<ModIdx>,
    impls: Vec<ImplCtx>,
    frames: Vec<Frame>,
    regions: Vec<RegionIdx>,
    test_depth: u32,
    error_path: u32,
    pub summary: FileSummary,
    pub candidates: Vec<Candidate>,
}

impl<'a> FileVisitor<'a> {
    pub fn new(context: FileContext<'a>, module: Vec<String>) -> Self {
        let summary = FileSummary { modules: vec![module], ..FileSummary::default() };
        FileVisitor {
            context,
            tch: false,
            cudarc: false,
            local_structs: FxHashMap::default(),
            local_returns: FxHashMap::default(),
            modules: vec![0],
            impls: Vec::new(),
            frames: Vec::new(),
            regions: Vec::new(),
            test_depth: 0,
            error_path: 0,
            summary,
            candidates: Vec::new(),
        }
    }

    pub fn check_file(&mut self, file: &syn::File) {
        self.prescan(&file.items);
        self.visit_file(file);
    }

    /// Struct fields, return types and imported crates, before the traversal (items only).
    fn prescan(&mut self, items: &[syn::Item]) {
        for item in items {
            match item {
                syn::Item::Struct(s) => {
                    let fields = struct_fields(&s.fields);
                    self.local_structs.insert(s.ident.to_string(), fields);
                }
                syn::Item::Fn(f) => {
                    if let Some(ret) = return_ty(&f.sig) {
                        self.local_returns.insert(f.sig.ident.to_string(), ret);
                    }
                }
                syn::Item::Impl(i) => {
                    let Some(self_name) = ty_ref(&i.self_ty).and_then(|t| t.last().map(str::to_string)) else {
                        continue;
                    };
                    for item in &i.items {
                        if let syn::ImplItem::Fn(f) = item {
                            if let Some(ret) = return_ty(&f.sig) {
                                let ret =
                                    if ret.last() == Some("Self") { TyRef::Path(vec![self_name.clone()]) } else { ret };
                                self.local_returns.insert(format!("{self_name}::{}", f.sig.ident), ret);
                            }
                        }
                    }
                }
                syn::Item::Use(u) => {
                    let root = use_root(&u.tree);
                    self.tch |= root == Some("tch");
                    self.cudarc |= root == Some("cudarc");
                }
                syn::Item::Mod(m) => {
                    if let Some((_, items)) = &m.content {
                        self.prescan(items);
                    }
                }
                _ => {}
            }
        }
    }

    // ----- reporting -------------------------------------------------------------------------

    pub(crate) fn report(&mut self, rule: &'static Rule, range: Range<usize>, message: String, help: &str) {
        let Some(frame) = self.frames.last() else { return };
        let func = frame.func;
        let Some(diagnostic) = self.context.finding(rule, range, message, help) else { return };
        self.candidates.push(Candidate { diagnostic, func, region: self.regions.last().copied() });
    }

    /// The byte range from the start of `first` to the end of `last`.
    pub(crate) fn span_range(&self, first: Span, last: Span) -> Range<usize> {
        let start = first.byte_range().start;
        start..last.byte_range().end.max(start)
    }

    /// The first line of the source text in `range`, for messages.
    pub(crate) fn text(&self, range: Range<usize>) -> &'a str {
        let text = self.context.source.get(range).unwrap_or("");
        text.split('\n').next().unwrap_or(text).trim_end()
    }

    pub(crate) fn expr_text(&self, expr: &Expr) -> &'a str {
        self.text(expr_range(expr))
    }

    fn row(&self, span: Span) -> u32 {
        self.context.lines.row(span.byte_range().start)
    }

    // ----- scopes and symbolic values -------------------------------------------------------

    fn bind(&mut self, name: String, sym: Sym) {
        if let Some(scope) = self.frames.last_mut().and_then(|f| f.scopes.last_mut()) {
            scope.insert(name, sym);
        }
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<&Sym> {
        self.frames.last()?.scopes.iter().rev().find_map(|scope| scope.get(name))
    }

    fn bind_pat(&mut self, pat: &Pat, sym: Sym) {
        match pat {
            Pat::Ident(p) => {
                self.bind(p.ident.to_string(), sym);
                if let Some((_, sub)) = &p.subpat {
                    self.bind_pat(sub, Sym::Unknown);
                }
            }
            Pat::Type(p) => {
                let sym = ty_ref(&p.ty).map_or(sym, Sym::Ty);
                self.bind_pat(&p.pat, sym);
            }
            Pat::Reference(p) => self.bind_pat(&p.pat, sym),
            Pat::Paren(p) => self.bind_pat(&p.pat, sym),
            // `Some(x)`, `Ok(x)`: the wrappers are already stripped from types.
            Pat::TupleStruct(p) if p.elems.len() == 1 => self.bind_pat(&p.elems[0], sym),
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

    /// A value as the crate pass will see it.
    pub(crate) fn sym_of(&self, expr: &Expr) -> Sym {
        match expr {
            Expr::Path(p) if p.qself.is_none() => {
                let segments = &p.path.segments;
                if segments.len() == 1 {
                    let name = segments[0].ident.to_string();
                    if name == "self" {
                        return Sym::SelfValue;
                    }
                    return self.lookup(&name).cloned().unwrap_or(Sym::Unknown);
                }
                let n = segments.len();
                if segments[n - 1].ident == "Cpu" && segments[n - 2].ident == "Device" {
                    return Sym::Ty(TyRef::path(&["Device", "Cpu"]));
                }
                Sym::Unknown
            }
            Expr::Field(f) => {
                let member = match &f.member {
                    syn::Member::Named(ident) => ident.to_string(),
                    syn::Member::Unnamed(index) => index.index.to_string(),
                };
                Sym::Field(Box::new(self.sym_of(&f.base)), member)
            }
            Expr::Reference(r) => self.sym_of(&r.expr),
            Expr::Paren(p) => self.sym_of(&p.expr),
            Expr::Group(g) => self.sym_of(&g.expr),
            Expr::Try(t) => self.sym_of(&t.expr),
            Expr::Await(a) => self.sym_of(&a.base),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.sym_of(&u.expr),
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                match name.as_str() {
                    "clone" | "as_ref" | "as_mut" | "unwrap" | "expect" | "borrow" | "borrow_mut" | "lock" | "read"
                    | "write" | "to_owned" | "deref" | "context" | "with_context" | "iter" | "iter_mut"
                    | "into_iter" => self.sym_of(&m.receiver),
                    "get" | "get_mut" | "first" | "last" | "first_mut" | "last_mut" => {
                        Sym::Elem(Box::new(self.sym_of(&m.receiver)))
                    }
                    _ => Sym::Ret(Box::new(Callee::Method(self.sym_of(&m.receiver), name))),
                }
            }
            Expr::Call(c) => match call_path(c) {
                Some(segments) => Sym::Ret(Box::new(Callee::Path(segments))),
                None => Sym::Unknown,
            },
            Expr::Index(i) => Sym::Elem(Box::new(self.sym_of(&i.expr))),
            Expr::Unsafe(u) => self.tail_sym(&u.block),
            Expr::Block(b) => self.tail_sym(&b.block),
            Expr::Struct(s) => path_ty(&s.path).map_or(Sym::Unknown, Sym::Ty),
            Expr::Array(_) | Expr::Repeat(_) => Sym::Ty(TyRef::Elem(Box::new(TyRef::path(&["_"])))),
            Expr::Macro(m) if m.mac.path.is_ident("vec") => Sym::Ty(TyRef::Elem(Box::new(TyRef::path(&["_"])))),
            Expr::Binary(b) => {
                let left = self.sym_of(&b.left);
                if matches!(self.kind(&left), Kind::Tensor | Kind::TchTensor) {
                    return left;
                }
                let right = self.sym_of(&b.right);
                if matches!(self.kind(&right), Kind::Tensor | Kind::TchTensor) {
                    right
                } else {
                    Sym::Unknown
                }
            }
            _ => Sym::Unknown,
        }
    }

    /// The value of a block: its tail expression.
    fn tail_sym(&self, block: &syn::Block) -> Sym {
        match block.stmts.last() {
            Some(syn::Stmt::Expr(expr, None)) => self.sym_of(expr),
            _ => Sym::Unknown,
        }
    }

    /// The type of a symbolic value, as far as this file alone tells.
    pub(crate) fn local_ty(&self, sym: &Sym) -> Option<TyRef> {
        match sym {
            Sym::Ty(ty) if ty.last() == Some("Self") => self.impl_self().cloned(),
            Sym::Ty(ty) => Some(ty.clone()),
            Sym::SelfValue => self.impl_self().cloned(),
            Sym::Field(base, field) => {
                let base = self.local_ty(base)?;
                let fields = self.local_structs.get(base.last()?)?;
                let ty = fields.iter().find(|(name, _)| name == field)?.1.clone();
                if ty.last() == Some("Self") {
                    return Some(base);
                }
                Some(ty)
            }
            Sym::Elem(inner) => match self.local_ty(inner)? {
                TyRef::Elem(elem) => Some(*elem),
                TyRef::Path(_) => None,
            },
            Sym::Ret(callee) => self.ret_ty(callee),
            Sym::Unknown => None,
        }
    }

    fn ret_ty(&self, callee: &Callee) -> Option<TyRef> {
        let tensor = || Some(TyRef::path(&["Tensor"]));
        match callee {
            Callee::Method(recv, method) => {
                let method = method.as_str();
                // Computed once: a builder chain `a.b().c()...` nests receivers, and evaluating
                // each twice would take exponential time.
                let recv_ty = self.local_ty(recv);
                match (Kind::of(recv_ty.as_ref(), self.tch), method) {
                    (Kind::Tensor, "chunk") => Some(TyRef::Elem(Box::new(TyRef::path(&["Tensor"])))),
                    (Kind::Tensor, "device") => Some(TyRef::path(&["Device"])),
                    (Kind::Tensor | Kind::TchTensor, m) if tensor_method_returns_tensor(m) => tensor(),
                    (
                        Kind::CudaStream | Kind::CudaDevice,
                        "alloc" | "alloc_zeros" | "clone_htod" | "memcpy_stod" | "htod_copy" | "htod_sync_copy",
                    ) => Some(TyRef::path(&["CudaSlice"])),
                    (_, "alloc_pinned" | "alloc_pinned_with_flags") => Some(TyRef::path(&["PinnedHostSlice"])),
                    (Kind::CudaStream | Kind::CudaDevice, "clone_dtoh" | "memcpy_dtov" | "dtoh_sync_copy") => {
                        Some(TyRef::Elem(Box::new(TyRef::path(&["_"]))))
                    }
                    (Kind::CudaContext, "default_stream" | "new_stream") => Some(TyRef::path(&["CudaStream"])),
                    (Kind::CudaStream, "fork") => Some(TyRef::path(&["CudaStream"])),
                    (Kind::CudaStream | Kind::CudaContext, "record_event" | "new_event") => {
                        Some(TyRef::path(&["CudaEvent"]))
                    }
                    (Kind::Device, "as_cuda_device") => Some(TyRef::path(&["CudaDevice"])),
                    (Kind::CudaDevice, "cuda_stream") => Some(TyRef::path(&["CudaStream"])),
                    _ => self.local_returns.get(&format!("{}::{method}", recv_ty?.last()?)).cloned(),
                }
            }
            Callee::Path(segments) => {
                let n = segments.len();
                let last = segments[n - 1].as_str();
                if n == 1 {
                    return self.local_returns.get(last).cloned();
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
                        Some(TyRef::path(&["Device"]))
                    }
                    ("CudaContext", "new") => Some(TyRef::path(&["CudaContext"])),
                    ("Vec", _) => Some(TyRef::Elem(Box::new(TyRef::path(&["_"])))),
                    _ => self.local_returns.get(&format!("{owner}::{last}")).cloned().or_else(|| {
                        // Constructor convention: `Type::new(..)` and friends return the type.
                        let is_constructor =
                            last.starts_with("new") || last.starts_with("load") || last.starts_with("from");
                        (is_constructor && owner.starts_with(char::is_uppercase)).then(|| TyRef::Path(vec![owner]))
                    }),
                }
            }
        }
    }

    pub(crate) fn kind(&self, sym: &Sym) -> Kind {
        Kind::of(self.local_ty(sym).as_ref(), self.tch)
    }

    pub(crate) fn expr_kind(&self, expr: &Expr) -> Kind {
        self.kind(&self.sym_of(expr))
    }

    // ----- functions, regions and calls ------------------------------------------------------

    fn enter_fn(&mut self, sig: &syn::Signature, attrs: &[Attribute], body: impl FnOnce(&mut Self)) {
        let name = sig.ident.to_string();
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
        let fn_row = self.row(sig.fn_token.span);
        let mut rows = vec![fn_row, fn_row.saturating_sub(1)];
        if let Some(first) = attrs.first() {
            rows.push(self.row(first.pound_token.span).saturating_sub(1));
        }
        let marker = rows.iter().find_map(|row| self.context.markers.get(row).copied());
        let test_only = self.test_depth > 0 || attrs.iter().any(is_test_attr);
        let func = self.summary.funcs.len() as FuncIdx;
        self.summary.funcs.push(FuncDef {
            name,
            qualname,
            module: *self.modules.last().unwrap_or(&0),
            self_ty: if self.frames.is_empty() { self_ty } else { None },
            trait_name: if self.frames.is_empty() { impl_ctx.and_then(|i| i.trait_name.clone()) } else { None },
            row: fn_row,
            marker,
            ret: return_ty(sig),
            test_only,
        });
        let mut scope = FxHashMap::default();
        for input in &sig.inputs {
            match input {
                syn::FnArg::Receiver(_) => {}
                syn::FnArg::Typed(typed) => {
                    if let Pat::Ident(p) = &*typed.pat {
                        let sym = ty_ref(&typed.ty).map_or(Sym::Unknown, Sym::Ty);
                        scope.insert(p.ident.to_string(), sym);
                    }
                }
            }
        }
        // A nested `fn` does not see the outer function's regions.
        let saved_regions = std::mem::take(&mut self.regions);
        self.frames.push(Frame { func, scopes: vec![scope] });
        body(self);
        self.frames.pop();
        self.regions = saved_regions;
    }

    fn push_region(&mut self, kind: RegionKind, span: Span) {
        let Some(frame) = self.frames.last() else { return };
        let region = Region { kind, func: frame.func, parent: self.regions.last().copied(), row: self.row(span) };
        self.summary.regions.push(region);
        self.regions.push((self.summary.regions.len() - 1) as RegionIdx);
    }

    fn in_loop(&mut self, span: Span, body: impl FnOnce(&mut Self)) {
        let depth = self.regions.len();
        self.push_region(RegionKind::Loop, span);
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
        if let Some(frame) = self.frames.last_mut() {
            frame.scopes.push(FxHashMap::default());
        }
        body(self);
        if let Some(frame) = self.frames.last_mut() {
            frame.scopes.pop();
        }
    }

    // ----- macros ----------------------------------------------------------------------------

    fn check_macro(&mut self, mac: &syn::Macro) {
        let Some(last) = mac.path.segments.last() else { return };
        let name = last.ident.to_string();
        let chunks = split_args(mac.tokens.clone());
        let error_path = ERROR_PATH_MACROS.contains(&name.as_str());
        if error_path {
            self.error_path += 1;
        }
        let mut args = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            args.push(MacroArg::parse(chunk));
        }
        if rules::is_format_macro(&name) && !error_path {
            rules::on_format_macro(self, &name, &args);
        }
        for arg in &args {
            if let Some(expr) = &arg.expr {
                self.visit_expr(expr);
            }
        }
        if error_path {
            self.error_path -= 1;
        }
    }
}

/// One comma-separated argument of a macro: `expr`, `name = expr`, or tracing's `?expr`/`%expr`.
pub(crate) struct MacroArg {
    pub name: Option<String>,
    /// `Some('?')` for Debug, `Some('%')` for Display (tracing's field sigils).
    pub sigil: Option<char>,
    pub expr: Option<Expr>,
    pub literal: Option<syn::LitStr>,
}

impl MacroArg {
    fn parse(tokens: Vec<TokenTree>) -> MacroArg {
        let mut rest: &[TokenTree] = &tokens;
        let mut name = None;
        if let [TokenTree::Ident(ident), TokenTree::Punct(eq), tail @ ..] = rest {
            if eq.as_char() == '=' && eq.spacing() == proc_macro2::Spacing::Alone {
                name = Some(ident.to_string());
                rest = tail;
            }
        }
        let mut sigil = None;
        if let [TokenTree::Punct(p), tail @ ..] = rest {
            if matches!(p.as_char(), '?' | '%') {
                sigil = Some(p.as_char());
                rest = tail;
            }
        }
        let stream: TokenStream = rest.iter().cloned().collect();
        if let [TokenTree::Literal(_)] = rest {
            if let Ok(literal) = syn::parse2::<syn::LitStr>(stream.clone()) {
                return MacroArg { name, sigil, expr: None, literal: Some(literal) };
            }
        }
        let expr = syn::parse2::<Expr>(stream).ok();
        MacroArg { name, sigil, expr, literal: None }
    }
}

/// Splits a macro's tokens at top-level `,` and `;`.
fn split_args(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    for tree in tokens {
        match &tree {
            TokenTree::Punct(p) if matches!(p.as_char(), ',' | ';') => {
                if !current.is_empty() {
                    chunks.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(tree),
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        let is_test = node.attrs.iter().any(is_test_attr);
        let parent = self.summary.modules[*self.modules.last().unwrap_or(&0) as usize].clone();
        let mut path = parent;
        path.push(node.ident.to_string());
        self.summary.modules.push(path);
        self.modules.push((self.summary.modules.len() - 1) as ModIdx);
        self.test_depth += is_test as u32;
        visit::visit_item_mod(self, node);
        self.test_depth -= is_test as u32;
        self.modules.pop();
    }

    fn visit_item_struct(&mut self, node: &'ast syn::ItemStruct) {
        let module = *self.modules.last().unwrap_or(&0);
        self.summary.types.push(TypeDef { module, name: node.ident.to_string(), fields: struct_fields(&node.fields) });
    }

    fn visit_item_enum(&mut self, node: &'ast syn::ItemEnum) {
        let module = *self.modules.last().unwrap_or(&0);
        self.summary.types.push(TypeDef { module, name: node.ident.to_string(), fields: Vec::new() });
    }

    fn visit_item_use(&mut self, node: &'ast syn::ItemUse) {
        let module = *self.modules.last().unwrap_or(&0);
        let mut prefix = Vec::new();
        collect_uses(&node.tree, &mut prefix, module, &mut self.summary.uses);
    }

    fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
        let trait_name =
            node.trait_.as_ref().and_then(|(_, path, _)| path.segments.last()).map(|s| s.ident.to_string());
        self.impls.push(ImplCtx { self_ty: ty_ref(&node.self_ty), trait_name });
        let is_test = node.attrs.iter().any(is_test_attr);
        self.test_depth += is_test as u32;
        visit::visit_item_impl(self, node);
        self.test_depth -= is_test as u32;
        self.impls.pop();
    }

    fn visit_item_trait(&mut self, node: &'ast syn::ItemTrait) {
        // Methods declared by the trait: no self type, the trait's name.
        self.impls.push(ImplCtx { self_ty: None, trait_name: Some(node.ident.to_string()) });
        visit::visit_item_trait(self, node);
        self.impls.pop();
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        // A free function, even inside an impl's method: no self type.
        self.impls.push(ImplCtx { self_ty: None, trait_name: None });
        self.enter_fn(&node.sig, &node.attrs, |v| v.visit_block(&node.block));
        self.impls.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        self.enter_fn(&node.sig, &node.attrs, |v| v.visit_block(&node.block));
    }

    fn visit_trait_item_fn(&mut self, node: &'ast syn::TraitItemFn) {
        // Declared even without a default body: a `hot` marker here makes every impl's method hot.
        self.enter_fn(&node.sig, &node.attrs, |v| {
            if let Some(block) = &node.default {
                v.visit_block(block);
            }
        });
    }

    fn visit_block(&mut self, node: &'ast syn::Block) {
        self.with_scope(|v| visit::visit_block(v, node));
    }

    fn visit_local(&mut self, node: &'ast syn::Local) {
        if let Some(init) = &node.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        // `let (a, b) = (x, y);` binds pairwise.
        if let (Pat::Tuple(pats), Some(Expr::Tuple(values))) = (&node.pat, node.init.as_ref().map(|i| &*i.expr)) {
            if pats.elems.len() == values.elems.len() {
                for (pat, value) in pats.elems.iter().zip(&values.elems) {
                    let sym = self.sym_of(value);
                    self.bind_pat(pat, sym);
                }
                return;
            }
        }
        let sym = node.init.as_ref().map_or(Sym::Unknown, |init| self.sym_of(&init.expr));
        self.bind_pat(&node.pat, sym);
    }

    fn visit_expr_closure(&mut self, node: &'ast syn::ExprClosure) {
        self.with_scope(|v| {
            for input in &node.inputs {
                v.bind_pat(input, Sym::Unknown);
            }
            v.visit_expr(&node.body);
        });
    }

    fn visit_expr_for_loop(&mut self, node: &'ast syn::ExprForLoop) {
        self.visit_expr(&node.expr);
        let (collection, items) = iterated(&node.expr);
        let elem = Sym::Elem(Box::new(self.sym_of(collection)));
        self.in_loop(node.for_token.span, |v| {
            v.with_scope(|v| {
                match (&*node.pat, items) {
                    (Pat::Tuple(tuple), Items::Second) if tuple.elems.len() == 2 => {
                        v.bind_pat(&tuple.elems[0], Sym::Unknown);
                        v.bind_pat(&tuple.elems[1], elem);
                    }
                    (Pat::Tuple(tuple), Items::First) if tuple.elems.len() == 2 => {
                        v.bind_pat(&tuple.elems[0], elem);
                        v.bind_pat(&tuple.elems[1], Sym::Unknown);
                    }
                    (pat, Items::Element) => v.bind_pat(pat, elem),
                    (pat, _) => v.bind_pat(pat, Sym::Unknown),
                }
                v.visit_block(&node.body);
            });
        });
    }

    fn visit_expr_while(&mut self, node: &'ast syn::ExprWhile) {
        self.in_loop(node.while_token.span, |v| v.with_scope(|v| visit::visit_expr_while(v, node)));
    }

    fn visit_expr_loop(&mut self, node: &'ast syn::ExprLoop) {
        self.in_loop(node.loop_token.span, |v| visit::visit_expr_loop(v, node));
    }

    fn visit_expr_match(&mut self, node: &'ast syn::ExprMatch) {
        self.visit_expr(&node.expr);
        let scrutinee = self.sym_of(&node.expr);
        for arm in &node.arms {
            self.with_scope(|v| {
                v.bind_pat(&arm.pat, scrutinee.clone());
                if let Some((_, guard)) = &arm.guard {
                    v.visit_expr(guard);
                }
                v.visit_expr(&arm.body);
            });
        }
    }

    fn visit_expr_let(&mut self, node: &'ast syn::ExprLet) {
        self.visit_expr(&node.expr);
        let sym = self.sym_of(&node.expr);
        self.bind_pat(&node.pat, sym);
    }

    fn visit_expr_method_call(&mut self, node: &'ast ExprMethodCall) {
        self.visit_expr(&node.receiver);
        for arg in &node.args {
            self.visit_expr(arg);
        }
        let name = node.method.to_string();
        let recv = self.sym_of(&node.receiver);
        let kind = self.kind(&recv);
        rules::on_method_call(self, &MethodCall { call: node, name: &name, recv: &recv, kind });
        match name.as_str() {
            "begin_capture" => self.push_region(RegionKind::Capture, node.method.span()),
            "end_capture" => self.end_capture(),
            // `xs.apply(&module)` is `module.forward(xs)`.
            "apply" if node.args.len() == 1 => {
                let module = self.sym_of(&node.args[0]);
                if module != Sym::Unknown {
                    self.record_call(Callee::Method(module, "forward".into()));
                }
            }
            _ => {}
        }
        if recv != Sym::Unknown && !matches!(kind, Kind::Tensor | Kind::TchTensor | Kind::HostVec) {
            self.record_call(Callee::Method(recv, name));
        }
    }

    fn visit_expr_call(&mut self, node: &'ast ExprCall) {
        visit::visit_expr_call(self, node);
        let Some(segments) = call_path(node) else { return };
        rules::on_path_call(self, &PathCall { call: node, segments: &segments });
        match segments.last().map(String::as_str) {
            Some("begin_capture") => self.push_region(RegionKind::Capture, callee_span(node)),
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

    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        self.check_macro(node);
    }
}

/// The span of a call's callee name (`new` in `Tensor::new(..)`), for regions it opens.
fn callee_span(call: &ExprCall) -> Span {
    match &*call.func {
        Expr::Path(p) => p.path.segments.last().map_or_else(Span::call_site, |s| s.ident.span()),
        _ => call.paren_token.span.open(),
    }
}

/// `f(..)`'s path segments; `<T>::f` and `<T as Trait>::f` become `[T, f]`.
pub(crate) fn call_path(call: &ExprCall) -> Option<Vec<String>> {
    let Expr::Path(p) = &*call.func else { return None };
    let mut segments: Vec<String> = Vec::with_capacity(p.path.segments.len() + 1);
    if let Some(qself) = &p.qself {
        segments.push(ty_ref(&qself.ty).and_then(|t| t.last().map(str::to_string)).unwrap_or_else(|| "_".into()));
        segments.extend(p.path.segments.iter().skip(qself.position).map(|s| s.ident.to_string()));
    } else {
        segments.extend(p.path.segments.iter().map(|s| s.ident.to_string()));
    }
    (!segments.is_empty()).then_some(segments)
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
fn iterated(expr: &Expr) -> (&Expr, Items) {
    match expr {
        Expr::MethodCall(m) if m.method == "enumerate" => (iterated(&m.receiver).0, Items::Second),
        Expr::MethodCall(m) if m.method == "zip" => (iterated(&m.receiver).0, Items::First),
        Expr::MethodCall(m) if matches!(m.method.to_string().as_str(), "iter" | "iter_mut" | "into_iter") => {
            iterated(&m.receiver)
        }
        Expr::Reference(r) => iterated(&r.expr),
        Expr::Paren(p) => iterated(&p.expr),
        other => (other, Items::Element),
    }
}

/// The byte range of an expression: from its first token to its last.
pub(crate) fn expr_range(expr: &Expr) -> Range<usize> {
    let mut tokens = quote::ToTokens::to_token_stream(expr).into_iter();
    let Some(first) = tokens.next() else { return 0..0 };
    let last = tokens.last().unwrap_or_else(|| first.clone());
    let start = first.span().byte_range().start;
    start..last.span().byte_range().end.max(start)
}

fn pat_idents(pat: &Pat, names: &mut Vec<String>) {
    match pat {
        Pat::Ident(p) => names.push(p.ident.to_string()),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pat_idents(p, names)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pat_idents(p, names)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pat_idents(&f.pat, names)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| pat_idents(p, names)),
        Pat::Reference(r) => pat_idents(&r.pat, names),
        Pat::Type(t) => pat_idents(&t.pat, names),
        Pat::Paren(p) => pat_idents(&p.pat, names),
        Pat::Or(o) => o.cases.iter().for_each(|p| pat_idents(p, names)),
        _ => {}
    }
}

fn struct_fields(fields: &syn::Fields) -> Vec<(String, TyRef)> {
    fields
        .iter()
        .enumerate()
        .filter_map(|(index, field)| {
            let name = field.ident.as_ref().map_or_else(|| index.to_string(), |i| i.to_string());
            Some((name, ty_ref(&field.ty)?))
        })
        .collect()
}

fn return_ty(sig: &syn::Signature) -> Option<TyRef> {
    match &sig.output {
        syn::ReturnType::Type(_, ty) => ty_ref(ty),
        syn::ReturnType::Default => None,
    }
}

/// `#[test]`, `#[bench]`, `#[tokio::test]`, `#[cfg(test)]`.
fn is_test_attr(attr: &Attribute) -> bool {
    let path = attr.path();
    if path.segments.last().is_some_and(|s| s.ident == "test" || s.ident == "bench") {
        return true;
    }
    if path.is_ident("cfg") {
        if let syn::Meta::List(list) = &attr.meta {
            let text = list.tokens.to_string();
            return text.trim() == "test";
        }
    }
    false
}

fn use_root(tree: &syn::UseTree) -> Option<&'static str> {
    let name = match tree {
        syn::UseTree::Path(p) => p.ident.to_string(),
        syn::UseTree::Name(n) => n.ident.to_string(),
        syn::UseTree::Rename(r) => r.ident.to_string(),
        syn::UseTree::Group(g) => return g.items.iter().find_map(use_root),
        syn::UseTree::Glob(_) => return None,
    };
    match name.as_str() {
        "tch" => Some("tch"),
        "cudarc" => Some("cudarc"),
        _ => None,
    }
}

fn collect_uses(tree: &syn::UseTree, prefix: &mut Vec<String>, module: ModIdx, out: &mut Vec<UseDef>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            collect_uses(&p.tree, prefix, module, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push(UseDef { module, alias: last.clone(), path: prefix.clone() });
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push(UseDef { module, alias: name, path });
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push(UseDef { module, alias: r.rename.to_string(), path });
        }
        syn::UseTree::Glob(_) => out.push(UseDef { module, alias: "*".into(), path: prefix.clone() }),
        syn::UseTree::Group(g) => {
            for item in &g.items {
                collect_uses(item, prefix, module, out);
            }
        }
    }
}
