//! Attributes: outer and inner, `///` and `//!` docs, and whether one marks test code.

use super::{PResult, ParseError, Parser};
use crate::rust::ast::Attr;
use crate::rust::lexer::{Delim, TokenKind};

impl<'s, 't> Parser<'s, 't> {
    /// `#![..]` and `//!` at the start of a file, module, `impl` or block: as in `syn`, they
    /// are attributes of what encloses them, after its outer ones.
    pub(super) fn inner_attrs(&mut self) -> PResult<Vec<Attr>> {
        self.attrs(true)
    }

    /// `#[..]` and `///` before an item, statement or expression.
    pub(super) fn outer_attrs(&mut self) -> PResult<Vec<Attr>> {
        self.attrs(false)
    }

    fn attrs(&mut self, inner: bool) -> PResult<Vec<Attr>> {
        let (doc, bang) = if inner { (TokenKind::DocInner, 1) } else { (TokenKind::DocOuter, 0) };
        let mut attrs = Vec::new();
        while let Some(token) = self.tok(0) {
            if token.kind == doc {
                attrs.push(Attr { start: token.start, is_test: false });
                self.pos += 1;
            } else if self.is_punct(0, b'#')
                && (!inner || self.is_punct(1, b'!'))
                && self.is_open(1 + bang, Delim::Bracket)
            {
                self.pos += 1 + bang;
                let is_test = self.attr_body()?;
                attrs.push(Attr { start: token.start, is_test });
            } else {
                break;
            }
        }
        Ok(attrs)
    }

    /// The `[..]` of an attribute; whether it marks test code.
    fn attr_body(&mut self) -> PResult<bool> {
        self.group(Delim::Bracket, |p| {
            let test = p.is_test_attr();
            p.attr_rest()?;
            Ok(test)
        })
    }

    /// Inside `#[..]`: `test`, `bench`, `tokio::test`, or `cfg(test)`.
    fn is_test_attr(&mut self) -> bool {
        let mut last = None;
        let mut segments = 0;
        self.eat_op("::");
        while let Some(word) = self.ident(0) {
            last = Some(word);
            segments += 1;
            self.pos += 1;
            if !self.eat_op("::") {
                break;
            }
        }
        if matches!(last, Some("test" | "bench")) {
            return true;
        }
        if segments == 1 && last == Some("cfg") && self.is_open(0, Delim::Paren) {
            let close = self.tok(0).unwrap().close as usize;
            return close == self.pos + 2 && self.is_word(1, "test");
        }
        false
    }

    /// An attribute's content after its path: nothing, `= ..`, or one delimited group.
    fn attr_rest(&mut self) -> PResult<()> {
        if self.eat_op("=") {
            self.pos = self.end;
        } else if matches!(self.tok(0).map(|t| t.kind), Some(TokenKind::Open(_))) {
            self.skip_group()?;
        }
        if self.at_end() {
            Ok(())
        } else {
            Err(ParseError)
        }
    }
}
