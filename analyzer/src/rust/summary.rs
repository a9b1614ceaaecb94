//! The compact per-file summary the project-wide hot-path pass (`project/`) works on.
//!
//! The per-file pass (the checker's one traversal of the syntax tree) records the file's
//! functions, types, `use` items, loops and capture regions, and every call it could describe
//! symbolically. Types and receivers stay symbolic ([`TyRef`], [`Sym`]) until the project pass,
//! which knows every file, resolves them. The syntax tree is dropped after the per-file pass.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::frontend::Marker;

/// Index into [`FileSummary::funcs`].
pub type FuncIdx = u32;
/// Index into [`FileSummary::regions`].
pub type RegionIdx = u32;
/// Index into [`FileSummary::modules`].
pub type ModIdx = u32;

/// A type as written, reduced to what resolution needs: references and smart pointers
/// (`&T`, `Box<T>`, `Arc<T>`, `Option<T>`, `Result<T, E>`…) are stripped to `T`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TyRef {
    /// A path (`Tensor`, `crate::models::llama::Cache`, `Self`), generic arguments dropped.
    Path(Vec<String>),
    /// The element type of a collection (`Vec<T>`, `[T]`, `[T; N]`, `VecDeque<T>`).
    Elem(Box<TyRef>),
}

impl TyRef {
    pub fn path(segments: &[&str]) -> TyRef {
        TyRef::Path(segments.iter().map(|s| s.to_string()).collect())
    }

    /// The last segment of a path type (`Tensor` for `candle::Tensor`).
    pub fn last(&self) -> Option<&str> {
        match self {
            TyRef::Path(segments) => segments.last().map(String::as_str),
            TyRef::Elem(_) => None,
        }
    }
}

/// A value whose type the project pass may resolve. Shared parts are behind `Arc`s: a local's
/// value is copied into every use of the local.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Sym {
    /// A value of a written type (a parameter's or `let`'s annotation, a struct literal).
    Ty(TyRef),
    /// `self`.
    SelfValue,
    /// `value.field` (tuple fields are named `0`, `1`…).
    Field(Arc<Sym>, String),
    /// An element of a collection (`for x in v`, `v[i]`, `v.get(i)`).
    Elem(Arc<Sym>),
    /// What a call returns.
    Ret(Arc<Callee>),
    Unknown,
}

/// What a call site calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Callee {
    /// `f(..)`, `module::f(..)`, `Type::f(..)`, `Self::f(..)`.
    Path(Vec<String>),
    /// `receiver.name(..)`.
    Method(Sym, String),
}

/// An inline `mod name { .. }` of a file (index 0 of [`FileSummary::modules`], the file's own
/// module, has no name and is its own parent).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModuleDef {
    pub parent: ModIdx,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FuncSummary {
    pub name: String,
    /// `Type::method` or `function`, as shown in chains.
    pub qualname: String,
    pub module: ModIdx,
    /// The `impl` block's self type, for methods and associated functions.
    pub self_ty: Option<TyRef>,
    /// The trait's last path segment for trait impls (`Module`).
    pub trait_name: Option<String>,
    pub row: u32,
    pub marker: Option<Marker>,
    pub ret: Option<TyRef>,
    /// `#[test]`, `#[bench]` or inside `#[cfg(test)]`: never on a hot path.
    pub test_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeDef {
    pub module: ModIdx,
    pub name: String,
    pub fields: Vec<(String, TyRef)>,
}

/// `use a::b::c as d;` in module `module`: alias `d`, path `[a, b, c]`; a glob has alias `*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseDef {
    pub module: ModIdx,
    pub alias: String,
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegionKind {
    /// A `for`, `while` or `loop` body: a decode loop if it calls a hot-path root.
    Loop,
    /// Code between `begin_capture(` and `end_capture(` in one function: captured into a graph.
    Capture,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Region {
    pub kind: RegionKind,
    pub func: FuncIdx,
    pub parent: Option<RegionIdx>,
    pub row: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallSite {
    pub func: FuncIdx,
    pub region: Option<RegionIdx>,
    pub callee: Callee,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileSummary {
    /// The file's modules: index 0 is the file's own, inline `mod`s follow, each under its parent
    /// (by name, not by path: a path per module would grow with the square of the nesting).
    pub modules: Vec<ModuleDef>,
    pub funcs: Vec<FuncSummary>,
    pub types: Vec<TypeDef>,
    pub uses: Vec<UseDef>,
    pub regions: Vec<Region>,
    pub calls: Vec<CallSite>,
}
