//! Expressions: precedence climbing over binary operators, unary operators, trailers (calls,
//! fields, `?`), atoms, paths, macros and struct literals.

use super::types::path_ty_without_args;
use super::{is_keyword, PResult, ParseError, Parser};
use crate::rust::ast::*;
use crate::rust::lexer::{Delim, TokenKind};

/// A match arm whose body needs no `,` (`syn`'s `requires_comma_to_be_match_arm` is false).
fn ends_arm_without_comma(expr: &Expr) -> bool {
    matches!(
        expr.kind,
        ExprKind::If { .. }
            | ExprKind::Match { .. }
            | ExprKind::Block(_)
            | ExprKind::OtherBlock(_)
            | ExprKind::While { .. }
            | ExprKind::Loop { .. }
            | ExprKind::ForLoop { .. }
    )
}

/// What ends a statement without `;` (`syn`'s `requires_semi_to_be_stmt` is false): the
/// same, and a macro in braces.
pub(super) fn is_block_like(expr: &Expr) -> bool {
    ends_arm_without_comma(expr) || matches!(&expr.kind, ExprKind::Macro(mac) if mac.brace)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Prec {
    Jump,
    Assign,
    Range,
    Or,
    And,
    Compare,
    BitOr,
    BitXor,
    BitAnd,
    Shift,
    Sum,
    Product,
    Cast,
}

impl<'s, 't> Parser<'s, 't> {
    fn mk(&self, kind: ExprKind<'s>, start: u32) -> Expr<'s> {
        Expr { kind, start, end: self.last_end() }
    }

    /// A whole expression (`syn`'s `ambiguous_expr`).
    pub(super) fn expr(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
        let lhs = self.unary(allow_struct)?;
        self.binary(lhs, allow_struct, Prec::Jump)
    }

    /// The binary operator here, its precedence and how many tokens it takes.
    fn binop(&self) -> Option<(Prec, usize)> {
        let c = self.punct(0)?;
        let joint_with = |next: u8| self.is_punct(1, next) && self.tok(0).unwrap().joint;
        let eq_follows = joint_with(b'=');
        Some(match c {
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' if eq_follows => (Prec::Assign, 2),
            b'+' | b'-' => (Prec::Sum, 1),
            b'*' | b'/' | b'%' => (Prec::Product, 1),
            b'^' => (Prec::BitXor, 1),
            b'&' if joint_with(b'&') => (Prec::And, 2),
            b'&' if eq_follows => (Prec::Assign, 2),
            b'&' => (Prec::BitAnd, 1),
            b'|' if joint_with(b'|') => (Prec::Or, 2),
            b'|' if eq_follows => (Prec::Assign, 2),
            b'|' => (Prec::BitOr, 1),
            b'<' if joint_with(b'<') => {
                if self.is_op("<<=") {
                    (Prec::Assign, 3)
                } else {
                    (Prec::Shift, 2)
                }
            }
            b'>' if joint_with(b'>') => {
                if self.is_op(">>=") {
                    (Prec::Assign, 3)
                } else {
                    (Prec::Shift, 2)
                }
            }
            b'<' | b'>' if eq_follows => (Prec::Compare, 2),
            b'<' | b'>' => (Prec::Compare, 1),
            b'=' if eq_follows => (Prec::Compare, 2),
            b'!' if eq_follows => (Prec::Compare, 2),
            _ => return None,
        })
    }

    /// Takes `..`, `..=` or `...`.
    fn range_op(&mut self) {
        self.pos += 2;
        if self.toks[self.pos - 1].joint && !self.eat_op("=") {
            self.eat_op(".");
        }
    }

    fn is_assign(&self) -> bool {
        self.is_punct(0, b'=') && !self.is_op("==") && !self.is_op("=>")
    }

    fn peek_prec(&self) -> Prec {
        if let Some((prec, _)) = self.binop() {
            prec
        } else if self.is_assign() {
            Prec::Assign
        } else if self.is_op("..") {
            Prec::Range
        } else if self.is_word(0, "as") {
            Prec::Cast
        } else {
            Prec::Jump
        }
    }

    pub(super) fn binary(&mut self, mut lhs: Expr<'s>, allow_struct: bool, base: Prec) -> PResult<Expr<'s>> {
        loop {
            if matches!(lhs.kind, ExprKind::Range { .. }) {
                return Ok(lhs);
            }
            let start = lhs.start;
            if let Some((prec, width)) = self.binop() {
                if prec < base {
                    return Ok(lhs);
                }
                if prec == Prec::Compare && matches!(lhs.kind, ExprKind::Binary { compare: true, .. }) {
                    // `a < b < c`: comparison operators cannot be chained.
                    return Err(ParseError);
                }
                self.pos += width;
                let right = self.binop_rhs(allow_struct, prec)?;
                let compare = prec == Prec::Compare;
                lhs = self.mk(ExprKind::Binary { left: Box::new(lhs), right: Box::new(right), compare }, start);
            } else if Prec::Assign >= base && self.is_assign() {
                self.pos += 1;
                let right = self.binop_rhs(allow_struct, Prec::Assign)?;
                lhs = self.mk(ExprKind::Assign { left: Box::new(lhs), right: Box::new(right) }, start);
            } else if Prec::Range >= base && self.is_op("..") {
                let closed = self.is_op("..=");
                self.range_op();
                let end = self.range_end(closed, allow_struct)?;
                lhs = self.mk(ExprKind::Range { start: Some(Box::new(lhs)), end }, start);
            } else if Prec::Cast >= base && self.is_word(0, "as") {
                self.pos += 1;
                self.ty(false)?;
                // `x as T.f()`, `x as T?`, `x as T[0]`, `x as T(..)` need parentheses.
                let postfix = self.is_punct(0, b'.') && !self.is_op("..")
                    || self.is_punct(0, b'?')
                    || self.is_open(0, Delim::Bracket)
                    || self.is_open(0, Delim::Paren);
                if postfix {
                    return Err(ParseError);
                }
                lhs = self.mk(ExprKind::Cast(Box::new(lhs)), start);
            } else {
                return Ok(lhs);
            }
        }
    }

    fn binop_rhs(&mut self, allow_struct: bool, prec: Prec) -> PResult<Expr<'s>> {
        let mut rhs = self.unary(allow_struct)?;
        loop {
            let next = self.peek_prec();
            if next > prec || next == prec && prec == Prec::Assign {
                let before = self.pos;
                rhs = self.binary(rhs, allow_struct, next)?;
                if self.pos == before {
                    return Ok(rhs);
                }
            } else {
                return Ok(rhs);
            }
        }
    }

    fn range_end(&mut self, closed: bool, allow_struct: bool) -> PResult<Option<Box<Expr<'s>>>> {
        let no_end = !closed
            && (self.at_end()
                || self.is_punct(0, b',')
                || self.is_punct(0, b';')
                || self.is_punct(0, b'.') && !self.is_op("..")
                || self.is_punct(0, b'?')
                || self.is_op("=>")
                || !allow_struct && self.is_open(0, Delim::Brace)
                || self.is_punct(0, b'=')
                || self.is_punct(0, b'+')
                || self.is_punct(0, b'/')
                || self.is_punct(0, b'%')
                || self.is_punct(0, b'^')
                || self.is_punct(0, b'>')
                || self.is_op("<=")
                || self.is_op("!=")
                || self.is_op("-=")
                || self.is_op("*=")
                || self.is_op("&=")
                || self.is_op("|=")
                || self.is_op("<<=")
                || self.is_word(0, "as"));
        if no_end {
            return Ok(None);
        }
        Ok(Some(Box::new(self.binop_rhs(allow_struct, Prec::Range)?)))
    }

    pub(super) fn unary(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
        let start = self.start();
        self.outer_attrs()?;
        if self.is_punct(0, b'&') {
            self.pos += 1;
            let raw = self.is_word(0, "raw") && (self.is_word(1, "mut") || self.is_word(1, "const"));
            if raw {
                self.pos += 2;
            } else {
                self.eat_word("mut");
            }
            let inner = Box::new(self.unary(allow_struct)?);
            let kind = if raw { ExprKind::Unary(inner) } else { ExprKind::Reference(inner) };
            return Ok(self.mk(kind, start));
        }
        if self.is_punct(0, b'*') || self.is_punct(0, b'!') || self.is_punct(0, b'-') {
            let deref = self.is_punct(0, b'*');
            self.pos += 1;
            let inner = Box::new(self.unary(allow_struct)?);
            let kind = if deref { ExprKind::Deref(inner) } else { ExprKind::Unary(inner) };
            return Ok(self.mk(kind, start));
        }
        // As in `syn`, outer attributes belong to the whole postfix chain, not to its first atom.
        let expr = self.atom(allow_struct)?;
        let expr = self.trailers(expr)?;
        Ok(Expr { start, ..expr })
    }

    pub(super) fn trailers(&mut self, mut expr: Expr<'s>) -> PResult<Expr<'s>> {
        let start = expr.start;
        loop {
            if self.is_open(0, Delim::Paren) {
                let open = self.tok(0).unwrap();
                let open_at = (open.start, open.end);
                let args = self.group(Delim::Paren, |p| p.expr_list())?;
                let close_end = self.last_end();
                expr = self.mk(ExprKind::Call { func: Box::new(expr), args, open_at, close_end }, start);
            } else if self.is_punct(0, b'.') && !self.is_op("..") && !matches!(expr.kind, ExprKind::Range { .. }) {
                self.pos += 1;
                let token = self.tok(0).ok_or(ParseError)?;
                match token.kind {
                    TokenKind::Lit => {
                        // A tuple index.
                        let member = self.text_of(token);
                        if !member.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(ParseError);
                        }
                        self.pos += 1;
                        expr = self.mk(ExprKind::Field { base: Box::new(expr), member }, start);
                    }
                    TokenKind::Float => {
                        // `x. 0.1` (the lexer splits `x.0.1` itself): two tuple indices.
                        let text = self.text_of(token);
                        let (first, second) = text.split_once('.').ok_or(ParseError)?;
                        if first.is_empty() || !(first.bytes().chain(second.bytes())).all(|b| b.is_ascii_digit()) {
                            return Err(ParseError);
                        }
                        self.pos += 1;
                        let inner = Expr {
                            kind: ExprKind::Field { base: Box::new(expr), member: first },
                            start,
                            end: token.start + first.len() as u32,
                        };
                        expr = if second.is_empty() {
                            inner
                        } else {
                            self.mk(ExprKind::Field { base: Box::new(inner), member: second }, start)
                        };
                    }
                    TokenKind::Ident if self.text_of(token) == "await" => {
                        self.pos += 1;
                        expr = self.mk(ExprKind::Await(Box::new(expr)), start);
                    }
                    TokenKind::Ident => {
                        let method = self.text_of(token);
                        let method_at = (token.start, token.end);
                        self.pos += 1;
                        let turbofish = self.is_op("::");
                        if turbofish {
                            self.pos += 2;
                            self.skip_angles()?;
                        }
                        if turbofish || self.is_open(0, Delim::Paren) {
                            let args = self.group(Delim::Paren, |p| p.expr_list())?;
                            let close_end = self.last_end();
                            expr = self.mk(
                                ExprKind::MethodCall { receiver: Box::new(expr), method, method_at, args, close_end },
                                start,
                            );
                        } else {
                            expr = self.mk(ExprKind::Field { base: Box::new(expr), member: method }, start);
                        }
                    }
                    _ => return Err(ParseError),
                }
            } else if self.is_open(0, Delim::Bracket) {
                let index = self.group(Delim::Bracket, |p| p.expr(true))?;
                expr = self.mk(ExprKind::Index { expr: Box::new(expr), index: Box::new(index) }, start);
            } else if self.is_punct(0, b'?') && !matches!(expr.kind, ExprKind::Range { .. }) {
                self.pos += 1;
                expr = self.mk(ExprKind::Try(Box::new(expr)), start);
            } else {
                return Ok(expr);
            }
        }
    }

    /// Comma-separated expressions filling a group.
    fn expr_list(&mut self) -> PResult<Vec<Expr<'s>>> {
        // As for statements: a shared stack, then one vector of the right size.
        let base = self.expr_stack.len();
        let mut result = Ok(());
        while !self.at_end() {
            match self.expr(true) {
                Ok(expr) => self.expr_stack.push(expr),
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
            if !self.eat_op(",") {
                break;
            }
        }
        let list = self.expr_stack.split_off(base);
        result.map(|()| list)
    }

    pub(super) fn atom(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
        let start = self.start();
        let token = self.tok(0).ok_or(ParseError)?;
        match token.kind {
            TokenKind::Str | TokenKind::Lit | TokenKind::Float => {
                self.pos += 1;
                return Ok(self.mk(ExprKind::Lit, start));
            }
            TokenKind::Lifetime => return self.labeled(),
            TokenKind::Open(Delim::Paren) => {
                let (mut elems, trailing) = self.group(Delim::Paren, |p| {
                    let mut elems = Vec::new();
                    let mut trailing = false;
                    while !p.at_end() {
                        elems.push(p.expr(true)?);
                        trailing = p.eat_op(",");
                        if !trailing {
                            break;
                        }
                    }
                    Ok((elems, trailing))
                })?;
                let kind = if elems.len() == 1 && !trailing {
                    ExprKind::Paren(Box::new(elems.pop().unwrap()))
                } else {
                    ExprKind::Tuple(elems)
                };
                return Ok(self.mk(kind, start));
            }
            TokenKind::Open(Delim::Bracket) => {
                let kind = self.group(Delim::Bracket, |p| {
                    if p.at_end() {
                        return Ok(ExprKind::Array(Vec::new()));
                    }
                    let first = p.expr(true)?;
                    if p.eat_op(";") {
                        let len = p.expr(true)?;
                        return Ok(ExprKind::Repeat { value: Box::new(first), len: Box::new(len) });
                    }
                    let mut elems = vec![first];
                    while p.eat_op(",") && !p.at_end() {
                        elems.push(p.expr(true)?);
                    }
                    Ok(ExprKind::Array(elems))
                })?;
                return Ok(self.mk(kind, start));
            }
            TokenKind::Open(Delim::Brace) => {
                let block = self.block()?;
                return Ok(self.mk(ExprKind::Block(block), start));
            }
            TokenKind::Punct => {
                if self.is_punct(0, b'|') {
                    return self.closure(allow_struct);
                }
                if self.is_op("..") {
                    let closed = self.is_op("..=");
                    self.range_op();
                    let end = self.range_end(closed, allow_struct)?;
                    return Ok(self.mk(ExprKind::Range { start: None, end }, start));
                }
                if self.is_op("::") || self.is_punct(0, b'<') {
                    return self.path_or_macro_or_struct(allow_struct);
                }
                return Err(ParseError);
            }
            TokenKind::Ident => {}
            _ => return Err(ParseError),
        }
        let word = self.text_of(token);
        match word {
            "true" | "false" => {
                self.pos += 1;
                Ok(self.mk(ExprKind::Lit, start))
            }
            "builtin" if self.is_punct(1, b'#') && self.ident(2).is_some() && self.is_open(3, Delim::Paren) => {
                // `builtin # offset_of(..)` (nightly): its arguments are not expressions.
                self.pos += 3;
                self.skip_group()?;
                Ok(self.mk(ExprKind::Lit, start))
            }
            "async" if self.is_open(1, Delim::Brace) || self.is_word(1, "move") && self.is_open(2, Delim::Brace) => {
                self.pos += 1;
                self.eat_word("move");
                let block = self.block()?;
                Ok(self.mk(ExprKind::Async(block), start))
            }
            "try" if self.is_punct(1, b'!') || self.is_op_at(1, "::") => self.path_or_macro_or_struct(allow_struct),
            "try" if self.is_open(1, Delim::Brace) => {
                self.pos += 1;
                let block = self.block()?;
                Ok(self.mk(ExprKind::OtherBlock(block), start))
            }
            "move" | "static" => self.closure(allow_struct),
            "for" if self.is_punct(1, b'<') => self.closure(allow_struct),
            "const" if !self.is_open(1, Delim::Brace) => self.closure(allow_struct),
            "async" if self.is_punct(1, b'|') || self.is_word(1, "move") => self.closure(allow_struct),
            "break" => {
                self.pos += 1;
                if self.is_lifetime(0) {
                    self.pos += 1;
                }
                let value = if self.can_begin_expr() && (allow_struct || !self.is_open(0, Delim::Brace)) {
                    Some(Box::new(self.expr(allow_struct)?))
                } else {
                    None
                };
                Ok(self.mk(ExprKind::Jump(value), start))
            }
            "return" | "yield" | "become" => {
                self.pos += 1;
                let value = if self.can_begin_expr() { Some(Box::new(self.expr(allow_struct)?)) } else { None };
                Ok(self.mk(ExprKind::Jump(value), start))
            }
            "continue" => {
                self.pos += 1;
                if self.is_lifetime(0) {
                    self.pos += 1;
                }
                Ok(self.mk(ExprKind::Other, start))
            }
            "let" => {
                self.pos += 1;
                let pat = self.pat_multi_leading_vert()?;
                self.expect_op("=")?;
                let lhs = self.unary(allow_struct)?;
                let expr = self.binary(lhs, allow_struct, Prec::Compare)?;
                Ok(self.mk(ExprKind::Let { pat, expr: Box::new(expr) }, start))
            }
            "if" => self.if_expr(),
            "while" => {
                self.pos += 1;
                let cond = self.expr(false)?;
                let body = self.block()?;
                Ok(self.mk(ExprKind::While { while_at: token.start, cond: Box::new(cond), body }, start))
            }
            "for" => {
                self.pos += 1;
                let pat = self.pat_multi_leading_vert()?;
                if !self.eat_word("in") {
                    return Err(ParseError);
                }
                let expr = self.expr(false)?;
                let body = self.block()?;
                Ok(self.mk(ExprKind::ForLoop { for_at: token.start, pat, expr: Box::new(expr), body }, start))
            }
            "loop" => {
                self.pos += 1;
                let body = self.block()?;
                Ok(self.mk(ExprKind::Loop { loop_at: token.start, body }, start))
            }
            "match" => {
                self.pos += 1;
                let expr = self.expr(false)?;
                let arms = self.group(Delim::Brace, |p| p.arms())?;
                Ok(self.mk(ExprKind::Match { expr: Box::new(expr), arms }, start))
            }
            "unsafe" => {
                self.pos += 1;
                let block = self.block()?;
                Ok(self.mk(ExprKind::Block(block), start))
            }
            "const" => {
                self.pos += 1;
                let block = self.block()?;
                Ok(self.mk(ExprKind::OtherBlock(block), start))
            }
            "_" => {
                self.pos += 1;
                Ok(self.mk(ExprKind::Other, start))
            }
            _ if is_keyword(word) => Err(ParseError),
            _ => self.path_or_macro_or_struct(allow_struct),
        }
    }

    /// Whether the next token can start an expression (after `return`/`break`).
    fn can_begin_expr(&self) -> bool {
        let Some(token) = self.tok(0) else { return false };
        match token.kind {
            TokenKind::Ident => {
                let word = self.text_of(token);
                !matches!(
                    word,
                    "as" | "else"
                        | "in"
                        | "where"
                        | "fn"
                        | "mod"
                        | "struct"
                        | "enum"
                        | "impl"
                        | "trait"
                        | "pub"
                        | "use"
                        | "type"
                        | "extern"
                )
            }
            TokenKind::Lifetime | TokenKind::Str | TokenKind::Lit | TokenKind::Float | TokenKind::Open(_) => true,
            TokenKind::Punct => {
                matches!(self.punct(0), Some(b'&' | b'*' | b'!' | b'-' | b'|' | b'<' | b'#'))
                    || self.is_op("::")
                    || self.is_op("..")
            }
            _ => false,
        }
    }

    fn labeled(&mut self) -> PResult<Expr<'s>> {
        let start = self.start();
        self.pos += 1;
        self.expect_op(":")?;
        let expr = match self.ident(0) {
            Some("while" | "for" | "loop") => self.atom(true)?,
            _ if self.is_open(0, Delim::Brace) => {
                let block = self.block()?;
                self.mk(ExprKind::Block(block), start)
            }
            _ => return Err(ParseError),
        };
        Ok(Expr { start, ..expr })
    }

    fn if_expr(&mut self) -> PResult<Expr<'s>> {
        let start = self.start();
        self.pos += 1;
        let cond = self.expr(false)?;
        let then = self.block()?;
        let otherwise = if self.eat_word("else") {
            if self.is_word(0, "if") {
                Some(Box::new(self.if_expr()?))
            } else {
                let block_start = self.start();
                let block = self.block()?;
                Some(Box::new(self.mk(ExprKind::Block(block), block_start)))
            }
        } else {
            None
        };
        Ok(self.mk(ExprKind::If { cond: Box::new(cond), then, otherwise }, start))
    }

    fn arms(&mut self) -> PResult<Vec<Arm<'s>>> {
        let mut arms = Vec::new();
        self.inner_attrs()?;
        while !self.at_end() {
            self.outer_attrs()?;
            let pat = self.pat_multi_leading_vert()?;
            let guard = if self.eat_word("if") { Some(self.expr(true)?) } else { None };
            self.expect_op("=>")?;
            let body = self.expr_early()?;
            if !self.eat_op(",") && !self.at_end() && !ends_arm_without_comma(&body) {
                return Err(ParseError);
            }
            arms.push(Arm { pat, guard, body });
        }
        Ok(arms)
    }

    fn closure(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
        let start = self.start();
        if self.eat_word("for") {
            self.skip_angles()?;
        }
        self.eat_word("const");
        self.eat_word("static");
        self.eat_word("async");
        self.eat_word("move");
        self.expect_op("|")?;
        let mut inputs = Vec::new();
        loop {
            if self.eat_op("|") {
                break;
            }
            self.outer_attrs()?;
            let mut pat = self.pat_single()?;
            if self.eat_op(":") {
                let ty = self.ty(true)?;
                pat = Pat::Type { pat: Box::new(pat), ty };
            }
            inputs.push(pat);
            if self.eat_op("|") {
                break;
            }
            self.expect_op(",")?;
        }
        let body = if self.eat_op("->") {
            self.ty(true)?;
            let body_start = self.start();
            let block = self.block()?;
            self.mk(ExprKind::Block(block), body_start)
        } else {
            self.expr(allow_struct)?
        };
        Ok(self.mk(ExprKind::Closure { inputs, body: Box::new(body) }, start))
    }

    /// A path in expression position (`a::b::<T>::c`, `<T as Trait>::f`).
    pub(super) fn expr_path(&mut self) -> PResult<(Path<'s>, bool)> {
        let mut qself = None;
        let mut segments = Vec::new();
        let mut generics = false;
        let mut first_at = None;
        if self.is_punct(0, b'<') {
            self.pos += 1;
            let ty = self.ty(true)?;
            let mut position = 0;
            if self.eat_word("as") {
                // `syn` keeps the trait's segments in the path: the call's range starts there.
                self.eat_op("::");
                first_at = Some(self.start());
                let (trait_segments, _) = self.type_path()?;
                position = trait_segments.len();
                segments.extend(trait_segments);
            }
            self.expect_op(">")?;
            self.expect_op("::")?;
            qself = Some((ty.and_then(|t| t.last().map(str::to_string)), position));
        } else {
            self.eat_op("::");
        }
        let first_at = first_at.unwrap_or_else(|| self.start());
        let mut last_at;
        loop {
            let token = self.tok(0).ok_or(ParseError)?;
            let word = self.ident(0).ok_or(ParseError)?;
            if is_keyword(word) && word != "try" {
                return Err(ParseError);
            }
            segments.push(word);
            last_at = (token.start, token.end);
            self.pos += 1;
            if self.is_op("::") && self.is_punct(2, b'<') {
                self.pos += 2;
                self.skip_angles()?;
                generics = true;
            }
            if self.is_op("::") && self.tok(2).is_some_and(|t| t.kind == TokenKind::Ident) {
                self.pos += 2;
                continue;
            }
            break;
        }
        Ok((Path { qself, segments, first_at, last_at }, generics))
    }

    fn path_or_macro_or_struct(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
        let start = self.start();
        let leading = self.is_op("::");
        let (path, generics) = self.expr_path()?;
        if path.qself.is_none() && !generics && self.is_punct(0, b'!') && !self.is_op("!=") {
            self.pos += 1;
            let (open, close) = self.skip_group()?;
            let name = *path.segments.last().ok_or(ParseError)?;
            let is_vec = !leading && path.segments == ["vec"];
            let brace = self.toks[open as usize].kind == TokenKind::Open(Delim::Brace);
            return Ok(self.mk(ExprKind::Macro(Macro { name, is_vec, open, close, brace }), start));
        }
        if allow_struct && self.is_open(0, Delim::Brace) {
            let ty = path_ty_without_args(&path.segments);
            let (fields, rest) = self.group(Delim::Brace, |p| {
                let mut fields = Vec::new();
                let mut rest = None;
                while !p.at_end() {
                    p.outer_attrs()?;
                    if p.eat_op("..") {
                        if !p.at_end() {
                            rest = Some(Box::new(p.expr(true)?));
                        }
                        break;
                    }
                    let member = p.tok(0).ok_or(ParseError)?;
                    let value_start = member.start;
                    if p.is_punct(1, b':') && !p.is_op_at(1, "::") {
                        p.pos += 2;
                        fields.push(p.expr(true)?);
                    } else if member.kind == TokenKind::Ident {
                        let name = p.text_of(member);
                        p.pos += 1;
                        let path = Path {
                            qself: None,
                            segments: vec![name],
                            first_at: value_start,
                            last_at: (member.start, member.end),
                        };
                        fields.push(p.mk(ExprKind::Path(path), value_start));
                    } else {
                        return Err(ParseError);
                    }
                    if !p.eat_op(",") {
                        break;
                    }
                }
                Ok((fields, rest))
            })?;
            return Ok(self.mk(ExprKind::Struct { ty, fields, rest }, start));
        }
        Ok(self.mk(ExprKind::Path(path), start))
    }
}
