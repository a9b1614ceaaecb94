//! The compact per-file summary the project-level hot-path pass works on.
//!
//! The per-file pass (one AST traversal) fills a [`FileSummary`]: the file's functions and classes,
//! its imports and module-level bindings, the call sites it could describe symbolically, its loops
//! and CUDA-graph blocks. Values are kept as small symbolic expressions ([`Val`]) that the project
//! pass evaluates once every file is known. The AST itself is dropped after the per-file pass.

/// Index into [`FileSummary::vals`].
pub type ValId = u32;
/// Index into [`FileSummary::funcs`].
pub type FuncIdx = u32;
/// Index into [`FileSummary::regions`].
pub type RegionIdx = u32;

/// A dotted import target as written: `level` leading dots (0 for absolute imports) and the
/// dotted rest (`torch.nn`, `model.util.KVCache`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportPath {
    pub level: u32,
    pub dotted: String,
}

/// A symbolic value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A module-level name of this file (def, class, assignment or import).
    Global(String),
    /// What an import binds.
    Import(ImportPath),
    /// The i-th parameter of function `func` (`self` is parameter 0 of a method).
    Param { func: FuncIdx, index: u32 },
    /// A function defined in this file.
    Func(FuncIdx),
    /// A class defined in this file.
    Class(u32),
    /// `self.name`, inside a method of class `class`.
    SelfAttr { class: u32, name: String },
    /// `value.name`.
    Attr(ValId, String),
    /// The result of calling `value`: an instance for a class, the return value for a function.
    Call(ValId),
    /// An element of a container (`for x in v`, `v[i]`).
    Elem(ValId),
    /// `super()` inside a method of class `class`.
    Super { class: u32 },
    /// A list, tuple or dict display (its elements or values).
    Collection(Vec<ValId>),
    /// One of several values (an `Optional[A | B]` annotation, a ternary).
    Union(Vec<ValId>),
}

/// A `# graphlint: hot` / `cold` marker on a `def` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Hot,
    Cold,
}

#[derive(Debug, Clone)]
pub struct FuncSummary {
    pub name: String,
    /// `Class.method`, `function`, `outer.inner`, or `<module>` for module-level code.
    pub qualname: String,
    pub class: Option<u32>,
    pub row: u32,
    /// The parameters' names and annotations (an annotation is an instance value of its class).
    pub params: Vec<(String, Option<ValId>)>,
    /// Decorated with `torch.compile`.
    pub compiled: bool,
    pub marker: Option<Marker>,
    /// `@staticmethod`: no `self`.
    pub is_static: bool,
}

#[derive(Debug, Clone)]
pub struct ClassSummary {
    pub name: String,
    pub row: u32,
    pub bases: Vec<ValId>,
    /// Attribute values: `self.x = ...` in any method, and class-level assignments/annotations.
    pub attrs: Vec<(String, ValId)>,
    /// Method name to function index.
    pub methods: Vec<(String, FuncIdx)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `callee(...)`
    Call,
    /// `callee[...]`: `__getitem__` of a project class.
    GetItem,
}

#[derive(Debug, Clone)]
pub struct CallSite {
    pub func: FuncIdx,
    pub region: Option<RegionIdx>,
    pub callee: ValId,
    pub kind: CallKind,
    /// Positional arguments that have a symbolic value.
    pub args: Vec<Option<ValId>>,
    pub kwargs: Vec<(String, ValId)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// A `for` or `while` body: a decode loop if it drives a model and does not train it.
    Loop,
    /// A `with torch.cuda.graph(...)` block: everything in it is captured.
    CudaGraph,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub kind: RegionKind,
    pub func: FuncIdx,
    pub parent: Option<RegionIdx>,
    pub row: u32,
    /// The loop calls `backward`, `zero_grad` or an optimizer's `step`: a training loop.
    pub training: bool,
}

/// Special call sites that make roots: `torch.compile(x)` and `make_graphed_callables(x)`.
#[derive(Debug, Clone)]
pub struct RootSite {
    pub value: ValId,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct FileSummary {
    pub funcs: Vec<FuncSummary>,
    pub classes: Vec<ClassSummary>,
    /// Module-level bindings (defs, classes, imports, assignments), last one wins.
    pub globals: Vec<(String, ValId)>,
    /// `from x import *` targets.
    pub star_imports: Vec<ImportPath>,
    pub vals: Vec<Val>,
    pub calls: Vec<CallSite>,
    pub regions: Vec<Region>,
    pub root_sites: Vec<RootSite>,
}

impl FileSummary {
    pub fn add_val(&mut self, val: Val) -> ValId {
        self.vals.push(val);
        (self.vals.len() - 1) as ValId
    }
}

/// The function index of module-level code in every summary.
pub const MODULE_FUNC: FuncIdx = 0;
