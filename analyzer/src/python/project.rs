//! The project-level hot-path pass. It runs over the per-file summaries only:
//!
//! 1. a module table (dotted names from `__init__.py` packages and `src/` layouts, and paths for
//!    relative imports);
//! 2. a small evaluator that turns the summaries' symbolic values into entities (classes,
//!    instances, functions, bound methods), following imports, re-exports, `self.x` attributes
//!    assigned in any method, `super()`, `nn.ModuleList`/`nn.Sequential` and annotations;
//! 3. call edges, with argument-to-parameter flow for unannotated parameters, to a fixed point;
//! 4. roots, then breadth-first propagation (shortest chain per function), then decode loops
//!    (loops that drive a model and do not train it), until nothing changes.
//!
//! Unknown receivers stay unresolved: an edge exists only where the evaluator proves the callee.

use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::summary::*;
use super::types::returns_self_module;
use super::FileAnalysis;
use crate::diagnostic::{ChainLink, Diagnostic, HotFunction};
use crate::glob::glob_match;
use crate::hotpath::{self, Reach};
use crate::paths::display_path;
use crate::settings::Settings;

type FileIdx = usize;
/// A name interned project-wide (the summaries' [`NameId`]s are per file).
type Sym = u32;
/// A class, as (file, class index), in the keys of the per-class tables.
type ClassKey = (u32, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Entity {
    Module(FileIdx),
    Class(FileIdx, u32),
    Instance(FileIdx, u32),
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

/// External base classes whose subclasses are `nn.Module`s.
fn is_module_base(path: &str) -> bool {
    path == "torch.nn.Module"
        || path == "torch.nn.modules.module.Module"
        || path.ends_with(".LightningModule")
        || path.ends_with(".PreTrainedModel")
        || path.ends_with(".ModelMixin")
        || (path.starts_with("torch.nn.") && {
            let last = path.rsplit('.').next().unwrap_or("");
            last.starts_with(char::is_uppercase) && !matches!(last, "Parameter" | "Buffer")
        })
}

struct Project<'s> {
    files: &'s [FileAnalysis],
    settings: &'s Settings,
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
    module_names: Vec<String>,
    externals: Vec<String>,
    external_ids: FxHashMap<String, u32>,
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
    /// Per class, a range of `mro_classes`.
    mro_memo: FxHashMap<ClassKey, (u32, u32)>,
    mro_classes: Vec<(FileIdx, u32)>,
    method_memo: FxHashMap<(ClassKey, Sym), Option<(FileIdx, FuncIdx)>>,
    module_attr_memo: FxHashMap<(u32, Sym), Entities>,
    /// `instance.name` per class, and whether it read a flowed-in parameter.
    attr_memo: FxHashMap<(ClassKey, Sym), (Entities, bool)>,
    /// Per file and region: the call sites inside the region (nested regions included).
    region_calls: Vec<Vec<Vec<u32>>>,
    func_base: Vec<usize>,
    region_base: Vec<usize>,
    node_count: usize,
}

pub(super) fn classify(files: Vec<FileAnalysis>, settings: &Settings) -> (Vec<Diagnostic>, Vec<HotFunction>) {
    let timings = std::env::var_os("GRAPHLINT_TIMINGS").is_some();
    let mut clock = super::process_cpu_seconds();
    // Peak RSS too: touching fresh memory costs page faults, a large part of the run's time.
    let mut lap = |what: &str| {
        if timings {
            let now = super::process_cpu_seconds();
            eprintln!("graphlint:   {what}: {:.3} CPU-s (peak RSS {} MB)", now - clock, super::peak_rss_mb());
            clock = now;
        }
    };
    if timings {
        eprintln!("graphlint:   after the per-file pass: peak RSS {} MB", super::peak_rss_mb());
    }
    let mut project = Project::new(&files, settings);
    lap("module table");
    let edges = project.resolve_calls();
    lap("call resolution");
    let (reach, region_roots) = project.propagate(&edges);
    lap("roots and propagation");
    let diagnostics = hotpath::classify(&files, &project, &reach, &region_roots, settings.all_paths);
    lap("classification");
    let hot = if settings.list_hot { hotpath::hot_functions(&project, &reach) } else { Vec::new() };
    (diagnostics, hot)
}

impl<'s> Project<'s> {
    fn new(files: &'s [FileAnalysis], settings: &'s Settings) -> Self {
        let mut project = Project {
            files,
            settings,
            modules: FxHashMap::default(),
            by_path: FxHashMap::default(),
            dir_ids: Vec::with_capacity(files.len()),
            dir_paths: Vec::new(),
            dir_parents: Vec::new(),
            import_targets: FxHashMap::default(),
            module_names: Vec::with_capacity(files.len()),
            externals: Vec::new(),
            external_ids: FxHashMap::default(),
            containers: Vec::new(),
            memo: files.iter().map(|f| vec![UNSEEN; f.summary.vals.len()]).collect(),
            results: Vec::new(),
            result_entities: Vec::new(),
            depth: 0,
            syms: Vec::with_capacity(files.len()),
            sym_names: Vec::new(),
            sym_ids: FxHashMap::default(),
            sym_forward: None,
            sym_init: None,
            sym_call: None,
            sym_getitem: None,
            globals: FxHashMap::default(),
            class_attrs: FxHashMap::default(),
            class_methods: FxHashMap::default(),
            read_flow: false,
            volatile: Vec::new(),
            param_flow: FxHashMap::default(),
            module_memo: FxHashMap::default(),
            mro_memo: FxHashMap::default(),
            mro_classes: Vec::new(),
            method_memo: FxHashMap::default(),
            module_attr_memo: FxHashMap::default(),
            attr_memo: FxHashMap::default(),
            region_calls: Vec::with_capacity(files.len()),
            func_base: Vec::with_capacity(files.len()),
            region_base: Vec::with_capacity(files.len()),
            node_count: 0,
        };
        project.sym_ids.reserve(files.iter().map(|f| f.summary.names.len()).sum::<usize>() / 4);
        for file in files {
            let names = &file.summary.names;
            let syms = (0..names.len() as NameId).map(|id| project.intern_name(names.get(id))).collect();
            project.syms.push(syms);
        }
        [project.sym_forward, project.sym_init, project.sym_call, project.sym_getitem] =
            ["forward", "__init__", "__call__", "__getitem__"].map(|name| project.sym_ids.get(name).copied());
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
        let mut package_cache: FxHashMap<PathBuf, bool> = FxHashMap::default();
        let mut absolutes = Vec::with_capacity(files.len());
        let mut dir_index: FxHashMap<PathBuf, u32> = FxHashMap::default();
        for (index, file) in files.iter().enumerate() {
            let absolute = crate::paths::absolute(&file.path);
            let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
            let name = module_name(&absolute, &mut package_cache);
            project.by_path.insert(path_key(&absolute).into(), index);
            absolutes.push(absolute);
            project.modules.entry(name.clone()).or_insert(index);
            let dir_id = project.dir_id(&dir, &mut dir_index);
            project.dir_ids.push(dir_id);
            project.module_names.push(name);
            project.func_base.push(project.node_count);
            project.node_count += file.summary.funcs.len();
        }
        // Namespace packages (directories without `__init__.py`, PEP 420) still import by path:
        // every file also answers to the dotted suffixes of its path, unless a package name
        // already claimed them.
        let mut by_index: Vec<Option<&PathBuf>> = vec![None; files.len()];
        for path in &absolutes {
            by_index[project.by_path[path_key(path)]] = Some(path);
        }
        for (index, absolute) in by_index.into_iter().enumerate() {
            let Some(absolute) = absolute else { continue };
            let mut parts: Vec<&str> = absolute
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(part) => part.to_str(),
                    _ => None,
                })
                .collect();
            if let Some(last) = parts.last_mut() {
                *last = last.trim_end_matches(".pyi").trim_end_matches(".py");
                if *last == "__init__" {
                    parts.pop();
                }
            }
            for start in (0..parts.len()).rev().take(12) {
                project.modules.entry(parts[start..].join(".")).or_insert(index);
            }
        }
        for file in files {
            project.region_base.push(project.node_count);
            project.node_count += file.summary.regions.len();
            let summary = &file.summary;
            let mut region_calls = vec![Vec::new(); summary.regions.len()];
            for (index, call) in summary.calls.iter().enumerate() {
                let mut region = call.region;
                while let Some(r) = region {
                    region_calls[r as usize].push(index as u32);
                    region = summary.regions[r as usize].parent;
                }
            }
            project.region_calls.push(region_calls);
        }
        project
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
        let target = match self.import_targets.get(&key) {
            Some(&target) => target,
            None => {
                let target = self.import_target(base, dotted);
                self.import_targets.insert(key, target);
                target
            }
        };
        match target {
            ImportTarget::Module(module, split) => {
                let rest: SmallVec<[&'s str; 8]> =
                    if dotted.is_empty() { SmallVec::new() } else { dotted.split('.').skip(split).collect() };
                self.attr_chain(smallvec::smallvec![Entity::Module(module)], &rest)
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
            let base = path_key(&self.dir_paths[base as usize]);
            let mut path = Vec::with_capacity(base.len() + dotted.len() + 16);
            for split in (0..=segments.len()).rev() {
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
            return ImportTarget::Nothing;
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
        let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
        let found = self.module_attribute_uncached(file, name, depth);
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

    // ----- classes ----------------------------------------------------------------------------

    /// The class and its project bases, depth first, left to right (a simplified MRO), as a
    /// range of `mro_classes` (which only grows, so the range stays valid).
    fn mro(&mut self, file: FileIdx, class: u32) -> std::ops::Range<usize> {
        if let Some(&(start, len)) = self.mro_memo.get(&(file as u32, class)) {
            return start as usize..(start + len) as usize;
        }
        let order = self.compute_mro(file, class);
        let start = self.mro_classes.len();
        self.mro_classes.extend_from_slice(&order);
        self.mro_memo.insert((file as u32, class), (start as u32, order.len() as u32));
        start..start + order.len()
    }

    fn compute_mro(&mut self, file: FileIdx, class: u32) -> SmallVec<[(FileIdx, u32); 8]> {
        let mut order: SmallVec<[(FileIdx, u32); 8]> = SmallVec::new();
        let mut stack = vec![(file, class)];
        while let Some((f, c)) = stack.pop() {
            if order.contains(&(f, c)) || order.len() > 32 {
                continue;
            }
            order.push((f, c));
            let files = self.files;
            for &base in files[f].summary.classes[c as usize].bases.iter().rev() {
                for entity in self.eval(f, base) {
                    if let Entity::Class(bf, bc) = entity {
                        stack.push((bf, bc));
                    }
                }
            }
        }
        order
    }

    fn is_module_class(&mut self, file: FileIdx, class: u32) -> bool {
        if let Some(known) = self.module_memo.get(&(file, class)) {
            return *known;
        }
        self.module_memo.insert((file, class), false);
        let files = self.files;
        let mut result = false;
        for &base in &files[file].summary.classes[class as usize].bases {
            for entity in self.eval(file, base) {
                result |= match entity {
                    Entity::External(id) => is_module_base(&self.externals[id as usize]),
                    Entity::Class(f, c) => self.is_module_class(f, c),
                    _ => false,
                };
            }
        }
        self.module_memo.insert((file, class), result);
        result
    }

    /// A method by name (`None` when no file names such a method at all).
    fn find_method_named(&mut self, file: FileIdx, class: u32, name: Option<Sym>) -> Option<(FileIdx, FuncIdx)> {
        self.find_method(file, class, name?)
    }

    fn find_method(&mut self, file: FileIdx, class: u32, name: Sym) -> Option<(FileIdx, FuncIdx)> {
        let key = ((file as u32, class), name);
        if let Some(known) = self.method_memo.get(&key) {
            return *known;
        }
        let found = self.find_method_uncached(file, class, name);
        self.method_memo.insert(key, found);
        found
    }

    fn find_method_uncached(&mut self, file: FileIdx, class: u32, name: Sym) -> Option<(FileIdx, FuncIdx)> {
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            if let Some(&method) = self.class_methods.get(&((f as u32, c), name)) {
                return Some((f, method));
            }
        }
        None
    }

    /// `instance.name`: attributes assigned on the instance or the class, then methods.
    fn instance_attribute(&mut self, file: FileIdx, class: u32, name: Sym) -> Entities {
        let key = ((file as u32, class), name);
        if let Some((entities, volatile)) = self.attr_memo.get(&key) {
            self.read_flow |= *volatile;
            return entities.clone();
        }
        let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
        let found = self.instance_attribute_uncached(file, class, name);
        let volatile = self.read_flow;
        self.read_flow |= outer_read_flow;
        self.attr_memo.insert(key, (found.clone(), volatile));
        found
    }

    fn instance_attribute_uncached(&mut self, file: FileIdx, class: u32, name: Sym) -> Entities {
        let mut found = Entities::new();
        for index in self.mro(file, class) {
            let (f, c) = self.mro_classes[index];
            let attrs = self.class_attrs.get(&((f as u32, c), name)).cloned().unwrap_or_default();
            for val in attrs {
                for entity in self.eval(f, val) {
                    if !found.contains(&entity) {
                        found.push(entity);
                    }
                }
            }
            if !found.is_empty() {
                return found;
            }
        }
        if let Some((f, method)) = self.find_method(file, class, name) {
            found.push(Entity::Bound(f, method));
        }
        found
    }

    fn attribute(&mut self, entity: Entity, name: Sym) -> Entities {
        match entity {
            Entity::Module(file) => self.module_attribute(file, name, 0),
            Entity::Class(file, class) => match self.find_method(file, class, name) {
                Some((f, method)) => smallvec::smallvec![Entity::Func(f, method)],
                None => self.instance_attribute(file, class, name),
            },
            Entity::Instance(file, class) => self.instance_attribute(file, class, name),
            Entity::Super(file, class) => {
                for index in self.mro(file, class).skip(1) {
                    let (f, c) = self.mro_classes[index];
                    if let Some(&method) = self.class_methods.get(&((f as u32, c), name)) {
                        return smallvec::smallvec![Entity::Bound(f, method)];
                    }
                }
                Entities::new()
            }
            Entity::External(id) => {
                let path = format!("{}.{}", self.externals[id as usize], self.sym_names[name as usize]);
                smallvec::smallvec![Entity::External(self.intern(path))]
            }
            Entity::ExternalInstance(_) | Entity::Func(..) | Entity::Bound(..) | Entity::Container(_) => {
                Entities::new()
            }
        }
    }

    // ----- the evaluator ----------------------------------------------------------------------

    fn eval(&mut self, file: FileIdx, val: ValId) -> Entities {
        match self.memo[file][val as usize] {
            UNSEEN => {}
            IN_PROGRESS | NOTHING => return Entities::new(),
            NOTHING_VOLATILE => {
                self.read_flow = true;
                return Entities::new();
            }
            known => {
                let (start, len, volatile) = self.results[known as usize];
                self.read_flow |= volatile;
                return Entities::from_slice(&self.result_entities[start as usize..(start + len) as usize]);
            }
        }
        if self.depth > 200 {
            return Entities::new();
        }
        self.memo[file][val as usize] = IN_PROGRESS;
        self.depth += 1;
        let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
        let result = self.eval_uncached(file, val);
        let volatile = self.read_flow;
        if volatile {
            self.volatile.push((file, val));
        }
        self.read_flow |= outer_read_flow;
        self.depth -= 1;
        self.memo[file][val as usize] = match (result.is_empty(), volatile) {
            (true, false) => NOTHING,
            (true, true) => NOTHING_VOLATILE,
            (false, _) => {
                let start = self.result_entities.len() as u32;
                self.result_entities.extend_from_slice(&result);
                self.results.push((start, result.len() as u32, volatile));
                (self.results.len() - 1) as u32
            }
        };
        result
    }

    /// Forgets what depended on flowed-in parameters (everything else cannot change).
    fn forget_volatile_values(&mut self) {
        for (file, val) in std::mem::take(&mut self.volatile) {
            self.memo[file][val as usize] = UNSEEN;
        }
        self.attr_memo.retain(|_, (_, volatile)| !*volatile);
    }

    fn eval_uncached(&mut self, file: FileIdx, val: ValId) -> Entities {
        let files = self.files;
        match files[file].summary.vals[val as usize] {
            Val::Global(name) => self.module_attribute(file, self.sym(file, name), 0),
            Val::Import(import) => self.resolve_import(file, import),
            Val::Func(func) => smallvec::smallvec![Entity::Func(file, func)],
            Val::Class(class) => smallvec::smallvec![Entity::Class(file, class)],
            Val::Param { func, index } => {
                let summary = &self.files[file].summary;
                let function = &summary.funcs[func as usize];
                if index == 0 && !function.is_static {
                    return match function.class {
                        Some(class) => smallvec::smallvec![Entity::Instance(file, class)],
                        None => Entities::new(),
                    };
                }
                let annotation = function.params.get(index as usize).and_then(|(_, a)| *a);
                if annotation.is_none() {
                    self.read_flow = true;
                }
                let mut entities = match annotation {
                    Some(annotation) => self.eval(file, annotation),
                    None => Entities::new(),
                };
                if let Some(flowed) = self.param_flow.get(&(file, func, index)) {
                    for entity in flowed.clone() {
                        if !entities.contains(&entity) {
                            entities.push(entity);
                        }
                    }
                }
                entities
            }
            Val::SelfAttr { class, name } => self.instance_attribute(file, class, self.sym(file, name)),
            Val::Attr(base, name) => {
                let name = self.sym(file, name);
                let bases = self.eval(file, base);
                let mut out = Entities::new();
                for entity in bases {
                    for found in self.attribute(entity, name) {
                        if !out.contains(&found) {
                            out.push(found);
                        }
                    }
                }
                out
            }
            Val::Call(callee) => self.eval_call(file, callee),
            Val::Elem(container) => {
                let mut out = Entities::new();
                for entity in self.eval(file, container) {
                    if let Entity::Container(id) = entity {
                        out.extend(self.containers[id as usize].iter().copied());
                    }
                }
                out
            }
            Val::Super { class } => smallvec::smallvec![Entity::Super(file, class)],
            Val::Collection(items) => {
                let mut elements = Entities::new();
                for &item in files[file].summary.items(items) {
                    for entity in self.eval(file, item) {
                        let flattened = match entity {
                            Entity::Container(id) => self.containers[id as usize].clone(),
                            other => smallvec::smallvec![other],
                        };
                        for e in flattened {
                            if !elements.contains(&e) {
                                elements.push(e);
                            }
                        }
                    }
                }
                if elements.is_empty() {
                    return Entities::new();
                }
                self.containers.push(elements);
                smallvec::smallvec![Entity::Container((self.containers.len() - 1) as u32)]
            }
            Val::Union(items) => {
                let mut out = Entities::new();
                for &item in files[file].summary.items(items) {
                    for entity in self.eval(file, item) {
                        if !out.contains(&entity) {
                            out.push(entity);
                        }
                    }
                }
                out
            }
        }
    }

    /// The value of calling `callee`: instances of classes, containers for `nn.ModuleList(...)`.
    fn eval_call(&mut self, file: FileIdx, callee: ValId) -> Entities {
        // `Cls.from_pretrained(...)` returns a `Cls`; `module.to(...)`/`.eval()` return the module.
        let files = self.files;
        if let Val::Attr(base, name) = files[file].summary.vals[callee as usize] {
            let name = files[file].summary.names.get(name);
            let factory = matches!(name, "from_pretrained" | "from_config" | "_from_config" | "load_from_checkpoint");
            if factory || returns_self_module(name) {
                let mut out = Entities::new();
                for entity in self.eval(file, base) {
                    match (entity, factory) {
                        (Entity::Class(f, c), true) => out.push(Entity::Instance(f, c)),
                        (Entity::Instance(..) | Entity::ExternalInstance(_), false) => out.push(entity),
                        _ => {}
                    }
                }
                if !out.is_empty() {
                    return out;
                }
            }
        }
        let mut out = Entities::new();
        for entity in self.eval(file, callee) {
            match entity {
                Entity::Class(f, c) => out.push(Entity::Instance(f, c)),
                Entity::External(id) => {
                    let path = &self.externals[id as usize];
                    if path.rsplit('.').next().is_some_and(|last| last.starts_with(char::is_uppercase)) {
                        out.push(Entity::ExternalInstance(id));
                    }
                }
                _ => {}
            }
        }
        out
    }

    // ----- call edges -------------------------------------------------------------------------

    /// What a call site invokes, and the index of its first positional argument's parameter.
    fn targets(&mut self, file: FileIdx, call: &CallSite) -> SmallVec<[(FileIdx, FuncIdx, u32); 4]> {
        let mut targets = SmallVec::new();
        for entity in self.eval(file, call.callee) {
            self.targets_of(entity, call.kind, &mut targets, 0);
        }
        targets
    }

    fn targets_of(
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
    fn resolve_calls(&mut self) -> Vec<Vec<usize>> {
        let mut settled: Vec<Vec<bool>> = self.files.iter().map(|f| vec![false; f.summary.calls.len()]).collect();
        for round in 0..4 {
            if std::env::var_os("GRAPHLINT_TIMINGS").is_some() {
                eprintln!("graphlint:   argument-flow round {round} at {:.3} CPU-s", super::process_cpu_seconds());
            }
            let mut changed = false;
            for (file, settled) in settled.iter_mut().enumerate() {
                let summary = &self.files[file].summary;
                for (call_index, call) in summary.calls.iter().enumerate() {
                    let (args, kwargs) = (summary.args(call), summary.kwargs(call));
                    if settled[call_index] || (args.iter().all(Option::is_none) && kwargs.is_empty()) {
                        continue;
                    }
                    // A call site whose callee and arguments read no flowed-in parameter passes
                    // the same values in every round: it is settled after its first one.
                    let outer_read_flow = std::mem::replace(&mut self.read_flow, false);
                    for (tf, tm, first) in self.targets(file, call) {
                        let files = self.files;
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
                            let name = self.sym(file, name);
                            if let Some(index) =
                                params.iter().position(|&(n, a)| self.sym(tf, n) == name && a.is_none())
                            {
                                flows.push((index as u32, arg));
                            }
                        }
                        for (index, arg) in flows {
                            for entity in self.eval(file, arg) {
                                if matches!(entity, Entity::External(_) | Entity::Module(_)) {
                                    continue;
                                }
                                let slot = self.param_flow.entry((tf, tm, index)).or_default();
                                if !slot.contains(&entity) && slot.len() < 16 {
                                    slot.push(entity);
                                    changed = true;
                                }
                            }
                        }
                    }
                    settled[call_index] = !self.read_flow;
                    self.read_flow = outer_read_flow;
                }
            }
            if !changed {
                break;
            }
            self.forget_volatile_values();
        }

        let mut edges = vec![Vec::new(); self.node_count];
        for file in 0..self.files.len() {
            for call in &self.files[file].summary.calls {
                let targets: Vec<usize> =
                    self.targets(file, call).into_iter().map(|(f, m, _)| self.func_base[f] + m as usize).collect();
                if targets.is_empty() {
                    continue;
                }
                let mut sources = vec![self.func_base[file] + call.func as usize];
                let mut region = call.region;
                while let Some(r) = region {
                    sources.push(self.region_base[file] + r as usize);
                    region = self.files[file].summary.regions[r as usize].parent;
                }
                for source in sources {
                    for &target in &targets {
                        if !edges[source].contains(&target) {
                            edges[source].push(target);
                        }
                    }
                }
            }
        }
        edges
    }

    // ----- roots and propagation --------------------------------------------------------------

    fn propagate(&mut self, edges: &[Vec<usize>]) -> (Vec<Reach>, FxHashSet<usize>) {
        let mut roots: Vec<(usize, String)> = Vec::new();
        let mut blocked = vec![false; self.node_count];
        for file in 0..self.files.len() {
            let summary = &self.files[file].summary;
            let patterns = self.settings.roots_for(&self.files[file].path);
            for (index, func) in summary.funcs.iter().enumerate() {
                let node = self.func_base[file] + index;
                match func.marker {
                    Some(Marker::Cold) => blocked[node] = true,
                    Some(Marker::Hot) => roots.push((node, "marked `# graphlint: hot`".into())),
                    None => {}
                }
                if self.matches_pattern(file, func, &patterns.cold) {
                    blocked[node] = true;
                }
                if func.compiled {
                    roots.push((node, "decorated with `@torch.compile`".into()));
                }
                if self.matches_pattern(file, func, &patterns.hot) {
                    roots.push((node, "matches a `hot` pattern".into()));
                }
            }
            for class in 0..summary.classes.len() as u32 {
                let forward =
                    self.sym_forward.and_then(|name| self.class_methods.get(&((file as u32, class), name)).copied());
                if let Some(forward) = forward {
                    if self.is_module_class(file, class) {
                        let name = &self.files[file].summary.classes[class as usize].name;
                        roots.push((
                            self.func_base[file] + forward as usize,
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
                        Entity::Func(..) | Entity::Bound(..) | Entity::Instance(..) | Entity::Container(_) => {
                            self.targets_of(entity, CallKind::Call, &mut targets, 0)
                        }
                        _ => {}
                    }
                    for (f, m, _) in targets {
                        roots.push((self.func_base[f] + m as usize, site.reason.to_string()));
                    }
                }
            }
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                if region.kind == RegionKind::CudaGraph {
                    roots.push((self.region_base[file] + index, "captured by `torch.cuda.graph`".into()));
                }
            }
        }

        let mut region_roots: FxHashSet<usize> =
            roots.iter().map(|(n, _)| *n).filter(|n| self.region_of(*n).is_some()).collect();

        // Loops that may be decode loops, with what they call (computed once).
        let mut candidates = Vec::new();
        for file in 0..self.files.len() {
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                if region.kind != RegionKind::Loop || region.training {
                    continue;
                }
                let function = &self.files[file].summary.funcs[region.func as usize];
                if function.name.contains("train") || function.name == "fit" {
                    continue;
                }
                let (calls_model, callees) = self.loop_calls(file, index as RegionIdx);
                if calls_model || !callees.is_empty() {
                    let node = self.region_base[file] + index;
                    let func_node = self.func_base[file] + region.func as usize;
                    candidates.push((node, func_node, calls_model, callees, function.qualname.clone()));
                }
            }
        }
        loop {
            let reach = hotpath::propagate(edges, &roots, &blocked);
            let mut added = false;
            for (node, func_node, calls_model, callees, qualname) in &candidates {
                // A loop inside a hot function is hot already; a cold marker wins.
                if region_roots.contains(node) || !matches!(reach[*func_node], Reach::Unreached) || blocked[*func_node]
                {
                    continue;
                }
                if *calls_model || callees.iter().any(|c| !matches!(reach[*c], Reach::Unreached)) {
                    region_roots.insert(*node);
                    roots.push((*node, format!("decode loop in `{qualname}`")));
                    added = true;
                }
            }
            if !added {
                return (reach, region_roots);
            }
        }
    }

    /// Whether a loop calls a Module (or a method of one), and the project functions it calls
    /// (which make it a decode loop once they are hot).
    fn loop_calls(&mut self, file: FileIdx, region: RegionIdx) -> (bool, Vec<usize>) {
        let files = self.files;
        let mut calls_model = false;
        let mut callees = Vec::new();
        for &call in &self.region_calls[file][region as usize].clone() {
            let call = &files[file].summary.calls[call as usize];
            for entity in self.eval(file, call.callee) {
                match entity {
                    Entity::Instance(f, c) => calls_model |= self.is_module_class(f, c),
                    Entity::ExternalInstance(id) => calls_model |= is_module_base(&self.externals[id as usize]),
                    Entity::Bound(f, m) => {
                        let class = files[f].summary.funcs[m as usize].class;
                        calls_model |= class.is_some_and(|c| self.is_module_class(f, c));
                        callees.push(self.func_base[f] + m as usize);
                    }
                    Entity::Func(f, m) => callees.push(self.func_base[f] + m as usize),
                    _ => {}
                }
            }
        }
        (calls_model, callees)
    }

    /// Whether a function matches one of `patterns` (`hot` or `cold`, from `--hot` or a config).
    fn matches_pattern(&self, file: FileIdx, func: &FuncSummary, patterns: &[String]) -> bool {
        if patterns.is_empty() || func.qualname == "<module>" {
            return false;
        }
        let full = format!("{}:{}", self.module_names[file], func.qualname);
        patterns.iter().any(|pattern| {
            if pattern.contains(':') {
                glob_match(pattern, &full)
            } else {
                glob_match(pattern, &func.qualname) || glob_match(pattern, &full.replace(':', "."))
            }
        })
    }

    fn region_of(&self, node: usize) -> Option<(FileIdx, usize)> {
        if self.region_base.first().is_none_or(|&first| node < first) {
            return None;
        }
        let file = self.region_base.partition_point(|&base| base <= node) - 1;
        let index = node - self.region_base[file];
        (index < self.files[file].summary.regions.len()).then_some((file, index))
    }
}

impl hotpath::Graph for Project<'_> {
    fn func_node(&self, file: usize, func: u32) -> usize {
        self.func_base[file] + func as usize
    }

    fn region_node(&self, file: usize, region: u32) -> usize {
        self.region_base[file] + region as usize
    }

    fn enclosing_region(&self, file: usize, region: u32) -> Option<u32> {
        self.files[file].summary.regions[region as usize].parent
    }

    fn link(&self, node: usize) -> ChainLink {
        if let Some((file, index)) = self.region_of(node) {
            let region = &self.files[file].summary.regions[index];
            let func = &self.files[file].summary.funcs[region.func as usize];
            return ChainLink {
                function: func.qualname.clone(),
                filename: display_path(&self.files[file].path),
                row: region.row,
            };
        }
        let file = self.func_base.partition_point(|&base| base <= node).saturating_sub(1);
        let func = &self.files[file].summary.funcs[node - self.func_base[file]];
        ChainLink { function: func.qualname.clone(), filename: display_path(&self.files[file].path), row: func.row }
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

/// The dotted module name of a file: its stem, prefixed by every enclosing directory that is a
/// package (has `__init__.py`); a `src` directory ends the walk.
fn module_name(path: &Path, package_cache: &mut FxHashMap<PathBuf, bool>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if stem != "__init__" {
        parts.push(stem.to_string());
    }
    let mut dir = path.parent();
    while let Some(current) = dir {
        let is_package = *package_cache
            .entry(current.to_path_buf())
            .or_insert_with(|| current.join("__init__.py").is_file() || current.join("__init__.pyi").is_file());
        let name = current.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !is_package || name == "src" || name.is_empty() {
            break;
        }
        parts.push(name.to_string());
        dir = current.parent();
    }
    parts.reverse();
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

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
