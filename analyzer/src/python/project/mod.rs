//! The project-level hot-path pass. It runs over the per-file summaries only:
//!
//! 1. a module table (dotted names from `__init__.py` packages and `src/` layouts, and paths for
//!    relative imports), in this file;
//! 2. a small evaluator that turns the summaries' symbolic values into entities (classes,
//!    instances, functions, bound methods), following imports, re-exports, `self.x` attributes
//!    assigned in any method, `super()`, `nn.ModuleList`/`nn.Sequential` and annotations
//!    (`evaluation.rs`);
//! 3. call edges, with argument-to-parameter flow for unannotated parameters, to a fixed point
//!    (`calls.rs`);
//! 4. roots, then breadth-first propagation (shortest chain per function), then decode loops
//!    (loops that drive a model and do not train it), until nothing changes (`roots.rs`);
//! 5. types that cross files: other files' declarations answer what a file could only describe
//!    symbolically, and files with answers on a hot path are checked again (`declared.rs`).
//!
//! Unknown receivers stay unresolved: an edge exists only where the evaluator proves the callee.

use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::summary::*;
use super::FileAnalysis;
use crate::hotpath;
use crate::settings::Settings;

mod calls;
mod constants;
mod declared;
mod evaluation;
mod forwarded;
pub(super) mod incremental;
mod layout;
mod moved;
mod roots;

use layout::Layout;

type FileIdx = usize;
/// A name interned project-wide (the summaries' [`NameId`]s are per file).
type Sym = u32;
/// A class, as (file, class index), in the keys of the per-class tables.
type ClassKey = (u32, u32);
/// The methods a call dispatches to (see `Project::overrides`).
type Methods = SmallVec<[(FileIdx, FuncIdx); 4]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Entity {
    Module(FileIdx),
    Class(FileIdx, u32),
    Instance(FileIdx, u32),
    /// A value declared (annotated) as an instance of the class: that class or any subclass, so
    /// its methods dispatch to the subclasses' overrides.
    Declared(FileIdx, u32),
    /// A function object: a module function, or a method reached through its class.
    Func(FileIdx, FuncIdx),
    /// A method reached through an instance (`self.m`, `obj.m`).
    Bound(FileIdx, FuncIdx),
    /// `super()` inside a method of the class.
    Super(FileIdx, u32),
    /// A name outside the project (interned dotted path).
    External(u32),
    /// An instance of an external class (e.g. `torch.nn.Linear`).
    ExternalInstance(u32),
    /// A list, tuple, dict, `nn.ModuleList` or `nn.Sequential` (interned element list).
    Container(u32),
}

type Entities = SmallVec<[Entity; 2]>;

/// What an import's dotted path names: a project module (with the number of segments its name
/// took; the rest are attributes), something outside the project, or nothing.
#[derive(Debug, Clone, Copy)]
enum ImportTarget {
    Module(FileIdx, usize),
    External(u32),
    Nothing,
}

/// The base directory of an absolute import in `import_targets`' keys (no directory has it).
const ABSOLUTE: u32 = u32::MAX;
const UNSEEN: u32 = u32::MAX;
const IN_PROGRESS: u32 = u32::MAX - 1;
/// Most values resolve to nothing: those are not stored in the arena.
const NOTHING: u32 = u32::MAX - 2;
const NOTHING_VOLATILE: u32 = u32::MAX - 3;

/// The last segment of a dotted name (`path.rsplit('.').next()`, found with one `memrchr`: the
/// evaluator and the dead-arm pass ask it of most call sites).
fn last_segment(dotted: &str) -> &str {
    memchr::memrchr(b'.', dotted.as_bytes()).map_or(dotted, |dot| &dotted[dot + 1..])
}

/// External base classes whose subclasses are `nn.Module`s.
fn is_module_base(path: &str) -> bool {
    path == "torch.nn.Module"
        || path == "torch.nn.modules.module.Module"
        || path.ends_with(".LightningModule")
        || path.ends_with(".PreTrainedModel")
        || path.ends_with(".ModelMixin")
        || (path.starts_with("torch.nn.") && {
            let last = last_segment(path);
            last.starts_with(char::is_uppercase) && !matches!(last, "Parameter" | "Buffer")
        })
}

