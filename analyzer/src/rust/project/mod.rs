//! The project-wide hot-path pass, over every crate at once. It runs over the per-file summaries only:
//!
//! 1. a module table per crate (a crate is the nearest `Cargo.toml` above a file's `src/`; a file
//!    elsewhere is a crate of its own), with each module's types, functions and `use` items;
//! 2. path resolution (`crate::`, `super::`, `self::`, `use` aliases, globs and re-exports) and a
//!    small evaluator for receivers: `self` fields' declared types, parameter and `let`
//!    annotations, constructor calls and the return types of the crate's functions;
//! 3. call edges where the callee is proven, then roots, then breadth-first propagation (the
//!    shortest chain per function), then decode loops, until nothing changes.
//!
//! Unknown receivers stay unresolved: an edge exists only where the evaluator proves the callee.
//!
//! Steps 1 and 2's path resolution are here; the evaluator and the call edges are in [`calls`],
//! the roots and the propagation in [`roots`].

use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::summary::*;
use super::types::tensor_method_returns_tensor;
use super::FileAnalysis;
use crate::diagnostic::ChainLink;
use crate::glob::glob_match;
use crate::hotpath::{self, LoopCandidate, Reach};
use crate::paths::display_path;
use crate::settings::Settings;

mod calls;
mod roots;

type FileIdx = usize;
type GlobalMod = u32;
type TypeId = u32;
type Node = usize;

/// External types whose presence in a struct makes its inherent `forward` a root.
const CANDLE_MODEL_TYPES: &[&str] = &[
    "Tensor",
    "Var",
    "Linear",
    "Embedding",
    "LayerNorm",
    "RmsNorm",
    "GroupNorm",
    "BatchNorm",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Sequential",
    "QMatMul",
    "QTensor",
];

/// A resolved type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TyVal {
    Crate(TypeId),
    /// A type outside the crates given, by its last path segment.
    Ext(String),
    Elem(Box<TyVal>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Module(GlobalMod),
    Type(TypeId),
    Func(Node),
    External,
}

/// Inline modules nested deeper than this keep no path of their own (only their name, under their
/// parent): a path per module grows with the square of the nesting. Files never nest this deep.
const MAX_PATH_DEPTH: usize = 32;

struct ModuleInfo {
    krate: u32,
    /// The path inside the crate; `None` past [`MAX_PATH_DEPTH`].
    path: Option<Vec<String>>,
    name: String,
    types: FxHashMap<String, TypeId>,
    funcs: FxHashMap<String, Node>,
    uses: Vec<(String, Vec<String>)>,
    globs: Vec<Vec<String>>,
    parent: Option<GlobalMod>,
    children: FxHashMap<String, GlobalMod>,
}

struct TypeInfo<'s> {
    module: GlobalMod,
    fields: &'s [(String, TyRef)],
}

struct Project<'s> {
    files: &'s [FileAnalysis],
    settings: &'s Settings,
    modules: Vec<ModuleInfo>,
    module_ids: FxHashMap<(u32, Vec<String>), GlobalMod>,
    /// Each file's module indices, mapped to global modules.
    file_modules: Vec<Vec<GlobalMod>>,
    types: Vec<TypeInfo<'s>>,
    /// Each crate type's methods by name.
    methods: FxHashMap<TypeId, FxHashMap<String, SmallVec<[Node; 2]>>>,
    trait_impls: FxHashSet<(TypeId, String)>,
    func_base: Vec<usize>,
    region_base: Vec<usize>,
    node_count: usize,
    /// Each function node's self type, resolved.
    self_tys: Vec<Option<TyVal>>,
    /// Per module: names already looked up.
    lookup_memo: Vec<FxHashMap<String, Item>>,
    model_memo: FxHashMap<TypeId, bool>,
}

/// The hot findings (and, with `--all-paths`, the cold ones), plus every hot function and region
/// with its chain when `--show-hot` asks for them.
pub(super) fn classify(files: Vec<FileAnalysis>, settings: &Settings) -> hotpath::Classified {
    if files.is_empty() {
        return hotpath::Classified::default();
    }
    let mut project = Project::new(&files, settings);
    let edges = project.edges();
    let (reach, region_roots) = project.propagate(&edges);
    hotpath::classified(&files, &project, &reach, &region_roots, settings)
}

