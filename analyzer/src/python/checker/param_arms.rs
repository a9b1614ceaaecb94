//! What the project pass needs to find `if` arms that no call in the tree takes: the arms of a
//! private function that run only for some values of one of its parameters ([`ParamArm`]), the
//! literals that calls of private functions pass ([`LiteralArg`]), and the private names read
//! other than as the callee of a recorded call (`FileSummary::private_refs`), which may hide calls
//! no call site describes. The project pass (`project/constants.rs`) decides.

use smallvec::SmallVec;

use super::Checker;
use crate::python::adapter::{ast, span, string_value, BoolOp, CmpOp, Expr, Number, UnaryOp};
use crate::python::summary::*;

/// A condition on a parameter for an arm to run: (parameter, test, the result it must give).
pub(super) type ArmCondition = (u32, ArmTest, bool);
pub(super) type ArmConditions = SmallVec<[ArmCondition; 2]>;

/// A private name: `_helper`, `__mangled`, not a dunder.
pub(super) fn is_private(name: &str) -> bool {
    name.starts_with('_') && !name.ends_with("__")
}

/// Whether the arms of a function's `if`s are worth recording: a function without decorators
/// other than `@staticmethod` (one may register or wrap it, and a classmethod takes its class
/// first), whose body rebinds no name of an enclosing scope (`nonlocal`, which could rebind a
/// parameter from a nested function). The project pass decides a private function's arms from
/// every call, a public one's only where some call passes a training-only value.
pub(super) fn records_arms(def: &ast::StmtFunctionDef, source: &str, file_has_nonlocal: bool) -> bool {
    def.decorator_list.iter().all(|d| matches!(&d.expression, Expr::Name(n) if n.id.as_str() == "staticmethod"))
        && !(file_has_nonlocal && source[span(def)].contains("nonlocal"))
}

