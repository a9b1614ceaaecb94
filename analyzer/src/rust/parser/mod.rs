//! A recursive-descent parser from [`lexer`](super::lexer) tokens to the [`ast`](super::ast),
//! following `syn` 2's grammar decisions (precedence, statement boundaries, where struct
//! literals are allowed, how macros in statement position are classified), so that the tree has
//! the shape `syn` would give. On what it cannot parse it fails, and the caller asks `syn` why.
//! It checks less than `syn`: generic bounds, `where` clauses, attribute arguments and macro
//! bodies are skipped as balanced tokens, so a syntax error there goes unnoticed.
//!
//! This module holds the parser's state and token helpers; the grammar is split by category, as
//! rust-analyzer's `grammar/` is: [`attributes`], [`items`], [`types`], [`patterns`],
//! [`statements`] and [`expressions`], each adding methods to [`Parser`].

use super::ast::*;
use super::lexer::{self, Delim, Token, TokenKind};
use crate::arena::Slot;

mod attributes;
mod expressions;
mod items;
mod patterns;
mod statements;
mod types;

#[derive(Debug)]
pub struct ParseError;

type PResult<T> = Result<T, ParseError>;

/// Words `syn` never takes for an identifier in a path or a name.
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "as" | "break"
            | "const"
            | "continue"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "_"
    )
}

/// `self`, `Self`, `super`, `crate`: keywords that may start a path.
fn is_path_keyword(word: &str) -> bool {
    matches!(word, "self" | "Self" | "super" | "crate")
}

/// A lexed and parsed file.
///
/// The fields are private on purpose: the tokens and tree may live in an arena slot that is
/// reused once the file is dropped, so nothing of them may be moved out (only borrowed, for at
/// most the file's lifetime, which the borrow checker then enforces).
pub struct ParsedFile<'s> {
    tokens: Vec<Token>,
    file: Option<File<'s>>,
    /// The byte offset where lexing or parsing failed.
    failed_at: Option<usize>,
    /// The arena slot the tokens and tree were built in, if any.
    arena: Option<Slot>,
}

impl<'s> ParsedFile<'s> {
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The tree; `Err` with the byte offset where the lexer or parser gave up.
    pub fn file(&self) -> Result<&File<'s>, usize> {
        self.file.as_ref().ok_or(self.failed_at.unwrap_or(0))
    }
}

impl Drop for ParsedFile<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.arena.take() else { return };
        let built = (std::mem::take(&mut self.tokens), self.file.take());
        if slot.holds_everything() {
            // Every block is in the slot, which is reused whole: dropping would only walk it.
            std::mem::forget(built);
        } else {
            drop(built);
        }
        // Released only now that nothing refers into it.
        drop(slot);
    }
}

/// Lexes and parses `source`.
pub fn parse(source: &str) -> ParsedFile<'_> {
    let mut arena = Slot::claim();
    let (tokens, file, failed_at) = match &mut arena {
        // SAFETY: what the run allocates and leaves reachable is the returned tokens and tree,
        // which go into the `ParsedFile` that owns the slot; its `Drop` forgets or drops them
        // before releasing the slot, and its private fields let nothing be moved out. The lexer
        // and parser keep no static or thread-local state.
        Some(slot) => unsafe { slot.run(|| lex_and_parse(source)) },
        None => lex_and_parse(source),
    };
    ParsedFile { tokens, file, failed_at, arena }
}

fn lex_and_parse(source: &str) -> (Vec<Token>, Option<File<'_>>, Option<usize>) {
    let tokens = match lexer::tokenize(source) {
        Ok(tokens) => tokens,
        Err(error) => return (Vec::new(), None, Some(error.at)),
    };
    let mut parser = Parser::new(source, &tokens, 0, tokens.len());
    let result = parser.items().map(|(_, items)| items);
    let failed_at = parser.failed_at.unwrap_or(parser.pos);
    match result {
        Ok(items) => (tokens, Some(File { items }), None),
        Err(ParseError) => {
            let at = tokens.get(failed_at).map_or(source.len(), |t| t.start as usize);
            (tokens, None, Some(at))
        }
    }
}

/// Parses `tokens[start..end]` (one macro argument) as a whole expression, as
/// `syn::parse2::<Expr>` would.
pub fn parse_expr<'s>(source: &'s str, tokens: &[Token], start: usize, end: usize) -> Option<Expr<'s>> {
    let mut parser = Parser::new(source, tokens, start, end);
    let expr = parser.expr(true).ok()?;
    (parser.pos == end).then_some(expr)
}

pub struct Parser<'s, 't> {
    src: &'s str,
    toks: &'t [Token],
    pos: usize,
    end: usize,
    /// Where the innermost failing group stopped, for the caller's diagnostics.
    failed_at: Option<usize>,
    /// Statements and arguments being collected, innermost list last.
    stmt_stack: Vec<Stmt<'s>>,
    expr_stack: Vec<Expr<'s>>,
}

impl<'s, 't> Parser<'s, 't> {
    fn new(src: &'s str, toks: &'t [Token], pos: usize, end: usize) -> Self {
        Parser { src, toks, pos, end, failed_at: None, stmt_stack: Vec::new(), expr_stack: Vec::new() }
    }

    // ----- token helpers ----------------------------------------------------------------------

