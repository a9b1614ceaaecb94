//! The compact per-file summary the project-level hot-path pass works on.
//!
//! The per-file pass (one AST traversal) fills a [`FileSummary`]: the file's functions and classes,
//! its imports and module-level bindings, the call sites it could describe symbolically, its loops
//! and CUDA-graph blocks. Values are kept as small symbolic expressions ([`Val`]) that the project
//! pass evaluates once every file is known. The AST itself is dropped after the per-file pass.
//!
//! A summary lives until the end of the run, for every file: it is kept flat and small (names
//! are ids into one per-file [`Names`] buffer, lists are ranges into shared vectors), because
//! every megabyte of memory a run touches costs page faults.

use serde::{Deserialize, Serialize};

use super::types::{Declared, HostData, Ty};
pub use crate::frontend::Marker;

/// Index into [`FileSummary::vals`].
pub type ValId = u32;
/// Index into [`FileSummary::funcs`].
pub type FuncIdx = u32;
/// Index into [`FileSummary::regions`].
pub type RegionIdx = u32;
/// Index into [`FileSummary::names`].
pub type NameId = u32;

/// A range of [`FileSummary::items`] (the elements of a collection or union).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Items {
    pub start: u32,
    pub len: u32,
}

/// The names (identifiers, dotted paths) a summary refers to, each stored once in one buffer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Names {
    text: String,
    ends: Vec<u32>,
}

impl Names {
    pub fn get(&self, id: NameId) -> &str {
        let start = if id == 0 { 0 } else { self.ends[id as usize - 1] as usize };
        &self.text[start..self.ends[id as usize] as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends a name (callers deduplicate; a duplicate is only wasted space).
    pub fn push(&mut self, name: &str) -> NameId {
        self.text.push_str(name);
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as NameId
    }

    /// Appends `parts` joined by `.`.
    pub fn push_dotted<'p>(&mut self, parts: impl IntoIterator<Item = &'p str>) -> NameId {
        for (index, part) in parts.into_iter().enumerate() {
            if index > 0 {
                self.text.push('.');
            }
            self.text.push_str(part);
        }
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as NameId
    }
}

/// A dotted import target as written: `level` leading dots (0 for absolute imports) and the
/// dotted rest (`torch.nn`, `model.util.KVCache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImportPath {
    pub level: u32,
    pub dotted: NameId,
}

