//! The per-file pass: ONE traversal of the [`ast`](super::ast) that tracks the few types the
//! rules need, hands every call and macro to the rules, and fills the file's [`FileSummary`]
//! for the project pass. The traversal order is `syn::visit`'s (children in source order, a call
//! after its receiver and arguments), which fixes the order of calls and regions.
//!
//! [`Checker`] holds the state and reports; [`inference`] knows what values are, [`traversal`]
//! walks the tree and records functions, regions and calls, [`macros`] reads macro arguments.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use rustc_hash::FxHashMap;

use super::ast::*;
use super::lexer::{Token, TokenKind};
use super::parser;
use super::rules::{self, MethodCall, PathCall};
use super::summary::*;
use super::types::{candle_nn_layer_built_by, is_candle_nn_layer, tensor_method_returns_tensor, Ty};
use crate::frontend::{self, Candidate, FileContext};
use crate::rule::Rule;

mod inference;
mod macros;
mod traversal;

pub(crate) use self::macros::MacroArg;

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

pub(crate) struct Checker<'a> {
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
    /// The values of method calls and fields already described, by span, while the bindings
    /// stay the same: each call of a chain describes its receiver, which would otherwise be
    /// built again for every link (quadratic in the chain's length).
    sym_memo: RefCell<FxHashMap<(u32, u32), Sym>>,
    regions: Vec<RegionIdx>,
    test_depth: u32,
    pub summary: FileSummary,
    pub candidates: Vec<Candidate>,
}

impl<'a> Checker<'a> {
    pub fn new(context: FileContext<'a>, tokens: &'a [Token]) -> Self {
        let summary = FileSummary { modules: vec![ModuleDef::default()], ..FileSummary::default() };
        Checker {
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
            sym_memo: RefCell::default(),
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
        let Some(diagnostic) = self.context.finding(rule, range.clone(), range.start, message, help) else { return };
        self.candidates.push(Candidate { diagnostic, func, region: self.regions.last().copied() });
    }

    /// The first line of the source text in `range`, for messages, capped as
    /// [`frontend::snippet`] caps it.
    pub(crate) fn text(&self, range: Range<usize>) -> Cow<'a, str> {
        let text = self.context.source.get(range).unwrap_or("");
        frontend::snippet(text.split('\n').next().unwrap_or(text).trim_end())
    }

    pub(crate) fn expr_text(&self, expr: &Expr) -> Cow<'a, str> {
        self.text(expr_range(expr))
    }

    fn row(&self, offset: u32) -> u32 {
        self.context.lines.row(offset as usize)
    }
}

/// The byte range of an expression: from its first token to its last.
pub(crate) fn expr_range(expr: &Expr) -> Range<usize> {
    expr.start as usize..expr.end.max(expr.start) as usize
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
