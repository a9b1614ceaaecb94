//! Type inference beyond the traversal: what annotations prove, what this file's classes give
//! `self.x` and their methods, what a call returns, what an operator gives.

use smallvec::SmallVec;

use super::Checker;
use crate::python::adapter::{ast, parse_annotation, span, string_value, Expr, Operator, Stmt};
use crate::python::rules::{self, CallInfo};
use crate::python::summary::*;
use crate::python::types::{self, range_key, Declared, Ty};

/// What a function's `return` statements give, gathered while its body is visited: for the
/// calls after it in this file and, through [`FuncSummary::returns`], for other files.
#[derive(Default)]
pub(super) struct ReturnFlow {
    /// The join (over paths) of what every `return` gives.
    ty: Option<Ty>,
    /// Element by element, where every `return` gives a tuple of one length (or `None`).
    elements: Option<SmallVec<[Ty; 4]>>,
    /// A generator's call returns the generator, not what it `return`s.
    generator: bool,
    /// Some `return` gives a tuple literal of two or more elements.
    tuple_literal: bool,
}

impl ReturnFlow {
    /// What every `return` gives, joined (`None` when there is no `return`).
    pub(super) fn ty(&self) -> Option<Ty> {
        self.ty
    }

    /// Element by element, where every `return` gives a tuple of one length.
    pub(super) fn elements(&self) -> Option<&[Ty]> {
        self.elements.as_deref()
    }
}

impl<'a> Checker<'a> {
    // ----- inferred returns -------------------------------------------------------------------

    /// One `return`: `ty` is what it gives (already seen through host residence), `elements`
    /// each element's type when it returns a tuple literal.
    pub(super) fn note_return(&mut self, ty: Ty, elements: Option<SmallVec<[Ty; 4]>>) {
        let Some(flow) = self.returns.last_mut() else { return };
        flow.tuple_literal |= elements.as_ref().is_some_and(|e| e.len() > 1);
        match flow.ty {
            None => {
                flow.ty = Some(ty);
                flow.elements = elements;
            }
            Some(known) => {
                flow.elements = match (flow.elements.take(), elements) {
                    (Some(a), Some(b)) if a.len() == b.len() => {
                        Some(a.iter().zip(&b).map(|(x, y)| x.join_paths(*y)).collect())
                    }
                    (Some(a), None) if ty == Ty::None => Some(a),
                    (None, Some(b)) if known == Ty::None => Some(b),
                    _ => None,
                };
                flow.ty = Some(known.join_paths(ty));
            }
        }
    }

    pub(super) fn note_yield(&mut self) {
        if let Some(flow) = self.returns.last_mut() {
            flow.generator = true;
        }
    }

    /// A function's inferred return. For the calls after it in this file: only array types (the
    /// rules' subject), and only where no annotation said otherwise; `top_level`: a module-level
    /// function (nested ones may share a name with it). For other files, in the function's
    /// summary: where no annotation said otherwise, or where every `return` proves a Python value
    /// against a tensor annotation (`-> torch.Tensor` on a function returning `.item()`).
    pub(super) fn record_return(
        &mut self,
        name: &'a str,
        func: FuncIdx,
        class: Option<u32>,
        top_level: bool,
        flow: ReturnFlow,
    ) {
        let Some(ty) = flow.ty else { return };
        if flow.generator {
            return;
        }
        // `return x` on one path and `return a, b` on another: a caller that unpacks the call takes
        // the tuple, so the join (a tensor where `x` is one) says nothing about the elements.
        let mixed_with_tuple = flow.tuple_literal && flow.elements.is_none();
        let ty = if mixed_with_tuple { Ty::Unknown } else { ty };
        self.note_return_attrs(func, &flow);
        let summary = &mut self.summary.funcs[func as usize];
        let contradicted = (summary.returns.is_tensor() || summary.returns == Ty::Tensors)
            && matches!(ty, Ty::Int | Ty::Float | Ty::Bool | Ty::Str | Ty::List | Ty::Dict | Ty::Shape);
        // `-> torch.Tensor` says nothing of where the tensor lives: when every `return` proves a
        // tensor in host memory (`torch.tensor(..., device="cpu")`, `x.cpu()`), so does a call.
        let host_under_annotation = summary.returns.is_device_tensor() && ty.is_host_tensor();
        if summary.returns.is_tensor() && flow.tuple_literal {
            // (`-> torch.Tensor` over a function that returns a tuple is wrong about the tuple.)
            summary.returns = ty;
        } else if (summary.returns == Ty::Unknown || contradicted || host_under_annotation)
            && !matches!(ty, Ty::Val(_) | Ty::None)
        {
            summary.returns = ty;
        }
        if let Some(elements) = flow.elements.filter(|e| e.iter().any(|t| t.is_tensor() || *t == Ty::NdArray)) {
            summary.return_elements = elements.iter().map(|t| if t.is_unproven() { Ty::Unknown } else { *t }).collect();
        }
        if top_level && class.is_none() && summary.return_elements.iter().any(|t| t.is_host_tensor()) {
            let elements = summary.return_elements.clone();
            self.function_elements.entry(name).or_insert(elements);
        }
        if !returns_seen_by_callers(name, ty) {
            return;
        }
        // (The annotation, recorded before the body was visited, gives way to host memory too.)
        let recorded = match class {
            Some(class) => self.classes.get_mut(class as usize).map(|info| info.method_returns.entry(name)),
            None if top_level => Some(self.function_returns.entry(name)),
            None => None,
        };
        if let Some(recorded) = recorded {
            let known = recorded.or_insert(ty);
            if host_under_annotation && known.is_device_tensor() {
                *known = ty;
            }
        }
    }

    /// For `a, b = f(...)`: what each element of the call's result is, where `f` is a module-level
    /// function of this file defined above that returns some element in host memory.
    pub(super) fn host_return_elements(&self, value: &Expr) -> Option<Vec<Ty>> {
        if self.function_elements.is_empty() {
            return None;
        }
        let Expr::Call(call) = value else { return None };
        let Expr::Name(name) = &*call.func else { return None };
        // (A local of that name is another value.)
        if self.scopes.iter().skip(1).any(|scope| scope.vars.contains_key(name.id.as_str())) {
            return None;
        }
        self.function_elements.get(name.id.as_str()).cloned()
    }

    /// [`moves_to_device`], also from the type of the target: a `torch.device` (unless it is the
    /// CPU's) or a tensor not in host memory (`.to(other)` takes `other`'s device).
    fn targets_device(&self, info: &CallInfo) -> bool {
        match self.device_target_ty(info) {
            Some(Ty::HostDevice) => false,
            Some(ty) if ty == Ty::Device || ty.is_device_tensor() => true,
            _ => moves_to_device(info.call),
        }
    }

    /// The type of what `.to(...)` is given as its device: `device=` or the first argument.
    fn device_target_ty(&self, info: &CallInfo) -> Option<Ty> {
        info.keyword_ty("device").or_else(|| info.args.first().copied())
    }

    /// Whether a torch factory call allocates outside host memory: it names a `device=` other
    /// than the CPU (see [`allocates_on_device`]), or it names none and this file may have
    /// changed the default device.
    pub(super) fn factory_on_device(&self, call: &ast::ExprCall, device_ty: Option<Ty>) -> bool {
        match keyword(call, "device") {
            Some(_) => allocates_on_device(call) && device_ty != Some(Ty::HostDevice),
            None => !is_pinned(call) && self.default_device_may_change(),
        }
    }