/// A symbolic value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Val {
    /// A module-level name of this file (def, class, assignment or import).
    Global(NameId),
    /// What an import binds.
    Import(ImportPath),
    /// The i-th parameter of function `func` (`self` is parameter 0 of a method).
    Param { func: FuncIdx, index: u32 },
    /// A function defined in this file.
    Func(FuncIdx),
    /// A class defined in this file.
    Class(u32),
    /// `self.name`, inside a method of class `class`.
    SelfAttr { class: u32, name: NameId },
    /// `value.name`.
    Attr(ValId, NameId),
    /// The result of calling `value`: an instance for a class, the return value for a function.
    Call(ValId),
    /// An instance of the class `value` names or of any subclass: a declared type (an annotation).
    Declared(ValId),
    /// An element of a container (`for x in v`, `v[i]`).
    Elem(ValId),
    /// `super()` inside a method of class `class`.
    Super { class: u32 },
    /// A list, tuple or dict display (its elements or values).
    Collection(Items),
    /// One of several values (an `Optional[A | B]` annotation, a ternary).
    Union(Items),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FuncSummary {
    pub name: String,
    /// `Class.method`, `function`, `outer.inner`, or `<module>` for module-level code.
    pub qualname: String,
    pub class: Option<u32>,
    pub row: u32,
    /// The parameters' names and annotations (an annotation is a [`Val::Declared`] value of its class).
    pub params: Vec<(NameId, Option<ValId>)>,
    /// Decorated with `torch.compile`.
    pub compiled: bool,
    /// The dotted names of its decorators that call a method (`_Registry.register` for
    /// `@_Registry.register(...)`): a `hot` pattern `pkg.mod:@_Registry.register` names the
    /// functions a registry dispatches to.
    pub decorators: Vec<String>,
    pub marker: Option<Marker>,
    /// `@staticmethod`: no `self`.
    pub is_static: bool,
    /// What calling it returns, for other files: its return annotation, else what its `return`
    /// statements give (joined; `Unknown` as soon as one is not proven). Never a [`Ty::Val`].
    pub returns: Ty,
    /// For a function whose `return`s give tuples of one length: what each element is, joined
    /// over the paths (see [`Ty::join_paths`]). Empty otherwise.
    pub return_elements: Vec<Ty>,
    /// What `return`s give that the file could only describe as an attribute of another value
    /// (`return scheduler.timesteps, n`): (the tuple element, or `u32::MAX` for the whole value,
    /// and the [`Val::Attr`]). The project pass types them where they are read after a call that
    /// moves the attribute to the device (`project/moved.rs`).
    pub return_attrs: Vec<(u32, ValId)>,
    /// Bit `i`: a `return` gives parameter `i` (or a name bound to it), arithmetic on it, or an
    /// element of it: when callers give the parameter a device tensor, the call's result is one
    /// too (`project/declared.rs`). Parameters past 31 are not tracked.
    pub returns_params: u32,
    /// For `return`s of tuples: per element, [`Self::returns_params`]'s bits (or'ed over them).
    pub return_element_params: Vec<u32>,
    /// Bit `i`: parameter `i` is annotated `int`, `float` or `bool` (callers passing tensors may
    /// override it, see `project/declared.rs`). Parameters past 31 are not tracked.
    pub scalar_params: u32,
    /// `for name, value in kwargs.items(): setattr(self, name, value)` over its `**kwargs`: a call
    /// `self.m(x=v)` assigns `self.x = v` (diffusers' `register_modules`).
    pub kwargs_to_attrs: bool,
    /// Decorated with `@property`: reading the attribute calls it.
    pub property: bool,
    /// A method with no behaviour of its own: `@abstractmethod`, or a body of only a docstring,
    /// `pass`, `...` or `raise NotImplementedError`. A call of it on `self` runs an override.
    pub stub: bool,
    /// Calls `backward`, `zero_grad` or an optimizer's `step` somewhere in its body: it trains
    /// a model (or optimizes an input against one). A loop that calls it, directly or a few calls
    /// down, is no decode loop (`project/roots.rs`).
    pub trains: bool,
    /// The class its return annotation declares (`-> Sampler`, `-> "Sampler"`, `-> Optional[B]`),
    /// as a [`Val::Declared`] value; for a property without one, the value its `return`s give
    /// when they agree. What the project pass takes a call's result to be.
    pub return_val: Option<ValId>,
    /// Bit `i`: the file proves nothing of parameter `i` (no annotation, or one that names no
    /// type the rules know): callers' arguments may give it one (`project/declared.rs`).
    pub untyped_params: u32,
    /// Bit `i`: parameter `i` is annotated as a tensor (which says nothing of its memory: callers
    /// that all pass host data make it a host tensor).
    pub tensor_params: u32,
    /// Bit `i`: the function tests the type of parameter `i` (`isinstance(x, ...)`,
    /// `torch.is_tensor(x)`): it takes values of several types, and its callers' arguments do not
    /// type it.
    pub tested_params: u32,
    /// Bit `i`: a construct some rule reads mentions parameter `i` (a condition, an index or slice
    /// bound, a sync method's receiver...): only those are typed from callers' arguments.
    pub read_params: u32,
    /// How many parameters positional arguments fill (the receiver included); `*args` follows.
    pub positional: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassSummary {
    pub name: String,
    pub row: u32,
    pub bases: Vec<ValId>,
    /// Attribute values: `self.x = ...` in any method, and class-level assignments/annotations.
    pub attrs: Vec<(NameId, ValId)>,
    /// Method name to function index.
    pub methods: Vec<(NameId, FuncIdx)>,
    /// The types this file proves for its attributes (class-level annotations, dataclass and
    /// `NamedTuple` fields, `self.x = ...`), for other files' reads of them. Only proven types.
    pub attr_tys: Vec<(NameId, Ty)>,
    /// Class-level annotations (dataclass and `NamedTuple` fields among them) and annotated
    /// `self.x: ... = ...` assignments of containers that hold tensors (`masks:
    /// Optional[Dict[int, Tuple[P, torch.Tensor]]]`), or of lists and tuples: what is taken out
    /// of them, for other files' reads.
    pub attr_containers: Vec<(NameId, Declared)>,
    /// Attributes a method assigns a host value (`self.x = self.x.to("cpu")`).
    pub host_attrs: Vec<NameId>,
    /// Attributes a method other than `__init__` assigns a device tensor, with that method's name
    /// (`self.timesteps = torch.from_numpy(ts).to(device)` in `set_timesteps`).
    pub device_moves: Vec<(NameId, NameId)>,
    /// Attributes a method other than `__init__` assigns a host value.
    pub late_host_attrs: Vec<NameId>,
    /// For an `Enum` subclass: its members named like classes (`DDIMScheduler = 1`), which an
    /// annotation with the enum stands for (see `Project::enum_member_classes`).
    pub class_members: Vec<NameId>,
}

/// An attribute read on a symbolic receiver (`obj.size`, `self.model_runner`): a call when the
/// attribute is a property of the receiver's class. Once per function, region and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttrRead {
    pub func: FuncIdx,
    pub region: Option<RegionIdx>,
    /// A [`Val::Attr`] or [`Val::SelfAttr`].
    pub val: ValId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallKind {
    /// `callee(...)`
    Call,
    /// `callee[...]`: `__getitem__` of a project class.
    GetItem,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallSite {
    pub func: FuncIdx,
    pub region: Option<RegionIdx>,
    pub callee: ValId,
    pub kind: CallKind,
    /// Positional arguments (a range of [`FileSummary::call_args`]; `None` for those without a
    /// symbolic value).
    pub args: Items,
    /// Keyword arguments with a symbolic value (a range of [`FileSummary::call_kwargs`]).
    pub kwargs: Items,
}

/// An attribute read or call whose value the file could only describe symbolically
/// (`param.field`, `imported_function(...)`): the project pass may prove its type from other
/// files' declarations (see `project/types.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeQuestion {
    /// The expression's range in the file (nested expressions may share a start).
    pub start: u32,
    pub end: u32,
    pub func: FuncIdx,
    pub val: ValId,
    /// The question is about the result of calling `val` (a call the file types as unknown).
    pub call: bool,
    /// Elements are taken out of the value (it is indexed or iterated, `.items()` too): a
    /// declared container's answer can change a finding.
    pub elements: bool,
    /// The value is indexed by what may be a tensor: a declared list's answer can change one.
    pub indexed: bool,
}

/// What a call site passes positionally, for the parameters' types across files
/// (`project/declared.rs`): recorded for every call that passes arguments (a method of a private
/// class, whose callers are all in the tree, may be called by any name), and where it passes a
/// proven device tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorArgs {
    /// Index into [`FileSummary::calls`].
    pub call: u32,
    /// Bit `i`: positional argument `i` is a device tensor.
    pub positions: u32,
    pub row: u32,
    /// Bit `i`: positional argument `i` is an array in host memory (a host tensor, a numpy array).
    pub host: u32,
    /// Bit `i`: positional argument `i` is a Python value (a number, a string, `None`...).
    pub scalars: u32,
    /// The call spreads `*args` or `**kwargs`: which parameter gets what is not known.
    pub spread: bool,
    /// The callee is named as a private or local function (all of whose callers are in the tree).
    pub closed: bool,
}

