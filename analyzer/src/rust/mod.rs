//! The Rust frontend (candle, cudarc, tch): parse each file once with `syn`, run every rule in one
//! `syn::visit` traversal, then decide what is hot with a crate-wide pass over the summaries.

mod krate;
pub mod rules;
pub mod summary;
mod types;
mod visitor;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use self::summary::{FileSummary, Marker};
use self::visitor::{Candidate, FileVisitor};
use crate::diagnostic::{Diagnostic, Heat, Location};
use crate::discovery::{io_reason, SourceFile};
use crate::meta;
use crate::python::Outcome;
use crate::registry::Rule;
use crate::settings::Settings;
use crate::source::LineIndex;
use crate::suppression::{Directive, Suppressions};

/// What the per-file pass keeps of a file once its syntax tree is gone.
pub struct FileAnalysis {
    pub path: PathBuf,
    pub summary: FileSummary,
    candidates: Vec<Candidate>,
    /// GL000/GL001: reported whatever the hot paths.
    pub file_diagnostics: Vec<Diagnostic>,
    /// Malformed `graphlint:` comments and internal errors, for stderr.
    pub warnings: Vec<String>,
    pub internal_error: bool,
    /// The file's suppressions and what they matched; `None` when the file was not checked
    /// (unreadable, or a syntax error), so that none is reported unused.
    pub suppressions: Option<Suppressions>,
}

impl FileAnalysis {
    fn empty(path: &Path) -> Self {
        FileAnalysis {
            path: path.to_path_buf(),
            summary: FileSummary::default(),
            candidates: Vec::new(),
            file_diagnostics: Vec::new(),
            warnings: Vec::new(),
            internal_error: false,
            suppressions: None,
        }
    }
}

/// Checks `files` (in parallel, one traversal each) and returns their diagnostics, unsorted.
pub fn check(files: &[SourceFile], settings: &Settings) -> Outcome {
    let mut analyses: Vec<FileAnalysis> =
        files.par_iter().map(|file| analyze_file_guarded(&file.path, settings)).collect();
    let suppressions = analyses
        .iter_mut()
        .filter_map(|a| Some((a.path.clone(), a.suppressions.take().filter(|s| !s.is_empty())?)))
        .collect();
    let mut warnings = Vec::new();
    let mut internal_error = false;
    for analysis in &analyses {
        warnings.extend(analysis.warnings.iter().cloned());
        internal_error |= analysis.internal_error;
    }
    let (diagnostics, hot_functions) = krate::classify(analyses, settings);
    Outcome { diagnostics, hot_functions, warnings, internal_error, suppressions }
}

