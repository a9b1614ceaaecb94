//! Roots (markers, `hot`/`cold` patterns, `torch.compile`, `forward` of modules, CUDA graphs),
//! then propagation along the call edges, growing with decode loops until nothing changes.

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::{is_module_base, Entity, FileIdx, Project};
use crate::glob::glob_match;
use crate::hotpath::{self, LoopCandidate, Reach};
use crate::profiles::Profile;
use crate::python::summary::*;
use crate::settings::RootPatterns;

impl Project<'_> {
    /// `loop_regions` is [`loop_regions`] of each file, `named_roots` its [`named_roots`].
    pub(super) fn propagate(
        &mut self,
        edges: &[Vec<usize>],
        exact_edges: &[Vec<usize>],
        loop_regions: &[Vec<RegionIdx>],
        named_roots: Vec<NamedRoots>,
    ) -> (Vec<Reach>, FxHashSet<usize>) {
        let mut roots: Vec<(usize, String)> = Vec::new();
        let mut blocked = vec![false; self.layout.node_count()];
        for (file, named) in named_roots.into_iter().enumerate() {
            let base = self.layout.func_base[file];
            for func in named.blocked {
                blocked[base + func as usize] = true;
            }
            roots.extend(named.roots.into_iter().map(|(func, reason)| (base + func as usize, reason)));
            let summary = &self.files[file].summary;
            for class in 0..summary.classes.len() as u32 {
                if self.is_training_class(file, class, 0) {
                    for &(_, method) in &self.files[file].summary.classes[class as usize].methods {
                        blocked[self.layout.func_base[file] + method as usize] = true;
                    }
                    continue;
                }
                let forward =
                    self.sym_forward.and_then(|name| self.class_methods.get(&((file as u32, class), name)).copied());
                if let Some(forward) = forward {
                    if self.is_module_class(file, class) {
                        let name = &self.files[file].summary.classes[class as usize].name;
                        roots.push((
                            self.layout.func_base[file] + forward as usize,
                            format!("`forward` of nn.Module subclass `{name}`"),
                        ));
                    }
                }
            }
            let files = self.files;
            for site in &files[file].summary.root_sites {
                for entity in self.eval(file, site.value) {
                    let mut targets = SmallVec::new();
                    match entity {
                        Entity::Func(..)
                        | Entity::Bound(..)
                        | Entity::Instance(..)
                        | Entity::Declared(..)
                        | Entity::Container(_) => self.targets_of(entity, CallKind::Call, &mut targets, 0),
                        _ => {}
                    }
                    for (f, m, _) in targets {
                        if !is_setup_function(&files[f].summary.funcs[m as usize].name) {
                            roots.push((self.layout.func_base[f] + m as usize, site.reason.text().to_string()));
                        }
                    }
                }
            }
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                if region.kind == RegionKind::CudaGraph {
                    roots.push((self.layout.region_base[file] + index, "captured by `torch.cuda.graph`".into()));
                }
            }
        }

        let region_roots: FxHashSet<usize> =
            roots.iter().map(|(n, _)| *n).filter(|n| self.layout.region_of(*n).is_some()).collect();

        // Loops that run a model step: they call a Module, a function that runs one (within
        // `MODEL_CALL_DEPTH` calls), or a per-step entry point that is a root itself. A loop that
        // only calls some function hot for another reason (a resize helper that a forward also
        // calls) runs no model step, so it is no decode loop.
        let mut model_classes = FxHashMap::default();
        let runs_model = self.functions_running_a_model(exact_edges, &mut model_classes);
        let trains = self.functions_training(exact_edges);
        let root_nodes: FxHashSet<usize> = roots.iter().map(|(node, _)| *node).collect();
        let mut candidates = Vec::new();
        for (file, loops) in loop_regions.iter().enumerate() {
            for &index in loops {
                if self.in_dead_arm(file, Some(index)) {
                    continue;
                }
                let region = &self.files[file].summary.regions[index as usize];
                let function = &self.files[file].summary.funcs[region.func as usize];
                let (calls_model, callees) = self.loop_calls(file, index, region.over_elements, &mut model_classes);
                let calls_model =
                    calls_model || callees.iter().any(|&callee| runs_model[callee] || root_nodes.contains(&callee));
                // A loop that calls a training function optimizes (fine-tuning, an adversarial
                // attack per batch): it runs no inference step.
                if calls_model && !callees.iter().any(|&callee| trains[callee]) {
                    candidates.push(LoopCandidate {
                        node: self.layout.region_base[file] + index as usize,
                        func_node: self.layout.func_base[file] + region.func as usize,
                        calls_model,
                        callees: Vec::new(),
                        qualname: function.qualname.clone(),
                    });
                }
            }
        }
        hotpath::propagate_with_decode_loops(edges, exact_edges, roots, &blocked, &candidates, region_roots)
    }

    /// Whether a class trains rather than infers: a loss module (`*Loss`, or derived from
    /// `torch.nn.*Loss`) computes a training objective, an optimizer (`torch.optim.*`) steps once per
    /// training step, and a `*Training*` class (gluonts' `DeepARTrainingNetwork`) is the
    /// training-time twin of a prediction class. So is every project class derived from one (timm's
    /// `TokenDistillationTask(TrainingTask)`), whatever its own name.
    fn is_training_class(&mut self, file: FileIdx, class: u32, depth: u32) -> bool {
        let name = &self.files[file].summary.classes[class as usize].name;
        if name.ends_with("Loss") || name.contains("Training") {
            return true;
        }
        if depth > 8 {
            return false;
        }
        let files = self.files;
        for &base in &files[file].summary.classes[class as usize].bases {
            for entity in self.eval(file, base) {
                let found = match entity {
                    Entity::External(id) => {
                        let path = &self.externals[id as usize];
                        path.starts_with("torch.optim.") || path.ends_with("Loss")
                    }
                    Entity::Class(f, c) => self.is_training_class(f, c, depth + 1),
                    _ => false,
                };
                if found {
                    return true;
                }
            }
        }
        false
    }

    /// Whether a loop calls a model (see [`Self::runs_a_model`] and [`named_as_a_model`]), and the
    /// project functions it calls (a decode loop when one of them runs a model or is a root).
    /// In a loop over the elements of one sequence (`over_elements`), calls of the object's own
    /// methods other than `forward`/`__call__` count for neither (see [`own_helper`]).
    fn loop_calls(
        &mut self,
        file: FileIdx,
        region: RegionIdx,
        over_elements: bool,
        memo: &mut FxHashMap<(FileIdx, u32), bool>,
    ) -> (bool, Vec<usize>) {
        let files = self.files;
        let mut calls_model = false;
        let mut callees = Vec::new();
        let summary = &files[file].summary;
        for &call in &self.region_calls[file][region as usize].clone() {
            let call = &summary.calls[call as usize];
            let entities = self.eval(file, call.callee);
            if entities.is_empty() && call.kind == CallKind::Call {
                calls_model |= named_as_a_model(&files[file].summary, call.callee);
            }
            for entity in entities {
                if over_elements && own_helper(files, file, call.callee, entity) {
                    continue;
                }
                calls_model |= self.runs_a_model(entity, memo);
                match entity {
                    Entity::Bound(f, m) | Entity::Func(f, m) => callees.push(self.layout.func_base[f] + m as usize),
                    _ => {}
                }
            }
        }
        (calls_model, callees)
    }

    /// Per node, whether it is a function that runs a model: its own body (outside training-only
    /// branches) calls a Module or a Module's method, or it calls such a function through at most
    /// `MODEL_CALL_DEPTH` exact call edges. Functions named for set-up, training, losses, state
    /// management or a whole generation ([`is_state_method`]) run none for this purpose.
    fn functions_running_a_model(
        &mut self,
        exact_edges: &[Vec<usize>],
        memo: &mut FxHashMap<(FileIdx, u32), bool>,
    ) -> Vec<bool> {
        let mut runs = vec![false; self.layout.node_count()];
        let mut excluded = vec![false; self.layout.node_count()];
        let files = self.files;
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            for (index, func) in summary.funcs.iter().enumerate() {
                let node = self.layout.func_base[file] + index;
                let name = &func.name;
                excluded[node] =
                    name == "<module>" || hotpath::is_training_function(name) || self.is_state_method(node);
            }
            for call in &summary.calls {
                let node = self.layout.func_base[file] + call.func as usize;
                if runs[node] || excluded[node] || self.never_hot(file, call.region) {
                    continue;
                }
                runs[node] = self.eval(file, call.callee).into_iter().any(|entity| self.runs_a_model(entity, memo));
            }
        }
        // Callers of model-running functions, a few calls up.
        self.spread_to_callers(runs, exact_edges, |node| excluded[node])
    }

    /// `marked` with the functions that call a marked one through at most `MODEL_CALL_DEPTH`
    /// exact call edges marked too, except the `excluded` ones.
    fn spread_to_callers(
        &self,
        mut marked: Vec<bool>,
        exact_edges: &[Vec<usize>],
        excluded: impl Fn(usize) -> bool,
    ) -> Vec<bool> {
        for _ in 0..MODEL_CALL_DEPTH {
            let mut next = marked.clone();
            for (file, analysis) in self.files.iter().enumerate() {
                for index in 0..analysis.summary.funcs.len() {
                    let node = self.layout.func_base[file] + index;
                    if !next[node] && !excluded(node) && exact_edges[node].iter().any(|&callee| marked[callee]) {
                        next[node] = true;
                    }
                }
            }
            if next == marked {
                break;
            }
            marked = next;
        }
        marked
    }

    /// Per node, whether it is a function that trains: its body calls `backward`, `zero_grad` or
    /// an optimizer's `step`, or it calls such a function through at most `MODEL_CALL_DEPTH`
    /// exact call edges (`attack_batch` calling `self.attack_step`, which steps the optimizer).
    fn functions_training(&self, exact_edges: &[Vec<usize>]) -> Vec<bool> {
        let mut trains = vec![false; self.layout.node_count()];
        for (file, analysis) in self.files.iter().enumerate() {
            for (index, func) in analysis.summary.funcs.iter().enumerate() {
                trains[self.layout.func_base[file] + index] = func.trains && func.name != "<module>";
            }
        }
        self.spread_to_callers(trains, exact_edges, |_| false)
    }

    /// Whether calling `entity` runs a model: an instance of a model class, or a method of one
    /// (see [`Self::is_model_class`]).
    fn runs_a_model(&mut self, entity: Entity, memo: &mut FxHashMap<(FileIdx, u32), bool>) -> bool {
        match entity {
            Entity::Instance(f, c) | Entity::Declared(f, c) => self.is_model_class(f, c, memo),
            Entity::ExternalInstance(id) => is_module_base(&self.externals[id as usize]),
            Entity::Bound(f, m) => {
                let method = &self.files[f].summary.funcs[m as usize];
                !self.is_state_method(self.layout.func_base[f] + m as usize)
                    && method.class.is_some_and(|c| self.is_model_class(f, c, memo))
            }
            _ => false,
        }
    }

    /// [`is_state_method`] of the function at `node` (see [`state_methods`]).
    fn is_state_method(&self, node: usize) -> bool {
        self.state_methods[node]
    }

    /// Whether a class is a Module, or a mixin or protocol that project Modules derive from
    /// (transformers' `GenerationMixin`, whose `self(...)` is the model's forward; vllm's
    /// `SupportsMultiModal`, whose `embed_multimodal` the models implement).
    fn is_model_class(&mut self, file: FileIdx, class: u32, memo: &mut FxHashMap<(FileIdx, u32), bool>) -> bool {
        if let Some(&known) = memo.get(&(file, class)) {
            return known;
        }
        let mut found = self.is_module_class(file, class);
        let mut queue = vec![(file as u32, class)];
        let mut seen: FxHashSet<(u32, u32)> = queue.iter().copied().collect();
        while let Some(current) = queue.pop() {
            if found || seen.len() > MAX_SUBCLASSES_SEEN {
                break;
            }
            let subclasses = self.subclasses.get(&current).cloned().unwrap_or_default();
            for sub in subclasses {
                if seen.insert(sub) {
                    found |= self.is_module_class(sub.0 as FileIdx, sub.1);
                    queue.push(sub);
                }
            }
        }
        memo.insert((file, class), found);
        found
    }
}

