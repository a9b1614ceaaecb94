//! Items: `fn`, `struct`, `enum`, `impl`, `trait`, `use`, `mod`, macros in item position, and
//! visibility.

use super::{is_keyword, PResult, ParseError, Parser};
use crate::rust::ast::*;
use crate::rust::lexer::{Delim, TokenKind};
use crate::rust::summary::TyRef;

impl<'s, 't> Parser<'s, 't> {
    fn visibility(&mut self) {
        if self.eat_word("pub") && self.is_open(0, Delim::Paren) {
            let close = self.tok(0).unwrap().close as usize;
            let restricted = self.is_word(1, "in")
                || close == self.pos + 2
                    && (self.is_word(1, "crate") || self.is_word(1, "self") || self.is_word(1, "super"));
            if restricted {
                self.pos = close + 1;
            }
        }
    }

    /// A file's or module's content: its inner attributes, then its items.
    pub(super) fn items(&mut self) -> PResult<(Vec<Attr>, Vec<Item<'s>>)> {
        let inner = self.inner_attrs()?;
        let mut items = Vec::new();
        while !self.at_end() {
            items.push(self.item()?);
        }
        Ok((inner, items))
    }

    /// `path!` (a mod-style path, then `!` that is not `!=`): how many tokens the path takes.
    pub(super) fn macro_path_len(&self) -> Option<usize> {
        let mut at = 0;
        if self.is_op_at(0, "::") {
            at = 2;
        }
        loop {
            let word = self.ident(at)?;
            if is_keyword(word) && word != "try" {
                return None;
            }
            at += 1;
            if self.is_op_at(at, "::") {
                at += 2;
                continue;
            }
            break;
        }
        (self.is_punct(at, b'!') && !self.is_op_at(at, "!=")).then_some(at)
    }