impl<'s> Project<'s> {
    fn new(files: &'s [FileAnalysis], settings: &'s Settings) -> Self {
        let mut project = Project {
            files,
            settings,
            modules: Vec::new(),
            module_ids: FxHashMap::default(),
            file_modules: Vec::with_capacity(files.len()),
            types: Vec::new(),
            methods: FxHashMap::default(),
            trait_impls: FxHashSet::default(),
            func_base: Vec::with_capacity(files.len()),
            region_base: Vec::with_capacity(files.len()),
            node_count: 0,
            self_tys: Vec::new(),
            lookup_memo: Vec::new(),
            model_memo: FxHashMap::default(),
        };
        let mut crate_ids: FxHashMap<PathBuf, u32> = FxHashMap::default();
        let mut dirs = DirCache::default();
        for file in files {
            let (crate_key, module_path) = crate_and_module(&file.path, &mut dirs);
            let next = crate_ids.len() as u32;
            let crate_id = *crate_ids.entry(crate_key).or_insert(next);
            let mut ids = Vec::with_capacity(file.summary.modules.len());
            for (index, def) in file.summary.modules.iter().enumerate() {
                let id = if index == 0 {
                    project.module(crate_id, module_path.clone())
                } else {
                    project.inline_module(ids[def.parent as usize], &def.name)
                };
                ids.push(id);
            }
            project.file_modules.push(ids);
            project.func_base.push(project.node_count);
            project.node_count += file.summary.funcs.len();
        }
        // Each module's parent and children, so that lookups need not build paths.
        for id in 0..project.modules.len() {
            let info = &project.modules[id];
            let Some((name, parent_path)) = info.path.as_ref().and_then(|path| path.split_last()) else { continue };
            let name = name.clone();
            if let Some(&parent) = project.module_ids.get(&(info.krate, parent_path.to_vec())) {
                project.modules[id].parent = Some(parent);
                project.modules[parent as usize].children.insert(name, id as GlobalMod);
            }
        }
        project.lookup_memo = vec![FxHashMap::default(); project.modules.len()];
        for file in files {
            project.region_base.push(project.node_count);
            project.node_count += file.summary.regions.len();
        }
        // Items: types, free functions and `use`s, per module.
        for (file_idx, file) in files.iter().enumerate() {
            let modules = &project.file_modules[file_idx];
            for ty in &file.summary.types {
                let module = modules[ty.module as usize];
                let id = project.types.len() as TypeId;
                project.types.push(TypeInfo { module, fields: &ty.fields });
                project.modules[module as usize].types.insert(ty.name.clone(), id);
            }
            for use_def in &file.summary.uses {
                let module = &mut project.modules[modules[use_def.module as usize] as usize];
                if use_def.alias == "*" {
                    module.globs.push(use_def.path.clone());
                } else {
                    module.uses.push((use_def.alias.clone(), use_def.path.clone()));
                }
            }
            for (index, func) in file.summary.funcs.iter().enumerate() {
                if func.self_ty.is_none() && func.trait_name.is_none() && func.qualname == func.name {
                    let module = modules[func.module as usize];
                    let node = project.func_base[file_idx] + index;
                    project.modules[module as usize].funcs.entry(func.name.clone()).or_insert(node);
                }
            }
        }
        // Methods, by their impl's self type.
        project.self_tys = vec![None; project.node_count];
        for (file_idx, file) in files.iter().enumerate() {
            for (index, func) in file.summary.funcs.iter().enumerate() {
                let Some(self_ty) = &func.self_ty else { continue };
                let module = project.file_modules[file_idx][func.module as usize];
                let node = project.func_base[file_idx] + index;
                let resolved = project.resolve_ty(module, self_ty, None, 0);
                if let Some(TyVal::Crate(ty)) = resolved {
                    project.methods.entry(ty).or_default().entry(func.name.clone()).or_default().push(node);
                    if let Some(trait_name) = &func.trait_name {
                        project.trait_impls.insert((ty, trait_name.clone()));
                    }
                }
                project.self_tys[node] = resolved;
            }
        }
        project
    }

    fn module(&mut self, krate: u32, path: Vec<String>) -> GlobalMod {
        if let Some(id) = self.module_ids.get(&(krate, path.clone())) {
            return *id;
        }
        let id = self.modules.len() as GlobalMod;
        self.modules.push(ModuleInfo {
            krate,
            name: path.last().cloned().unwrap_or_default(),
            path: Some(path.clone()),
            types: FxHashMap::default(),
            funcs: FxHashMap::default(),
            uses: Vec::new(),
            globs: Vec::new(),
            parent: None,
            children: FxHashMap::default(),
        });
        self.module_ids.insert((krate, path), id);
        id
    }

