//! Call edges: what each call site invokes, with the classes callers pass flowing into
//! unannotated parameters until nothing new flows.

use rustc_hash::FxHashSet;
use smallvec::SmallVec;

use super::{CallFacts, Entity, FileIdx, Project, Sym};
use crate::hotpath;
use crate::python::process_cpu_seconds;
use crate::python::summary::*;

/// The functions a call reaches, each with the index of the parameter its first positional
/// argument fills.
type Targets = SmallVec<[(FileIdx, FuncIdx, u32); 4]>;

impl Project<'_> {
    /// What a call site invokes, each with the index of its first positional argument's
    /// parameter, and how many of them come first without dispatch to overrides.
    pub(super) fn targets_with_dispatch(&mut self, file: FileIdx, call: &CallSite) -> (Targets, usize) {
        // Evaluated once for both parts (a second evaluation would only read it from the memo).
        let callee = self.eval(file, call.callee);
        let mut targets = SmallVec::new();
        for &entity in &callee {
            self.targets_of(entity, call.kind, &mut targets, 0);
        }
        let exact = targets.len();
        self.dispatch_targets(file, call, &callee, &mut targets);
        (targets, exact)
    }

    /// What `obj.m(...)` on a receiver declared as a class reaches besides `targets`: the
    /// overrides of `m` in the class's subclasses (`callee` is what the callee evaluates to).
    fn dispatch_targets(&mut self, file: FileIdx, call: &CallSite, callee: &[Entity], targets: &mut Targets) {
        let mut dispatched: SmallVec<[(FileIdx, u32, Sym); 2]> = SmallVec::new();
        // `obj(...)`: the overrides of `forward` (modules) or `__call__`.
        for &entity in callee {
            if let Entity::Declared(f, c) = entity {
                let method = match call.kind {
                    CallKind::GetItem => self.sym_getitem,
                    CallKind::Call if self.is_module_class(f, c) => self.sym_forward,
                    CallKind::Call => self.sym_call,
                };
                dispatched.extend(method.map(|m| (f, c, m)));
            }
        }
        // `obj.m(...)`: the overrides of `m`.
        if let (CallKind::Call, Val::Attr(base, name)) =
            (call.kind, self.files[file].summary.vals[call.callee as usize])
        {
            let name = self.sym(file, name);
            for entity in self.eval(file, base) {
                if let Entity::Declared(f, c) = entity {
                    dispatched.push((f, c, name));
                }
            }
            // `self.m(...)` where the class's `m` is a stub: whatever subclass `self` is, its
            // override runs (a base class's `apply` calling its abstract `_apply`).
            if let Some(class) = self.self_class(file, base) {
                let files = self.files;
                if self.find_method(file, class, name).is_some_and(|(f, m)| files[f].summary.funcs[m as usize].stub) {
                    dispatched.push((file, class, name));
                }
            }
        }
        for (f, c, name) in dispatched {
            for (mf, m) in self.overrides(f, c, name) {
                if !targets.contains(&(mf, m, 1)) {
                    targets.push((mf, m, 1));
                }
            }
        }
    }

    /// The class whose method `value` is the receiver (`self`) of, if it is one.
    fn self_class(&self, file: FileIdx, value: ValId) -> Option<u32> {
        let summary = &self.files[file].summary;
        let Val::Param { func, index: 0 } = summary.vals[value as usize] else { return None };
        let function = &summary.funcs[func as usize];
        function.class.filter(|_| !function.is_static)
    }

    /// `self.register(x=v)` where `register` stores its `**kwargs` on the receiver
    /// ([`FuncSummary::kwargs_to_attrs`]): the class's attribute `x` is `v`, as if assigned.
    /// Before calls resolve, so that no attribute is read before it is complete.
    fn record_kwargs_attributes(&mut self) {
        let files = self.files;
        if !files.iter().any(|file| file.summary.funcs.iter().any(|func| func.kwargs_to_attrs)) {
            return;
        }
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            for call in &summary.calls {
                if call.kwargs.len == 0 {
                    continue;
                }
                let Val::Attr(receiver, name) = summary.vals[call.callee as usize] else { continue };
                let Some(class) = self.self_class(file, receiver) else { continue };
                let Some((mf, m)) = self.find_method(file, class, self.sym(file, name)) else { continue };
                if !files[mf].summary.funcs[m as usize].kwargs_to_attrs {
                    continue;
                }
                for &(keyword, value) in summary.kwargs(call) {
                    let key = ((file as u32, class), self.sym(file, keyword));
                    self.class_attrs.entry(key).or_default().push(value);
                }
            }
        }
    }

    /// The names of every property in the tree: only reads of these can be calls.
    fn property_names(&self) -> FxHashSet<Sym> {
        let mut names = FxHashSet::default();
        for (file, analysis) in self.files.iter().enumerate() {
            for info in &analysis.summary.classes {
                for &(name, func) in &info.methods {
                    if analysis.summary.funcs[func as usize].property {
                        names.insert(self.sym(file, name));
                    }
                }
            }
        }
        names
    }

    /// The properties an attribute read calls: the property of the receiver's class, then (for a
    /// receiver declared by its class) the overrides in its subclasses, as for a method call.
    /// Returns them with the number of exact ones (the first).
    fn property_targets(
        &mut self,
        file: FileIdx,
        read: ValId,
        property_names: &FxHashSet<Sym>,
    ) -> (SmallVec<[(FileIdx, FuncIdx); 4]>, usize) {
        let files = self.files;
        let mut targets: SmallVec<[(FileIdx, FuncIdx); 4]> = SmallVec::new();
        let (receivers, name) = match files[file].summary.vals[read as usize] {
            Val::SelfAttr { class, name } if property_names.contains(&self.sym(file, name)) => {
                (smallvec::smallvec![Entity::Instance(file, class)], self.sym(file, name))
            }
            Val::Attr(base, name) if property_names.contains(&self.sym(file, name)) => {
                (self.eval(file, base), self.sym(file, name))
            }
            _ => return (targets, 0),
        };
        let is_property = |(f, m): (FileIdx, FuncIdx)| files[f].summary.funcs[m as usize].property;
        let mut declared: SmallVec<[(FileIdx, u32); 2]> = SmallVec::new();
        for entity in receivers {
            let (Entity::Instance(f, c) | Entity::Declared(f, c)) = entity else { continue };
            if let Some(found) = self.find_method(f, c, name).filter(|&found| is_property(found)) {
                if !targets.contains(&found) {
                    targets.push(found);
                }
                if matches!(entity, Entity::Declared(..)) {
                    declared.push((f, c));
                }
            }
        }
        let exact = targets.len();
        for (f, c) in declared {
            for found in self.overrides(f, c, name) {
                if is_property(found) && !targets.contains(&found) {
                    targets.push(found);
                }
            }
        }
        (targets, exact)
    }

    pub(super) fn targets_of(
        &mut self,
        entity: Entity,
        kind: CallKind,
        targets: &mut SmallVec<[(FileIdx, FuncIdx, u32); 4]>,
        depth: u32,
    ) {
        let mut push = |t: (FileIdx, FuncIdx, u32)| {
            if !targets.contains(&t) {
                targets.push(t);
            }
        };
        match (entity, kind) {
            (Entity::Func(f, m), CallKind::Call) => push((f, m, 0)),
            (Entity::Bound(f, m), CallKind::Call) => push((f, m, 1)),
            (Entity::Class(f, c), CallKind::Call) => {
                if let Some((mf, m)) = self.find_method_named(f, c, self.sym_init) {
                    push((mf, m, 1));
                }
            }
            (Entity::Instance(f, c), CallKind::Call) => {
                let method = if self.is_module_class(f, c) { self.sym_forward } else { self.sym_call };
                if let Some((mf, m)) = self.find_method_named(f, c, method) {
                    push((mf, m, 1));
                }
            }
            (Entity::Instance(f, c), CallKind::GetItem) => {
                if let Some((mf, m)) = self.find_method_named(f, c, self.sym_getitem) {
                    push((mf, m, 1));
                }
            }
            // Declared only by its class: the class's method (and, in `dispatch_targets`, the
            // subclasses' overrides).
            (Entity::Declared(f, c), _) => {
                let method = match kind {
                    CallKind::GetItem => self.sym_getitem,
                    CallKind::Call if self.is_module_class(f, c) => self.sym_forward,
                    CallKind::Call => self.sym_call,
                };
                if let Some((mf, m)) = method.and_then(|method| self.find_method(f, c, method)) {
                    push((mf, m, 1));
                }
            }
            // Calling an `nn.Sequential` calls each of its modules.
            (Entity::Container(id), CallKind::Call) if depth < 4 => {
                for element in self.containers[id as usize].clone() {
                    self.targets_of(element, kind, targets, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Resolves every call site; unannotated parameters learn the classes their callers pass,
    /// which can resolve more calls, so this repeats until nothing new flows.
    /// Returns every call edge, and the edges without dispatch to overrides (whose heat alone
    /// makes no decode loop, see [`hotpath::propagate_with_decode_loops`]).
    /// `call_facts` gives the [`CallFacts`] (found on another core meanwhile), needed once
    /// arguments have flowed.
    pub(super) fn resolve_calls(
        &mut self,
        call_facts: impl FnOnce() -> CallFacts,
    ) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        self.index_subclasses();
        self.record_kwargs_attributes();
        let settled = self.flow_arguments();
        let CallFacts { region_calls, nested } = call_facts();
        (self.region_calls, self.nested) = (region_calls, nested);
        self.mark_dead_arms();
        self.call_edges(&settled)
    }

    /// Argument flow, round by round, until nothing new flows (at most four rounds). Returns
    /// the targets of the call sites that settled (see [`Settled`]).
    #[inline(never)]
    fn flow_arguments(&mut self) -> Settled {
        let mut settled = Settled {
            spans: self.files.iter().map(|f| vec![UNSETTLED; f.summary.calls.len()]).collect(),
            targets: Vec::new(),
        };
        // The call sites still to visit in the next round, in the order of a visit of every one:
        // the first round visits each call with arguments, the next ones those not settled.
        let mut pending: Vec<(u32, u32)> = Vec::new();
        let mut still: Vec<(u32, u32)> = Vec::new();
        for round in 0..4 {
            if std::env::var_os("GRAPHLINT_TIMINGS").is_some() {
                eprintln!("graphlint:   argument-flow round {round} at {:.3} CPU-s", process_cpu_seconds());
            }
            let mut changed = false;
            let files = self.files;
            let mut visit = |project: &mut Self, file: usize, call_index: usize, still: &mut Vec<(u32, u32)>| {
                let summary = &files[file].summary;
                let call = &summary.calls[call_index];
                let (args, kwargs) = (summary.args(call), summary.kwargs(call));
                // A call site whose callee and arguments read no flowed-in parameter passes
                // the same values in every round: it is settled after its first one.
                let outer_read_flow = std::mem::replace(&mut project.read_flow, false);
                changed |= project.record_elements(file, call);
                let (targets, exact) = project.targets_with_dispatch(file, call);
                let start = settled.targets.len() as u32;
                settled
                    .targets
                    .extend(targets.iter().map(|&(f, m, _)| (project.layout.func_base[f] + m as usize) as u32));
                for (tf, tm, first) in targets {
                    let params = &files[tf].summary.funcs[tm as usize].params;
                    let mut flows: SmallVec<[(u32, ValId); 4]> = SmallVec::new();
                    for (position, arg) in args.iter().enumerate() {
                        if let Some(arg) = arg {
                            let index = position as u32 + first;
                            if params.get(index as usize).is_some_and(|(_, annotation)| annotation.is_none()) {
                                flows.push((index, *arg));
                            }
                        }
                    }
                    for &(name, arg) in kwargs {
                        let name = project.sym(file, name);
                        if let Some(index) = params.iter().position(|&(n, a)| project.sym(tf, n) == name && a.is_none())
                        {
                            flows.push((index as u32, arg));
                        }
                    }
                    for (index, arg) in flows {
                        for entity in project.eval(file, arg) {
                            if matches!(entity, Entity::External(_) | Entity::Module(_)) {
                                continue;
                            }
                            let slot = project.param_flow.entry((tf, tm, index)).or_default();
                            if !slot.contains(&entity) && slot.len() < 16 {
                                slot.push(entity);
                                changed = true;
                            }
                        }
                    }
                }
                if project.read_flow {
                    settled.targets.truncate(start as usize);
                    still.push((file as u32, call_index as u32));
                } else {
                    let len = settled.targets.len() as u32 - start;
                    settled.spans[file][call_index] = (start, len as u16, exact as u16);
                }
                project.read_flow = outer_read_flow;
            };
            if round == 0 {
                for (file, analysis) in files.iter().enumerate() {
                    let summary = &analysis.summary;
                    for (call_index, call) in summary.calls.iter().enumerate() {
                        if summary.args(call).iter().all(Option::is_none) && summary.kwargs(call).is_empty() {
                            continue;
                        }
                        visit(self, file, call_index, &mut still);
                    }
                }
            } else {
                for &(file, call_index) in &pending {
                    visit(self, file as usize, call_index as usize, &mut still);
                }
            }
            std::mem::swap(&mut pending, &mut still);
            still.clear();
            if !changed {
                break;
            }
            self.forget_volatile_values();
        }
        settled
    }

    /// The arms no call takes, and the calls in them dropped from the regions' calls.
    #[inline(never)]
    fn mark_dead_arms(&mut self) {
        self.dead_regions = self.dead_arms();
        for (file, dead) in self.dead_regions.iter().enumerate() {
            if dead.is_empty() {
                continue;
            }
            let summary = &self.files[file].summary;
            let regions = &self.dead_regions;
            let dead_call = |call: &u32| {
                let mut region = summary.calls[*call as usize].region;
                while let Some(r) = region {
                    if regions[file][r as usize] {
                        return true;
                    }
                    region = summary.regions[r as usize].parent;
                }
                false
            };
            for calls in &mut self.region_calls[file] {
                calls.retain(|call| !dead_call(call));
            }
        }
    }

    /// Every call edge, and those without dispatch to overrides. The targets of the call sites
    /// that `settled` while arguments flowed are taken from it: what they read cannot have changed.
    /// The edges are added on another core, file by file and in the order found, while the next
    /// files' call sites resolve (the lists come out as if added here). Freeing memory allocated
    /// on another thread takes mimalloc's slow path: the caller drops the lists elsewhere.
    #[inline(never)]
    fn call_edges(&mut self, settled: &Settled) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        let property_names = self.property_names();
        let layout = self.layout.clone();
        std::thread::scope(|scope| {
            let (found, batches) = std::sync::mpsc::channel::<FileEdges>();
            let builder = scope.spawn(move || {
                let mut edges = vec![Vec::new(); layout.node_count()];
                let mut exact_edges = vec![Vec::new(); layout.node_count()];
                for batch in batches {
                    batch.add_to(&mut edges, &mut exact_edges, &layout);
                }
                (edges, exact_edges)
            });
            let mut targets: Vec<usize> = Vec::new();
            for file in 0..self.files.len() {
                let mut batch = FileEdges { file, calls: Vec::new(), targets: Vec::new() };
                for (call_index, call) in self.files[file].summary.calls.iter().enumerate() {
                    // A call in a training-only branch, or an arm no call takes, passes no heat on.
                    if self.never_hot(file, call.region) {
                        continue;
                    }
                    targets.clear();
                    let exact = match settled.spans[file][call_index] {
                        UNSETTLED => {
                            let (found, exact) = self.targets_with_dispatch(file, call);
                            targets.extend(found.into_iter().map(|(f, m, _)| self.layout.func_base[f] + m as usize));
                            exact
                        }
                        (start, len, exact) => {
                            let span = &settled.targets[start as usize..start as usize + len as usize];
                            targets.extend(span.iter().map(|&node| node as usize));
                            exact as usize
                        }
                    };
                    batch.push(call.func, call.region, &targets, exact);
                }
                for read in &self.files[file].summary.attr_reads {
                    if self.never_hot(file, read.region) {
                        continue;
                    }
                    let (found, exact) = self.property_targets(file, read.val, &property_names);
                    targets.clear();
                    targets.extend(found.into_iter().map(|(f, m)| self.layout.func_base[f] + m as usize));
                    batch.push(read.func, read.region, &targets, exact);
                }
                for &(outer, inner) in &self.nested[file] {
                    batch.push(outer, None, &[self.layout.func_base[file] + inner as usize], 1);
                }
                // (A builder that panicked takes no more: its panic is resumed at the join.)
                let _ = found.send(batch);
            }
            drop(found);
            builder.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// A file's call edges as found: per call (or property read, or nested function), the calling
/// function, the region the call is in, its targets' range in `targets`, and how many of those
/// come first without dispatch to overrides.
struct FileEdges {
    file: FileIdx,
    calls: Vec<(FuncIdx, Option<RegionIdx>, u32, u32, u32)>,
    targets: Vec<usize>,
}

impl FileEdges {
    fn push(&mut self, func: FuncIdx, region: Option<RegionIdx>, targets: &[usize], exact: usize) {
        if targets.is_empty() {
            return;
        }
        let start = self.targets.len() as u32;
        self.targets.extend_from_slice(targets);
        self.calls.push((func, region, start, targets.len() as u32, exact as u32));
    }

    fn add_to(&self, edges: &mut [Vec<usize>], exact_edges: &mut [Vec<usize>], layout: &super::layout::Layout) {
        for &(func, region, start, len, exact) in &self.calls {
            let targets = &self.targets[start as usize..(start + len) as usize];
            hotpath::add_call_edges(edges, layout, self.file, func, region, targets);
            hotpath::add_call_edges(exact_edges, layout, self.file, func, region, &targets[..exact as usize]);
        }
    }
}

/// The targets of the call sites that settled while arguments flowed: a call site whose callee
/// and arguments read no flowed-in parameter reads only values whose memo is never forgotten, so
/// resolving it again gives the same targets (as function nodes).
struct Settled {
    /// Per file, per call site: (start in `targets`, how many, how many come without dispatch to
    /// overrides), or [`UNSETTLED`].
    spans: Vec<Vec<(u32, u16, u16)>>,
    targets: Vec<u32>,
}

const UNSETTLED: (u32, u16, u16) = (u32::MAX, 0, 0);

/// Each function defined inside another one, with the function that defines it. A function defined
/// in a per-step function is per-step too: it is called there, or returned or stored as a callback
/// that the caller runs in the same step (vllm's deferred state corrections, sglang's delayed
/// sampling). The edge goes from the defining function to the nested one.
pub(super) fn nested_functions(summary: &FileSummary) -> impl Iterator<Item = (FuncIdx, FuncIdx)> + '_ {
    let by_qualname: rustc_hash::FxHashMap<&str, FuncIdx> =
        summary.funcs.iter().enumerate().map(|(index, func)| (func.qualname.as_str(), index as FuncIdx)).collect();
    summary.funcs.iter().enumerate().filter_map(move |(index, func)| {
        let (outer, _) = func.qualname.rsplit_once('.')?;
        // `Class.method` has a class, not a function, as its prefix.
        let outer = *by_qualname.get(outer)?;
        (outer != index as FuncIdx).then_some((outer, index as FuncIdx))
    })
}
