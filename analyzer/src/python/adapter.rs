//! The only module that names the `ruff_python_*` crates. Their 0.0.x releases break between
//! versions, so everything the frontend needs from them is re-exported (or wrapped) here.

pub use ruff_python_ast::{
    self as ast, BoolOp, CmpOp, Expr, ExprContext, InterpolatedStringElement, Number, Operator, Stmt, UnaryOp,
};
pub use ruff_text_size::{Ranged, TextRange};

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::PySourceType;

use crate::arena::Slot;

/// A parse error with its byte range.
pub struct SyntaxError {
    pub message: String,
    pub range: std::ops::Range<usize>,
}

/// A parsed module: its statements, the byte ranges of its comments (only collected when asked
/// for, see [`parse`]) and its syntax errors.
///
/// The fields are private on purpose: the tree may live in an arena slot that is reused once
/// the module is dropped, so nothing of it may be moved out (only borrowed, for at most the
/// module's lifetime, which the borrow checker then enforces).
pub struct ParsedModule {
    body: ast::Suite,
    comments: Vec<std::ops::Range<usize>>,
    errors: Vec<SyntaxError>,
    /// The arena slot the module was built in, if any.
    arena: Option<Slot>,
}

impl ParsedModule {
    pub fn body(&self) -> &ast::Suite {
        &self.body
    }

    pub fn comments(&self) -> &[std::ops::Range<usize>] {
        &self.comments
    }

    pub fn errors(&self) -> &[SyntaxError] {
        &self.errors
    }
}

impl Drop for ParsedModule {
    fn drop(&mut self) {
        let Some(slot) = self.arena.take() else { return };
        let built =
            (std::mem::take(&mut self.body), std::mem::take(&mut self.comments), std::mem::take(&mut self.errors));
        if slot.holds_everything() {
            // Every block of the tree is in the slot, which is reused whole: dropping the tree
            // would only walk it. (The AST allocates nothing after parsing, as long as nobody
            // calls `StringLiteralValue::to_str`, which caches; see [`string_value`].)
            std::mem::forget(built);
        } else {
            drop(built);
        }
        // Released only now that nothing refers into it.
        drop(slot);
    }
}

/// Parses `source`. `want_comments` is false for the many files without a `graphlint:` comment,
/// which saves a pass over the token stream.
pub fn parse(source: &str, is_stub: bool, want_comments: bool) -> ParsedModule {
    let mut arena = Slot::claim();
    let (body, comments, errors) = match &mut arena {
        // SAFETY: what the run allocates and leaves reachable is the returned tree, comments and
        // errors, which go into the `ParsedModule` that owns the slot; its `Drop` forgets or
        // drops them before releasing the slot, and its private fields let nothing be moved
        // out. The parser (ruff_python_parser =0.0.10 and its dependencies, audited) keeps no
        // lazily allocated static or thread-local state that the run could create.
        Some(slot) => unsafe { slot.run(|| parse_parts(source, is_stub, want_comments)) },
        None => parse_parts(source, is_stub, want_comments),
    };
    ParsedModule { body, comments, errors, arena }
}

type Parts = (ast::Suite, Vec<std::ops::Range<usize>>, Vec<SyntaxError>);

fn parse_parts(source: &str, is_stub: bool, want_comments: bool) -> Parts {
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
    (parsed.into_syntax().body, comments, errors)
}

/// The value of a string literal. Use this, not `StringLiteralValue::to_str`: for an implicit
/// concatenation that caches the joined string inside the tree, which an arena-built tree
/// would then leak (see [`ParsedModule`]'s `Drop`).
pub fn string_value(value: &ast::StringLiteralValue) -> std::borrow::Cow<'_, str> {
    if value.is_implicit_concatenated() {
        std::borrow::Cow::Owned(value.iter().map(|part| part.as_str()).collect())
    } else {
        std::borrow::Cow::Borrowed(value.iter().next().map_or("", |part| part.as_str()))
    }
}

/// Parses a string annotation such as `"torch.Tensor"` or `"Optional[KVCache]"`.
pub fn parse_annotation(text: &str) -> Option<Expr> {
    ruff_python_parser::parse_expression(text).ok().map(|parsed| *parsed.into_syntax().body)
}

/// The byte range of any node.
pub fn span(node: &impl Ranged) -> std::ops::Range<usize> {
    node.range().into()
}