    /// An inline `mod name` inside `parent`: by path while paths are short, else under its parent.
    fn inline_module(&mut self, parent: GlobalMod, name: &str) -> GlobalMod {
        let info = &self.modules[parent as usize];
        let krate = info.krate;
        if let Some(path) = info.path.as_ref().filter(|path| path.len() < MAX_PATH_DEPTH) {
            let mut path = path.clone();
            path.push(name.to_string());
            return self.module(krate, path);
        }
        if let Some(child) = self.child_module(parent, name) {
            return child;
        }
        let id = self.modules.len() as GlobalMod;
        self.modules.push(ModuleInfo {
            krate,
            path: None,
            name: name.to_string(),
            types: FxHashMap::default(),
            funcs: FxHashMap::default(),
            uses: Vec::new(),
            globs: Vec::new(),
            parent: Some(parent),
            children: FxHashMap::default(),
        });
        self.modules[parent as usize].children.insert(name.to_string(), id);
        id
    }

    /// A module's path inside its crate.
    fn module_path(&self, mut module: GlobalMod) -> Vec<&str> {
        let mut names = Vec::new();
        loop {
            let info = &self.modules[module as usize];
            match (&info.path, info.parent) {
                (Some(path), _) => {
                    let mut full: Vec<&str> = path.iter().map(String::as_str).collect();
                    full.extend(names.into_iter().rev());
                    return full;
                }
                (None, Some(parent)) => {
                    names.push(info.name.as_str());
                    module = parent;
                }
                (None, None) => unreachable!("a module without a path has a parent"),
            }
        }
    }

    fn node_file(&self, node: Node) -> (FileIdx, FuncIdx) {
        let file = self.func_base.partition_point(|&base| base <= node) - 1;
        (file, (node - self.func_base[file]) as FuncIdx)
    }

    fn func(&self, node: Node) -> &FuncSummary {
        let (file, index) = self.node_file(node);
        &self.files[file].summary.funcs[index as usize]
    }

    fn func_module(&self, node: Node) -> GlobalMod {
        let (file, index) = self.node_file(node);
        self.file_modules[file][self.files[file].summary.funcs[index as usize].module as usize]
    }

    // ----- path resolution --------------------------------------------------------------------

    fn child_module(&self, module: GlobalMod, name: &str) -> Option<GlobalMod> {
        self.modules[module as usize].children.get(name).copied()
    }

    fn method(&self, ty: TypeId, name: &str) -> Option<&SmallVec<[Node; 2]>> {
        self.methods.get(&ty)?.get(name)
    }

    fn crate_root(&self, module: GlobalMod) -> Option<GlobalMod> {
        self.module_ids.get(&(self.modules[module as usize].krate, Vec::new())).copied()
    }

    fn parent_module(&self, module: GlobalMod) -> Option<GlobalMod> {
        self.modules[module as usize].parent
    }

    /// A name as seen from inside `module`: its items, child modules, `use`s, then globs.
    fn lookup(&mut self, module: GlobalMod, name: &str, depth: u32) -> Item {
        if let Some(item) = self.lookup_memo[module as usize].get(name) {
            return *item;
        }
        if depth > 8 {
            return Item::External;
        }
        // Provisional answer, so a `use` cycle terminates.
        self.lookup_memo[module as usize].insert(name.to_string(), Item::External);
        let item = self.lookup_uncached(module, name, depth);
        self.lookup_memo[module as usize].insert(name.to_string(), item);
        item
    }

    fn lookup_uncached(&mut self, module: GlobalMod, name: &str, depth: u32) -> Item {
        let info = &self.modules[module as usize];
        if let Some(ty) = info.types.get(name) {
            return Item::Type(*ty);
        }
        if let Some(func) = info.funcs.get(name) {
            return Item::Func(*func);
        }
        if let Some(child) = self.child_module(module, name) {
            return Item::Module(child);
        }
        let used =
            self.modules[module as usize].uses.iter().find(|(alias, _)| alias == name).map(|(_, path)| path.clone());
        if let Some(path) = used {
            return self.resolve_path(module, &path, depth + 1);
        }
        for glob in self.modules[module as usize].globs.clone() {
            if let Item::Module(target) = self.resolve_path(module, &glob, depth + 1) {
                let found = self.lookup(target, name, depth + 1);
                if found != Item::External {
                    return found;
                }
            }
        }
        Item::External
    }

