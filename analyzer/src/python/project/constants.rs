//! Arms of `if`s that no call in the tree takes: in a private function, an arm that runs only for
//! some values of a parameter ([`ParamArm`]: `if flip:`, `if mode == "x":`, the `else` of `if
//! p is None:`) is dead when every call of the function passes one literal for that parameter
//! (or leaves out a parameter whose default is that literal) and the literal rules the arm out.
//! Dead arms are cold: what they hold is never hot, and calls made there pass no heat on.
//!
//! Which calls count, conservatively: a private function's callers are in the tree (Python's
//! convention for `_name`); every call site in the tree whose callee has the function's name must
//! resolve (a call the evaluator cannot follow may reach it with another value), and no file may
//! read the name other than as such a callee (`partial(self._f, flip=True)`, a registry, a
//! callback, a call on a receiver the summary cannot describe). A call passing anything but a
//! literal, or spreading `*args`/`**kwargs`, leaves the parameter undecided; so does a function
//! no call reaches. Hotness is per function, not per call edge: a hot caller passing `False` does
//! not make the `True` arm cold while a cold caller passes `True`.
//!
//! A value that holds only in training (`self.training and ...`) is `False` whenever the model
//! infers, and counts as that literal. A public function's callers may be outside the tree, but
//! they cannot make it hot: on every hot path it holds what the tree's calls pass. Its arms are
//! decided where some call passes such a value (the arm then runs only in training: peft's
//! `get_delta_weight(..., apply_rank_dropout=self.training and ...)`), or where every call leaves
//! the parameter at its default (vllm's `update_state(..., repeat_indices=None)`), but never for
//! a `forward` or a dunder method (`__call__`, `__init__`), which the framework, the user or the
//! language call; a call of its name that does not resolve counts for every function of that name.

use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::{FileIdx, Project, Sym};
use crate::python::summary::*;

/// A literal with its string interned project-wide, so that files compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lit {
    None,
    Bool(bool),
    Int(i64),
    Str(Sym),
}

/// What the calls of a function pass for one parameter, so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Passed {
    Always(Lit),
    Varies,
}

impl<'s> Project<'s> {
    fn lit(&self, file: FileIdx, value: Const) -> Lit {
        match value {
            Const::None => Lit::None,
            Const::Bool(b) => Lit::Bool(b),
            Const::Int(i) => Lit::Int(i),
            Const::Str(name) => Lit::Str(self.sym(file, name)),
        }
    }

