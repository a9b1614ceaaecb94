//! The traversal of expressions: conditions, attributes, subscripts and calls, each handed to the
//! rules that care about it and recorded for the hot-path pass.

use smallvec::SmallVec;

use super::inference::{binop_ty, host_by_name, moves_to_host};
use super::Checker;
use crate::python::adapter::{
    ast, span, CmpOp, Expr, ExprContext, InterpolatedStringElement, Number, Operator, UnaryOp,
};
use crate::python::rules::{self, CallInfo, TestContext};
use crate::python::summary::*;
use crate::python::types::{self, range_key, Ty};

impl<'a> Checker<'a> {
    /// Visits a condition: `and`/`or`/`not` are looked through, every operand is truth-tested.
    pub(super) fn test(&mut self, expr: &'a Expr, context: TestContext) -> Ty {
        match expr {
            Expr::BoolOp(boolop) => {
                for value in &boolop.values {
                    self.test(value, context);
                }
                Ty::Bool
            }
            Expr::UnaryOp(unary) if unary.op == UnaryOp::Not => {
                self.test(&unary.operand, context);
                Ty::Bool
            }
            _ => {
                let ty = self.expr(expr);
                self.note_read(expr, ty);
                if ty.is_device_tensor() {
                    rules::on_truth_test(self, expr, context);
                }
                ty
            }
        }
    }

    pub(crate) fn expr(&mut self, expr: &'a Expr) -> Ty {
        // Deeply nested expressions recurse deeply: grow the stack instead of overflowing it.
        // Checked every 16 levels (a level takes well under 2 KiB, the red zone is 128 KiB).
        self.expr_depth += 1;
        let calls_before = self.summary.calls.len();
        let ty = if self.expr_depth.is_multiple_of(16) {
            stacker::maybe_grow(128 * 1024, 8 * 1024 * 1024, || self.expr_inner(expr))
        } else {
            self.expr_inner(expr)
        };
        self.expr_depth -= 1;
        self.foreign_ty(expr, ty, calls_before)
    }

