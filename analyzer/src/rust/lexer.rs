//! A Rust lexer that makes no allocation per token: each token is a kind and a byte range of the
//! source. Punctuation comes one character at a time with proc-macro2's spacing (`joint` when the
//! next character is punctuation too), so the parser composes `::`, `->`, `>>` as `syn` does and
//! can split `>>` where generics close. Delimiters are matched here: an opening token knows the
//! index of its closing one.
//!
//! The lexer rejects unbalanced delimiters, unterminated literals, unknown escapes and characters
//! that are not Rust; the caller then asks `syn` for the error.

use super::comments;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delim {
    Paren,
    Bracket,
    Brace,
}

impl Delim {
    /// The delimiter an opening or closing character belongs to.
    fn of(c: u8) -> Delim {
        match c {
            b'(' | b')' => Delim::Paren,
            b'[' | b']' => Delim::Bracket,
            _ => Delim::Brace,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    Lifetime,
    /// A string literal (`"…"` or `r#"…"#`), the only literal kind whose value the rules read.
    Str,
    /// Any other literal: numbers, characters, byte and C strings.
    Lit,
    /// A float literal such as `0.1`, which after a `.` is two tuple indices.
    Float,
    Punct,
    Open(Delim),
    Close(Delim),
    /// `///` or `/** */`: an outer attribute for `syn`.
    DocOuter,
    /// `//!` or `/*! */`: an inner attribute.
    DocInner,
}

#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub kind: TokenKind,
    /// The next character is punctuation too (only meaningful for `Punct`).
    pub joint: bool,
    pub start: u32,
    pub end: u32,
    /// For `Open`: the index of the matching `Close`.
    pub close: u32,
}

/// Where the lexer gave up.
#[derive(Debug)]
pub struct LexError {
    pub at: usize,
}

/// proc-macro2's punctuation characters, as a table: the lexer asks for every character.
const IS_PUNCT: [bool; 256] = {
    let mut table = [false; 256];
    let chars = b"~!@#$%^&*-=+|;:,<.>/?'";
    let mut i = 0;
    while i < chars.len() {
        table[chars[i] as usize] = true;
        i += 1;
    }
    table
};

/// Bytes that continue an identifier (any non-ASCII byte counts: a multi-byte character is
/// taken whole, and `syn` decides on the rare file where that is wrong).
const IS_IDENT: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        c += 1;
    }
    table
};

/// The length of the Unicode Pattern_White_Space character at the start of `bytes` (U+0085,
/// U+200E, U+200F, U+2028, U+2029), or 0: whitespace to Rust, not part of an identifier.
fn unicode_space_len(bytes: &[u8]) -> usize {
    match bytes {
        [0xc2, 0x85, ..] => 2,
        [0xe2, 0x80, 0x8e | 0x8f | 0xa8 | 0xa9, ..] => 3,
        _ => 0,
    }
}

fn is_ident_start(c: u8) -> bool {
    IS_IDENT[c as usize] && !c.is_ascii_digit()
}

/// The length of a shebang line (`#!` not followed by `[`, past whitespace and comments: then it
/// is an inner attribute), without its newline, as `syn::parse_file` strips it; 0 if none. `syn`'s
/// spans count from after it.
pub fn shebang_len(source: &str) -> usize {
    let bytes = source.as_bytes();
    if !bytes.starts_with(b"#!") {
        return 0;
    }
    // Past whitespace and plain comments (a doc comment is an attribute, so it ends the search).
    let mut rest = source[2..].trim_start();
    while rest.starts_with("//") || rest.starts_with("/*") {
        let mut lexer = Lexer { bytes: rest.as_bytes(), pos: 0, tokens: Vec::new(), open: Vec::new() };
        if rest.starts_with("//") {
            lexer.line_comment();
        } else if lexer.block_comment().is_err() {
            break;
        }
        if !lexer.tokens.is_empty() {
            break;
        }
        rest = rest[lexer.pos..].trim_start();
    }
    if rest.starts_with('[') {
        return 0;
    }
    memchr::memchr(b'\n', bytes).unwrap_or(bytes.len())
}

/// Which escapes a quoted literal takes: `"…"`/`'…'`, `b"…"`/`b'…'`, or `c"…"`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escapes {
    Text,
    Byte,
    C,
}