/// Whether a function matches one of `patterns` (`hot` or `cold`, from `--hot`, a config or a
/// profile); `full` is its module-qualified name (`None` for module-level code, which no pattern
/// names).
fn matches_pattern(full: Option<&str>, func: &FuncSummary, patterns: &[impl AsRef<str>]) -> bool {
    let Some(full) = full.filter(|_| !patterns.is_empty()) else { return false };
    patterns.iter().map(AsRef::as_ref).any(|pattern| {
        // `pkg.mod:@Registry.register`: the functions of `pkg.mod` so decorated.
        if let Some((module, decorator)) = pattern.split_once(":@") {
            let own_module = full.split_once(':').map_or(full, |(m, _)| m);
            return glob_match(module, own_module) && func.decorators.iter().any(|d| glob_match(decorator, d));
        }
        if pattern.contains(':') {
            glob_match(pattern, full)
        } else {
            glob_match(pattern, &func.qualname) || glob_match(pattern, &full.replace(':', "."))
        }
    })
}

/// The root patterns of one file (its `hot`/`cold` patterns and profiles), each pattern's module
/// part matched once for the file rather than once per function: a function's full name is
/// `module:qualname`, and neither part holds a `:` (names are identifiers), so a pattern's first
/// `:` can only match the one that joins them. Matches exactly as [`matches_pattern`] on the full
/// name, which it falls back to for a name that does hold a `:`.
struct FileRoots<'p> {
    module: &'p str,
    patterns: &'p RootPatterns,
    /// Whether the module's name holds a `:` (then every function takes [`matches_pattern`]).
    odd_module: bool,
    hot: Remaining<'p>,
    cold: Remaining<'p>,
    /// The profiles whose package the file's functions may lie in, with their remaining `hot` and
    /// `cold` patterns, and whether every function does (else it depends on the qualified name).
    profiles: SmallVec<[(&'static Profile, Remaining<'static>, Remaining<'static>, bool); 2]>,
}

/// What is left to match of a pattern list once the module part is known to match.
type Remaining<'p> = SmallVec<[QualnamePattern<'p>; 2]>;