/// An argument the file could only describe as the result of a call it asks other files about
/// (`h = helper(x)`, `a, b = helper(x)`, then `f(a)`): the project pass answers it for the
/// parameter it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredArg {
    /// Index into [`FileSummary::calls`].
    pub call: u32,
    /// The position it is passed at, or `u32::MAX` for a keyword argument.
    pub position: u32,
    pub keyword: Option<NameId>,
    /// What was called to give the argument, and for a tuple unpacked from it, which element.
    pub callee: ValId,
    pub element: Option<u32>,
    pub row: u32,
}

/// A parameter passed on as an argument (`def f(x): return _g(x)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedArg {
    /// Index into [`FileSummary::calls`].
    pub call: u32,
    /// The position it is passed at, or `u32::MAX` for a keyword argument.
    pub position: u32,
    pub keyword: Option<NameId>,
    /// The calling function's parameter.
    pub param: u32,
    pub row: u32,
    /// Passed as arithmetic on the parameter (`prev = timestep - k`, then `f(prev)`): a tensor
    /// when the parameter is one, but not the same value.
    pub derived: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegionKind {
    /// A `for` or `while` body: a decode loop if it drives a model and does not train it.
    Loop,
    /// A `with torch.cuda.graph(...)` block: everything in it is captured.
    CudaGraph,
    /// A branch that runs only in training mode (`if self.training:`, `if labels is not None:`):
    /// never on a hot path.
    TrainingOnly,
    /// The arguments of a `raise` or an `assert`'s message: they run once, when failing.
    ErrorPath,
    /// The body of `if needed > self.table.size(0):`: it rebuilds a table the object keeps
    /// when the table is too small, once per growth, not every step.
    TableGrowth,
    /// The body of `if self.x is None:` that assigns `self.x`: it fills state the object keeps,
    /// once per object (or per reset), not every step.
    LazyInit,
    /// An `if`/`elif`/`else` arm that runs only for some values of a parameter of a private
    /// function ([`ParamArm`]): cold when every call in the tree passes a value that rules it out
    /// (`project/constants.rs`), which only the project pass can tell.
    ParamArm,
    /// The body of `if debug:` (or `log`, `verbose`, `profile`, `timing`...) on a parameter whose
    /// default is `False`: diagnostics a caller opts into, not the step itself.
    OptInDiagnostics,
}

