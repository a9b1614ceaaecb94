//! What a Rust comment is, written once: the lexer skips comments with [`line_comment_end`] and
//! [`block_comment_end`], and [`line_comments`] finds the `//` comments of any text, even one that
//! does not lex (directives are read before parsing, and `--add-suppressions` re-reads what it
//! wrote), knowing strings, raw strings, character literals and nested block comments.

use std::ops::Range;

use crate::source::LineIndex;

/// Where the line comment starting at `start` (its `//`) ends: at the newline, or the text's end.
pub fn line_comment_end(bytes: &[u8], start: usize) -> usize {
    memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |at| start + at)
}

/// Where the block comment starting at `start` (its `/*`) ends, past its `*/`; block comments
/// nest. `None` if the text ends first.
pub fn block_comment_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 1;
    let mut i = start + 2;
    while depth > 0 {
        match (bytes.get(i), bytes.get(i + 1)) {
            (None, _) => return None,
            (Some(b'/'), Some(b'*')) => {
                depth += 1;
                i += 2;
            }
            (Some(b'*'), Some(b'/')) => {
                depth -= 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    Some(i)
}

/// The `//` comments of `text` (doc comments included), each from its `//` to the end of its
/// line (a `\r` before the newline included).
pub fn line_comments(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut comments = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = line_comment_end(bytes, i);
                comments.push(i..end);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = block_comment_end(bytes, i).unwrap_or(bytes.len()),
            b'r' if is_raw_string_start(bytes, i) => {
                let mut j = i + 1;
                let mut hashes = 0;
                while bytes.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                j += 1; // the opening quote
                let closing: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                i = memchr::memmem::find(&bytes[j..], &closing).map_or(bytes.len(), |n| j + n + closing.len());
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'\'' => {
                // A character literal ('a', '\n', '\u{1F600}'), or a lifetime ('a) left as is.
                if bytes.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    let next = text[i + 1..].chars().next().map_or(0, char::len_utf8);
                    i += if bytes.get(i + 1 + next) == Some(&b'\'') { next + 2 } else { 1 };
                }
            }
            _ => i += 1,
        }
    }
    comments
}

/// `r"`, `r#"`, `br"`, `cr"` at `i`, and not the tail of an identifier such as `for`.
fn is_raw_string_start(bytes: &[u8], i: usize) -> bool {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let prefix_ok = match i.checked_sub(1).map(|p| bytes[p]) {
        None => true,
        Some(b'b' | b'c') => i < 2 || !ident(bytes[i - 2]),
        Some(previous) => !ident(previous),
    };
    let mut j = i + 1;
    while bytes.get(j) == Some(&b'#') {
        j += 1;
    }
    prefix_ok && bytes.get(j) == Some(&b'"')
}

/// The text after `//` of every line comment that mentions `graphlint`, with its row. Doc
/// comments (`///`, `//!`) and mentions in backticks are documentation, not directives.
pub(crate) fn directive_comments<'s>(source: &'s str, lines: &LineIndex) -> Vec<(u32, &'s str)> {
    // Most files have none: skip the scan.
    if memchr::memmem::find(source.as_bytes(), b"graphlint").is_none() {
        return Vec::new();
    }
    line_comments(source)
        .into_iter()
        .filter_map(|range| {
            let text = source[range.start + 2..range.end].trim_end_matches('\r');
            let directive = text.contains("graphlint") && !text.starts_with(['/', '!']) && !text.contains("`graphlint");
            directive.then(|| (lines.row(range.start), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_comments_skip_strings_characters_and_block_comments() {
        let text =
            "let c = '\"'; // a\nlet l: &'static str = \"x\"; /* // no /* nested */ */ // b\nlet raw = br##\"// no\"##; // c\n";
        let found: Vec<&str> = line_comments(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, vec!["// a", "// b", "// c"]);
    }

    #[test]
    fn directives_come_from_plain_line_comments_only() {
        let source = "let s = \"// graphlint: ignroe[GL801]\";\n\
                      /// Docs mention `graphlint: hot` markers.\n\
                      let c = '\"'; t.to_scalar(); // graphlint: ignore[GL801] -- reason\r\n\
                      // graphlint: hot\n\
                      // prose about `graphlint: error` output\n\
                      let m = \"a string over two lines\n// graphlint: ignore[GL801]\";\n";
        let lines = LineIndex::new(source);
        let found = directive_comments(source, &lines);
        assert_eq!(found, vec![(3, " graphlint: ignore[GL801] -- reason"), (4, " graphlint: hot")]);
    }

    #[test]
    fn block_comments_nest_and_may_be_unterminated() {
        assert_eq!(block_comment_end(b"/* a /* b */ c */ d", 0), Some(17));
        assert_eq!(block_comment_end(b"/* a /* b */", 0), None);
    }
}
