use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags logging calls (`logging.info(...)`, `logger.debug(...)`, ...) with a tensor argument
    /// in a hot path.
    ///
    /// ## Why is this bad?
    /// When the level is enabled, the record formats the tensor's values: a copy to the host and a
    /// wait for the device on every step. Whether it syncs then depends on the log configuration,
    /// which makes performance hard to reason about.
    ///
    /// ## Example
    /// ```python
    /// logger.debug("step %d logits %s", step, logits)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// logger.debug("step %d logits shape %s", step, tuple(logits.shape))
    /// ```
    ///
    /// ## Known false positives
    /// The receiver must be the `logging` module, a `logging.getLogger(...)` result, or a variable
    /// named `logger`/`log`/`LOGGER`/`_logger`.
    pub static RULE = Rule { code: "GL703", name: "log-tensor", family: Formatting, language: Python }
}

pub(super) const LEVELS: &[&str] =
    &["debug", "info", "warning", "warn", "error", "critical", "exception", "log", "fatal"];

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    let level = match (call.qualified, call.method) {
        (Some(["logging", level]), _) if LEVELS.contains(level) => *level,
        (None, Some(method)) if LEVELS.contains(&method) => {
            let is_logger = call.receiver == Ty::Logger
                || (call.receiver.is_unproven()
                    && call.receiver_expr.is_some_and(|r| {
                        matches!(
                            &*checker.text(r),
                            "logger" | "log" | "LOGGER" | "_logger" | "_log" | "LOG" | "self.logger"
                        )
                    }));
            if !is_logger {
                return;
            }
            method
        }
        _ => return,
    };
    let tensor_arg = call.args.iter().chain(call.keywords.iter().map(|(_, t)| t)).any(|t| t.is_device_tensor());
    if !tensor_arg {
        return;
    }
    checker.report_call(
        &RULE,
        call,
        format!("logging a tensor with `{level}` formats its values (when the level is enabled), which waits for the device"),
        "log shapes or dtypes, or log values outside the hot path",
    );
}