    /// Whether a torch function that computes on its tensor inputs (not a factory) gives a
    /// result in host memory: some input is a tensor (or a literal of tensors) in host memory,
    /// none is a tensor proven to be elsewhere, and no `device=` other than the CPU is named.
    /// Inputs of unknown type are not held against it, as in arithmetic (see [`binop_ty`]).
    fn computes_on_host(&self, info: &CallInfo) -> bool {
        if allocates_on_device(info.call) && info.keyword_ty("device") != Some(Ty::HostDevice) {
            return false;
        }
        let positional = info.call.arguments.args.iter().zip(info.args.iter());
        let keywords = info
            .call
            .arguments
            .keywords
            .iter()
            .zip(info.keywords.iter())
            .filter(|(_, (name, _))| *name != Some("device"))
            .map(|(keyword, (_, ty))| (&keyword.value, ty));
        let mut host = false;
        for (expr, ty) in positional.chain(keywords) {
            if ty.is_device_tensor() || *ty == Ty::Tensors || self.holds_device_tensors(expr) {
                return false;
            }
            host |= ty.is_host_tensor() || self.holds_host_tensors(expr);
        }
        host
    }

    // ----- 0-d tensors ------------------------------------------------------------------------

    pub(super) fn note_scalar(&mut self, name: &'a str) {
        let func = self.current_func();
        self.scalars.insert((func, name));
        if !self.loop_frames.is_empty() {
            self.flow_scalar(name);
        }
    }

    pub(super) fn note_vector(&mut self, name: &'a str) {
        let func = self.current_func();
        self.vectors.insert((func, name));
    }

    /// A local bound to a tensor of rank `rank` (0 and 1 have their own sets).
    pub(super) fn note_rank(&mut self, name: &'a str, rank: u32) {
        match rank {
            0 => self.note_scalar(name),
            1 => self.note_vector(name),
            _ => {
                let func = self.current_func();
                self.ranked.insert((func, name), rank);
            }
        }
    }

    /// `b, n = x.shape` (or `x.size()`) proves that `x` has exactly as many dimensions as there
    /// are names (unpacking raises otherwise).
    pub(super) fn note_shape_unpacking(&mut self, targets: &'a [Expr], value: &'a Expr) {
        let [Expr::Tuple(tuple)] = targets else { return };
        if tuple.elts.iter().any(Expr::is_starred_expr) {
            return;
        }
        let receiver = match value {
            Expr::Attribute(attribute) if attribute.attr.as_str() == "shape" => &attribute.value,
            Expr::Call(call) if call.arguments.is_empty() => match &*call.func {
                Expr::Attribute(attribute) if attribute.attr.as_str() == "size" => &attribute.value,
                _ => return,
            },
            _ => return,
        };
        let Expr::Name(name) = &**receiver else { return };
        if self.lookup_quiet(name.id.as_str()).is_tensor() {
            self.note_rank(name.id.as_str(), tuple.elts.len() as u32);
        }
    }

    /// `for i in v` (or `for k, i in enumerate(v)`) over a tensor `v` of a known rank: each `i`
    /// has one dimension less (0-d over a 1-d `v`).
    pub(super) fn note_iterated_elements(&mut self, iter: &'a Expr, target: &'a Expr) {
        // `for a, b in zip(x, y)`: each target walks its own sequence.
        if let (Expr::Call(call), Expr::Tuple(tuple)) = (iter, target) {
            if tuple.elts.len() == call.arguments.args.len()
                && call.arguments.keywords.is_empty()
                && matches!(self.qualify(&call.func).as_deref(), Some(["builtins", "zip"]))
            {
                for (arg, element) in call.arguments.args.iter().zip(&tuple.elts) {
                    self.note_iterated_elements(arg, element);
                }
                return;
            }
        }
        let (iterated, target) = match (iter, target) {
            (Expr::Call(call), Expr::Tuple(tuple))
                if tuple.elts.len() == 2
                    && call.arguments.args.len() == 1
                    && matches!(self.qualify(&call.func).as_deref(), Some(["builtins", "enumerate"])) =>
            {
                (&call.arguments.args[0], &tuple.elts[1])
            }
            _ => (iter, target),
        };
        let Expr::Name(name) = target else { return };
        // (The element was just bound: `enumerate` binds its own targets.)
        if !self.lookup_quiet(name.id.as_str()).is_tensor() {
            return;
        }
        if let Some(rank) = self.rank(iterated).and_then(|r| r.checked_sub(1)) {
            self.note_rank(name.id.as_str(), rank);
        }
    }

    /// The number of dimensions of `expr` (a tensor) where the code proves it: 0-d and 1-d
    /// tensors ([`Self::is_scalar`], [`Self::is_vector`]), locals of a known rank, and numbers,
    /// slices and `None` indexing one of those.
    pub(super) fn rank(&self, expr: &'a Expr) -> Option<u32> {
        match expr {
            // (`nonzero(as_tuple=True)[k]` is 1-d whatever the rank of what it was called on.)
            Expr::Subscript(subscript) if matches!(&*subscript.value, Expr::Call(_)) && self.is_vector(expr) => Some(1),
            Expr::Subscript(subscript) => self.subscript_rank(subscript),
            Expr::Name(name) if !self.ranked.is_empty() => {
                match self.ranked.get(&(self.current_func(), name.id.as_str())) {
                    Some(&rank) => Some(rank),
                    None => self.scalar_or_vector_rank(expr),
                }
            }
            _ => self.scalar_or_vector_rank(expr),
        }
    }

    fn scalar_or_vector_rank(&self, expr: &'a Expr) -> Option<u32> {
        if self.is_scalar(expr) {
            Some(0)
        } else if self.is_vector(expr) {
            Some(1)
        } else {
            None
        }
    }

    /// `x[i, a:b, None, ...]` with `x` of a known rank: each integer takes a dimension away,
    /// each `None` adds one, slices and `...` keep them. A tensor or boolean index (advanced
    /// indexing) gives no rank.
    fn subscript_rank(&self, subscript: &'a ast::ExprSubscript) -> Option<u32> {
        let elements: &[Expr] = match &*subscript.slice {
            Expr::Tuple(tuple) => &tuple.elts,
            other => std::slice::from_ref(other),
        };
        let (mut taken, mut added, mut kept) = (0u32, 0u32, 0u32);
        for element in elements {
            match element {
                Expr::Slice(_) => kept += 1,
                Expr::NoneLiteral(_) => added += 1,
                Expr::EllipsisLiteral(_) => {}
                other if self.is_int_index(other) => taken += 1,
                _ => return None,
            }
        }
        let rank = self.rank(&subscript.value)?;
        // (More indices than dimensions raise.)
        (taken + kept <= rank).then(|| rank - taken + added)
    }

    /// A Python integer used as an index: a literal, a local typed `int`, or arithmetic of those.
    fn is_int_index(&self, expr: &'a Expr) -> bool {
        match expr {
            Expr::NumberLiteral(number) => matches!(number.value, ast::Number::Int(_)),
            Expr::Name(name) => self.lookup_quiet(name.id.as_str()) == Ty::Int,
            Expr::UnaryOp(unary) => unary.op == ast::UnaryOp::USub && self.is_int_index(&unary.operand),
            Expr::BinOp(binop) => {
                matches!(binop.op, Operator::Add | Operator::Sub | Operator::Mult | Operator::FloorDiv | Operator::Mod)
                    && self.is_int_index(&binop.left)
                    && self.is_int_index(&binop.right)
            }
            _ => false,
        }
    }

