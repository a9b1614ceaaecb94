use super::{CallInfo, Checker};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags `torch.distributed.barrier()` (and `monitored_barrier()`) in a hot path.
    ///
    /// ## Why is this bad?
    /// A barrier blocks the host until every rank reaches it, and with NCCL it also waits for the
    /// device. Each step then runs at the speed of the slowest rank plus a round trip.
    ///
    /// ## Example
    /// ```python
    /// for step in range(n):
    ///     logits = model(tokens)
    ///     dist.barrier()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// for step in range(n):
    ///     logits = model(tokens)  # collectives inside the model already order the ranks
    /// ```
    ///
    /// ## Known false positives
    /// None when the call resolves to `torch.distributed`.
    pub static RULE = Rule { code: "GL104", name: "distributed-barrier", family: ExplicitSync, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if let Some(["torch", "distributed", name @ ("barrier" | "monitored_barrier")]) = call.qualified {
        checker.report_call(
            &RULE,
            call,
            format!("`torch.distributed.{name}()` blocks the host until every rank (and its device) reaches it"),
            "drop the barrier from the step; collectives already order the ranks on the device",
        );
    }
}