struct Project<'s> {
    files: &'s [FileAnalysis],
    modules: FxHashMap<String, FileIdx>,
    /// Files by absolute path, keyed by the path's bytes: hashing a `Path` walks its components,
    /// which made relative-import lookups the costliest part of the pass.
    by_path: FxHashMap<Box<[u8]>, FileIdx>,
    /// Per file, the id of its directory in `dir_paths`; with each directory's parent's id, so
    /// that relative imports find their base directory without path operations.
    dir_ids: Vec<u32>,
    dir_paths: Vec<PathBuf>,
    dir_parents: Vec<u32>,
    /// Resolved import targets by (base directory id, or [`ABSOLUTE`] for absolute imports, text).
    import_targets: FxHashMap<(u32, Sym), ImportTarget>,
    /// What an import of a project module's attributes gives, by (module, segments the module's
    /// name took, the import's text), once found without reading a flowed-in parameter: every
    /// step of the chain is memoised, so a second importing file would find the same.
    import_chains: FxHashMap<(FileIdx, usize, Sym), Entities>,
    module_names: Vec<String>,
    /// Per file: see [`ModuleNames::is_script`].
    is_script: Vec<bool>,
    /// Absolute imports a script resolves from its own directory, by (directory id, text).
    script_targets: FxHashMap<(u32, Sym), ImportTarget>,
    externals: Vec<String>,
    external_ids: FxHashMap<String, u32>,
    /// `external.name` by (external id, name): the same attribute of `torch`, `torch.nn`, ...
    /// is read in most files, and joining and hashing its path each time cost more than the rest
    /// of evaluating it.
    external_members: FxHashMap<(u32, Sym), u32>,
    containers: Vec<Entities>,
    /// Per file, per value: an index into `results`, or `UNSEEN` / `IN_PROGRESS`.
    memo: Vec<Vec<u32>>,
    /// Evaluated values that found something: a range of `result_entities`, and whether the
    /// value read a flowed parameter. (Almost every value resolves to one entity or none, so
    /// they are stored flat rather than as one small vector each.)
    results: Vec<(u32, u32, bool)>,
    result_entities: Vec<Entity>,
    depth: u32,
    /// Every file's names, interned: `syms[file][name]` is the project-wide id of a file's name.
    syms: Vec<Vec<Sym>>,
    sym_names: Vec<&'s str>,
    sym_ids: FxHashMap<&'s str, Sym>,
    /// The methods calls resolve to, when some file has them.
    sym_forward: Option<Sym>,
    sym_init: Option<Sym>,
    sym_call: Option<Sym>,
    sym_getitem: Option<Sym>,
    /// The list methods that add elements (`Project::record_elements`), compared by id at every call site.
    sym_append: Option<Sym>,
    sym_insert: Option<Sym>,
    sym_extend: Option<Sym>,
    /// Module-level bindings per (file, name).
    globals: FxHashMap<(u32, Sym), ValId>,
    /// Attribute values and methods per class and name.
    class_attrs: FxHashMap<(ClassKey, Sym), SmallVec<[ValId; 2]>>,
    class_methods: FxHashMap<(ClassKey, Sym), FuncIdx>,
    /// Set while evaluating when a parameter with flowed-in values was read.
    read_flow: bool,
    /// Memo entries that read flowed parameters: forgotten when the flow grows.
    volatile: Vec<(FileIdx, ValId)>,
    /// Entities flowing into each function's parameters from resolved call sites.
    param_flow: FxHashMap<(FileIdx, FuncIdx, u32), Entities>,
    module_memo: FxHashMap<(FileIdx, u32), bool>,
    /// Per file, per class: a range of `mro_classes` (start [`UNSEEN`] until computed). Indexed,
    /// not hashed: every attribute and method look-up walks an MRO.
    mro_memo: Vec<Vec<(u32, u32)>>,
    mro_classes: Vec<(FileIdx, u32)>,
    method_memo: FxHashMap<(ClassKey, Sym), Option<(FileIdx, FuncIdx)>>,
    /// Per node, whether the function's name says it manages state (`roots.rs`,
    /// `is_state_method`): call sites ask it of every bound method. Filled once calls resolve.
    state_methods: Vec<bool>,
    /// Per file, each function defined in another one, with that function (`calls.rs`).
    nested: Vec<Vec<(FuncIdx, FuncIdx)>>,
    module_attr_memo: FxHashMap<(u32, Sym), Entities>,
    /// Module attributes being looked up right now (see [`Self::module_attribute`]).
    module_attr_active: FxHashSet<(u32, Sym)>,
    /// `instance.name` per class, and whether it read a flowed-in parameter.
    attr_memo: FxHashMap<(ClassKey, Sym), (Entities, bool)>,
    /// Per class, the project classes that name it as a direct base.
    subclasses: FxHashMap<ClassKey, SmallVec<[ClassKey; 2]>>,
    /// The overrides a call on a declared instance dispatches to, per (declared class, method).
    override_memo: FxHashMap<(ClassKey, Sym), Methods>,
    /// Fields that some constructor call fills with a host value (`declared.rs`), once asked.
    host_fields: Option<FxHashMap<(ClassKey, Sym), bool>>,
    /// The parameters that callers give device tensors (`declared.rs`), once known: what calls
    /// of functions returning them return.
    given_params: rustc_hash::FxHashSet<(FileIdx, FuncIdx, u32)>,
    /// Per class: whether it derives from the builtin `list`.
    list_memo: FxHashMap<ClassKey, bool>,
    /// Per `list` subclass: what the project appends to its instances (`for x in self` yields these).
    class_elements: FxHashMap<ClassKey, Entities>,
    /// Every project class by name, once an enum of class names is read (`enum_member_classes`).
    classes_by_name: Option<FxHashMap<&'s str, SmallVec<[ClassKey; 2]>>>,
    /// Per file and region: the call sites inside the region (nested regions included).
    region_calls: Vec<Vec<Vec<u32>>>,
    /// Per file, per region: whether it is an `if` arm no call takes (`constants.rs`); empty for a
    /// file without one. Known once calls resolve.
    dead_regions: Vec<Vec<bool>>,
    /// The graph's node numbers.
    layout: Layout<'s>,
}

