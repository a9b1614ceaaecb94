//! The per-file pass: ONE traversal of the AST that infers types bottom-up, hands every node to
//! the rules that care about it, and fills the file's [`FileSummary`] for the hot-path pass.
//!
//! This file holds the [`Checker`] and the traversal of statements, functions and classes; the
//! other jobs live beside it: `expressions.rs` (the traversal of expressions and calls),
//! `prescan.rs` (what is read before a module or class body is visited), `imports.rs` (imports
//! and qualified names), `names.rs` (the summary's names and the symbolic values of names) and
//! `inference.rs` (the types of annotations, operators and call results).

use std::borrow::Cow;
use std::ops::Range;

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::adapter::{ast, span, BoolOp, CmpOp, Expr, Ranged, Stmt, UnaryOp};
use super::rules::{self, TestContext};
use super::summary::*;
use super::types::{range_key, Declared, ForeignTypes, GivenTensor, Ty};
use crate::frontend::{Candidate, FileContext};
use crate::rule::Rule;

mod attribute_flow;
mod expressions;
mod flow;
mod imports;
mod inference;
mod kept_fields;
mod names;
mod param_arms;
mod prescan;
mod shapes;
mod skips;

pub(crate) use flow::Carried;
use inference::{binop_ty, ReturnFlow};
pub(crate) use skips::{Outline, Skips};

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
    /// The name of `cls` and the class index, inside a classmethod.
    cls_of: Option<(&'a str, u32)>,
    /// The function takes a `labels` parameter: `if labels is not None:` is a training branch.
    labels_param: bool,
    /// The function's parameters, and (bit `i`) those bound again since its start.
    params: SmallVec<[&'a str; 6]>,
    rebound: u32,
    /// In a function whose `if` arms are recorded for the project pass (see `param_arms.rs`):
    /// its parameters' defaults (`None` for those no caller passes by name or position).
    arm_defaults: Option<SmallVec<[Option<ParamDefault>; 6]>>,
    /// Its parameters that switch diagnostics on, off by default (`debug=False`, `log=False`).
    diagnostics_flags: SmallVec<[&'a str; 1]>,
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
    /// Module-level functions that return tuples with some element in host memory: what each
    /// element is ([`FuncSummary::return_elements`]), for `a, b = f()` after them.
    function_elements: FxHashMap<&'a str, Vec<Ty>>,
    type_aliases: FxHashMap<&'a str, Ty>,
    has_star_import: bool,
    /// Whether the file says `nonlocal` anywhere (once asked): most do not, and then no function
    /// body is searched for it.
    has_nonlocal: Option<bool>,
    scopes: Vec<Scope<'a>>,
    /// Emptied variable maps of finished scopes, reused so they need not grow again.
    spare_vars: Vec<FxHashMap<&'a str, Ty>>,
    classes: Vec<ClassInfo<'a>>,
    regions: Vec<RegionIdx>,
    /// Inside an `assert` message or a `raise`: formatting there only runs on the error path.
    error_path: u32,
    /// The private names already in the summary's `private_refs`.
    private_refs_seen: FxHashSet<NameId>,
    /// Set while the callee of a call, a plain name, is visited (it is no reference that escapes).
    in_callee: bool,
    /// Nesting of [`Self::expr`] calls, to check the stack only now and then.
    expr_depth: u32,
    global_vals: FxHashMap<&'a str, ValId>,
    attr_vals: FxHashMap<(ValId, &'a str), ValId>,
    self_attr_vals: FxHashMap<(u32, &'a str), ValId>,
    /// The attribute reads recorded so far (see [`AttrRead`]).
    attr_reads_seen: FxHashSet<AttrRead>,
    /// The summary's names, each stored once.
    name_ids: FxHashMap<&'a str, NameId>,
    /// Start offsets of list/tuple literals and list comprehensions that hold a device tensor
    /// (directly or in a nested literal), for the rules that look at a call's literal argument.
    device_tensor_literals: FxHashSet<u32>,
    /// Start offsets of list/tuple literals and list comprehensions whose elements are all
    /// tensors in host memory (directly or in nested such literals): `torch.cat([a, b])` of them
    /// is in host memory too.
    host_tensor_literals: FxHashSet<u32>,
    /// Start offsets of list literals and list comprehensions whose elements are Python lists
    /// (`[[1, 2], [3]]`, `[f(x) for x in xs]` with `f` returning a list).
    list_of_lists_literals: FxHashSet<u32>,
    /// Local names bound to such a list, per function: iterating one gives Python lists, which
    /// index a tensor by uploading themselves.
    lists_of_lists: FxHashSet<(FuncIdx, &'a str)>,
    /// Local names bound to a list of a model's parts, per function (see
    /// [`Checker::walks_model_structure`]).
    model_parts: FxHashSet<(FuncIdx, &'a str)>,
    /// Whether the file may change the default device of torch's factories (computed on first
    /// use; see [`Checker::default_device_may_change`]).
    default_device_changes: std::cell::OnceCell<bool>,
    /// What the project pass proved from other files, when this is a re-check (see
    /// `project/declared.rs`); `None` in the first pass, which records questions instead.
    foreign: Option<&'a ForeignTypes>,
    /// First pass only: symbolic values a rule's construct reads (a sync method's receiver, a
    /// condition, a compare, an index, a builtin's argument). Only questions about these or
    /// what they derive from are kept, so that a re-check is asked for only where an answer can
    /// change a finding.
    read_vals: Vec<ValId>,
    /// First pass only: values whose elements are read through names the summary cannot trace
    /// back to them (`for k, v in x.attr.items()`).
    element_reads: Vec<ValId>,
    /// First pass only: values indexed by what may be a tensor.
    indexed_reads: Vec<ValId>,
    /// First pass only: questions about call results the file types as unknown (no symbolic
    /// value carries them to their readers), by the call's range, and the local names bound to
    /// them (`h = helper(x)`, `a, b = helper(x)`), so that a construct reading them can be traced.
    unknown_calls: FxHashMap<u64, ValId>,
    /// With, for a name bound by unpacking a tuple, its position in the tuple.
    unknown_names: FxHashMap<(FuncIdx, &'a str), (ValId, Option<u32>)>,
    /// Symbolic values (kept for the project pass) known to be in host memory: `.cpu()` and
    /// `.to("cpu")` results, with the type the rules see.
    host_vals: FxHashMap<ValId, Ty>,
    /// What the `return`s of the functions being visited give, innermost last.
    returns: Vec<ReturnFlow>,
    /// Local names bound to a 0-d tensor (a full reduction, `torch.tensor(3)`), per function.
    scalars: FxHashSet<(FuncIdx, &'a str)>,
    /// Local names bound to a parameter as it was passed (`timesteps = timestep`), per function:
    /// the parameter's index.
    param_aliases: FxHashMap<(FuncIdx, &'a str), u32>,
    /// Local names bound to a value that holds only in training (`self.training and ...`), per
    /// function: passed on, they are `False` whenever the model infers (`param_arms.rs`).
    training_flags: FxHashSet<(FuncIdx, &'a str)>,
    /// Set by an `if` without `else` whose body always leaves (`if not self.training: return
    /// x`): what follows it in the enclosing block runs only when its test failed, and is a
    /// region of its own ([`GuardedRest`]). The block's visit takes it after the statement.
    guarded_rest: Option<GuardedRest>,
    /// Local names bound to a 1-d tensor (`x.nonzero(as_tuple=True)[0]`, `x.flatten()`), per
    /// function: iterating or indexing one by a number gives 0-d tensors.
    vectors: FxHashSet<(FuncIdx, &'a str)>,
    /// Local names bound to a tensor whose rank (2 or more) the code proves (`b, n = x.shape`
    /// proves `x` 2-d), per function: indexing one by numbers or iterating it gives tensors of a
    /// known rank too, down to 1-d (`vectors`) and 0-d (`scalars`).
    ranked: FxHashMap<(FuncIdx, &'a str), u32>,
    /// The `if`s and loops being visited, for the types of other paths (see `flow.rs`).
    branch_frames: Vec<flow::BranchFrame<'a>>,
    loop_frames: Vec<flow::LoopFrame<'a>>,
    /// The types loops carried in the previous visit of this file, and those found in this one.
    carried_in: Vec<Carried<'a>>,
    carried_out: Vec<Carried<'a>>,
    /// Local names bound to arithmetic on a parameter (`prev = timestep - k`), per function: the
    /// parameter's index (see [`ForwardedArg::derived`]).
    derived_params: FxHashMap<(FuncIdx, &'a str), u32>,
    /// Parameters annotated as containers that hold tensors (`masks: Dict[int, torch.Tensor]`),
    /// or as lists or tuples, by (function, index): what is taken out of them (see
    /// `Checker::declared_container`).
    declared_params: FxHashMap<(FuncIdx, u32), Declared>,
    /// First pass only: what the tuple, list and dict literals and comprehensions that hold
    /// boolean tensors hold (see `shapes.rs`), by start offset, and the local names bound to one
    /// (per function).
    bool_literals: FxHashMap<u32, Declared>,
    bool_names: FxHashMap<(FuncIdx, &'a str), Declared>,
    /// Local names bound to an instance taken out of a declared container whose call gives a
    /// known type ([`Declared::Calls`]), per function: what calling the name gives.
    callable_names: FxHashMap<(FuncIdx, &'a str), Ty>,
    /// In a re-check, what lets it skip the bodies of functions the answers do not concern.
    skips: Option<&'a Skips<'a>>,
    /// The module-level functions and methods (with their class) visited again whose return, as
    /// later calls see it, may differ from the first pass's (see [`Skips`]): a body that may call
    /// one is not skipped.
    diverged: SmallVec<[(Option<u32>, &'a str); 4]>,
    /// How many answered expressions the module-level functions and methods met so far hold; once
    /// one was outside them (module or class-level code, which may bind names the functions after
    /// it read), nothing more is skipped.
    answers_in_functions: usize,
    answer_outside_functions: bool,
    /// Multimodal input fields kept in host memory (see `kept_fields.rs`), and the keys of the
    /// mapping reads recorded for the project pass.
    kept_fields: FxHashSet<&'a str>,
    keys_read: FxHashSet<&'a str>,
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
            row: 1,
            is_static: true,
            ..FuncSummary::default()
        });
        Checker {
            context,
            imports: FxHashMap::default(),
            module_names: FxHashSet::default(),
            function_returns: FxHashMap::default(),
            function_elements: FxHashMap::default(),
            type_aliases: FxHashMap::default(),
            has_star_import: false,
            has_nonlocal: None,
            scopes: vec![Scope {
                func: MODULE_FUNC,
                vars: FxHashMap::default(),
                self_of: None,
                cls_of: None,
                labels_param: false,
                params: SmallVec::new(),
                rebound: 0,
                arm_defaults: None,
                diagnostics_flags: SmallVec::new(),
            }],
            spare_vars: Vec::new(),
            classes: Vec::new(),
            regions: Vec::new(),
            error_path: 0,
            private_refs_seen: FxHashSet::default(),
            in_callee: false,
            expr_depth: 0,
            global_vals: FxHashMap::default(),
            // Sized from the file (about one entry per 150 bytes on the transformers corpus), so
            // that they do not rehash while they grow.
            attr_vals: FxHashMap::with_capacity_and_hasher(source_len / 150, Default::default()),
            self_attr_vals: FxHashMap::default(),
            attr_reads_seen: FxHashSet::default(),
            name_ids: FxHashMap::with_capacity_and_hasher(source_len / 150, Default::default()),
            device_tensor_literals: FxHashSet::default(),
            host_tensor_literals: FxHashSet::default(),
            list_of_lists_literals: FxHashSet::default(),
            lists_of_lists: FxHashSet::default(),
            model_parts: FxHashSet::default(),
            default_device_changes: std::cell::OnceCell::new(),
            foreign: None,
            read_vals: Vec::new(),
            element_reads: Vec::new(),
            indexed_reads: Vec::new(),
            unknown_calls: FxHashMap::default(),
            unknown_names: FxHashMap::default(),
            host_vals: FxHashMap::default(),
            returns: Vec::new(),
            scalars: FxHashSet::default(),
            param_aliases: FxHashMap::default(),
            vectors: FxHashSet::default(),
            training_flags: FxHashSet::default(),
            guarded_rest: None,
            ranked: FxHashMap::default(),
            branch_frames: Vec::new(),
            loop_frames: Vec::new(),
            carried_in: Vec::new(),
            carried_out: Vec::new(),
            derived_params: FxHashMap::default(),
            declared_params: FxHashMap::default(),
            bool_literals: FxHashMap::default(),
            bool_names: FxHashMap::default(),
            callable_names: FxHashMap::default(),
            skips: None,
            diverged: SmallVec::new(),
            answers_in_functions: 0,
            answer_outside_functions: false,
            kept_fields: FxHashSet::default(),
            keys_read: FxHashSet::default(),
            summary,
            candidates: Vec::new(),
        }
    }

    /// Makes this a visit that knows the types loops carry (found by an earlier visit).
    pub fn with_carried(mut self, carried: Vec<Carried<'a>>) -> Self {
        self.carried_in = carried;
        self
    }

    /// Makes this a re-check with the types the project pass proved from other files.
    pub fn with_foreign(mut self, foreign: &'a ForeignTypes) -> Self {
        self.foreign = Some(foreign);
        self
    }

    /// Lets this re-check skip the bodies of the functions `skips` says the answers do not concern.
    pub fn with_skips(mut self, skips: &'a Skips<'a>) -> Self {
        self.skips = Some(skips);
        self
    }

    /// The hook between an expression and the types other files prove: in the first pass, a
    /// symbolic attribute read or call result becomes a question for the project pass; in a
    /// re-check, its answer (a tensor, tensors, a stream) replaces the symbolic value.
    /// `calls_before` is the number of call sites before `expr` was visited: a call whose result
    /// the file cannot describe (a function's) asks about the call site it recorded, if any.
    #[inline]
    pub(crate) fn foreign_ty(&mut self, expr: &'a Expr, ty: Ty, calls_before: usize) -> Ty {
        // Most expressions are none of these: they return at once, without a call.
        match (expr, ty) {
            (Expr::Subscript(_) | Expr::Attribute(_) | Expr::Call(_), Ty::Val(_)) | (Expr::Call(_), Ty::Unknown) => {
                self.foreign_ty_of(expr, ty, calls_before)
            }
            _ => ty,
        }
    }

    /// [`Self::foreign_ty`] for the expressions it concerns.
    #[inline(never)]
    fn foreign_ty_of(&mut self, expr: &'a Expr, ty: Ty, calls_before: usize) -> Ty {
        let (val, call) = match (expr, ty) {
            // An element of a declared container (`masks[k]`, `info.pairs[0][1]`).
            (Expr::Subscript(_), Ty::Val(_)) => return self.declared_element_ty(expr).unwrap_or(ty),
            (Expr::Attribute(_) | Expr::Call(_), Ty::Val(val)) => (val, false),
            (Expr::Call(_), Ty::Unknown) if self.summary.calls.len() > calls_before => {
                let Some(site) = self.summary.calls.last().filter(|c| c.kind == CallKind::Call) else { return ty };
                // Asked about as the result of calling the callee, without a value of its own.
                (site.callee, true)
            }
            _ => return ty,
        };
        let range = span(expr);
        let (start, end) = (range.start as u32, range.end as u32);
        match self.foreign {
            Some(foreign) => foreign.exprs.get(&range_key(start, end)).copied().unwrap_or(ty),
            None => {
                let func = self.current_func();
                let question = TypeQuestion { start, end, func, val, call, elements: false, indexed: false };
                self.summary.questions.push(question);
                // A call result the file types as unknown carries no symbolic value to the
                // constructs that read it: they find it by its range or by the name bound to it.
                if !matches!(ty, Ty::Val(_)) {
                    self.unknown_calls.insert(range_key(start, end), val);
                }
                ty
            }
        }
    }

    /// `self.x = <host value>` (`self.lens.to("cpu")`, `lens_cpu`): the class keeps `x` in host
    /// memory at least some of the time, so other files never take it for a device tensor.
    fn note_host_attribute(&mut self, targets: &'a [Expr], value: &Expr, ty: Ty) {
        if self.foreign.is_some() {
            return;
        }
        let mut host = None;
        for target in targets {
            if let Expr::Attribute(attribute) = target {
                if let Some(class) = self.self_attribute_owner(&attribute.value) {
                    // Only now, for an attribute of `self`: the value's text can be long, and
                    // most assignments have other targets.
                    if !*host.get_or_insert_with(|| super::types::is_host_value(ty, &self.context.source[span(value)]))
                    {
                        return;
                    }
                    let name = self.name(attribute.attr.as_str());
                    self.summary.classes[class as usize].host_attrs.push(name);
                    // (`torch.from_numpy(ts).to(device)` is named like host data, but moved.)
                    if !self.in_constructor() && !attribute_flow::places_on_device(value) {
                        self.summary.classes[class as usize].late_host_attrs.push(name);
                    }
                }
            }
        }
    }

    pub fn check_module(&mut self, body: &'a [Stmt]) {
        self.prescan_module(body);
        self.prescan_kept_fields(body);
        for stmt in body {
            self.stmt(stmt);
            // (Module-level code after a guard is not a function's: no region.)
            self.guarded_rest = None;
        }
        if self.foreign.is_none() {
            self.keep_read_questions();
        }
    }

    /// In the first pass, the value of `expr` (of type `ty`) that a rule's construct reads (see
    /// [`Self::read_vals`]): a symbolic value, or an unknown one traced through attributes,
    /// calls and subscripts to a call result or a name bound to one that is asked about.
    pub(crate) fn note_read(&mut self, expr: &Expr, ty: Ty) {
        if self.foreign.is_some() {
            return;
        }
        self.note_param_reads(expr);
        if let Ty::Val(val) = ty {
            self.read_vals.push(val);
            return;
        }
        if self.unknown_calls.is_empty() {
            return;
        }
        let mut expr = expr;
        loop {
            expr = match expr {
                Expr::Attribute(attribute) => &attribute.value,
                Expr::Subscript(subscript) => &subscript.value,
                Expr::Call(call) => {
                    let range = span(expr);
                    if let Some(&val) = self.unknown_calls.get(&range_key(range.start as u32, range.end as u32)) {
                        self.read_vals.push(val);
                        return;
                    }
                    &call.func
                }
                Expr::Name(name) => {
                    if let Some(&(val, _)) = self.unknown_names.get(&(self.current_func(), name.id.as_str())) {
                        self.read_vals.push(val);
                    }
                    return;
                }
                _ => return,
            };
        }
    }

    /// `h = helper(x)` or `a, b = helper(x)` where the call's result is asked about.
    /// `val` is the call's value asked about (see [`Self::unknown_calls`]).
    fn note_unknown_binding(&mut self, targets: &'a [Expr], val: ValId) {
        let func = self.current_func();
        for target in targets {
            match target {
                Expr::Name(name) => {
                    self.unknown_names.insert((func, name.id.as_str()), (val, None));
                }
                Expr::Tuple(tuple) => {
                    let starred = tuple.elts.iter().any(Expr::is_starred_expr);
                    for (position, element) in tuple.elts.iter().enumerate() {
                        if let Expr::Name(name) = element {
                            let position = (!starred).then_some(position as u32);
                            self.unknown_names.insert((func, name.id.as_str()), (val, position));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// `self.x = helper(...)` where the file does not know what `helper` returns: the class's
    /// attribute `x` is the call's result, for the project pass (a project function's declared
    /// return class, `-> "Sampler"`). The types the rules see are unchanged.
    /// `callee` is the call's value asked about (see [`Self::unknown_calls`]).
    fn note_call_attribute(&mut self, targets: &'a [Expr], callee: ValId) {
        for target in targets {
            let Expr::Attribute(attribute) = target else { continue };
            if let Some(class) = self.self_attribute_owner(&attribute.value) {
                let name = self.name(attribute.attr.as_str());
                let result = self.summary.add_val(Val::Call(callee));
                self.summary.classes[class as usize].attrs.push((name, result));
            }
        }
    }

    /// Drops the questions whose value no rule's construct reads, directly or through what is
    /// derived from it (`h.sum()` read by `.item()` reads `h`): their answers cannot change a
    /// finding, and a file left without questions is not checked again.
    fn keep_read_questions(&mut self) {
        if self.summary.questions.is_empty() {
            return;
        }
        let summary = &self.summary;
        let mut read = vec![false; summary.vals.len()];
        let mut work = std::mem::take(&mut self.read_vals);
        while let Some(val) = work.pop() {
            match read.get_mut(val as usize) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            match summary.vals[val as usize] {
                Val::Attr(base, _) | Val::Call(base) | Val::Elem(base) => work.push(base),
                Val::Collection(items) | Val::Union(items) => work.extend_from_slice(summary.items(items)),
                _ => {}
            }
        }
        self.summary.questions.retain(|q| read.get(q.val as usize).copied().unwrap_or(true));
        if self.summary.questions.is_empty() {
            return;
        }
        // Which of them have elements taken out, or are indexed by value (for declared
        // containers' answers): bit 0 and bit 1.
        let mut taken = vec![0u8; self.summary.vals.len()];
        for val in &self.summary.vals {
            if let Val::Elem(base) = *val {
                taken[base as usize] |= 1;
            }
        }
        for &val in &self.element_reads {
            taken[val as usize] |= 1;
        }
        for &val in &self.indexed_reads {
            taken[val as usize] |= 2;
        }
        for question in &mut self.summary.questions {
            let taken = taken.get(question.val as usize).copied().unwrap_or(0);
            question.elements = taken & 1 != 0;
            question.indexed = taken & 2 != 0;
        }
    }

    // ----- reporting -------------------------------------------------------------------------

    pub(crate) fn report(&mut self, rule: &'static Rule, range: Range<usize>, message: String, help: &str) {
        self.report_from(rule, range.clone(), range.start, message, help);
    }

    /// [`Self::report`] for a finding on a call, at [`Self::call_site`].
    pub(crate) fn report_call(&mut self, rule: &'static Rule, call: &rules::CallInfo, message: String, help: &str) {
        let whole = call.range();
        self.report_from(rule, self.call_site(call.call), whole.start, message, help);
    }

    /// A finding at `range` of an expression that starts at `from` (see `FileContext::finding`).
    fn report_from(&mut self, rule: &'static Rule, range: Range<usize>, from: usize, mut message: String, help: &str) {
        if let Some(foreign) = self.foreign {
            let func = self.current_func();
            let text = &self.context.source[from..range.end];
            // In parameter order: the map's order differs between a fresh and a cached result.
            let mut given: SmallVec<[(u32, &GivenTensor); 2]> = (foreign.params.iter())
                .filter(|(&(f, _), given)| f == func && mentions(text, &given.name))
                .map(|(&(_, index), given)| (index, given))
                .collect();
            given.sort_unstable_by_key(|&(index, _)| index);
            for (_, GivenTensor { name, caller, annotated, .. }) in given {
                message.push_str(&if *annotated {
                    format!(" (`{name}` is annotated as a Python number, but callers pass a tensor: {caller})")
                } else {
                    format!(" (`{name}` is not annotated, and callers pass a tensor: {caller})")
                });
            }
        }
        let Some(diagnostic) = self.context.finding(rule, range, from, message, help) else { return };
        self.candidates.push(Candidate { diagnostic, func: self.current_func(), region: self.regions.last().copied() });
    }

    /// Where a finding on `call` points: the whole call, except that a method call written over
    /// several lines (`x[...]\n    .cpu()`) points from the method's name on, the line CPython
    /// attributes the call to (tracebacks, and so the runtime probe, name that line).
    pub(crate) fn call_site(&self, call: &ast::ExprCall) -> Range<usize> {
        let whole = span(call);
        if let Expr::Attribute(attribute) = &*call.func {
            let method = span(&attribute.attr).start;
            if self.context.source[whole.start..method].contains('\n') {
                return method..whole.end;
            }
        }
        whole
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

    /// The text of a method call's receiver for messages: parenthesised when the source had it in
    /// parentheses for precedence (`(a // b).tolist()`), since the parser's range leaves them out
    /// and `a // b.tolist()` would misquote the code.
    pub(crate) fn receiver_text(&self, receiver: &Expr) -> std::borrow::Cow<'a, str> {
        let text = self.text(receiver);
        let binds_looser_than_attribute = matches!(
            receiver,
            Expr::BinOp(_)
                | Expr::UnaryOp(_)
                | Expr::BoolOp(_)
                | Expr::Compare(_)
                | Expr::If(_)
                | Expr::Lambda(_)
                | Expr::Named(_)
                | Expr::Await(_)
                | Expr::Yield(_)
                | Expr::YieldFrom(_)
                | Expr::Starred(_)
        );
        if binds_looser_than_attribute {
            std::borrow::Cow::Owned(format!("({text})"))
        } else {
            text
        }
    }

    /// Whether `expr` is a list/tuple literal or list comprehension with device tensors among its
    /// elements (already visited).
    pub(crate) fn holds_device_tensors(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::List(_) | Expr::Tuple(_) | Expr::ListComp(_))
            && self.device_tensor_literals.contains(&(span(expr).start as u32))
    }

    /// Whether `expr` (already visited) is a list whose elements are Python lists: such a literal
    /// or comprehension, or a local bound to one.
    pub(crate) fn holds_lists(&self, expr: &Expr) -> bool {
        match expr {
            Expr::List(_) | Expr::ListComp(_) => self.list_of_lists_literals.contains(&(span(expr).start as u32)),
            Expr::Name(name) => {
                !self.lists_of_lists.is_empty()
                    && self.lists_of_lists.contains(&(self.current_func(), name.id.as_str()))
            }
            _ => false,
        }
    }

    /// Whether `expr` is a list/tuple literal or list comprehension of tensors in host memory
    /// (see [`Self::host_tensor_literals`]), or such a literal unpacked (`*[...]`).
    pub(crate) fn holds_host_tensors(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Starred(starred) => self.holds_host_tensors(&starred.value),
            Expr::List(_) | Expr::Tuple(_) | Expr::ListComp(_) => {
                self.host_tensor_literals.contains(&(span(expr).start as u32))
            }
            _ => false,
        }
    }

    /// Whether this file may change the default device of torch's factories
    /// (`torch.set_default_device(...)`, `torch.set_default_tensor_type(...)`, `with
    /// torch.device(...):`): then a factory without `device=` is not proven to allocate in host
    /// memory. (A call in another file, or in the program that imports this one, is not seen.)
    pub(crate) fn default_device_may_change(&self) -> bool {
        *self.default_device_changes.get_or_init(|| changes_default_device(self.context.source))
    }

    /// Whether the file's text contains `needle` (file-wide switches such as a global opt-out).
    pub(crate) fn source_contains(&self, needle: &str) -> bool {
        // (memchr's searcher: the standard one, asked once per file for `nonlocal`, took 0.6% of
        // a run's instructions on the transformers wheel.)
        memchr::memmem::find(self.context.source.as_bytes(), needle.as_bytes()).is_some()
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

    // ----- statements -------------------------------------------------------------------------

    fn body(&mut self, body: &'a [Stmt]) {
        let mut guards = 0;
        for stmt in body {
            self.stmt(stmt);
            match self.guarded_rest.take() {
                Some(GuardedRest::Training(offset)) => self.push_region(RegionKind::TrainingOnly, offset),
                Some(GuardedRest::Arm(conditions, offset)) => self.push_arm_region(&conditions, offset),
                None => continue,
            }
            guards += 1;
        }
        for _ in 0..guards {
            self.regions.pop();
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
                let (ty, elements) = match ret.value.as_deref() {
                    // Element by element, so that host tensors are not mistaken for device ones.
                    Some(Expr::Tuple(tuple))
                        if !tuple.elts.is_empty() && !tuple.elts.iter().any(Expr::is_starred_expr) =>
                    {
                        let tys: SmallVec<[Ty; 4]> = tuple
                            .elts
                            .iter()
                            .map(|e| {
                                let ty = self.expr(e);
                                self.host_view(e, ty)
                            })
                            .collect();
                        let all_device = tys.iter().all(|t| t.is_device_tensor());
                        (if all_device { Ty::Tensors } else { Ty::Unknown }, Some(tys))
                    }
                    Some(value) => {
                        let ty = self.expr(value);
                        (self.host_view(value, ty), None)
                    }
                    None => (Ty::None, None),
                };
                if let Some(value) = ret.value.as_deref() {
                    self.note_returned_params(value);
                }
                self.note_return(ty, elements);
            }
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    self.expr(target);
                }
            }
            Stmt::Assign(assign) => {
                if let (Expr::Tuple(value), [Expr::Tuple(target)]) = (&*assign.value, assign.targets.as_slice()) {
                    if value.elts.len() == target.elts.len() && !value.elts.iter().any(Expr::is_starred_expr) {
                        let tys: SmallVec<[Ty; 4]> = value.elts.iter().map(|e| self.expr(e)).collect();
                        for (target, ty) in target.elts.iter().zip(tys) {
                            self.assign(target, ty);
                        }
                        return;
                    }
                }
                let ty = self.expr(&assign.value);
                self.note_labels_from_kwargs(&assign.targets, &assign.value);
                self.note_host_attribute(&assign.targets, &assign.value, ty);
                self.note_device_move(&assign.targets, &assign.value, ty);
                let alias = match (assign.targets.as_slice(), &*assign.value) {
                    ([Expr::Name(target)], Expr::Name(value)) => {
                        self.unchanged_param(value.id.as_str()).map(|param| (target.id.as_str(), param))
                    }
                    _ => None,
                };
                if self.foreign.is_none() {
                    // `x[mask] = value`: what is stored through a mask is read by a rule.
                    let into_subscript = |t: &Expr| matches!(t, Expr::Subscript(_));
                    if assign.targets.iter().any(|t| {
                        into_subscript(t) || matches!(t, Expr::Tuple(tuple) if tuple.elts.iter().any(into_subscript))
                    }) {
                        self.note_read(&assign.value, ty);
                    }
                    // (Only calls are asked about as unknown results, see `foreign_ty`: the
                    // value is looked up once, for both.)
                    if matches!(&*assign.value, Expr::Call(_)) && !self.unknown_calls.is_empty() {
                        let range = span(&*assign.value);
                        if let Some(&val) = self.unknown_calls.get(&range_key(range.start as u32, range.end as u32)) {
                            self.note_unknown_binding(&assign.targets, val);
                            self.note_call_attribute(&assign.targets, val);
                        }
                    }
                    self.note_symbolic_call_binding(&assign.targets, ty);
                }
                if let (Some(foreign), [Expr::Tuple(target)]) = (self.foreign, assign.targets.as_slice()) {
                    // `a, b = f()` where another file's `f` returns a tuple known element by element.
                    let value = span(&*assign.value);
                    let key = range_key(value.start as u32, value.end as u32);
                    if let Some(elements) = foreign.elements.get(&key).filter(|e| e.len() == target.elts.len()) {
                        for (target, ty) in target.elts.iter().zip(elements) {
                            self.assign(target, *ty);
                        }
                        return;
                    }
                }
                let host_elements = self.host_return_elements(&assign.value);
                for target in &assign.targets {
                    match (target, &host_elements) {
                        // `a, b = f()` where this file's `f` returns some element in host memory.
                        (Expr::Tuple(tuple), Some(elements)) if elements.len() == tuple.elts.len() => {
                            let element = self.unpacked_element(ty);
                            for (elt, returned) in tuple.elts.iter().zip(elements) {
                                self.assign(elt, if returned.is_host_tensor() { *returned } else { element });
                            }
                        }
                        _ => self.assign(target, ty),
                    }
                }
                self.note_bool_name(&assign.targets, &assign.value, ty);
                self.bind_declared_value(&assign.targets, &assign.value);
                // (After the binding, which forgets what the name was an alias of.)
                if let Some((target, param)) = alias {
                    self.param_aliases.insert((self.current_func(), target), param);
                }
                self.note_derived_param(&assign.targets, &assign.value);
                if let ([Expr::Name(name)], Some(true)) = (assign.targets.as_slice(), self.training_test(&assign.value))
                {
                    // `apply_dropout = self.training and p > 0`: false whenever the model infers.
                    let func = self.current_func();
                    self.training_flags.insert((func, name.id.as_str()));
                }
                if let ([Expr::Name(name)], true) = (assign.targets.as_slice(), self.holds_lists(&assign.value)) {
                    let func = self.current_func();
                    self.lists_of_lists.insert((func, name.id.as_str()));
                }
                if let ([Expr::Name(name)], true) =
                    (assign.targets.as_slice(), self.walks_model_structure(&assign.value))
                {
                    let func = self.current_func();
                    self.model_parts.insert((func, name.id.as_str()));
                }
                if let ([Expr::Name(name)], true) = (assign.targets.as_slice(), ty.is_tensor()) {
                    if let Some(rank) = self.rank(&assign.value) {
                        self.note_rank(name.id.as_str(), rank);
                    }
                }
                self.note_shape_unpacking(&assign.targets, &assign.value);
            }
            Stmt::AugAssign(aug) => {
                let target = match &*aug.target {
                    // Read before it is written: `n += 1` keeps an int an int, `t += 1` a tensor a tensor.
                    Expr::Name(name) => self.lookup(name.id.as_str()),
                    other => self.expr(other),
                };
                let value = self.expr(&aug.value);
                let ty = binop_ty(aug.op, target, value);
                if let Expr::Name(name) = &*aug.target {
                    let scalar = self.is_scalar_operand(&aug.target)
                        && self.is_scalar_operand(&aug.value)
                        && (self.is_scalar(&aug.target) || self.is_scalar(&aug.value));
                    let derived = self.augmented_param(&aug.value, &aug.target);
                    self.bind(name.id.as_str(), ty);
                    if let Some(param) = derived {
                        self.derived_params.insert((self.current_func(), name.id.as_str()), param);
                    }
                    if scalar && ty.is_tensor() {
                        self.note_scalar(name.id.as_str());
                    }
                }
            }
            Stmt::AnnAssign(assign) => {
                let annotated = self.annotation_ty(&assign.annotation);
                let value = assign.value.as_ref().map(|v| self.expr(v));
                let ty = match (annotated, value) {
                    // `grid_thw: torch.Tensor = <host tensor>`: the annotation says nothing of memory.
                    (Ty::Tensor { boolean, .. }, Some(Ty::Tensor { host: true, .. })) => {
                        Ty::Tensor { boolean, host: true }
                    }
                    (Ty::Unknown, _) => value.unwrap_or(Ty::Unknown),
                    _ => annotated,
                };
                if assign.value.is_some() || annotated != Ty::Unknown {
                    self.assign(&assign.target, ty);
                }
                if self.foreign.is_none() {
                    self.note_attribute_container(&assign.target, &assign.annotation);
                }
            }
            Stmt::For(stmt_for) => {
                let over_model_parts = self.walks_model_structure(&stmt_for.iter);
                let (element, over_elements) = self.iteration(&stmt_for.iter, &stmt_for.target);
                self.push_region(RegionKind::Loop, stmt.range().start().to_usize());
                let region = self.summary.regions.len() - 1;
                self.summary.regions[region].over_elements = over_elements;
                self.summary.regions[region].over_model_parts = over_model_parts;
                if let Some(element) = element {
                    self.assign(&stmt_for.target, element);
                }
                self.bind_declared_elements(&stmt_for.iter, &stmt_for.target);
                self.note_iterated_elements(&stmt_for.iter, &stmt_for.target);
                self.loop_begin(stmt.range().start().to_u32());
                self.body(&stmt_for.body);
                self.loop_end();
                self.regions.pop();
                self.body(&stmt_for.orelse);
            }
            Stmt::While(stmt_while) => {
                self.push_region(RegionKind::Loop, stmt.range().start().to_usize());
                if walks_by_index(&stmt_while.test, &stmt_while.body) {
                    let region = self.summary.regions.len() - 1;
                    self.summary.regions[region].over_elements = true;
                }
                self.loop_begin(stmt.range().start().to_u32());
                self.test(&stmt_while.test, TestContext::While);
                self.body(&stmt_while.body);
                self.loop_end();
                self.regions.pop();
                self.body(&stmt_while.orelse);
            }
            Stmt::If(stmt_if) => {
                // `if self.training:` runs its body only in training, `if not self.training:` its
                // other branches: those are regions that are never hot (see README). So does the
                // rest of `self.training and ...` (`and` stops at a false operand).
                let training = self.training_test(&stmt_if.test);
                let offset = stmt.range().start().to_usize();
                if matches!(&*stmt_if.test, Expr::BoolOp(b) if training.is_some() && self.training_test(&b.values[0]).is_some())
                {
                    self.push_region(RegionKind::TrainingOnly, offset);
                    self.test(&stmt_if.test, TestContext::If);
                    self.regions.pop();
                } else {
                    self.test(&stmt_if.test, TestContext::If);
                }
                self.branches_begin();
                let cold_body = match training {
                    Some(true) => Some(RegionKind::TrainingOnly),
                    _ if is_table_growth_test(&stmt_if.test) => Some(RegionKind::TableGrowth),
                    _ if is_lazy_init(&stmt_if.test, &stmt_if.body) => Some(RegionKind::LazyInit),
                    _ if ends_in_raise(&stmt_if.body) => Some(RegionKind::ErrorPath),
                    _ if self.diagnostics_test(&stmt_if.test) => Some(RegionKind::OptInDiagnostics),
                    _ => None,
                };
                // Arms that run only for some values of a parameter (see `param_arms.rs`): each
                // arm needs its own test to hold and every earlier one to have failed.
                let mut earlier = param_arms::ArmConditions::new();
                let mut own = param_arms::ArmConditions::new();
                self.arm_conditions(&stmt_if.test, true, &mut own);
                self.arm_conditions(&stmt_if.test, false, &mut earlier);
                match cold_body {
                    Some(kind) => self.body_in(&stmt_if.body, Some((kind, offset))),
                    None => self.arm_body(&stmt_if.body, &own, offset),
                }
                let rest = (training == Some(false)).then_some(offset);
                if rest.is_some() {
                    self.push_region(RegionKind::TrainingOnly, offset);
                }
                let mut body = &stmt_if.body;
                for clause in &stmt_if.elif_else_clauses {
                    self.branch_arm_end(leaves(body));
                    if let Some(test) = &clause.test {
                        self.test(test, TestContext::If);
                    }
                    let training = clause.test.as_ref().and_then(|test| self.training_test(test));
                    let cold_clause = match training {
                        Some(true) => Some(RegionKind::TrainingOnly),
                        _ if ends_in_raise(&clause.body) => Some(RegionKind::ErrorPath),
                        _ if clause.test.as_ref().is_some_and(|test| self.diagnostics_test(test)) => {
                            Some(RegionKind::OptInDiagnostics)
                        }
                        _ => None,
                    };
                    let mut own = earlier.clone();
                    if let Some(test) = &clause.test {
                        self.arm_conditions(test, true, &mut own);
                        self.arm_conditions(test, false, &mut earlier);
                    }
                    match cold_clause {
                        Some(kind) => self.body_in(&clause.body, Some((kind, offset))),
                        None => self.arm_body(&clause.body, &own, offset),
                    }
                    body = &clause.body;
                }
                // An `if` without `else` leaves what a name held before on the other path, unless
                // its test asks what type the name has (`if not isinstance(x, torch.Tensor): x =
                // torch.tensor(x)`: the other path's tensor is one by declaration, which the test
                // doubts, so the arm's host tensor is kept as before this rule).
                let exhaustive = stmt_if.elif_else_clauses.last().is_some_and(|clause| clause.test.is_none());
                let mut tested = SmallVec::<[&'a str; 2]>::new();
                type_tested_names(&stmt_if.test, &mut tested);
                self.branches_end(leaves(body), exhaustive, &tested);
                if rest.is_some() {
                    self.regions.pop();
                }
                // What follows a guard that leaves runs only when its test failed: only in
                // training after `if not self.training: return x` (drop-path, dropout layers,
                // `if labels is None: return logits`), and only for some values of a parameter
                // after `if not flag: return x`.
                if stmt_if.elif_else_clauses.is_empty() && leaves(&stmt_if.body) {
                    self.guarded_rest = match training {
                        Some(false) => Some(GuardedRest::Training(offset)),
                        _ if !earlier.is_empty() => Some(GuardedRest::Arm(earlier, offset)),
                        _ => None,
                    };
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
                // What a `raise` evaluates runs once, when failing: never per step (see README).
                if raise.exc.is_none() && raise.cause.is_none() {
                    return;
                }
                self.error_path += 1;
                self.push_region(RegionKind::ErrorPath, stmt.range().start().to_usize());
                if let Some(exc) = &raise.exc {
                    self.expr(exc);
                }
                if let Some(cause) = &raise.cause {
                    self.expr(cause);
                }
                self.regions.pop();
                self.error_path -= 1;
            }
            Stmt::Try(stmt_try) => {
                self.body(&stmt_try.body);
                for handler in &stmt_try.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(name) = &handler.name {
                        self.bind(name.as_str(), Ty::Unknown);
                    }
                    let cold = ends_in_raise(&handler.body).then_some((RegionKind::ErrorPath, span(handler).start));
                    self.body_in(&handler.body, cold);
                }
                self.body(&stmt_try.orelse);
                self.body(&stmt_try.finalbody);
            }
            Stmt::Assert(assert) => {
                self.test(&assert.test, TestContext::Assert);
                // Past `assert x.device.type == "cpu"` (or `x.is_cpu`, `not x.is_cuda`), `x` is in
                // host memory: the program stops otherwise.
                let mut on_host = SmallVec::<[&'a str; 2]>::new();
                asserted_on_host(&assert.test, &mut on_host);
                for name in on_host {
                    self.bind(name, Ty::HOST_TENSOR);
                }
                if let Some(msg) = &assert.msg {
                    self.error_path += 1;
                    self.push_region(RegionKind::ErrorPath, stmt.range().start().to_usize());
                    self.expr(msg);
                    self.regions.pop();
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

    /// A block, inside a cold region when `cold` gives its kind and the `if`'s offset.
    fn body_in(&mut self, body: &'a [Stmt], cold: Option<(RegionKind, usize)>) {
        match cold {
            Some((kind, offset)) => {
                self.push_region(kind, offset);
                self.body(body);
                self.regions.pop();
            }
            None => self.body(body),
        }
    }

    /// `labels = kwargs.pop("labels")` (or `.get(...)`, `kwargs["labels"]`): the function takes
    /// labels through `**kwargs`, so `if labels is not None:` is a training branch as it is for a
    /// `labels` parameter.
    fn note_labels_from_kwargs(&mut self, targets: &[Expr], value: &Expr) {
        let [Expr::Name(target)] = targets else { return };
        if target.id.as_str() != "labels" {
            return;
        }
        let is_labels_key =
            |e: Option<&Expr>| matches!(e, Some(Expr::StringLiteral(s)) if s.value.to_str() == "labels");
        let from_kwargs = match value {
            Expr::Call(call) => {
                matches!(&*call.func, Expr::Attribute(a) if matches!(a.attr.as_str(), "pop" | "get"))
                    && is_labels_key(call.arguments.args.first())
            }
            Expr::Subscript(subscript) => is_labels_key(Some(&subscript.slice)),
            _ => false,
        };
        if from_kwargs {
            if let Some(scope) = self.scopes.last_mut() {
                scope.labels_param = true;
            }
        }
    }

    /// Whether an `if` test holds only in training (`Some(true)`: `m.training`, `labels is not
    /// None` where `labels` is a parameter of the function, or a conjunction with either) or only
    /// outside training (`Some(false)`: `not m.training`, `labels is None`, or a disjunction with
    /// either). Ground-truth labels are given to compute a loss; inference never passes them.
    pub(super) fn training_test(&self, test: &Expr) -> Option<bool> {
        let labels_param = self.scopes.last().is_some_and(|scope| scope.labels_param);
        let is_labels_none = |e: &Expr, op: CmpOp| {
            matches!(e, Expr::Compare(c) if labels_param && *c.ops == [op]
                && matches!(&*c.left, Expr::Name(n) if n.id.as_str() == "labels")
                && c.comparators[0].is_none_literal_expr())
        };
        let is_mode = |e: &Expr| matches!(e, Expr::Attribute(a) if a.attr.as_str() == "training");
        // `m.training is False` (or `== True`...).
        let mode_is = |e: &Expr, value: bool| {
            matches!(e, Expr::Compare(c) if matches!(*c.ops, [CmpOp::Is | CmpOp::Eq]) && is_mode(&c.left)
                && matches!(&c.comparators[0], Expr::BooleanLiteral(b) if b.value == value))
        };
        let is_training =
            |e: &Expr| is_mode(e) || mode_is(e, true) || is_labels_none(e, CmpOp::IsNot) || self.exporting_test(e);
        let is_not_training = |e: &Expr| {
            matches!(e, Expr::UnaryOp(u) if u.op == UnaryOp::Not && is_training(&u.operand))
                || mode_is(e, false)
                || is_labels_none(e, CmpOp::Is)
        };
        match test {
            e if is_training(e) => Some(true),
            e if is_not_training(e) => Some(false),
            Expr::BoolOp(b) if b.op == BoolOp::And && b.values.iter().any(is_training) => Some(true),
            Expr::BoolOp(b) if b.op == BoolOp::Or && b.values.iter().any(is_not_training) => Some(false),
            _ => None,
        }
    }

    /// Whether an `if` test holds only when the caller asked for diagnostics: a parameter of
    /// [`diagnostics_flags`] it has not bound again, or a conjunction with one.
    fn diagnostics_test(&self, test: &Expr) -> bool {
        let Some(scope) = self.scopes.last() else { return false };
        let is_flag = |e: &Expr| {
            matches!(e, Expr::Name(n) if scope.diagnostics_flags.contains(&n.id.as_str())
                && self.unchanged_param(n.id.as_str()).is_some())
        };
        match test {
            Expr::BoolOp(b) if b.op == BoolOp::And => b.values.iter().any(is_flag),
            other => is_flag(other),
        }
    }

    /// A call that holds only while a model is traced or exported, never in an eager step
    /// (`torch.jit.is_tracing()`, `torch.onnx.is_in_onnx_export()`...): its branches count as
    /// training-only ones. `torch.compile`'s own predicates are not among them: compiled code is
    /// per-step code.
    fn exporting_test(&self, test: &Expr) -> bool {
        let Expr::Call(call) = test else { return false };
        let callee = &self.context.source[span(&*call.func)];
        [
            "jit.is_tracing",
            "jit.is_scripting",
            "onnx.is_in_onnx_export",
            "is_torchdynamo_exporting",
            "compiler.is_exporting",
        ]
        .iter()
        .any(|name| callee.ends_with(name))
    }

    fn push_region(&mut self, kind: RegionKind, offset: usize) {
        let region = Region {
            kind,
            func: self.current_func(),
            parent: self.regions.last().copied(),
            row: self.row(offset),
            training: false,
            over_elements: false,
            over_model_parts: false,
        };
        self.summary.regions.push(region);
        self.regions.push((self.summary.regions.len() - 1) as RegionIdx);
    }

    /// The element type of `for target in iter`, binding `enumerate`/`zip` targets itself, and
    /// whether the loop walks the elements of one sequence: a tensor, or a slice (`x[1:]`).
    fn iteration(&mut self, iter: &'a Expr, target: &'a Expr) -> (Option<Ty>, bool) {
        if let Expr::Call(call) = iter {
            let builtin = self.qualify(&call.func).and_then(|q| (q[0] == "builtins").then(|| q[1]));
            match (builtin, target) {
                (Some("range"), _) => {
                    for arg in &call.arguments.args {
                        let ty = self.expr(arg);
                        rules::tensor_as_index::check_range_arg(self, arg, ty);
                    }
                    return (Some(Ty::Int), false);
                }
                (Some("enumerate"), Expr::Tuple(tuple)) if tuple.elts.len() == 2 && call.arguments.args.len() == 1 => {
                    let element = self.element_of(&call.arguments.args[0]);
                    self.assign(&tuple.elts[0], Ty::Int);
                    self.assign(&tuple.elts[1], element);
                    self.note_unknown_iteration(&call.arguments.args[0], &tuple.elts[1]);
                    return (None, false);
                }
                (Some("zip"), Expr::Tuple(tuple)) if tuple.elts.len() == call.arguments.args.len() => {
                    for (target, arg) in tuple.elts.iter().zip(call.arguments.args.iter()) {
                        let element = self.element_of(arg);
                        self.assign(target, element);
                    }
                    return (None, false);
                }
                _ => {}
            }
        }
        self.note_unknown_iteration(iter, target);
        let iterable = self.expr(iter);
        let slice = matches!(iter, Expr::Subscript(subscript) if matches!(&*subscript.slice, Expr::Slice(_)));
        (Some(self.element_type(iter, iterable)), slice || matches!(iterable, Ty::Tensor { .. }))
    }

    /// Whether `iterable` walks a model's parts: `m.modules()`, `m.named_parameters()` and the
    /// like, `m.state_dict().items()`, its adapters (a name or attribute that says `adapter`), what `list`/`enumerate`/`sorted`/... or a comprehension make
    /// of one, or a local name bound to such a list (`layers = [m for m in model.modules() if
    /// ...]`). A loop over them visits layers, weights or adapters (set-up, merging, pruning,
    /// importance scores), not the steps of an inference.
    fn walks_model_structure(&self, iterable: &Expr) -> bool {
        const PARTS: [&str; 8] = [
            "modules",
            "named_modules",
            "children",
            "named_children",
            "parameters",
            "named_parameters",
            "buffers",
            "named_buffers",
        ];
        match iterable {
            Expr::Call(call) => match &*call.func {
                Expr::Attribute(attribute) => {
                    let method = attribute.attr.as_str();
                    PARTS.contains(&method)
                        || (matches!(method, "items" | "keys" | "values")
                            && matches!(&*attribute.value, Expr::Call(inner)
                                if matches!(&*inner.func, Expr::Attribute(a) if a.attr.as_str() == "state_dict")))
                }
                Expr::Name(name)
                    if matches!(name.id.as_str(), "list" | "tuple" | "enumerate" | "sorted" | "reversed" | "iter") =>
                {
                    call.arguments.args.first().is_some_and(|arg| self.walks_model_structure(arg))
                }
                _ => false,
            },
            Expr::ListComp(comp) => self.walks_model_structure(&comp.generators[0].iter),
            Expr::SetComp(comp) => self.walks_model_structure(&comp.generators[0].iter),
            Expr::Generator(comp) => self.walks_model_structure(&comp.generators[0].iter),
            Expr::DictComp(comp) => self.walks_model_structure(&comp.generators[0].iter),
            // `self.active_adapters`, `adapter_names`: a model's adapters, one after another.
            Expr::Attribute(attribute) => attribute.attr.as_str().contains("adapter"),
            Expr::Name(name) => {
                name.id.as_str().contains("adapter")
                    || (!self.model_parts.is_empty()
                        && self.model_parts.contains(&(self.current_func(), name.id.as_str())))
            }
            _ => false,
        }
    }

    fn element_of(&mut self, iterable: &'a Expr) -> Ty {
        let ty = self.expr(iterable);
        self.element_type(iterable, ty)
    }

    /// The type of an element of `iterable`, of type `ty`.
    fn element_type(&mut self, iterable: &'a Expr, ty: Ty) -> Ty {
        if ty == Ty::List && self.holds_lists(iterable) {
            return Ty::List;
        }
        match ty {
            // (Rows of a mask are masks.)
            Ty::Tensor { .. } => ty,
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
                let element = self.unpacked_element(ty);
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

    /// What each element of a value of type `ty` unpacked into a tuple is.
    fn unpacked_element(&mut self, ty: Ty) -> Ty {
        match ty {
            Ty::Tensors => Ty::TENSOR,
            Ty::Tensor { .. } => ty,
            Ty::Shape => Ty::Int,
            Ty::Val(val) => Ty::Val(self.summary.add_val(Val::Elem(val))),
            _ => Ty::Unknown,
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
        let mut cached = false;
        let mut is_static = false;
        let mut is_classmethod = false;
        let mut property = false;
        let mut is_abstract = false;
        let mut decorators = Vec::new();
        for decorator in &def.decorator_list {
            let expr = &decorator.expression;
            let head = match expr {
                Expr::Call(call) => &*call.func,
                other => other,
            };
            // Registries decorate with a method call (`@Registry.register(name)`); only those are
            // kept, for `hot` patterns (`pkg.mod:@Registry.register`).
            if let (Expr::Call(_), Expr::Attribute(_)) = (expr, head) {
                if let Some(dotted) = self.dotted(head).filter(|d| d[0] != "torch") {
                    decorators.push(dotted.join("."));
                }
            }
            match self.qualify(head).as_deref() {
                Some(["torch", "compile"]) | Some(["torch", "compiler", "compile"]) => compiled = true,
                // The body runs once per distinct argument (once per instance for a property).
                Some(["functools", "lru_cache" | "cache" | "cached_property"]) => cached = true,
                Some(["abc", "abstractmethod"]) => is_abstract = true,
                Some(["builtins", ..]) | None => {
                    let text = self.text(head);
                    is_static |= text == "staticmethod";
                    is_classmethod |= text == "classmethod";
                    property |= text == "property" && class.is_some();
                }
                _ => {}
            }
            self.expr(expr);
        }
        // Defaults are evaluated in the enclosing scope (slice by slice: a chain of the three
        // costs more per parameter).
        let parameters = &def.parameters;
        for group in [&parameters.posonlyargs[..], &parameters.args[..], &parameters.kwonlyargs[..]] {
            for param in group {
                if let Some(default) = &param.default {
                    self.expr(default);
                }
            }
        }
        if self.scopes.len() == 1 && self.skips.is_some() {
            if let Some(func) = self.skip_body(def, class) {
                return func;
            }
        }
        let name_row = self.row(def.name.range.start().to_usize());
        let name = def.name.as_str();
        // `Class.method` or `outer.inner`, built in one allocation of the right size.
        let qualname = match (class, self.scopes.len() > 1) {
            (Some(class), _) => dotted_pair(&self.summary.classes[class as usize].name, name),
            (None, true) => dotted_pair(&self.summary.funcs[self.current_func() as usize].qualname, name),
            (None, false) => name.to_owned(),
        };
        let return_val = def.returns.as_deref().and_then(|r| self.declared_class(r));
        let func = self.summary.funcs.len() as FuncIdx;
        self.summary.funcs.push(FuncSummary {
            name: name.to_owned(),
            qualname,
            class,
            row: name_row,
            params: Vec::new(),
            compiled,
            decorators,
            // On the `def` line, or on its own line right above the `def` (or its decorators); a
            // cached function is cold unless marked otherwise.
            // (Most files have no markers: then no row is looked up.)
            marker: (!self.context.markers.is_empty())
                .then(|| {
                    let markers = &self.context.markers;
                    markers
                        .get(&name_row)
                        .or_else(|| markers.get(&(self.row(def.range.start().to_usize()).saturating_sub(1))))
                        .copied()
                })
                .flatten()
                .or(cached.then_some(Marker::Cold)),
            is_static: is_static || class.is_none(),
            returns: def.returns.as_deref().map_or(Ty::Unknown, |r| {
                if attribute_flow::annotation_contradicted_by_tuple(r, &def.body) {
                    Ty::Unknown
                } else {
                    self.annotation_ty(r)
                }
            }),
            return_elements: Vec::new(),
            return_attrs: Vec::new(),
            returns_params: 0,
            return_element_params: Vec::new(),
            scalar_params: 0,
            kwargs_to_attrs: false,
            trains: false,
            property,
            stub: class.is_some() && (is_abstract || is_stub_body(&def.body)),
            return_val,
            untyped_params: 0,
            tensor_params: 0,
            tested_params: 0,
            read_params: 0,
            positional: 0,
        });

        let vars = self.spare_vars.pop().unwrap_or_default();
        let has_nonlocal = self.has_nonlocal.unwrap_or_else(|| self.source_contains("nonlocal"));
        self.has_nonlocal = Some(has_nonlocal);
        let arm_defaults = param_arms::records_arms(def, self.context.source, has_nonlocal)
            .then(|| self.arm_defaults(parameters, class.is_some() && !is_static, !param_arms::is_private(name)));
        let mut scope = Scope {
            func,
            vars,
            self_of: None,
            cls_of: None,
            labels_param: false,
            params: SmallVec::new(),
            rebound: 0,
            arm_defaults,
            diagnostics_flags: diagnostics_flags(parameters),
        };
        let mut params = Vec::with_capacity(parameters.len());
        let all = parameters
            .posonlyargs
            .iter()
            .chain(parameters.args.iter())
            .map(|p| &p.parameter)
            .chain(parameters.vararg.as_deref())
            .chain(parameters.kwonlyargs.iter().map(|p| &p.parameter))
            .chain(parameters.kwarg.as_deref());
        let positional = parameters.posonlyargs.len() + parameters.args.len();
        let vararg = parameters.vararg.is_some().then_some(positional);
        let kwarg = parameters
            .kwarg
            .is_some()
            .then(|| positional + usize::from(parameters.vararg.is_some()) + parameters.kwonlyargs.len());
        // Bits of the summary's `scalar_params`, `untyped_params` and `tensor_params`.
        let (mut scalar_params, mut untyped_params, mut tensor_params) = (0u32, 0u32, 0u32);
        for (index, param) in all.enumerate() {
            let name = param.name.as_str();
            scope.labels_param |= name == "labels";
            scope.params.push(name);
            let is_receiver = index == 0 && class.is_some() && !is_static;
            let annotated = param.annotation.as_deref().map_or(Ty::Unknown, |a| self.annotation_ty(a));
            let annotation_val =
                if is_receiver { None } else { param.annotation.as_deref().and_then(|a| self.annotation_val(a)) };
            params.push((self.name(name), annotation_val));
            if let Some(declared) = param.annotation.as_deref().and_then(|a| self.declared_container(a)) {
                self.declared_params.insert((func, index as u32), declared);
            }
            let ty = if is_receiver {
                if !is_classmethod {
                    scope.self_of = Some((name, class.unwrap_or(0)));
                } else if let Some(class) = class {
                    scope.cls_of = Some((name, class));
                }
                let val = self.summary.add_val(Val::Param { func, index: 0 });
                Ty::Val(val)
            } else if annotated != Ty::Unknown {
                annotated
            } else {
                Ty::Val(self.summary.add_val(Val::Param { func, index: index as u32 }))
            };
            // `*args` and `**kwargs` hold what no other parameter takes.
            let ty = if is_receiver || index >= 32 || Some(index) == vararg || Some(index) == kwarg {
                ty
            } else {
                let scalar = matches!(annotated, Ty::Int | Ty::Float | Ty::Bool);
                let untyped = annotated == Ty::Unknown;
                scalar_params |= u32::from(scalar) << index;
                untyped_params |= u32::from(untyped) << index;
                tensor_params |= u32::from(annotated.is_tensor()) << index;
                match self.foreign {
                    // Callers in the tree pass tensors: they win over the annotation, or its absence.
                    Some(foreign) if (scalar || untyped) && foreign.params.contains_key(&(func, index as u32)) => {
                        if foreign.params[&(func, index as u32)].zero_dim {
                            self.scalars.insert((func, name));
                        }
                        Ty::TENSOR
                    }
                    // Every caller passes host data: so does the parameter, tensor or not.
                    Some(foreign) if untyped || annotated.is_tensor() => {
                        foreign.host_params.get(&(func, index as u32)).map_or(ty, |data| data.param_ty(annotated))
                    }
                    _ => ty,
                }
            };
            scope.vars.insert(name, ty);
        }
        // A parameter the body asserts is in host memory (`assert x.device.type == "cpu"` among
        // its first statements, `x` not bound before) is, from the start: the same object.
        for (index, stmt) in def.body.iter().enumerate() {
            let Stmt::Assert(assert) = stmt else { continue };
            let mut on_host = SmallVec::<[&'a str; 2]>::new();
            asserted_on_host(&assert.test, &mut on_host);
            for name in on_host {
                if scope.params.contains(&name) && !def.body[..index].iter().any(|stmt| binds_name(stmt, name)) {
                    scope.vars.insert(name, Ty::HOST_TENSOR);
                }
            }
        }
        let summary = &mut self.summary.funcs[func as usize];
        summary.params = params;
        summary.positional = positional as u32;
        (summary.scalar_params, summary.untyped_params, summary.tensor_params) =
            (scalar_params, untyped_params, tensor_params);

        let top_level = self.scopes.len() == 1;
        // What calls of it after this point see of its return, before its body is visited (see `Skips`).
        let recorded_before =
            (top_level && self.skips.is_some()).then(|| self.recorded_return(def.name.as_str(), class));
        let saved_regions = std::mem::take(&mut self.regions);
        self.scopes.push(scope);
        self.returns.push(ReturnFlow::default());
        self.note_body_visit(&def.body);
        self.body(&def.body);
        let returns = self.returns.pop().unwrap_or_default();
        if let Some(mut scope) = self.scopes.pop() {
            if self.foreign.is_none() {
                self.drop_rebound_arms(func, scope.rebound);
            }
            scope.vars.clear();
            self.spare_vars.push(scope.vars);
        }
        self.regions = saved_regions;
        if let (true, None, Some(Ty::Val(val))) = (property, self.summary.funcs[func as usize].return_val, returns.ty())
        {
            self.summary.funcs[func as usize].return_val = Some(val);
        }
        let declared = self.summary.funcs[func as usize].returns;
        self.record_return(def.name.as_str(), func, class, top_level, returns);
        if let Some(before) = recorded_before {
            self.note_return_divergence(def.name.as_str(), func, class, declared, before);
        }
        if class.is_some() && !is_static {
            self.summary.funcs[func as usize].kwargs_to_attrs = sets_kwargs_as_attributes(def);
        }
        func
    }

    fn class(&mut self, def: &'a ast::StmtClassDef) {
        let mut bases = Vec::new();
        let mut local_bases = Vec::new();
        let mut is_enum = false;
        if let Some(arguments) = &def.arguments {
            for base in arguments.args.iter() {
                is_enum |= self.text(base).ends_with("Enum");
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
            attr_tys: Vec::new(),
            attr_containers: Vec::new(),
            host_attrs: Vec::new(),
            device_moves: Vec::new(),
            late_host_attrs: Vec::new(),
            class_members: Vec::new(),
        });
        let info = self.prescan_class(def, local_bases);
        let attr_tys: Vec<(NameId, Ty)> = info
            .attr_tys
            .iter()
            .map(|(name, ty)| (self.name_of(name), *ty))
            .filter(|(_, ty)| !ty.is_unproven())
            .collect();
        self.summary.classes[index as usize].attr_tys = attr_tys;
        self.summary.classes[index as usize].attr_containers = self.class_containers(def);
        self.classes.push(info);

        for stmt in &def.body {
            match stmt {
                Stmt::FunctionDef(method) => {
                    let func = self.function(method, Some(index));
                    // `@x.setter`/`@x.deleter` keep the name for the getter (the property).
                    let accessor = method.decorator_list.iter().any(|decorator| {
                        matches!(&decorator.expression, Expr::Attribute(a) if matches!(a.attr.as_str(), "setter" | "deleter"))
                    });
                    if !accessor {
                        let name = self.name(method.name.as_str());
                        self.summary.classes[index as usize].methods.push((name, func));
                    }
                }
                Stmt::Assign(assign) => {
                    let ty = self.expr(&assign.value);
                    for target in &assign.targets {
                        if let (Expr::Name(name), Ty::Val(val)) = (target, ty) {
                            let name = self.name(name.id.as_str());
                            self.summary.classes[index as usize].attrs.push((name, val));
                        } else if let (Expr::Name(name), true) = (target, is_enum) {
                            if names_a_class(name.id.as_str()) {
                                let name = self.name(name.id.as_str());
                                self.summary.classes[index as usize].class_members.push(name);
                            }
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
                other => {
                    self.stmt(other);
                    self.guarded_rest = None;
                }
            }
        }
        let ty = Ty::Val(self.summary.add_val(Val::Class(index)));
        self.bind(def.name.as_str(), ty);
    }
}

/// Whether a method stores each of its `**kwargs` on its receiver: a loop `for name, value in
/// kwargs.items():` whose body (or a branch of it) calls `setattr(self, name, value)`.
fn sets_kwargs_as_attributes(def: &ast::StmtFunctionDef) -> bool {
    let (Some(kwargs), Some(receiver)) = (def.parameters.kwarg.as_deref(), def.parameters.args.first()) else {
        return false;
    };
    let (kwargs, receiver) = (kwargs.name.as_str(), receiver.parameter.name.as_str());
    let is_name = |expr: &Expr, wanted: &str| matches!(expr, Expr::Name(n) if n.id.as_str() == wanted);
    def.body.iter().any(|stmt| {
        let Stmt::For(each) = stmt else { return false };
        let Expr::Tuple(target) = &*each.target else { return false };
        let [Expr::Name(key), Expr::Name(value)] = &target.elts[..] else { return false };
        let Expr::Call(items) = &*each.iter else { return false };
        let items_of_kwargs = matches!(&*items.func, Expr::Attribute(a)
            if a.attr.as_str() == "items" && is_name(&a.value, kwargs));
        let stores = |stmt: &Stmt| {
            let Stmt::Expr(statement) = stmt else { return false };
            let Expr::Call(call) = &*statement.value else { return false };
            matches!(&call.arguments.args[..], [on, name, stored]
                if is_name(&call.func, "setattr") && is_name(on, receiver)
                    && is_name(name, key.id.as_str()) && is_name(stored, value.id.as_str()))
        };
        let in_branches = |body: &[Stmt]| {
            body.iter().any(|stmt| match stmt {
                Stmt::If(branch) => {
                    branch.body.iter().any(stores) || branch.elif_else_clauses.iter().any(|c| c.body.iter().any(stores))
                }
                other => stores(other),
            })
        };
        items_of_kwargs && in_branches(&each.body)
    })
}

/// Whether `source` may set a default device other than the CPU for torch's factories: a
/// `set_default_device(...)`, a `set_default_tensor_type(...)` naming a CUDA type, or a `with`
/// statement entering `torch.device(...)` (or a bare `device(...)`), unless given the CPU as a
/// literal. `torch.cuda.device(i)` only picks the current CUDA device, and is not one. (On the
/// text, before the traversal types the first factory: rare enough that a spelling it misses,
/// or a string it matches, costs little either way.)
fn changes_default_device(source: &str) -> bool {
    // (memchr's searcher: the standard one took 5% of a run on the transformers wheel.)
    fn found<'s>(source: &'s str, needle: &'s str) -> impl Iterator<Item = (usize, usize)> + 's {
        memchr::memmem::find_iter(source.as_bytes(), needle.as_bytes()).map(move |at| (at, at + needle.len()))
    }
    let names_cpu = |rest: &str| {
        let rest = rest.trim_start();
        rest.starts_with("\"cpu") || rest.starts_with("'cpu")
    };
    if found(source, "set_default_tensor_type(")
        .any(|(_, end)| source[end..].lines().next().is_some_and(|line| line.contains("cuda")))
    {
        return true;
    }
    // One search serves both uses of `device(` (`set_default_device(` ends with it); for a `with`,
    // from each `device(`, which most lines lack, back to the start of its line.
    found(source, "device(").any(|(at, end)| {
        let before = &source[..at];
        if before.ends_with("set_default_") {
            return !names_cpu(&source[end..]);
        }
        let line = before[before.rfind('\n').map_or(0, |n| n + 1)..].trim_start();
        let torch_device =
            before.ends_with("torch.") || !before.ends_with(|c: char| c == '.' || c == '_' || c.is_alphanumeric());
        (line.starts_with("with ") || line.starts_with("async with ")) && torch_device && !names_cpu(&source[end..])
    })
}

/// The names a condition passes to `isinstance` or `torch.is_tensor` (through `not`, `and`, `or`).
fn type_tested_names<'a>(test: &'a Expr, names: &mut SmallVec<[&'a str; 2]>) {
    let is_type_test = |func: &Expr| match func {
        Expr::Name(f) => matches!(f.id.as_str(), "isinstance" | "is_tensor"),
        Expr::Attribute(f) => f.attr.as_str() == "is_tensor",
        _ => false,
    };
    match test {
        Expr::UnaryOp(unary) => type_tested_names(&unary.operand, names),
        Expr::BoolOp(boolop) => boolop.values.iter().for_each(|value| type_tested_names(value, names)),
        Expr::Call(call) if is_type_test(&call.func) => {
            if let Some(Expr::Name(name)) = call.arguments.args.first() {
                names.push(name.id.as_str());
            }
        }
        _ => {}
    }
}

/// What follows a guard `if` that leaves, in the same block (see `Checker::guarded_rest`): the
/// offset is the guard's.
enum GuardedRest {
    /// The guard's test holds whenever the model infers: the rest runs only in training.
    Training(usize),
    /// The rest runs only when these conditions on parameters hold (the test failed).
    Arm(param_arms::ArmConditions, usize),
}

/// Whether a block ends by leaving it (`return`, `raise`, `break`, `continue`): no path goes on
/// from its end.
fn leaves(body: &[Stmt]) -> bool {
    matches!(body.last(), Some(Stmt::Return(_) | Stmt::Raise(_) | Stmt::Break(_) | Stmt::Continue(_)))
}

/// Whether an enum member's name is spelled like a class (`DDIMScheduler`, not `FLASH_VARLEN`).
fn names_a_class(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && name.contains(|c: char| c.is_ascii_lowercase())
}

/// `prefix.name` (a qualified name).
fn dotted_pair(prefix: &str, name: &str) -> String {
    let mut dotted = String::with_capacity(prefix.len() + 1 + name.len());
    dotted.push_str(prefix);
    dotted.push('.');
    dotted.push_str(name);
    dotted
}

/// Whether `text` mentions the identifier `name` (not as part of a longer one).
fn mentions(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c == '_' || c.is_alphanumeric();
    text.match_indices(name)
        .any(|(at, _)| !text[..at].ends_with(is_ident) && !text[at + name.len()..].starts_with(is_ident))
}

/// `while x[i] < v and i < n: ... i += 1`: a `while` loop whose test reads one sequence at an
/// index that its body steps by a constant walks that sequence's elements, as `for v in x[i:]`
/// does (`Region::over_elements`): gluonts' `Binned.cdf_binned_components` walking the bins.
fn walks_by_index(test: &Expr, body: &[Stmt]) -> bool {
    fn indices<'t>(expr: &'t Expr, out: &mut SmallVec<[&'t str; 2]>) {
        match expr {
            Expr::Subscript(subscript) => {
                if let Expr::Name(name) = &*subscript.slice {
                    out.push(name.id.as_str());
                }
            }
            Expr::BoolOp(b) => b.values.iter().for_each(|value| indices(value, out)),
            Expr::UnaryOp(u) => indices(&u.operand, out),
            Expr::Compare(c) => {
                indices(&c.left, out);
                c.comparators.iter().for_each(|value| indices(value, out));
            }
            _ => {}
        }
    }
    fn steps(body: &[Stmt], names: &[&str]) -> bool {
        body.iter().any(|stmt| match stmt {
            Stmt::AugAssign(aug) => {
                matches!(aug.op, ast::Operator::Add | ast::Operator::Sub)
                    && matches!(&*aug.target, Expr::Name(n) if names.contains(&n.id.as_str()))
                    && matches!(&*aug.value, Expr::NumberLiteral(number) if matches!(number.value, ast::Number::Int(_)))
            }
            Stmt::If(stmt_if) => {
                steps(&stmt_if.body, names) || stmt_if.elif_else_clauses.iter().any(|c| steps(&c.body, names))
            }
            _ => false,
        })
    }
    let mut names = SmallVec::new();
    indices(test, &mut names);
    !names.is_empty() && steps(body, &names)
}

/// The parameters that switch diagnostics on and are off by default: named `log`, `logging`,
/// `trace`, or with a `debug`, `verbose`, `profile`/`profiling` or `timing` word (`debug_mode`,
/// `print_timing`), and a default of `False`. What they guard (timing with
/// `torch.cuda.synchronize()`, a deterministic CPU fallback) runs only when a caller asks.
fn diagnostics_flags(parameters: &ast::Parameters) -> SmallVec<[&str; 1]> {
    let is_diagnostics_name = |name: &str| {
        matches!(name, "log" | "logging" | "trace")
            || name.split('_').any(|word| matches!(word, "debug" | "verbose" | "profile" | "profiling" | "timing"))
    };
    parameters
        .posonlyargs
        .iter()
        .chain(&parameters.args)
        .chain(&parameters.kwonlyargs)
        .filter(|param| matches!(param.default.as_deref(), Some(Expr::BooleanLiteral(b)) if !b.value))
        .map(|param| param.parameter.name.as_str())
        .filter(|name| is_diagnostics_name(name))
        .collect()
}

/// A block that ends in `raise`: all of it runs only on the way to the error, never per step.
fn ends_in_raise(body: &[Stmt]) -> bool {
    matches!(body.last(), Some(Stmt::Raise(_)))
}

/// A body with no behaviour: docstrings, `pass`, `...`, and at most a final `raise
/// NotImplementedError` (with or without arguments). A method like this is there to be
/// overridden.
fn is_stub_body(body: &[Stmt]) -> bool {
    let (last, rest) = match body.split_last() {
        Some(split) => split,
        None => return false,
    };
    let inert = |stmt: &Stmt| match stmt {
        Stmt::Pass(_) => true,
        Stmt::Expr(e) => matches!(&*e.value, Expr::StringLiteral(_) | Expr::EllipsisLiteral(_)),
        _ => false,
    };
    let not_implemented = match last {
        Stmt::Raise(raise) => match raise.exc.as_deref() {
            Some(Expr::Name(name)) => name.id.as_str() == "NotImplementedError",
            Some(Expr::Call(call)) => {
                matches!(&*call.func, Expr::Name(name) if name.id.as_str() == "NotImplementedError")
            }
            _ => false,
        },
        _ => false,
    };
    rest.iter().all(inert) && (inert(last) || not_implemented)
}

/// `if self.x is None:` whose body assigns `self.x` (the same attribute): state the object
/// fills on first use and keeps, so the body runs once per object, not every step. The object may
/// be another one the function is given (`if layer._scale is None: layer._scale = ...`). Also with
/// tests that it went stale, `if self.x is None or self.x.device != device:` (or its dtype, or
/// its size): rebuilt once per device, dtype or shape, like a table that grows. `if not
/// hasattr(self, "x"):` filling it by `self.register_buffer("x", ...)` or `setattr` is the same.
fn is_lazy_init(test: &Expr, body: &[Stmt]) -> bool {
    let (first, stale) = match test {
        Expr::BoolOp(b) if b.op == BoolOp::Or => (&b.values[0], &b.values[1..]),
        other => (other, &[][..]),
    };
    let Some(kept) = unset_attribute(first) else { return false };
    if !stale.iter().all(|test| is_staleness_test(test, kept)) {
        return false;
    }
    body.iter().any(|stmt| match stmt {
        Stmt::Assign(assign) => assign.targets.iter().any(|target| kept_attribute(target) == Some(kept)),
        Stmt::AnnAssign(assign) => kept_attribute(&assign.target) == Some(kept),
        // `self.register_buffer("x", ...)`, `setattr(self, "x", ...)`.
        Stmt::Expr(stmt) => match &*stmt.value {
            Expr::Call(call) => {
                let name_arg = |index: usize| match call.arguments.args.get(index) {
                    Some(Expr::StringLiteral(s)) => Some(s.value.to_str()),
                    _ => None,
                };
                match &*call.func {
                    Expr::Attribute(a) if a.attr.as_str() == "register_buffer" => {
                        matches!(&*a.value, Expr::Name(n) if n.id.as_str() == kept.0) && name_arg(0) == Some(kept.1)
                    }
                    Expr::Name(f) if f.id.as_str() == "setattr" => {
                        matches!(call.arguments.args.first(), Some(Expr::Name(n)) if n.id.as_str() == kept.0)
                            && name_arg(1) == Some(kept.1)
                    }
                    _ => false,
                }
            }
            _ => false,
        },
        _ => false,
    })
}

/// The kept attribute a lazy-init test finds missing: `self.x is None`, or `not hasattr(self,
/// "x")`.
fn unset_attribute(test: &Expr) -> Option<(&str, &str)> {
    match test {
        Expr::Compare(compare) if *compare.ops == [CmpOp::Is] && compare.comparators[0].is_none_literal_expr() => {
            kept_attribute(&compare.left)
        }
        Expr::UnaryOp(u) if u.op == UnaryOp::Not => {
            let Expr::Call(call) = &*u.operand else { return None };
            let is_hasattr = matches!(&*call.func, Expr::Name(f) if f.id.as_str() == "hasattr");
            match call.arguments.args.as_ref() {
                [Expr::Name(object), Expr::StringLiteral(name)] if is_hasattr => {
                    Some((object.id.as_str(), name.value.to_str()))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// `self.x.device != d`, `self.x.dtype != d`, `self.x.size(0) != n`, `self.x.shape[0] != n` (either
/// side): whether the kept attribute `x` no longer fits the call.
fn is_staleness_test(test: &Expr, kept: (&str, &str)) -> bool {
    let Expr::Compare(compare) = test else { return false };
    if *compare.ops != [CmpOp::NotEq] {
        return false;
    }
    let describes_kept = |e: &Expr| {
        let inner = match e {
            Expr::Call(call) if call.arguments.keywords.is_empty() => &*call.func,
            Expr::Subscript(subscript) => &*subscript.value,
            other => other,
        };
        matches!(inner, Expr::Attribute(a)
            if matches!(a.attr.as_str(), "device" | "dtype" | "size" | "shape") && kept_attribute(&a.value) == Some(kept))
    };
    describes_kept(&compare.left) || describes_kept(&compare.comparators[0])
}

/// The names an `assert` test says are tensors in host memory: `x.device.type == "cpu"` (either
/// side), `x.is_cpu`, `not x.is_cuda`, and each operand of an `and` of them.
fn asserted_on_host<'a>(test: &'a Expr, names: &mut SmallVec<[&'a str; 2]>) {
    let name_of = |e: &'a Expr| match e {
        Expr::Name(n) => Some(n.id.as_str()),
        _ => None,
    };
    // `x.device.type`, giving `x`.
    let device_type_of = |e: &'a Expr| match e {
        Expr::Attribute(a) if a.attr.as_str() == "type" => match &*a.value {
            Expr::Attribute(d) if d.attr.as_str() == "device" => name_of(&d.value),
            _ => None,
        },
        _ => None,
    };
    let is_cpu_literal = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "cpu");
    let found = match test {
        Expr::BoolOp(b) if b.op == BoolOp::And => {
            for value in &b.values {
                asserted_on_host(value, names);
            }
            None
        }
        Expr::Compare(c) if *c.ops == [CmpOp::Eq] => {
            let (left, right) = (&*c.left, &c.comparators[0]);
            match (device_type_of(left), device_type_of(right)) {
                (Some(name), _) if is_cpu_literal(right) => Some(name),
                (_, Some(name)) if is_cpu_literal(left) => Some(name),
                _ => None,
            }
        }
        Expr::Attribute(a) if a.attr.as_str() == "is_cpu" => name_of(&a.value),
        Expr::UnaryOp(u) if u.op == UnaryOp::Not => match &*u.operand {
            Expr::Attribute(a) if a.attr.as_str() == "is_cuda" => name_of(&a.value),
            _ => None,
        },
        _ => None,
    };
    names.extend(found);
}

/// Whether a statement binds `name` itself (not inside a nested block).
fn binds_name(stmt: &Stmt, name: &str) -> bool {
    let is_name = |e: &Expr| match e {
        Expr::Name(n) => n.id.as_str() == name,
        Expr::Tuple(t) => t.elts.iter().any(|e| matches!(e, Expr::Name(n) if n.id.as_str() == name)),
        _ => false,
    };
    match stmt {
        Stmt::Assign(assign) => assign.targets.iter().any(is_name),
        Stmt::AnnAssign(assign) => is_name(&assign.target),
        Stmt::AugAssign(assign) => is_name(&assign.target),
        Stmt::For(stmt_for) => is_name(&stmt_for.target),
        _ => false,
    }
}

/// The object's and the attribute's names in `obj.x` (`self.x`, or a parameter's attribute).
fn kept_attribute(e: &Expr) -> Option<(&str, &str)> {
    match e {
        Expr::Attribute(a) => match &*a.value {
            Expr::Name(n) => Some((n.id.as_str(), a.attr.as_str())),
            _ => None,
        },
        _ => None,
    }
}

/// The attribute's name in `self.x`.
fn self_attribute(e: &Expr) -> Option<&str> {
    kept_attribute(e).filter(|(object, _)| *object == "self").map(|(_, attribute)| attribute)
}

/// `if needed > self.table.size(0):` (or `self.table.shape[k] < needed`, also as one operand of an
/// `and`): the body runs when a tensor the object keeps is too small for this call, to rebuild it
/// larger (sinusoidal position tables, `make_weights`), so once per growth and not every step. Only
/// the direction "kept size smaller than needed" counts: the other direction is the usual path.
fn is_table_growth_test(test: &Expr) -> bool {
    match test {
        Expr::BoolOp(b) if b.op == BoolOp::And => b.values.iter().any(is_table_growth_test),
        Expr::Compare(compare) if compare.ops.len() == 1 => match compare.ops[0] {
            CmpOp::Gt | CmpOp::GtE => is_kept_tensor_size(&compare.comparators[0]),
            CmpOp::Lt | CmpOp::LtE => is_kept_tensor_size(&compare.left),
            _ => false,
        },
        _ => false,
    }
}

/// `self.table.size(k)`, `self.table.size()[k]` or `self.table.shape[k]` (any attribute path
/// under `self`).
fn is_kept_tensor_size(e: &Expr) -> bool {
    fn under_self(e: &Expr) -> bool {
        self_attribute(e).is_some() || matches!(e, Expr::Attribute(a) if under_self(&a.value))
    }
    let size_call = |e: &Expr| matches!(e, Expr::Call(call) if matches!(&*call.func, Expr::Attribute(a) if a.attr.as_str() == "size" && under_self(&a.value)));
    match e {
        Expr::Call(_) => size_call(e),
        Expr::Subscript(s) => {
            size_call(&s.value)
                || matches!(&*s.value, Expr::Attribute(a) if a.attr.as_str() == "shape" && under_self(&a.value))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{changes_default_device, is_stub_body};
    use crate::python::adapter::{self, Stmt};

    /// Whether the body of the first function of `source` is a stub.
    fn stub(source: &str) -> bool {
        let parsed = adapter::parse(source, false, false);
        let Some(Stmt::FunctionDef(def)) = parsed.body().first() else { panic!("no function in {source}") };
        is_stub_body(&def.body)
    }

    #[test]
    fn stub_bodies_have_no_behaviour() {
        assert!(stub("def f(self):\n    pass\n"));
        assert!(stub("def f(self):\n    ...\n"));
        assert!(stub("def f(self):\n    \"\"\"Doc.\"\"\"\n"));
        assert!(stub("def f(self):\n    \"\"\"Doc.\"\"\"\n    raise NotImplementedError\n"));
        assert!(stub("def f(self):\n    raise NotImplementedError(\"subclasses\")\n"));
        assert!(!stub("def f(self):\n    return 1\n"));
        assert!(!stub("def f(self):\n    raise ValueError(\"no\")\n"));
        assert!(!stub("def f(self):\n    raise NotImplementedError\n    pass\n"));
        assert!(!stub("def f(self):\n    self.x = 1\n    raise NotImplementedError\n"));
    }

    #[test]
    fn default_device_changes_only_away_from_the_cpu() {
        assert!(changes_default_device("torch.set_default_device('cuda')\n"));
        assert!(changes_default_device("torch.set_default_device(device)\n"));
        assert!(changes_default_device("torch.set_default_tensor_type(torch.cuda.FloatTensor)\n"));
        assert!(changes_default_device("def f():\n    with torch.device(device):\n        pass\n"));
        assert!(changes_default_device("from torch import device\nwith device('meta'):\n    pass\n"));
        assert!(changes_default_device("with ctx, torch.device(d):\n    pass\n"));
        assert!(!changes_default_device("torch.set_default_device(\"cpu\")\n"));
        // One search finds both spellings: a CPU default set first does not hide a later `with`.
        assert!(changes_default_device("torch.set_default_device('cpu')\nwith torch.device('cuda'):\n    pass\n"));
        assert!(changes_default_device("with torch.device('cpu'):\n    torch.set_default_device(d)\n"));
        assert!(!changes_default_device("torch.set_default_tensor_type(torch.DoubleTensor)\n"));
        assert!(!changes_default_device("with torch.device('cpu'):\n    pass\n"));
        assert!(!changes_default_device("with torch.cuda.device(i):\n    pass\n"));
        assert!(!changes_default_device("with module.device(i):\n    pass\n"));
        assert!(!changes_default_device("x = torch.device('cuda')\n"));
    }
}