impl RegionKind {
    /// Whether code in a region of this kind is never hot, and calls made there pass no heat on.
    pub fn is_cold(self) -> bool {
        matches!(
            self,
            RegionKind::TrainingOnly
                | RegionKind::ErrorPath
                | RegionKind::TableGrowth
                | RegionKind::LazyInit
                | RegionKind::OptInDiagnostics
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Region {
    pub kind: RegionKind,
    pub func: FuncIdx,
    pub parent: Option<RegionIdx>,
    pub row: u32,
    /// The loop calls `backward`, `zero_grad` or an optimizer's `step`: a training loop.
    pub training: bool,
    /// A `for` loop over the elements of one sequence: a tensor, or a slice (`for xx in x[1:]`).
    pub over_elements: bool,
    /// A `for` loop over a model's modules, parameters or buffers (`model.named_modules()`, or a
    /// list made of them): it visits the model's parts, it runs no step.
    pub over_model_parts: bool,
}

/// A literal a call passes, a parameter's default, or what an `if` test compares a parameter with.
/// Strings are names of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Const {
    None,
    Bool(bool),
    Int(i64),
    Str(NameId),
}

/// What a parameter is tested for in an `if` test (see [`ParamArm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArmTest {
    /// `if p:`
    Truthy,
    /// `if p is None:`, `if p is True:` (identity with `None`, `True` or `False`).
    Is(Const),
    /// `if p == "x":`
    Equals(Const),
}

/// A parameter's default value: none, a literal, or something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamDefault {
    Required,
    Literal(Const),
    Other,
}

