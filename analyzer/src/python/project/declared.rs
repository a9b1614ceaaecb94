//! Types that cross files. The per-file pass proves types inside one file; where it could only
//! describe a value symbolically (an attribute of an annotated parameter, `self.x` declared in a
//! base class elsewhere, the result of a function imported from another module) it records a
//! [`TypeQuestion`]. Here the evaluator answers those questions from the other files'
//! declarations:
//!
//! - attributes: the types a class's own file proves for them ([`ClassSummary::attr_tys`]:
//!   dataclass and `NamedTuple` fields, class-level annotations such as `top_ps: torch.Tensor`
//!   or `copy_done: Optional[torch.cuda.Event]`, `self.x = ...` in its methods), through the MRO;
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

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::{ClassKey, Entity, FileIdx, Project, Sym};
use crate::paths::display_path;
use crate::python::summary::*;
use crate::python::types::{names_host_buffer, range_key, ForeignTypes, Ty};

/// What a question's value is: its type, and for a call unpacked into a tuple, each element's.
type Answer = (Ty, Option<Vec<Ty>>);

impl Project<'_> {
    /// Per file, what the other files prove about its questions in functions `wanted` accepts,
    /// and about its parameters annotated as Python numbers.
    pub(super) fn foreign_types(&mut self, wanted: impl Fn(FileIdx, FuncIdx) -> bool) -> Vec<ForeignTypes> {
        let files = self.files;
        let mut attr_tys: FxHashMap<(ClassKey, Sym), Ty> = FxHashMap::default();
        for (file, analysis) in files.iter().enumerate() {
            for (class, info) in analysis.summary.classes.iter().enumerate() {
                for &(name, ty) in &info.attr_tys {
                    attr_tys.insert(((file as u32, class as u32), self.syms[file][name as usize]), ty);
                }
            }
        }
        let mut out: Vec<ForeignTypes> = files.iter().map(|_| ForeignTypes::default()).collect();
        let mut answers: FxHashMap<(ValId, bool), Answer> = FxHashMap::default();
        for (file, foreign) in out.iter_mut().enumerate() {
            answers.clear();
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
                }
                if let Some(elements) = elements {
                    foreign.elements.insert(key, elements);
                }
            }
        }
        self.scalar_params_given_tensors(&mut out, &wanted);
        out
    }

    /// Parameters annotated `int`/`float` that some call site in the tree passes a proven device
    /// tensor (positionally); the first such caller (in file order) is the one messages show.
    fn scalar_params_given_tensors(&mut self, out: &mut [ForeignTypes], wanted: &impl Fn(FileIdx, FuncIdx) -> bool) {
        let files = self.files;
        for (file, analysis) in files.iter().enumerate() {
            for given in &analysis.summary.tensor_args {
                let call = &analysis.summary.calls[given.call as usize];
                let mut targets: SmallVec<[(FileIdx, FuncIdx, u32); 4]> = SmallVec::new();
                for entity in self.eval(file, call.callee) {
                    self.targets_of(entity, call.kind, &mut targets, 0);
                }
                for (target_file, func, first) in targets {
                    let summary = &files[target_file].summary.funcs[func as usize];
                    if summary.scalar_params == 0 || !wanted(target_file, func) {
                        continue;
                    }
                    // `self.helper(...)` of a `@staticmethod` passes no receiver.
                    let first = if summary.is_static { 0 } else { first };
                    for position in 0..32u32 {
                        let index = position + first;
                        if given.positions & (1 << position) == 0 || index >= 32 {
                            continue;
                        }
                        if summary.scalar_params & (1 << index) != 0 {
                            let name = files[target_file].summary.names.get(summary.params[index as usize].0);
                            out[target_file].params.entry((func, index)).or_insert_with(|| {
                                (name.to_string(), format!("{}:{}", display_path(&analysis.path), given.row))
                            });
                        }
                    }
                }
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
                    let elements = (!summary.return_elements.is_empty()).then(|| summary.return_elements.clone());
                    if names_host_buffer(&summary.name) {
                        // `get_token_ids_cpu()`: what it returns is not taken for device tensors.
                        let not_device =
                            |ty: Ty| if ty.is_device_tensor() || ty == Ty::Tensors { Ty::Unknown } else { ty };
                        (not_device(summary.returns), elements.map(|e| e.into_iter().map(not_device).collect()))
                    } else {
                        (summary.returns, elements)
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

/// The types worth handing to a re-check: they make rules fire, or stop them firing on values
/// that live in host memory.
fn answerable(ty: Ty) -> bool {
    matches!(ty, Ty::Tensor { .. } | Ty::Tensors | Ty::Stream | Ty::NdArray)
}

#[cfg(test)]
mod tests {
    use super::*;

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
