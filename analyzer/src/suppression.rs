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

use std::cell::RefCell;

use rustc_hash::FxHashMap;

use smallvec::SmallVec;

use crate::rule::{prefix_matches, selector_matches_any, CODES};

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suppressed {
    /// The row of the directive's comment.
    pub row: u32,
    /// An `ignore-file` directive (else a line `ignore`).
    pub file_level: bool,
    pub reason: Option<String>,
}

/// The suppressions of one file, and which of their selectors matched a finding.
///
/// Frontends ask [`Suppressions::suppresses`] while they check a file, before hot paths are
/// known; every match is recorded, so a suppression counts as used whether its finding turns out
/// hot or cold. The engine reads the record back for the unused-suppression rule (GL002).
#[derive(Debug, Default)]
pub struct Suppressions {
    entries: Vec<Entry>,
    /// Row → indices into `entries` of the line suppressions on that row.
    by_row: FxHashMap<u32, SmallVec<[usize; 1]>>,
    /// Indices into `entries` of the `ignore-file` directives.
    file: SmallVec<[usize; 1]>,
    /// (entry, selector) pairs that matched a finding, with the finding's code.
    hits: RefCell<Vec<Hit>>,
}

/// One `ignore[...]` or `ignore-file[...]` comment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The row of the comment (1-based).
    pub row: u32,
    /// Whether it is an `ignore-file` directive.
    pub whole_file: bool,
    /// The codes or prefixes it lists, upper-cased.
    pub selectors: Vec<String>,
    /// The text after the code list, if any.
    pub reason: Option<String>,
}

/// A selector of an entry that matched a finding of `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub entry: usize,
    pub selector: usize,
    pub code: &'static str,
}

impl Clone for Suppressions {
    fn clone(&self) -> Self {
        Suppressions {
            entries: self.entries.clone(),
            by_row: self.by_row.clone(),
            file: self.file.clone(),
            hits: RefCell::new(self.hits.borrow().clone()),
        }
    }
}

impl Suppressions {
    /// Records a directive found in a comment on `row` (1-based). Hot/cold markers are not
    /// suppressions and are ignored here.
    pub fn add(&mut self, row: u32, directive: &Directive) {
        let (whole_file, ignore) = match directive {
            Directive::Ignore(ignore) => (false, ignore),
            Directive::IgnoreFile(ignore) => (true, ignore),
            Directive::Hot | Directive::Cold => return,
        };
        self.push(Entry { row, whole_file, selectors: ignore.codes.clone(), reason: ignore.reason.clone() });
    }

    fn push(&mut self, entry: Entry) {
        let index = self.entries.len();
        if entry.whole_file {
            self.file.push(index);
        } else {
            self.by_row.entry(entry.row).or_default().push(index);
        }
        self.entries.push(entry);
    }

