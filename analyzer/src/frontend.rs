//! What the Python and Rust frontends share around their own parser and traversal: reading a
//! file, its `graphlint:` comments, the findings a traversal reports before anything is known to
//! be hot, and gathering the per-file results for the project-wide pass.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::diagnostic::{Diagnostic, Heat, HotFunction};
use crate::meta;
use crate::paths::io_reason;
use crate::rule::Rule;
use crate::settings::Settings;
use crate::source::LineIndex;
use crate::suppression::{Directive, Suppressions};

/// A `graphlint: hot` / `cold` marker on the line of a function definition (or the line above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Marker {
    Hot,
    Cold,
}

/// A finding in function `func` (inside region `region`, innermost, if any) of its file, before
/// the project-wide pass decides whether it is hot.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub diagnostic: Diagnostic,
    pub func: u32,
    pub region: Option<u32>,
}

/// The most characters of source text a message quotes (a receiver, an argument).
pub const MAX_SNIPPET_CHARS: usize = 60;

/// Source text quoted in a message, capped at [`MAX_SNIPPET_CHARS`]: longer text keeps its start
/// and its end with `…` between them, so that a 10,000-call chain's message stays one line and
/// still shows where the chain starts and which call it ends with.
pub fn snippet(text: &str) -> Cow<'_, str> {
    let chars = text.chars().count();
    if chars <= MAX_SNIPPET_CHARS {
        return Cow::Borrowed(text);
    }
    let head = (MAX_SNIPPET_CHARS - 1) / 2;
    let tail = MAX_SNIPPET_CHARS - 1 - head;
    let head_end = text.char_indices().nth(head).map_or(text.len(), |(at, _)| at);
    let tail_start = text.char_indices().nth(chars - tail).map_or(text.len(), |(at, _)| at);
    Cow::Owned(format!("{}…{}", &text[..head_end], &text[tail_start..]))
}

/// Starts a warning that is only a note (valid code read a slower way): printed with `--verbose`.
pub const NOTE_PREFIX: &str = "note: ";

/// What the per-file pass keeps of a file once its syntax tree is gone; `S` is the frontend's
/// summary of the file.
pub struct FileAnalysis<S> {
    pub path: PathBuf,
    pub summary: S,
    pub candidates: Vec<Candidate>,
    /// GL000/GL001: reported whatever the hot paths.
    pub file_diagnostics: Vec<Diagnostic>,
    /// Malformed `graphlint:` comments, internal errors and notes ([`NOTE_PREFIX`]), for stderr.
    pub warnings: Vec<String>,
    pub internal_error: bool,
    /// The file's suppressions and what they matched; `None` when the file was not checked
    /// (unreadable, or a syntax error), so that none is reported unused.
    pub suppressions: Option<Suppressions>,
}

impl<S: Default> FileAnalysis<S> {
    pub fn empty(path: &Path) -> Self {
        FileAnalysis {
            path: path.to_path_buf(),
            summary: S::default(),
            candidates: Vec::new(),
            file_diagnostics: Vec::new(),
            warnings: Vec::new(),
            internal_error: false,
            suppressions: None,
        }
    }
}

impl<S> FileAnalysis<S> {
    /// Shifts the candidates' byte ranges, found in the text after a byte-order mark of `bom`
    /// bytes, so that they index the file's bytes.
    pub fn shift_past_bom(&mut self, bom: usize) {
        if bom > 0 {
            for candidate in &mut self.candidates {
                let range = &mut candidate.diagnostic.range;
                *range = range.start + bom..range.end + bom;
            }
        }
    }
}

/// Runs `analyze`; a bug in one file's analysis must not take the run down: it becomes a
/// warning and exit 2.
pub fn catch_panic<S: Default>(path: &Path, analyze: impl FnOnce() -> FileAnalysis<S>) -> FileAnalysis<S> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(analyze)) {
        Ok(analysis) => analysis,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let mut analysis = FileAnalysis::empty(path);
            analysis.warnings.push(format!("internal error while checking {}: {reason}", path.display()));
            analysis.internal_error = true;
            analysis
        }
    }
}

