//! Types that cross files. The per-file pass proves types inside one file; where it could only
//! describe a value symbolically (an attribute of an annotated parameter, `self.x` declared in a
//! base class elsewhere, the result of a function imported from another module) it records a
//! [`TypeQuestion`]. Here the evaluator answers those questions from the other files'
//! declarations:
//!
//! - attributes: the types a class's own file proves for them ([`ClassSummary::attr_tys`]:
//!   dataclass and `NamedTuple` fields, class-level annotations such as `top_ps: torch.Tensor`
//!   or `copy_done: Optional[torch.cuda.Event]`, `self.x = ...` in its methods), through the MRO;
//! - containers: what a class declares an attribute to hold ([`ClassSummary::attr_containers`]:
//!   `masks: Optional[Dict[int, Tuple[P, torch.Tensor]]]`, `ids: List[int]`), answered only
//!   where the reader takes elements out of it (or indexes it by what may be a tensor; see
//!   [`TypeQuestion::elements`]), and only when every class it may be read from agrees;
//! - calls: a function's return annotation, else what its `return` statements give
//!   ([`FuncSummary::returns`]), element by element for tuples unpacked at the call site;
//! - parameters annotated `int`/`float` that a caller in the tree passes a proven device tensor
//!   (one such caller is enough: on that path the parameter holds a tensor). Only positional
//!   arguments proven in the caller's own file count, which bounds the work to one callee
//!   resolution per such call site.
//!
//! Only tensors, tuples of tensors, streams/events and numpy arrays are answered; an attribute
//! named like a host buffer (`*_cpu`, `cpu_*`, `*_pinned`, `*_host`) is never answered as a device
//! tensor, and a tensor that is on the device on one path and in host memory on another stays
//! unknown. Files with answers in a function that is hot (or in any function with `--all-paths`)
//! are checked again with them ([`crate::python::analyze_file_with`]); their findings replace the
//! first pass's. The first pass only asks about values that reach a construct some rule reads (a
//! sync method's receiver, a condition, a compare, an index, a builtin's argument, a value stored
//! through a subscript; see `Checker::keep_read_questions`), so that an answer that cannot change
//! a finding costs no second check.

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::moved::MovedAttr;
use super::{ClassKey, Entity, FileIdx, Project, Sym};
use crate::paths::display_path;
use crate::python::summary::*;
use crate::python::types::{
    names_host_buffer, range_key, Declared, ForeignTypes, GivenTensor, HostData, ParamReturns, Ty,
};

/// What a question's value is: its type, and for a call unpacked into a tuple, each element's.
type Answer = (Ty, Option<Vec<Ty>>);

/// The containers classes declare, by attribute ([`ClassSummary::attr_containers`]), and the
/// names of those attributes.
#[derive(Default)]
struct Containers<'f> {
    by_attr: FxHashMap<(ClassKey, Sym), &'f Declared>,
    names: FxHashSet<Sym>,
}

