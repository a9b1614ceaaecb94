//! A recursive-descent parser from [`lexer`](super::lexer) tokens to the [`ast`](super::ast),
//! following `syn` 2's grammar decisions (precedence, statement boundaries, where struct
//! literals are allowed, how macros in statement position are classified), so that the tree has
//! the shape `syn` would give. On what it cannot parse it fails, and the caller asks `syn` why.
//! It checks less than `syn`: generic bounds, `where` clauses, attribute arguments and macro
//! bodies are skipped as balanced tokens, so a syntax error there goes unnoticed.

use super::ast::*;
use super::lexer::{self, Delim, Kind, Token};
use super::summary::TyRef;
use crate::arena::Slot;

#[derive(Debug)]
pub struct ParseError;

type PResult<T> = Result<T, ParseError>;

/// Wrappers whose first generic argument is what the value really is, for our purposes.
const TRANSPARENT: &[&str] = &["Box", "Arc", "Rc", "Option", "Result", "RefCell", "Cell", "Mutex", "RwLock", "Cow"];
const COLLECTIONS: &[&str] = &["Vec", "VecDeque", "SmallVec"];

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

/// A type written as a path without generic arguments (a struct literal's), reduced as
/// [`Parser::path_type`] reduces types: a wrapper says nothing, a collection holds `_`.
fn path_ty_without_args(segments: &[&str]) -> Option<TyRef> {
    let name = *segments.last()?;
    if TRANSPARENT.contains(&name) {
        return None;
    }
    if COLLECTIONS.contains(&name) {
        return Some(TyRef::Elem(Box::new(TyRef::path(&["_"]))));
    }
    Some(TyRef::Path(segments.iter().map(|s| s.to_string()).collect()))
}

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
fn is_block_like(expr: &Expr) -> bool {
    ends_arm_without_comma(expr) || matches!(&expr.kind, ExprKind::Macro(mac) if mac.brace)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
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
        (token.kind == Kind::Ident).then(|| self.text_of(token))
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
        (token.kind == Kind::Punct).then(|| self.src.as_bytes()[token.start as usize])
    }

    fn is_punct(&self, ahead: usize, c: u8) -> bool {
        self.punct(ahead) == Some(c)
    }

    /// Whether the operator `op` (one or more punctuation characters, joined) starts `ahead`.
    fn is_op_at(&self, ahead: usize, op: &str) -> bool {
        let bytes = op.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            let Some(token) = self.tok(ahead + i) else { return false };
            if token.kind != Kind::Punct || self.src.as_bytes()[token.start as usize] != c {
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
        self.tok(ahead).is_some_and(|t| t.kind == Kind::Open(delim))
    }

    fn is_lit(&self, ahead: usize) -> bool {
        self.tok(ahead).is_some_and(|t| matches!(t.kind, Kind::Str | Kind::Lit | Kind::Float))
            || self.is_word(ahead, "true")
            || self.is_word(ahead, "false")
    }

    fn is_lifetime(&self, ahead: usize) -> bool {
        self.tok(ahead).is_some_and(|t| t.kind == Kind::Lifetime)
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
        if token.kind != Kind::Open(delim) {
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
        if !matches!(token.kind, Kind::Open(_)) {
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
                Kind::Open(_) => {
                    self.skip_group()?;
                    continue;
                }
                Kind::Punct => match self.src.as_bytes()[token.start as usize] {
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
                Kind::Open(_) => {
                    self.skip_group()?;
                    continue;
                }
                Kind::Punct => {
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

    // ----- attributes and items ---------------------------------------------------------------

    /// `#![..]` and `//!` at the start of a file, module, `impl` or block: as in `syn`, they
    /// are attributes of what encloses them, after its outer ones.
    fn inner_attrs(&mut self) -> PResult<Vec<Attr>> {
        self.attrs(true)
    }

    /// `#[..]` and `///` before an item, statement or expression.
    fn outer_attrs(&mut self) -> PResult<Vec<Attr>> {
        self.attrs(false)
    }

    fn attrs(&mut self, inner: bool) -> PResult<Vec<Attr>> {
        let (doc, bang) = if inner { (Kind::DocInner, 1) } else { (Kind::DocOuter, 0) };
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
        } else if matches!(self.tok(0).map(|t| t.kind), Some(Kind::Open(_))) {
            self.skip_group()?;
        }
        if self.at_end() {
            Ok(())
        } else {
            Err(ParseError)
        }
    }

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
    fn items(&mut self) -> PResult<(Vec<Attr>, Vec<Item<'s>>)> {
        let inner = self.inner_attrs()?;
        let mut items = Vec::new();
        while !self.at_end() {
            items.push(self.item()?);
        }
        Ok((inner, items))
    }

    /// `path!` (a mod-style path, then `!` that is not `!=`): how many tokens the path takes.
    fn macro_path_len(&self) -> Option<usize> {
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
    fn macro_call(&mut self, path_len: usize) -> PResult<Macro<'s>> {
        let leading = self.is_op("::");
        let words: Vec<&'s str> = (0..path_len).filter_map(|i| self.ident(i)).collect();
        self.pos += path_len + 1;
        // `macro_rules! name { .. }`
        if self.is_name(0) || self.is_word(0, "try") {
            self.pos += 1;
        }
        let (open, close) = self.skip_group()?;
        let name = words.last().copied().ok_or(ParseError)?;
        let brace = self.toks[open as usize].kind == Kind::Open(Delim::Brace);
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

    fn item(&mut self) -> PResult<Item<'s>> {
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
                    if self.tok(at).is_some_and(|t| t.kind == Kind::Str) {
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

    /// A `const` or `static` after its keyword: `NAME: Type (= value)?;`.
    fn const_rest(&mut self) -> PResult<Option<Expr<'s>>> {
        self.ident(0).ok_or(ParseError)?;
        self.pos += 1;
        self.expect_op(":")?;
        self.ty(true)?;
        let value = if self.eat_op("=") { Some(self.expr(true)?) } else { None };
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
                Kind::Open(Delim::Brace) => return Ok(()),
                Kind::Open(_) => {
                    self.skip_group()?;
                }
                Kind::Punct if self.is_punct(0, b';') => return Ok(()),
                Kind::Punct if self.is_punct(0, b'<') => self.skip_angles()?,
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
                Kind::Ident => last = Some(self.text_of(token)),
                Kind::Punct if self.src.as_bytes()[token.start as usize] == b':' => {}
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
        // A trait alias: `trait A = B;`
        if self.eat_op("=") {
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
                if self.tok(at).is_some_and(|t| t.kind == Kind::Str) {
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
            if self.is_receiver() || self.is_op("...") {
                self.skip_until(b",")?;
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
    fn is_receiver(&self) -> bool {
        let mut at = 0;
        if self.is_punct(0, b'&') {
            at = 1;
            if self.is_lifetime(at) {
                at += 1;
            }
        }
        if self.is_word(at, "mut") {
            at += 1;
        }
        self.is_word(at, "self") && !self.is_op_at(at + 1, "::")
    }

    // ----- types ------------------------------------------------------------------------------

    /// A type, reduced as `types::ty_ref` did for `syn` types: `None` for what says nothing.
    fn ty(&mut self, allow_plus: bool) -> PResult<Option<TyRef>> {
        let token = self.tok(0).ok_or(ParseError)?;
        match token.kind {
            Kind::Punct => match self.src.as_bytes()[token.start as usize] {
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
            Kind::Open(Delim::Paren) => {
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
            Kind::Open(Delim::Bracket) => {
                let elem = self.group(Delim::Bracket, |p| {
                    let elem = p.ty(true)?;
                    if p.eat_op(";") {
                        p.pos = p.end;
                    }
                    Ok(elem)
                })?;
                Ok(elem.map(|e| TyRef::Elem(Box::new(e))))
            }
            Kind::Ident => {
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
        if self.eat_word("extern") && self.tok(0).is_some_and(|t| t.kind == Kind::Str) {
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
    fn type_path(&mut self) -> PResult<(Vec<&'s str>, Option<Option<TyRef>>)> {
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
            if self.is_op("::") && self.tok(2).is_some_and(|t| t.kind == Kind::Ident) {
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
    fn bounds(&mut self, allow_plus: bool) -> PResult<()> {
        loop {
            if self.is_lifetime(0) {
                self.pos += 1;
            } else if self.is_open(0, Delim::Paren) {
                self.skip_group()?;
            } else {
                self.eat_op("?");
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

    // ----- patterns ---------------------------------------------------------------------------

    /// A pattern with top-level `|` alternatives, and an optional leading `|`.
    fn pat_multi_leading_vert(&mut self) -> PResult<Pat<'s>> {
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

    fn pat_single(&mut self) -> PResult<Pat<'s>> {
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
            Kind::Punct if self.is_punct(0, b'&') => {
                self.pos += 1;
                self.eat_word("mut");
                Ok(Pat::Reference(Box::new(self.pat_single()?)))
            }
            Kind::Open(Delim::Paren) => {
                let (mut elems, trailing) = self.group(Delim::Paren, |p| p.pat_list())?;
                if elems.len() == 1 && !trailing {
                    Ok(Pat::Paren(Box::new(elems.pop().unwrap())))
                } else {
                    Ok(Pat::Tuple(elems))
                }
            }
            Kind::Open(Delim::Bracket) => Ok(Pat::Slice(self.group(Delim::Bracket, |p| p.pat_list())?.0)),
            Kind::Punct if self.is_op("..") => {
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
                    let named = member.kind == Kind::Ident;
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

    // ----- expressions ------------------------------------------------------------------------

    fn mk(&self, kind: ExprKind<'s>, start: u32) -> Expr<'s> {
        Expr { kind, start, end: self.last_end() }
    }

    fn block(&mut self) -> PResult<Block<'s>> {
        Ok(self.block_with_attrs()?.1)
    }

    fn block_with_attrs(&mut self) -> PResult<(Vec<Attr>, Block<'s>)> {
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
    fn expr_early(&mut self) -> PResult<Expr<'s>> {
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

    /// A whole expression (`syn`'s `ambiguous_expr`).
    fn expr(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
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

    fn binary(&mut self, mut lhs: Expr<'s>, allow_struct: bool, base: Prec) -> PResult<Expr<'s>> {
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

    fn unary(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
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

    fn trailers(&mut self, mut expr: Expr<'s>) -> PResult<Expr<'s>> {
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
                    Kind::Lit => {
                        // A tuple index.
                        let member = self.text_of(token);
                        if !member.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(ParseError);
                        }
                        self.pos += 1;
                        expr = self.mk(ExprKind::Field { base: Box::new(expr), member }, start);
                    }
                    Kind::Float => {
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
                    Kind::Ident if self.text_of(token) == "await" => {
                        self.pos += 1;
                        expr = self.mk(ExprKind::Await(Box::new(expr)), start);
                    }
                    Kind::Ident => {
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

    fn atom(&mut self, allow_struct: bool) -> PResult<Expr<'s>> {
        let start = self.start();
        let token = self.tok(0).ok_or(ParseError)?;
        match token.kind {
            Kind::Str | Kind::Lit | Kind::Float => {
                self.pos += 1;
                return Ok(self.mk(ExprKind::Lit, start));
            }
            Kind::Lifetime => return self.labeled(),
            Kind::Open(Delim::Paren) => {
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
            Kind::Open(Delim::Bracket) => {
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
            Kind::Open(Delim::Brace) => {
                let block = self.block()?;
                return Ok(self.mk(ExprKind::Block(block), start));
            }
            Kind::Punct => {
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
            Kind::Ident => {}
            _ => return Err(ParseError),
        }
        let word = self.text_of(token);
        match word {
            "true" | "false" => {
                self.pos += 1;
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
            Kind::Ident => {
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
            Kind::Lifetime | Kind::Str | Kind::Lit | Kind::Float | Kind::Open(_) => true,
            Kind::Punct => {
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
    fn expr_path(&mut self) -> PResult<(Path<'s>, bool)> {
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
            if self.is_op("::") && self.tok(2).is_some_and(|t| t.kind == Kind::Ident) {
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
            let brace = self.toks[open as usize].kind == Kind::Open(Delim::Brace);
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
                    } else if member.kind == Kind::Ident {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Syntax our parser must take as `syn` does: accepted (valid Rust, some of it found
    /// unreadable by early versions of this parser on crates.io sources) or rejected (each
    /// seen accepted by an early version, in mutated crates.io sources).
    const VALID: &[&str] = &[
        "use a::{b, c as d, *, self};",
        "pub(crate) struct S<T: Clone> where T: Copy { pub x: Vec<T>, y: &'static str }",
        "struct T(pub (A, B), u8) where A: Copy;",
        "enum E<T> { A, B(T), C { x: u8 } = 3, }",
        "impl<T> Tr for S<T> { fn f(&self, a: [u8; 4]) -> Option<Box<T>> where T: Fn(u8) -> u8 { None } }",
        "impl ! {}",
        "impl !Send for S {}",
        "unsafe impl<T: ?Sized> Sync for S<T> {}",
        "trait A<T>: B + C<T> where T: D { type X: E; const N: usize = 3; fn f(&self) -> u8; }",
        "trait Alias = Clone + Send;",
        "type R<T> = result::Result<T, Box<error::Error + Send + Sync>>;",
        "extern \"C\" { fn f(x: u8, ...) -> u8; static X: u32; }",
        "extern crate alloc as std_alloc;",
        "const _: () = ();",
        "static mut X: [u8; 4] = [0; 4];",
        "macro_rules! m { ($x:expr) => { $x }; }",
        "fn f() { let Some(x) = y else { return }; }",
        "fn f() { for (i, v) in a.iter().enumerate() { if let Some(_) = v { continue } } }",
        "fn f() { let c = |a: u8, b| a + b * 2 as u8; let d = || {}; let e = move |&x| x; }",
        "fn f() { match x { A::B(y) | A::C { y, .. } if y > 1 => y, _ => 0 }; }",
        "fn f() { 'outer: loop { break 'outer; } }",
        "fn f() { x.0.1 += <Vec<u8> as Default>::default().len() >> 2; }",
        "fn f() { if x as u8 != 0 && y as usize <= 3 {} }",
        "fn f() { let r = try!(g()); }",
        "fn f() { if a == (S { x: 1 }) {} while let Some(x) = it.next() {} }",
        "fn f() { match x {} - 1; }",
        "fn f() { unsafe { g() }.h(); m! { a } m![b]; }",
        "fn f() { let v = 0..5.0; let w = ..=3; let x = a..; let y = vec![0; n]; }",
        "fn f() { let s = r#\"a\"b\"#; let c = '\\''; let b = b'x'; let l: &'a str = \"\\u{7b}\"; }",
        "fn f() -> impl Iterator<Item = u8> + use<'a> { async move { x.await? }; }",
        "fn f() { let t = &p. 0.1; match x { 5.. if flag => 1, ..LIMIT => 2, _ => 3 } }",
        "struct S { f: Box<'static + Fn(&u8) -> f32> }",
        "fn\u{2028}f() { #![allow(unused)] let s = \"\\x7b\\u{7d}\"; }",
        "mod m { #![cfg(test)] //! doc\n fn f() {} }",
        "macro_rules! m { () => {} } m!(); m![]; m! {}",
    ];

    const INVALID: &[&str] = &[
        "fn f() { let = ; }",
        "const X = 1;",
        "type A = B = C;",
        "enum E { A(u8)b(u16) }",
        "extern \"C\" { fn f(x: u8 y: u8); }",
        "trait A B {}",
        "fn f() { a b }",
        "fn f() { x.f()? g() }",
        "fn f() { match x { A => 1 B => 2 } }",
        "#[rustfmt:skip] fn f() {}",
        "fn f() { (]",
        "fn f() { \"open }",
        "fn f() { match x { A => m! {} B => 1 } }",
        "fn f() { let s = \"\\q\"; }",
        "macro_rules! m { () => {} };",
        "m!() fn f() {}",
        "fn a() {} //! misplaced",
        "fn f() { a < b < c; }",
        "fn f() { x as i64 <- y; x as u8.f(); }",
    ];

    #[test]
    fn accepts_and_rejects_what_syn_does() {
        for case in VALID {
            assert!(syn::parse_file(case).is_ok(), "syn rejects the VALID case {case}");
            assert!(parse(case).file().is_ok(), "rejected: {case}");
        }
        for case in INVALID {
            assert!(syn::parse_file(case).is_err(), "syn accepts the INVALID case {case}");
            assert!(parse(case).file().is_err(), "accepted: {case}");
        }
    }

    #[test]
    fn a_failure_points_at_its_line() {
        let source = "fn f() {}\nfn g() { a b }\n";
        let at = parse(source).file().err().unwrap();
        assert_eq!(source[..at].lines().count(), 2);
    }
}