#[derive(Clone, Copy)]
enum QualnamePattern<'p> {
    /// `module:qualname`: the qualified-name part.
    Qualname(&'p str),
    /// `module:@decorator`: a decorator.
    Decorated(&'p str),
    /// A pattern without a module part: the qualified name, or the full name with a `.`.
    Either(&'p str),
}

/// Which of a file's pattern lists to match (a profile's by its index in [`FileRoots::profiles`]).
#[derive(Clone, Copy)]
enum Which {
    Hot,
    Cold,
    ProfileHot(usize),
    ProfileCold(usize),
}

impl<'p> FileRoots<'p> {
    fn new(module: &'p str, patterns: &'p RootPatterns) -> Self {
        // Every pattern of a profile starts with its package (`profiles.rs` tests it): only the
        // profiles of a package that the full name can start with apply.
        let profiles = patterns
            .profiles
            .iter()
            .filter_map(|&p| {
                let every = module.starts_with(p.package);
                let some = every || p.package.starts_with(module);
                some.then(|| (p, remaining(module, p.hot), remaining(module, p.cold), every))
            })
            .collect();
        FileRoots {
            module,
            patterns,
            odd_module: module.contains(':'),
            hot: remaining(module, &patterns.hot),
            cold: remaining(module, &patterns.cold),
            profiles,
        }
    }

    /// The indices of the profiles whose patterns may match `func` (none for module-level code).
    fn profiles(&self, func: &FuncSummary) -> SmallVec<[usize; 2]> {
        let named = func.qualname != "<module>";
        let applies = |&(p, _, _, every): &(&Profile, _, _, bool)| {
            named && (every || full_name_starts_with(self.module, &func.qualname, p.package))
        };
        self.profiles.iter().enumerate().filter(|(_, p)| applies(p)).map(|(index, _)| index).collect()
    }

    /// [`matches_pattern`] of the function's full name against one of the file's pattern lists.
    fn matches(&self, func: &FuncSummary, which: Which) -> bool {
        match which {
            Which::Hot => self.matches_list(func, &self.patterns.hot, &self.hot),
            Which::Cold => self.matches_list(func, &self.patterns.cold, &self.cold),
            Which::ProfileHot(p) => self.matches_list(func, self.profiles[p].0.hot, &self.profiles[p].1),
            Which::ProfileCold(p) => self.matches_list(func, self.profiles[p].0.cold, &self.profiles[p].2),
        }
    }

    fn matches_list(&self, func: &FuncSummary, patterns: &[impl AsRef<str>], remaining: &[QualnamePattern]) -> bool {
        if func.qualname == "<module>" || patterns.is_empty() {
            return false;
        }
        if self.odd_module || func.qualname.contains(':') {
            return matches_pattern(Some(&format!("{}:{}", self.module, func.qualname)), func, patterns);
        }
        remaining.iter().any(|&pattern| self.matches_one(func, pattern))
    }

    fn matches_one(&self, func: &FuncSummary, pattern: QualnamePattern) -> bool {
        match pattern {
            QualnamePattern::Qualname(pattern) => glob_match(pattern, &func.qualname),
            QualnamePattern::Decorated(decorator) => func.decorators.iter().any(|d| glob_match(decorator, d)),
            QualnamePattern::Either(pattern) => {
                glob_match(pattern, &func.qualname)
                    || glob_match(pattern, &format!("{}.{}", self.module, func.qualname))
            }
        }
    }
}

/// The patterns of `patterns` whose module part matches `module`, less that part.
fn remaining<'p>(module: &str, patterns: &'p [impl AsRef<str>]) -> Remaining<'p> {
    patterns
        .iter()
        .filter_map(|pattern| {
            let pattern = pattern.as_ref();
            if let Some((module_part, decorator)) = pattern.split_once(":@") {
                return glob_match(module_part, module).then_some(QualnamePattern::Decorated(decorator));
            }
            match pattern.split_once(':') {
                Some((module_part, qualname)) => {
                    glob_match(module_part, module).then_some(QualnamePattern::Qualname(qualname))
                }
                None => Some(QualnamePattern::Either(pattern)),
            }
        })
        .collect()
}

/// Whether `module:qualname` starts with `prefix`, without joining them.
fn full_name_starts_with(module: &str, qualname: &str, prefix: &str) -> bool {
    match prefix.strip_prefix(module) {
        Some(rest) => rest.is_empty() || rest.strip_prefix(':').is_some_and(|rest| qualname.starts_with(rest)),
        None => module.starts_with(prefix),
    }
}