impl Project<'_> {
    /// Per file, what the other files prove about its questions in functions `wanted` accepts,
    /// and about its parameters annotated as Python numbers.
    pub(super) fn foreign_types(
        &mut self,
        wanted: impl Fn(FileIdx, FuncIdx) -> bool,
        is_root: impl Fn(FileIdx, FuncIdx) -> bool,
    ) -> Vec<ForeignTypes> {
        let files = self.files;
        let mut attr_tys: FxHashMap<(ClassKey, Sym), Ty> = FxHashMap::default();
        for (file, analysis) in files.iter().enumerate() {
            for (class, info) in analysis.summary.classes.iter().enumerate() {
                for &(name, ty) in &info.attr_tys {
                    attr_tys.insert(((file as u32, class as u32), self.syms[file][name as usize]), ty);
                }
            }
        }
        // Fields that every construction fills with boolean tensors (or containers of them).
        let mut declared_fields: FxHashSet<(ClassKey, Sym)> = attr_tys.keys().copied().collect();
        for (file, analysis) in files.iter().enumerate() {
            for (class, info) in analysis.summary.classes.iter().enumerate() {
                for (name, _) in &info.attr_containers {
                    declared_fields.insert(((file as u32, class as u32), self.syms[file][*name as usize]));
                }
            }
        }
        let bool_fields = self.constructed_bool_fields(&declared_fields);
        drop(declared_fields);
        for (key, given) in &bool_fields {
            if let (Some(Ty::Tensor { boolean, .. }), Declared::Leaf(Ty::Tensor { boolean: true, .. })) =
                (attr_tys.get_mut(key), given)
            {
                *boolean = true;
            }
        }
        // (And the instances of project classes they hold, by what calling one gives.)
        let mut refined: FxHashMap<(ClassKey, Sym), Declared> = FxHashMap::default();
        for (file, analysis) in files.iter().enumerate() {
            for (class, info) in analysis.summary.classes.iter().enumerate() {
                for (name, declared) in &info.attr_containers {
                    let key = ((file as u32, class as u32), self.syms[file][*name as usize]);
                    let masks = bool_fields.get(&key).map(|given| with_bool_tensors(declared, given));
                    let resolved = self.called_instances(file, masks.as_ref().unwrap_or(declared));
                    if let Some(declared) = resolved.or(masks) {
                        refined.insert(key, declared);
                    }
                }
            }
        }
        let mut containers = Containers::default();
        for (file, analysis) in files.iter().enumerate() {
            for (class, info) in analysis.summary.classes.iter().enumerate() {
                for (name, declared) in &info.attr_containers {
                    let name = self.syms[file][*name as usize];
                    let key = ((file as u32, class as u32), name);
                    containers.by_attr.insert(key, refined.get(&key).unwrap_or(declared));
                    containers.names.insert(name);
                }
            }
        }
        let mut out: Vec<ForeignTypes> = files.iter().map(|_| ForeignTypes::default()).collect();
        self.params_given_tensors(&mut out, &wanted);
        self.forward_given_tensors(&mut out, &wanted);
        self.host_params(&mut out, &wanted, &is_root);
        self.kept_fields(&mut out);
        // (Calls answered after the parameters are known: what a function returns of them.)
        self.given_params = out
            .iter()
            .enumerate()
            .flat_map(|(file, f)| f.params.keys().map(move |&(func, i)| (file, func, i)))
            .collect();
        let mut answers: FxHashMap<(ValId, bool), Answer> = FxHashMap::default();
        let mut container_answers: FxHashMap<ValId, Option<Declared>> = FxHashMap::default();
        for (file, foreign) in out.iter_mut().enumerate() {
            answers.clear();
            container_answers.clear();
            for question in &files[file].summary.questions {
                if !wanted(file, question.func) {
                    continue;
                }
                let (ty, elements) = match answers.get(&(question.val, question.call)) {
                    Some(known) => known.clone(),
                    None => {
                        let answer = if question.call {
                            let callees = self.eval(file, question.val);
                            self.return_ty(&callees)
                        } else {
                            self.declared(file, question.val, &attr_tys)
                        };
                        answers.insert((question.val, question.call), answer.clone());
                        answer
                    }
                };
                let key = range_key(question.start, question.end);
                if answerable(ty) {
                    foreign.exprs.insert(key, ty);
                } else if (question.elements || question.indexed) && !question.call && !containers.names.is_empty() {
                    let declared = match container_answers.get(&question.val) {
                        Some(known) => known.clone(),
                        None => {
                            let declared = self.declared_container(file, question.val, &attr_tys, &containers);
                            container_answers.insert(question.val, declared.clone());
                            declared
                        }
                    };
                    // (Elements typed where they are taken out; a list where a tensor may index it.)
                    let useful = |declared: &Declared| {
                        (question.elements && declared.holds_arrays()) || (question.indexed && declared.is_sequence())
                    };
                    if let Some(declared) = declared.filter(useful) {
                        foreign.containers.insert(key, declared);
                    }
                }
                if let Some(elements) = elements {
                    foreign.elements.insert(key, elements);
                }
            }
        }
        for (file, foreign) in out.iter_mut().enumerate() {
            param_returns(&files[file].summary, foreign);
        }
        out
    }

    /// Parameters annotated `int`/`float`/`bool`, or not typed at all, that some call site in the
    /// tree passes a proven device tensor, by position or keyword: proven in the caller's file, or
    /// by other files' answers (`a, b = helper(x)` then `f(a)`). The first such caller (in file
    /// order) is the one messages show. Each such call site's callee is resolved once.
    fn params_given_tensors(&mut self, out: &mut [ForeignTypes], wanted: &impl Fn(FileIdx, FuncIdx) -> bool) {
        let files = self.files;
        let mut returns: FxHashMap<ValId, Answer> = FxHashMap::default();
        // (call, slot, row, and for an attribute moved to the device, the classes it holds one for)
        let mut given: Vec<(u32, Slot, u32, Option<MovedAttr>)> = Vec::new();
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            given.clear();
            returns.clear();
            for args in &summary.tensor_args {
                for position in set_bits(args.positions) {
                    given.push((args.call, Slot::Position(position), args.row, None));
                }
            }
            for &(call, name, row) in &summary.tensor_kwargs {
                given.push((call, Slot::Keyword(self.sym(file, name)), row, None));
            }
            for arg in &summary.answered_args {
                let (ty, elements) = match returns.get(&arg.callee) {
                    Some(known) => known.clone(),
                    None => {
                        let callees = self.eval(file, arg.callee);
                        let answer = self.return_ty(&callees);
                        returns.insert(arg.callee, answer.clone());
                        answer
                    }
                };
                let ty = match arg.element {
                    Some(element) => elements.and_then(|e| e.get(element as usize).copied()).unwrap_or(Ty::Unknown),
                    None => ty,
                };
                let moved = if ty.is_device_tensor() {
                    None
                } else {
                    let Some(moved) = self.moved_result(file, arg.callee, arg.element) else { continue };
                    Some(moved)
                };
                let slot = match arg.keyword {
                    Some(name) => Slot::Keyword(self.sym(file, name)),
                    None => Slot::Position(arg.position),
                };
                given.push((arg.call, slot, arg.row, moved));
            }
            // Grouped by call site, so that each is resolved once; stable, so the first caller
            // of a line stays first.
            given.sort_by_key(|g| g.0);
            let mut at = 0;
            while at < given.len() {
                let call_index = given[at].0;
                let end = at + given[at..].iter().take_while(|g| g.0 == call_index).count();
                let call = &summary.calls[call_index as usize];
                for (target_file, func, first) in self.call_targets(file, call) {
                    let target = &files[target_file].summary.funcs[func as usize];
                    // (A parameter annotated a number keeps the callers-win rule it had before
                    // type tests were looked at.)
                    let open =
                        target.scalar_params | (target.untyped_params & target.read_params & !target.tested_params);
                    if open == 0 || !wanted(target_file, func) {
                        continue;
                    }
                    for (_, slot, row, moved) in &given[at..end] {
                        let (slot, row) = (*slot, *row);
                        if moved.as_ref().is_some_and(|moved| !self.receives_moved(target_file, func, moved)) {
                            continue;
                        }
                        let Some(index) = self.param_index(target_file, func, first, slot) else { continue };
                        if open & (1 << index) == 0 {
                            continue;
                        }
                        let name = files[target_file].summary.names.get(target.params[index as usize].0);
                        let annotated = target.scalar_params & (1 << index) != 0;
                        out[target_file].params.entry((func, index)).or_insert_with(|| GivenTensor {
                            name: name.to_string(),
                            caller: format!("{}:{}", display_path(&analysis.path), row),
                            annotated,
                            zero_dim: annotated,
                        });
                    }
                }
                at = end;
            }
        }
    }

    /// Parameters of private (`_helper`, `Class._helper`) and local functions, whose callers are
    /// all in the tree, that every call site reaching them passes host data (a host tensor, a
    /// numpy array, a Python number; or a parameter of its own function that is host data by the
    /// same rule): the parameter is host data, even when annotated `torch.Tensor` (which says
    /// nothing of its memory). A parameter no call passes (its default is used) is decided by the
    /// calls that pass it; one with no such call is not decided.
    ///
    /// Methods of private classes count too ([`Project::closed_by_class`]): the class's instances
    /// are made in the tree, so its methods' callers are there, whatever the name they are called
    /// by (`self.transform(image, size=torch.tensor(sizes))` calls `_Transform.forward`). For those
    /// every call site in the tree that passes arguments is resolved (once each); a private
    /// function's are only the calls of private and local names the first pass marked `closed`.
    /// Calls that the evaluator cannot resolve are not seen, as for private functions: "every
    /// call" means every call whose callee is proven.
    ///
    /// Public module-level functions count too ([`Self::open_functions`]), decided by every call
    /// in the tree that resolves to them (sglang's `sgemm_lora_a_fwd`, given the batch's
    /// `*_cpu` tensors by each of its callers): outside callers are not seen, but neither can
    /// they make the function hot.
    fn host_params(
        &mut self,
        out: &mut [ForeignTypes],
        wanted: &impl Fn(FileIdx, FuncIdx) -> bool,
        is_root: &impl Fn(FileIdx, FuncIdx) -> bool,
    ) {
        let files = self.files;
        let mut passed: FxHashMap<Param, Passes> = FxHashMap::default();
        let by_class = self.any_closed_by_class();
        let open = self.open_functions(is_root);
        let any_open = !open.is_empty();
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            for args in summary.tensor_args.iter().filter(|args| args.closed || by_class || any_open) {
                let call = &summary.calls[args.call as usize];
                // A call by a public name decides only methods of private classes and public
                // module functions.
                if !args.closed && !self.may_call_decided_function(file, call.callee, by_class, &open) {
                    continue;
                }
                let keywords = &summary.closed_kwargs[calls_range(&summary.closed_kwargs, args.call, |k| k.0)];
                let forwarded = &summary.forwarded_args[calls_range(&summary.forwarded_args, args.call, |f| f.call)];
                let forwarded_from = |position: u32, keyword: Option<NameId>| match forwarded
                    .iter()
                    .find(|f| f.position == position && f.keyword == keyword && !f.derived)
                {
                    Some(f) => Passed::Forwarded((file, call.func, f.param)),
                    None => Passed::Other,
                };
                for (target_file, func, first) in self.call_targets(file, call) {
                    let target = &files[target_file].summary.funcs[func as usize];
                    let eligible = (target.untyped_params | target.tensor_params) & !target.tested_params;
                    let closed = if is_private_or_local(target) {
                        args.closed
                    } else {
                        self.closed_by_class(target_file, func) || open.contains(&(target_file, func))
                    };
                    if eligible == 0 || !closed {
                        continue;
                    }
                    let first = if target.is_static { 0 } else { first };
                    let in_range = u32::MAX.checked_shr(32 - target.params.len().min(32) as u32).unwrap_or(0);
                    for index in set_bits(eligible & in_range) {
                        let param_name = self.sym(target_file, target.params[index as usize].0);
                        let positional =
                            index.checked_sub(first).filter(|&p| p < call.args.len && index < target.positional);
                        let value = match positional {
                            _ if args.spread => Some(Passed::Other),
                            Some(position) if position < 32 && args.host & (1 << position) != 0 => {
                                Some(Passed::Host(HostData::Array))
                            }
                            Some(position) if position < 32 && args.scalars & (1 << position) != 0 => {
                                Some(Passed::Host(HostData::Scalar))
                            }
                            Some(position) => Some(forwarded_from(position, None)),
                            None => {
                                keywords.iter().find(|k| self.sym(file, k.1) == param_name).map(|&(_, name, data)| {
                                    data.map_or_else(|| forwarded_from(u32::MAX, Some(name)), Passed::Host)
                                })
                            }
                        };
                        // Not passed at all: the default is used, and the calls that pass it decide.
                        let Some(value) = value else { continue };
                        let entry = passed.entry((target_file, func, index)).or_default();
                        match value {
                            Passed::Host(HostData::Array) => entry.arrays = true,
                            Passed::Host(HostData::Scalar) => entry.scalars = true,
                            Passed::Other => entry.other = true,
                            Passed::Forwarded(param) => entry.from.push(param),
                        }
                    }
                }
            }
        }
        // The greatest set closed under forwarding: a parameter stays host data while every
        // parameter forwarded to it does; it holds the kinds of data they hold.
        let mut host: FxHashMap<Param, (bool, bool)> =
            passed.iter().filter(|(_, p)| !p.other).map(|(k, p)| (*k, (p.arrays, p.scalars))).collect();
        loop {
            let mut changed = false;
            let params: Vec<Param> = host.keys().copied().collect();
            for param in params {
                let mut kinds = host[&param];
                for from in &passed[&param].from {
                    match host.get(from) {
                        Some(&(arrays, scalars)) => kinds = (kinds.0 || arrays, kinds.1 || scalars),
                        None => {
                            host.remove(&param);
                            changed = true;
                            break;
                        }
                    }
                }
                if let Some(known) = host.get_mut(&param) {
                    changed |= *known != kinds;
                    *known = kinds;
                }
            }
            if !changed {
                break;
            }
        }
        for ((file, func, index), kinds) in host {
            // Only one kind of data decides: a parameter given host arrays and Python numbers
            // holds either.
            let data = match kinds {
                (true, false) => HostData::Array,
                (false, true) => HostData::Scalar,
                _ => continue,
            };
            // Only where a rule reads it (a parameter only passed on still decides its callees').
            let read = files[file].summary.funcs[func as usize].read_params & (1 << index) != 0;
            if read && wanted(file, func) {
                out[file].host_params.insert((func, index), data);
            }
        }
    }

    /// Public module-level functions whose parameters [`Self::host_params`] may decide, with their
    /// names. Their callers outside the tree are not seen, but only calls in the tree make them
    /// hot: when every call here passes host data, so does every call on a hot path. Not a root,
    /// nor a function holding one (a `forward`, a decode loop, a profile's entry point), whose
    /// callers are the framework's or the user's.
    fn open_functions(&self, is_root: &impl Fn(FileIdx, FuncIdx) -> bool) -> FxHashSet<(FileIdx, FuncIdx)> {
        let mut open = FxHashSet::default();
        for (file, analysis) in self.files.iter().enumerate() {
            for (func, info) in analysis.summary.funcs.iter().enumerate() {
                let decidable =
                    (info.untyped_params | info.tensor_params) & !info.tested_params & info.read_params != 0;
                if decidable
                    && info.class.is_none()
                    && info.qualname == info.name
                    && !info.name.starts_with('_')
                    && !is_root(file, func as FuncIdx)
                {
                    open.insert((file, func as FuncIdx));
                }
            }
        }
        open
    }

    /// Whether a method's callers are all in the tree by its class: a method of a private class
    /// (`_Transform`, not a dunder name) that no class in the tree derives from (a subclass may
    /// be public, and its instances called from outside).
    fn closed_by_class(&self, file: FileIdx, func: FuncIdx) -> bool {
        let Some(class) = self.files[file].summary.funcs[func as usize].class else { return false };
        let name = &self.files[file].summary.classes[class as usize].name;
        name.starts_with('_')
            && !name.ends_with("__")
            && self.subclasses.get(&(file as u32, class)).is_none_or(|subclasses| subclasses.is_empty())
    }

    /// Whether a call of `callee` by a public name may reach a function whose parameters
    /// [`Self::host_params`] decides: one of the `open` public module functions, or (when
    /// `by_class`) a method of a private class ([`Self::closed_by_class`]), a function or bound
    /// method of one or what is called through its class's methods (a class, an instance, a
    /// container of them), whose class [`Self::call_targets`] looks up. (The callee's value is
    /// memoised from call resolution.)
    fn may_call_decided_function(
        &mut self,
        file: FileIdx,
        callee: ValId,
        by_class: bool,
        open: &FxHashSet<(FileIdx, FuncIdx)>,
    ) -> bool {
        self.eval(file, callee).into_iter().any(|entity| match entity {
            Entity::Func(f, m) if open.contains(&(f, m)) => true,
            Entity::Func(f, m) | Entity::Bound(f, m) => by_class && self.closed_by_class(f, m),
            Entity::Class(..) | Entity::Instance(..) | Entity::Declared(..) | Entity::Container(_) => by_class,
            _ => false,
        })
    }

    /// Whether some method of a private class has a parameter [`Self::host_params`] may decide
    /// (only then are the calls of public names resolved for it).
    fn any_closed_by_class(&self) -> bool {
        self.files.iter().enumerate().any(|(file, analysis)| {
            analysis.summary.funcs.iter().enumerate().any(|(func, info)| {
                (info.untyped_params | info.tensor_params) & !info.tested_params & info.read_params != 0
                    && self.closed_by_class(file, func as FuncIdx)
            })
        })
    }

    /// Multimodal input fields that stay in host memory (see `checker/kept_fields.rs`): a name
    /// every declaration in the tree keeps on the CPU, for each file that reads it from a mapping
    /// and does not declare it itself (its own declarations decided in its first pass).
    fn kept_fields(&self, out: &mut [ForeignTypes]) {
        // Per name: (declared kept somewhere, declared not kept somewhere).
        let mut declared: FxHashMap<Sym, (bool, bool)> = FxHashMap::default();
        for (file, analysis) in self.files.iter().enumerate() {
            for &(name, kept) in &analysis.summary.mm_fields {
                let entry = declared.entry(self.sym(file, name)).or_default();
                *(if kept { &mut entry.0 } else { &mut entry.1 }) = true;
            }
        }
        if !declared.values().any(|&(kept, shared)| kept && !shared) {
            return;
        }
        for (file, analysis) in self.files.iter().enumerate() {
            let summary = &analysis.summary;
            for &name in &summary.field_reads {
                let sym = self.sym(file, name);
                let own = summary.mm_fields.iter().any(|&(declared, _)| self.sym(file, declared) == sym);
                if declared.get(&sym) == Some(&(true, false)) && !own {
                    out[file].kept_fields.push(summary.names.get(name).to_string());
                }
            }
        }
    }

    /// What a call site invokes, with the index of the parameter its first positional argument fills.
    pub(super) fn call_targets(&mut self, file: FileIdx, call: &CallSite) -> SmallVec<[(FileIdx, FuncIdx, u32); 4]> {
        let mut targets: SmallVec<[(FileIdx, FuncIdx, u32); 4]> = SmallVec::new();
        for entity in self.eval(file, call.callee) {
            self.targets_of(entity, call.kind, &mut targets, 0);
        }
        targets
    }

    /// The index of the parameter of `func` that `slot` fills at a call whose first positional
    /// argument fills parameter `first`; `None` past the 32 parameters tracked.
    pub(super) fn param_index(&self, file: FileIdx, func: FuncIdx, first: u32, slot: Slot) -> Option<u32> {
        let summary = &self.files[file].summary.funcs[func as usize];
        // `self.helper(...)` of a `@staticmethod` passes no receiver.
        let first = if summary.is_static { 0 } else { first };
        let index = match slot {
            Slot::Position(position) => Some(position + first).filter(|&index| index < summary.positional)?,
            Slot::Keyword(name) => summary.params.iter().position(|&(n, _)| self.sym(file, n) == name)? as u32,
        };
        (index < 32 && (index as usize) < summary.params.len()).then_some(index)
    }

    /// The fields of dataclasses and `NamedTuple`s (by the class that declares them, among
    /// `declared`) that the constructions in the tree fill by keyword with what holds boolean
    /// tensors, where they all agree: what they hold, the leaves that every one of them fills
    /// with a boolean tensor as such (see [`FileSummary::field_kwargs`]). A class with an
    /// `__init__` in the project (which may store something else under the name), or
    /// constructed anywhere with positional or `**` arguments, has none.
    fn constructed_bool_fields(
        &mut self,
        declared: &FxHashSet<(ClassKey, Sym)>,
    ) -> FxHashMap<(ClassKey, Sym), Declared> {
        let files = self.files;
        let mut met: FxHashMap<(ClassKey, Sym), Declared> = FxHashMap::default();
        let mut opaque: FxHashSet<ClassKey> = FxHashSet::default();
        let mut bool_sites = false;
        for analysis in files {
            bool_sites |= analysis.summary.field_kwargs.iter().any(|(_, _, shape)| shape.holds_bool_tensor());
        }
        if !bool_sites {
            return met;
        }
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            for &callee in &summary.opaque_constructions {
                for entity in self.eval(file, callee) {
                    if let Entity::Class(f, c) = entity {
                        for index in self.mro(f, c) {
                            let (f, c) = self.mro_classes[index];
                            opaque.insert((f as u32, c));
                        }
                    }
                }
            }
            for &(callee, name, ref shape) in &summary.field_kwargs {
                let name = self.sym(file, name);
                for entity in self.eval(file, callee) {
                    let Entity::Class(f, c) = entity else { continue };
                    if self.find_method_named(f, c, self.sym_init).is_some() {
                        continue;
                    }
                    let mut declaring = None;
                    for index in self.mro(f, c) {
                        let (f, c) = self.mro_classes[index];
                        if declared.contains(&((f as u32, c), name)) {
                            declaring = Some(((f as u32, c), name));
                            break;
                        }
                    }
                    let Some(key) = declaring else { continue };
                    match met.get_mut(&key) {
                        Some(known) => *known = meet(known, shape),
                        None => {
                            met.insert(key, shape.clone());
                        }
                    }
                }
            }
        }
        met.retain(|(class, _), shape| !opaque.contains(class) && shape.holds_bool_tensor());
        met
    }

    /// `declared` (of `file`) with its [`Declared::Instance`]s turned into what calling one
    /// gives (`__call__`, or `forward` of a module; [`Declared::Calls`]) where that is a tensor,
    /// else unknown leaves; `None` when it holds none.
    fn called_instances(&mut self, file: FileIdx, declared: &Declared) -> Option<Declared> {
        let inner = |this: &mut Self, d: &Declared| this.called_instances(file, d);
        match declared {
            Declared::Leaf(_) | Declared::Calls(_) => None,
            Declared::Instance(val) => {
                let classes = self.eval(file, *val);
                let mut returns: Option<Ty> = None;
                for entity in classes {
                    let (Entity::Instance(f, c) | Entity::Declared(f, c)) = entity else {
                        returns = Some(Ty::Unknown);
                        continue;
                    };
                    let method = if self.is_module_class(f, c) { self.sym_forward } else { self.sym_call };
                    let ty = match self.find_method_named(f, c, method) {
                        Some((f, m)) => self.files[f].summary.funcs[m as usize].returns,
                        None => Ty::Unknown,
                    };
                    returns = Some(returns.map_or(ty, |known| known.join_paths(ty)));
                }
                Some(match returns {
                    Some(ty) if answerable(ty) => Declared::Calls(ty),
                    _ => Declared::Leaf(Ty::Unknown),
                })
            }
            Declared::Seq(element) => inner(self, element).map(|e| Declared::Seq(Box::new(e))),
            Declared::Iter(element) => inner(self, element).map(|e| Declared::Iter(Box::new(e))),
            Declared::Map(key, value) => {
                let (k, v) = (inner(self, key), inner(self, value));
                (k.is_some() || v.is_some()).then(|| {
                    Declared::Map(
                        Box::new(k.unwrap_or_else(|| (**key).clone())),
                        Box::new(v.unwrap_or_else(|| (**value).clone())),
                    )
                })
            }
            Declared::Tuple(elements) => {
                let resolved: Vec<Option<Declared>> = elements.iter().map(|e| inner(self, e)).collect();
                resolved.iter().any(Option::is_some).then(|| {
                    Declared::Tuple(
                        resolved.into_iter().zip(elements).map(|(r, e)| r.unwrap_or_else(|| e.clone())).collect(),
                    )
                })
            }
        }
    }

    /// The type other files' declarations give value `val` of `file`.
    fn declared(&mut self, file: FileIdx, val: ValId, attr_tys: &FxHashMap<(ClassKey, Sym), Ty>) -> Answer {
        let files = self.files;
        match files[file].summary.vals[val as usize] {
            Val::Attr(base, name) => {
                let name = self.sym(file, name);
                let bases = self.eval(file, base);
                (self.attribute_ty(&bases, name, attr_tys), None)
            }
            Val::SelfAttr { class, name } => {
                let name = self.sym(file, name);
                (self.attribute_ty(&[Entity::Instance(file, class)], name, attr_tys), None)
            }
            Val::Call(callee) => {
                let callees = self.eval(file, callee);
                self.return_ty(&callees)
            }
            _ => (Ty::Unknown, None),
        }
    }

    /// The container an attribute read `val` of `file` is declared as, when every class it may be
    /// read from declares the same one, and nothing says the attribute lives in host memory.
    fn declared_container(
        &mut self,
        file: FileIdx,
        val: ValId,
        attr_tys: &FxHashMap<(ClassKey, Sym), Ty>,
        containers: &Containers,
    ) -> Option<Declared> {
        let (entities, name) = match self.files[file].summary.vals[val as usize] {
            Val::Attr(base, name) => {
                let name = self.sym(file, name);
                if !containers.names.contains(&name) {
                    return None;
                }
                (self.eval(file, base).to_vec(), name)
            }
            Val::SelfAttr { class, name } => {
                let name = self.sym(file, name);
                if !containers.names.contains(&name) {
                    return None;
                }
                (vec![Entity::Instance(file, class)], name)
            }
            _ => return None,
        };
        let mut found: Option<&Declared> = None;
        for &entity in &entities {
            let (Entity::Instance(f, c) | Entity::Declared(f, c)) = entity else { return None };
            let mut declared = None;
            for index in self.mro(f, c) {
                let (f, c) = self.mro_classes[index];
                let key = ((f as u32, c), name);
                if let Some(&container) = containers.by_attr.get(&key) {
                    declared = Some(container);
                    break;
                }
                if attr_tys.contains_key(&key)
                    || self.class_attrs.contains_key(&key)
                    || self.class_methods.contains_key(&key)
                {
                    return None;
                }
            }
            match (found, declared) {
                (_, None) => return None,
                (Some(known), Some(declared)) if known != declared => return None,
                _ => found = declared,
            }
        }
        let found = found?;
        if names_host_buffer(self.sym_names[name as usize]) || self.filled_from_host(&entities, name, false) {
            return None;
        }
        Some(found.clone())
    }

    /// `x.name` for `x` any of `entities` (instances of project classes): what every one that has
    /// the attribute agrees on (in `Union[A, B]`, a class without it cannot be the value read).
    fn attribute_ty(&mut self, entities: &[Entity], name: Sym, attr_tys: &FxHashMap<(ClassKey, Sym), Ty>) -> Ty {
        let mut joined = None;
        for &entity in entities {
            let ty = match entity {
                Entity::Instance(f, c) | Entity::Declared(f, c) => {
                    match self.class_attribute_ty(f, c, name, attr_tys) {
                        Some(ty) => ty,
                        None => continue,
                    }
                }
                _ => Ty::Unknown,
            };
            joined = Some(joined.map_or(ty, |known: Ty| known.join_paths(ty)));
        }
        let ty = joined.unwrap_or(Ty::Unknown);
        let device = ty.is_device_tensor() || ty == Ty::Tensors;
        if device && (names_host_buffer(self.sym_names[name as usize]) || self.filled_from_host(entities, name, false))
        {
            return Ty::Unknown;
        }
        // An unproven field that constructors fill with host values lives in host memory (one
        // that only a method assigns a host value may hold a device tensor in between).
        if ty == Ty::Unknown && !entities.is_empty() && self.filled_from_host(entities, name, true) {
            return Ty::HOST_TENSOR;
        }
        ty
    }

    /// Whether a constructor call in the tree passes field `name` of one of `entities`' classes
    /// a host value (`PoolingMetadata(prompt_lens=self.lens_cpu[:n])`), or a method of the class
    /// assigns it one (`self.lens = self.lens.to("cpu")`); `by_constructor`: only the former.
    fn filled_from_host(&mut self, entities: &[Entity], name: Sym, by_constructor: bool) -> bool {
        if self.host_fields.is_none() {
            // Per field: whether a constructor call fills it (else only a method assigns it).
            let mut fields: FxHashMap<(ClassKey, Sym), bool> = FxHashMap::default();
            let files = self.files;
            for (file, analysis) in files.iter().enumerate() {
                for (class, info) in analysis.summary.classes.iter().enumerate() {
                    for &name in &info.host_attrs {
                        fields.entry(((file as u32, class as u32), self.syms[file][name as usize])).or_insert(false);
                    }
                }
                // Positionally: the `__init__` parameter at that place names the field.
                for &(call, position) in &analysis.summary.host_args {
                    let callee = analysis.summary.calls[call as usize].callee;
                    for entity in self.eval(file, callee) {
                        let Entity::Class(f, c) = entity else { continue };
                        let Some((init_file, init)) = self.find_method_named(f, c, self.sym_init) else { continue };
                        let params = &files[init_file].summary.funcs[init as usize].params;
                        if let Some(&(name, _)) = params.get(position as usize + 1) {
                            fields.insert(((f as u32, c), self.syms[init_file][name as usize]), true);
                        }
                    }
                }
                for &(call, keyword) in &analysis.summary.host_kwargs {
                    let callee = analysis.summary.calls[call as usize].callee;
                    for entity in self.eval(file, callee) {
                        if let Entity::Class(f, c) = entity {
                            fields.insert(((f as u32, c), self.syms[file][keyword as usize]), true);
                        }
                    }
                }
            }
            self.host_fields = Some(fields);
        }
        let fields = self.host_fields.as_ref().expect("filled above");
        entities.iter().any(|entity| match *entity {
            Entity::Instance(f, c) | Entity::Declared(f, c) => {
                fields.get(&((f as u32, c), name)).is_some_and(|&constructor| constructor || !by_constructor)
            }
            _ => false,
        })
    }

    /// The first class in the MRO that proves or assigns the attribute decides; `None` when no
    /// project class in it has the attribute (nor a method of that name) and every base is known.
    fn class_attribute_ty(
        &mut self,
        file: FileIdx,
        class: u32,
        name: Sym,
        attr_tys: &FxHashMap<(ClassKey, Sym), Ty>,
    ) -> Option<Ty> {
        let files = self.files;
        let mut external_base = false;
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            let key = ((f as u32, c), name);
            if let Some(&ty) = attr_tys.get(&key) {
                return Some(ty);
            }
            if self.class_attrs.contains_key(&key) || self.class_methods.contains_key(&key) {
                return Some(Ty::Unknown);
            }
            // A base outside the project may define it.
            let bases = &files[f].summary.classes[c as usize].bases;
            external_base |=
                bases.iter().any(|&base| !self.eval(f, base).iter().all(|e| matches!(e, Entity::Class(..))));
        }
        external_base.then_some(Ty::Unknown)
    }

    /// What calling any of `callees` returns: functions' and methods' declared or inferred
    /// returns, `forward`/`__call__` for instances.
    fn return_ty(&mut self, callees: &[Entity]) -> Answer {
        let files = self.files;
        let mut joined: Option<Answer> = None;
        for &callee in callees {
            let func = match callee {
                Entity::Func(f, m) | Entity::Bound(f, m) => Some((f, m)),
                Entity::Instance(f, c) | Entity::Declared(f, c) => {
                    let method = if self.is_module_class(f, c) { self.sym_forward } else { self.sym_call };
                    self.find_method_named(f, c, method)
                }
                _ => None,
            };
            let answer: Answer = match func {
                Some((f, m)) => {
                    let summary = &files[f].summary.funcs[m as usize];
                    let mut elements = (!summary.return_elements.is_empty()).then(|| summary.return_elements.clone());
                    let mut returns = summary.returns;
                    self.type_returned_attrs(f, m, &mut returns, &mut elements);
                    self.type_returned_params(f, m, &mut returns, &mut elements);
                    if names_host_buffer(&summary.name) {
                        // `get_token_ids_cpu()`: what it returns is not taken for device tensors.
                        let not_device =
                            |ty: Ty| if ty.is_device_tensor() || ty == Ty::Tensors { Ty::Unknown } else { ty };
                        (not_device(returns), elements.map(|e| e.into_iter().map(not_device).collect()))
                    } else {
                        (returns, elements)
                    }
                }
                None => (Ty::Unknown, None),
            };
            joined = Some(match joined {
                None => answer,
                Some((ty, elements)) => {
                    let elements = match (elements, answer.1) {
                        (Some(a), Some(b)) if a.len() == b.len() => {
                            Some(a.iter().zip(&b).map(|(x, y)| x.join_paths(*y)).collect())
                        }
                        _ => None,
                    };
                    (ty.join_paths(answer.0), elements)
                }
            });
        }
        joined.unwrap_or((Ty::Unknown, None))
    }
}

