//! The crate-level hot-path pass. It runs over the per-file summaries only:
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

use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::summary::*;
use super::types::tensor_method_returns_tensor;
use super::FileAnalysis;
use crate::diagnostic::{ChainLink, Diagnostic, HotFunction};
use crate::glob::glob_match;
use crate::hotpath::{self, Reach};
use crate::paths::display_path;
use crate::settings::Settings;

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

struct ModuleInfo {
    krate: u32,
    path: Vec<String>,
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

struct Crate<'s> {
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
pub(super) fn classify(files: Vec<FileAnalysis>, settings: &Settings) -> (Vec<Diagnostic>, Vec<HotFunction>) {
    if files.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut krate = Crate::new(&files, settings);
    let edges = krate.edges();
    let (reach, region_roots) = krate.propagate(&edges);

    let diagnostics = hotpath::classify(&files, &krate, &reach, &region_roots, settings.all_paths);
    let hot = if settings.list_hot { hotpath::hot_functions(&krate, &reach) } else { Vec::new() };
    (diagnostics, hot)
}

impl<'s> Crate<'s> {
    fn new(files: &'s [FileAnalysis], settings: &'s Settings) -> Self {
        let mut krate = Crate {
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
            for relative in &file.summary.modules {
                let mut path = module_path.clone();
                path.extend(relative.iter().cloned());
                ids.push(krate.module(crate_id, path));
            }
            krate.file_modules.push(ids);
            krate.func_base.push(krate.node_count);
            krate.node_count += file.summary.funcs.len();
        }
        // Each module's parent and children, so that lookups need not build paths.
        for id in 0..krate.modules.len() {
            let info = &krate.modules[id];
            let Some((name, parent_path)) = info.path.split_last() else { continue };
            let name = name.clone();
            if let Some(&parent) = krate.module_ids.get(&(info.krate, parent_path.to_vec())) {
                krate.modules[id].parent = Some(parent);
                krate.modules[parent as usize].children.insert(name, id as GlobalMod);
            }
        }
        krate.lookup_memo = vec![FxHashMap::default(); krate.modules.len()];
        for file in files {
            krate.region_base.push(krate.node_count);
            krate.node_count += file.summary.regions.len();
        }
        // Items: types, free functions and `use`s, per module.
        for (file_idx, file) in files.iter().enumerate() {
            let modules = &krate.file_modules[file_idx];
            for ty in &file.summary.types {
                let module = modules[ty.module as usize];
                let id = krate.types.len() as TypeId;
                krate.types.push(TypeInfo { module, fields: &ty.fields });
                krate.modules[module as usize].types.insert(ty.name.clone(), id);
            }
            for use_def in &file.summary.uses {
                let module = &mut krate.modules[modules[use_def.module as usize] as usize];
                if use_def.alias == "*" {
                    module.globs.push(use_def.path.clone());
                } else {
                    module.uses.push((use_def.alias.clone(), use_def.path.clone()));
                }
            }
            for (index, func) in file.summary.funcs.iter().enumerate() {
                if func.self_ty.is_none() && func.trait_name.is_none() && func.qualname == func.name {
                    let module = modules[func.module as usize];
                    let node = krate.func_base[file_idx] + index;
                    krate.modules[module as usize].funcs.entry(func.name.clone()).or_insert(node);
                }
            }
        }
        // Methods, by their impl's self type.
        krate.self_tys = vec![None; krate.node_count];
        for (file_idx, file) in files.iter().enumerate() {
            for (index, func) in file.summary.funcs.iter().enumerate() {
                let Some(self_ty) = &func.self_ty else { continue };
                let module = krate.file_modules[file_idx][func.module as usize];
                let node = krate.func_base[file_idx] + index;
                let resolved = krate.resolve_ty(module, self_ty, None, 0);
                if let Some(TyVal::Crate(ty)) = resolved {
                    krate.methods.entry(ty).or_default().entry(func.name.clone()).or_default().push(node);
                    if let Some(trait_name) = &func.trait_name {
                        krate.trait_impls.insert((ty, trait_name.clone()));
                    }
                }
                krate.self_tys[node] = resolved;
            }
        }
        krate
    }