/// How many calls deep a function may reach a Module call and still count as running the model
/// for a loop that calls it (EAGLE's loop calls `tree_decoding`, which calls the model).
const MODEL_CALL_DEPTH: usize = 2;

/// How many subclasses [`Project::is_model_class`] looks through for a Module.
const MAX_SUBCLASSES_SEEN: usize = 256;

/// The words of [`is_setup_function`].
const SETUP_WORDS: &[&str] = &[
    "init",
    "setup",
    "build",
    "load",
    "save",
    "convert",
    "export",
    "merge",
    "reparam",
    "equivalent_kernel",
    "replace",
    "register",
    "warmup",
    "warm_up",
    "autotune",
    "calibrat",
    "profil",
    "benchmark",
    // Checkpoint filters and weight updates (timm's `checkpoint_filter_fn`, EPLB's
    // `_update_expert_weights`), and maintenance run every so many steps (`rebalance`,
    // `transfer_run_periodically`).
    "checkpoint",
    "state_dict",
    "weights",
    "rebalance",
    "periodic",
    // peft's name for building an adapter's weights.
    "update_layer",
    // Managing adapters: adding, weighting, loading, activating or deleting them (peft's
    // `add_weighted_adapter`, diffusers' `prepare_ip_adapter_image_embeds`) goes over adapters
    // or layers, once per change of adapters.
    "adapter",
];

/// `name` in lower case, copied only when it has upper-case letters (most names are snake_case).
fn lower_ascii(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Whether a function's name says it sets a model up rather than runs it: constructing, loading,
/// saving or converting weights, merging adapters or re-parameterising layers, warming up,
/// autotuning, calibrating, profiling or benchmarking. Its loops run a model once per setup,
/// not once per step, so they are never decode loops.
fn is_setup_function(name: &str) -> bool {
    let name = lower_ascii(name);
    let name = name.as_ref();
    // One pass over the name, trying only the words that start with the byte at hand, rather than
    // one substring search per word: every function's name is asked (`is_state_method`).
    const STARTS: [u32; 256] = first_bytes(SETUP_WORDS);
    let bytes = name.as_bytes();
    (0..bytes.len()).any(|at| {
        let mut words = STARTS[bytes[at] as usize];
        while words != 0 {
            if bytes[at..].starts_with(SETUP_WORDS[words.trailing_zeros() as usize].as_bytes()) {
                return true;
            }
            words &= words - 1;
        }
        false
    })
}

/// Per byte, the words (of at most 32) that start with it, as a mask of their indices.
const fn first_bytes(words: &[&str]) -> [u32; 256] {
    assert!(words.len() <= 32);
    let mut starts = [0; 256];
    let mut index = 0;
    while index < words.len() {
        starts[words[index].as_bytes()[0] as usize] |= 1 << index;
        index += 1;
    }
    starts
}

/// What a file's path, its functions' names, markers and decorators, and its `hot`/`cold`
/// patterns alone say of its functions: which are blocked (cold), and which are roots, in the
/// order [`Project::propagate`] takes them. Pure, so worked out on another core while calls
/// resolve.
pub(super) struct NamedRoots {
    blocked: Vec<FuncIdx>,
    roots: Vec<(FuncIdx, String)>,
}

/// [`NamedRoots`] of the file at `path`, whose module is named `module_name`.
pub(super) fn named_roots(
    path: &std::path::Path,
    summary: &FileSummary,
    module_name: &str,
    patterns: &RootPatterns,
) -> NamedRoots {
    let mut named = NamedRoots { blocked: Vec::new(), roots: Vec::new() };
    let cold_file = is_test_file(path) || is_training_script(summary);
    let file_roots = FileRoots::new(module_name, patterns);
    for (index, func) in summary.funcs.iter().enumerate() {
        let index = index as FuncIdx;
        let mut blocked = false;
        match func.marker {
            Some(Marker::Cold) => blocked = true,
            Some(Marker::Hot) => named.roots.push((index, "marked `# graphlint: hot`".into())),
            None => {}
        }
        if file_roots.matches(func, Which::Cold)
            || file_roots.profiles(func).into_iter().any(|p| file_roots.matches(func, Which::ProfileCold(p)))
        {
            blocked = true;
        }
        // Tests, training scripts, losses and adapter merging are cold unless a marker or a `hot`
        // pattern says otherwise.
        if (cold_file || func.name.starts_with("test_") || is_training_only_function(&func.name))
            && func.marker.is_none()
            && !file_roots.matches(func, Which::Hot)
        {
            blocked = true;
        }
        if blocked {
            named.blocked.push(index);
        }
        // Compiling a conversion or loading function speeds that one-time work up (peft's
        // `_convert_module_to_lora`): no per-step root.
        if func.compiled && !is_setup_function(&func.name) {
            named.roots.push((index, "decorated with `@torch.compile`".into()));
        }
        if file_roots.matches(func, Which::Hot) {
            named.roots.push((index, "matches a `hot` pattern".into()));
        }
        if let Some(p) = file_roots.profiles(func).into_iter().find(|&p| file_roots.matches(func, Which::ProfileHot(p)))
        {
            let profile = file_roots.profiles[p].0;
            named.roots.push((index, format!("{} (profile `{}`)", profile.why, profile.name)));
        }
    }
    named
}

/// The loops of a file that could be decode loops by what the file alone says (the rest of the
/// test needs the call graph): not in an evaluation module, not in a function whose name rules its
/// loops out, not a scheduler's step loop nor beside a denoising loop. Pure, so worked out on
/// another core while calls resolve.
pub(super) fn loop_regions(summary: &FileSummary, module_name: &str) -> Vec<RegionIdx> {
    let mut loops = Vec::new();
    // Most files have no loop that could be one: their names and calls are not looked at.
    let any_loop = summary.regions.iter().any(|region| region.kind == RegionKind::Loop && !region.training);
    if !any_loop || is_evaluation_module(module_name) {
        return loops;
    }
    let step_loops = scheduler_step_loops(summary);
    // Whether a function's name rules its loops out, for the function of the last loop
    // (a function's loops are numbered one after another).
    let mut named: Option<(FuncIdx, bool)> = None;
    for (index, region) in summary.regions.iter().enumerate() {
        if region.kind != RegionKind::Loop || region.training || region.over_model_parts {
            continue;
        }
        let ruled_out = match named {
            Some((func, ruled_out)) if func == region.func => ruled_out,
            _ => {
                let function = &summary.funcs[region.func as usize];
                let ruled_out = hotpath::is_training_function(&function.name)
                    || is_training_class_method(&function.qualname)
                    || is_setup_function(&function.name)
                    || is_evaluation_function(&function.qualname)
                    || is_per_request_function(&function.qualname)
                    || is_likelihood_function(&function.name)
                    || is_logging_function(&function.name);
                named = Some((region.func, ruled_out));
                ruled_out
            }
        };
        if ruled_out
            || step_loops.runs.contains(&(index as RegionIdx))
            || beside_a_denoising_loop(summary, index as RegionIdx, &step_loops.steps)
        {
            continue;
        }
        loops.push(index as RegionIdx);
    }
    loops
}

/// [`is_state_method`] per function node, for the whole pass.
pub(super) fn state_methods<'s>(summaries: impl Iterator<Item = &'s FileSummary>) -> Vec<bool> {
    summaries.flat_map(|summary| summary.funcs.iter().map(|f| is_state_method(&f.name))).collect()
}