impl Project<'_> {
    /// What `func` returns of its parameters that callers give device tensors (see
    /// [`FuncSummary::returns_params`]): device tensors, where the file proved nothing. (Any call
    /// of it: the call site's own argument is not looked at here.)
    fn type_returned_params(&self, file: FileIdx, func: FuncIdx, returns: &mut Ty, elements: &mut Option<Vec<Ty>>) {
        if self.given_params.is_empty() {
            return;
        }
        let summary = &self.files[file].summary.funcs[func as usize];
        let given = |mask: u32| set_bits(mask).any(|i| self.given_params.contains(&(file, func, i)));
        if *returns == Ty::Unknown && given(summary.returns_params) {
            *returns = Ty::TENSOR;
        }
        for (position, &mask) in summary.return_element_params.iter().enumerate() {
            if !given(mask) {
                continue;
            }
            let elements = elements.get_or_insert_with(Vec::new);
            if elements.len() <= position {
                elements.resize(position + 1, Ty::Unknown);
            }
            if elements[position] == Ty::Unknown {
                elements[position] = Ty::TENSOR;
            }
        }
    }
}

/// Which parameter an argument fills: by position, or by keyword (an interned name).
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Position(u32),
    Keyword(Sym),
}

/// A parameter: its function, and its index.
type Param = (FileIdx, FuncIdx, u32);

