//! `graphlint:` comment directives, independent of the comment syntax.
//!
//! A frontend finds its comments (`# ...` in Python, `// ...` in Rust), strips the comment marker
//! and hands the text to [`Directive::parse`]. Recognised directives:
//!
//! - `graphlint: ignore[GL201,GL3]`: suppress these codes (or prefixes) on this line;
//! - `graphlint: ignore-file[GL7]`: suppress them in the whole file;
//! - after either, an optional reason: `graphlint: ignore[GL801] -- deliberate, opt-in mode`;
//! - `graphlint: hot` / `graphlint: cold`: on a `def` (or `fn`) line, mark the function as a
//!   hot-path root, or keep it (and what only it reaches) out of hot paths.

use rustc_hash::FxHashMap;

use crate::registry::prefix_matches;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    Ignore(Ignore),
    IgnoreFile(Ignore),
    Hot,
    Cold,
}

/// The codes an ignore directive names, and the reason its author gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub codes: Vec<String>,
    /// The text after the code list, without a leading `--` or `:`; `None` when there is none.
    pub reason: Option<String>,
}

impl Ignore {
    pub fn new(codes: &[&str], reason: Option<&str>) -> Self {
        Ignore { codes: codes.iter().map(|c| c.to_string()).collect(), reason: reason.map(str::to_string) }
    }
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
                let (codes, rest) = parse_codes(after).ok_or_else(|| {
                    DirectiveError(format!("`graphlint: {word}` needs a code list, e.g. `{word}[GL201]`"))
                })?;
                let ignore = Ignore { codes, reason: parse_reason(rest) };
                Ok(Some(if word == "ignore" { Directive::Ignore(ignore) } else { Directive::IgnoreFile(ignore) }))
            }
            other => Err(DirectiveError(format!(
                "unknown directive `graphlint: {other}` (expected ignore[...], ignore-file[...], hot or cold)"
            ))),
        }
    }
}

/// The code list and the text after it.
fn parse_codes(text: &str) -> Option<(Vec<String>, &str)> {
    let text = text.strip_prefix('[')?;
    let close = text.find(']')?;
    let codes: Vec<String> =
        text[..close].split(',').map(|c| c.trim().to_ascii_uppercase()).filter(|c| !c.is_empty()).collect();
    (!codes.is_empty()).then_some((codes, &text[close + 1..]))
}

fn parse_reason(text: &str) -> Option<String> {
    let text = text.trim_start();
    let text = text.strip_prefix("--").or_else(|| text.strip_prefix(':')).unwrap_or(text).trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Why a finding was not reported: the directive that silenced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    /// The row of the directive's comment.
    pub row: u32,
    /// An `ignore-file` directive (else a line `ignore`).
    pub file_level: bool,
    pub reason: Option<String>,
}

/// The suppressions of one file.
#[derive(Debug, Default, Clone)]
pub struct Suppressions {
    file: Vec<(u32, Ignore)>,
    lines: FxHashMap<u32, Vec<Ignore>>,
}

impl Suppressions {
    /// Records a directive found in a comment on `row` (1-based). Hot/cold markers are not
    /// suppressions and are ignored here.
    pub fn add(&mut self, row: u32, directive: &Directive) {
        match directive {
            Directive::Ignore(ignore) => self.lines.entry(row).or_default().push(ignore.clone()),
            Directive::IgnoreFile(ignore) => self.file.push((row, ignore.clone())),
            Directive::Hot | Directive::Cold => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.file.is_empty() && self.lines.is_empty()
    }

    /// Whether a finding of `code` spanning rows `start_row..=end_row` is suppressed.
    pub fn suppresses(&self, code: &str, start_row: u32, end_row: u32) -> bool {
        self.find(code, start_row, end_row).is_some()
    }

    /// The directive that suppresses a finding of `code` spanning rows `start_row..=end_row`: a
    /// line directive on its first or last row, else an `ignore-file`.
    pub fn find(&self, code: &str, start_row: u32, end_row: u32) -> Option<Suppressed> {
        let names = |ignore: &Ignore| ignore.codes.iter().any(|sel| prefix_matches(sel, code));
        let on_line = [start_row, end_row].into_iter().find_map(|row| {
            let ignore = self.lines.get(&row)?.iter().find(|i| names(i))?;
            Some(Suppressed { row, file_level: false, reason: ignore.reason.clone() })
        });
        on_line.or_else(|| {
            let (row, ignore) = self.file.iter().find(|(_, i)| names(i))?;
            Some(Suppressed { row: *row, file_level: true, reason: ignore.reason.clone() })
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
            Ok(Some(Directive::Ignore(Ignore::new(&["GL201", "GL3"], None))))
        );
        assert_eq!(
            Directive::parse("graphlint:ignore-file[GL7]"),
            Ok(Some(Directive::IgnoreFile(Ignore::new(&["GL7"], None))))
        );
        assert_eq!(
            Directive::parse(" graphlint: ignore[GL801] -- deliberate: the probe must catch it "),
            Ok(Some(Directive::Ignore(Ignore::new(&["GL801"], Some("deliberate: the probe must catch it")))))
        );
        assert_eq!(
            Directive::parse(" graphlint: ignore-file[GL8]: vendored code"),
            Ok(Some(Directive::IgnoreFile(Ignore::new(&["GL8"], Some("vendored code")))))
        );
        assert_eq!(Directive::parse("graphlint: ignore[GL801] --  "), Ok(Some(Directive::Ignore(Ignore::new(&["GL801"], None)))));
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
        s.add(3, &Directive::Ignore(Ignore::new(&["GL2"], Some("why"))));
        s.add(9, &Directive::IgnoreFile(Ignore::new(&["GL701"], None)));
        assert!(s.suppresses("GL201", 3, 3));
        assert!(s.suppresses("GL203", 1, 3), "a comment on the last line of a multi-line finding counts");
        assert!(!s.suppresses("GL301", 3, 3));
        assert!(!s.suppresses("GL201", 4, 4));
        assert!(s.suppresses("GL701", 100, 100));
        assert_eq!(s.find("GL201", 1, 3), Some(Suppressed { row: 3, file_level: false, reason: Some("why".into()) }));
        assert_eq!(s.find("GL701", 5, 5), Some(Suppressed { row: 9, file_level: true, reason: None }));
        assert_eq!(s.find("GL301", 3, 3), None);
    }
}