/// Whether a Module method's name says it manages state rather than computes a step
/// (`layer.reset_cache()`, `block.set_processor(p)`, `adapter.merge()`), or runs a whole
/// generation (`model.generate(...)`, whose own loop is the decode loop): a loop calling it over a
/// model's layers or adapters, or over requests, runs no model step.
fn is_state_method(name: &str) -> bool {
    let name = name.trim_start_matches('_');
    ["reset", "clear", "set_", "enable", "disable", "unset", "remove", "named_", "parameters", "apply", "generate"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || is_setup_function(name)
        || is_training_only_function(name)
        || is_logging_function(name)
}

/// Whether a function's name says it logs (`log`, `log_dict`, `_log_metrics`, `logging_step`):
/// a loop there goes over the values logged, and a Module's logging method (lightning's
/// `LightningModule.log`) runs no model step. `log_prob`, `log_softmax` and `log_sigmoid` compute.
fn is_logging_function(name: &str) -> bool {
    // Every such name starts with `log` (after underscores): skip splitting the others.
    let bare = name.trim_start_matches('_').as_bytes();
    if bare.len() < 3 || !bare[..3].eq_ignore_ascii_case(b"log") {
        return false;
    }
    let words = words(name);
    matches!(words.first().map(String::as_str), Some("log" | "logging"))
        && !words.get(1).is_some_and(|w| matches!(w.as_str(), "prob" | "probs" | "softmax" | "sigmoid"))
        && !is_likelihood_function(name)
}

/// Whether calling `entity` through `callee` (a value of `file`) is a method calling another
/// method of its own object other than `forward`/`__call__` (`self.cdf_components(xx, ...)`).
/// A loop that walks the elements of one tensor or slice computes per element: such a call there
/// is the Module's own arithmetic, no model step (gluonts' `Binned.cdf` building a CDF element by
/// element), while a call of the model itself (`self.unet(...)`, `model(x)`) in such a loop is.
/// Elsewhere a Module's helper keeps counting: transformers' decoding loops are found through
/// `self.prepare_inputs_for_generation(...)`, their model call being an unresolved local.
fn own_helper(files: &[crate::python::FileAnalysis], file: FileIdx, callee: ValId, entity: Entity) -> bool {
    let summary = &files[file].summary;
    let on_self = match summary.vals[callee as usize] {
        Val::SelfAttr { .. } => true,
        Val::Attr(receiver, _) => matches!(summary.vals[receiver as usize], Val::Param { func, index: 0 }
            if summary.funcs[func as usize].class.is_some() && !summary.funcs[func as usize].is_static),
        _ => false,
    };
    on_self
        && matches!(entity, Entity::Bound(f, m)
            if !matches!(files[f].summary.funcs[m as usize].name.as_str(), "forward" | "__call__"))
}

/// Whether a callee the evaluator cannot resolve is named as a model: `self.model(...)`,
/// `model(...)`, `self.draft_model(...)`, `self.transformer(...)`, `self.unet(...)` (a model
/// built by a config system or a factory, such as torchtune's `config.instantiate`).
fn named_as_a_model(summary: &FileSummary, callee: ValId) -> bool {
    let Some(name) = value_name(summary, callee) else {
        return false;
    };
    matches!(name, "transformer" | "unet" | "denoiser") || name.split('_').any(|word| word == "model")
}

/// The words of a qualified name, lower-cased: split at `_`, `.` and camel-case humps
/// (`_VLMEvalWrapper.acc` gives `vlm`, `eval`, `wrapper`, `acc`).
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    any_word(name, |word| {
        words.push(word.to_string());
        false
    });
    words
}

/// Whether `found` holds for one of the [`words`] of `name`, asked in order, without building
/// them: an ASCII name's words are slices of it (lowered in one buffer when they have capitals).
/// Every function, module and class name of a tree is split this way, and collecting each name's
/// characters and words cost thousands of instructions a name.
fn any_word(name: &str, mut found: impl FnMut(&str) -> bool) -> bool {
    if !name.is_ascii() {
        return words_of_chars(name).iter().any(|word| found(word));
    }
    let bytes = name.as_bytes();
    let mut lowered = String::new();
    let mut word = |range: std::ops::Range<usize>| {
        let word = &name[range];
        if word.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered.clear();
            lowered.push_str(word);
            lowered.make_ascii_lowercase();
            found(&lowered)
        } else {
            found(word)
        }
    };
    let mut start: Option<usize> = None;
    for (index, &b) in bytes.iter().enumerate() {
        if !b.is_ascii_alphanumeric() {
            if let Some(start) = start.take() {
                if word(start..index) {
                    return true;
                }
            }
            continue;
        }
        let hump = b.is_ascii_uppercase()
            && index > 0
            && (bytes[index - 1].is_ascii_lowercase()
                || (bytes[index - 1].is_ascii_uppercase() && bytes.get(index + 1).is_some_and(u8::is_ascii_lowercase)));
        if hump {
            if let Some(start) = start.take() {
                if word(start..index) {
                    return true;
                }
            }
        }
        start.get_or_insert(index);
    }
    start.is_some_and(|start| word(start..bytes.len()))
}

/// [`words`] for any name, character by character.
fn words_of_chars(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            continue;
        }
        let hump = c.is_uppercase()
            && index > 0
            && (chars[index - 1].is_lowercase()
                || (chars[index - 1].is_uppercase() && chars.get(index + 1).is_some_and(|n| n.is_lowercase())));
        if hump && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    words.extend((!current.is_empty()).then_some(current));
    words
}

