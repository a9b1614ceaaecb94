//! Macros: their arguments, parsed as `syn` parses them, and the string literals of format
//! macros.

use super::*;

/// Macros whose arguments only run when something already failed: formatting there is free.
const ERROR_PATH_MACROS: &[&str] = &[
    "panic",
    "bail",
    "anyhow",
    "ensure",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "unreachable",
    "todo",
    "unimplemented",
    "format_err",
];

impl<'a> Checker<'a> {
    pub(super) fn check_macro(&mut self, mac: &Macro<'a>) {
        // Outside a function nothing is reported or recorded.
        if self.frames.is_empty() {
            return;
        }
        let name = mac.name;
        let error_path = ERROR_PATH_MACROS.contains(&name);
        let args = self.macro_args(mac);
        if rules::is_format_macro(name) && !error_path {
            rules::on_format_macro(self, name, &args);
        }
        for arg in &args {
            if let Some(expr) = &arg.expr {
                self.visit_expr(expr);
            }
        }
    }

    /// A macro's tokens split at top-level `,` and `;`, each parsed as `syn` parses an argument.
    fn macro_args(&self, mac: &Macro) -> Vec<MacroArg<'a>> {
        let tokens = self.tokens;
        let mut args = Vec::new();
        let mut chunk_start = mac.open as usize + 1;
        let mut at = chunk_start;
        let end = mac.close as usize;
        while at <= end {
            let token = &tokens[at.min(end)];
            let separator = at == end
                || token.kind == TokenKind::Punct
                    && matches!(self.context.source.as_bytes()[token.start as usize], b',' | b';');
            if separator {
                if at > chunk_start {
                    args.push(self.macro_arg(chunk_start, at));
                }
                chunk_start = at + 1;
                at += 1;
            } else if let TokenKind::Open(_) = token.kind {
                at = token.close as usize + 1;
            } else {
                at += 1;
            }
        }
        args
    }

    fn macro_arg(&self, mut start: usize, end: usize) -> MacroArg<'a> {
        let source = self.context.source;
        let tokens = self.tokens;
        let byte = |i: usize| source.as_bytes()[tokens[i].start as usize];
        let mut name = None;
        if end - start >= 2
            && tokens[start].kind == TokenKind::Ident
            && tokens[start + 1].kind == TokenKind::Punct
            && byte(start + 1) == b'='
            && !tokens[start + 1].joint
        {
            let token = &tokens[start];
            name = Some(&source[token.start as usize..token.end as usize]);
            start += 2;
        }
        let mut sigil = None;
        if start < end && tokens[start].kind == TokenKind::Punct && matches!(byte(start), b'?' | b'%') {
            sigil = Some(byte(start) as char);
            start += 1;
        }
        if end == start + 1 && tokens[start].kind == TokenKind::Str {
            let token = &tokens[start];
            let literal = StrLit::new(&source[token.start as usize..token.end as usize], token.start);
            if let Some(literal) = literal {
                return MacroArg { name, sigil, expr: None, literal: Some(literal) };
            }
        }
        let expr = if start < end { parser::parse_expr(source, tokens, start, end) } else { None };
        MacroArg { name, sigil, expr, literal: None }
    }
}

/// One comma-separated argument of a macro: `expr`, `name = expr`, or tracing's `?expr`/`%expr`.
pub(crate) struct MacroArg<'s> {
    pub name: Option<&'s str>,
    /// `Some('?')` for Debug, `Some('%')` for Display (tracing's field sigils).
    pub sigil: Option<char>,
    pub expr: Option<Expr<'s>>,
    pub literal: Option<StrLit>,
}

/// A string literal argument: its value (escapes resolved) and byte range.
pub(crate) struct StrLit {
    pub value: String,
    pub range: Range<usize>,
}

impl StrLit {
    /// `"…"` or `r#"…"#` (with an optional suffix); `None` if the escapes do not read.
    fn new(text: &str, start: u32) -> Option<StrLit> {
        let range = start as usize..start as usize + text.len();
        let close = text.rfind('"')?;
        let value = if let Some(raw) = text.strip_prefix('r') {
            let hashes = raw.len() - raw.trim_start_matches('#').len();
            raw.get(hashes + 1..close - 1)?.to_string()
        } else {
            unescape(text.get(1..close)?)?
        };
        Some(StrLit { value, range })
    }
}

/// Resolves a string literal's escapes (`\n`, `\u{..}`, line continuations).
fn unescape(body: &str) -> Option<String> {
    if !body.contains('\\') {
        return Some(body.to_string());
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '0' => out.push('\0'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).ok()? as char);
            }
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut hex = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    if c != '_' {
                        hex.push(c);
                    }
                }
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            '\n' => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literal_values() {
        assert_eq!(StrLit::new(r#""a{}\u{7b}b\n""#, 0).unwrap().value, "a{}{b\n");
        assert_eq!(StrLit::new(r###"r#"x{y}"#"###, 0).unwrap().value, "x{y}");
        assert_eq!(StrLit::new(r#""x""#, 5).unwrap().range, 5..8);
    }
}
