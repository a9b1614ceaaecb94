use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::Expr;

declare_rule! {
    /// ## What it does
    /// Flags `torch.distributions` constructors given a device tensor (`Normal(loc, scale)`,
    /// `Categorical(logits=logits)`) while argument validation is on: no `validate_args=False` in
    /// the call and no `Distribution.set_default_validate_args(False)` in the file.
    ///
    /// ## Why is this bad?
    /// Validation is on by default (it follows Python's `__debug__`, so only `python -O` turns it
    /// off). With it on, the constructor checks every parameter against its constraint (positive
    /// scale, probabilities on the simplex, finite logits...) on the device and then asks Python
    /// whether all of it holds (`if not valid.all(): raise ...`): a read-back and a wait for the
    /// device each time a distribution is built, typically once per sampling step. `log_prob`
    /// and `cdf` check their argument the same way.
    ///
    /// ## Example
    /// ```python
    /// dist = torch.distributions.Categorical(logits=logits)
    /// token = dist.sample()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// dist = torch.distributions.Categorical(logits=logits, validate_args=False)
    /// ```
    /// Or call `torch.distributions.Distribution.set_default_validate_args(False)` once at start-up.
    ///
    /// ## Known false positives
    /// A process started with `python -O` does not validate. Validation switched off in another
    /// file (a global `set_default_validate_args(False)` at import time) is not seen; add the call
    /// or `validate_args=False` where the distribution is built. Constructors given only Python
    /// numbers or values not proven to be tensors are not reported.
    pub static RULE = Rule { code: "GL406", name: "distribution-validation", family: ControlFlow, language: Python }
}

/// The distributions whose constructor validates tensor parameters. The wrappers (`Independent`,
/// `MixtureSameFamily`, `TransformedDistribution`) take distributions, validated when built.
const VALIDATING: &[&str] = &[
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "Chi2",
    "ContinuousBernoulli",
    "Dirichlet",
    "Exponential",
    "FisherSnedecor",
    "Gamma",
    "GeneralizedPareto",
    "Geometric",
    "Gumbel",
    "HalfCauchy",
    "HalfNormal",
    "InverseGamma",
    "Kumaraswamy",
    "LKJCholesky",
    "Laplace",
    "LogNormal",
    "LogisticNormal",
    "LowRankMultivariateNormal",
    "Multinomial",
    "MultivariateNormal",
    "NegativeBinomial",
    "Normal",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "Pareto",
    "Poisson",
    "RelaxedBernoulli",
    "RelaxedOneHotCategorical",
    "StudentT",
    "Uniform",
    "VonMises",
    "Weibull",
    "Wishart",
];

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    // `torch.distributions.Normal` or `torch.distributions.normal.Normal`.
    let name = match call.qualified {
        Some(["torch", "distributions", name]) | Some(["torch", "distributions", _, name]) => *name,
        _ => return,
    };
    if !VALIDATING.contains(&name) {
        return;
    }
    if let Some(flag) = call.keyword("validate_args") {
        // Only a literal `True` (or `None`, the default) keeps validation on for sure.
        if !matches!(flag, Expr::BooleanLiteral(b) if b.value) && !matches!(flag, Expr::NoneLiteral(_)) {
            return;
        }
    }
    let tensor_arg = call.args.iter().chain(call.keywords.iter().map(|(_, ty)| ty)).any(|ty| ty.is_device_tensor());
    if !tensor_arg || checker.source_contains("set_default_validate_args(False)") {
        return;
    }
    checker.report(
        &RULE,
        call.range(),
        format!("`{name}(...)` validates its tensor arguments on construction (on by default) and reads the result back with `if not valid.all()`, which waits for the device"),
        "pass `validate_args=False`, or call `torch.distributions.Distribution.set_default_validate_args(False)` once",
    );
}
