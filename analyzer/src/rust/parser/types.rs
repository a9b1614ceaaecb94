//! Types, reduced to what the rules read ([`TyRef`]), and the generic bounds that are skipped.

use super::{is_keyword, PResult, ParseError, Parser};
use crate::rust::lexer::{Delim, TokenKind};
use crate::rust::summary::TyRef;

/// Wrappers whose first generic argument is what the value really is, for our purposes.
const TRANSPARENT: &[&str] = &["Box", "Arc", "Rc", "Option", "Result", "RefCell", "Cell", "Mutex", "RwLock", "Cow"];
const COLLECTIONS: &[&str] = &["Vec", "VecDeque", "SmallVec"];

/// A type written as a path without generic arguments (a struct literal's), reduced as
/// [`Parser::path_type`] reduces types: a wrapper says nothing, a collection holds `_`.
pub(super) fn path_ty_without_args(segments: &[&str]) -> Option<TyRef> {
    let name = *segments.last()?;
    if TRANSPARENT.contains(&name) {
        return None;
    }
    if COLLECTIONS.contains(&name) {
        return Some(TyRef::Elem(Box::new(TyRef::path(&["_"]))));
    }
    Some(TyRef::Path(segments.iter().map(|s| s.to_string()).collect()))
}

impl<'s, 't> Parser<'s, 't> {
    /// A type, reduced to the [`TyRef`] the rules read: `None` for what says nothing.
    pub(super) fn ty(&mut self, allow_plus: bool) -> PResult<Option<TyRef>> {
        let token = self.tok(0).ok_or(ParseError)?;
        match token.kind {
            TokenKind::Punct => match self.src.as_bytes()[token.start as usize] {
                b'&' => {
                    self.pos += 1;
                    if self.is_lifetime(0) {
                        self.pos += 1;
                    }
                    self.eat_word("mut");
                    self.ty(false)
                }
                b'*' => {
                    self.pos += 1;
                    if !(self.eat_word("const") || self.eat_word("mut")) {
                        return Err(ParseError);
                    }
                    self.ty(false)?;
                    Ok(None)
                }
                b'!' => {
                    self.pos += 1;
                    Ok(None)
                }
                b'<' => {
                    self.qpath_type()?;
                    Ok(None)
                }
                b':' if self.is_op("::") => self.path_type(allow_plus),
                _ => Err(ParseError),
            },
            // `'static + Trait`: a bare trait object starting with a lifetime (edition 2015).
            TokenKind::Lifetime if allow_plus && self.is_punct(1, b'+') => {
                self.bounds(true)?;
                Ok(None)
            }
            TokenKind::Open(Delim::Paren) => {
                let (inner, single) = self.group(Delim::Paren, |p| {
                    let mut count = 0;
                    let mut first = None;
                    let mut trailing = false;
                    while !p.at_end() {
                        let ty = p.ty(true)?;
                        if count == 0 {
                            first = ty;
                        }
                        count += 1;
                        trailing = p.eat_op(",");
                        if !trailing {
                            break;
                        }
                    }
                    Ok((first, count == 1 && !trailing))
                })?;
                if single && allow_plus && self.eat_op("+") {
                    self.bounds(true)?;
                    return Ok(None);
                }
                Ok(if single { inner } else { None })
            }
            TokenKind::Open(Delim::Bracket) => {
                let elem = self.group(Delim::Bracket, |p| {
                    let elem = p.ty(true)?;
                    if p.eat_op(";") {
                        p.pos = p.end;
                    }
                    Ok(elem)
                })?;
                Ok(elem.map(|e| TyRef::Elem(Box::new(e))))
            }
            TokenKind::Ident => {
                let word = self.text_of(token);
                match word {
                    "_" => {
                        self.pos += 1;
                        Ok(None)
                    }
                    "impl" | "dyn" => {
                        self.pos += 1;
                        self.bounds(allow_plus)?;
                        Ok(None)
                    }
                    "fn" | "unsafe" | "extern" | "safe" => {
                        self.fn_pointer()?;
                        Ok(None)
                    }
                    "for" => {
                        self.pos += 1;
                        self.skip_angles()?;
                        if self.is_word(0, "fn") || self.is_word(0, "unsafe") || self.is_word(0, "extern") {
                            self.fn_pointer()?;
                        } else {
                            self.bounds(allow_plus)?;
                        }
                        Ok(None)
                    }
                    _ if is_keyword(word) => Err(ParseError),
                    _ => self.path_type(allow_plus),
                }
            }
            _ => Err(ParseError),
        }
    }

    fn fn_pointer(&mut self) -> PResult<()> {
        self.eat_word("unsafe");
        self.eat_word("safe");
        if self.eat_word("extern") && self.tok(0).is_some_and(|t| t.kind == TokenKind::Str) {
            self.pos += 1;
        }
        if !self.eat_word("fn") {
            return Err(ParseError);
        }
        self.skip_group()?;
        if self.eat_op("->") {
            self.ty(false)?;
        }
        Ok(())
    }

    /// `<T as Trait>::Rest`, as a type.
    fn qpath_type(&mut self) -> PResult<()> {
        self.skip_angles()?;
        while self.eat_op("::") {
            self.ident(0).ok_or(ParseError)?;
            self.pos += 1;
            self.generic_args_if_any()?;
        }
        Ok(())
    }