    /// Per file, per region: whether the region is an arm no call takes (see the module's
    /// documentation). A file without one has an empty list.
    #[inline(never)]
    pub(super) fn dead_arms(&mut self) -> Vec<Vec<bool>> {
        let files = self.files;
        let mut dead: Vec<Vec<bool>> = vec![Vec::new(); files.len()];
        // The names calls pass training-only values to: public entry points of these names are
        // decided too.
        let mut trained_names: FxHashSet<Sym> = FxHashSet::default();
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            for arg in summary.literal_args.iter().filter(|arg| arg.training) {
                if let Some(name) = self.callee_name(file, summary.calls[arg.call as usize].callee) {
                    trained_names.insert(name);
                }
            }
        }
        // The functions with arms to decide, by name: not the public dunders and `forward`s, which
        // the framework or the user call (thousands of them share a name: each call of one would
        // be matched against all), unless a call passes a training-only value.
        let mut by_name: FxHashMap<Sym, SmallVec<[(FileIdx, FuncIdx); 2]>> = FxHashMap::default();
        for (file, analysis) in files.iter().enumerate() {
            // (Arms of one function come together: its name is looked up once.)
            let mut decided: Option<(FuncIdx, bool)> = None;
            for arm in &analysis.summary.param_arms {
                let wanted = match decided {
                    Some((func, wanted)) if func == arm.func => wanted,
                    _ => {
                        let function = &analysis.summary.funcs[arm.func as usize];
                        let wanted = super::declared::is_private_or_local(function)
                            || !is_entry_point(&function.name)
                            || (!trained_names.is_empty()
                                && self.sym_ids.get(function.name.as_str()).is_some_and(|n| trained_names.contains(n)));
                        decided = Some((arm.func, wanted));
                        wanted
                    }
                };
                if !wanted {
                    continue;
                }
                let name = self.intern_name(&analysis.summary.funcs[arm.func as usize].name);
                let entry = by_name.entry(name).or_default();
                if !entry.contains(&(file, arm.func)) {
                    entry.push((file, arm.func));
                }
            }
        }
        if by_name.is_empty() {
            return dead;
        }
        // Names read where no call site says what is passed.
        let mut unknown: FxHashSet<Sym> = FxHashSet::default();
        for (file, analysis) in files.iter().enumerate() {
            for &name in &analysis.summary.private_refs {
                let sym = self.sym(file, name);
                if by_name.contains_key(&sym) {
                    unknown.insert(sym);
                }
            }
        }
        let mut passed: FxHashMap<(FileIdx, FuncIdx, u32), Passed> = FxHashMap::default();
        // Parameters some call passes a training-only value (a public function's arm needs one).
        let mut trained: FxHashSet<(FileIdx, FuncIdx, u32)> = FxHashSet::default();
        for (file, analysis) in files.iter().enumerate() {
            let summary = &analysis.summary;
            for (index, call) in summary.calls.iter().enumerate() {
                let Some(name) = self.callee_name(file, call.callee) else { continue };
                if !by_name.contains_key(&name) || unknown.contains(&name) || call.kind != CallKind::Call {
                    continue;
                }
                let (mut targets, _) = self.targets_with_dispatch(file, call);
                if targets.is_empty() {
                    if by_name[&name]
                        .iter()
                        .any(|&(f, m)| super::declared::is_private_or_local(&files[f].summary.funcs[m as usize]))
                    {
                        unknown.insert(name);
                        continue;
                    }
                    // A call of a public name that does not resolve may reach any function of that
                    // name: what it passes counts for each of them.
                    for &(f, m) in &by_name[&name] {
                        let function = &files[f].summary.funcs[m as usize];
                        targets.push((f, m, u32::from(function.class.is_some() && !function.is_static)));
                    }
                }
                // A method reached through `self` (or any receiver) may be overridden: the call
                // reaches the functions of that name in the subclasses too (`Base.decode` calling
                // `self._decode(**kwargs)`, which a subclass's `_decode(normalize=False)` answers).
                for (target_file, func, first) in targets.clone() {
                    let Some(class) = files[target_file].summary.funcs[func as usize].class else { continue };
                    for &(candidate_file, candidate) in &by_name[&name] {
                        let Some(own) = files[candidate_file].summary.funcs[candidate as usize].class else { continue };
                        if targets.iter().any(|&(f, m, _)| (f, m) == (candidate_file, candidate)) {
                            continue;
                        }
                        let mro = self.mro(candidate_file, own);
                        if self.mro_classes[mro].contains(&(target_file, class)) {
                            targets.push((candidate_file, candidate, first));
                        }
                    }
                }
                let literals = &summary.literal_args
                    [super::declared::calls_range(&summary.literal_args, index as u32, |arg| arg.call)];
                let spread = literals.iter().any(|arg| arg.slot == LiteralArg::SPREAD);
                for (target_file, func, first) in targets {
                    let target_summary = &files[target_file].summary;
                    let target = &target_summary.funcs[func as usize];
                    let first = if target.is_static { 0 } else { first };
                    let params = target_summary.param_arms.iter().filter(|arm| arm.func == func);
                    let params: SmallVec<[(u32, ParamDefault); 4]> =
                        params.map(|arm| (arm.param, arm.default)).collect();
                    for &(param, default) in &params {
                        if passed.get(&(target_file, func, param)) == Some(&Passed::Varies) {
                            continue;
                        }
                        let param_name = self.sym(target_file, target.params[param as usize].0);
                        let position =
                            param.checked_sub(first).filter(|&p| p < call.args.len && param < target.positional);
                        let given = if spread {
                            Err(())
                        } else if let Some(position) = position {
                            literals.iter().find(|arg| arg.slot == position).ok_or(())
                        } else if let Some(arg) = literals
                            .iter()
                            .find(|arg| arg.slot == LiteralArg::KEYWORD && self.sym(file, arg.keyword) == param_name)
                        {
                            Ok(arg)
                        } else {
                            // Not passed: the default.
                            Err(())
                        };
                        let value = match given {
                            Ok(arg) => {
                                if arg.training {
                                    trained.insert((target_file, func, param));
                                }
                                arg.value.map(|value| self.lit(file, value))
                            }
                            Err(()) if spread || position.is_some() => None,
                            Err(()) => match default {
                                ParamDefault::Literal(value) => Some(self.lit(target_file, value)),
                                ParamDefault::Required | ParamDefault::Other => None,
                            },
                        };
                        let now = match (value, passed.get(&(target_file, func, param))) {
                            (Some(value), None) => Passed::Always(value),
                            (Some(value), Some(&before)) if before == Passed::Always(value) => before,
                            _ => Passed::Varies,
                        };
                        passed.insert((target_file, func, param), now);
                    }
                }
            }
        }
        for (name, functions) in &by_name {
            if unknown.contains(name) {
                continue;
            }
            for &(file, func) in functions {
                let summary = &files[file].summary;
                let public = !super::declared::is_private_or_local(&summary.funcs[func as usize]);
                let entry_point = is_entry_point(&summary.funcs[func as usize].name);
                for arm in summary.param_arms.iter().filter(|arm| arm.func == func) {
                    let Some(&Passed::Always(value)) = passed.get(&(file, func, arm.param)) else { continue };
                    // A public function's arm is decided where some call passes a training-only
                    // value, or where every call leaves its parameter at its default (callers
                    // outside the tree cannot make the function hot: on every hot path it holds
                    // what the tree's calls give it), except for a Module's entry points, which
                    // the framework or the user call.
                    let left_at_default =
                        matches!(arm.default, ParamDefault::Literal(default) if self.lit(file, default) == value);
                    if public && !trained.contains(&(file, func, arm.param)) && (entry_point || !left_at_default) {
                        continue;
                    }
                    let compared = match arm.test {
                        ArmTest::Truthy => None,
                        ArmTest::Is(c) | ArmTest::Equals(c) => Some(self.lit(file, c)),
                    };
                    if self.decide(arm.test, value, compared) == Some(!arm.runs_when) {
                        let regions = &mut dead[file];
                        if regions.is_empty() {
                            regions.resize(summary.regions.len(), false);
                        }
                        regions[arm.region as usize] = true;
                    }
                }
            }
        }
        dead
    }

    /// What `test` gives for a parameter holding `value` (`compared` is the literal the test
    /// compares it with), when Python's semantics decide it.
    fn decide(&self, test: ArmTest, value: Lit, compared: Option<Lit>) -> Option<bool> {
        match (test, compared) {
            (ArmTest::Truthy, _) => Some(match value {
                Lit::None => false,
                Lit::Bool(b) => b,
                Lit::Int(i) => i != 0,
                Lit::Str(s) => !self.sym_names[s as usize].is_empty(),
            }),
            // `is` with `None`, `True` or `False`: one object each.
            (ArmTest::Is(_), Some(c @ (Lit::None | Lit::Bool(_)))) => Some(value == c),
            (ArmTest::Is(_), _) => None,
            (ArmTest::Equals(_), Some(c)) => Some(match (value, c) {
                (Lit::Bool(a), Lit::Int(b)) | (Lit::Int(b), Lit::Bool(a)) => i64::from(a) == b,
                (a, b) => a == b,
            }),
            (ArmTest::Equals(_), None) => None,
        }
    }

    /// The name a call site calls a function by: the last part of its callee.
    pub(super) fn callee_name(&mut self, file: FileIdx, callee: ValId) -> Option<Sym> {
        let summary: &'s FileSummary = &self.files[file].summary;
        match summary.vals[callee as usize] {
            Val::Global(name) | Val::Attr(_, name) | Val::SelfAttr { name, .. } => Some(self.sym(file, name)),
            Val::Func(func) => Some(self.intern_name(&summary.funcs[func as usize].name)),
            Val::Import(path) => {
                let dotted = summary.names.get(path.dotted);
                let last = super::last_segment(dotted);
                Some(self.intern_name(last))
            }
            _ => None,
        }
    }
}

/// A Module's `forward` or a dunder method (`__call__`, `__init__`...): called by the framework,
/// the user or the language, not only by the tree's calls of its name.
fn is_entry_point(name: &str) -> bool {
    name == "forward" || (name.starts_with("__") && name.ends_with("__"))
}