/// What a call passes a parameter: host data, one of the caller's own parameters, or anything else.
enum Passed {
    Host(HostData),
    Forwarded(Param),
    Other,
}

/// What the calls of the tree pass one parameter.
#[derive(Default)]
struct Passes {
    arrays: bool,
    scalars: bool,
    other: bool,
    /// The parameters of the calling functions passed on to it.
    from: SmallVec<[Param; 1]>,
}

/// The entries of `items` (sorted by call site) for call site `call`.
pub(super) fn calls_range<T>(items: &[T], call: u32, call_of: impl Fn(&T) -> u32) -> std::ops::Range<usize> {
    let start = items.partition_point(|item| call_of(item) < call);
    start..start + items[start..].iter().take_while(|item| call_of(item) == call).count()
}

/// The indices of the bits set in `mask`, lowest first (one step per bit set, not per bit).
fn set_bits(mut mask: u32) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        let bit = (mask != 0).then(|| mask.trailing_zeros())?;
        mask &= mask - 1;
        Some(bit)
    })
}

/// Whether all of a function's callers are in the tree: a private function or method
/// (`_helper`, not a dunder) or one defined inside another function.
pub(super) fn is_private_or_local(func: &FuncSummary) -> bool {
    (func.name.starts_with('_') && !func.name.ends_with("__")) || (func.class.is_none() && func.qualname.contains('.'))
}