    /// Whether `expr` (a tensor) is 1-d: a tuple element of `nonzero(as_tuple=True)` or of
    /// one-argument `torch.where`, a flattening (`x.flatten()`, `x.view(-1)`, `x.reshape(-1)`,
    /// `x.ravel()`), `torch.arange(...)`, a tensor of a known rank indexed down to one dimension
    /// ([`Self::rank`]), or a local bound to one.
    pub(super) fn is_vector(&self, expr: &'a Expr) -> bool {
        match expr {
            Expr::Name(name) => {
                !self.vectors.is_empty() && self.vectors.contains(&(self.current_func(), name.id.as_str()))
            }
            Expr::Subscript(subscript) => {
                let Expr::Call(call) = &*subscript.value else { return self.subscript_rank(subscript) == Some(1) };
                if !is_int_literal(&subscript.slice) {
                    return false;
                }
                let as_tuple = call.arguments.keywords.iter().any(|k| {
                    k.arg.as_ref().is_some_and(|a| a.as_str() == "as_tuple")
                        && matches!(&k.value, Expr::BooleanLiteral(b) if b.value)
                });
                match self.qualify(&call.func).as_deref() {
                    Some(["torch", "nonzero"]) => as_tuple,
                    Some(["torch", "where"]) => call.arguments.args.len() == 1 && call.arguments.keywords.is_empty(),
                    Some(_) => false,
                    None => matches!(&*call.func, Expr::Attribute(a) if a.attr.as_str() == "nonzero") && as_tuple,
                }
            }
            Expr::Call(call) => {
                let args = &call.arguments.args;
                // (`device=`, `dtype=` keep `arange` 1-d.)
                if matches!(self.qualify(&call.func).as_deref(), Some(["torch", "arange"])) {
                    return true;
                }
                if !call.arguments.keywords.is_empty() {
                    return false;
                }
                match self.qualify(&call.func).as_deref() {
                    Some(["torch", "flatten"]) => args.len() == 1,
                    Some(_) => false,
                    None => {
                        let Expr::Attribute(attribute) = &*call.func else { return false };
                        match attribute.attr.as_str() {
                            "flatten" | "ravel" => args.is_empty(),
                            "view" | "reshape" => matches!(&args[..], [only] if is_minus_one(only)),
                            _ => false,
                        }
                    }
                }
            }
            _ => false,
        }
    }

    /// A name's type without noting a read (for what the traversal already typed).
    fn lookup_quiet(&self, name: &str) -> Ty {
        self.scopes.iter().rev().find_map(|s| s.vars.get(name).copied()).unwrap_or(Ty::Unknown)
    }

    /// Whether `expr` (already typed as a tensor) is 0-d: a full reduction (`x.max()`,
    /// `torch.argmax(x)`, `x.sum()`), `torch.tensor(<number>)`, a dtype or device move of one, a
    /// local bound to one, arithmetic of one with numbers, or a tensor of a known rank indexed by
    /// as many integers ([`Self::rank`]). Indexing with a 0-d integer or boolean tensor reads its
    /// value on the host (a multi-element index tensor gathers instead).
    pub(crate) fn is_scalar(&self, expr: &'a Expr) -> bool {
        match expr {
            Expr::Name(name) => {
                !self.scalars.is_empty() && self.scalars.contains(&(self.current_func(), name.id.as_str()))
            }
            Expr::Call(call) => {
                let args = &call.arguments.args;
                if self.given_tensor_returns(call, true).iter().any(|&p| args.get(p).is_some_and(|a| self.is_scalar(a)))
                {
                    return true;
                }
                let Expr::Attribute(attribute) = &*call.func else { return false };
                let by_dim = call.arguments.keywords.iter().any(|k| k.arg.as_ref().is_none_or(|a| a.as_str() == "dim"));
                if let Some(q) = self.qualify(&call.func) {
                    return match q.as_slice() {
                        ["torch", name] if is_full_reduction(name) => args.len() == 1 && !by_dim,
                        ["torch", "tensor" | "scalar_tensor"] => args.first().is_some_and(is_number),
                        _ => false,
                    };
                }
                let name = attribute.attr.as_str();
                (is_full_reduction(name) && args.is_empty() && !by_dim)
                    || (matches!(name, "to" | "long" | "int" | "float" | "bool" | "half" | "clone" | "detach" | "cuda")
                        && self.is_scalar(&attribute.value))
            }
            Expr::BinOp(binop) => {
                (self.is_scalar(&binop.left) || self.is_scalar(&binop.right))
                    && self.is_scalar_operand(&binop.left)
                    && self.is_scalar_operand(&binop.right)
            }
            Expr::UnaryOp(unary) => self.is_scalar(&unary.operand),
            // An element of a 1-d tensor (`v[0]`, `v[-1]`, `v[i]` with `i` a Python int), or of a
            // tensor of another known rank indexed by as many numbers (`m[0, i]`).
            Expr::Subscript(subscript) => self.subscript_rank(subscript) == Some(0),
            _ => false,
        }
    }

    /// A 0-d tensor or a Python number: arithmetic between them stays 0-d.
    pub(super) fn is_scalar_operand(&self, expr: &'a Expr) -> bool {
        if is_number(expr) || self.is_scalar(expr) {
            return true;
        }
        match expr {
            Expr::Name(name) => {
                let ty = self.scopes.iter().rev().find_map(|s| s.vars.get(name.id.as_str()).copied());
                matches!(ty, Some(Ty::Int | Ty::Float | Ty::Bool))
            }
            _ => false,
        }
    }

    // ----- annotations ------------------------------------------------------------------------

    /// The rule-level type an annotation proves.
    pub(crate) fn annotation_ty(&self, annotation: &Expr) -> Ty {
        match annotation {
            Expr::StringLiteral(string) => match parse_annotation(&string_value(&string.value)) {
                Some(parsed) => self.annotation_ty(&parsed),
                None => Ty::Unknown,
            },
            Expr::NoneLiteral(_) => Ty::None,
            Expr::BinOp(binop) if binop.op == Operator::BitOr => {
                self.annotation_ty(&binop.left).join(self.annotation_ty(&binop.right))
            }
            Expr::Name(_) | Expr::Attribute(_) => {
                if let Expr::Name(name) = annotation {
                    if let Some(ty) = self.type_aliases.get(name.id.as_str()) {
                        return *ty;
                    }
                }
                let Some(segments) = self.dotted(annotation) else { return Ty::Unknown };
                if let Some(ty) = types::tensor_class(&segments) {
                    return ty;
                }
                match segments.as_slice() {
                    ["int"] => Ty::Int,
                    ["float"] => Ty::Float,
                    ["bool"] => Ty::Bool,
                    ["str"] => Ty::Str,
                    ["torch", "device"] => Ty::Device,
                    ["torch", "dtype"] => Ty::Dtype,
                    ["torch", "Size"] => Ty::Shape,
                    ["numpy", "ndarray"] | ["numpy", "typing", "NDArray"] => Ty::NdArray,
                    ["torch", "cuda", "Stream" | "Event"] | ["torch", "Stream" | "Event"] => Ty::Stream,
                    // `m: nn.Module`, `layer: nn.Linear`: a module, not a tensor.
                    ["torch", "nn", name] if name.starts_with(char::is_uppercase) => Ty::Layer,
                    _ => Ty::Unknown,
                }
            }
            Expr::Subscript(subscript) => {
                let head: SmallVec<[&str; 8]> = self.dotted(&subscript.value).unwrap_or_default();
                let last = head.last().copied().unwrap_or("");
                let elements: &[Expr] = match &*subscript.slice {
                    Expr::Tuple(tuple) => &tuple.elts,
                    other => std::slice::from_ref(other),
                };
                match last {
                    "Optional" | "Annotated" | "Final" | "ClassVar" => {
                        elements.first().map_or(Ty::Unknown, |e| self.annotation_ty(e))
                    }
                    "Union" => elements.iter().map(|e| self.annotation_ty(e)).reduce(Ty::join).unwrap_or(Ty::Unknown),
                    // `npt.NDArray[np.int64]`
                    "NDArray" if head.first() == Some(&"numpy") => Ty::NdArray,
                    "tuple" | "Tuple" | "list" | "List" | "Sequence" | "Iterable" | "Iterator" => {
                        let all_tensors = !elements.is_empty()
                            && elements
                                .iter()
                                .filter(|e| !matches!(e, Expr::EllipsisLiteral(_)))
                                .all(|e| self.annotation_ty(e).is_tensor());
                        if all_tensors {
                            Ty::Tensors
                        } else {
                            Ty::Unknown
                        }
                    }
                    _ => {
                        let from_array_lib = matches!(head.first(), Some(&("jaxtyping" | "torchtyping")));
                        let local = head.len() == 1;
                        match types::array_annotation(last) {
                            Some(ty)
                                if from_array_lib
                                    || (local && last != "Int" && last != "Float")
                                    || elements.first().is_some_and(|e| self.annotation_ty(e).is_tensor()) =>
                            {
                                ty
                            }
                            _ => Ty::Unknown,
                        }
                    }
                }
            }
            _ => Ty::Unknown,
        }
    }

