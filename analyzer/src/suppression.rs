//! `graphlint:` comment directives, independent of the comment syntax.
//!
//! A frontend finds its comments (`# ...` in Python, `// ...` in Rust), strips the comment marker
//! and hands the text to [`Directive::parse`]. Recognised directives:
//!
//! - `graphlint: ignore[GL201,GL3]`: suppress these codes (or prefixes) on this line;
//! - `graphlint: ignore-file[GL7]`: suppress them in the whole file;
//! - `graphlint: hot` / `graphlint: cold`: on a `def` (or `fn`) line, mark the function as a
//!   hot-path root, or keep it (and what only it reaches) out of hot paths.

use rustc_hash::FxHashMap;

use crate::registry::prefix_matches;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    Ignore(Vec<String>),
    IgnoreFile(Vec<String>),
    Hot,
    Cold,
}

/// A malformed `graphlint:` comment (reported as a warning, never silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError(pub String);

impl Directive {
    /// Parses the text of one comment, without its marker. `Ok(None)` means no directive.
    pub fn parse(comment: &str) -> Result<Option<Directive>, DirectiveError> {
        let Some(at) = comment.find("graphlint:") else { return Ok(None) };
        let rest = comment[at + "graphlint:".len()..].trim_start();
        let word_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        match word {
            "hot" => Ok(Some(Directive::Hot)),
            "cold" => Ok(Some(Directive::Cold)),
            "ignore" | "ignore-file" => {
                let codes = parse_codes(after).ok_or_else(|| {
                    DirectiveError(format!("`graphlint: {word}` needs a code list, e.g. `{word}[GL201]`"))
                })?;
                Ok(Some(if word == "ignore" { Directive::Ignore(codes) } else { Directive::IgnoreFile(codes) }))
            }
            other => Err(DirectiveError(format!(
                "unknown directive `graphlint: {other}` (expected ignore[...], ignore-file[...], hot or cold)"
            ))),
        }
    }
}

fn parse_codes(text: &str) -> Option<Vec<String>> {
    let text = text.strip_prefix('[')?;
    let close = text.find(']')?;
    let codes: Vec<String> =
        text[..close].split(',').map(|c| c.trim().to_ascii_uppercase()).filter(|c| !c.is_empty()).collect();
    (!codes.is_empty()).then_some(codes)
}

/// The suppressions of one file.
#[derive(Debug, Default, Clone)]
pub struct Suppressions {
    file: Vec<String>,
    lines: FxHashMap<u32, Vec<String>>,
}

impl Suppressions {
    /// Records a directive found in a comment on `row` (1-based). Hot/cold markers are not
    /// suppressions and are ignored here.
    pub fn add(&mut self, row: u32, directive: &Directive) {
        match directive {
            Directive::Ignore(codes) => self.lines.entry(row).or_default().extend(codes.iter().cloned()),
            Directive::IgnoreFile(codes) => self.file.extend(codes.iter().cloned()),
            Directive::Hot | Directive::Cold => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.file.is_empty() && self.lines.is_empty()
    }

    /// Whether a finding of `code` spanning rows `start_row..=end_row` is suppressed.
    pub fn suppresses(&self, code: &str, start_row: u32, end_row: u32) -> bool {
        if self.file.iter().any(|sel| prefix_matches(sel, code)) {
            return true;
        }
        [start_row, end_row].iter().any(|row| {
            self.lines.get(row).is_some_and(|codes| codes.iter().any(|sel| prefix_matches(sel, code)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives_whatever_the_comment_marker() {
        assert_eq!(
            Directive::parse(" graphlint: ignore[GL201, gl3]"),
            Ok(Some(Directive::Ignore(vec!["GL201".into(), "GL3".into()])))
        );
        assert_eq!(
            Directive::parse("graphlint:ignore-file[GL7]"),
            Ok(Some(Directive::IgnoreFile(vec!["GL7".into()])))
        );
        assert_eq!(Directive::parse(" noqa: E501  graphlint: hot"), Ok(Some(Directive::Hot)));
        assert_eq!(Directive::parse(" graphlint: cold -- training only"), Ok(Some(Directive::Cold)));
        assert_eq!(Directive::parse(" a plain comment"), Ok(None));
        assert!(Directive::parse(" graphlint: ignore").is_err());
        assert!(Directive::parse(" graphlint: ignore[]").is_err());
        assert!(Directive::parse(" graphlint: hott").is_err());
    }

    #[test]
    fn line_and_file_suppressions() {
        let mut s = Suppressions::default();
        s.add(3, &Directive::Ignore(vec!["GL2".into()]));
        s.add(9, &Directive::IgnoreFile(vec!["GL701".into()]));
        assert!(s.suppresses("GL201", 3, 3));
        assert!(s.suppresses("GL203", 1, 3), "a comment on the last line of a multi-line finding counts");
        assert!(!s.suppresses("GL301", 3, 3));
        assert!(!s.suppresses("GL201", 4, 4));
        assert!(s.suppresses("GL701", 100, 100));
    }
}