pub(super) fn classify(
    mut files: Vec<FileAnalysis>,
    settings: &Settings,
    store: Option<incremental::Store<'_>>,
    outlines: &FxHashMap<PathBuf, super::Outline>,
) -> hotpath::Classified {
    let timings = std::env::var_os("GRAPHLINT_TIMINGS").is_some();
    let mut clock = super::process_cpu_seconds();
    // Wall time too: the project pass runs partly on other cores, and its wall time is what a
    // hook's user waits for.
    let mut wall = std::time::Instant::now();
    // Peak RSS too: touching fresh memory costs page faults, a large part of the run's time.
    let mut lap = |what: &str| {
        if timings {
            let now = super::process_cpu_seconds();
            eprintln!(
                "graphlint:   {what}: {:.3} CPU-s, {:.3} s wall (peak RSS {} MB)",
                now - clock,
                wall.elapsed().as_secs_f64(),
                super::peak_rss_mb()
            );
            (clock, wall) = (now, std::time::Instant::now());
        }
    };
    if timings {
        eprintln!("graphlint:   after the per-file pass: peak RSS {} MB", super::peak_rss_mb());
    }
    // What the classification needs of each file, kept apart from the summaries the project
    // borrows: a re-check with other files' types replaces a file's candidates. A file whose
    // findings are not reported needs none.
    let mut findings: Vec<FileAnalysis> = files
        .iter_mut()
        .map(|file| {
            let mut findings = FileAnalysis::empty(&file.path);
            if settings.reports(&file.path) {
                findings.candidates = std::mem::take(&mut file.candidates);
                findings.file_diagnostics = std::mem::take(&mut file.file_diagnostics);
            }
            findings
        })
        .collect();
    let mut layout = Layout::new(&files);
    let kept = store.as_ref().and_then(|store| store.load(&files, settings, layout.node_count()));
    let (analysed, store) = match kept {
        Some(analysed) => {
            lap("project result reused");
            (analysed, None)
        }
        None => (analyse(&files, settings, &mut lap), store),
    };
    // A new result is stored on another core while files are checked again and classified.
    let summaries: Vec<(&Path, &FileSummary)> = match store {
        Some(_) => files.iter().map(|file| (file.path.as_path(), &file.summary)).collect(),
        None => Vec::new(),
    };
    let classified = std::thread::scope(|scope| {
        let stored = store.as_ref().map(|store| scope.spawn(|| store.keep(&summaries, settings, &analysed)));
        let rechecked = recheck(&files, &analysed.foreign, &mut findings, settings, outlines);
        lap(&format!("re-checks of {rechecked} files"));
        layout.dead = analysed.dead_regions.iter().copied().collect();
        let classified = hotpath::classified(&findings, &layout, &analysed.reach, &analysed.region_roots, settings);
        lap("classification");
        if let Some(stored) = stored {
            stored.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            lap("project result stored");
        }
        classified
    });
    // Freeing every summary took as long as classifying the findings: it is done on another
    // thread, which the run does not wait for, or not at all when the process exits next.
    drop((summaries, layout));
    drop_elsewhere((files, findings, analysed), settings);
    classified
}

/// Drops `value` on a thread of its own (or here if none can be started), or leaves it to the
/// process's exit (see [`Settings::exits_after`]).
fn drop_elsewhere<T: Send + 'static>(value: T, settings: &Settings) {
    if settings.exits_after {
        std::mem::forget(value);
        return;
    }
    // (A failed spawn drops the closure, and `value` with it, here.)
    let _ = std::thread::Builder::new().name("graphlint-drop".into()).spawn(move || drop(value));
}