    /// What a container annotation declares of its elements (`Dict[int, Tuple[P, torch.Tensor]]`,
    /// through `Optional[...]`, `X | None`, `Annotated[...]`); `None` for anything else.
    pub(super) fn annotation_declared(&mut self, annotation: &Expr) -> Option<Declared> {
        match annotation {
            Expr::StringLiteral(string) => self.annotation_declared(&parse_annotation(&string_value(&string.value))?),
            Expr::BinOp(binop) if binop.op == Operator::BitOr => match (&*binop.left, &*binop.right) {
                (Expr::NoneLiteral(_), other) | (other, Expr::NoneLiteral(_)) => self.annotation_declared(other),
                _ => None,
            },
            Expr::Subscript(subscript) => {
                let last = match &*subscript.value {
                    Expr::Name(name) => name.id.as_str(),
                    Expr::Attribute(attribute) => attribute.attr.as_str(),
                    _ => return None,
                };
                let parts: &[Expr] = match &*subscript.slice {
                    Expr::Tuple(tuple) => &tuple.elts,
                    other => std::slice::from_ref(other),
                };
                let mut element = |e: &Expr| self.declared_element(e);
                match (last, parts) {
                    ("Optional" | "Annotated" | "Final" | "ClassVar", [first, ..]) => self.annotation_declared(first),
                    ("Union", _) => match parts
                        .iter()
                        .filter(|p| !matches!(p, Expr::NoneLiteral(_)))
                        .collect::<SmallVec<[&Expr; 2]>>()[..]
                    {
                        [only] => self.annotation_declared(only),
                        _ => None,
                    },
                    ("tuple" | "Tuple", [first, Expr::EllipsisLiteral(_)]) => {
                        Some(Declared::Seq(Box::new(element(first))))
                    }
                    ("tuple" | "Tuple", _) if !parts.is_empty() => {
                        Some(Declared::Tuple(parts.iter().map(&mut element).collect()))
                    }
                    ("list" | "List" | "Sequence" | "MutableSequence" | "deque" | "Deque", [only]) => {
                        Some(Declared::Seq(Box::new(element(only))))
                    }
                    ("Iterable" | "Iterator" | "set" | "Set" | "frozenset" | "FrozenSet", [only]) => {
                        Some(Declared::Iter(Box::new(element(only))))
                    }
                    (
                        "dict" | "Dict" | "Mapping" | "MutableMapping" | "OrderedDict" | "DefaultDict" | "defaultdict",
                        [key, value],
                    ) => {
                        let key = element(key);
                        Some(Declared::Map(Box::new(key), Box::new(element(value))))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// What an element annotation of a container declares: a nested container, a type the rules
    /// know, or an instance of a class the file names (what calling it gives is found across
    /// files).
    fn declared_element(&mut self, element: &Expr) -> Declared {
        if let Some(declared) = self.annotation_declared(element) {
            return declared;
        }
        match self.annotation_ty(element) {
            Ty::Unknown => self.annotation_val(element).map_or(Declared::Leaf(Ty::Unknown), Declared::Instance),
            ty => Declared::Leaf(ty),
        }
    }

    /// [`Self::annotation_declared`] where it tells more than [`Self::annotation_ty`]: a
    /// container with tensors (or streams, arrays) among what it holds, or a list or tuple of
    /// anything (indexing one with a device tensor syncs), not itself typed.
    pub(super) fn declared_container(&mut self, annotation: &Expr) -> Option<Declared> {
        let subscripted = match annotation {
            Expr::Subscript(_) | Expr::BinOp(_) => true,
            Expr::StringLiteral(string) => string_value(&string.value).contains('['),
            _ => false,
        };
        if !subscripted {
            return None;
        }
        let declared = self.annotation_declared(annotation)?;
        ((declared.holds_arrays() || declared.is_sequence()) && self.annotation_ty(annotation) == Ty::Unknown)
            .then_some(declared)
    }

    /// The class-level annotations of `def` that declare containers (see
    /// [`Self::declared_container`]).
    pub(super) fn class_containers(&mut self, def: &'a ast::StmtClassDef) -> Vec<(NameId, Declared)> {
        let mut containers = Vec::new();
        for stmt in &def.body {
            let Stmt::AnnAssign(assign) = stmt else { continue };
            let Expr::Name(name) = &*assign.target else { continue };
            if let Some(declared) = self.declared_container(&assign.annotation) {
                containers.push((self.name(name.id.as_str()), declared));
            }
        }
        containers
    }

    // ----- declared containers ----------------------------------------------------------------

    /// `self.x: Dict[str, torch.Tensor] = {}` in a method: the class declares the container.
    pub(super) fn note_attribute_container(&mut self, target: &'a Expr, annotation: &Expr) {
        let Expr::Attribute(attribute) = target else { return };
        let Some(class) = self.self_attribute_owner(&attribute.value) else { return };
        let Some(declared) = self.declared_container(annotation) else { return };
        let name = self.name(attribute.attr.as_str());
        let containers = &mut self.summary.classes[class as usize].attr_containers;
        // (A class-level declaration comes first, and wins.)
        if !containers.iter().any(|(known, _)| *known == name) {
            containers.push((name, declared));
        }
    }

    /// Whether a container declaration can be known here: a parameter's, or in a re-check,
    /// another file's answer.
    fn knows_containers(&self) -> bool {
        !self.declared_params.is_empty() || self.foreign.is_some_and(|f| !f.containers.is_empty())
    }

    /// What `expr` is declared to hold: a parameter annotated as a container (not bound again),
    /// an attribute the project pass answered with one, an element of one (`d[k]`, `t[0]`), or
    /// `d.items()`, `d.values()`, `d.keys()` of a declared dict.
    fn declared_of(&self, expr: &'a Expr) -> Option<Declared> {
        match expr {
            Expr::Name(name) => {
                let index = self.unchanged_param(name.id.as_str())?;
                let declared = self.declared_params.get(&(self.current_func(), index))?;
                // A host copy by name (`lens_cpu`) holds no device tensors, whatever it declares.
                (!types::names_host_buffer(name.id.as_str())).then(|| declared.clone())
            }
            Expr::Attribute(_) => {
                let range = span(expr);
                self.foreign?.containers.get(&range_key(range.start as u32, range.end as u32)).cloned()
            }
            Expr::Subscript(subscript) => {
                let container = self.declared_of(&subscript.value)?;
                match &*subscript.slice {
                    Expr::Slice(_) => matches!(container, Declared::Seq(_)).then_some(container),
                    index => container.indexed(int_literal(index)).cloned(),
                }
            }
            // `enumerate(x)`, `zip(x, y)` over declared containers.
            Expr::Call(call) if matches!(&*call.func, Expr::Name(_)) && call.arguments.keywords.is_empty() => {
                let args = &call.arguments.args;
                let element = |arg: &'a Expr| Some(self.declared_of(arg)?.iterated()?.clone());
                let elements: Vec<Declared> = match self.qualify(&call.func)?.as_slice() {
                    ["builtins", "enumerate"] if args.len() == 1 => vec![Declared::Leaf(Ty::Int), element(&args[0])?],
                    ["builtins", "zip"] if !args.is_empty() => {
                        let elements: Vec<Option<Declared>> = args.iter().map(element).collect();
                        elements.iter().any(Option::is_some).then_some(())?;
                        elements.into_iter().map(|e| e.unwrap_or(Declared::Leaf(Ty::Unknown))).collect()
                    }
                    _ => return None,
                };
                Some(Declared::Iter(Box::new(Declared::Tuple(elements))))
            }
            Expr::Call(call) if call.arguments.is_empty() => {
                let Expr::Attribute(method) = &*call.func else { return None };
                let Declared::Map(key, value) = self.declared_of(&method.value)? else { return None };
                match method.attr.as_str() {
                    "items" => Some(Declared::Iter(Box::new(Declared::Tuple(vec![*key, *value])))),
                    "values" => Some(Declared::Iter(value)),
                    "keys" => Some(Declared::Iter(key)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The type of an element taken out of a declared container by a subscript, where the rules
    /// read it (a tensor, tensors, a stream, an array).
    pub(super) fn declared_element_ty(&self, subscript: &'a Expr) -> Option<Ty> {
        if !self.knows_containers() {
            return None;
        }
        Some(self.declared_of(subscript)?.ty()).filter(|ty| reads_as_array(*ty))
    }

    /// What the rules take `value` (of type `ty`) indexed by `index_tys` for: a declared list or
    /// tuple where a device tensor indexes it (which calls `__index__`), else `ty`.
    pub(super) fn declared_sequence(&self, value: &'a Expr, ty: Ty, index_tys: &[Ty]) -> Ty {
        if !ty.is_unproven() || !index_tys.iter().any(|t| t.is_device_tensor()) || !self.knows_containers() {
            return ty;
        }
        match self.declared_of(value) {
            Some(declared) if declared.is_sequence() => Ty::List,
            _ => ty,
        }
    }

    /// `for target in iter` (a loop or a comprehension), after the usual binding: the names that
    /// unpack a declared container's elements get their declared types. In the first pass,
    /// `x.attr.items()`/`.values()` keeps the question about `x.attr` (its elements are read
    /// through names the summary cannot trace back to it).
    pub(super) fn bind_declared_elements(&mut self, iter: &'a Expr, target: &'a Expr) {
        if self.foreign.is_none() {
            self.note_dict_view_read(iter);
        }
        if !self.knows_containers() {
            return;
        }
        let Some(container) = self.declared_of(iter) else { return };
        if let Some(element) = container.iterated() {
            self.bind_declared(target, element);
        }
    }

    /// `target = value` (after the usual binding), for a value taken out of a declared container
    /// (`processor, mask = info.pairs[k]`).
    pub(super) fn bind_declared_value(&mut self, targets: &'a [Expr], value: &'a Expr) {
        if !self.knows_containers() {
            return;
        }
        let Some(declared) = self.declared_of(value) else { return };
        for target in targets {
            self.bind_declared(target, &declared);
        }
    }

    fn bind_declared(&mut self, target: &'a Expr, declared: &Declared) {
        let elts = match target {
            Expr::Name(name) => {
                let ty = declared.ty();
                if reads_as_array(ty) {
                    self.bind(name.id.as_str(), ty);
                } else if let Declared::Calls(returns) = declared {
                    self.callable_names.insert((self.current_func(), name.id.as_str()), *returns);
                }
                return;
            }
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => elts,
            _ => return,
        };
        if elts.iter().any(Expr::is_starred_expr) {
            return;
        }
        match declared {
            Declared::Tuple(elements) if elements.len() == elts.len() => {
                for (target, element) in elts.iter().zip(elements) {
                    self.bind_declared(target, element);
                }
            }
            Declared::Seq(element) | Declared::Iter(element) => {
                for target in elts {
                    self.bind_declared(target, element);
                }
            }
            _ => {}
        }
    }

    /// In the first pass, a symbolic value indexed by what may be a tensor (see
    /// [`TypeQuestion::indexed`]).
    pub(super) fn note_indexed(&mut self, value: Ty) {
        if let Ty::Val(val) = value {
            self.indexed_reads.push(val);
        }
    }

    /// In the first pass, `for ... in x.attr.items()` (or `.values()`): the question about
    /// `x.attr` (just asked, if at all) is kept as read.
    fn note_dict_view_read(&mut self, iter: &Expr) {
        let Expr::Call(call) = iter else { return };
        let Expr::Attribute(method) = &*call.func else { return };
        if !call.arguments.is_empty()
            || !matches!(method.attr.as_str(), "items" | "values")
            || !matches!(&*method.value, Expr::Attribute(_))
        {
            return;
        }
        let range = span(&*method.value);
        let (start, end) = (range.start as u32, range.end as u32);
        // (Asked while `iter` was visited: among the last questions.)
        let question = self.summary.questions.iter().rev().take(16).find(|q| q.start == start && q.end == end);
        if let Some(question) = question.filter(|q| !q.call) {
            self.read_vals.push(question.val);
            self.element_reads.push(question.val);
        }
    }

    /// The class an annotation names, as a symbolic instance value (for call resolution).
    pub(super) fn annotation_val(&mut self, annotation: &Expr) -> Option<ValId> {
        match annotation {
            Expr::StringLiteral(string) => {
                let parsed = parse_annotation(&string_value(&string.value))?;
                self.annotation_val(&parsed)
            }
            Expr::Name(_) | Expr::Attribute(_) => {
                let class = self.class_val(annotation)?;
                Some(self.summary.add_val(Val::Declared(class)))
            }
            Expr::Subscript(subscript) => {
                let last = match &*subscript.value {
                    Expr::Name(name) => name.id.as_str(),
                    Expr::Attribute(attribute) => attribute.attr.as_str(),
                    _ => return None,
                };
                if let Some(elements) = container_elements(last, &subscript.slice) {
                    // `list[B]`, `dict[str, B]`: a container whose elements are declared `B`s.
                    let vals: SmallVec<[ValId; 4]> =
                        elements.into_iter().filter_map(|e| self.annotation_val(e)).collect();
                    if vals.is_empty() {
                        return None;
                    }
                    let items = self.summary.add_items(vals);
                    return Some(self.summary.add_val(Val::Collection(items)));
                }
                if matches!(last, "Type" | "type") {
                    // `Type[B]`: the class itself, which calls make instances of (sglang's
                    // `Set[Type[_BatchedPenalizer]]`, instantiated by the orchestrator).
                    return match &*subscript.slice {
                        Expr::StringLiteral(string) => {
                            let parsed = parse_annotation(&string_value(&string.value))?;
                            self.class_val(&parsed)
                        }
                        other => self.class_val(other),
                    };
                }
                if !matches!(last, "Optional" | "Union" | "Annotated") {
                    return None;
                }
                let elements: SmallVec<[&Expr; 4]> = match &*subscript.slice {
                    Expr::Tuple(tuple) if last != "Annotated" => tuple.elts.iter().collect(),
                    Expr::Tuple(tuple) => tuple.elts.first().into_iter().collect(),
                    other => SmallVec::from_elem(other, 1),
                };
                self.union_of(elements)
            }
            Expr::BinOp(binop) if binop.op == Operator::BitOr => {
                self.union_of(SmallVec::from_slice(&[&*binop.left, &*binop.right]))
            }
            _ => None,
        }
    }

    /// The class a dotted name in an annotation names, as a symbolic value; `None` for names of
    /// libraries and builtins the rules model themselves (`torch.Tensor`, `int`, `Any`).
    fn class_val(&mut self, name: &Expr) -> Option<ValId> {
        if !matches!(name, Expr::Name(_) | Expr::Attribute(_)) {
            return None;
        }
        let skip = {
            let segments = self.dotted(name)?;
            let head = segments[0];
            matches!(head, "torch" | "typing" | "builtins" | "numpy" | "jaxtyping" | "collections")
                || (segments.len() == 1
                    && (types::is_modelled_builtin(head) || matches!(head, "Any" | "Optional" | "Union" | "Callable")))
        };
        if skip {
            return None;
        }
        self.expr_val(name)
    }

    /// The class (or union of classes) an annotation declares; `None` for containers (what a
    /// `-> tuple[A, B]` gives is known element by element, not as a whole).
    pub(super) fn declared_class(&mut self, annotation: &Expr) -> Option<ValId> {
        let val = self.annotation_val(annotation)?;
        matches!(self.summary.vals[val as usize], Val::Declared(_) | Val::Union(_)).then_some(val)
    }

    /// (The elements on the stack: `Optional[...]` and `X | None` annotate many parameters.)
    fn union_of(&mut self, elements: SmallVec<[&Expr; 4]>) -> Option<ValId> {
        let vals: SmallVec<[ValId; 4]> = elements.into_iter().filter_map(|e| self.annotation_val(e)).collect();
        match vals.len() {
            0 => None,
            1 => Some(vals[0]),
            _ => {
                let items = self.summary.add_items(vals);
                Some(self.summary.add_val(Val::Union(items)))
            }
        }
    }

    /// A symbolic value for a dotted name (class bases, annotations).
    pub(super) fn expr_val(&mut self, expr: &Expr) -> Option<ValId> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                if let Some(val) = self.global_vals.get(id) {
                    return Some(*val);
                }
                let id = self.name_of(id);
                Some(self.summary.add_val(Val::Global(id)))
            }
            Expr::Attribute(attribute) => {
                let base = self.expr_val(&attribute.value)?;
                let name = self.name_of(attribute.attr.as_str());
                Some(self.summary.add_val(Val::Attr(base, name)))
            }
            _ => None,
        }
    }

    // ----- this file's classes ----------------------------------------------------------------

    fn is_local_class(&self, name: &str) -> bool {
        self.summary.classes.iter().any(|c| c.name == name)
    }

    /// The type of `self.<name>` in the current class (or its bases in this file).
    pub(super) fn self_attr_ty(&self, class: u32, name: &str) -> Ty {
        // (On the stack: it runs on every read of `self.x`.)
        let mut stack: SmallVec<[u32; 8]> = SmallVec::from_elem(class, 1);
        let mut seen = 0;
        while let Some(class) = stack.pop() {
            seen += 1;
            if seen > 32 {
                break;
            }
            let Some(info) = self.classes.get(class as usize) else { continue };
            if let Some(ty) = info.attr_tys.get(name) {
                return *ty;
            }
            stack.extend(info.local_bases.iter().copied());
        }
        Ty::Unknown
    }

    fn self_method_return(&self, class: u32, name: &str) -> Ty {
        self.classes.get(class as usize).and_then(|info| info.method_returns.get(name).copied()).unwrap_or(Ty::Unknown)
    }

    /// In the re-check, `self.m(..., x, ...)` or `f(..., x, ...)` (of this file) where the callee
    /// returns (arithmetic on) the parameter `x` fills and callers give that parameter a device
    /// tensor: the positions of such arguments (`zero_dim`: only parameters annotated as numbers,
    /// which hold 0-d tensors).
    fn given_tensor_returns(&self, call: &ast::ExprCall, zero_dim: bool) -> SmallVec<[usize; 2]> {
        let mut positions = SmallVec::new();
        let Some(foreign) = self.foreign.filter(|f| !f.param_returns.is_empty()) else { return positions };
        let qualname = match &*call.func {
            Expr::Attribute(attribute) => {
                let Some(class) = self.self_attribute_owner(&attribute.value) else { return positions };
                let Some(info) = self.summary.classes.get(class as usize) else { return positions };
                format!("{}.{}", info.name, attribute.attr.as_str())
            }
            Expr::Name(name) => name.id.to_string(),
            _ => return positions,
        };
        let Some(returns) = foreign.param_returns.get(&qualname) else { return positions };
        let params = if zero_dim { returns.zero_dim } else { returns.params };
        let first = u32::from(!returns.is_static);
        positions.extend((first..32).filter(|&i| params & (1 << i) != 0).map(|i| (i - first) as usize));
        positions
    }

    // ----- call results -----------------------------------------------------------------------

    /// Whether a call's tensor result holds booleans, where the call says so: an explicit dtype
    /// (`dtype=torch.bool`, `.to(torch.bool)`, `.type(torch.bool)`; any other torch dtype says it
    /// does not), or an operation that keeps the dtype of a boolean input (a device move, an
    /// in-place method, which returns its receiver, gathers and repeats of it, `*_like`).
    pub(super) fn with_dtype(&self, info: &CallInfo<'a, '_>, ty: Ty) -> Ty {
        let Ty::Tensor { host, .. } = ty else { return ty };
        let keyword =
            info.call.arguments.keywords.iter().find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "dtype"));
        let positional = || match info.method {
            Some("to" | "type") => info.call.arguments.args.iter().find(|arg| self.torch_dtype(arg).is_some()),
            _ => None,
        };
        if let Some(dtype) = keyword.map(|k| &k.value).or_else(positional) {
            return match self.torch_dtype(dtype) {
                Some(name) => Ty::Tensor { boolean: name == "bool", host },
                // (`dtype=x.dtype`: not known here.)
                None => ty,
            };
        }
        let input = match (info.method, info.qualified) {
            // (`.to(other)` takes `other`'s dtype.)
            (Some("to"), _) if info.args.iter().any(|t| t.is_tensor()) => return ty,
            (Some(name), _) if keeps_dtype_method(name) => info.receiver,
            (None, Some(["torch", name])) if keeps_dtype_function(name) => {
                info.args.first().copied().unwrap_or_default()
            }
            _ => return ty,
        };
        if input.is_bool_tensor() {
            Ty::Tensor { boolean: true, host }
        } else {
            ty
        }
    }

    /// `torch.bool`, `torch.long`, ...: the dtype's name.
    fn torch_dtype(&self, expr: &'a Expr) -> Option<&'a str> {
        match self.qualify(expr).as_deref() {
            Some(["torch", name]) if types::is_dtype_name(name) => Some(*name),
            _ => None,
        }
    }

    pub(super) fn call_result(&mut self, info: &CallInfo<'a, '_>, callee: Ty) -> Ty {
        let has_kw = |name: &str| info.keywords.iter().any(|(k, _)| *k == Some(name));
        if let Some(q) = info.qualified {
            return match q {
                ["builtins", name] => match *name {
                    "int" | "len" | "round" | "hash" | "id" => Ty::Int,
                    "float" => Ty::Float,
                    "bool" | "isinstance" | "hasattr" | "callable" | "any" | "all" => Ty::Bool,
                    "str" | "repr" | "format" => Ty::Str,
                    "list" | "sorted" => Ty::List,
                    "dict" => Ty::Dict,
                    "max" | "min" | "sum" | "abs" => info.args.iter().copied().reduce(Ty::join).unwrap_or(Ty::Unknown),
                    "super" => match self.scopes.iter().rev().find_map(|s| s.self_of) {
                        Some((_, class)) => Ty::Val(self.summary.add_val(Val::Super { class })),
                        None => Ty::Unknown,
                    },
                    _ => Ty::Unknown,
                },
                ["torch", "compile"]
                | ["torch", "compiler", "compile"]
                | ["torch", "cuda", "make_graphed_callables"] => info.args.first().copied().unwrap_or(Ty::Unknown),
                // `nn.ModuleList([...])`, `nn.Sequential(a, b)`: the elements, for the hot-path pass.
                ["torch", "nn", "ModuleList" | "Sequential" | "ModuleDict"] => {
                    let items = self.summary.add_items(
                        info.args.iter().chain(info.keywords.iter().map(|(_, t)| t)).filter_map(|t| {
                            if let Ty::Val(v) = t {
                                Some(*v)
                            } else {
                                None
                            }
                        }),
                    );
                    if items.len == 0 {
                        Ty::Layer
                    } else {
                        Ty::Val(self.summary.add_val(Val::Collection(items)))
                    }
                }
                ["torch", "device"] if info.call.arguments.args.first().is_some_and(rules::is_cpu_device) => {
                    Ty::HostDevice
                }
                ["torch", rest @ ..] => {
                    let on_device = self.factory_on_device(info.call, info.keyword_ty("device"));
                    let ty = types::torch_call_result(rest, info.args.len(), on_device, has_kw("dim"));
                    let computes = (rest.len() == 1 && !is_host_factory(rest[0]))
                        || matches!(rest, ["nn", "functional", _] | ["linalg" | "fft" | "special", _]);
                    match ty {
                        Ty::Tensor { boolean, host: true } if !rest.first().is_some_and(|n| is_host_factory(n)) => {
                            Ty::Tensor { boolean, host: false }
                        }
                        // `torch.as_tensor(t)` of a tensor keeps its device. (`torch.tensor(t)`
                        // copies a tensor too, but is written for data that is not one, where an
                        // `isinstance` test the types do not follow said so.)
                        Ty::Tensor { boolean, host: true }
                            if matches!(rest, ["as_tensor" | "asarray"])
                                && info.args.first().is_some_and(|t| t.is_device_tensor() || *t == Ty::Tensors) =>
                        {
                            Ty::Tensor { boolean, host: false }
                        }
                        // `torch.cat([a, b])`, `torch.where(c, x, 0)`, `F.pad(x)`: in the memory of
                        // their tensor inputs. (A tuple of host tensors is typed as one host tensor,
                        // as `Tensor` methods' tuples are: its elements and what it is stacked into
                        // are host tensors too.)
                        Ty::Tensor { boolean, .. } if computes => {
                            Ty::Tensor { boolean, host: self.computes_on_host(info) }
                        }
                        Ty::Tensors if computes && self.computes_on_host(info) => Ty::HOST_TENSOR,
                        other => other,
                    }
                }
                ["numpy", ..] => Ty::NdArray,
                ["logging", "getLogger"] => Ty::Logger,
                ["einops", "rearrange" | "repeat" | "reduce" | "einsum"] => Ty::TENSOR,
                _ => Ty::Unknown,
            };
        }
        if let Some(name) = info.method {
            // `d.get(key, [])`: the default says what the mapping holds.
            if name == "get" && info.args.len() == 2 && info.args[1] == Ty::List && !info.receiver.is_tensor() {
                return Ty::List;
            }
            // `.to("cpu")` lands in host memory whatever the receiver was.
            let to_host =
                name == "to" && (moves_to_host(info.call) || self.device_target_ty(info) == Some(Ty::HostDevice));
            return match info.receiver {
                Ty::Tensor { boolean, .. } if to_host => Ty::Tensor { boolean, host: true },
                Ty::Tensor { boolean, host: true } if name == "to" && self.targets_device(info) => {
                    Ty::Tensor { boolean, host: false }
                }
                // `x.type_as(other)` takes `other`'s device too.
                Ty::Tensor { boolean, host: true }
                    if name == "type_as" && info.args.first().is_some_and(|t| t.is_device_tensor()) =>
                {
                    Ty::Tensor { boolean, host: false }
                }
                // A tensor has none of these: the receiver was mistyped (a dict narrowed by
                // `isinstance`, a model output).
                Ty::Tensor { .. } if matches!(name, "items" | "keys" | "get") => Ty::Unknown,
                Ty::Tensor { host: true, .. } => {
                    match types::tensor_method_result(info.receiver, name, info.args.len(), has_kw("dim")) {
                        // `values, indices = x_cpu.max(dim=1)`: host tensors too.
                        Ty::Tensors => Ty::HOST_TENSOR,
                        other => other,
                    }
                }
                Ty::Tensor { .. } => types::tensor_method_result(info.receiver, name, info.args.len(), has_kw("dim")),
                Ty::NdArray => ndarray_method_result(name),
                // Only a tensor (or a DataFrame, also host data) has `.numpy()`; only a tensor or
                // a module has `.cpu()`, and a module has none of the methods the rules look at.
                Ty::Unknown if name == "numpy" => Ty::NdArray,
                Ty::Unknown if name == "cpu" || to_host => Ty::HOST_TENSOR,
                Ty::Val(_) if name == "numpy" => Ty::NdArray,
                Ty::Layer if types::returns_self_module(name) => Ty::Layer,
                Ty::Layer | Ty::Stream => Ty::Unknown,
                Ty::Str if name == "format" => Ty::Str,
                Ty::Val(_) => {
                    if let Some(receiver) = info.receiver_expr {
                        if let Some(class) = self.self_attribute_owner(receiver) {
                            if self.self_attr_ty(class, name) == Ty::Layer {
                                return Ty::TENSOR;
                            }
                            let returns = self.self_method_return(class, name);
                            if returns != Ty::Unknown {
                                return returns;
                            }
                            let given = self.given_tensor_returns(info.call, false);
                            if given.iter().any(|&p| info.args.get(p).is_some_and(|ty| ty.is_device_tensor())) {
                                return Ty::TENSOR;
                            }
                        }
                    }
                    match callee {
                        // (`d.values()`: the values of a dict the project pass holds as a container.)
                        Ty::Val(val) if may_return_instance(name) || name == "values" => {
                            Ty::Val(self.summary.add_val(Val::Call(val)))
                        }
                        _ => Ty::Unknown,
                    }
                }
                _ => Ty::Unknown,
            };
        }
        match callee {
            Ty::Layer => Ty::TENSOR,
            Ty::Val(val) => {
                if let Expr::Name(name) = &*info.call.func {
                    if let Some(ty) = self.function_returns.get(name.id.as_str()) {
                        return *ty;
                    }
                    let given = self.given_tensor_returns(info.call, false);
                    if given.iter().any(|&p| info.args.get(p).is_some_and(|ty| ty.is_device_tensor())) {
                        return Ty::TENSOR;
                    }
                    // (An element of a container may be a class: `for cls in classes: cls(...)`.)
                    let element = matches!(self.summary.vals[val as usize], Val::Elem(_));
                    if !element && !may_return_instance(name.id.as_str()) && !self.is_local_class(name.id.as_str()) {
                        return Ty::Unknown;
                    }
                }
                Ty::Val(self.summary.add_val(Val::Call(val)))
            }
            _ => Ty::Unknown,
        }
    }
}

/// Whether a torch factory call allocates on an accelerator: it names a `device=` other than the
/// CPU, and does not pin its memory (only host memory can be pinned; `pin_memory=` with a device
/// other than the CPU raises).
pub(super) fn allocates_on_device(call: &ast::ExprCall) -> bool {
    keyword(call, "device").is_some_and(|device| !is_pinned(call) && !rules::is_cpu_device(device))
}

/// `pin_memory=` given and not `False`.
fn is_pinned(call: &ast::ExprCall) -> bool {
    keyword(call, "pin_memory").is_some_and(|v| !matches!(v, Expr::BooleanLiteral(b) if !b.value))
}

/// `.to("cpu")`, `.to(device="cpu")`, `.to(torch.device("cpu"))`.
pub(super) fn moves_to_host(call: &ast::ExprCall) -> bool {
    keyword(call, "device").or(call.arguments.args.first()).is_some_and(rules::is_cpu_device)
}

/// `.to(device=d)`, `.to("cuda")`, `.to(x.device)`, `.to(device)`: a move to a device other
/// than the CPU (a first argument that may be a dtype is not one, unless its name says it is a
/// device).
pub(super) fn moves_to_device(call: &ast::ExprCall) -> bool {
    if let Some(device) = keyword(call, "device") {
        return !rules::is_cpu_device(device);
    }
    match call.arguments.args.first() {
        Some(Expr::Name(name)) => name.id.as_str().ends_with("device"),
        Some(first) => !rules::is_cpu_device(first) && rules::is_accelerator_device(first, Ty::Unknown),
        None => false,
    }
}

fn keyword<'e>(call: &'e ast::ExprCall, name: &str) -> Option<&'e Expr> {
    call.arguments.keywords.iter().find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name)).map(|k| &k.value)
}

/// The result of calling method `name` on a numpy array: arrays and numpy scalars (which have the
/// same `.item()`/`.tolist()`), both in host memory.
fn ndarray_method_result(name: &str) -> Ty {
    match name {
        "tolist" => Ty::List,
        "item" | "nonzero" => Ty::Unknown,
        _ => Ty::NdArray,
    }
}

/// The type a naming convention gives a value graphlint could not type otherwise: a name with a
/// `cpu` word (`query_start_loc_cpu`, `seq_lens_cpu_upper_bound`, a buffer's `.cpu` field) holds
/// host data, one with an `np`/`numpy` word (`token_ids_np`, a buffer's `.np` view) a numpy
/// array. Serving engines keep host mirrors of device buffers under such names, and a host
/// mirror is what makes their `.item()`/`.tolist()` cheap.
pub(super) fn host_by_name(name: &str) -> Option<Ty> {
    // Most names hold neither word (each has a `p`): one byte test first, then one pass over the
    // words (it runs on every name and attribute read).
    if !name.as_bytes().contains(&b'p') {
        return None;
    }
    let mut ndarray = false;
    for word in name.as_bytes().split(|&b| b == b'_') {
        match word {
            b"cpu" => return Some(Ty::HOST_TENSOR),
            b"np" | b"numpy" => ndarray = true,
            _ => {}
        }
    }
    ndarray.then_some(Ty::NdArray)
}

/// Reductions that give a 0-d tensor when called without a dimension.
fn is_full_reduction(name: &str) -> bool {
    matches!(
        name,
        "max"
            | "min"
            | "sum"
            | "mean"
            | "prod"
            | "argmax"
            | "argmin"
            | "any"
            | "all"
            | "amax"
            | "amin"
            | "median"
            | "nansum"
            | "nanmean"
            | "std"
            | "var"
            | "norm"
            | "count_nonzero"
    )
}

/// The value of an integer literal, possibly negated.
fn int_literal(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::NumberLiteral(number) => match &number.value {
            ast::Number::Int(int) => int.as_i64(),
            _ => None,
        },
        Expr::UnaryOp(unary) if unary.op == ast::UnaryOp::USub => int_literal(&unary.operand).map(|n| -n),
        _ => None,
    }
}

/// Types the rules read in a value taken out of a declared container.
fn reads_as_array(ty: Ty) -> bool {
    matches!(ty, Ty::Tensor { .. } | Ty::Tensors | Ty::Stream | Ty::NdArray)
}

/// An integer literal, possibly negated (`0`, `-1`).
fn is_int_literal(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(number) => matches!(number.value, ast::Number::Int(_)),
        Expr::UnaryOp(unary) => unary.op == ast::UnaryOp::USub && is_int_literal(&unary.operand),
        _ => false,
    }
}