    /// A file's suppressions as a cache stored them: its [`Self::entries`] and the
    /// [`Self::hits`] its check recorded.
    pub fn restore(entries: Vec<Entry>, hits: Vec<Hit>) -> Self {
        let mut suppressions = Suppressions::default();
        for entry in entries {
            suppressions.push(entry);
        }
        *suppressions.hits.get_mut() = hits;
        suppressions
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a finding of `code` spanning rows `start_row..=end_row` is suppressed. Every
    /// selector that matches is recorded as used.
    pub fn suppresses(&self, code: &'static str, start_row: u32, end_row: u32) -> bool {
        self.find(code, start_row, end_row).is_some()
    }

    /// The directive that suppresses a finding of `code` spanning rows `start_row..=end_row`: a
    /// line directive on its first or last row, else an `ignore-file`. Every selector that
    /// matches is recorded as used, not only the one returned.
    pub fn find(&self, code: &'static str, start_row: u32, end_row: u32) -> Option<Suppressed> {
        let rows: &[u32] = if start_row == end_row { &[start_row] } else { &[start_row, end_row] };
        let line_entries = rows.iter().filter_map(|row| self.by_row.get(row)).flatten();
        let mut found = None;
        for &entry in line_entries.chain(self.file.iter()) {
            let e = &self.entries[entry];
            for (selector, text) in e.selectors.iter().enumerate() {
                if prefix_matches(text, code) {
                    self.hits.borrow_mut().push(Hit { entry, selector, code });
                    found.get_or_insert_with(|| Suppressed {
                        row: e.row,
                        file_level: e.whole_file,
                        reason: e.reason.clone(),
                    });
                }
            }
        }
        found
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every recorded match so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.borrow().clone()
    }
}

/// Why a selector of a suppression is unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnusedReason {
    /// No finding of the code on the line (or in the file).
    NoFinding,
    /// The code is not enabled for the file.
    NotEnabled,
    /// No rule has the code.
    UnknownCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unused {
    pub entry: usize,
    pub selector: usize,
    pub reason: UnusedReason,
}

impl Suppressions {
    /// The selectors that matched no finding of a code `enabled` for this file (nothing when
    /// GL002 itself is not enabled). A selector matching GL002 on the same line, or in an
    /// `ignore-file`, keeps another unused selector from being reported, and so counts as used.
    pub fn unused(&self, enabled: &dyn Fn(&str) -> bool) -> Vec<Unused> {
        let unused_code = crate::meta::UNUSED_SUPPRESSION.code;
        if !enabled(unused_code) {
            return Vec::new();
        }
        let hits = self.hits.borrow();
        let mut unused = Vec::new();
        for (entry, e) in self.entries.iter().enumerate() {
            for (selector, text) in e.selectors.iter().enumerate() {
                if hits.iter().any(|h| h.entry == entry && h.selector == selector && enabled(h.code)) {
                    continue;
                }
                let reason = if !selector_matches_any(text) {
                    UnusedReason::UnknownCode
                } else if !CODES.iter().any(|&code| prefix_matches(text, code) && enabled(code)) {
                    UnusedReason::NotEnabled
                } else {
                    UnusedReason::NoFinding
                };
                unused.push(Unused { entry, selector, reason });
            }
        }
        let mut silenced = Vec::new();
        let mut silencers = Vec::new();
        for u in &unused {
            let row = self.entries[u.entry].row;
            let nearby = self.file.iter().chain(self.by_row.get(&row).into_iter().flatten());
            for &entry in nearby {
                for (selector, text) in self.entries[entry].selectors.iter().enumerate() {
                    if (entry, selector) != (u.entry, u.selector) && prefix_matches(text, unused_code) {
                        silenced.push((u.entry, u.selector));
                        silencers.push((entry, selector));
                    }
                }
            }
        }
        unused.retain(|u| !silenced.contains(&(u.entry, u.selector)) && !silencers.contains(&(u.entry, u.selector)));
        unused
    }
}

/// The byte range of `selector` inside the `graphlint: ignore[...]` (or `ignore-file[...]`)
/// directive on `line`, for pointing a diagnostic at it.
pub fn selector_span(line: &str, whole_file: bool, selector: &str) -> Option<std::ops::Range<usize>> {
    let keyword = if whole_file { "ignore-file[" } else { "ignore[" };
    let mut from = 0;
    while let Some(at) = line[from..].find("graphlint:") {
        let start = from + at + "graphlint:".len();
        let rest = &line[start..];
        let skipped = rest.len() - rest.trim_start().len();
        if rest.trim_start().starts_with(keyword) {
            let open = start + skipped + keyword.len();
            let close = open + line[open..].find(']')?;
            let mut item_start = open;
            for item in line[open..close].split(',') {
                let trimmed = item.trim();
                if trimmed.eq_ignore_ascii_case(selector) {
                    let lead = item.len() - item.trim_start().len();
                    return Some(item_start + lead..item_start + lead + trimmed.len());
                }
                item_start += item.len() + 1;
            }
            return None;
        }
        from = start;
    }
    None
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
        assert_eq!(
            Directive::parse("graphlint: ignore[GL801] --  "),
            Ok(Some(Directive::Ignore(Ignore::new(&["GL801"], None))))
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
        s.add(3, &Directive::Ignore(Ignore::new(&["GL2"], Some("why"))));
        s.add(9, &Directive::IgnoreFile(Ignore::new(&["GL701"], None)));
        assert!(s.suppresses("GL201", 3, 3));
        assert!(s.suppresses("GL203", 1, 3), "a comment on the last line of a multi-line finding counts");
        assert!(!s.suppresses("GL301", 3, 3));
        assert!(!s.suppresses("GL201", 4, 4));
        assert!(s.suppresses("GL701", 100, 100));
        let used: Vec<(u32, &str, &str)> = s
            .hits()
            .iter()
            .map(|h| (s.entries()[h.entry].row, s.entries()[h.entry].selectors[h.selector].as_str(), h.code))
            .collect();
        assert_eq!(used, vec![(3, "GL2", "GL201"), (3, "GL2", "GL203"), (9, "GL701", "GL701")]);
        assert_eq!(s.find("GL201", 1, 3), Some(Suppressed { row: 3, file_level: false, reason: Some("why".into()) }));
        assert_eq!(s.find("GL701", 5, 5), Some(Suppressed { row: 9, file_level: true, reason: None }));
        assert_eq!(s.find("GL301", 3, 3), None);
    }

    #[test]
    fn unused_selectors_and_why() {
        let mut s = Suppressions::default();
        s.add(2, &Directive::Ignore(Ignore::new(&["GL201", "GL301", "GL999"], None)));
        s.add(5, &Directive::Ignore(Ignore::new(&["GL701", "GL002"], None)));
        s.add(7, &Directive::Ignore(Ignore::new(&["GL002"], None)));
        s.add(1, &Directive::IgnoreFile(Ignore::new(&["GL4"], None)));
        assert!(s.suppresses("GL201", 2, 2));
        let enabled = |code: &str| code != "GL301";
        let unused: Vec<(u32, &str, UnusedReason)> = s
            .unused(&enabled)
            .iter()
            .map(|u| (s.entries()[u.entry].row, s.entries()[u.entry].selectors[u.selector].as_str(), u.reason))
            .collect();
        assert_eq!(
            unused,
            vec![
                (2, "GL301", UnusedReason::NotEnabled),
                (2, "GL999", UnusedReason::UnknownCode),
                // Row 5: GL701 is unused, but GL002 beside it keeps it quiet (and is used for it).
                (7, "GL002", UnusedReason::NoFinding),
                (1, "GL4", UnusedReason::NoFinding),
            ]
        );
        assert!(s.unused(&|code| code != "GL002").is_empty(), "nothing when GL002 is off");
        // A finding that is not enabled for the file does not make its suppression used.
        assert!(s.unused(&|code| code != "GL201").iter().any(|u| u.entry == 0 && u.selector == 0));
    }

    #[test]
    fn selector_spans() {
        let line = "x = t.item()  # note graphlint: ignore[GL201, gl3 ,GL999]";
        assert_eq!(&line[selector_span(line, false, "GL3").unwrap()], "gl3");
        assert_eq!(&line[selector_span(line, false, "GL999").unwrap()], "GL999");
        assert_eq!(selector_span(line, true, "GL201"), None);
        let file = "// graphlint: ignore-file[GL8]";
        assert_eq!(&file[selector_span(file, true, "GL8").unwrap()], "GL8");
    }
}
