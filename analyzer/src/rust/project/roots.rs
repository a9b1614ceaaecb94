//! Roots and propagation: which types are models, which functions are roots, and the
//! breadth-first walk from them, with decode loops, until nothing changes.

use super::*;

impl<'s> Project<'s> {
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
        let module = self.module_path(self.file_modules[file][func.module as usize]);
        let full = module.into_iter().chain([func.qualname.as_str()]).collect::<Vec<_>>().join("::");
        let via_trait =
            func.trait_name.as_ref().filter(|_| func.self_ty.is_some()).map(|t| format!("{t}::{}", func.name));
        patterns.iter().any(|pattern| {
            glob_match(pattern, &func.qualname)
                || glob_match(pattern, &full)
                || via_trait.as_ref().is_some_and(|t| glob_match(pattern, t))
        })
    }

    pub(super) fn propagate(&mut self, edges: &[Vec<Node>]) -> (Vec<Reach>, FxHashSet<Node>) {
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
        let region_roots: FxHashSet<Node> =
            roots.iter().map(|(n, _)| *n).filter(|&n| n >= self.region_base[0]).collect();
        // A decode loop calls a root or a function already on a hot path.
        let mut candidates = Vec::new();
        for file in 0..self.files.len() {
            for (index, region) in self.files[file].summary.regions.iter().enumerate() {
                let func = &self.files[file].summary.funcs[region.func as usize];
                if region.kind != RegionKind::Loop || hotpath::is_training_function(&func.name) {
                    continue;
                }
                let node = self.region_base[file] + index;
                candidates.push(LoopCandidate {
                    node,
                    func_node: self.func_base[file] + region.func as usize,
                    calls_model: false,
                    callees: edges[node].clone(),
                    qualname: func.qualname.clone(),
                });
            }
        }
        hotpath::propagate_with_decode_loops(edges, edges, roots, &blocked, &candidates, region_roots)
    }
}