fn is_minus_one(expr: &Expr) -> bool {
    matches!(expr, Expr::UnaryOp(unary) if unary.op == ast::UnaryOp::USub
        && matches!(&*unary.operand, Expr::NumberLiteral(n) if matches!(&n.value, ast::Number::Int(i) if i.as_u8() == Some(1))))
}

fn is_number(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(_) | Expr::BooleanLiteral(_) => true,
        Expr::UnaryOp(unary) => is_number(&unary.operand),
        _ => false,
    }
}

/// Tensor methods whose result has the receiver's dtype (beyond the views and copies that
/// `types::tensor_method_result` already keeps it for): device moves, gathers, repeats, and
/// in-place methods, which return the receiver.
fn keeps_dtype_method(name: &str) -> bool {
    matches!(
        name,
        "to" | "cuda"
            | "cpu"
            | "pin_memory"
            | "view_as"
            | "reshape_as"
            | "unflatten"
            | "movedim"
            | "swapaxes"
            | "swapdims"
    ) || gathers_or_repeats(name)
        || (name.ends_with('_') && !name.starts_with('_'))
}

/// Gathers and repeats, as tensor methods and as `torch` functions: their result has their
/// input's dtype.
fn gathers_or_repeats(name: &str) -> bool {
    matches!(
        name,
        "repeat_interleave" | "index_select" | "gather" | "take" | "take_along_dim" | "masked_select" | "tile"
    )
}