/// A condition on a parameter for an arm of an `if` to run: the arm (region `region`, of kind
/// [`RegionKind::ParamArm`]) runs only when `test` on parameter `param` of the function gives
/// `runs_when` (its own test, or an earlier arm's test that must have failed). Recorded for
/// private functions (whose callers are all in the tree: see `project/constants.rs`) whose
/// parameter no statement binds again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamArm {
    pub region: RegionIdx,
    pub func: FuncIdx,
    pub param: u32,
    pub test: ArmTest,
    pub runs_when: bool,
    pub default: ParamDefault,
}

/// What a call passes that is not a symbolic value (see [`ParamArm`]): at a position or by
/// keyword, a literal (`Some`) or something else (`None`). Every keyword argument is listed;
/// positional arguments only when literal (the others are in [`CallSite::args`]). A call that
/// spreads `*args` or `**kwargs` has one entry with `slot` [`LiteralArg::SPREAD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiteralArg {
    /// Index into [`FileSummary::calls`].
    pub call: u32,
    /// The position, or [`LiteralArg::KEYWORD`] (then `keyword` names it), or [`LiteralArg::SPREAD`].
    pub slot: u32,
    pub keyword: NameId,
    pub value: Option<Const>,
    /// The argument holds only in training (`self.training and ...`, or a name bound to that):
    /// `value` is then `False`, what it is whenever the model infers.
    pub training: bool,
}

impl LiteralArg {
    pub const KEYWORD: u32 = u32::MAX;
    pub const SPREAD: u32 = u32::MAX - 1;
}

/// Special call sites that make roots: `torch.compile(x)` and `make_graphed_callables(x)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootSite {
    pub value: ValId,
    pub reason: RootReason,
}

/// Why a [`RootSite`]'s value is a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootReason {
    Compiled,
    Graphed,
}