    fn expr_inner(&mut self, expr: &'a Expr) -> Ty {
        match expr {
            Expr::Name(name) => match name.ctx {
                ExprContext::Load => {
                    if !std::mem::take(&mut self.in_callee) {
                        self.note_private_ref(name.id.as_str());
                    }
                    let ty = self.lookup(name.id.as_str());
                    self.named(name.id.as_str(), ty)
                }
                _ => Ty::Unknown,
            },
            Expr::Attribute(attribute) => {
                self.note_private_ref(attribute.attr.as_str());
                let ty = self.attribute(attribute);
                self.named(attribute.attr.as_str(), ty)
            }
            Expr::Call(call) => {
                let ty = self.call(call);
                self.kept_field_read(expr).unwrap_or(ty)
            }
            Expr::Subscript(subscript) => {
                let ty = self.subscript(subscript, None);
                self.kept_field_read(expr).unwrap_or(ty)
            }
            Expr::BinOp(binop) => {
                let left = self.expr(&binop.left);
                let right = self.expr(&binop.right);
                if binop.op == Operator::Mod && matches!(left, Ty::Str) {
                    rules::format_tensor::check_percent(self, binop, right);
                }
                binop_ty(binop.op, left, right)
            }
            Expr::UnaryOp(unary) => {
                let operand = self.expr(&unary.operand);
                if unary.op == UnaryOp::Not {
                    self.note_read(&unary.operand, operand);
                }
                match unary.op {
                    UnaryOp::Not => {
                        if operand.is_device_tensor() {
                            rules::tensor_bool_operator::check_not(self, unary);
                        }
                        Ty::Bool
                    }
                    _ => match operand {
                        Ty::Tensor { .. } | Ty::Int | Ty::Float => operand,
                        Ty::Bool => Ty::Int,
                        _ => Ty::Unknown,
                    },
                }
            }
            Expr::BoolOp(boolop) => {
                let mut result: Option<Ty> = None;
                let last = boolop.values.len().saturating_sub(1);
                for (index, value) in boolop.values.iter().enumerate() {
                    let ty = self.expr(value);
                    if index < last {
                        self.note_read(value, ty);
                    }
                    if index < last && ty.is_device_tensor() {
                        rules::tensor_bool_operator::check_operand(self, boolop.op, value);
                    }
                    result = Some(result.map_or(ty, |r| r.join(ty)));
                }
                result.unwrap_or(Ty::Unknown)
            }
            Expr::Compare(compare) => {
                let left = self.expr(&compare.left);
                let mut operands: SmallVec<[Ty; 4]> = SmallVec::from_elem(left, 1);
                for comparator in compare.comparators.iter() {
                    operands.push(self.expr(comparator));
                }
                // `x is None` reads no value.
                if !compare.ops.iter().all(|op| matches!(op, CmpOp::Is | CmpOp::IsNot)) {
                    for (expr, &operand) in
                        std::iter::once(&*compare.left).chain(compare.comparators.iter()).zip(&operands)
                    {
                        self.note_read(expr, operand);
                    }
                }
                // `Tensor.__contains__` raises for anything but a tensor or a number, so a string
                // tested with `in` proves that the container is not a tensor after all.
                for (index, (op, container)) in compare.ops.iter().zip(compare.comparators.iter()).enumerate() {
                    let (element, ty) = (operands[index], operands[index + 1]);
                    if !matches!(op, CmpOp::In | CmpOp::NotIn) {
                        continue;
                    }
                    if ty.is_device_tensor() && element != Ty::Str {
                        rules::tensor_membership::check(self, compare, container);
                    } else if element.is_device_tensor() && is_sequence(container, ty) {
                        let element = if index == 0 { &*compare.left } else { &compare.comparators[index - 1] };
                        rules::tensor_membership::check_sequence(self, compare, element, container);
                    }
                }
                let identity =
                    compare.ops.iter().any(|op| matches!(op, CmpOp::Is | CmpOp::IsNot | CmpOp::In | CmpOp::NotIn));
                match types::compared_mask(operands.iter().copied()) {
                    Some(mask) if !identity => mask,
                    _ => Ty::Bool,
                }
            }
            Expr::If(ternary) => {
                self.test(&ternary.test, TestContext::Ternary);
                let body = self.expr(&ternary.body);
                let orelse = self.expr(&ternary.orelse);
                match (body, orelse) {
                    (Ty::Val(a), Ty::Val(b)) => {
                        let items = self.summary.add_items([a, b]);
                        Ty::Val(self.summary.add_val(Val::Union(items)))
                    }
                    (Ty::Val(a), Ty::None | Ty::Unknown) | (Ty::None | Ty::Unknown, Ty::Val(a)) => Ty::Val(a),
                    // `layers if layers is not None else []`: the empty default adds no element.
                    (Ty::Val(a), _) if is_empty_display(&ternary.orelse) => Ty::Val(a),
                    (_, Ty::Val(a)) if is_empty_display(&ternary.body) => Ty::Val(a),
                    _ => body.join(orelse),
                }
            }
            Expr::Lambda(lambda) => {
                // A lambda that only builds a message (`torch_compilable_check(ok, lambda:
                // f"...{int(n)}")`) runs when the check fails or the message is shown.
                if builds_a_message(&lambda.body) {
                    self.error_path += 1;
                    self.push_region(RegionKind::ErrorPath, span(expr).start);
                    self.expr(&lambda.body);
                    self.regions.pop();
                    self.error_path -= 1;
                } else {
                    self.expr(&lambda.body);
                }
                Ty::Unknown
            }
            Expr::Named(named) => {
                let ty = self.expr(&named.value);
                self.assign(&named.target, ty);
                ty
            }
            Expr::Tuple(ast::ExprTuple { elts, .. })
            | Expr::List(ast::ExprList { elts, .. })
            | Expr::Set(ast::ExprSet { elts, .. }) => {
                let tys: SmallVec<[Ty; 8]> = elts.iter().map(|e| self.expr(e)).collect();
                let sequence = !matches!(expr, Expr::Set(_));
                if sequence {
                    self.note_sequence_shape(expr, elts, &tys);
                }
                if sequence && elts.iter().zip(&tys).any(|(e, t)| t.is_device_tensor() || self.holds_device_tensors(e))
                {
                    self.device_tensor_literals.insert(span(expr).start as u32);
                } else if sequence
                    && !elts.is_empty()
                    && elts.iter().zip(&tys).all(|(e, t)| t.is_host_tensor() || self.holds_host_tensors(e))
                {
                    self.host_tensor_literals.insert(span(expr).start as u32);
                }
                let items =
                    self.summary.add_items(tys.iter().filter_map(|t| if let Ty::Val(v) = t { Some(*v) } else { None }));
                if items.len > 0 {
                    return Ty::Val(self.summary.add_val(Val::Collection(items)));
                }
                if matches!(expr, Expr::List(_)) && !tys.is_empty() && tys.iter().all(|t| *t == Ty::List) {
                    self.list_of_lists_literals.insert(span(expr).start as u32);
                }
                match expr {
                    Expr::Tuple(_) if !tys.is_empty() && tys.iter().all(|t| *t == Ty::Int) => Ty::Shape,
                    Expr::Tuple(_) if !tys.is_empty() && tys.iter().all(|t| t.is_tensor()) => Ty::Tensors,
                    Expr::List(_) => Ty::List,
                    _ => Ty::Unknown,
                }
            }
            Expr::Dict(dict) => {
                let mut vals: SmallVec<[ValId; 8]> = SmallVec::new();
                for item in &dict.items {
                    if let Some(key) = &item.key {
                        self.expr(key);
                    }
                    if let Ty::Val(val) = self.expr(&item.value) {
                        vals.push(val);
                    }
                }
                if vals.is_empty() {
                    Ty::Dict
                } else {
                    let items = self.summary.add_items(vals);
                    Ty::Val(self.summary.add_val(Val::Collection(items)))
                }
            }
            Expr::ListComp(comp) => {
                self.comprehension(&comp.generators);
                let element = self.expr(&comp.elt);
                self.note_comprehension_shape(expr, None, &comp.elt, element);
                if element.is_device_tensor() || self.holds_device_tensors(&comp.elt) {
                    self.device_tensor_literals.insert(span(expr).start as u32);
                } else if element.is_host_tensor() || self.holds_host_tensors(&comp.elt) {
                    self.host_tensor_literals.insert(span(expr).start as u32);
                } else if element == Ty::List {
                    self.list_of_lists_literals.insert(span(expr).start as u32);
                }
                match element {
                    Ty::Val(val) => {
                        let items = self.summary.add_items([val]);
                        Ty::Val(self.summary.add_val(Val::Collection(items)))
                    }
                    _ => Ty::List,
                }
            }
            Expr::SetComp(comp) => {
                self.comprehension(&comp.generators);
                self.expr(&comp.elt);
                Ty::Unknown
            }
            Expr::Generator(comp) => {
                self.comprehension(&comp.generators);
                self.expr(&comp.elt);
                Ty::Unknown
            }
            Expr::DictComp(comp) => {
                self.comprehension(&comp.generators);
                let key = comp.key.as_ref().map_or(Ty::Unknown, |key| self.expr(key));
                let value = self.expr(&comp.value);
                self.note_comprehension_shape(expr, Some(key), &comp.value, value);
                // Its values, as a dict display's (`{cls: cls(self) for cls in classes}`).
                match value {
                    Ty::Val(val) => {
                        let items = self.summary.add_items([val]);
                        Ty::Val(self.summary.add_val(Val::Collection(items)))
                    }
                    _ => Ty::Dict,
                }
            }
            Expr::Await(inner) => self.expr(&inner.value),
            Expr::Yield(inner) => {
                self.note_yield();
                if let Some(value) = &inner.value {
                    self.expr(value);
                }
                Ty::Unknown
            }
            Expr::YieldFrom(inner) => {
                self.note_yield();
                self.expr(&inner.value);
                Ty::Unknown
            }
            Expr::Starred(starred) => self.expr(&starred.value),
            Expr::FString(fstring) => {
                for element in fstring.value.elements() {
                    self.interpolated_element(element);
                }
                Ty::Str
            }
            Expr::TString(tstring) => {
                for element in tstring.value.elements() {
                    self.interpolated_element(element);
                }
                Ty::Unknown
            }
            Expr::StringLiteral(literal) => {
                // `getattr(self, "_decode")(...)`: a private function called by its name in a
                // string, with arguments no call site records.
                let text = literal.value.to_str();
                if text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    self.note_private_ref(text);
                }
                Ty::Str
            }
            Expr::BytesLiteral(_) => Ty::Str,
            Expr::NumberLiteral(number) => match number.value {
                Number::Int(_) => Ty::Int,
                Number::Float(_) => Ty::Float,
                Number::Complex { .. } => Ty::Unknown,
            },
            Expr::BooleanLiteral(_) => Ty::Bool,
            Expr::NoneLiteral(_) => Ty::None,
            Expr::EllipsisLiteral(_) | Expr::IpyEscapeCommand(_) => Ty::Unknown,
            Expr::Slice(slice) => {
                for bound in [&slice.lower, &slice.upper, &slice.step].into_iter().flatten() {
                    self.expr(bound);
                }
                Ty::Unknown
            }
        }
    }

    fn interpolated_element(&mut self, element: &'a InterpolatedStringElement) {
        if let InterpolatedStringElement::Interpolation(interpolation) = element {
            let ty = self.expr(&interpolation.expression);
            self.note_read(&interpolation.expression, ty);
            if ty.is_device_tensor() {
                rules::format_tensor::check_interpolation(self, &interpolation.expression);
            }
            if let Some(spec) = &interpolation.format_spec {
                for nested in spec.elements.iter() {
                    self.interpolated_element(nested);
                }
            }
        }
    }

    fn comprehension(&mut self, generators: &'a [ast::Comprehension]) {
        for generator in generators {
            if let (Some(element), _) = self.iteration(&generator.iter, &generator.target) {
                self.assign(&generator.target, element);
            }
            self.bind_declared_elements(&generator.iter, &generator.target);
            self.note_iterated_elements(&generator.iter, &generator.target);
            for condition in &generator.ifs {
                self.test(condition, TestContext::Comprehension);
            }
        }
    }

    fn attribute(&mut self, attribute: &'a ast::ExprAttribute) -> Ty {
        if let Some(q) = self.qualify(&attribute.value) {
            // `torch.float32`, `torch.bool`: attributes of modules are dtypes, classes, submodules.
            if q[0] == "torch" {
                let name = attribute.attr.as_str();
                let is_dtype = q.len() == 1
                    && (name.starts_with("float")
                        || name.starts_with("int")
                        || name.starts_with("uint")
                        || name.starts_with("bfloat")
                        || name.starts_with("complex")
                        || matches!(name, "bool" | "half" | "double" | "long" | "short"));
                return if is_dtype { Ty::Dtype } else { Ty::Unknown };
            }
            if q[0] != "builtins" {
                return self.lookup_dotted(attribute);
            }
        }
        let receiver = self.expr(&attribute.value);
        let name = attribute.attr.as_str();
        match receiver {
            Ty::Tensor { .. } => types::tensor_attribute(receiver, name),
            Ty::Tensors if matches!(name, "values" | "indices") => Ty::TENSOR,
            Ty::Val(val) => {
                if let Some(class) = self.self_attribute_owner(&attribute.value) {
                    let read = self.self_attr_val(class, name);
                    self.note_attr_read(read);
                    let ty = self.self_attr_ty(class, name);
                    if ty != Ty::Unknown {
                        return ty;
                    }
                    return Ty::Val(read);
                }
                let read = self.attr_val(val, name);
                self.note_attr_read(read);
                Ty::Val(read)
            }
            _ => Ty::Unknown,
        }
    }

    /// An attribute read the project pass takes for a call when it names a property.
    fn note_attr_read(&mut self, val: ValId) {
        // A re-check's summary is not used.
        if self.foreign.is_some() {
            return;
        }
        let read = AttrRead { func: self.current_func(), region: self.regions.last().copied(), val };
        if self.attr_reads_seen.capacity() == 0 {
            // Sized from the file (about one read per 330 bytes on the transformers corpus) so
            // that it rarely rehashes; only membership is asked of it.
            self.attr_reads_seen.reserve(self.context.source.len() / 512);
        }
        if self.attr_reads_seen.insert(read) {
            self.summary.attr_reads.push(read);
        }
    }

    /// `module.attr` of an import that is not torch (a project module or third-party package).
    fn lookup_dotted(&mut self, attribute: &'a ast::ExprAttribute) -> Ty {
        match self.expr(&attribute.value) {
            Ty::Val(val) => Ty::Val(self.attr_val(val, attribute.attr.as_str())),
            _ => Ty::Unknown,
        }
    }

    pub(super) fn subscript(&mut self, subscript: &'a ast::ExprSubscript, stored: Option<Ty>) -> Ty {
        let value = self.expr(&subscript.value);
        let value = self.host_view(&subscript.value, value);
        let elements: &'a [Expr] = match &*subscript.slice {
            Expr::Tuple(tuple) => &tuple.elts,
            other => std::slice::from_ref(other),
        };
        let mut index_tys: SmallVec<[Ty; 4]> = SmallVec::new();
        for element in elements {
            match element {
                Expr::Slice(slice) => {
                    for bound in [&slice.lower, &slice.upper, &slice.step].into_iter().flatten() {
                        if self.foreign.is_none() {
                            self.note_param_reads(bound);
                        }
                        let ty = self.expr(bound);
                        if ty.is_device_tensor() {
                            rules::tensor_as_index::check_slice_bound(self, bound);
                        }
                    }
                    index_tys.push(Ty::Int);
                }
                other => index_tys.push(self.expr(other)),
            }
        }
        if self.foreign.is_none() {
            for (element, &ty) in elements.iter().zip(&index_tys) {
                self.note_read(element, ty);
            }
            // Indexed by what may be a mask or a 0-d tensor (not by numbers, slices, `None`, `...`).
            // (`...` and `None` index nothing.)
            let by_value = |(e, t): (&Expr, &Ty)| {
                !matches!(e, Expr::EllipsisLiteral(_) | Expr::NoneLiteral(_)) && (t.is_unproven() || t.is_tensor())
            };
            if elements.iter().zip(&index_tys).any(by_value) {
                self.note_read(&subscript.value, value);
                self.note_indexed(value);
            }
        }
        // A tensor (or numpy array) indexed by a 0-d tensor reads the index on the host (lists,
        // tuples and shapes are reported for any tensor index by `on_subscript`; a container of
        // unknown type may be a dict, which hashes a tensor by identity).
        if matches!(value, Ty::Tensor { .. } | Ty::NdArray) {
            for (element, ty) in elements.iter().zip(&index_tys) {
                if ty.is_device_tensor() && !ty.is_bool_tensor() && self.is_scalar(element) {
                    rules::tensor_as_index::check_scalar_index(self, element);
                }
            }
        }
        let indexed = self.declared_sequence(&subscript.value, value, &index_tys);
        rules::on_subscript(self, subscript, indexed, elements, &index_tys, stored);
        match value {
            Ty::Tensor { boolean, host } => {
                if stored.is_none() {
                    Ty::Tensor { boolean, host }
                } else {
                    Ty::Unknown
                }
            }
            Ty::Tensors => Ty::TENSOR,
            Ty::Shape => {
                if matches!(&*subscript.slice, Expr::Slice(_)) {
                    Ty::Shape
                } else {
                    Ty::Int
                }
            }
            Ty::NdArray => Ty::NdArray,
            Ty::Val(val) if stored.is_none() => {
                let call = CallSite {
                    func: self.current_func(),
                    region: self.regions.last().copied(),
                    callee: val,
                    kind: CallKind::GetItem,
                    args: Items::default(),
                    kwargs: Items::default(),
                };
                self.summary.calls.push(call);
                Ty::Val(self.summary.add_val(Val::Elem(val)))
            }
            _ => Ty::Unknown,
        }
    }

    fn call(&mut self, call: &'a ast::ExprCall) -> Ty {
        let func = &*call.func;
        let qualified = self.qualify(func);
        let external = qualified.as_ref().is_some_and(|q| {
            matches!(q[0], "builtins" | "torch" | "numpy" | "logging" | "einops" | "math" | "warnings" | "operator")
        });
        let mut method = None;
        let mut receiver = Ty::Unknown;
        let mut receiver_expr = None;
        let mut callee = Ty::Unknown;
        if !external {
            match func {
                Expr::Attribute(attribute) => {
                    method = Some(attribute.attr.as_str());
                    receiver_expr = Some(&*attribute.value);
                    receiver = self.expr(&attribute.value);
                    if let Ty::Val(val) = receiver {
                        callee = Ty::Val(self.attr_val(val, attribute.attr.as_str()));
                    }
                    // The project pass follows the symbolic value (in `callee`); the rules and the
                    // result see what is known of its memory. Methods that return a module itself
                    // keep the value symbolic.
                    let viewed = self.host_view(&attribute.value, receiver);
                    if viewed != receiver && !types::returns_self_module(attribute.attr.as_str()) {
                        receiver = viewed;
                    }
                }
                other => {
                    self.in_callee = matches!(other, Expr::Name(_));
                    callee = self.expr(other);
                    self.in_callee = false;
                }
            }
        }
        // A private function called where the summary records no call site (`x[0]._helper(...)`):
        // what it passes is not known.
        if !external && !matches!(callee, Ty::Val(_)) {
            match func {
                Expr::Attribute(attribute) => self.note_private_ref(attribute.attr.as_str()),
                Expr::Name(name) => self.note_private_ref(name.id.as_str()),
                _ => {}
            }
        }

        let mut args: SmallVec<[Ty; 6]> = SmallVec::new();
        for arg in call.arguments.args.iter() {
            args.push(self.expr(arg));
        }
        let mut keywords: SmallVec<[(Option<&'a str>, Ty); 4]> = SmallVec::new();
        for keyword in call.arguments.keywords.iter() {
            keywords.push((keyword.arg.as_ref().map(|a| a.as_str()), self.expr(&keyword.value)));
        }

        let info = CallInfo {
            call,
            qualified: if external { qualified.as_deref() } else { None },
            method,
            receiver,
            receiver_expr,
            args: &args,
            keywords: &keywords,
        };
        if self.foreign.is_none() {
            if let (Some(name), Some(expr)) = (method, receiver_expr) {
                if rules::is_rule_method(name) {
                    self.note_read(expr, receiver);
                }
            }
            if external
                && qualified.as_deref().is_some_and(|q| q[0] == "builtins" || rules::is_rule_method(q[q.len() - 1]))
            {
                for (expr, &ty) in call.arguments.args.iter().zip(&args) {
                    self.note_read(expr, ty);
                }
                for (keyword, &(_, ty)) in call.arguments.keywords.iter().zip(&keywords) {
                    self.note_read(&keyword.value, ty);
                }
            }
        }
        rules::on_call(self, &info);
        if let Some(q) = info.qualified {
            self.note_type_test(q, call);
        }
        let mut result = self.call_result(&info, callee);
        if let (Expr::Name(name), true) = (func, result.is_unproven() && !self.callable_names.is_empty()) {
            // An instance taken out of a declared container, whose class's call gives a tensor.
            if let Some(&returns) = self.callable_names.get(&(self.current_func(), name.id.as_str())) {
                result = returns;
            }
        }
        let result = self.with_dtype(&info, result);
        if let (Some(name), Ty::Val(val)) = (method, result) {
            if name == "cpu" || (name == "to" && moves_to_host(call)) {
                self.host_vals.insert(val, Ty::HOST_TENSOR);
            }
        }

        // What the hot-path pass needs to know about this call.
        if let Some(q) = info.qualified {
            match q {
                ["torch", "compile"] | ["torch", "compiler", "compile"] => {
                    if let Some(Ty::Val(val)) = args.first() {
                        self.summary.root_sites.push(RootSite { value: *val, reason: RootReason::Compiled });
                    }
                }
                ["torch", "cuda", "make_graphed_callables"] | ["torch", "cuda", "graphs", "make_graphed_callables"] => {
                    if let Some(Ty::Val(val)) = args.first() {
                        self.summary.root_sites.push(RootSite { value: *val, reason: RootReason::Graphed });
                    }
                }
                _ => {}
            }
        }
        if let Some(name) = method {
            // An optimizer's, LR scheduler's or grad scaler's `step` takes at most one argument
            // (a closure, a metric, the optimizer); a diffusion scheduler's `step(model_output,
            // timestep, sample)` is the denoising step itself, not training.
            let optimizer_step = name == "step"
                && args.len() + keywords.len() <= 1
                && receiver_expr.is_some_and(|r| {
                    let text = self.text(r).to_ascii_lowercase();
                    text.contains("optim") || text.contains("sched") || text.contains("scaler")
                });
            if matches!(name, "backward" | "zero_grad") || optimizer_step {
                self.mark_training();
            }
        }
        // A denoising step takes the model output, the timestep and the sample.
        let called = method.or(match func {
            Expr::Name(name) => Some(name.id.as_str()),
            _ => None,
        });
        let denoising = match called {
            Some("set_timesteps" | "retrieve_timesteps") => Some(DenoisingCall::SetTimesteps),
            Some("step")
                if args.len() + keywords.len() >= 2
                    && receiver_expr.is_some_and(|r| self.text(r).to_ascii_lowercase().contains("scheduler")) =>
            {
                Some(DenoisingCall::Step)
            }
            _ => None,
        };
        if let Some(denoising) = denoising.filter(|_| self.foreign.is_none()) {
            self.summary.denoising_calls.push((denoising, self.regions.last().copied()));
        }
        if let Ty::Val(val) = callee {
            let start = self.summary.call_args.len();
            self.summary.call_args.extend(args.iter().map(|t| if let Ty::Val(v) = t { Some(*v) } else { None }));
            let call_args = Items { start: start as u32, len: args.len() as u32 };
            let start = self.summary.call_kwargs.len();
            for (name, ty) in &keywords {
                if let (Some(name), Ty::Val(val)) = (name, ty) {
                    let name = self.name(name);
                    self.summary.call_kwargs.push((name, *val));
                }
            }
            let call_kwargs = Items { start: start as u32, len: (self.summary.call_kwargs.len() - start) as u32 };
            let call_site = CallSite {
                func: self.current_func(),
                region: self.regions.last().copied(),
                callee: val,
                kind: CallKind::Call,
                args: call_args,
                kwargs: call_kwargs,
            };
            // For the types that cross files (`project/declared.rs`).
            let index = self.summary.calls.len() as u32;
            if self.foreign.is_none() {
                self.note_literal_args(call, index);
            }
            self.note_argument_types(call, index, val, &args, &keywords);
            self.note_field_kwargs(call, val, &keywords);
            for (position, (arg, ty)) in call.arguments.args.iter().zip(&args).enumerate().take(32) {
                if types::is_host_value(*ty, &self.context.source[span(arg)]) {
                    self.summary.host_args.push((index, position as u32));
                }
            }
            for (keyword, (name, ty)) in call.arguments.keywords.iter().zip(&keywords) {
                if let Some(name) =
                    name.filter(|_| types::is_host_value(*ty, &self.context.source[span(&keyword.value)]))
                {
                    let name = self.name(name);
                    self.summary.host_kwargs.push((index, name));
                }
            }
            self.summary.calls.push(call_site);
        }
        // `x.numpy()` raises on a CUDA tensor (unless `force=True`): past it, `x` is a host tensor.
        if let (Some("numpy"), Some(Expr::Name(name))) = (method, receiver_expr) {
            let forced = call.arguments.keywords.iter().any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "force"));
            let name = name.id.as_str();
            if !forced && self.scopes.last().is_some_and(|scope| scope.vars.contains_key(name)) {
                self.bind(name, Ty::HOST_TENSOR);
            }
        }
        result
    }

    /// What call site `index` (of `callee`) passes, for the parameters' types across files: the
    /// device tensors it passes, by position or keyword; the arguments other files' answers may
    /// prove (a call result asked about, or an element of one); and the host data it passes (for
    /// a private or local callee, or a method of a private class: their callers are all in the
    /// tree).
    fn note_argument_types(
        &mut self,
        call: &'a ast::ExprCall,
        index: u32,
        callee: ValId,
        args: &[Ty],
        keywords: &[(Option<&'a str>, Ty)],
    ) {
        if self.foreign.is_some() {
            return; // A re-check's summary is not used.
        }
        let private = |name: &str| name.starts_with('_') && !name.ends_with("__");
        // A private name, or a function this file defines (all of a local function's callers are
        // here; a module function's calls are recorded too, and the project pass keeps its own).
        let closed = match self.summary.vals[callee as usize] {
            Val::Func(_) => true,
            Val::Global(name) | Val::Attr(_, name) => private(self.summary.names.get(name)),
            Val::Import(path) => self.summary.names.get(path.dotted).rsplit('.').next().is_some_and(private),
            _ => false,
        };
        let row = self.row(span(call).start);
        let (mut positions, mut host, mut scalars) = (0u32, 0u32, 0u32);
        for (position, (expr, &ty)) in call.arguments.args.iter().zip(args).enumerate().take(32) {
            self.note_forwarded_arg(expr, index, position as u32, None, row);
            let data = types::host_data(self.host_view(expr, ty));
            if ty.is_device_tensor() {
                positions |= 1 << position;
            } else if data == Some(types::HostData::Array) {
                host |= 1 << position;
            } else if data == Some(types::HostData::Scalar) {
                scalars |= 1 << position;
            }
            if !ty.is_device_tensor() && (data.is_none() || !closed) {
                self.note_answered_arg(expr, index, position as u32, None, row);
            }
        }
        for (keyword, &(name, ty)) in call.arguments.keywords.iter().zip(keywords) {
            let Some(name) = name else { continue };
            let data = types::host_data(self.host_view(&keyword.value, ty));
            let name = self.name(name);
            self.summary.closed_kwargs.push((index, name, data));
            self.note_forwarded_arg(&keyword.value, index, u32::MAX, Some(name), row);
            if ty.is_device_tensor() {
                self.summary.tensor_kwargs.push((index, name, row));
            } else if data.is_none() || !closed {
                self.note_answered_arg(&keyword.value, index, u32::MAX, Some(name), row);
            }
        }
        // Every call that passes arguments: the project pass also decides the parameters of
        // methods of private classes, which calls of any name reach (`self.transform(...)`).
        if positions != 0 || closed || !call.arguments.is_empty() {
            let spread = call.arguments.args.iter().any(Expr::is_starred_expr)
                || call.arguments.keywords.iter().any(|k| k.arg.is_none());
            self.summary.tensor_args.push(TensorArgs { call: index, positions, row, host, scalars, spread, closed });
        }
    }

    /// `isinstance(x, ...)` or `torch.is_tensor(x)` on a parameter `x`: the function takes values
    /// of several types.
    fn note_type_test(&mut self, qualified: &[&str], call: &'a ast::ExprCall) {
        let tested = match (qualified, call.arguments.args.first()) {
            (["torch", "is_tensor"] | ["builtins", "isinstance"], Some(Expr::Name(name))) => name,
            _ => return,
        };
        let Some(scope) = self.scopes.last() else { return };
        let name = tested.id.as_str();
        let index = scope.params.iter().position(|param| *param == name).map(|i| i as u32);
        // `timesteps = timestep` then `torch.is_tensor(timesteps)` tests the parameter too.
        if let Some(index) = index.or_else(|| self.param_aliases.get(&(scope.func, name)).copied()).filter(|&i| i < 32)
        {
            let func = scope.func;
            self.summary.funcs[func as usize].tested_params |= 1 << index;
        }
    }

    /// An argument that passes one of the current function's parameters on unchanged, or a name
    /// bound to one (`t = timestep`, then `self._variance(t)`).
    fn note_forwarded_arg(&mut self, expr: &Expr, call: u32, position: u32, keyword: Option<NameId>, row: u32) {
        if let Expr::Name(name) = expr {
            let name = name.id.as_str();
            let func = self.current_func();
            let param = self.unchanged_param(name).or_else(|| self.param_aliases.get(&(func, name)).copied());
            let (param, derived) = match param {
                Some(param) => (Some(param), false),
                None => (self.derived_params.get(&(func, name)).copied(), true),
            };
            if let Some(param) = param {
                self.summary.forwarded_args.push(ForwardedArg { call, position, keyword, param, row, derived });
            }
        }
    }

    /// An argument that is a call result the file asks other files about, or a name bound to
    /// one (or to one element of one): recorded so that the answer reaches the parameter.
    fn note_answered_arg(&mut self, expr: &Expr, call: u32, position: u32, keyword: Option<NameId>, row: u32) {
        if self.unknown_calls.is_empty() && self.unknown_names.is_empty() {
            return;
        }
        let found = match expr {
            Expr::Call(_) => {
                let range = span(expr);
                self.unknown_calls.get(&range_key(range.start as u32, range.end as u32)).map(|&val| (val, None))
            }
            Expr::Name(name) => self.unknown_names.get(&(self.current_func(), name.id.as_str())).copied(),
            _ => None,
        };
        if let Some((callee, element)) = found {
            self.summary.answered_args.push(AnsweredArg { call, position, keyword, callee, element, row });
        }
    }

    /// What is known of the memory of `expr`, of type `ty`, beyond its type: a `.cpu()` or
    /// `.to("cpu")` result kept symbolic for the project pass is host data, and so is an unproven
    /// value named by the host-mirror convention ([`host_by_name`]).
    pub(super) fn host_view(&self, expr: &Expr, ty: Ty) -> Ty {
        if let (Ty::Val(val), false) = (ty, self.host_vals.is_empty()) {
            if let Some(host) = self.host_vals.get(&val) {
                return *host;
            }
        }
        if !ty.is_unproven() {
            return ty;
        }
        let name = match expr {
            Expr::Name(name) => name.id.as_str(),
            Expr::Attribute(attribute) => attribute.attr.as_str(),
            _ => return ty,
        };
        host_by_name(name).unwrap_or(ty)
    }

    /// What the name of a value says of its memory ([`host_by_name`]): a tensor named as the host
    /// mirror (`seq_lens_cpu: torch.Tensor`; the annotation proves a tensor, the name its memory)
    /// is host data, and so is a symbolic value so named, wherever it flows.
    fn named(&mut self, name: &str, ty: Ty) -> Ty {
        match ty {
            Ty::Tensor { boolean, host: false } if host_by_name(name) == Some(Ty::HOST_TENSOR) => {
                Ty::Tensor { boolean, host: true }
            }
            Ty::Val(val) => {
                if let Some(host) = host_by_name(name) {
                    self.host_vals.insert(val, host);
                }
                ty
            }
            other => other,
        }
    }

    fn mark_training(&mut self) {
        for region in &self.regions {
            self.summary.regions[*region as usize].training = true;
        }
        let func = self.current_func();
        self.summary.funcs[func as usize].trains = true;
    }
}

/// Whether `container` (of type `ty`) is a Python list or tuple, whose `in` compares the element
/// with each item by `==` (a set or dict hashes instead, and a tensor hashes by identity).
fn is_sequence(container: &Expr, ty: Ty) -> bool {
    match container {
        Expr::List(list) => !list.elts.is_empty(),
        Expr::Tuple(tuple) => !tuple.elts.is_empty(),
        _ => matches!(ty, Ty::List | Ty::Tensors),
    }
}

/// `[]`, `()`, `{}`: a display with nothing in it.
fn is_empty_display(expr: &Expr) -> bool {
    match expr {
        Expr::List(list) => list.elts.is_empty(),
        Expr::Tuple(tuple) => tuple.elts.is_empty(),
        Expr::Dict(dict) => dict.items.is_empty(),
        _ => false,
    }
}

/// An f-string, or a concatenation or `%`-formatting with one: the text of a message.
fn builds_a_message(expr: &Expr) -> bool {
    match expr {
        Expr::FString(_) => true,
        Expr::BinOp(binop) if matches!(binop.op, ast::Operator::Add | ast::Operator::Mod) => {
            builds_a_message(&binop.left) || matches!(&*binop.left, Expr::StringLiteral(_))
        }
        _ => false,
    }
}
