use super::{CallInfo, Checker};
use crate::declare_rule;
use crate::python::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags `.synchronize()` on a CUDA `Stream` or `Event` in a hot path.
    ///
    /// ## Why is this bad?
    /// `stream.synchronize()` and `event.synchronize()` block the host until the device reaches
    /// that point. Ordering work between streams does not need the host at all.
    ///
    /// ## Example
    /// ```python
    /// copy_done = torch.cuda.Event()
    /// copy_done.record(copy_stream)
    /// copy_done.synchronize()
    /// out = self.block(x)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// copy_done.record(copy_stream)
    /// torch.cuda.current_stream().wait_event(copy_done)  # the device waits, not the host
    /// out = self.block(x)
    /// ```
    ///
    /// ## Known false positives
    /// The receiver must be proven a stream or event (`torch.cuda.Stream()`, `torch.cuda.Event()`,
    /// `torch.cuda.current_stream()`, an annotation), or be a variable whose name contains
    /// `stream` or `event`: an unrelated object with such a name and a `synchronize` method is
    /// reported too.
    pub static RULE = Rule { code: "GL102", name: "stream-synchronize", family: ExplicitSync, language: Python }
}

pub(crate) fn check(checker: &mut Checker, call: &CallInfo) {
    if call.method != Some("synchronize") || !super::stream_query::is_stream_like(checker, call) {
        return;
    }
    let receiver = call.receiver_expr.map(|r| checker.receiver_text(r)).unwrap_or("stream".into());
    let proven = if call.receiver == Ty::Stream { "" } else { " (judged by its name)" };
    checker.report_call(
        &RULE,
        call,
        format!("`{receiver}.synchronize()` blocks the host until the device reaches this stream or event{proven}"),
        "order the work on the device instead: `torch.cuda.current_stream().wait_event(event)` or `wait_stream(stream)`",
    );
}
