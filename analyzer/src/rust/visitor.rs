//! The per-file pass: ONE traversal of the [`ast`](super::ast) that tracks the few types the
//! rules need, hands every call and macro to the rules, and fills the file's [`FileSummary`]
//! for the crate pass. The traversal order is `syn::visit`'s (children in source order, a call
//! after its receiver and arguments), which fixes the order of calls and regions.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use rustc_hash::FxHashMap;

use super::ast::*;
use super::lexer::{Kind as TokenKind, Token};
use super::parser;
use super::rules::{self, MethodCall, PathCall};
use super::summary::*;
use super::types::{tensor_method_returns_tensor, Kind};
use crate::frontend::{Candidate, FileContext};
use crate::rule::Rule;

/// A function being visited: its bindings start at `bindings_base` (a nested function does
/// not see its parent's locals).
struct Frame {
    func: FuncIdx,
    bindings_base: usize,
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
    tokens: &'a [Token],
    /// The file imports tch: `Tensor` is tch's, not candle's.
    pub tch: bool,
    /// The file imports cudarc.
    pub cudarc: bool,
    local_structs: FxHashMap<&'a str, &'a [(String, TyRef)]>,
    /// Return types of this file's functions, by owner type (`""` for free functions) and name.
    local_returns: FxHashMap<&'a str, FxHashMap<&'a str, TyRef>>,
    modules: Vec<ModIdx>,
    impls: Vec<ImplCtx>,
    frames: Vec<Frame>,
    /// The locals in scope, innermost last: a later binding shadows an earlier one, and a
    /// block's bindings are dropped at its end.
    bindings: Vec<(&'a str, Sym)>,
    regions: Vec<RegionIdx>,
    test_depth: u32,
    pub summary: FileSummary,
    pub candidates: Vec<Candidate>,
}

impl<'a> FileVisitor<'a> {
    pub fn new(context: FileContext<'a>, tokens: &'a [Token], module: Vec<String>) -> Self {
        let summary = FileSummary { modules: vec![module], ..FileSummary::default() };
        FileVisitor {
            context,
            tokens,
            tch: false,
            cudarc: false,
            local_structs: FxHashMap::default(),
            local_returns: FxHashMap::default(),
            modules: vec![0],
            impls: Vec::new(),
            frames: Vec::new(),
            bindings: Vec::new(),
            regions: Vec::new(),
            test_depth: 0,
            summary,
            candidates: Vec::new(),
        }
    }

    pub fn check_file(&mut self, file: &'a File<'a>) {
        self.prescan(&file.items);
        for item in &file.items {
            self.visit_item(item);
        }
    }