/// The functions of a file whose `return`s give what a parameter that callers give a device
/// tensor holds: a call that passes one such tensor returns it (the re-check reads the
/// arguments' types; see [`ForeignTypes::param_returns`]).
fn param_returns(summary: &FileSummary, foreign: &mut ForeignTypes) {
    for (&(func, index), given) in &foreign.params {
        let info = &summary.funcs[func as usize];
        if info.returns_params & (1 << index) == 0 {
            continue;
        }
        let entry = foreign.param_returns.entry(info.qualname.clone()).or_insert(ParamReturns {
            params: 0,
            zero_dim: 0,
            is_static: info.is_static,
        });
        entry.params |= 1 << index;
        if given.annotated {
            entry.zero_dim |= 1 << index;
        }
    }
}

/// What two constructions' arguments both hold: a boolean tensor leaf where both have one.
fn meet(a: &Declared, b: &Declared) -> Declared {
    let both = |a: &Declared, b: &Declared| Box::new(meet(a, b));
    match (a, b) {
        (Declared::Leaf(x), Declared::Leaf(y)) if x == y => Declared::Leaf(*x),
        (Declared::Leaf(Ty::Tensor { host: h1, .. }), Declared::Leaf(Ty::Tensor { host: h2, .. })) if h1 == h2 => {
            Declared::Leaf(Ty::Tensor { boolean: false, host: *h1 })
        }
        (Declared::Seq(x), Declared::Seq(y)) => Declared::Seq(both(x, y)),
        (Declared::Iter(x), Declared::Iter(y)) => Declared::Iter(both(x, y)),
        (Declared::Map(k1, v1), Declared::Map(k2, v2)) => Declared::Map(both(k1, k2), both(v1, v2)),
        (Declared::Tuple(xs), Declared::Tuple(ys)) if xs.len() == ys.len() => {
            Declared::Tuple(xs.iter().zip(ys).map(|(x, y)| meet(x, y)).collect())
        }
        _ => Declared::Leaf(Ty::Unknown),
    }
}

