//! Patterns: `let` bindings, match arms, closure and function parameters.

use super::{is_keyword, is_path_keyword, PResult, ParseError, Parser};
use crate::rust::ast::*;
use crate::rust::lexer::{Delim, TokenKind};

impl<'s, 't> Parser<'s, 't> {
    /// A pattern with top-level `|` alternatives, and an optional leading `|`.
    pub(super) fn pat_multi_leading_vert(&mut self) -> PResult<Pat<'s>> {
        let leading = self.is_punct(0, b'|') && !self.is_op("||");
        if leading {
            self.pos += 1;
        }
        self.pat_multi(leading)
    }

    fn pat_multi(&mut self, leading: bool) -> PResult<Pat<'s>> {
        let first = self.pat_single()?;
        if !leading && !self.is_alt() {
            return Ok(first);
        }
        let mut cases = vec![first];
        while self.is_alt() {
            self.pos += 1;
            cases.push(self.pat_single()?);
        }
        Ok(Pat::Or(cases))
    }

    fn is_alt(&self) -> bool {
        self.is_punct(0, b'|') && !self.is_op("||") && !self.is_op("|=")
    }

    pub(super) fn pat_single(&mut self) -> PResult<Pat<'s>> {
        let token = self.tok(0).ok_or(ParseError)?;
        let word = self.ident(0);
        let pathish = word.is_some_and(|w| !is_keyword(w) && !is_path_keyword(w))
            && (self.is_op_at(1, "::")
                || self.is_punct(1, b'!')
                || self.is_open(1, Delim::Brace)
                || self.is_open(1, Delim::Paren)
                || self.is_op_at(1, ".."))
            || word == Some("self") && self.is_op_at(1, "::")
            || self.is_op("::")
            || self.is_punct(0, b'<')
            || matches!(word, Some("Self" | "super" | "crate"));
        if pathish {
            return self.pat_path();
        }
        match word {
            Some("_") => {
                self.pos += 1;
                return Ok(Pat::Other);
            }
            Some("box") => {
                self.pos += 1;
                self.pat_single()?;
                return Ok(Pat::Other);
            }
            Some("const") => {
                self.pos += 1;
                self.skip_group()?;
                return Ok(Pat::Other);
            }
            Some("true" | "false") => return self.pat_lit_or_range(),
            Some("ref" | "mut" | "self") => return self.pat_ident(),
            Some(w) if !is_keyword(w) => return self.pat_ident(),
            _ => {}
        }
        if self.is_punct(0, b'-') || self.is_lit(0) {
            return self.pat_lit_or_range();
        }
        match token.kind {
            TokenKind::Punct if self.is_punct(0, b'&') => {
                self.pos += 1;
                self.eat_word("mut");
                Ok(Pat::Reference(Box::new(self.pat_single()?)))
            }
            TokenKind::Open(Delim::Paren) => {
                let (mut elems, trailing) = self.group(Delim::Paren, |p| p.pat_list())?;
                if elems.len() == 1 && !trailing {
                    Ok(Pat::Paren(Box::new(elems.pop().unwrap())))
                } else {
                    Ok(Pat::Tuple(elems))
                }
            }
            TokenKind::Open(Delim::Bracket) => Ok(Pat::Slice(self.group(Delim::Bracket, |p| p.pat_list())?.0)),
            TokenKind::Punct if self.is_op("..") => {
                self.pat_range_rest()?;
                Ok(Pat::Other)
            }
            _ => Err(ParseError),
        }
    }

    /// Comma-separated patterns inside a group; whether a comma trails.
    fn pat_list(&mut self) -> PResult<(Vec<Pat<'s>>, bool)> {
        let mut elems = Vec::new();
        let mut trailing = false;
        while !self.at_end() {
            elems.push(self.pat_multi_leading_vert()?);
            trailing = self.eat_op(",");
            if !trailing {
                break;
            }
        }
        Ok((elems, trailing))
    }

    fn pat_ident(&mut self) -> PResult<Pat<'s>> {
        self.eat_word("ref");
        self.eat_word("mut");
        let name = self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        let sub = if self.eat_op("@") { Some(Box::new(self.pat_single()?)) } else { None };
        Ok(Pat::Ident { name, sub })
    }

    fn pat_lit_or_range(&mut self) -> PResult<Pat<'s>> {
        self.eat_op("-");
        if !self.is_lit(0) {
            return Err(ParseError);
        }
        self.pos += 1;
        self.pat_range_rest()?;
        Ok(Pat::Other)
    }

    /// After a range pattern's start: `..= end`, `... end`, `.. end`, or a half-open `..`.
    fn pat_range_rest(&mut self) -> PResult<()> {
        let closed = self.eat_op("..=") || self.eat_op("...");
        if closed || self.eat_op("..") && self.starts_range_end() {
            self.pat_range_end()?;
        }
        Ok(())
    }

    /// A literal or a path that can end a range pattern (not `if` or `=>` after a half-open one).
    fn starts_range_end(&self) -> bool {
        self.is_lit(0) || self.is_punct(0, b'-') || self.is_op("::") || self.ident(0).is_some_and(|w| !is_keyword(w))
    }

    fn pat_range_end(&mut self) -> PResult<()> {
        self.eat_op("-");
        if self.is_lit(0) {
            self.pos += 1;
            Ok(())
        } else {
            self.expr_path().map(|_| ())
        }
    }

    fn pat_path(&mut self) -> PResult<Pat<'s>> {
        let (path, _) = self.expr_path()?;
        if path.qself.is_none() && self.is_punct(0, b'!') && !self.is_op("!=") {
            self.pos += 1;
            self.skip_group()?;
            return Ok(Pat::Other);
        }
        if self.is_open(0, Delim::Paren) {
            return Ok(Pat::TupleStruct(self.group(Delim::Paren, |p| p.pat_list())?.0));
        }
        if self.is_open(0, Delim::Brace) {
            return self.group(Delim::Brace, |p| {
                let mut fields = Vec::new();
                while !p.at_end() {
                    p.outer_attrs()?;
                    if p.eat_op("..") {
                        break;
                    }
                    let boxed = p.eat_word("box");
                    let by_ref = p.is_word(0, "ref");
                    let by_mut = p.is_word(by_ref as usize, "mut");
                    let member = p.tok(0).ok_or(ParseError)?;
                    let named = member.kind == TokenKind::Ident;
                    if !boxed && !by_ref && !by_mut && p.is_punct(1, b':') && !p.is_op_at(1, "::") || !named {
                        p.pos += 2;
                        fields.push(p.pat_multi_leading_vert()?);
                    } else {
                        let pat = p.pat_ident()?;
                        fields.push(if boxed { Pat::Other } else { pat });
                    }
                    if !p.eat_op(",") {
                        break;
                    }
                }
                Ok(Pat::Struct(fields))
            });
        }
        self.pat_range_rest()?;
        Ok(Pat::Other)
    }
}