    fn module(&mut self, krate: u32, path: Vec<String>) -> GlobalMod {
        if let Some(id) = self.module_ids.get(&(krate, path.clone())) {
            return *id;
        }
        let id = self.modules.len() as GlobalMod;
        self.modules.push(ModuleInfo {
            krate,
            path: path.clone(),
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

    // ----- receivers and call targets --------------------------------------------------------

    fn eval(&mut self, node: Node, sym: &Sym, depth: u32) -> Option<TyVal> {
        if depth > 8 {
            return None;
        }
        match sym {
            Sym::Ty(ty) => {
                let self_ty = self.self_tys[node].clone();
                self.resolve_ty(self.func_module(node), ty, self_ty.as_ref(), depth)
            }
            Sym::SelfValue => self.self_tys[node].clone(),
            Sym::Field(base, name) => match self.eval(node, base, depth + 1)? {
                TyVal::Crate(ty) => {
                    let info = &self.types[ty as usize];
                    let fields: &'s [(String, TyRef)] = info.fields;
                    let module = info.module;
                    let field = &fields.iter().find(|(n, _)| n == name)?.1;
                    self.resolve_ty(module, field, Some(&TyVal::Crate(ty)), depth + 1)
                }
                _ => None,
            },
            Sym::Elem(inner) => match self.eval(node, inner, depth + 1)? {
                TyVal::Elem(elem) => Some(*elem),
                _ => None,
            },
            Sym::Ret(callee) => self.ret(node, callee, depth + 1),
            Sym::Unknown => None,
        }
    }

    fn ret(&mut self, node: Node, callee: &Callee, depth: u32) -> Option<TyVal> {
        // The receiver is evaluated once, for both the method lookup and the fallback: a builder
        // chain nests receivers, and evaluating each twice would take exponential time.
        let recv = match callee {
            Callee::Method(recv, _) => self.eval(node, recv, depth + 1),
            Callee::Path(_) => None,
        };
        let target = match (callee, &recv) {
            (Callee::Method(_, name), Some(TyVal::Crate(ty))) => {
                self.method(*ty, name).and_then(|n| n.first().copied())
            }
            (Callee::Method(..), _) => None,
            (Callee::Path(_), _) => self.targets(node, callee, depth).first().copied(),
        };
        if let Some(target) = target {
            let ret = self.func(target).ret.clone()?;
            let self_ty = self.self_tys[target].clone();
            return self.resolve_ty(self.func_module(target), &ret, self_ty.as_ref(), depth + 1);
        }
        match callee {
            Callee::Method(_, method) => match recv? {
                TyVal::Ext(name) if name == "Tensor" && tensor_method_returns_tensor(method) => Some(TyVal::Ext(name)),
                _ => None,
            },
            Callee::Path(segments) if segments.len() >= 2 => {
                // Constructor convention: `Type::new(..)` and friends return the type.
                let last = segments.last()?;
                if !(last.starts_with("new") || last.starts_with("load") || last.starts_with("from")) {
                    return None;
                }
                let owner = &segments[..segments.len() - 1];
                if owner.len() == 1 && owner[0] == "Self" {
                    return self.self_tys[node].clone();
                }
                self.resolve_ty(self.func_module(node), &TyRef::Path(owner.to_vec()), None, depth + 1)
            }
            Callee::Path(_) => None,
        }
    }

    fn targets(&mut self, node: Node, callee: &Callee, depth: u32) -> SmallVec<[Node; 2]> {
        match callee {
            Callee::Path(segments) if segments.len() >= 2 && segments[0] == "Self" => match self.self_tys[node].clone()
            {
                Some(TyVal::Crate(ty)) => self.method(ty, &segments[1]).cloned().unwrap_or_default(),
                _ => SmallVec::new(),
            },
            Callee::Path(segments) => match self.resolve_path(self.func_module(node), segments, depth) {
                Item::Func(target) => smallvec::smallvec![target],
                _ => SmallVec::new(),
            },
            Callee::Method(recv, name) => match self.eval(node, recv, depth + 1) {
                Some(TyVal::Crate(ty)) => self.method(ty, name).cloned().unwrap_or_default(),
                _ => SmallVec::new(),
            },
        }
    }

    fn edges(&mut self) -> Vec<Vec<Node>> {
        let mut edges = vec![Vec::new(); self.node_count];
        for file in 0..self.files.len() {
            for call in &self.files[file].summary.calls {
                let node = self.func_base[file] + call.func as usize;
                let targets = self.targets(node, &call.callee, 0);
                if targets.is_empty() {
                    continue;
                }
                let mut sources: SmallVec<[Node; 4]> = smallvec::smallvec![node];
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

    /// Whether a crate type is a model: it implements `Module`/`ModuleT`, or one of its fields
    /// (or their elements) is a candle tensor or module, or a crate type with a `forward`.
    fn is_model_type(&mut self, ty: TypeId) -> bool {
        if let Some(known) = self.model_memo.get(&ty) {
            return *known;
        }
        let mut result = self.is_module(ty);
        let module = self.types[ty as usize].module;
        for (_, field) in self.types[ty as usize].fields {
            if result {
                break;
            }
            let mut resolved = self.resolve_ty(module, field, Some(&TyVal::Crate(ty)), 0);
            while let Some(TyVal::Elem(inner)) = resolved {
                resolved = Some(*inner);
            }
            result = match resolved {
                Some(TyVal::Ext(name)) => CANDLE_MODEL_TYPES.contains(&name.as_str()),
                Some(TyVal::Crate(inner)) => self.is_module(inner) || self.method(inner, "forward").is_some(),
                _ => false,
            };
        }
        self.model_memo.insert(ty, result);
        result
    }

    fn is_module(&self, ty: TypeId) -> bool {
        self.trait_impls.contains(&(ty, "Module".into())) || self.trait_impls.contains(&(ty, "ModuleT".into()))
    }

    /// Whether a function matches one of `patterns` (`hot` or `cold`, from `--hot` or a config):
    /// its `Type::method` (or `function`) name, its `Trait::method` name for trait impls, or its
    /// full `module::path::Type::method` path.
    fn matches_pattern(&self, file: FileIdx, func: &FuncSummary, patterns: &[String]) -> bool {
        if patterns.is_empty() {
            return false;
        }
        let module = &self.modules[self.file_modules[file][func.module as usize] as usize].path;
        let full = module.iter().map(String::as_str).chain([func.qualname.as_str()]).collect::<Vec<_>>().join("::");
        let via_trait =
            func.trait_name.as_ref().filter(|_| func.self_ty.is_some()).map(|t| format!("{t}::{}", func.name));
        patterns.iter().any(|pattern| {
            glob_match(pattern, &func.qualname)
                || glob_match(pattern, &full)
                || via_trait.as_ref().is_some_and(|t| glob_match(pattern, t))
        })
    }

    fn propagate(&mut self, edges: &[Vec<Node>]) -> (Vec<Reach>, FxHashSet<Node>) {
        let mut roots: Vec<(Node, String)> = Vec::new();
        let mut blocked = vec![false; self.node_count];
        // Trait methods declared with a `hot` marker: every impl of them is a root.
        let hot_trait_methods: FxHashSet<(String, String)> = self
            .files
            .iter()
            .flat_map(|file| &file.summary.funcs)
            .filter(|func| func.self_ty.is_none() && func.marker == Some(Marker::Hot))
            .filter_map(|func| Some((func.trait_name.clone()?, func.name.clone())))
            .collect();
        for file in 0..self.files.len() {
            let patterns = self.settings.roots_for(&self.files[file].path);
            for (index, func) in self.files[file].summary.funcs.iter().enumerate() {
                let node = self.func_base[file] + index;
                if func.test_only
                    || func.marker == Some(Marker::Cold)
                    || self.matches_pattern(file, func, &patterns.cold)
                {
                    blocked[node] = true;
                    continue;
                }
                if func.marker == Some(Marker::Hot) {
                    roots.push((node, "marked `// graphlint: hot`".into()));
                }
                if self.matches_pattern(file, func, &patterns.hot) {
                    roots.push((node, "matches a `hot` pattern".into()));
                }
                if let (Some(trait_name), Some(_)) = (&func.trait_name, &func.self_ty) {
                    if hot_trait_methods.contains(&(trait_name.clone(), func.name.clone())) {
                        roots.push((node, format!("`{trait_name}::{}` is marked `// graphlint: hot`", func.name)));
                    }
                }
                if func.name != "forward" {
                    continue;
                }
                let owner = func.self_ty.as_ref().and_then(|t| t.last()).unwrap_or("?").to_string();
                match (&func.trait_name, self.self_tys[node].clone()) {
                    (Some(t), _) if t == "Module" || t == "ModuleT" => {
                        roots.push((node, format!("`forward` of `impl {t} for {owner}`")));
                    }
                    (None, Some(TyVal::Crate(ty))) if self.is_model_type(ty) => {
                        roots.push((node, format!("`forward` of `{owner}`, which holds candle tensors or modules")));
                    }
                    _ => {}
                }
            }
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                let func = &self.files[file].summary.funcs[region.func as usize];
                if region.kind == RegionKind::Capture && !func.test_only {
                    let node = self.region_base[file] + index;
                    roots.push((node, "captured between `begin_capture` and `end_capture`".into()));
                }
            }
        }
        let mut region_roots: FxHashSet<Node> =
            roots.iter().map(|(n, _)| *n).filter(|&n| n >= self.region_base[0]).collect();
        loop {
            let reach = hotpath::propagate(edges, &roots, &blocked);
            let mut added = false;
            for file in 0..self.files.len() {
                for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                    let node = self.region_base[file] + index;
                    let func_node = self.func_base[file] + region.func as usize;
                    if region.kind != RegionKind::Loop
                        || region_roots.contains(&node)
                        || blocked[func_node]
                        || !matches!(reach[func_node], Reach::Unreached)
                    {
                        continue;
                    }
                    let func = &self.files[file].summary.funcs[region.func as usize];
                    if func.name.contains("train") || func.name == "fit" {
                        continue;
                    }
                    // A decode loop calls a root or a function already on a hot path.
                    if edges[node].iter().any(|&callee| !matches!(reach[callee], Reach::Unreached)) {
                        region_roots.insert(node);
                        roots.push((node, format!("decode loop in `{}`", func.qualname)));
                        added = true;
                    }
                }
            }
            if !added {
                return (reach, region_roots);
            }
        }
    }
}

impl hotpath::Graph for Crate<'_> {
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