/// `torch` functions whose result has their first argument's dtype.
fn keeps_dtype_function(name: &str) -> bool {
    gathers_or_repeats(name)
        || matches!(
            name,
            "clone"
                | "flatten"
                | "roll"
                | "flip"
                | "squeeze"
                | "unsqueeze"
                | "reshape"
                | "narrow"
                | "permute"
                | "transpose"
                | "movedim"
                | "zeros_like"
                | "ones_like"
                | "empty_like"
                | "full_like"
        )
}

/// Whether a function's inferred return is kept for the calls of `name` after it in this file:
/// array types (the rules' subject), and Python lists (a tensor indexed by one uploads it) from
/// functions whose results the project pass does not track anyway.
pub(super) fn returns_seen_by_callers(name: &str, ty: Ty) -> bool {
    ty.is_tensor() || matches!(ty, Ty::Tensors | Ty::NdArray) || (ty == Ty::List && !may_return_instance(name))
}

/// Whether calling something of this name can give a value the hot-path pass can use: the
/// project pass only follows constructors (class names are capitalised), `from_pretrained`-style
/// factories and methods that return the module itself (`.to()`, `.eval()`). Other call results
/// are not tracked, so no symbolic value is kept for them.
fn may_return_instance(name: &str) -> bool {
    name.starts_with(char::is_uppercase)
        || matches!(name, "from_pretrained" | "from_config" | "_from_config" | "load_from_checkpoint")
        || types::returns_self_module(name)
}

