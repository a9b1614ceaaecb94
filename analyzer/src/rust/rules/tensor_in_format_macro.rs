use super::Checker;
use crate::declare_rule;
use crate::rust::checker::{expr_range, MacroArg};
use crate::rust::types::Ty;

declare_rule! {
    /// ## What it does
    /// Flags a candle tensor formatted with `{}` or `{:?}` in `println!`, `print!`, `eprintln!`,
    /// `format!`, `write!`, `dbg!`, and the `log` and `tracing` macros (including tracing's
    /// `?field` and `%field` shorthands), in a hot path.
    ///
    /// ## Why is this bad?
    /// `Display` of a tensor reads its values, which copies them to the host and waits for the
    /// device. `Debug` does the same for a scalar or a short vector (it prints only the shape of
    /// larger ones). A log line at `debug` level still formats its arguments whenever that level
    /// is enabled.
    ///
    /// ## Example
    /// ```rs
    /// tracing::debug!("logits: {logits}");
    /// ```
    ///
    /// ## Use instead
    /// ```rs
    /// tracing::debug!("logits: {:?} {:?}", logits.shape(), logits.dtype()); // no device read
    /// ```
    ///
    /// ## Known false positives
    /// Formatting inside `panic!`, `assert!`, `bail!` and similar error-path macros is not
    /// reported. Only arguments proven to be candle tensors are reported.
    pub static RULE = Rule { code: "GL805", name: "tensor-in-format-macro", family: Candle, language: Rust }
}

pub(crate) fn check(checker: &mut Checker, name: &str, args: &[MacroArg]) {
    let format_at = args.iter().position(|a| a.literal.is_some() && a.name.is_none() && a.sigil.is_none());
    // tracing fields (`?x`, `%x`, `name = ?x`) come before the message.
    for arg in &args[..format_at.unwrap_or(args.len())] {
        if let (Some(sigil), Some(expr)) = (arg.sigil, &arg.expr) {
            if checker.expr_ty(expr) == Ty::Tensor {
                report(checker, name, expr_range(expr), &checker.expr_text(expr), sigil == '?');
            }
        }
    }
    let Some(format_at) = format_at else { return };
    let Some(literal) = &args[format_at].literal else { return };
    let rest = &args[format_at + 1..];
    let positional: Vec<&MacroArg> = rest.iter().filter(|a| a.name.is_none()).collect();
    let mut next = 0;
    for placeholder in placeholders(&literal.value) {
        let debug = placeholder.spec.contains('?');
        let (expr, captured) = if placeholder.arg.is_empty() {
            next += 1;
            (positional.get(next - 1).and_then(|a| a.expr.as_ref()), None)
        } else if let Ok(index) = placeholder.arg.parse::<usize>() {
            (positional.get(index).and_then(|a| a.expr.as_ref()), None)
        } else if let Some(named) = rest.iter().find(|a| a.name == Some(placeholder.arg.as_str())) {
            (named.expr.as_ref(), None)
        } else {
            (None, Some(placeholder.arg.clone()))
        };
        if let Some(expr) = expr {
            if checker.expr_ty(expr) == Ty::Tensor {
                report(checker, name, expr_range(expr), &checker.expr_text(expr), debug);
            }
        } else if let Some(ident) = captured {
            let kind = checker.lookup(&ident).map_or(Ty::Unknown, |sym| checker.sym_ty(sym));
            if kind == Ty::Tensor {
                let range = literal.range.clone();
                report(checker, name, range, &ident, debug);
            }
        }
    }
}

fn report(checker: &mut Checker, name: &str, range: std::ops::Range<usize>, text: &str, debug: bool) {
    let message = if debug {
        format!("`{name}!` formats tensor `{text}` with `Debug`, which copies a scalar's or short vector's values to the host and waits for the device")
    } else {
        format!("`{name}!` formats tensor `{text}` with `Display`, which copies its values to the host and waits for the device")
    };
    checker.report(
        &RULE,
        range,
        message,
        "format the shape and dtype instead, or keep the tensor and format it outside the hot path",
    );
}

struct Placeholder {
    arg: String,
    spec: String,
}

/// The `{arg:spec}` placeholders of a format string (`{{` and `}}` are literal braces).
fn placeholders(format: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '{' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    inner.push(c);
                }
                let (arg, spec) = inner.split_once(':').unwrap_or((&inner, ""));
                out.push(Placeholder { arg: arg.trim().to_string(), spec: spec.to_string() });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders() {
        let found = super::placeholders("{} {{x}} {0:?} {name:>8.3} {t}");
        let args: Vec<_> = found.iter().map(|p| (p.arg.as_str(), p.spec.as_str())).collect();
        assert_eq!(args, [("", ""), ("0", "?"), ("name", ">8.3"), ("t", "")]);
    }
}