    fn tok(&self, ahead: usize) -> Option<&'t Token> {
        let at = self.pos + ahead;
        if at < self.end {
            Some(&self.toks[at])
        } else {
            None
        }
    }

    fn text_of(&self, token: &Token) -> &'s str {
        &self.src[token.start as usize..token.end as usize]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn ident(&self, ahead: usize) -> Option<&'s str> {
        let token = self.tok(ahead)?;
        (token.kind == TokenKind::Ident).then(|| self.text_of(token))
    }

    fn is_word(&self, ahead: usize, word: &str) -> bool {
        self.ident(ahead) == Some(word)
    }

    /// An identifier `syn` accepts as a name (not a keyword).
    fn is_name(&self, ahead: usize) -> bool {
        self.ident(ahead).is_some_and(|w| !is_keyword(w) && !is_path_keyword(w))
    }

    fn punct(&self, ahead: usize) -> Option<u8> {
        let token = self.tok(ahead)?;
        (token.kind == TokenKind::Punct).then(|| self.src.as_bytes()[token.start as usize])
    }

    fn is_punct(&self, ahead: usize, c: u8) -> bool {
        self.punct(ahead) == Some(c)
    }

    /// Whether the operator `op` (one or more punctuation characters, joined) starts `ahead`.
    fn is_op_at(&self, ahead: usize, op: &str) -> bool {
        let bytes = op.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            let Some(token) = self.tok(ahead + i) else { return false };
            if token.kind != TokenKind::Punct || self.src.as_bytes()[token.start as usize] != c {
                return false;
            }
            if i + 1 < bytes.len() && !token.joint {
                return false;
            }
        }
        true
    }

    fn is_op(&self, op: &str) -> bool {
        self.is_op_at(0, op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.pos += op.len();
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(ParseError)
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.is_word(0, word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_open(&self, ahead: usize, delim: Delim) -> bool {
        self.tok(ahead).is_some_and(|t| t.kind == TokenKind::Open(delim))
    }

    fn is_lit(&self, ahead: usize) -> bool {
        self.tok(ahead).is_some_and(|t| matches!(t.kind, TokenKind::Str | TokenKind::Lit | TokenKind::Float))
            || self.is_word(ahead, "true")
            || self.is_word(ahead, "false")
    }

    fn is_lifetime(&self, ahead: usize) -> bool {
        self.tok(ahead).is_some_and(|t| t.kind == TokenKind::Lifetime)
    }

    /// The end offset of the last token taken.
    fn last_end(&self) -> u32 {
        self.toks[self.pos - 1].end
    }

    fn start(&self) -> u32 {
        self.tok(0).map_or(self.last_end(), |t| t.start)
    }

    /// Runs `inner` on the content of the group that opens here, which it must consume whole.
    fn group<T>(&mut self, delim: Delim, inner: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let token = self.tok(0).ok_or(ParseError)?;
        if token.kind != TokenKind::Open(delim) {
            return Err(ParseError);
        }
        let close = token.close as usize;
        let saved_end = self.end;
        self.pos += 1;
        self.end = close;
        let result = inner(self);
        let complete = self.pos == close;
        if (result.is_err() || !complete) && self.failed_at.is_none() {
            self.failed_at = Some(self.pos);
        }
        self.end = saved_end;
        self.pos = close + 1;
        let value = result?;
        if complete {
            Ok(value)
        } else {
            Err(ParseError)
        }
    }

    /// Skips a delimited group, returning the indices of its delimiters.
    fn skip_group(&mut self) -> PResult<(u32, u32)> {
        let token = self.tok(0).ok_or(ParseError)?;
        if !matches!(token.kind, TokenKind::Open(_)) {
            return Err(ParseError);
        }
        let open = self.pos as u32;
        self.pos = token.close as usize + 1;
        Ok((open, token.close))
    }

    /// Skips `<...>` from its `<`, counting nested angles (`->` is not a closing one).
    fn skip_angles(&mut self) -> PResult<()> {
        if !self.is_punct(0, b'<') {
            return Err(ParseError);
        }
        let mut depth = 0usize;
        while let Some(token) = self.tok(0) {
            match token.kind {
                TokenKind::Open(_) => {
                    self.skip_group()?;
                    continue;
                }
                TokenKind::Punct => match self.src.as_bytes()[token.start as usize] {
                    b'<' => depth += 1,
                    b'-' | b'=' if self.is_punct(1, b'>') && token.joint => self.pos += 1,
                    b'>' => {
                        depth -= 1;
                        if depth == 0 {
                            self.pos += 1;
                            return Ok(());
                        }
                    }
                    b';' => return Err(ParseError),
                    _ => {}
                },
                _ => {}
            }
            self.pos += 1;
        }
        Err(ParseError)
    }

    /// Skips to the next `stop` punctuation outside angles and groups (not taking it).
    fn skip_until(&mut self, stops: &[u8]) -> PResult<()> {
        let mut depth = 0usize;
        while let Some(token) = self.tok(0) {
            match token.kind {
                TokenKind::Open(_) => {
                    self.skip_group()?;
                    continue;
                }
                TokenKind::Punct => {
                    let c = self.src.as_bytes()[token.start as usize];
                    if depth == 0 && stops.contains(&c) {
                        return Ok(());
                    }
                    match c {
                        b'<' => depth += 1,
                        b'-' | b'=' if self.is_punct(1, b'>') && token.joint => self.pos += 1,
                        b'>' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
