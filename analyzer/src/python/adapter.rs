//! The only module that names the `ruff_python_*` crates. Their 0.0.x releases break between
//! versions, so everything the frontend needs from them is re-exported (or wrapped) here.

pub use ruff_python_ast::{
    self as ast, BoolOp, CmpOp, Expr, ExprContext, InterpolatedStringElement, Number, Operator, Stmt, UnaryOp,
};
pub use ruff_text_size::{Ranged, TextRange};

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::PySourceType;

/// A parse error with its byte range.
pub struct SyntaxError {
    pub message: String,
    pub range: std::ops::Range<usize>,
}

/// A parsed module: its statements, the byte ranges of its comments (only collected when asked
/// for, see [`parse`]) and its syntax errors.
pub struct ParsedModule {
    pub body: ast::Suite,
    pub comments: Vec<std::ops::Range<usize>>,
    pub errors: Vec<SyntaxError>,
}

/// Parses `source`. `want_comments` is false for the many files without a `graphlint:` comment,
/// which saves a pass over the token stream.
pub fn parse(source: &str, is_stub: bool, want_comments: bool) -> ParsedModule {
    let source_type = if is_stub { PySourceType::Stub } else { PySourceType::Python };
    let parsed = ruff_python_parser::parse_unchecked_source(source, source_type);
    let errors = parsed
        .errors()
        .iter()
        .map(|error| SyntaxError { message: error.error.to_string(), range: error.location.into() })
        .collect();
    let comments = if want_comments {
        parsed
            .tokens()
            .iter()
            .filter(|token| token.kind() == TokenKind::Comment)
            .map(|token| token.range().into())
            .collect()
    } else {
        Vec::new()
    };
    ParsedModule { body: parsed.into_syntax().body, comments, errors }
}

/// Parses a string annotation such as `"torch.Tensor"` or `"Optional[KVCache]"`.
pub fn parse_annotation(text: &str) -> Option<Expr> {
    ruff_python_parser::parse_expression(text).ok().map(|parsed| *parsed.into_syntax().body)
}

/// The byte range of any node.
pub fn span(node: &impl Ranged) -> std::ops::Range<usize> {
    node.range().into()
}