/// What one frontend found in its files.
pub struct Outcome {
    pub diagnostics: Vec<Diagnostic>,
    pub hot_functions: Vec<HotFunction>,
    /// Each file's warnings, with the file.
    pub warnings: Vec<(PathBuf, String)>,
    pub internal_error: bool,
    /// Each checked file's suppressions, for the unused-suppression rule.
    pub suppressions: Vec<(PathBuf, Suppressions)>,
    /// How many hot-path roots the project pass found.
    pub roots: usize,
}

/// Takes each file's suppressions, warnings and internal error out of `analyses`, then lets
/// `classify` (the frontend's project-wide pass) turn the rest into findings and hot functions.
pub fn outcome<S>(
    mut analyses: Vec<FileAnalysis<S>>,
    classify: impl FnOnce(Vec<FileAnalysis<S>>) -> crate::hotpath::Classified,
) -> Outcome {
    let suppressions = analyses
        .iter_mut()
        .filter_map(|a| Some((a.path.clone(), a.suppressions.take().filter(|s| !s.is_empty())?)))
        .collect();
    let mut warnings = Vec::new();
    let mut internal_error = false;
    for analysis in &analyses {
        warnings.extend(analysis.warnings.iter().map(|w| (analysis.path.clone(), w.clone())));
        internal_error |= analysis.internal_error;
    }
    let classified = classify(analyses);
    Outcome {
        diagnostics: classified.diagnostics,
        hot_functions: classified.hot_functions,
        warnings,
        internal_error,
        suppressions,
        roots: classified.roots,
    }
}

/// A file's text, as read from disk or from the run's [`Overlay`].
pub struct SourceText {
    text: String,
    /// The length in bytes of a leading byte-order mark (0 when there is none).
    pub bom: usize,
}

impl SourceText {
    /// The text of `path` from what reading it gave; when it could not be read or is not
    /// UTF-8, the GL001 finding that says so (boxed: it is rare, and large beside a
    /// `SourceText`).
    pub fn from_read(path: &Path, bytes: std::io::Result<Vec<u8>>) -> Result<SourceText, Box<Diagnostic>> {
        let bytes = bytes.map_err(|err| {
            let message = format!("cannot read file: {}", io_reason(&err));
            Box::new(Diagnostic::file_level(&meta::UNREADABLE_FILE, path, message, None, 0..0))
        })?;
        let text = String::from_utf8(bytes).map_err(|err| {
            let offset = err.utf8_error().valid_up_to();
            let bytes = err.as_bytes();
            let row = LineIndex::new(std::str::from_utf8(&bytes[..offset]).unwrap_or("")).row(offset);
            let message = format!("file is not valid UTF-8 (invalid byte at line {row}); it was not checked");
            let help = Some("save the file as UTF-8".to_string());
            Box::new(Diagnostic::file_level(&meta::UNREADABLE_FILE, path, message, help, 0..0))
        })?;
        let bom = text.len() - text.strip_prefix('\u{feff}').unwrap_or(&text).len();
        Ok(SourceText { text, bom })
    }

    /// The text after the byte-order mark: what the parsers read.
    pub fn source(&self) -> &str {
        &self.text[self.bom..]
    }
}

/// Reads the `graphlint:` comments, each the text after the comment marker with its row: the
/// suppressions, the hot/cold markers by row, and a warning for each malformed one.
pub fn read_directives<'t>(
    comments: impl IntoIterator<Item = (u32, &'t str)>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> (Suppressions, FxHashMap<u32, Marker>) {
    let mut suppressions = Suppressions::default();
    let mut markers: FxHashMap<u32, Marker> = FxHashMap::default();
    for (row, text) in comments {
        match Directive::parse(text) {
            Ok(Some(Directive::Hot)) => {
                markers.insert(row, Marker::Hot);
            }
            Ok(Some(Directive::Cold)) => {
                markers.insert(row, Marker::Cold);
            }
            Ok(Some(directive)) => suppressions.add(row, &directive),
            Ok(None) => {}
            Err(err) => warnings.push(format!("{}:{row}: {}", crate::paths::display_path(path), err.0)),
        }
    }
    (suppressions, markers)
}