    /// Struct fields, return types and imported crates, before the traversal (items only).
    fn prescan(&mut self, items: &'a [Item<'a>]) {
        for item in items {
            match item {
                Item::Struct { name, fields } => {
                    self.local_structs.insert(name, fields);
                }
                Item::Fn(f) => {
                    if let Some(ret) = &f.ret {
                        self.local_returns.entry("").or_default().insert(f.name, ret.clone());
                    }
                }
                Item::Impl { self_ty, items, .. } => {
                    let Some(self_name) = self_ty.as_ref().and_then(|t| t.last()) else { continue };
                    for item in items {
                        if let Item::Fn(f) = item {
                            if let Some(ret) = &f.ret {
                                let ret = if ret.last() == Some("Self") {
                                    TyRef::Path(vec![self_name.to_string()])
                                } else {
                                    ret.clone()
                                };
                                self.local_returns.entry(self_name).or_default().insert(f.name, ret);
                            }
                        }
                    }
                }
                Item::Use(tree) => {
                    let root = use_root(tree);
                    self.tch |= root == Some("tch");
                    self.cudarc |= root == Some("cudarc");
                }
                Item::Mod { items: Some(items), .. } => self.prescan(items),
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

    /// The first line of the source text in `range`, for messages.
    pub(crate) fn text(&self, range: Range<usize>) -> &'a str {
        let text = self.context.source.get(range).unwrap_or("");
        text.split('\n').next().unwrap_or(text).trim_end()
    }

    pub(crate) fn expr_text(&self, expr: &Expr) -> &'a str {
        self.text(expr_range(expr))
    }

    fn row(&self, offset: u32) -> u32 {
        self.context.lines.row(offset as usize)
    }

    // ----- scopes and symbolic values -------------------------------------------------------

    fn bind(&mut self, name: &'a str, sym: Sym) {
        if !self.frames.is_empty() {
            self.bindings.push((name, sym));
        }
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<&Sym> {
        let base = self.frames.last()?.bindings_base;
        self.bindings[base..].iter().rev().find(|(bound, _)| *bound == name).map(|(_, sym)| sym)
    }

    fn bind_pat(&mut self, pat: &Pat<'a>, sym: Sym) {
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

    /// A value as the crate pass will see it.
    pub(crate) fn sym_of(&self, expr: &Expr) -> Sym {
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
                if matches!(self.kind(&left), Kind::Tensor | Kind::TchTensor) {
                    return left;
                }
                let right = self.sym_of(right);
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
                match (Kind::of(recv_ty.as_deref(), self.tch), method) {
                    (Kind::Tensor, "chunk") => owned(TyRef::Elem(Box::new(TyRef::path(&["Tensor"])))),
                    (Kind::Tensor, "device") => owned(TyRef::path(&["Device"])),
                    (Kind::Tensor | Kind::TchTensor, m) if tensor_method_returns_tensor(m) => tensor(),
                    (
                        Kind::CudaStream | Kind::CudaDevice,
                        "alloc" | "alloc_zeros" | "clone_htod" | "memcpy_stod" | "htod_copy" | "htod_sync_copy",
                    ) => owned(TyRef::path(&["CudaSlice"])),
                    (_, "alloc_pinned" | "alloc_pinned_with_flags") => owned(TyRef::path(&["PinnedHostSlice"])),
                    (Kind::CudaStream | Kind::CudaDevice, "clone_dtoh" | "memcpy_dtov" | "dtoh_sync_copy") => {
                        owned(TyRef::Elem(Box::new(TyRef::path(&["_"]))))
                    }
                    (Kind::CudaContext, "default_stream" | "new_stream") => owned(TyRef::path(&["CudaStream"])),
                    (Kind::CudaStream, "fork") => owned(TyRef::path(&["CudaStream"])),
                    (Kind::CudaStream | Kind::CudaContext, "record_event" | "new_event") => {
                        owned(TyRef::path(&["CudaEvent"]))
                    }
                    (Kind::Device, "as_cuda_device") => owned(TyRef::path(&["CudaDevice"])),
                    (Kind::CudaDevice, "cuda_stream") => owned(TyRef::path(&["CudaStream"])),
                    _ => self.local_return(recv_ty?.last()?, method),
                }
            }
            Callee::Path(segments) => {
                let n = segments.len();
                let last = segments[n - 1].as_str();
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

    fn local_return(&self, owner: &str, name: &str) -> Option<Cow<'_, TyRef>> {
        self.local_returns.get(owner)?.get(name).map(Cow::Borrowed)
    }

    pub(crate) fn kind(&self, sym: &Sym) -> Kind {
        Kind::of(self.local_ty(sym).as_deref(), self.tch)
    }

    pub(crate) fn expr_kind(&self, expr: &Expr) -> Kind {
        self.kind(&self.sym_of(expr))
    }

    // ----- functions, regions and calls ------------------------------------------------------

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
        self.summary.funcs.push(FuncDef {
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
    }

    // ----- macros ----------------------------------------------------------------------------

    fn check_macro(&mut self, mac: &Macro<'a>) {
        // Outside a function nothing is reported or recorded.
        if self.frames.is_empty() {
            return;
        }
        let name = mac.name;
        let error_path = ERROR_PATH_MACROS.contains(&name);
        let args = self.macro_args(mac);
        if rules::is_format_macro(name) && !error_path {
            rules::on_format_macro(self, name, &args);
        }
        for arg in &args {
            if let Some(expr) = &arg.expr {
                self.visit_expr(expr);
            }
        }
    }

    /// A macro's tokens split at top-level `,` and `;`, each parsed as `syn` parses an argument.
    fn macro_args(&self, mac: &Macro) -> Vec<MacroArg<'a>> {
        let tokens = self.tokens;
        let mut args = Vec::new();
        let mut chunk_start = mac.open as usize + 1;
        let mut at = chunk_start;
        let end = mac.close as usize;
        while at <= end {
            let token = &tokens[at.min(end)];
            let separator = at == end
                || token.kind == TokenKind::Punct
                    && matches!(self.context.source.as_bytes()[token.start as usize], b',' | b';');
            if separator {
                if at > chunk_start {
                    args.push(self.macro_arg(chunk_start, at));
                }
                chunk_start = at + 1;
                at += 1;
            } else if let TokenKind::Open(_) = token.kind {
                at = token.close as usize + 1;
            } else {
                at += 1;
            }
        }
        args
    }

    fn macro_arg(&self, mut start: usize, end: usize) -> MacroArg<'a> {
        let source = self.context.source;
        let tokens = self.tokens;
        let byte = |i: usize| source.as_bytes()[tokens[i].start as usize];
        let mut name = None;
        if end - start >= 2
            && tokens[start].kind == TokenKind::Ident
            && tokens[start + 1].kind == TokenKind::Punct
            && byte(start + 1) == b'='
            && !tokens[start + 1].joint
        {
            let token = &tokens[start];
            name = Some(&source[token.start as usize..token.end as usize]);
            start += 2;
        }
        let mut sigil = None;
        if start < end && tokens[start].kind == TokenKind::Punct && matches!(byte(start), b'?' | b'%') {
            sigil = Some(byte(start) as char);
            start += 1;
        }
        if end == start + 1 && tokens[start].kind == TokenKind::Str {
            let token = &tokens[start];
            let literal = StrLit::new(&source[token.start as usize..token.end as usize], token.start);
            if let Some(literal) = literal {
                return MacroArg { name, sigil, expr: None, literal: Some(literal) };
            }
        }
        let expr = if start < end { parser::parse_expr(source, tokens, start, end) } else { None };
        MacroArg { name, sigil, expr, literal: None }
    }

    // ----- the traversal ---------------------------------------------------------------------

    fn visit_item(&mut self, item: &Item<'a>) {
        match item {
            Item::Fn(f) => {
                // A free function, even inside an impl's method: no self type.
                self.impls.push(ImplCtx { self_ty: None, trait_name: None });
                self.enter_fn(f);
                self.impls.pop();
            }
            Item::Impl { attrs, self_ty, trait_name, items } => {
                self.impls.push(ImplCtx { self_ty: self_ty.clone(), trait_name: trait_name.map(str::to_string) });
                let is_test = attrs.iter().any(|a| a.is_test);
                self.test_depth += is_test as u32;
                self.visit_assoc_items(items);
                self.test_depth -= is_test as u32;
                self.impls.pop();
            }
            Item::Trait { name, items } => {
                // Methods declared by the trait: no self type, the trait's name.
                self.impls.push(ImplCtx { self_ty: None, trait_name: Some(name.to_string()) });
                // Declared even without a default body: a `hot` marker here makes every impl's
                // method hot.
                self.visit_assoc_items(items);
                self.impls.pop();
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
                let parent = self.summary.modules[*self.modules.last().unwrap_or(&0) as usize].clone();
                let mut path = parent;
                path.push(name.to_string());
                self.summary.modules.push(path);
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

    fn visit_expr(&mut self, expr: &Expr<'a>) {
        match &expr.kind {
            ExprKind::Path(_) | ExprKind::Lit | ExprKind::Other => {}
            ExprKind::MethodCall { receiver, method, method_at, args, close_end } => {
                self.visit_expr(receiver);
                for arg in args {
                    self.visit_expr(arg);
                }
                let name = *method;
                let recv = self.sym_of(receiver);
                let kind = self.kind(&recv);
                let call = MethodCall {
                    receiver,
                    args,
                    name,
                    recv: &recv,
                    kind,
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
                if recv != Sym::Unknown && !matches!(kind, Kind::Tensor | Kind::TchTensor | Kind::HostVec) {
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

/// One comma-separated argument of a macro: `expr`, `name = expr`, or tracing's `?expr`/`%expr`.
pub(crate) struct MacroArg<'s> {
    pub name: Option<&'s str>,
    /// `Some('?')` for Debug, `Some('%')` for Display (tracing's field sigils).
    pub sigil: Option<char>,
    pub expr: Option<Expr<'s>>,
    pub literal: Option<StrLit>,
}

/// A string literal argument: its value (escapes resolved) and byte range.
pub(crate) struct StrLit {
    pub value: String,
    pub range: Range<usize>,
}

impl StrLit {
    /// `"…"` or `r#"…"#` (with an optional suffix); `None` if the escapes do not read.
    fn new(text: &str, start: u32) -> Option<StrLit> {
        let range = start as usize..start as usize + text.len();
        let close = text.rfind('"')?;
        let value = if let Some(raw) = text.strip_prefix('r') {
            let hashes = raw.len() - raw.trim_start_matches('#').len();
            raw.get(hashes + 1..close - 1)?.to_string()
        } else {
            unescape(text.get(1..close)?)?
        };
        Some(StrLit { value, range })
    }
}

/// Resolves a string literal's escapes (`\n`, `\u{..}`, line continuations).
fn unescape(body: &str) -> Option<String> {
    if !body.contains('\\') {
        return Some(body.to_string());
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '0' => out.push('\0'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).ok()? as char);
            }
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut hex = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    if c != '_' {
                        hex.push(c);
                    }
                }
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            '\n' => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            _ => return None,
        }
    }
    Some(out)
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

/// The byte range of an expression: from its first token to its last.
pub(crate) fn expr_range(expr: &Expr) -> Range<usize> {
    expr.start as usize..expr.end.max(expr.start) as usize
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

fn use_root(tree: &UseTree) -> Option<&'static str> {
    let name = match tree {
        UseTree::Path(name, _) | UseTree::Name(name) | UseTree::Rename(name, _) => *name,
        UseTree::Group(trees) => return trees.iter().find_map(use_root),
        UseTree::Glob => return None,
    };
    match name {
        "tch" => Some("tch"),
        "cudarc" => Some("cudarc"),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literal_values() {
        assert_eq!(StrLit::new(r#""a{}\u{7b}b\n""#, 0).unwrap().value, "a{}{b\n");
        assert_eq!(StrLit::new(r###"r#"x{y}"#"###, 0).unwrap().value, "x{y}");
        assert_eq!(StrLit::new(r#""x""#, 5).unwrap().range, 5..8);
    }
}