impl RootReason {
    pub fn text(self) -> &'static str {
        match self {
            RootReason::Compiled => "compiled with torch.compile",
            RootReason::Graphed => "passed to torch.cuda.make_graphed_callables",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileSummary {
    pub names: Names,
    pub funcs: Vec<FuncSummary>,
    pub classes: Vec<ClassSummary>,
    /// Module-level bindings (defs, classes, imports, assignments), last one wins.
    pub globals: Vec<(NameId, ValId)>,
    /// `from x import *` targets.
    pub star_imports: Vec<ImportPath>,
    pub vals: Vec<Val>,
    /// The elements of [`Val::Collection`] and [`Val::Union`] values.
    pub items: Vec<ValId>,
    pub calls: Vec<CallSite>,
    pub attr_reads: Vec<AttrRead>,
    pub call_args: Vec<Option<ValId>>,
    pub call_kwargs: Vec<(NameId, ValId)>,
    pub regions: Vec<Region>,
    pub root_sites: Vec<RootSite>,
    pub questions: Vec<TypeQuestion>,
    pub tensor_args: Vec<TensorArgs>,
    /// Keyword arguments that pass a host value (see [`crate::python::types::is_host_value`]),
    /// as (index into [`FileSummary::calls`], keyword): a constructor filling a field with one
    /// says the field lives in host memory.
    pub host_kwargs: Vec<(u32, NameId)>,
    /// Positional arguments that pass a host value, as (index into [`FileSummary::calls`],
    /// position): a constructor filling its `__init__`'s parameter of a field's name with one
    /// says the same.
    pub host_args: Vec<(u32, u32)>,
    /// Keyword arguments of calls that may construct a class (`cls(...)` in a classmethod, a
    /// capitalised name), as (the callee, keyword, what it holds as a [`Declared`] structure:
    /// `{k: (p, mask)}` with `mask` a boolean tensor is a map of tuples whose second element is
    /// one; tensors as leaves, anything else an unknown leaf; `None` not at all). For the
    /// dataclass and `NamedTuple` fields that every construction in the tree fills with boolean
    /// tensors (see `project/declared.rs`).
    pub field_kwargs: Vec<(ValId, NameId, Declared)>,
    /// The callees of such calls that pass positional or `**` arguments: what they fill is not
    /// known by name, and no field of the classes they construct is refined.
    pub opaque_constructions: Vec<ValId>,
    /// Keyword arguments that pass a proven device tensor, as (call, keyword, row).
    pub tensor_kwargs: Vec<(u32, NameId, u32)>,
    /// Every keyword argument of the calls in [`Self::tensor_args`], as (call, keyword, the host
    /// data it passes if any: [`crate::python::types::host_data`]).
    pub closed_kwargs: Vec<(u32, NameId, Option<HostData>)>,
    pub answered_args: Vec<AnsweredArg>,
    /// Arguments that pass one of the calling function's own parameters on unchanged (not rebound
    /// before the call, or through a name bound to it): for the calls in [`Self::tensor_args`] of
    /// private or local functions (host data), and for any call (device tensors given to the
    /// parameter reach the callee, `project/declared.rs`).
    pub forwarded_args: Vec<ForwardedArg>,
    /// Multimodal input fields the file declares (`image_grid_thw=MultiModalFieldConfig.batched(
    /// ...)`), and whether each is kept in host memory (`keep_on_cpu=True`): see
    /// `checker/kept_fields.rs`.
    pub mm_fields: Vec<(NameId, bool)>,
    /// The string keys of the mapping reads (`x["k"]`, `x.pop("k")`, `x.get("k")`) whose key the
    /// file does not itself keep on the CPU, each once: where another file's declaration may.
    pub field_reads: Vec<NameId>,
    /// Conditions on parameters of private functions for `if` arms to run (see [`ParamArm`]).
    pub param_arms: Vec<ParamArm>,
    /// What calls of private functions pass as literals (see [`LiteralArg`]), by call.
    pub literal_args: Vec<LiteralArg>,
    /// Private names (`_helper`) read other than as the callee of a call in [`Self::calls`]
    /// (`partial(self._helper, ...)`, `hooks.append(_helper)`, a call of `x[0]._helper`), each
    /// once: a function of that name may be called where no call site says with what.
    pub private_refs: Vec<NameId>,
    /// A diffusion scheduler's calls told by their text, with their regions (see
    /// `project/roots.rs`): also where the receiver has no value the project pass could name
    /// (`schedulers[i].step(...)`, `deepcopy(scheduler).set_timesteps(...)`).
    pub denoising_calls: Vec<(DenoisingCall, Option<RegionIdx>)>,
}

/// See [`FileSummary::denoising_calls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DenoisingCall {
    /// `<...scheduler...>.step(output, timestep, sample, ...)`: one denoising step.
    Step,
    /// `<...>.set_timesteps(...)` or `retrieve_timesteps(...)`: a denoising run is set up.
    SetTimesteps,
}

impl FileSummary {
    pub fn add_val(&mut self, val: Val) -> ValId {
        self.vals.push(val);
        (self.vals.len() - 1) as ValId
    }

    /// Stores a list of values for a [`Val::Collection`] or [`Val::Union`].
    pub fn add_items(&mut self, values: impl IntoIterator<Item = ValId>) -> Items {
        let start = self.items.len();
        self.items.extend(values);
        Items { start: start as u32, len: (self.items.len() - start) as u32 }
    }

    pub fn items(&self, items: Items) -> &[ValId] {
        &self.items[items.start as usize..(items.start + items.len) as usize]
    }

    pub fn args(&self, call: &CallSite) -> &[Option<ValId>] {
        &self.call_args[call.args.start as usize..(call.args.start + call.args.len) as usize]
    }

    pub fn kwargs(&self, call: &CallSite) -> &[(NameId, ValId)] {
        &self.call_kwargs[call.kwargs.start as usize..(call.kwargs.start + call.kwargs.len) as usize]
    }
}

/// The function index of module-level code in every summary.
pub const MODULE_FUNC: FuncIdx = 0;