/// A declaration with the tensors that `given` (what every construction fills it with) holds as
/// boolean tensors made boolean, where the structures match (a list literal fills a `Sequence`
/// or a `tuple[T, ...]`, a tuple literal a `Tuple[A, B]`).
fn with_bool_tensors(declared: &Declared, given: &Declared) -> Declared {
    let inner = |d: &Declared, g: &Declared| Box::new(with_bool_tensors(d, g));
    match (declared, given) {
        (Declared::Leaf(Ty::Tensor { host, .. }), Declared::Leaf(Ty::Tensor { boolean: true, .. })) => {
            Declared::Leaf(Ty::Tensor { boolean: true, host: *host })
        }
        (Declared::Seq(d) | Declared::Iter(d), Declared::Seq(g)) => match declared {
            Declared::Seq(_) => Declared::Seq(inner(d, g)),
            _ => Declared::Iter(inner(d, g)),
        },
        (Declared::Map(dk, dv), Declared::Map(gk, gv)) => Declared::Map(inner(dk, gk), inner(dv, gv)),
        (Declared::Tuple(ds), Declared::Tuple(gs)) if ds.len() == gs.len() => {
            Declared::Tuple(ds.iter().zip(gs).map(|(d, g)| with_bool_tensors(d, g)).collect())
        }
        _ => declared.clone(),
    }
}

