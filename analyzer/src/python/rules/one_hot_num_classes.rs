use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::{Expr, Number, UnaryOp};

declare_rule! {
    /// ## What it does
    /// Flags `F.one_hot(x)` without `num_classes` (or with `num_classes=-1`).
    ///
    /// ## Why is this bad?
    /// Without a class count, the output width is `x.max() + 1`, which PyTorch reads back to the
    /// host.
    ///
    /// ## Example
    /// ```python
    /// onehot = F.one_hot(labels)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// onehot = F.one_hot(labels, num_classes=self.n_classes)
    /// ```
    ///
    /// ## Known false positives
    /// None.
    pub static RULE = Rule { code: "GL506", name: "one-hot-num-classes", family: DynamicShape, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if !call.is(&["torch", "nn", "functional", "one_hot"]) {
        return;
    }
    let num_classes = call.keyword("num_classes").or_else(|| call.arg(1));
    let inferred = match num_classes {
        None => true,
        Some(Expr::UnaryOp(unary)) => {
            unary.op == UnaryOp::USub
                && matches!(&*unary.operand, Expr::NumberLiteral(n) if matches!(&n.value, Number::Int(i) if i.as_u64() == Some(1)))
        }
        Some(_) => false,
    };
    if inferred {
        checker.report_call(
            &RULE,
            call,
            "`one_hot` without `num_classes` reads `x.max()` back to the host to size its output".to_string(),
            "pass `num_classes=` so the output width is known without a sync",
        );
    }
}