/// Words that name an evaluation or a benchmark: a harness runs the model over a data set to
/// measure it, once per evaluation rather than once per step of a user's inference.
/// Debugging tools (sglang's `debug_utils.comparator`) compare runs offline, and tuners search
/// settings with trial runs, so they count too.
const EVALUATION_WORDS: &[&str] = &[
    "eval",
    "evaluation",
    "evaluator",
    "benchmark",
    "benchmarks",
    "bench",
    "acc",
    "accuracy",
    "metric",
    "metrics",
    "debug",
    "comparator",
    // Tuners run trial fits to pick a batch size or learning rate (lightning's `tuner` package),
    // once before training or inference.
    "tuner",
    "autotuner",
];

/// Words that name once-per-request work around the steps: pre- and post-processing, and a
/// diffusion pipeline's VAE encoding the inputs or decoding the final latents.
const PER_REQUEST_WORDS: &[&str] = &["preprocess", "postprocess", "vae", "autoencoder"];

/// Whether a function's qualified name (`_VLMEvalWrapper._model_generate`, `Model.acc`) says it
/// evaluates or benchmarks a model: its loops are no decode loops.
fn is_evaluation_function(qualname: &str) -> bool {
    any_word(qualname, |word| EVALUATION_WORDS.contains(&word))
}

/// Whether a function's qualified name (`DetrImageProcessor._preprocess`,
/// `QwenImageVaeEncoderStep.__call__`) says it runs once per request around the steps: its loops
/// are no decode loops.
fn is_per_request_function(qualname: &str) -> bool {
    any_word(qualname, |word| PER_REQUEST_WORDS.contains(&word))
}

/// Whether a method's class is named for training (`_FitLoop.run`, `Trainer.fit_loop`): a word
/// `fit`, or one starting with `train`, in the class part of the qualified name. Its loops train.
fn is_training_class_method(qualname: &str) -> bool {
    let Some((class, _)) = qualname.rsplit_once('.') else { return false };
    any_word(class, |word| word == "fit" || word.starts_with("train"))
}

/// Whether a module's dotted name (`recipes.eleuther_eval`, `eagle.evaluation.gen_answer`,
/// `sglang.bench_one_batch`) says it is an evaluation or benchmark script.
fn is_evaluation_module(module: &str) -> bool {
    any_word(module, |word| EVALUATION_WORDS.contains(&word))
}

/// Whether a function's name says it computes a training loss (`compute_loss`,
/// `load_balancing_loss_func`, `gaussian_nll`, `negative_normal_likelihood`: a `loss`, `losses`,
/// `nll`, `likelihood` or `loglikelihood` word) or merges an adapter into the weights
/// (`merge`, `unmerge`, `merge_adapter`, `merge_and_unload`): never per-step inference code.
fn is_training_only_function(name: &str) -> bool {
    let name = name.trim_start_matches('_');
    let name = lower_ascii(name);
    let name = name.as_ref();
    // (Split as bytes: a `char` pattern's searcher cost more than the short names it splits.)
    name.as_bytes()
        .split(|&b| b == b'_')
        .any(|word| matches!(word, b"loss" | b"losses" | b"nll" | b"likelihood" | b"loglikelihood"))
        || matches!(name, "merge" | "unmerge")
        || ["merge_adapter", "unmerge_adapter", "merge_and_unload"].iter().any(|p| name.starts_with(p))
}

/// Whether a function's name says it computes a likelihood or a loss (`log_prob`,
/// `gaussian_nll`, `lowrank_log_likelihood`, `compute_loss`): a training or scoring objective,
/// evaluated over the data points of a batch, whose loops are no decode loops even where they call
/// a Module's method per data point (gluonts' `Binned.log_prob` calling `self.log_p`). Plural
/// `logprobs` (a sampler's per-step output) is not such a name.
fn is_likelihood_function(name: &str) -> bool {
    let words = words(name);
    words.iter().any(|word| matches!(word.as_str(), "loss" | "losses" | "nll" | "likelihood" | "loglikelihood"))
        || words.windows(2).any(|pair| pair[0] == "log" && pair[1] == "prob")
}

/// The loops of a file around a diffusion scheduler's `step`.
struct StepLoops {
    /// Loops that call `step` (`self.scheduler.step(...)`, `components.scheduler.step(...)`), their
    /// own or in a nested loop: a pipeline's denoising loop, and loops holding it.
    steps: FxHashSet<RegionIdx>,
    /// Of those, loops that also set a schedule up outside their nested denoising loop
    /// (`scheduler.set_timesteps(...)`, `retrieve_timesteps(...)`): each iteration is a whole
    /// denoising run (a long video's windows), so they run once per run, not per step.
    runs: FxHashSet<RegionIdx>,
}

/// The loops of a file that call a diffusion scheduler's `step` or hold such a loop, and which
/// of them loop over denoising runs (see [`StepLoops`]).
fn scheduler_step_loops(summary: &FileSummary) -> StepLoops {
    let mut steps = FxHashSet::default();
    let by_text = |which: DenoisingCall| {
        summary.denoising_calls.iter().filter(move |(call, _)| *call == which).map(|&(_, region)| region)
    };
    let by_value = summary.calls.iter().filter(|call| is_scheduler_step(summary, call.callee)).map(|call| call.region);
    for mut region in by_value.chain(by_text(DenoisingCall::Step)) {
        while let Some(r) = region {
            if summary.regions[r as usize].kind == RegionKind::Loop {
                steps.insert(r);
            }
            region = summary.regions[r as usize].parent;
        }
    }
    let mut runs = FxHashSet::default();
    if !steps.is_empty() {
        let by_value = summary.calls.iter().filter(|call| sets_timesteps(summary, call.callee)).map(|call| call.region);
        for mut region in by_value.chain(by_text(DenoisingCall::SetTimesteps)) {
            // The innermost step loop around the call is the one it sets up a run for.
            while let Some(r) = region {
                if steps.contains(&r) {
                    runs.insert(r);
                    break;
                }
                region = summary.regions[r as usize].parent;
            }
        }
        steps.retain(|r| !runs.contains(r));
    }
    StepLoops { steps, runs }
}