    fn resolve_path(&mut self, module: GlobalMod, segments: &[String], depth: u32) -> Item {
        let Some((first, rest)) = segments.split_first() else { return Item::Module(module) };
        let mut item = match first.as_str() {
            "crate" => self.crate_root(module).map_or(Item::External, Item::Module),
            "self" => Item::Module(module),
            "super" => self.parent_module(module).map_or(Item::External, Item::Module),
            name => self.lookup(module, name, depth),
        };
        for segment in rest {
            item = match item {
                Item::Module(m) if segment == "super" => self.parent_module(m).map_or(Item::External, Item::Module),
                Item::Module(m) => self.lookup(m, segment, depth + 1),
                Item::Type(ty) => match self.method(ty, segment) {
                    Some(nodes) => Item::Func(nodes[0]),
                    None => Item::External,
                },
                Item::Func(_) | Item::External => return Item::External,
            };
        }
        item
    }

    fn resolve_ty(&mut self, module: GlobalMod, ty: &TyRef, self_ty: Option<&TyVal>, depth: u32) -> Option<TyVal> {
        match ty {
            TyRef::Elem(inner) => Some(TyVal::Elem(Box::new(
                self.resolve_ty(module, inner, self_ty, depth).unwrap_or(TyVal::Ext("_".into())),
            ))),
            TyRef::Path(segments) if segments.len() == 1 && segments[0] == "Self" => self_ty.cloned(),
            TyRef::Path(segments) => match self.resolve_path(module, segments, depth) {
                Item::Type(t) => Some(TyVal::Crate(t)),
                Item::External => Some(TyVal::Ext(segments.last()?.clone())),
                _ => None,
            },
        }
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

    fn link(&self, node: Node) -> ChainLink {
        if node >= self.region_base[0] {
            let file = self.region_base.partition_point(|&base| base <= node) - 1;
            let region = &self.files[file].summary.regions[node - self.region_base[file]];
            let func = &self.files[file].summary.funcs[region.func as usize];
            return ChainLink {
                function: func.qualname.clone(),
                filename: display_path(&self.files[file].path),
                row: region.row,
            };
        }
        let (file, index) = self.node_file(node);
        let func = &self.files[file].summary.funcs[index as usize];
        ChainLink { function: func.qualname.clone(), filename: display_path(&self.files[file].path), row: func.row }
    }
}

/// The crate a file belongs to (its key) and the file's module path inside it.
///
/// A file under `<dir with Cargo.toml>/src/` belongs to that crate: `src/lib.rs` and
/// `src/main.rs` are its root, `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`. Any other file
/// (tests, examples, benches, `src/bin/*`, loose files) is a crate of its own.
fn crate_and_module(path: &Path, dirs: &mut DirCache) -> (PathBuf, Vec<String>) {
    let absolute = dirs.canonical_file(path);
    let manifests = &mut dirs.manifests;
    let alone = (absolute.clone(), Vec::new());
    let Some(crate_dir) = manifest_dir(absolute.parent(), manifests) else { return alone };
    let Ok(relative) = absolute.strip_prefix(crate_dir.join("src")) else { return alone };
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return alone;
    }
    let file = parts.pop().unwrap_or_default();
    let stem = file.strip_suffix(".rs").unwrap_or(&file);
    let is_root = parts.is_empty() && (stem == "lib" || stem == "main");
    if !is_root && stem != "mod" {
        parts.push(stem.to_string());
    }
    (crate_dir, parts)
}

/// What `crate_and_module` learns about directories, kept for the next file.
#[derive(Default)]
struct DirCache {
    /// Canonical paths of directories.
    canonical: FxHashMap<PathBuf, PathBuf>,
    /// The nearest directory with a `Cargo.toml` at or above each directory.
    manifests: FxHashMap<PathBuf, Option<PathBuf>>,
}

impl DirCache {
    /// `path` with symlinks resolved: its directory's canonical path (resolved once per
    /// directory), then its name, unless the file itself is a link.
    fn canonical_file(&mut self, path: &Path) -> PathBuf {
        let resolve = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return resolve(path) };
        if path.is_symlink() || dir.as_os_str().is_empty() {
            return resolve(path);
        }
        self.canonical.entry(dir.to_path_buf()).or_insert_with(|| resolve(dir)).join(name)
    }
}

fn manifest_dir(dir: Option<&Path>, cache: &mut FxHashMap<PathBuf, Option<PathBuf>>) -> Option<PathBuf> {
    let dir = dir?;
    if let Some(known) = cache.get(dir) {
        return known.clone();
    }
    let found =
        if dir.join("Cargo.toml").is_file() { Some(dir.to_path_buf()) } else { manifest_dir(dir.parent(), cache) };
    cache.insert(dir.to_path_buf(), found.clone());
    found
}