    /// A macro invocation from its path: `path ! [name] (group)`.
    pub(super) fn macro_call(&mut self, path_len: usize) -> PResult<Macro<'s>> {
        let leading = self.is_op("::");
        let words: Vec<&'s str> = (0..path_len).filter_map(|i| self.ident(i)).collect();
        self.pos += path_len + 1;
        // `macro_rules! name { .. }`
        if self.is_name(0) || self.is_word(0, "try") {
            self.pos += 1;
        }
        let (open, close) = self.skip_group()?;
        let name = words.last().copied().ok_or(ParseError)?;
        let brace = self.toks[open as usize].kind == TokenKind::Open(Delim::Brace);
        Ok(Macro { name, is_vec: !leading && words == ["vec"], open, close, brace })
    }

    /// A macro in item position: `m! { .. }`, or `m!(..);` and `m![..];` with their `;`.
    fn item_macro(&mut self, path_len: usize) -> PResult<Item<'s>> {
        let mac = self.macro_call(path_len)?;
        if !mac.brace {
            self.expect_op(";")?;
        }
        Ok(Item::Macro(mac))
    }

    pub(super) fn item(&mut self) -> PResult<Item<'s>> {
        let attrs = self.outer_attrs()?;
        self.visibility();
        if let Some(path_len) = self.macro_path_len() {
            return self.item_macro(path_len);
        }
        // Qualifiers before `fn`, `impl`, `trait` or an extern block.
        let mut at = 0;
        let mut saw_extern = false;
        loop {
            match self.ident(at) {
                Some("const" | "async" | "unsafe" | "safe" | "default")
                    if !(self.is_word(at, "const") && (self.is_name(at + 1) || self.is_word(at + 1, "_"))) =>
                {
                    at += 1
                }
                Some("extern") if !self.is_word(at + 1, "crate") => {
                    saw_extern = true;
                    at += 1;
                    if self.tok(at).is_some_and(|t| t.kind == TokenKind::Str) {
                        at += 1;
                    }
                }
                _ => break,
            }
        }
        match self.ident(at) {
            Some("fn") => return Ok(Item::Fn(self.func(attrs)?)),
            Some("impl") => {
                self.pos += at;
                return self.impl_block(attrs);
            }
            Some("trait") => {
                self.pos += at;
                return self.trait_block();
            }
            // `safe static`/`unsafe static` in an `unsafe extern` block.
            Some("static") if at > 0 && (0..at).all(|i| matches!(self.ident(i), Some("safe" | "unsafe"))) => {
                self.pos += at;
            }
            Some("auto") if self.is_word(at + 1, "trait") => {
                self.pos += at + 1;
                return self.trait_block();
            }
            _ if saw_extern && self.is_open(at, Delim::Brace) => {
                // Foreign items declare, they have no bodies to check.
                self.pos += at;
                self.group(Delim::Brace, |p| p.items())?;
                return Ok(Item::Other);
            }
            _ => {}
        }
        let word = self.ident(0).ok_or(ParseError)?;
        match word {
            "use" => {
                self.pos += 1;
                self.eat_op("::");
                let tree = self.use_tree()?;
                self.expect_op(";")?;
                Ok(Item::Use(tree))
            }
            "struct" => self.struct_item(),
            "enum" => self.enum_item(),
            "union" => {
                self.pos += 1;
                self.skip_to_body()?;
                self.skip_group()?;
                Ok(Item::Other)
            }
            "mod" => {
                self.pos += 1;
                let name = self.ident(0).ok_or(ParseError)?;
                self.pos += 1;
                if self.eat_op(";") {
                    return Ok(Item::Mod { attrs, name, items: None });
                }
                let (inner, items) = self.group(Delim::Brace, |p| p.items())?;
                let mut attrs = attrs;
                attrs.extend(inner);
                Ok(Item::Mod { attrs, name, items: Some(items) })
            }
            "const" | "static" => {
                self.pos += 1;
                self.eat_word("mut");
                self.const_rest().map(Item::Const)
            }
            "type" => {
                self.type_alias()?;
                Ok(Item::Other)
            }
            "extern" => {
                // `extern crate name (as alias)?;`
                self.pos += 1;
                if !self.eat_word("crate") || self.ident(0).is_none() {
                    return Err(ParseError);
                }
                self.pos += 1;
                if self.eat_word("as") {
                    self.ident(0).ok_or(ParseError)?;
                    self.pos += 1;
                }
                self.expect_op(";")?;
                Ok(Item::Other)
            }
            "macro" => {
                self.pos += 2;
                if self.is_open(0, Delim::Paren) {
                    self.skip_group()?;
                }
                self.skip_group()?;
                Ok(Item::Other)
            }
            _ => Err(ParseError),
        }
    }

    /// A `const` or `static` after its keyword: `NAME<..>: Type (= value)? (where ..)?;` (generic
    /// const items are nightly).
    fn const_rest(&mut self) -> PResult<Option<Expr<'s>>> {
        self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        if self.is_punct(0, b'<') {
            self.skip_angles()?;
        }
        self.expect_op(":")?;
        self.ty(true)?;
        let value = if self.eat_op("=") { Some(self.expr(true)?) } else { None };
        if self.is_word(0, "where") {
            self.skip_until(b";")?;
        }
        self.expect_op(";")?;
        Ok(value)
    }

    /// `type Name<..>: Bounds where .. = Type where ..;` from `type`.
    fn type_alias(&mut self) -> PResult<()> {
        self.pos += 1;
        if !self.is_name(0) {
            return Err(ParseError);
        }
        self.pos += 1;
        if self.is_punct(0, b'<') {
            self.skip_angles()?;
        }
        if self.eat_op(":") {
            self.bounds(true)?;
        }
        if self.is_word(0, "where") {
            self.skip_until(b"=;")?;
        }
        if self.eat_op("=") {
            self.ty(true)?;
        }
        if self.is_word(0, "where") {
            self.skip_until(b";")?;
        }
        self.expect_op(";")
    }

    /// `(pub A, B)`: tuple fields, named by index.
    fn tuple_fields(&mut self) -> PResult<Vec<(String, TyRef)>> {
        self.group(Delim::Paren, |p| {
            let mut fields = Vec::new();
            let mut index = 0;
            while !p.at_end() {
                p.outer_attrs()?;
                p.visibility();
                if let Some(ty) = p.ty(true)? {
                    fields.push((index.to_string(), ty));
                }
                index += 1;
                if !p.eat_op(",") {
                    break;
                }
            }
            Ok(fields)
        })
    }

    /// `{ pub a: A, b: B }`.
    fn named_fields(&mut self) -> PResult<Vec<(String, TyRef)>> {
        self.group(Delim::Brace, |p| {
            let mut fields = Vec::new();
            while !p.at_end() {
                p.outer_attrs()?;
                p.visibility();
                let field = p.ident(0).ok_or(ParseError)?;
                p.pos += 1;
                p.expect_op(":")?;
                if let Some(ty) = p.ty(true)? {
                    fields.push((field.to_string(), ty));
                }
                if p.eat_op("=") {
                    p.expr(true)?;
                }
                if !p.eat_op(",") {
                    break;
                }
            }
            Ok(fields)
        })
    }

    fn enum_item(&mut self) -> PResult<Item<'s>> {
        self.pos += 1;
        let name = self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        self.skip_to_body()?;
        self.group(Delim::Brace, |p| {
            while !p.at_end() {
                p.outer_attrs()?;
                p.visibility();
                p.ident(0).ok_or(ParseError)?;
                p.pos += 1;
                if p.is_open(0, Delim::Paren) {
                    p.tuple_fields()?;
                } else if p.is_open(0, Delim::Brace) {
                    p.named_fields()?;
                }
                if p.eat_op("=") {
                    p.expr(true)?;
                }
                if !p.eat_op(",") {
                    break;
                }
            }
            Ok(())
        })?;
        Ok(Item::Enum { name })
    }

    fn struct_item(&mut self) -> PResult<Item<'s>> {
        self.pos += 1;
        let name = self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        if self.is_punct(0, b'<') {
            self.skip_angles()?;
        }
        let mut fields = Vec::new();
        if self.is_open(0, Delim::Paren) {
            fields = self.tuple_fields()?;
            if self.is_word(0, "where") {
                self.skip_until(b";")?;
            }
            self.expect_op(";")?;
        } else {
            if self.is_word(0, "where") {
                self.skip_to_body()?;
            }
            if !self.eat_op(";") {
                fields = self.named_fields()?;
            }
        }
        Ok(Item::Struct { name, fields })
    }

    /// Skips generics and a where clause up to the `{` of a body or a `;` (not taking it).
    fn skip_to_body(&mut self) -> PResult<()> {
        while let Some(token) = self.tok(0) {
            match token.kind {
                TokenKind::Open(Delim::Brace) => return Ok(()),
                TokenKind::Open(_) => {
                    self.skip_group()?;
                }
                TokenKind::Punct if self.is_punct(0, b';') => return Ok(()),
                TokenKind::Punct if self.is_punct(0, b'<') => self.skip_angles()?,
                _ => self.pos += 1,
            }
        }
        Err(ParseError)
    }

    fn use_tree(&mut self) -> PResult<UseTree<'s>> {
        if self.eat_op("*") {
            return Ok(UseTree::Glob);
        }
        if self.is_open(0, Delim::Brace) {
            return self.group(Delim::Brace, |p| {
                let mut trees = Vec::new();
                while !p.at_end() {
                    p.eat_op("::");
                    trees.push(p.use_tree()?);
                    if !p.eat_op(",") {
                        break;
                    }
                }
                Ok(UseTree::Group(trees))
            });
        }
        let name = self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        if self.eat_op("::") {
            return Ok(UseTree::Path(name, Box::new(self.use_tree()?)));
        }
        if self.eat_word("as") {
            let alias = self.ident(0).ok_or(ParseError)?;
            self.pos += 1;
            return Ok(UseTree::Rename(name, alias));
        }
        Ok(UseTree::Name(name))
    }

    fn impl_block(&mut self, attrs: Vec<Attr>) -> PResult<Item<'s>> {
        self.pos += 1; // `impl`
        if self.is_punct(0, b'<') {
            self.skip_angles()?;
        }
        self.eat_word("const");
        // `impl !Trait for T` (a negative impl), not `impl ! { .. }` (for the never type).
        let negative = self.is_punct(0, b'!') && !self.is_open(1, Delim::Brace) && self.eat_op("!");
        let first_start = self.pos;
        let first = self.ty(true)?;
        let first_end = self.pos;
        let (self_ty, trait_name) = if self.eat_word("for") {
            // The trait's last path segment, as written (wrappers are not stripped here).
            let trait_name = self.last_segment(first_start, first_end);
            (self.ty(true)?, trait_name)
        } else {
            if negative {
                return Err(ParseError);
            }
            (first, None)
        };
        if self.is_word(0, "where") {
            self.skip_to_body()?;
        }
        let (inner, items) = self.group(Delim::Brace, |p| p.assoc_items())?;
        let mut attrs = attrs;
        attrs.extend(inner);
        Ok(Item::Impl { attrs, self_ty, trait_name, items })
    }

    /// The last identifier of the path that starts at token `start`, before its generics.
    fn last_segment(&self, start: usize, end: usize) -> Option<&'s str> {
        let mut last = None;
        let mut at = start;
        while at < end {
            let token = &self.toks[at];
            match token.kind {
                TokenKind::Ident => last = Some(self.text_of(token)),
                TokenKind::Punct if self.src.as_bytes()[token.start as usize] == b':' => {}
                _ => break,
            }
            at += 1;
        }
        last
    }

    fn trait_block(&mut self) -> PResult<Item<'s>> {
        self.pos += 1; // `trait`
        let name = self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        if self.is_punct(0, b'<') {
            self.skip_angles()?;
        }
        if self.eat_op(":") && !self.is_word(0, "where") && !self.is_open(0, Delim::Brace) {
            self.bounds(true)?;
        }
        // A trait alias: `trait A = B;` (or only `where` bounds).
        if self.eat_op("=") && !self.is_word(0, "where") {
            self.bounds(true)?;
        }
        if self.is_word(0, "where") {
            self.skip_to_body()?;
        }
        if self.eat_op(";") {
            return Ok(Item::Other);
        }
        let (_, items) = self.group(Delim::Brace, |p| p.assoc_items())?;
        Ok(Item::Trait { name, items })
    }

    /// The items of an `impl` or `trait` block.
    fn assoc_items(&mut self) -> PResult<(Vec<Attr>, Vec<Item<'s>>)> {
        let inner = self.inner_attrs()?;
        let mut items = Vec::new();
        loop {
            if self.at_end() {
                return Ok((inner, items));
            }
            let attrs = self.outer_attrs()?;
            self.visibility();
            if let Some(path_len) = self.macro_path_len() {
                items.push(self.item_macro(path_len)?);
                continue;
            }
            let mut at = 0;
            while matches!(self.ident(at), Some("const" | "async" | "unsafe" | "safe" | "default" | "extern"))
                && !(self.is_word(at, "const") && (self.is_name(at + 1) || self.is_word(at + 1, "_")))
            {
                at += 1;
                if self.tok(at).is_some_and(|t| t.kind == TokenKind::Str) {
                    at += 1;
                }
            }
            match self.ident(at) {
                Some("fn") => items.push(Item::Fn(self.func(attrs)?)),
                Some("const") => {
                    self.pos += at + 1;
                    items.push(Item::Const(self.const_rest()?));
                }
                Some("type") => {
                    self.pos += at;
                    self.type_alias()?;
                    items.push(Item::Other);
                }
                _ => return Err(ParseError),
            }
        }
    }

    /// A function from its qualifiers: signature and body (or `;`).
    fn func(&mut self, attrs: Vec<Attr>) -> PResult<Func<'s>> {
        while !self.is_word(0, "fn") {
            self.pos += 1;
            if self.at_end() {
                return Err(ParseError);
            }
        }
        let fn_at = self.tok(0).unwrap().start;
        self.pos += 1;
        let name = self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        if self.is_punct(0, b'<') {
            self.skip_angles()?;
        }
        let inputs = self.group(Delim::Paren, |p| p.params())?;
        let ret = if self.eat_op("->") { self.ty(true)? } else { None };
        if self.is_word(0, "where") {
            self.skip_to_body()?;
        }
        let mut attrs = attrs;
        let body = if self.eat_op(";") {
            None
        } else {
            let (inner, body) = self.block_with_attrs()?;
            attrs.extend(inner);
            Some(body)
        };
        Ok(Func { attrs, fn_at, name, inputs, ret, body })
    }

    fn params(&mut self) -> PResult<Vec<(Option<&'s str>, Option<TyRef>)>> {
        let mut inputs = Vec::new();
        while !self.at_end() {
            self.outer_attrs()?;
            if let Some((len, by_ref)) = self.receiver() {
                self.pos += len;
                if !by_ref && self.eat_op(":") {
                    self.ty(true)?;
                }
            } else if self.is_op("...") {
                self.pos += 3;
            } else {
                let pat = self.pat_single()?;
                self.expect_op(":")?;
                let ty = if self.is_op("...") {
                    self.pos += 3;
                    None
                } else {
                    self.ty(true)?
                };
                let name = match pat {
                    Pat::Ident { name, .. } => Some(name),
                    _ => None,
                };
                inputs.push((name, ty));
            }
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(inputs)
    }

    /// `self`, `mut self`, `&self`, `&'a mut self`, `self: Type`.
    /// `self`, `mut self`, `&'a mut self`: how many tokens it takes, and whether it is a reference
    /// (which may not have a `: Type`).
    fn receiver(&self) -> Option<(usize, bool)> {
        let mut at = 0;
        let by_ref = self.is_punct(0, b'&');
        if by_ref {
            at = 1;
            if self.is_lifetime(at) {
                at += 1;
            }
        }
        if self.is_word(at, "mut") {
            at += 1;
        }
        (self.is_word(at, "self") && !self.is_op_at(at + 1, "::")).then_some((at + 1, by_ref))
    }
}
