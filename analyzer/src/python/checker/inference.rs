//! Type inference beyond the traversal: what annotations prove, what this file's classes give
//! `self.x` and their methods, what a call returns, what an operator gives.

use smallvec::SmallVec;

use super::Checker;
use crate::python::adapter::{parse_annotation, string_value, Expr, Operator};
use crate::python::rules::CallInfo;
use crate::python::summary::*;
use crate::python::types::{self, Ty};

impl<'a> Checker<'a> {
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

    /// The class an annotation names, as a symbolic instance value (for call resolution).
    pub(super) fn annotation_val(&mut self, annotation: &Expr) -> Option<ValId> {
        match annotation {
            Expr::StringLiteral(string) => {
                let parsed = parse_annotation(&string_value(&string.value))?;
                self.annotation_val(&parsed)
            }
            Expr::Name(_) | Expr::Attribute(_) => {
                let skip = {
                    let segments = self.dotted(annotation)?;
                    let head = segments[0];
                    matches!(head, "torch" | "typing" | "builtins" | "numpy" | "jaxtyping" | "collections")
                        || (segments.len() == 1
                            && (types::is_modelled_builtin(head)
                                || matches!(head, "Any" | "Optional" | "Union" | "Callable")))
                };
                if skip {
                    return None;
                }
                let class = self.expr_val(annotation)?;
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
                if !matches!(last, "Optional" | "Union" | "Annotated") {
                    return None;
                }
                let elements: Vec<&Expr> = match &*subscript.slice {
                    Expr::Tuple(tuple) if last != "Annotated" => tuple.elts.iter().collect(),
                    Expr::Tuple(tuple) => tuple.elts.first().into_iter().collect(),
                    other => vec![other],
                };
                self.union_of(elements)
            }
            Expr::BinOp(binop) if binop.op == Operator::BitOr => self.union_of(vec![&binop.left, &binop.right]),
            _ => None,
        }
    }

    fn union_of(&mut self, elements: Vec<&Expr>) -> Option<ValId> {
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
        let mut stack = vec![class];
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

    // ----- call results -----------------------------------------------------------------------

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
                ["torch", rest @ ..] => {
                    let ty = types::torch_call_result(rest, info.args.len(), has_kw("device"), has_kw("dim"));
                    // `torch.zeros_like(x)`, `torch.cat([...])` keep the device of their input.
                    match ty {
                        Ty::Tensor { boolean, host: true } if !rest.first().is_some_and(|n| is_host_factory(n)) => {
                            Ty::Tensor { boolean, host: false }
                        }
                        Ty::Tensor { boolean, .. } if rest.len() == 1 && !is_host_factory(rest[0]) => {
                            let host = info.args.first().is_some_and(|t| t.is_host_tensor());
                            Ty::Tensor { boolean, host }
                        }
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
            return match info.receiver {
                Ty::Tensor { .. } => types::tensor_method_result(info.receiver, name, info.args.len(), has_kw("dim")),
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
                        }
                    }
                    match callee {
                        Ty::Val(val) if may_return_instance(name) => Ty::Val(self.summary.add_val(Val::Call(val))),
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
                    if !may_return_instance(name.id.as_str()) && !self.is_local_class(name.id.as_str()) {
                        return Ty::Unknown;
                    }
                }
                Ty::Val(self.summary.add_val(Val::Call(val)))
            }
            _ => Ty::Unknown,
        }
    }
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
    )
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