impl<'a> Checker<'a> {
    /// A literal the project pass can compare: `None`, `True`/`False`, an int, a string.
    pub(super) fn literal(&mut self, expr: &Expr) -> Option<Const> {
        match expr {
            Expr::NoneLiteral(_) => Some(Const::None),
            Expr::BooleanLiteral(b) => Some(Const::Bool(b.value)),
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(int) => int.as_i64().map(Const::Int),
                _ => None,
            },
            Expr::UnaryOp(u) if u.op == UnaryOp::USub => match self.literal(&u.operand)? {
                Const::Int(i) => i.checked_neg().map(Const::Int),
                _ => None,
            },
            Expr::StringLiteral(s) => Some(Const::Str(self.name_of(&string_value(&s.value)))),
            _ => None,
        }
    }

    /// The conditions on the current function's parameters that `test` giving `want` requires
    /// (`not p` gives `want` when `p` does not; `a and b` is true only when both are, `a or b`
    /// false only when both are). Only in a function whose arms are recorded.
    pub(super) fn arm_conditions(&mut self, test: &Expr, want: bool, out: &mut ArmConditions) {
        if self.scopes.last().is_none_or(|scope| scope.arm_defaults.is_none()) {
            return;
        }
        match test {
            Expr::UnaryOp(u) if u.op == UnaryOp::Not => self.arm_conditions(&u.operand, !want, out),
            Expr::BoolOp(b) if (b.op == BoolOp::And) == want => {
                for value in &b.values {
                    self.arm_conditions(value, want, out);
                }
            }
            Expr::Name(_) => {
                if let Some(param) = self.arm_param(test) {
                    out.push((param, ArmTest::Truthy, want));
                }
            }
            Expr::Compare(compare) if compare.ops.len() == 1 => {
                let (left, right) = (&*compare.left, &compare.comparators[0]);
                let (param, other) = match (self.arm_param(left), self.arm_param(right)) {
                    (Some(param), _) => (param, right),
                    (None, Some(param)) => (param, left),
                    _ => return,
                };
                let Some(value) = self.literal(other) else { return };
                let identity = matches!(value, Const::None | Const::Bool(_));
                let condition = match compare.ops[0] {
                    CmpOp::Is if identity => (param, ArmTest::Is(value), want),
                    CmpOp::IsNot if identity => (param, ArmTest::Is(value), !want),
                    CmpOp::Eq => (param, ArmTest::Equals(value), want),
                    CmpOp::NotEq => (param, ArmTest::Equals(value), !want),
                    _ => return,
                };
                out.push(condition);
            }
            _ => {}
        }
    }

    /// The index of the parameter `expr` names, if it still holds what the caller passed and is
    /// one a caller passes by position or keyword (not the receiver, `*args` or `**kwargs`).
    fn arm_param(&self, expr: &Expr) -> Option<u32> {
        let Expr::Name(name) = expr else { return None };
        let param = self.unchanged_param(name.id.as_str())?;
        let defaults = self.scopes.last()?.arm_defaults.as_ref()?;
        defaults.get(param as usize).copied().flatten().map(|_| param)
    }

    /// Visits an arm's body, inside a [`RegionKind::ParamArm`] region when it has conditions.
    pub(super) fn arm_body(&mut self, body: &'a [ast::Stmt], conditions: &ArmConditions, offset: usize) {
        if conditions.is_empty() {
            self.body(body);
            return;
        }
        self.push_arm_region(conditions, offset);
        self.body(body);
        self.regions.pop();
    }

    /// Opens a region that runs only when `conditions` hold, and records them (first pass only).
    pub(super) fn push_arm_region(&mut self, conditions: &ArmConditions, offset: usize) {
        self.push_region(RegionKind::ParamArm, offset);
        if self.foreign.is_none() {
            let region = *self.regions.last().expect("pushed");
            let func = self.current_func();
            for &(param, test, runs_when) in conditions {
                let default = self
                    .scopes
                    .last()
                    .and_then(|scope| scope.arm_defaults.as_ref())
                    .and_then(|defaults| defaults.get(param as usize).copied().flatten())
                    .unwrap_or(ParamDefault::Other);
                self.summary.param_arms.push(ParamArm { region, func, param, test, runs_when, default });
            }
        }
    }

    /// At the end of a function's visit: drops the conditions on parameters its body bound again
    /// (`rebound`, bit `i` for parameter `i`), which no longer hold what the caller passed.
    pub(super) fn drop_rebound_arms(&mut self, func: FuncIdx, rebound: u32) {
        if rebound != 0 {
            self.summary
                .param_arms
                .retain(|arm| arm.func != func || arm.param >= 32 || rebound & (1 << arm.param) == 0);
        }
    }

    /// The defaults of a function's parameters (`None` for the receiver, `*args` and
    /// `**kwargs`), in the summary's order of parameters. A public function's arms are decided only
    /// where calls pass training-only values, which are `False`: only its parameters that default
    /// to `False` or `None` have one (the others are `None`, and their arms are not recorded).
    pub(super) fn arm_defaults(
        &mut self,
        parameters: &ast::Parameters,
        receiver: bool,
        public: bool,
    ) -> SmallVec<[Option<ParamDefault>; 6]> {
        let mut defaults = SmallVec::new();
        let default = |checker: &mut Self, param: &ast::ParameterWithDefault| {
            let default = match param.default.as_deref() {
                None => ParamDefault::Required,
                Some(value) => checker.literal(value).map_or(ParamDefault::Other, ParamDefault::Literal),
            };
            let falsy = matches!(default, ParamDefault::Literal(Const::Bool(false) | Const::None));
            (!public || falsy).then_some(default)
        };
        for (index, param) in parameters.posonlyargs.iter().chain(parameters.args.iter()).enumerate() {
            defaults.push(if index == 0 && receiver { None } else { default(self, param) });
        }
        if parameters.vararg.is_some() {
            defaults.push(None);
        }
        for param in &parameters.kwonlyargs {
            defaults.push(default(self, param));
        }
        if parameters.kwarg.is_some() {
            defaults.push(None);
        }
        defaults
    }

    /// A private name read other than as the callee of a recorded call (see
    /// `FileSummary::private_refs`), once per file. First pass only.
    pub(super) fn note_private_ref(&mut self, name: &'a str) {
        if self.foreign.is_none() && is_private(name) {
            let id = self.name(name);
            if self.private_refs_seen.insert(id) {
                self.summary.private_refs.push(id);
            }
        }
    }

    /// What call `index` (of a private function) passes as literals, by position and keyword
    /// (see [`LiteralArg`]). First pass only.
    pub(super) fn note_literal_args(&mut self, call: &'a ast::ExprCall, index: u32) {
        let spread = call.arguments.args.iter().any(Expr::is_starred_expr)
            || call.arguments.keywords.iter().any(|k| k.arg.is_none());
        if spread {
            let (keyword, training) = (0, false);
            let arg = LiteralArg { call: index, slot: LiteralArg::SPREAD, keyword, value: None, training };
            self.summary.literal_args.push(arg);
            return;
        }
        for (position, arg) in call.arguments.args.iter().enumerate() {
            let (value, training) = self.argument_literal(arg);
            if let Some(value) = value {
                let arg = LiteralArg { call: index, slot: position as u32, keyword: 0, value: Some(value), training };
                self.summary.literal_args.push(arg);
            }
        }
        for keyword in call.arguments.keywords.iter() {
            let Some(name) = &keyword.arg else { continue };
            let (value, training) = self.argument_literal(&keyword.value);
            let keyword = self.name(name.as_str());
            self.summary.literal_args.push(LiteralArg {
                call: index,
                slot: LiteralArg::KEYWORD,
                keyword,
                value,
                training,
            });
        }
    }

    /// The literal an argument is, and whether it is one only because it holds only in training
    /// (`self.training and ...`, or a local bound to that): then `False`, as when the model infers.
    fn argument_literal(&mut self, arg: &'a Expr) -> (Option<Const>, bool) {
        let training = match arg {
            Expr::Name(name) => {
                !self.training_flags.is_empty()
                    && self.training_flags.contains(&(self.current_func(), name.id.as_str()))
            }
            // `self.training and p > 0`, or `self.training` itself (`drop_path(x, p, self.training)`).
            Expr::BoolOp(_) | Expr::Attribute(_) => self.training_test(arg) == Some(true),
            _ => false,
        };
        if training {
            return (Some(Const::Bool(false)), true);
        }
        (self.literal(arg), false)
    }
}
