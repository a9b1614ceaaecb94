//! Blocks and statements: `let`, items in statement position, and where a statement ends.

use super::expressions::{is_block_like, Prec};
use super::{PResult, ParseError, Parser};
use crate::rust::ast::*;
use crate::rust::lexer::Delim;

impl<'s, 't> Parser<'s, 't> {
    pub(super) fn block(&mut self) -> PResult<Block<'s>> {
        Ok(self.block_with_attrs()?.1)
    }

    pub(super) fn block_with_attrs(&mut self) -> PResult<(Vec<Attr>, Block<'s>)> {
        self.group(Delim::Brace, |p| {
            let inner = p.inner_attrs()?;
            Ok((inner, Block { stmts: p.stmts()? }))
        })
    }

    fn stmts(&mut self) -> PResult<Vec<Stmt<'s>>> {
        // Collected on a shared stack, then moved into a vector of the right size: growing a
        // vector per block would copy it each time nested nodes were allocated after it.
        let base = self.stmt_stack.len();
        let result = self.stmts_onto_stack();
        let stmts = self.stmt_stack.split_off(base);
        result.map(|()| stmts)
    }

    fn stmts_onto_stack(&mut self) -> PResult<()> {
        loop {
            while self.eat_op(";") {
                self.stmt_stack.push(Stmt::Empty);
            }
            if self.at_end() {
                return Ok(());
            }
            let stmt = self.stmt()?;
            // An expression that is not block-like needs a `;` unless it ends the block.
            if let Stmt::Expr { expr, semi: false } = &stmt {
                if !self.at_end() && !is_block_like(expr) {
                    return Err(ParseError);
                }
            }
            self.stmt_stack.push(stmt);
        }
    }

    fn stmt(&mut self) -> PResult<Stmt<'s>> {
        let begin = self.pos;
        self.outer_attrs()?;
        if let Some(path_len) = self.macro_path_len() {
            let after = path_len + 1;
            if self.is_name(after) || self.is_word(after, "try") {
                self.pos = begin;
                return Ok(Stmt::Item(self.item()?));
            }
            if self.is_open(after, Delim::Brace) {
                let close = self.tok(after).unwrap().close as usize - self.pos;
                let continues =
                    self.is_punct(close + 1, b'.') && !self.is_op_at(close + 1, "..") || self.is_punct(close + 1, b'?');
                if !continues {
                    let mac = self.macro_call(path_len)?;
                    self.eat_op(";");
                    return Ok(Stmt::Macro(mac));
                }
            }
        }
        if self.is_word(0, "let") {
            return self.local();
        }
        if self.starts_item() {
            self.pos = begin;
            return Ok(Stmt::Item(self.item()?));
        }
        let expr = self.expr_early()?;
        let semi = self.eat_op(";");
        if let ExprKind::Macro(mac) = expr.kind {
            if semi || mac.brace {
                return Ok(Stmt::Macro(mac));
            }
            return Ok(Stmt::Expr { expr: Expr { kind: ExprKind::Macro(mac), ..expr }, semi: false });
        }
        Ok(Stmt::Expr { expr, semi })
    }

    /// `syn`'s test for an item in statement position.
    fn starts_item(&self) -> bool {
        let Some(word) = self.ident(0) else { return false };
        let next = self.ident(1);
        let next2 = self.ident(2);
        match word {
            "pub" | "extern" | "use" | "fn" | "mod" | "type" | "struct" | "enum" | "trait" | "impl" | "macro" => true,
            "crate" => !self.is_op_at(1, "::"),
            "static" => {
                next == Some("mut")
                    || self.is_name(1) && !(next == Some("async") && (next2 == Some("move") || self.is_punct(2, b'|')))
            }
            "const" => {
                !(self.is_open(1, Delim::Brace)
                    || next == Some("static")
                    || next == Some("async") && !matches!(next2, Some("unsafe" | "extern" | "fn"))
                    || next == Some("move")
                    || self.is_punct(1, b'|'))
            }
            "unsafe" => !self.is_open(1, Delim::Brace),
            "async" => matches!(next, Some("unsafe" | "extern" | "fn")),
            "union" => self.is_name(1),
            "auto" => next == Some("trait"),
            "default" => matches!(next, Some("unsafe" | "impl")),
            _ => false,
        }
    }

    fn local(&mut self) -> PResult<Stmt<'s>> {
        self.pos += 1; // `let`
        let mut pat = self.pat_single()?;
        if self.eat_op(":") {
            let ty = self.ty(true)?;
            pat = Pat::Type { pat: Box::new(pat), ty };
        }
        let mut init = None;
        let mut diverge = None;
        if self.eat_op("=") {
            init = Some(self.expr(true)?);
            if self.eat_word("else") {
                diverge = Some(self.block()?);
            }
        }
        self.expect_op(";")?;
        Ok(Stmt::Local { pat, init, diverge })
    }

    /// An expression in statement position: a block-like one ends the statement unless a method
    /// call or `?` follows.
    pub(super) fn expr_early(&mut self) -> PResult<Expr<'s>> {
        let start = self.start();
        self.outer_attrs()?;
        let block_like = match self.ident(0) {
            Some("if" | "while" | "loop" | "match") => true,
            Some("for") => !self.is_punct(1, b'<'),
            Some("try" | "const") => self.is_open(1, Delim::Brace),
            Some("unsafe") => true,
            _ => self.is_open(0, Delim::Brace) || self.is_lifetime(0),
        };
        if !block_like {
            let lhs = self.unary(true)?;
            let lhs = Expr { start, ..lhs };
            return self.binary(lhs, true, Prec::Jump);
        }
        let expr = self.atom(true)?;
        let expr = Expr { start, ..expr };
        if self.is_punct(0, b'.') && !self.is_op("..") || self.is_punct(0, b'?') {
            let expr = self.trailers(expr)?;
            return self.binary(expr, true, Prec::Jump);
        }
        Ok(expr)
    }
}
