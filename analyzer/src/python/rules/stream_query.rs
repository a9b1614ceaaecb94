use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `.query()` on a CUDA `Stream` or `Event` in a hot path.
    ///
    /// ## Why is this bad?
    /// `query()` asks the driver whether the device has reached that point. Polling it from a
    /// decode loop makes the host's progress depend on the device's, and a query during CUDA
    /// graph capture invalidates the capture.
    ///
    /// ## Example
    /// ```python
    /// while not done.query():
    ///     pass
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// torch.cuda.current_stream().wait_event(done)  # let the device order the work
    /// ```
    ///
    /// ## Known false positives
    /// As for GL102: the receiver is a proven stream or event, or named like one.
    pub static RULE = Rule { code: "GL103", name: "stream-query", family: ExplicitSync, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.method != Some("query") || !call.args.is_empty() || !is_stream_like(checker, call) {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("stream".into());
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}.query()` polls the device from the host, and invalidates CUDA graph capture"),
        "make the consumer wait on the device (`wait_event`/`wait_stream`) instead of polling from Python",
    );
}

/// A proven stream/event, or an unproven receiver whose name says it is one.
pub(super) fn is_stream_like(checker: &Checker, call: &CallInfo) -> bool {
    if call.receiver == Ty::Stream {
        return true;
    }
    if !call.receiver.is_unproven() {
        return false;
    }
    call.receiver_expr.is_some_and(|r| {
        let text = checker.text(r).to_ascii_lowercase();
        text.contains("stream") || text.contains("event")
    })
}
