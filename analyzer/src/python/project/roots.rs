//! Roots (markers, `hot`/`cold` patterns, `torch.compile`, `forward` of modules, CUDA graphs),
//! then propagation along the call edges, growing with decode loops until nothing changes.

use rustc_hash::FxHashSet;
use smallvec::SmallVec;

use super::{is_module_base, Entity, FileIdx, Project};
use crate::glob::glob_match;
use crate::hotpath::{self, LoopCandidate, Reach};
use crate::python::summary::*;

impl Project<'_> {
    pub(super) fn propagate(
        &mut self,
        edges: &[Vec<usize>],
        exact_edges: &[Vec<usize>],
    ) -> (Vec<Reach>, FxHashSet<usize>) {
        let mut roots: Vec<(usize, String)> = Vec::new();
        let mut blocked = vec![false; self.node_count];
        for file in 0..self.files.len() {
            let summary = &self.files[file].summary;
            let patterns = self.settings.roots_for(&self.files[file].path);
            let test_file = is_test_file(&self.files[file].path);
            for (index, func) in summary.funcs.iter().enumerate() {
                let node = self.func_base[file] + index;
                match func.marker {
                    Some(Marker::Cold) => blocked[node] = true,
                    Some(Marker::Hot) => roots.push((node, "marked `# graphlint: hot`".into())),
                    None => {}
                }
                if self.matches_pattern(file, func, &patterns.cold)
                    || patterns.profiles.iter().any(|p| self.matches_pattern(file, func, p.cold))
                {
                    blocked[node] = true;
                }
                // Tests, losses and adapter merging are cold unless a marker or a `hot` pattern
                // says otherwise.
                if (test_file || func.name.starts_with("test_") || is_training_only_function(&func.name))
                    && func.marker.is_none()
                    && !self.matches_pattern(file, func, &patterns.hot)
                {
                    blocked[node] = true;
                }
                if func.compiled {
                    roots.push((node, "decorated with `@torch.compile`".into()));
                }
                if self.matches_pattern(file, func, &patterns.hot) {
                    roots.push((node, "matches a `hot` pattern".into()));
                }
                if let Some(profile) = patterns.profiles.iter().find(|p| self.matches_pattern(file, func, p.hot)) {
                    roots.push((node, format!("{} (profile `{}`)", profile.why, profile.name)));
                }
            }
            for class in 0..summary.classes.len() as u32 {
                let class_name = &self.files[file].summary.classes[class as usize].name;
                // A loss module computes a training objective, and a `*Training*` class (gluonts'
                // `DeepARTrainingNetwork`) is the training-time twin of a prediction class.
                let training_class = class_name.ends_with("Loss") || class_name.contains("Training");
                // An optimizer's methods run once per training step: never per inference step.
                if training_class
                    || self.derives_from_external(file, class, &|path| path.starts_with("torch.optim."), 0)
                    || self.derives_from_external(file, class, &|path| path.ends_with("Loss"), 0)
                {
                    for &(_, method) in &self.files[file].summary.classes[class as usize].methods {
                        blocked[self.func_base[file] + method as usize] = true;
                    }
                    continue;
                }
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
                        Entity::Func(..)
                        | Entity::Bound(..)
                        | Entity::Instance(..)
                        | Entity::Declared(..)
                        | Entity::Container(_) => self.targets_of(entity, CallKind::Call, &mut targets, 0),
                        _ => {}
                    }
                    for (f, m, _) in targets {
                        roots.push((self.func_base[f] + m as usize, site.reason.text().to_string()));
                    }
                }
            }
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                if region.kind == RegionKind::CudaGraph {
                    roots.push((self.region_base[file] + index, "captured by `torch.cuda.graph`".into()));
                }
            }
        }

        let region_roots: FxHashSet<usize> =
            roots.iter().map(|(n, _)| *n).filter(|n| self.region_of(*n).is_some()).collect();

        // Loops that may be decode loops, with what they call (computed once).
        let mut candidates = Vec::new();
        for file in 0..self.files.len() {
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                if region.kind != RegionKind::Loop || region.training {
                    continue;
                }
                let function = &self.files[file].summary.funcs[region.func as usize];
                if hotpath::is_training_function(&function.name) || is_setup_function(&function.name) {
                    continue;
                }
                let (calls_model, callees) = self.loop_calls(file, index as RegionIdx);
                if calls_model || !callees.is_empty() {
                    candidates.push(LoopCandidate {
                        node: self.region_base[file] + index,
                        func_node: self.func_base[file] + region.func as usize,
                        calls_model,
                        callees,
                        qualname: function.qualname.clone(),
                    });
                }
            }
        }
        hotpath::propagate_with_decode_loops(edges, exact_edges, roots, &blocked, &candidates, region_roots)
    }

    /// Whether class `class` of `file`, or a project class it derives from, names an external base
    /// for which `matches` holds (`torch.optim.Optimizer`, `torch.nn.CrossEntropyLoss`).
    fn derives_from_external(&mut self, file: FileIdx, class: u32, matches: &dyn Fn(&str) -> bool, depth: u32) -> bool {
        if depth > 8 {
            return false;
        }
        let files = self.files;
        for &base in &files[file].summary.classes[class as usize].bases {
            for entity in self.eval(file, base) {
                let found = match entity {
                    Entity::External(id) => matches(&self.externals[id as usize]),
                    Entity::Class(f, c) => self.derives_from_external(f, c, matches, depth + 1),
                    _ => false,
                };
                if found {
                    return true;
                }
            }
        }
        false
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
                    Entity::Instance(f, c) | Entity::Declared(f, c) => calls_model |= self.is_module_class(f, c),
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
    fn matches_pattern(&self, file: FileIdx, func: &FuncSummary, patterns: &[impl AsRef<str>]) -> bool {
        if patterns.is_empty() || func.qualname == "<module>" {
            return false;
        }
        let full = format!("{}:{}", self.module_names[file], func.qualname);
        patterns.iter().map(AsRef::as_ref).any(|pattern| {
            if pattern.contains(':') {
                glob_match(pattern, &full)
            } else {
                glob_match(pattern, &func.qualname) || glob_match(pattern, &full.replace(':', "."))
            }
        })
    }

    pub(super) fn region_of(&self, node: usize) -> Option<(FileIdx, usize)> {
        if self.region_base.first().is_none_or(|&first| node < first) {
            return None;
        }
        let file = self.region_base.partition_point(|&base| base <= node) - 1;
        let index = node - self.region_base[file];
        (index < self.files[file].summary.regions.len()).then_some((file, index))
    }
}

/// Whether a function's name says it sets a model up rather than runs it: constructing, loading,
/// saving or converting weights, merging adapters or re-parameterising layers, warming up,
/// autotuning, calibrating, profiling or benchmarking. Its loops run a model once per setup,
/// not once per step, so they are never decode loops.
fn is_setup_function(name: &str) -> bool {
    const WORDS: &[&str] = &[
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
    ];
    let name = name.to_ascii_lowercase();
    WORDS.iter().any(|word| name.contains(word))
}

/// Whether a function's name says it computes a training loss (`compute_loss`,
/// `load_balancing_loss_func`: a `loss`/`losses` word) or merges an adapter into the weights
/// (`merge`, `unmerge`, `merge_adapter`, `merge_and_unload`): never per-step inference code.
fn is_training_only_function(name: &str) -> bool {
    let name = name.trim_start_matches('_').to_ascii_lowercase();
    name.split('_').any(|word| word == "loss" || word == "losses")
        || matches!(name.as_str(), "merge" | "unmerge")
        || ["merge_adapter", "unmerge_adapter", "merge_and_unload"].iter().any(|p| name.starts_with(p))
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