/// Whether `callee` sets a denoising schedule up: `<...>.set_timesteps` or `retrieve_timesteps`
/// (diffusers' helper that calls it).
fn sets_timesteps(summary: &FileSummary, callee: ValId) -> bool {
    match summary.vals[callee as usize] {
        Val::Attr(_, name) | Val::Global(name) => {
            matches!(summary.names.get(name), "set_timesteps" | "retrieve_timesteps")
        }
        _ => false,
    }
}

/// Whether `callee` is `<...scheduler...>.step`: a receiver whose name holds `scheduler`.
fn is_scheduler_step(summary: &FileSummary, callee: ValId) -> bool {
    let Val::Attr(receiver, method) = summary.vals[callee as usize] else {
        return false;
    };
    if summary.names.get(method) != "step" {
        return false;
    }
    value_name(summary, receiver).is_some_and(|name| name.to_ascii_lowercase().contains("scheduler"))
}

/// The name a value is known by: an attribute's, a global's or a parameter's.
fn value_name(summary: &FileSummary, val: ValId) -> Option<&str> {
    match summary.vals[val as usize] {
        Val::Attr(_, name) | Val::SelfAttr { name, .. } | Val::Global(name) => Some(summary.names.get(name)),
        Val::Param { func, index } => {
            summary.funcs[func as usize].params.get(index as usize).map(|&(name, _)| summary.names.get(name))
        }
        _ => None,
    }
}

/// Whether loop `region` lies beside a denoising loop of its function (one of `step_loops`),
/// neither inside it nor holding it: a diffusion pipeline's `__call__` runs once per request, and
/// only its timestep loop runs per step; a loop before it (encoding each prompt's condition
/// images, even through the denoiser to fill a cache) or after it (decoding each image) runs once.
fn beside_a_denoising_loop(summary: &FileSummary, region: RegionIdx, step_loops: &FxHashSet<RegionIdx>) -> bool {
    let func = summary.regions[region as usize].func;
    let ancestors = |mut r: Option<RegionIdx>| {
        std::iter::from_fn(move || {
            let current = r?;
            r = summary.regions[current as usize].parent;
            Some(current)
        })
    };
    let mut in_function = step_loops.iter().filter(|&&s| summary.regions[s as usize].func == func).peekable();
    in_function.peek().is_some()
        && !ancestors(Some(region)).any(|r| step_loops.contains(&r))
        && !in_function.clone().any(|&s| ancestors(Some(s)).any(|r| r == region))
}

/// Whether a file is a training script: its module-level code, or its `main`, runs a training loop
/// (one that calls `backward`, `zero_grad` or an optimizer's `step`). What its functions compute
/// serves that loop (EAGLE's `train/main.py` measuring draft acceptance in `getkacc` between
/// epochs), never an inference step.
fn is_training_script(summary: &FileSummary) -> bool {
    summary.regions.iter().any(|region| {
        region.kind == RegionKind::Loop
            && region.training
            && matches!(summary.funcs[region.func as usize].name.as_str(), "<module>" | "main")
    })
}

