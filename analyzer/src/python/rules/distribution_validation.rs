use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::adapter::Expr;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `torch.distributions` constructors given a device tensor (`Normal(loc, scale)`,
    /// `Categorical(logits=logits)`) while argument validation is on: no `validate_args=False` in
    /// the call and no `Distribution.set_default_validate_args(False)` in the file. With
    /// validation off it still flags those that upload a Python number: a number among the
    /// parameters of one that broadcasts them (`Normal(mu, 1.0)`), or `StudentT`/`Chi2`, which
    /// build `Gamma(0.5 * df, 0.5)`.
    ///
    /// ## Why is this bad?
    /// Validation is on by default (it follows Python's `__debug__`, so only `python -O` turns it
    /// off). With it on, the constructor checks every parameter against its constraint (positive
    /// scale, probabilities on the simplex, finite logits...) on the device and then asks Python
    /// whether all of it holds (`if not valid.all(): raise ...`): a read-back and a wait for the
    /// device each time a distribution is built, typically once per sampling step. `log_prob`
    /// and `cdf` check their argument the same way. Without validation, the parameters are
    /// still broadcast together (`broadcast_all`), which turns every Python number among them into
    /// a tensor on the device of the first tensor: a blocking host-to-device copy each time.
    /// Measured with `probe exec` on an H100: Toto's `StudentT(df, loc, scale,
    /// validate_args=False)` makes 3 such copies per decoding step.
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
    /// numbers or values not proven to be tensors are not reported. A number given through a
    /// variable whose type is unknown is not seen (no upload reported).
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

/// Distributions that build another from a Python number whatever they are given: `Chi2(df)` is
/// `Gamma(0.5 * df, 0.5)`, and `StudentT` holds a `Chi2`.
const UPLOADS_A_NUMBER: &[&str] = &["Chi2", "StudentT"];

/// Distributions whose constructor broadcasts its parameters together (`broadcast_all`, directly
/// or through the distribution they build), turning Python numbers among them into tensors.
/// Others keep a number as it is (`RelaxedBernoulli`'s `temperature`, `Multinomial`'s
/// `total_count`, `LKJCholesky`'s `dim`).
const BROADCASTS: &[&str] = &[
    "Beta",
    "Binomial",
    "Cauchy",
    "Chi2",
    "FisherSnedecor",
    "Gamma",
    "Gumbel",
    "InverseGamma",
    "Kumaraswamy",
    "Laplace",
    "LogNormal",
    "NegativeBinomial",
    "Normal",
    "Pareto",
    "StudentT",
    "Uniform",
    "VonMises",
    "Weibull",
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
    // Only a literal `True` (or `None`, the default) keeps validation on for sure.
    let validating = match call.keyword("validate_args") {
        Some(flag) => matches!(flag, Expr::BooleanLiteral(b) if b.value) || matches!(flag, Expr::NoneLiteral(_)),
        None => true,
    } && !checker.source_contains("set_default_validate_args(False)");
    let arg_tys = || call.args.iter().chain(call.keywords.iter().map(|(_, ty)| ty));
    if !arg_tys().any(|ty| ty.is_device_tensor()) {
        return;
    }
    if validating {
        checker.report_call(
        &RULE,
        call,
            format!("`{name}(...)` validates its tensor arguments on construction (on by default) and reads the result back with `if not valid.all()`, which waits for the device"),
            "pass `validate_args=False`, or call `torch.distributions.Distribution.set_default_validate_args(False)` once",
        );
    } else {
        let what = if BROADCASTS.contains(&name) && arg_tys().any(|ty| matches!(ty, Ty::Int | Ty::Float)) {
            "a Python number among its parameters"
        } else if UPLOADS_A_NUMBER.contains(&name) {
            "the `0.5` of its inner `Gamma(0.5 * df, 0.5)`"
        } else {
            return;
        };
        checker.report_call(
        &RULE,
        call,
            format!("`{name}(...)` turns {what} into a device tensor (`broadcast_all`) each time it is built: a blocking host-to-device copy, even with validation off"),
            "pass every parameter as a device tensor made once (e.g. a registered buffer)",
        );
    }
}