/// The types worth handing to a re-check: they make rules fire, or stop them firing on values
/// that live in host memory.
fn answerable(ty: Ty) -> bool {
    matches!(ty, Ty::Tensor { .. } | Ty::Tensors | Ty::Stream | Ty::NdArray)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_bits_lowest_first() {
        assert_eq!(set_bits(0).count(), 0);
        assert_eq!(set_bits(0b1010_0001).collect::<Vec<_>>(), [0, 5, 7]);
        assert_eq!(set_bits(u32::MAX).collect::<Vec<_>>(), (0..32).collect::<Vec<_>>());
        assert_eq!(set_bits(1 << 31).collect::<Vec<_>>(), [31]);
        // The mask of the first `n` bits, as `host_params` takes it.
        for n in [0u32, 1, 5, 31, 32] {
            let in_range = u32::MAX.checked_shr(32 - n).unwrap_or(0);
            assert_eq!(set_bits(in_range).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn host_buffer_names() {
        assert!(names_host_buffer("query_start_loc_cpu"));
        assert!(names_host_buffer("cpu_slot_mapping"));
        assert!(names_host_buffer("pinned_buffer"));
        assert!(names_host_buffer("self.num_prompt_tokens_cpu_tensor[: self.num_reqs]"));
        assert!(!names_host_buffer("top_ps"));
        assert!(!names_host_buffer("cpus_count_x"));
        assert!(!names_host_buffer("copy_done"));
        assert!(!names_host_buffer("self.hostname"));
    }
}