/// Factories that allocate in host memory unless given `device=`.
fn is_host_factory(name: &str) -> bool {
    matches!(
        name,
        "tensor"
            | "as_tensor"
            | "asarray"
            | "zeros"
            | "ones"
            | "empty"
            | "full"
            | "arange"
            | "range"
            | "linspace"
            | "logspace"
            | "rand"
            | "randn"
            | "randint"
            | "randperm"
            | "eye"
            | "tril_indices"
            | "triu_indices"
            | "empty_strided"
            | "frombuffer"
            | "from_numpy"
            | "get_rng_state"
    ) || types::is_legacy_constructor(name)
}

pub(super) fn binop_ty(op: Operator, left: Ty, right: Ty) -> Ty {
    match (left, right) {
        (Ty::Tensor { boolean: b1, host: h1 }, Ty::Tensor { boolean: b2, host: h2 }) => {
            let boolean = b1 && b2 && matches!(op, Operator::BitAnd | Operator::BitOr | Operator::BitXor);
            Ty::Tensor { boolean, host: h1 && h2 }
        }
        (Ty::Tensor { boolean, host }, _) | (_, Ty::Tensor { boolean, host }) => {
            let boolean = boolean && matches!(op, Operator::BitAnd | Operator::BitOr | Operator::BitXor);
            Ty::Tensor { boolean, host }
        }
        // Arithmetic on a numpy array (or a numpy scalar) stays on the host.
        (Ty::NdArray, _) | (_, Ty::NdArray) => Ty::NdArray,
        (Ty::Int | Ty::Bool, Ty::Int | Ty::Bool) if op == Operator::Div => Ty::Float,
        (Ty::Int | Ty::Bool, Ty::Int | Ty::Bool) => Ty::Int,
        (Ty::Int | Ty::Float, Ty::Int | Ty::Float) => Ty::Float,
        (Ty::Shape, Ty::Shape) if op == Operator::Add => Ty::Shape,
        (Ty::Str, _) if matches!(op, Operator::Add | Operator::Mod) => Ty::Str,
        (Ty::List, Ty::List) => Ty::List,
        _ => Ty::Unknown,
    }
}

/// The element annotations of a container annotation (`list[B]`, `Sequence[B]`, `tuple[B, C]`,
/// `tuple[B, ...]`, `dict[K, B]`), or `None` when `head` is not a container.
fn container_elements<'e>(head: &str, slice: &'e Expr) -> Option<Vec<&'e Expr>> {
    let parts: Vec<&Expr> = match slice {
        Expr::Tuple(tuple) => tuple.elts.iter().filter(|e| !matches!(e, Expr::EllipsisLiteral(_))).collect(),
        other => vec![other],
    };
    match head {
        "list" | "List" | "Sequence" | "MutableSequence" | "Iterable" | "Iterator" | "set" | "Set" | "frozenset"
        | "deque" | "Deque" | "tuple" | "Tuple" => Some(parts),
        "dict" | "Dict" | "Mapping" | "MutableMapping" | "OrderedDict" => Some(parts.into_iter().skip(1).collect()),
        _ => None,
    }
}
