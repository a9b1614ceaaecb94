use super::{is_argmax_result, Checker, MethodCall};
use crate::declare_rule;

declare_rule! {
    /// ## What it does
    /// Flags greedy sampling that reads the chosen token back to the host:
    /// `logits.argmax(D::Minus1)?.to_scalar::<u32>()` (or `to_vec0`/`to_vec1` of an `argmax`),
    /// directly or through a local variable.
    ///
    /// ## Why is this bad?
    /// In a decode loop this runs once per generated token. Each read waits for the whole forward
    /// pass to finish, so the host can never queue the next step ahead of the device, and the
    /// step cannot be replayed as a CUDA graph with the sampling inside it.
    ///
    /// ## Example
    /// ```rs
    /// for _ in 0..max_tokens {
    ///     let logits = model.forward(&input, pos)?;
    ///     let next = logits.argmax(D::Minus1)?.to_scalar::<u32>()?;
    ///     input = Tensor::new(&[next], &device)?;
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// let mut tokens = Vec::new();
    /// for _ in 0..max_tokens {
    ///     let logits = model.forward(&input, pos)?;
    ///     input = logits.argmax_keepdim(D::Minus1)?; // stays on the device, feeds the next step
    ///     tokens.push(input.clone());
    /// }
    /// let tokens = Tensor::cat(&tokens, 1)?.to_vec2::<u32>()?; // one read at the end
    /// ```
    /// Stop conditions (EOS) can be checked every N tokens instead of every token.
    ///
    /// ## Known false positives
    /// Only the `argmax` form is recognised; other samplers that read logits back (`to_vec1` of
    /// probabilities) are reported by GL801.
    pub static RULE = Rule { code: "GL806", name: "argmax-to-scalar", family: Candle, language: Rust }
}

/// Reports and returns `true` when the call is the argmax sampling pattern.
pub(crate) fn check(checker: &mut Checker, call: &MethodCall) -> bool {
    if !matches!(call.name, "to_scalar" | "to_vec0" | "to_vec1") || !is_argmax_result(call.recv) {
        return false;
    }
    let receiver = call.receiver_text(checker);
    let name = call.name;
    let range = call.range();
    checker.report(
        &RULE,
        range,
        format!(
            "`{receiver}.{name}()` reads the sampled token back to the host, waiting for the whole step on every token"
        ),
        "keep the argmax result on the device as the next step's input, and read the tokens back in batches",
    );
    true
}