/// What a frontend's traversal of one file reads besides its syntax tree.
pub struct FileContext<'a> {
    /// The text after any byte-order mark: ranges index it.
    pub source: &'a str,
    pub lines: &'a LineIndex,
    pub path: &'a Path,
    pub settings: &'a Settings,
    pub suppressions: &'a Suppressions,
    pub markers: &'a FxHashMap<u32, Marker>,
}

impl FileContext<'_> {
    fn is_enabled(&self, rule: &Rule) -> bool {
        self.settings.selection.is_enabled(rule.code)
    }

    /// The finding `rule` reports at `range`, still cold and without a chain; `None` when the
    /// rule is not selected, or a `graphlint: ignore` suppresses it (such a finding is kept,
    /// marked, with [`Settings::keep_suppressed`]). A suppression counts on the last row of
    /// `range`, or on the first row of the expression it belongs to, which starts at `from`
    /// (`range.start` but for the method of a call written over several lines).
    pub fn finding(
        &self,
        rule: &'static Rule,
        range: Range<usize>,
        from: usize,
        message: String,
        help: &str,
    ) -> Option<Diagnostic> {
        if !self.is_enabled(rule) {
            return None;
        }
        let start = self.lines.location(self.source, range.start);
        let end = self.lines.location(self.source, range.end);
        let first = self.lines.row(from.min(range.start));
        let suppressed = self.suppressions.find(rule.code, first, end.row).or_else(|| {
            (first != start.row).then(|| self.suppressions.find(rule.code, start.row, start.row)).flatten()
        });
        if suppressed.is_some() && !self.settings.keep_suppressed {
            return None;
        }
        Some(Diagnostic {
            rule,
            message,
            help: Some(help.to_string()),
            file: self.path.to_path_buf(),
            range,
            start,
            end,
            hot_path: Vec::new(),
            heat: Heat::Cold,
            suppressed,
        })
    }

    /// The GL000 finding for a syntax error at `range` (of [`Self::source`]; `bom` is the
    /// byte-order mark's length); `None` when GL000 is not selected or is suppressed there.
    pub fn syntax_error(&self, message: String, range: Range<usize>, bom: usize) -> Option<Diagnostic> {
        if !self.is_enabled(&meta::SYNTAX_ERROR) {
            return None;
        }
        let start = self.lines.location(self.source, range.start);
        if self.suppressions.suppresses(meta::SYNTAX_ERROR.code, start.row, start.row) {
            return None;
        }
        let help = Some("fix the syntax error; nothing else in this file was checked".to_string());
        Some(Diagnostic {
            start,
            end: self.lines.location(self.source, range.end),
            ..Diagnostic::file_level(&meta::SYNTAX_ERROR, self.path, message, help, range.start + bom..range.end + bom)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_keep_both_ends_of_long_text() {
        assert_eq!(snippet("t.argmax(0)?"), "t.argmax(0)?");
        let chain = format!("t{}", ".f()?".repeat(1000));
        let capped = snippet(&chain);
        assert_eq!(capped.chars().count(), MAX_SNIPPET_CHARS);
        assert!(capped.starts_with("t.f()?.f()?") && capped.ends_with(".f()?.f()?"), "{capped}");
        assert_eq!(capped.matches('…').count(), 1);
        // Characters, not bytes: no slice inside a multi-byte character.
        let wide = "é".repeat(100);
        assert_eq!(snippet(&wide).chars().count(), MAX_SNIPPET_CHARS);
    }
}