/// A bug in one file's analysis must not take the run down: it becomes a warning and exit 2.
fn analyze_file_guarded(path: &Path, settings: &Settings) -> FileAnalysis {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| analyze_file(path, settings)));
    // Spans index a per-thread map of every text parsed so far; drop it after each file.
    proc_macro2::extra::invalidate_current_thread_spans();
    match result {
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

pub fn analyze_file(path: &Path, settings: &Settings) -> FileAnalysis {
    let mut analysis = FileAnalysis::empty(path);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            let message = format!("cannot read file: {}", io_reason(&err));
            analysis.file_diagnostics.push(file_diagnostic(&meta::UNREADABLE_FILE, path, message, "", 0..0));
            return analysis;
        }
    };
    let source = match std::str::from_utf8(&bytes) {
        Ok(source) => source,
        Err(err) => {
            let row =
                LineIndex::new(std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or("")).row(err.valid_up_to());
            let message = format!("file is not valid UTF-8 (invalid byte at line {row}); it was not checked");
            analysis.file_diagnostics.push(file_diagnostic(
                &meta::UNREADABLE_FILE,
                path,
                message,
                "save the file as UTF-8",
                0..0,
            ));
            return analysis;
        }
    };
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let bom = bytes.len() - source.len();
    let lines = LineIndex::new(source);

    let mut suppressions = Suppressions::default();
    let mut markers: FxHashMap<u32, Marker> = FxHashMap::default();
    for (row, text) in directive_comments(source, &lines) {
        match Directive::parse(text) {
            Ok(Some(Directive::Hot)) => {
                markers.insert(row, Marker::Hot);
            }
            Ok(Some(Directive::Cold)) => {
                markers.insert(row, Marker::Cold);
            }
            Ok(Some(directive)) => suppressions.add(row, &directive),
            Ok(None) => {}
            Err(err) => analysis.warnings.push(format!("{}:{row}: {}", crate::output::display_path(path), err.0)),
        }
    }

    let file = match syn::parse_file(source) {
        Ok(file) => file,
        Err(error) => {
            let range = error.span().byte_range();
            let start = lines.location(source, range.start);
            let enabled = settings.selection.is_enabled(meta::SYNTAX_ERROR.code);
            if enabled && !suppressions.suppresses(meta::SYNTAX_ERROR.code, start.row, start.row) {
                let mut diagnostic = file_diagnostic(
                    &meta::SYNTAX_ERROR,
                    path,
                    format!("syntax error: {error}"),
                    "fix the syntax error; nothing else in this file was checked",
                    range.start + bom..range.end + bom,
                );
                diagnostic.start = start;
                diagnostic.end = lines.location(source, range.end);
                analysis.file_diagnostics.push(diagnostic);
            }
            return analysis;
        }
    };

    let mut visitor = FileVisitor::new(source, &lines, path, settings, &suppressions, &markers, Vec::new());
    visitor.check_file(&file);
    analysis.summary = std::mem::take(&mut visitor.summary);
    analysis.candidates = std::mem::take(&mut visitor.candidates);
    drop(visitor);
    analysis.suppressions = Some(suppressions);
    if bom > 0 {
        for candidate in &mut analysis.candidates {
            let range = &mut candidate.diagnostic.range;
            *range = range.start + bom..range.end + bom;
        }
    }
    analysis
}

/// The text after `//` of every line comment that mentions `graphlint`, with its row. Doc
/// comments (`///`, `//!`) and mentions in backticks are documentation, not directives; a `//`
/// inside a string literal on the same line is not a comment (a string spanning lines can still
/// fool this, which at worst yields a warning).
pub(crate) fn directive_comments<'s>(source: &'s str, lines: &LineIndex) -> Vec<(u32, &'s str)> {
    let mut found = Vec::new();
    let mut last_row = 0;
    for at in memchr::memmem::find_iter(source.as_bytes(), b"graphlint") {
        let row = lines.row(at);
        if row == last_row {
            continue;
        }
        last_row = row;
        let line = &source[lines.line_range(source, row)];
        let Some(comment) = line_comment_start(line) else { continue };
        let text = &line[comment + 2..];
        if text.starts_with(['/', '!']) || text.contains("`graphlint") {
            continue;
        }
        found.push((row, text));
    }
    found
}

/// Where a line's `//` comment starts, skipping string and character literals.
fn line_comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'\'' if !in_string && bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn file_diagnostic(
    rule: &'static Rule,
    path: &Path,
    message: String,
    help: &str,
    range: std::ops::Range<usize>,
) -> Diagnostic {
    let start = Location { row: 1, column: 1 };
    Diagnostic {
        rule,
        message,
        help: (!help.is_empty()).then(|| help.to_string()),
        file: path.to_path_buf(),
        range,
        start,
        end: start,
        hot_path: Vec::new(),
        heat: Heat::File,
        suppressed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_come_from_plain_line_comments_only() {
        let source = "let s = \"// graphlint: ignroe[GL801]\";\n\
                      /// Docs mention `graphlint: hot` markers.\n\
                      let c = '\"'; t.to_scalar(); // graphlint: ignore[GL801] -- reason\n\
                      // graphlint: hot\n\
                      // prose about `graphlint: error` output\n";
        let lines = LineIndex::new(source);
        let rows: Vec<u32> = directive_comments(source, &lines).into_iter().map(|(row, _)| row).collect();
        assert_eq!(rows, vec![3, 4]);
    }
}