/// The project pass proper: what is hot, and what files answer of each other's questions.
fn analyse(files: &[FileAnalysis], settings: &Settings, lap: &mut impl FnMut(&str)) -> incremental::Analysed {
    let mut project = Project::new(files);
    lap("module table");
    // What each file's names alone say is worked out on another core while calls resolve.
    let module_names = project.module_names.clone();
    let ((edges, exact_edges), (state_methods, loop_regions, named_roots)) = std::thread::scope(|scope| {
        let summaries: Vec<(&Path, &FileSummary)> =
            files.iter().map(|file| (file.path.as_path(), &file.summary)).collect();
        let (call_facts_sent, call_facts) = std::sync::mpsc::channel();
        let named = scope.spawn(move || {
            let only_summaries: Vec<&FileSummary> = summaries.iter().map(|(_, summary)| *summary).collect();
            // (First: call resolution waits for these once arguments have flowed.)
            let _ = call_facts_sent.send(CallFacts::new(&only_summaries));
            let loops =
                summaries.iter().zip(&module_names).map(|((_, summary), name)| roots::loop_regions(summary, name));
            let loops = loops.collect::<Vec<_>>();
            let state_methods = roots::state_methods(summaries.iter().map(|(_, summary)| *summary));
            let named_roots = summaries
                .iter()
                .zip(&module_names)
                .map(|(&(path, summary), name)| roots::named_roots(path, summary, name, settings.roots_for(path)));
            (state_methods, loops, named_roots.collect::<Vec<_>>())
        });
        let edges = project.resolve_calls(|| {
            // (Found here only if the other thread failed, which `join` then reports.)
            call_facts
                .recv()
                .unwrap_or_else(|_| CallFacts::new(&files.iter().map(|file| &file.summary).collect::<Vec<_>>()))
        });
        (edges, named.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    project.state_methods = state_methods;
    lap("call resolution");
    let (reach, region_roots) = project.propagate(&edges, &exact_edges, &loop_regions, named_roots);
    lap("roots and propagation");
    // Per function node, whether its questions are answered: it is hot, or a root region is in it.
    let mut hot_funcs = vec![settings.all_paths; project.layout.node_count()];
    if !settings.all_paths {
        for (file, analysis) in files.iter().enumerate() {
            for func in 0..analysis.summary.funcs.len() as FuncIdx {
                let node = hotpath::Graph::func_node(&project.layout, file, func);
                hot_funcs[node] = !matches!(reach[node], hotpath::Reach::Unreached);
            }
        }
        for &node in &region_roots {
            if let Some((file, region)) = project.layout.region_of(node) {
                let func = files[file].summary.regions[region].func;
                hot_funcs[hotpath::Graph::func_node(&project.layout, file, func)] = true;
            }
        }
    }
    // Per function node, whether it is a root or holds one: what calls it from outside the tree
    // is not seen, so its callers in the tree do not decide its parameters.
    let mut root_funcs: Vec<bool> = reach.iter().map(|reach| matches!(reach, hotpath::Reach::Root(_))).collect();
    for &node in &region_roots {
        if let Some((file, region)) = project.layout.region_of(node) {
            let func = files[file].summary.regions[region].func;
            root_funcs[hotpath::Graph::func_node(&project.layout, file, func)] = true;
        }
    }
    let func_base = project.layout.func_base.clone();
    let foreign = project.foreign_types(
        |file, func| hot_funcs[func_base[file] + func as usize],
        |file, func| root_funcs[func_base[file] + func as usize],
    );
    lap("types across files");
    let mut dead_regions = Vec::new();
    for (file, regions) in project.dead_regions.iter().enumerate() {
        let base = project.layout.region_base[file];
        dead_regions.extend(regions.iter().enumerate().filter(|(_, dead)| **dead).map(|(region, _)| base + region));
    }
    // What other threads built (the edge lists, the names' facts, the module table) is costly
    // to free here, as mimalloc frees another thread's memory on its slow path: freed elsewhere.
    let facts = (
        std::mem::take(&mut project.region_calls),
        std::mem::take(&mut project.nested),
        std::mem::take(&mut project.modules),
        std::mem::take(&mut project.by_path),
        std::mem::take(&mut project.module_names),
    );
    drop_elsewhere((edges, exact_edges, loop_regions, facts), settings);
    incremental::Analysed { reach, region_roots, foreign, dead_regions }
}

/// Checks again, with what other files prove, each file that has answers; its new candidates
/// replace the first pass's (unless the re-check fails, which keeps them). Returns how many.
fn recheck(
    files: &[FileAnalysis],
    foreign: &[crate::python::types::ForeignTypes],
    findings: &mut [FileAnalysis],
    settings: &Settings,
    outlines: &FxHashMap<PathBuf, super::Outline>,
) -> usize {
    use rayon::prelude::*;
    let paths: Vec<(usize, &Path)> = files
        .iter()
        .enumerate()
        .filter(|(index, file)| !foreign[*index].is_empty() && settings.reports(&file.path))
        .map(|(index, file)| (index, file.path.as_path()))
        .collect();
    // (The analyses themselves hold suppressions, which are not shared between threads.)
    let first: Vec<(&FileSummary, &[crate::frontend::Candidate])> =
        files.iter().zip(findings.iter()).map(|(file, found)| (&file.summary, found.candidates.as_slice())).collect();
    let rechecked: Vec<(usize, Vec<crate::frontend::Candidate>)> = paths
        .into_par_iter()
        .filter_map(|(index, path)| {
            let bytes =
                crate::source::Overlay::read(settings.overlay.as_deref(), path).map(std::borrow::Cow::into_owned);
            let recheck = super::Recheck {
                foreign: &foreign[index],
                first: first[index].0,
                candidates: first[index].1,
                outline: outlines.get(path),
            };
            let again =
                crate::frontend::catch_panic(path, || super::analyze_file_with(path, bytes, settings, Some(recheck)));
            (!again.internal_error && again.file_diagnostics.is_empty()).then_some((index, again.candidates))
        })
        .collect();
    let count = rechecked.len();
    for (index, candidates) in rechecked {
        findings[index].candidates = candidates;
    }
    count
}

impl<'s> Project<'s> {
    fn new(files: &'s [FileAnalysis]) -> Self {
        // The files' own facts are found on another core while names are interned (only the
        // summaries go there: the analyses hold suppressions, which are not shared between threads).
        let sources: Vec<(&Path, &FileSummary)> =
            files.iter().map(|file| (file.path.as_path(), &file.summary)).collect();
        let (mut project, facts) = std::thread::scope(|scope| {
            let facts = scope.spawn(|| FileFacts::new(&sources));
            let project = Self::with_names(files);
            (project, facts.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        });
        let FileFacts { modules, by_path, dir_ids, dir_paths, dir_parents, module_names, is_script } = facts;
        (project.modules, project.by_path, project.dir_ids, project.dir_paths, project.dir_parents) =
            (modules, by_path, dir_ids, dir_paths, dir_parents);
        (project.module_names, project.is_script) = (module_names, is_script);
        project
    }

    /// The project with every name interned and the tables of globals and class members (the
    /// [`FileFacts`] left empty).
    fn with_names(files: &'s [FileAnalysis]) -> Self {
        let value_count: usize = files.iter().map(|f| f.summary.vals.len()).sum();
        let mut project = Project {
            files,
            modules: FxHashMap::default(),
            by_path: FxHashMap::default(),
            dir_ids: Vec::new(),
            dir_paths: Vec::new(),
            dir_parents: Vec::new(),
            import_targets: FxHashMap::default(),
            import_chains: FxHashMap::default(),
            module_names: Vec::new(),
            is_script: Vec::new(),
            script_targets: FxHashMap::default(),
            externals: Vec::new(),
            external_ids: FxHashMap::default(),
            external_members: FxHashMap::default(),
            containers: Vec::new(),
            memo: files.iter().map(|f| vec![UNSEEN; f.summary.vals.len()]).collect(),
            // Evaluations found something for 0.33-0.39 of the values (one entity each, mostly) on
            // transformers, vllm, sglang and diffusers: reserved for half of them, the tables do
            // not grow by doubling, which copied them and touched twice their memory.
            results: Vec::with_capacity(value_count / 2),
            result_entities: Vec::with_capacity(value_count / 2),
            depth: 0,
            syms: Vec::with_capacity(files.len()),
            sym_names: Vec::new(),
            sym_ids: FxHashMap::default(),
            sym_forward: None,
            sym_init: None,
            sym_call: None,
            sym_getitem: None,
            sym_append: None,
            sym_insert: None,
            sym_extend: None,
            globals: FxHashMap::default(),
            class_attrs: FxHashMap::default(),
            class_methods: FxHashMap::default(),
            read_flow: false,
            volatile: Vec::new(),
            param_flow: FxHashMap::default(),
            module_memo: FxHashMap::default(),
            mro_memo: files.iter().map(|f| vec![(UNSEEN, 0); f.summary.classes.len()]).collect(),
            mro_classes: Vec::new(),
            method_memo: FxHashMap::default(),
            state_methods: Vec::new(),
            nested: Vec::new(),
            module_attr_memo: FxHashMap::default(),
            module_attr_active: FxHashSet::default(),
            attr_memo: FxHashMap::default(),
            subclasses: FxHashMap::default(),
            override_memo: FxHashMap::default(),
            host_fields: None,
            given_params: Default::default(),
            list_memo: FxHashMap::default(),
            class_elements: FxHashMap::default(),
            classes_by_name: None,
            region_calls: Vec::new(),
            dead_regions: Vec::new(),
            layout: Layout::new(files),
        };
        project.sym_ids.reserve(files.iter().map(|f| f.summary.names.len()).sum::<usize>() / 4);
        for file in files {
            let names = &file.summary.names;
            let syms = (0..names.len() as NameId).map(|id| project.intern_name(names.get(id))).collect();
            project.syms.push(syms);
        }
        [project.sym_forward, project.sym_init, project.sym_call, project.sym_getitem] =
            ["forward", "__init__", "__call__", "__getitem__"].map(|name| project.sym_ids.get(name).copied());
        [project.sym_append, project.sym_insert, project.sym_extend] =
            ["append", "insert", "extend"].map(|name| project.sym_ids.get(name).copied());
        // Sized up front: growing a table rehashes it and touches memory twice.
        fn with_capacity<K, V>(n: usize) -> FxHashMap<K, V> {
            FxHashMap::with_capacity_and_hasher(n, Default::default())
        }
        project.globals = with_capacity(files.iter().map(|f| f.summary.globals.len()).sum());
        project.class_attrs = with_capacity(files.iter().flat_map(|f| &f.summary.classes).map(|c| c.attrs.len()).sum());
        project.class_methods =
            with_capacity(files.iter().flat_map(|f| &f.summary.classes).map(|c| c.methods.len()).sum());
        for (index, file) in files.iter().enumerate() {
            let syms = &project.syms[index];
            let summary = &file.summary;
            for &(name, val) in &summary.globals {
                project.globals.insert((index as u32, syms[name as usize]), val);
            }
            for (class, info) in summary.classes.iter().enumerate() {
                let key = (index as u32, class as u32);
                for &(name, val) in &info.attrs {
                    project.class_attrs.entry((key, syms[name as usize])).or_default().push(val);
                }
                for &(name, func) in &info.methods {
                    project.class_methods.insert((key, syms[name as usize]), func);
                }
            }
        }
        project
    }
}

/// What each file's path and the disk say: paths, directories, module names. Found on another
/// core while names are interned.
struct FileFacts {
    modules: FxHashMap<String, FileIdx>,
    by_path: FxHashMap<Box<[u8]>, FileIdx>,
    dir_ids: Vec<u32>,
    dir_paths: Vec<PathBuf>,
    dir_parents: Vec<u32>,
    module_names: Vec<String>,
    is_script: Vec<bool>,
}

/// What each file's summary alone says of its calls: each region's calls (outside training-only
/// branches, nested regions included), and the functions defined in other ones. Found on another
/// core while arguments flow; needed once they have.
pub(super) struct CallFacts {
    region_calls: Vec<Vec<Vec<u32>>>,
    nested: Vec<Vec<(FuncIdx, FuncIdx)>>,
}

impl CallFacts {
    fn new(summaries: &[&FileSummary]) -> Self {
        let nested = summaries.iter().map(|summary| calls::nested_functions(summary).collect()).collect();
        let region_calls = summaries
            .iter()
            .map(|summary| {
                let mut region_calls = vec![Vec::new(); summary.regions.len()];
                for (index, call) in summary.calls.iter().enumerate() {
                    if training_only(summary, call.region) {
                        continue;
                    }
                    let mut region = call.region;
                    while let Some(r) = region {
                        region_calls[r as usize].push(index as u32);
                        region = summary.regions[r as usize].parent;
                    }
                }
                region_calls
            })
            .collect();
        CallFacts { region_calls, nested }
    }
}

impl FileFacts {
    fn new(files: &[(&Path, &FileSummary)]) -> Self {
        let mut facts = FileFacts {
            modules: FxHashMap::default(),
            by_path: FxHashMap::default(),
            dir_ids: Vec::with_capacity(files.len()),
            dir_paths: Vec::new(),
            dir_parents: Vec::new(),
            module_names: Vec::with_capacity(files.len()),
            is_script: Vec::with_capacity(files.len()),
        };
        let absolutes: Vec<PathBuf> = files.iter().map(|(path, _)| crate::paths::absolute(path)).collect();
        let names = ModuleNames::new(&absolutes);
        let mut dir_index: FxHashMap<PathBuf, u32> = FxHashMap::default();
        for (index, absolute) in absolutes.iter().enumerate() {
            let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
            facts.by_path.insert(path_key(absolute).into(), index);
            facts.is_script.push(names.is_script[index]);
            let dir_id = facts.dir_id(&dir, &mut dir_index);
            facts.dir_ids.push(dir_id);
            facts.module_names.push(names.own[index].clone());
        }
        // Of two files claiming one name, the name from the nearest root wins, then the first path
        // (files are sorted, so `m.py` comes before its stub `m.pyi`).
        for rank in 0..2 {
            for (index, own) in names.names.iter().enumerate() {
                if let Some(name) = own.get(rank) {
                    facts.modules.entry(name.clone()).or_insert(index);
                }
            }
        }
        facts
    }

    /// The id of directory `dir`, giving ids to it and its ancestors as needed.
    fn dir_id(&mut self, dir: &Path, index: &mut FxHashMap<PathBuf, u32>) -> u32 {
        if let Some(&id) = index.get(dir) {
            return id;
        }
        let id = self.dir_paths.len() as u32;
        index.insert(dir.to_path_buf(), id);
        self.dir_paths.push(dir.to_path_buf());
        self.dir_parents.push(id);
        // The root is its own parent, as `Path::parent` leaves it (see `resolve_import`).
        if let Some(parent) = dir.parent() {
            let parent = self.dir_id(parent, index);
            self.dir_parents[id as usize] = parent;
        }
        id
    }
}

impl<'s> Project<'s> {
    fn intern_name(&mut self, name: &'s str) -> Sym {
        if let Some(&sym) = self.sym_ids.get(name) {
            return sym;
        }
        let sym = self.sym_names.len() as Sym;
        self.sym_names.push(name);
        self.sym_ids.insert(name, sym);
        sym
    }

    /// The project-wide id of a name of `file`.
    fn sym(&self, file: FileIdx, name: NameId) -> Sym {
        self.syms[file][name as usize]
    }

    fn intern(&mut self, path: String) -> u32 {
        if let Some(id) = self.external_ids.get(&path) {
            return *id;
        }
        let id = self.externals.len() as u32;
        self.externals.push(path.clone());
        self.external_ids.insert(path, id);
        id
    }

    /// The interned path of attribute `name` of the external `id` (`torch.nn` → `torch.nn.Linear`).
    fn external_member(&mut self, id: u32, name: Sym) -> u32 {
        if let Some(&member) = self.external_members.get(&(id, name)) {
            return member;
        }
        let member = self.intern(format!("{}.{}", self.externals[id as usize], self.sym_names[name as usize]));
        self.external_members.insert((id, name), member);
        member
    }

    // ----- modules and imports ----------------------------------------------------------------

    /// The module at `path` (without extension): `path.py`, `path.pyi` or `path/__init__.py`.
    fn module_file(&self, path: &Path) -> Option<FileIdx> {
        let mut key = path_key(path).to_vec();
        self.module_file_at(&mut key)
    }

    /// [`Self::module_file`] for a path given as bytes (restored before returning).
    fn module_file_at(&self, key: &mut Vec<u8>) -> Option<FileIdx> {
        let len = key.len();
        let mut found = None;
        for suffix in [".py", ".pyi"] {
            key.extend_from_slice(suffix.as_bytes());
            found = self.by_path.get(&key[..]).copied();
            key.truncate(len);
            if found.is_some() {
                return found;
            }
        }
        push_component(key, "__init__.py");
        found = found.or_else(|| self.by_path.get(&key[..]).copied());
        key.truncate(len);
        found
    }

    fn resolve_import(&mut self, from: FileIdx, import: ImportPath) -> Entities {
        let files = self.files;
        let dotted: &'s str = files[from].summary.names.get(import.dotted);
        // Which module an import names depends only on its text (and, for a relative one, on
        // the importing directory): found once per text, not once per importing file.
        let base = if import.level > 0 {
            let mut base = self.dir_ids[from];
            for _ in 1..import.level {
                base = self.dir_parents[base as usize];
            }
            base
        } else {
            ABSOLUTE
        };
        let key = (base, self.sym(from, import.dotted));
        let mut target = match self.import_targets.get(&key) {
            Some(&target) => target,
            None => {
                let target = self.import_target(base, dotted);
                self.import_targets.insert(key, target);
                target
            }
        };
        if matches!(target, ImportTarget::External(_)) && self.is_script[from] {
            // A script also imports from its own directory (the first entry of `sys.path`).
            let key = (self.dir_ids[from], key.1);
            let local = match self.script_targets.get(&key) {
                Some(&local) => local,
                None => {
                    let local = self.module_under(key.0, dotted, 1);
                    self.script_targets.insert(key, local);
                    local
                }
            };
            if matches!(local, ImportTarget::Module(..)) {
                target = local;
            }
        }
        match target {
            ImportTarget::Module(module, split) => {
                let chain = (module, split, key.1);
                if let Some(known) = self.import_chains.get(&chain) {
                    return known.clone();
                }
                let rest: SmallVec<[&'s str; 8]> =
                    if dotted.is_empty() { SmallVec::new() } else { dotted.split('.').skip(split).collect() };
                let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
                let found = self.attr_chain(smallvec::smallvec![Entity::Module(module)], &rest);
                if !self.read_flow {
                    self.import_chains.insert(chain, found.clone());
                }
                self.read_flow |= outer_read_flow;
                found
            }
            ImportTarget::External(id) => smallvec::smallvec![Entity::External(id)],
            ImportTarget::Nothing => Entities::new(),
        }
    }

    /// The module an import names, and how many of its dotted segments that module took: from
    /// directory `base` for a relative import, or absolute (`base` is [`ABSOLUTE`]).
    fn import_target(&mut self, base: u32, dotted: &str) -> ImportTarget {
        let segments: SmallVec<[&str; 8]> =
            if dotted.is_empty() { SmallVec::new() } else { dotted.split('.').collect() };
        if base != ABSOLUTE {
            return self.module_under(base, dotted, 0);
        }
        // `a.b.c`, then `a.b`, then `a`: prefixes of the dotted path, without joining segments.
        let mut prefix_end = dotted.len();
        for split in (1..=segments.len()).rev() {
            if let Some(&module) = self.modules.get(&dotted[..prefix_end]) {
                return ImportTarget::Module(module, split);
            }
            prefix_end = prefix_end.saturating_sub(segments[split - 1].len() + 1);
        }
        ImportTarget::External(self.intern(dotted.to_string()))
    }

    /// The module `dotted` names under directory `dir`, and how many of its segments that module
    /// took (at least `min_split`; 0 means the directory's own `__init__.py`).
    fn module_under(&self, dir: u32, dotted: &str, min_split: usize) -> ImportTarget {
        let segments: SmallVec<[&str; 8]> =
            if dotted.is_empty() { SmallVec::new() } else { dotted.split('.').collect() };
        let base = path_key(&self.dir_paths[dir as usize]);
        let mut path = Vec::with_capacity(base.len() + dotted.len() + 16);
        for split in (min_split..=segments.len()).rev() {
            path.clear();
            path.extend_from_slice(base);
            for segment in &segments[..split] {
                push_component(&mut path, segment);
            }
            let module = if split == 0 {
                push_component(&mut path, "__init__.py");
                self.by_path.get(&path[..]).copied()
            } else {
                self.module_file_at(&mut path)
            };
            if let Some(module) = module {
                return ImportTarget::Module(module, split);
            }
        }
        ImportTarget::Nothing
    }

    fn attr_chain(&mut self, mut entities: Entities, names: &[&'s str]) -> Entities {
        for name in names {
            let name = self.intern_name(name);
            entities = entities.into_iter().flat_map(|e| self.attribute(e, name)).collect();
        }
        entities
    }

    /// A module-level name of `file`: its globals, then its star imports, then a submodule.
    fn module_attribute(&mut self, file: FileIdx, name: Sym, depth: u32) -> Entities {
        if depth > 16 {
            return Entities::new();
        }
        // Module-level names do not depend on parameters: computed once for the whole pass.
        if let Some(known) = self.module_attr_memo.get(&(file as u32, name)) {
            return known.clone();
        }
        // A name asked again while it is being looked up (star imports or re-exports in a cycle,
        // `from .a import *` naming the package itself) has no answer down that path.
        if !self.module_attr_active.insert((file as u32, name)) {
            self.read_flow = true; // so the partial answer above it is not memoised
            return Entities::new();
        }
        let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
        let found = self.module_attribute_uncached(file, name, depth);
        self.module_attr_active.remove(&(file as u32, name));
        if !self.read_flow {
            self.module_attr_memo.insert((file as u32, name), found.clone());
        }
        self.read_flow |= outer_read_flow;
        found
    }

    fn module_attribute_uncached(&mut self, file: FileIdx, name: Sym, depth: u32) -> Entities {
        let files = self.files;
        let summary = &files[file].summary;
        if let Some(&val) = self.globals.get(&(file as u32, name)) {
            return self.eval(file, val);
        }
        for &star in &summary.star_imports {
            for entity in self.resolve_import(file, star) {
                if let Entity::Module(module) = entity {
                    let found = self.module_attribute(module, name, depth + 1);
                    if !found.is_empty() {
                        return found;
                    }
                }
            }
        }
        let name = self.sym_names[name as usize];
        let submodule = format!("{}.{name}", self.module_names[file]);
        if let Some(&module) = self.modules.get(&submodule) {
            return smallvec::smallvec![Entity::Module(module)];
        }
        if self.files[file].path.file_name().is_some_and(|n| n == "__init__.py") {
            let dir = &self.dir_paths[self.dir_ids[file] as usize];
            if let Some(module) = self.module_file(&dir.join(name)) {
                return smallvec::smallvec![Entity::Module(module)];
            }
        }
        Entities::new()
    }
}

/// Whether `region`, or a region enclosing it, is never hot: a training-only branch or an error
/// path ([`RegionKind::is_cold`]).
fn training_only(summary: &FileSummary, mut region: Option<RegionIdx>) -> bool {
    while let Some(r) = region {
        let region_info = &summary.regions[r as usize];
        if region_info.kind.is_cold() {
            return true;
        }
        region = region_info.parent;
    }
    false
}

impl Project<'_> {
    /// Whether `region`, or a region enclosing it, is an arm no call takes (`constants.rs`).
    fn in_dead_arm(&self, file: FileIdx, mut region: Option<RegionIdx>) -> bool {
        let Some(dead) = self.dead_regions.get(file).filter(|dead| !dead.is_empty()) else { return false };
        while let Some(r) = region {
            if dead[r as usize] {
                return true;
            }
            region = self.files[file].summary.regions[r as usize].parent;
        }
        false
    }

    /// [`training_only`], or in an arm no call takes: calls there pass no heat on.
    fn never_hot(&self, file: FileIdx, region: Option<RegionIdx>) -> bool {
        training_only(&self.files[file].summary, region) || self.in_dead_arm(file, region)
    }
}

/// The bytes of a path, the key of [`Project::by_path`].
fn path_key(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// `PathBuf::push` of one plain component, on path bytes.
fn push_component(path: &mut Vec<u8>, name: &str) {
    if !path.last().is_some_and(|&b| std::path::is_separator(b as char)) {
        path.extend_from_slice(std::path::MAIN_SEPARATOR_STR.as_bytes());
    }
    path.extend_from_slice(name.as_bytes());
}

/// Every file's dotted module names, as Python's import system gives them.
///
/// Names are relative to *import roots*, never to a nested package: `gluonts/torch/__init__.py`
/// is `gluonts.torch`, never `torch`. The roots are the top of the analysed tree (the files'
/// common directory, or the first non-package directory above it: a site-packages-like tree, or
/// the directory a given package sits on), `src` directories, and every directory on which a
/// package sits (the first non-package directory above a package, unless that directory is itself
/// inside a package, which makes it a namespace package). Packages have an `__init__.py`; a
/// directory without one under a root is a namespace package (PEP 420), named by its path. A
/// plain module outside any package is named from the top only; its siblings find it through
/// [`ModuleNames::is_script`]. Components that are not identifiers give no name.
struct ModuleNames {
    /// Per file: the name `--hot`/`cold` patterns and submodule look-ups use: from the nearest
    /// root, or for a plain module from its own directory (`model` for `scripts/model.py`).
    own: Vec<String>,
    /// Per file: the names other files import it by, the one from the nearest root first.
    names: Vec<SmallVec<[String; 2]>>,
    /// Whether the file sits in a directory that is not a package: run as a script, its own
    /// directory is the first entry of `sys.path`, so its absolute imports also look there.
    is_script: Vec<bool>,
}

impl ModuleNames {
    fn new(paths: &[PathBuf]) -> Self {
        let mut packages: FxHashMap<PathBuf, bool> = FxHashMap::default();
        let mut is_package = |dir: &Path| {
            *packages.entry(dir.to_path_buf()).or_insert_with(|| {
                let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !name.is_empty()
                    && name != "src"
                    && (dir.join("__init__.py").is_file() || dir.join("__init__.pyi").is_file())
            })
        };
        let parent = |dir: &Path| dir.parent().unwrap_or(Path::new("")).to_path_buf();
        // The top of the tree: the files' common directory, above any package it is in.
        let mut top = paths.first().map(|p| parent(p)).unwrap_or_default();
        for path in paths {
            while !path.starts_with(&top) {
                top = parent(&top);
            }
        }
        while is_package(&top) {
            top = parent(&top);
        }
        // Per file: the first non-package directory above it, and whether the file is in a package.
        let chains: Vec<(PathBuf, bool)> = paths
            .iter()
            .map(|path| {
                let mut dir = parent(path);
                let in_package = is_package(&dir);
                while is_package(&dir) {
                    dir = parent(&dir);
                }
                (dir, in_package)
            })
            .collect();
        let mut names = Vec::with_capacity(paths.len());
        let mut own = Vec::with_capacity(paths.len());
        for (path, (chain_top, in_package)) in paths.iter().zip(&chains) {
            let sits_on_root = chain_top.starts_with(&top)
                && (chain_top.file_name().is_some_and(|n| n == "src")
                    || (*in_package && !is_package(&parent(chain_top))));
            let mut imported_as: SmallVec<[String; 2]> = SmallVec::new();
            let nearest = if sits_on_root { chain_top.as_path() } else { top.as_path() };
            imported_as.extend(dotted_name(path, nearest));
            if nearest != top {
                imported_as.extend(dotted_name(path, &top));
            }
            // A directory without `__init__.py` inside a package (`sglang/srt/`) is a namespace
            // portion of it: its modules are named from the root like the package's, not as scripts.
            let in_namespace = !*in_package
                && chain_top.ancestors().skip(1).take_while(|dir| dir.starts_with(&top)).any(&mut is_package);
            let first =
                if *in_package || in_namespace { imported_as.first().cloned() } else { dotted_name(path, chain_top) };
            own.push(first.unwrap_or_default());
            names.push(imported_as);
        }
        let is_script = chains.iter().map(|(_, in_package)| !in_package).collect();
        ModuleNames { own, names, is_script }
    }
}

/// The dotted name of `path` relative to the import root `root`.
fn dotted_name(path: &Path, root: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let mut parts: Vec<&str> = relative.iter().map(|c| c.to_str()).collect::<Option<_>>()?;
    let last = parts.pop()?;
    let stem = last.strip_suffix(".pyi").or_else(|| last.strip_suffix(".py")).unwrap_or(last);
    if stem != "__init__" {
        parts.push(stem);
    }
    (!parts.is_empty() && parts.iter().all(|p| is_identifier(p))).then(|| parts.join("."))
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segment_is_what_rsplit_gives() {
        for dotted in ["torch.nn.Linear", "Linear", "", ".", "a.", ".b", "a..b", "é.ü"] {
            assert_eq!(last_segment(dotted), dotted.rsplit('.').next().unwrap(), "{dotted:?}");
        }
    }

    #[test]
    fn module_bases() {
        assert!(is_module_base("torch.nn.Module"));
        assert!(is_module_base("torch.nn.Linear"));
        assert!(is_module_base("lightning.LightningModule"));
        assert!(is_module_base("transformers.modeling_utils.PreTrainedModel"));
        assert!(!is_module_base("torch.nn.Parameter"));
        assert!(!is_module_base("gluonts.torch.scaler.Scaler"));
    }
}