/// The length of the UTF-8 character that starts with `first`.
fn utf8_width(first: u8) -> usize {
    match first {
        0..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

pub fn tokenize(source: &str) -> Result<Vec<Token>, LexError> {
    let bytes = source.as_bytes();
    let mut lexer = Lexer { bytes, pos: 0, tokens: Vec::with_capacity(source.len() / 4), open: Vec::new() };
    // A shebang line is not Rust; `#![attr]` is.
    lexer.pos = shebang_len(source);
    lexer.run()?;
    if let Some(&open) = lexer.open.last() {
        return Err(LexError { at: lexer.tokens[open].start as usize });
    }
    Ok(lexer.tokens)
}

struct Lexer<'s> {
    bytes: &'s [u8],
    pos: usize,
    tokens: Vec<Token>,
    open: Vec<usize>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token { kind, joint: false, start: start as u32, end: self.pos as u32, close: 0 });
    }

    fn run(&mut self) -> Result<(), LexError> {
        while self.pos < self.bytes.len() {
            let start = self.pos;
            let c = self.bytes[start];
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                    // Indentation comes in runs.
                    let mut pos = start + 1;
                    while pos < self.bytes.len() && matches!(self.bytes[pos], b' ' | b'\t' | b'\n' | b'\r') {
                        pos += 1;
                    }
                    self.pos = pos;
                }
                b'/' if self.peek(1) == b'/' => self.line_comment(),
                b'/' if self.peek(1) == b'*' => self.block_comment()?,
                b'(' | b'[' | b'{' => {
                    self.pos += 1;
                    self.open.push(self.tokens.len());
                    self.push(TokenKind::Open(Delim::of(c)), start);
                }
                b')' | b']' | b'}' => {
                    self.pos += 1;
                    let delim = Delim::of(c);
                    let open = self.open.pop().ok_or(LexError { at: self.pos })?;
                    if self.tokens[open].kind != TokenKind::Open(delim) {
                        return Err(LexError { at: self.pos });
                    }
                    self.tokens[open].close = self.tokens.len() as u32;
                    self.push(TokenKind::Close(delim), start);
                }
                b'"' => {
                    self.pos += 1;
                    self.quoted(b'"', Escapes::Text)?;
                    self.suffix();
                    self.push(TokenKind::Str, start);
                }
                b'\'' => self.quote()?,
                b'0'..=b'9' => self.number()?,
                b'r' if self.peek(1) == b'#' && is_ident_start(self.peek(2)) => {
                    self.pos += 2;
                    self.ident_tail();
                    self.push(TokenKind::Ident, start);
                }
                b'r' if matches!(self.peek(1), b'"' | b'#') => {
                    self.pos += 1;
                    self.raw_string()?;
                    self.push(TokenKind::Str, start);
                }
                b'b' | b'c' if self.peek(1) == b'r' && matches!(self.peek(2), b'"' | b'#') => {
                    self.pos += 2;
                    self.raw_string()?;
                    self.push(TokenKind::Lit, start);
                }
                b'b' | b'c' if self.peek(1) == b'"' => {
                    let escapes = if c == b'b' { Escapes::Byte } else { Escapes::C };
                    self.pos += 2;
                    self.quoted(b'"', escapes)?;
                    self.suffix();
                    self.push(TokenKind::Lit, start);
                }
                b'b' if self.peek(1) == b'\'' => {
                    self.pos += 2;
                    self.char_body(Escapes::Byte)?;
                    self.suffix();
                    self.push(TokenKind::Lit, start);
                }
                0x80.. if unicode_space_len(&self.bytes[start..]) > 0 => {
                    self.pos += unicode_space_len(&self.bytes[start..]);
                }
                c if is_ident_start(c) => {
                    self.ident_tail();
                    self.push(TokenKind::Ident, start);
                }
                c if IS_PUNCT[c as usize] => {
                    self.pos += 1;
                    let next = self.peek(0);
                    self.push(TokenKind::Punct, start);
                    // As proc-macro2: joint when punctuation follows directly; the slash of a
                    // comment is not punctuation.
                    let comment = next == b'/' && matches!(self.peek(1), b'/' | b'*');
                    self.tokens.last_mut().unwrap().joint = IS_PUNCT[next as usize] && !comment;
                }
                _ => return Err(LexError { at: self.pos }),
            }
        }
        Ok(())
    }

    fn ident_tail(&mut self) {
        let mut pos = self.pos;
        while pos < self.bytes.len() && IS_IDENT[self.bytes[pos] as usize] {
            if self.bytes[pos] >= 0x80 && unicode_space_len(&self.bytes[pos..]) > 0 {
                break;
            }
            pos += 1;
        }
        self.pos = pos;
    }

    /// A literal's suffix (`1u32`, `"…"suffix`).
    fn suffix(&mut self) {
        if self.pos < self.bytes.len() && is_ident_start(self.bytes[self.pos]) {
            self.ident_tail();
        }
    }

    fn line_comment(&mut self) {
        let start = self.pos;
        self.pos = comments::line_comment_end(self.bytes, start);
        let end = self.pos;
        let text = &self.bytes[start..end];
        if text.starts_with(b"///") && !text.starts_with(b"////") {
            self.push(TokenKind::DocOuter, start);
        } else if text.starts_with(b"//!") {
            self.push(TokenKind::DocInner, start);
        }
    }

    fn block_comment(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        self.pos = comments::block_comment_end(self.bytes, start).ok_or(LexError { at: self.bytes.len() })?;
        let text = &self.bytes[start..self.pos];
        if text.starts_with(b"/**") && !text.starts_with(b"/***") && text != b"/**/" {
            self.push(TokenKind::DocOuter, start);
        } else if text.starts_with(b"/*!") {
            self.push(TokenKind::DocInner, start);
        }
        Ok(())
    }

    /// The rest of a quoted literal, after its opening quote.
    fn quoted(&mut self, quote: u8, escapes: Escapes) -> Result<(), LexError> {
        loop {
            let c = self.peek(0);
            if self.pos >= self.bytes.len() {
                return Err(LexError { at: self.pos });
            }
            self.pos += 1;
            if c == b'\\' {
                self.escape(escapes)?;
            } else if c == quote {
                return Ok(());
            }
        }
    }

    /// A character or byte literal after its opening quote: one character or escape, then `'`.
    fn char_body(&mut self, escapes: Escapes) -> Result<(), LexError> {
        match self.peek(0) {
            b'\\' => {
                self.pos += 1;
                self.escape(escapes)?;
            }
            b'\'' | b'\n' | b'\r' | b'\t' => return Err(LexError { at: self.pos }),
            c => self.pos += utf8_width(c),
        }
        if self.peek(0) != b'\'' {
            return Err(LexError { at: self.pos });
        }
        self.pos += 1;
        Ok(())
    }

    /// An escape after its backslash, checked as proc-macro2 checks it: known letters only,
    /// `\x` with two hex digits (at most `7f` outside byte and C strings), `\u{..}` with one to
    /// six hex digits naming a character (not in byte literals).
    fn escape(&mut self, escapes: Escapes) -> Result<(), LexError> {
        let bad = |at| Err(LexError { at });
        let c = self.peek(0);
        self.pos += 1;
        match c {
            b'n' | b'r' | b't' | b'\\' | b'0' | b'\'' | b'"' => Ok(()),
            // A line continuation, in strings.
            b'\n' | b'\r' => Ok(()),
            b'x' => {
                let (high, low) = (self.peek(0), self.peek(1));
                let high_ok =
                    if escapes == Escapes::Text { matches!(high, b'0'..=b'7') } else { high.is_ascii_hexdigit() };
                if !high_ok || !low.is_ascii_hexdigit() {
                    return bad(self.pos);
                }
                self.pos += 2;
                Ok(())
            }
            b'u' if escapes != Escapes::Byte => {
                if self.peek(0) != b'{' {
                    return bad(self.pos);
                }
                self.pos += 1;
                let (mut value, mut digits) = (0u32, 0);
                loop {
                    match self.peek(0) {
                        b'_' if digits > 0 => {}
                        c if c.is_ascii_hexdigit() && digits < 6 => {
                            value = value * 16 + (c as char).to_digit(16).unwrap();
                            digits += 1;
                        }
                        b'}' if digits > 0 => break,
                        _ => return bad(self.pos),
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                if char::from_u32(value).is_none() {
                    return bad(self.pos);
                }
                Ok(())
            }
            _ => bad(self.pos),
        }
    }

    /// `#*"…"#*`, after the `r`.
    fn raw_string(&mut self) -> Result<(), LexError> {
        let mut hashes = 0;
        while self.peek(0) == b'#' {
            hashes += 1;
            self.pos += 1;
        }
        if self.peek(0) != b'"' {
            return Err(LexError { at: self.pos });
        }
        self.pos += 1;
        loop {
            let at = memchr::memchr(b'"', &self.bytes[self.pos..]).ok_or(LexError { at: self.pos })?;
            self.pos += at + 1;
            if self.bytes[self.pos..].iter().take(hashes).take_while(|&&b| b == b'#').count() == hashes {
                self.pos += hashes;
                self.suffix();
                return Ok(());
            }
        }
    }

    /// A character literal or a lifetime.
    fn quote(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        self.pos += 1;
        if self.peek(0) == b'\\' {
            self.char_body(Escapes::Text)?;
            self.suffix();
            self.push(TokenKind::Lit, start);
            return Ok(());
        }
        // One character, which may take several bytes.
        let width = utf8_width(self.peek(0));
        if self.peek(width) == b'\'' {
            self.pos += width + 1;
            self.suffix();
            self.push(TokenKind::Lit, start);
            return Ok(());
        }
        if self.peek(0) == b'r' && self.peek(1) == b'#' {
            self.pos += 2;
        }
        if !is_ident_start(self.peek(0)) {
            return Err(LexError { at: self.pos });
        }
        self.ident_tail();
        self.push(TokenKind::Lifetime, start);
        Ok(())
    }

    fn number(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let mut float = false;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'o' | b'b') {
            self.pos += 2;
            let mut digits = 0;
            while self.peek(0).is_ascii_hexdigit() || self.peek(0) == b'_' {
                digits += usize::from(self.peek(0) != b'_');
                self.pos += 1;
            }
            if digits == 0 {
                // `0x;`: proc-macro2 takes no prefix without a digit.
                return Err(LexError { at: start });
            }
        } else {
            self.digits();
            // `1.0` and `1.` are floats; `1..2`, `1.max(2)` and `x.0.1`'s inner index are not.
            let after_dot = self.peek(1);
            let is_dot = |t: &Token| t.kind == TokenKind::Punct && self.bytes[t.start as usize] == b'.';
            let n = self.tokens.len();
            let after_field_dot = n >= 1
                && is_dot(&self.tokens[n - 1])
                && self.tokens[n - 1].end as usize == start
                && !(n >= 2 && is_dot(&self.tokens[n - 2]) && self.tokens[n - 2].joint);
            if self.peek(0) == b'.' && after_dot != b'.' && !is_ident_start(after_dot) && !after_field_dot {
                float = true;
                self.pos += 1;
                self.digits();
            }
            if matches!(self.peek(0), b'e' | b'E')
                && (self.peek(1).is_ascii_digit()
                    || matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit())
            {
                float = true;
                self.pos += 2;
                self.digits();
            }
        }
        self.suffix();
        self.push(if float { TokenKind::Float } else { TokenKind::Lit }, start);
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(TokenKind, &str)> {
        tokenize(source).unwrap().iter().map(|t| (t.kind, &source[t.start as usize..t.end as usize])).collect()
    }

    #[test]
    fn literals_lifetimes_and_comments() {
        let found =
            kinds("/// doc\nfn f<'a>(x: &'a str) { 'l: loop {} r#\"s\"# 'c' b'\\n' 1..2 x.0.1 1e-3 /* a /* b */ */ }");
        let texts: Vec<&str> = found.iter().map(|(_, t)| *t).collect();
        assert_eq!(
            texts,
            [
                "/// doc", "fn", "f", "<", "'a", ">", "(", "x", ":", "&", "'a", "str", ")", "{", "'l", ":", "loop",
                "{", "}", "r#\"s\"#", "'c'", "b'\\n'", "1", ".", ".", "2", "x", ".", "0", ".", "1", "1e-3", "}"
            ]
        );
        assert_eq!(found[0].0, TokenKind::DocOuter);
        assert_eq!(found[3].0, TokenKind::Punct);
        assert_eq!(found[14].0, TokenKind::Lifetime);
        assert_eq!(found[19].0, TokenKind::Str);
    }

    #[test]
    fn spacing_and_delimiters() {
        let tokens = tokenize("a::b >>= (c)").unwrap();
        assert!(tokens[1].joint && !tokens[2].joint);
        assert!(tokens[4].joint && tokens[5].joint && !tokens[6].joint);
        assert_eq!(tokens[7].close, 9);
        assert!(tokenize("(]").is_err());
        assert!(tokenize("\"open").is_err());
    }
}