/// Whether a file holds tests: `test_*.py`, `*_test.py`, `conftest.py`, or a file under a `test`
/// or `tests` directory (pytest's layouts).
fn is_test_file(path: &std::path::Path) -> bool {
    // Only the part below the working directory: a checkout inside `~/tests/` is no test.
    let path = crate::paths::current_dir().and_then(|cwd| path.strip_prefix(cwd).ok()).unwrap_or(path);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem == "conftest"
        || path.parent().is_some_and(|dir| dir.iter().any(|c| c == "tests" || c == "test"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_ascii_names_are_those_of_their_characters() {
        let names = [
            "_VLMEvalWrapper._model_generate",
            "recipes.eleuther_eval",
            "HTTPServer2Handler",
            "V2Model.forwardX",
            "ABCdef_GHI__jklMNO",
            "a",
            "",
            "__",
            "x1Y2z3",
            "getHTTPResponseCode",
            "Model.acc",
            "_FitLoop.run",
        ];
        for name in names {
            assert_eq!(words(name), words_of_chars(name), "{name}");
            let mut seen = Vec::new();
            assert!(!any_word(name, |word| {
                seen.push(word.to_string());
                false
            }));
            assert_eq!(seen, words_of_chars(name), "{name}");
        }
        // Asked in order, and no further than the first that holds.
        let mut asked = 0;
        assert!(any_word("alpha_BetaGamma.delta", |word| {
            asked += 1;
            word == "beta"
        }));
        assert_eq!(asked, 2);
        // Other names go character by character.
        assert_eq!(words("ÄpfelBirne_straße"), ["äpfel", "birne", "straße"]);
    }

    #[test]
    fn setup_words_are_found_wherever_they_start() {
        for word in SETUP_WORDS {
            assert!(is_setup_function(word), "{word}");
            assert!(is_setup_function(&format!("x_{}", word.to_uppercase())), "{word}");
            let cut = &word[..word.len() - 1];
            // (A word cut short is no setup word unless it holds another.)
            if !SETUP_WORDS.iter().any(|other| cut.contains(other)) {
                assert!(!is_setup_function(cut), "{cut}");
            }
        }
        assert!(!is_setup_function("forward"));
    }

    #[test]
    fn words_split_at_underscores_dots_and_humps() {
        assert_eq!(words("_VLMEvalWrapper._model_generate"), ["vlm", "eval", "wrapper", "model", "generate"]);
        assert_eq!(words("recipes.eleuther_eval"), ["recipes", "eleuther", "eval"]);
        assert_eq!(words("Model.acc"), ["model", "acc"]);
    }

    #[test]
    fn evaluation_and_per_request_names() {
        assert!(is_evaluation_function("_VLMEvalWrapper._model_multimodal_generate"));
        assert!(is_evaluation_function("Model.acc"));
        assert!(is_evaluation_module("sglang.srt.debug_utils.comparator.entrypoint"));
        assert!(is_evaluation_module("lightning.pytorch.tuner.batch_size_scaling"));
        assert!(is_training_class_method("_FitLoop.run"));
        assert!(is_training_class_method("Trainer.predict"));
        assert!(!is_training_class_method("OutfitModel.generate") && !is_training_class_method("generate"));
        assert!(!is_evaluation_module("vllm.v1.worker.gpu_model_runner"));
        // `evaluate_posterior` is EAGLE's per-step acceptance test; `retrieval` holds no `eval` word.
        assert!(!is_evaluation_function("evaluate_posterior"));
        assert!(!is_evaluation_function("RetrievalModel.generate"));
        assert!(is_per_request_function("DetrImageProcessor._preprocess"));
        assert!(is_per_request_function("QwenImageVaeEncoderStep.__call__"));
        assert!(!is_per_request_function("GenerationMixin._sample"));
    }

    #[test]
    fn likelihood_names() {
        for name in
            ["log_prob", "genpareto_log_prob", "logProb", "gaussian_nll", "lowrank_log_likelihood", "compute_loss"]
        {
            assert!(is_likelihood_function(name), "{name}");
        }
        // A sampler's per-step log-probabilities, and words that merely contain the letters.
        for name in ["compute_logprobs", "gather_logprobs", "get_top_logprobs", "probe", "catalog_problem", "floss"] {
            assert!(!is_likelihood_function(name), "{name}");
        }
    }

    #[test]
    fn state_methods_run_no_step() {
        for name in [
            "reset_cache",
            "set_processor",
            "_enable_adapters",
            "generate",
            "merge",
            "load_weights",
            "log_dict",
            "add_weighted_adapter",
        ] {
            assert!(is_state_method(name), "{name}");
        }
        for name in ["forward", "decode", "embed_multimodal", "step", "log_softmax", "log_probs", "logits"] {
            assert!(!is_state_method(name), "{name}");
        }
    }

    fn function(qualname: &str, decorators: &[&str]) -> FuncSummary {
        FuncSummary {
            name: qualname.rsplit('.').next().unwrap_or(qualname).to_string(),
            qualname: qualname.to_string(),
            row: 1,
            decorators: decorators.iter().map(|d| d.to_string()).collect(),
            ..FuncSummary::default()
        }
    }

    /// Matching a file's functions with the module part of each pattern matched once per file
    /// gives what matching every full name does, the built-in profiles included.
    #[test]
    fn file_roots_match_as_full_names_do() {
        let patterns = [
            "*.generate*",
            "generate",
            "pkg.mod:Class.method",
            "pkg.*:*Processor*",
            "pkg.mod:*",
            "pkg:*",
            "*:*.step",
            "pkg.m*d.*",
            "pkg.mod:@Registry.register",
            "pkg.*:@*.register",
            "a:b:c",
            "*",
            "pkg.mod.Class.method",
            "transformers.generation.logits_process:*.__call__",
        ];
        let modules =
            ["pkg.mod", "pkg", "pkg.models.x", "other", "", "transformers.generation.logits_process", "odd:mod"];
        let functions = [
            function("Class.method", &[]),
            function("ImageProcessorFast.run", &[]),
            function("Model.generate_tokens", &["Registry.register"]),
            function("helper", &["other.register"]),
            function("Sampler.step", &[]),
            function("TopPLogitsWarper.__call__", &[]),
            function("<module>", &[]),
            function("odd:name", &[]),
        ];
        let mut matched = 0;
        for subset in [&patterns[..], &patterns[..1], &patterns[2..4], &patterns[8..9], &[]] {
            let roots = RootPatterns {
                hot: subset.iter().map(|p| p.to_string()).collect(),
                cold: patterns.iter().rev().take(3).map(|p| p.to_string()).collect(),
                profiles: crate::profiles::PROFILES.iter().collect(),
            };
            for module in modules {
                let file_roots = FileRoots::new(module, &roots);
                for func in &functions {
                    let full = (func.qualname != "<module>").then(|| format!("{module}:{}", func.qualname));
                    let full = full.as_deref();
                    let hot = matches_pattern(full, func, &roots.hot);
                    matched += hot as usize;
                    assert_eq!(file_roots.matches(func, Which::Hot), hot, "{module}:{}", func.qualname);
                    assert_eq!(file_roots.matches(func, Which::Cold), matches_pattern(full, func, &roots.cold));
                    let profiles: Vec<&str> = roots
                        .profiles
                        .iter()
                        .filter(|p| full.is_some_and(|full| full.starts_with(p.package)))
                        .filter(|p| matches_pattern(full, func, p.hot) || matches_pattern(full, func, p.cold))
                        .map(|p| p.name)
                        .collect();
                    let found: Vec<&str> = file_roots
                        .profiles(func)
                        .into_iter()
                        .filter(|&p| {
                            file_roots.matches(func, Which::ProfileHot(p))
                                || file_roots.matches(func, Which::ProfileCold(p))
                        })
                        .map(|p| file_roots.profiles[p].0.name)
                        .collect();
                    assert_eq!(found, profiles, "{module}:{}", func.qualname);
                }
            }
        }
        // Some names match and some do not, so the comparison above says something.
        assert!(matched > 10 && matched < 5 * modules.len() * functions.len(), "{matched}");
    }

    /// The one-pass word search finds what a substring search per word does.
    #[test]
    fn setup_and_training_names_as_substring_searches_find_them() {
        let names = [
            "__init__",
            "setUp",
            "build_model",
            "load_state_dict",
            "forward",
            "step",
            "merge",
            "_unmerge",
            "Merge_Adapter",
            "compute_LOSS",
            "losses_x",
            "nll",
            "gaussian_nll_",
            "warmUp",
            "WARM_UP",
            "reparameterize",
            "calibrate",
            "profile_run",
            "prof",
            "checkpoint_filter_fn",
            "_update_expert_weights",
            "rebalance",
            "decode",
            "",
            "i",
            "in",
            "ini",
            "géneration_init",
            "Ünload",
            "merge_and_unload_all",
            "add_weighted_adapter",
            "x_register",
        ];
        let mut found = 0;
        for name in names {
            let lowered = name.to_ascii_lowercase();
            let expected = SETUP_WORDS.iter().any(|word| lowered.contains(word));
            assert_eq!(is_setup_function(name), expected, "{name}");
            found += expected as usize;
            let bare = name.trim_start_matches('_').to_ascii_lowercase();
            let training =
                bare.split('_').any(|w| matches!(w, "loss" | "losses" | "nll" | "likelihood" | "loglikelihood"))
                    || matches!(bare.as_str(), "merge" | "unmerge")
                    || ["merge_adapter", "unmerge_adapter", "merge_and_unload"].iter().any(|p| bare.starts_with(p));
            assert_eq!(is_training_only_function(name), training, "{name}");
        }
        assert!(found > 10 && found < names.len(), "{found}");
    }
}