    /// A path type, with the first type argument of its last segment.
    fn path_type(&mut self, allow_plus: bool) -> PResult<Option<TyRef>> {
        let (segments, first_arg) = self.type_path()?;
        if self.is_punct(0, b'!') && !self.is_op("!=") {
            // A macro in type position.
            self.pos += 1;
            self.skip_group()?;
            return Ok(None);
        }
        if allow_plus && self.eat_op("+") {
            // A bare trait object: `Trait + Send`.
            self.bounds(true)?;
            return Ok(None);
        }
        let name = *segments.last().ok_or(ParseError)?;
        if TRANSPARENT.contains(&name) {
            return Ok(first_arg.flatten());
        }
        if COLLECTIONS.contains(&name) {
            return Ok(Some(TyRef::Elem(Box::new(first_arg.flatten().unwrap_or_else(|| TyRef::path(&["_"]))))));
        }
        Ok(Some(TyRef::Path(segments.iter().map(|s| s.to_string()).collect())))
    }

    /// `a::b<T>::c<U>` in type position: the segments, and the last segment's first type
    /// argument (`None`: no type argument; `Some(None)`: one that reduces to nothing).
    #[allow(clippy::type_complexity)]
    pub(super) fn type_path(&mut self) -> PResult<(Vec<&'s str>, Option<Option<TyRef>>)> {
        self.eat_op("::");
        let mut segments = Vec::new();
        let mut first_arg;
        loop {
            let word = self.ident(0).ok_or(ParseError)?;
            if is_keyword(word) {
                return Err(ParseError);
            }
            segments.push(word);
            self.pos += 1;
            first_arg = self.generic_args_if_any()?;
            if self.is_op("::") && self.tok(2).is_some_and(|t| t.kind == TokenKind::Ident) {
                self.pos += 2;
                continue;
            }
            return Ok((segments, first_arg));
        }
    }

    /// `<..>`, `::<..>` or `(..) -> T` after a path segment.
    fn generic_args_if_any(&mut self) -> PResult<Option<Option<TyRef>>> {
        if self.is_op("::") && self.is_punct(2, b'<') {
            self.pos += 2;
        }
        if self.is_punct(0, b'<') && !self.is_op("<=") {
            return self.generic_args();
        }
        if self.is_open(0, Delim::Paren) {
            self.skip_group()?;
            if self.eat_op("->") {
                self.ty(false)?;
            }
        }
        Ok(None)
    }

    fn generic_args(&mut self) -> PResult<Option<Option<TyRef>>> {
        self.pos += 1; // `<`
        let mut first = None;
        loop {
            if self.eat_op(">") {
                return Ok(first);
            }
            if self.is_lifetime(0) && self.is_punct(1, b'+') {
                // `'a + Trait`: a trait object (2018 style), which says nothing.
                self.bounds(true)?;
                first.get_or_insert(None);
            } else if self.is_lifetime(0) {
                self.pos += 1;
            } else if self.is_assoc_binding()
                || self.is_lit(0)
                || self.is_punct(0, b'-')
                || self.is_open(0, Delim::Brace)
            {
                // An associated type binding or a const argument: nothing to keep.
                self.skip_until(b",>")?;
            } else {
                let ty = self.ty(true)?;
                if first.is_none() {
                    first = Some(ty);
                }
            }
            if !self.eat_op(",") {
                self.expect_op(">")?;
                return Ok(first);
            }
        }
    }

    /// `Name = T`, `Name: Bound` or `Name<'a> = T` (an associated type binding, not a type).
    fn is_assoc_binding(&self) -> bool {
        if self.ident(0).is_none() {
            return false;
        }
        if self.is_punct(1, b'<') {
            // `Item<'a> = T`: generic arguments on an associated type, then `=` or `:`.
            let mut probe = Parser::new(self.src, self.toks, self.pos + 1, self.end);
            if probe.skip_angles().is_err() {
                return false;
            }
            return probe.is_punct(0, b'=') && !probe.is_op("==") || probe.is_punct(0, b':') && !probe.is_op("::");
        }
        self.is_punct(1, b'=') && !self.is_op_at(1, "==") || self.is_punct(1, b':') && !self.is_op_at(1, "::")
    }

    /// Trait bounds after `impl`/`dyn`: `A + B + 'a + ?Sized`.
    pub(super) fn bounds(&mut self, allow_plus: bool) -> PResult<()> {
        loop {
            if self.is_lifetime(0) {
                self.pos += 1;
            } else if self.is_open(0, Delim::Paren) {
                self.skip_group()?;
            } else {
                self.eat_op("?");
                // `[const] Trait` (nightly): conditionally const.
                if self.is_open(0, Delim::Bracket)
                    && self.is_word(1, "const")
                    && self.tok(0).unwrap().close as usize == self.pos + 2
                {
                    self.pos += 3;
                }
                if self.eat_op("~") {
                    self.eat_word("const");
                }
                self.eat_word("const");
                self.eat_word("async");
                if self.eat_word("for") {
                    self.skip_angles()?;
                }
                if self.eat_word("use") {
                    self.skip_angles()?;
                } else {
                    self.type_path()?;
                }
            }
            if !(allow_plus && self.eat_op("+")) {
                return Ok(());
            }
        }
    }
}
