//! The Python frontend: parse each file once, run every rule in one traversal, then decide what
//! is hot with a project-wide pass over the per-file summaries.

pub mod adapter;
pub mod arena;
mod checker;
pub(crate) mod project;
pub mod rules;
pub mod summary;
mod types;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use self::checker::{Candidate, Checker};
use self::summary::{FileSummary, Marker};
use crate::diagnostic::{Diagnostic, Heat};
use crate::discovery::{io_reason, SourceFile};
use crate::meta;
use crate::registry::Rule;
use crate::settings::Settings;
use crate::source::LineIndex;
use crate::suppression::{Directive, Suppressions};

/// What the per-file pass keeps of a file once its AST is gone.
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

/// Checks `files` and returns their diagnostics (unsorted) plus warnings.
pub fn check(files: &[SourceFile], settings: &Settings) -> Outcome {
    let timings = std::env::var_os("GRAPHLINT_TIMINGS").is_some();
    let started = process_cpu_seconds();
    let mut analyses: Vec<FileAnalysis> =
        files.par_iter().map(|file| analyze_file_guarded(&file.path, settings)).collect();
    let per_file = process_cpu_seconds() - started;
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
    let vals: usize = analyses.iter().map(|a| a.summary.vals.len()).sum();
    let calls: usize = analyses.iter().map(|a| a.summary.calls.len()).sum();
    let (diagnostics, hot_functions) = project::classify(analyses, settings);
    if timings {
        eprintln!(
            "graphlint: per-file pass {per_file:.3} CPU-s, project pass {:.3} CPU-s ({vals} values, {calls} call sites)",
            process_cpu_seconds() - started - per_file
        );
    }
    Outcome { diagnostics, hot_functions, warnings, internal_error, suppressions }
}

pub struct Outcome {
    pub diagnostics: Vec<Diagnostic>,
    pub hot_functions: Vec<crate::diagnostic::HotFunction>,
    pub warnings: Vec<String>,
    pub internal_error: bool,
    /// Each checked file's suppressions, for the unused-suppression rule.
    pub suppressions: Vec<(PathBuf, Suppressions)>,
}

/// A bug in one file's analysis must not take the run down: it becomes a warning and exit 2.
fn analyze_file_guarded(path: &Path, settings: &Settings) -> FileAnalysis {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| analyze_file(path, settings))) {
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

pub fn analyze_file(path: &Path, settings: &Settings) -> FileAnalysis {
    let mut analysis = FileAnalysis::empty(path);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            analysis.file_diagnostics.push(file_diagnostic(
                &meta::UNREADABLE_FILE,
                path,
                format!("cannot read file: {}", io_reason(&err)),
                "",
                0..0,
            ));
            return analysis;
        }
    };
    let source = match std::str::from_utf8(&bytes) {
        Ok(source) => source,
        Err(err) => {
            let offset = err.valid_up_to();
            let lines = LineIndex::new(std::str::from_utf8(&bytes[..offset]).unwrap_or(""));
            let row = lines.row(offset);
            analysis.file_diagnostics.push(file_diagnostic(
                &meta::UNREADABLE_FILE,
                path,
                format!("file is not valid UTF-8 (invalid byte at line {row}); it was not checked"),
                "save the file as UTF-8",
                0..0,
            ));
            return analysis;
        }
    };
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let bom = bytes.len() - source.len();
    let is_stub = path.extension().is_some_and(|e| e == "pyi");
    let has_directives = memchr::memmem::find(source.as_bytes(), b"graphlint").is_some();
    let parsed = adapter::parse(source, is_stub, has_directives);
    let lines = LineIndex::new(source);

    let mut suppressions = Suppressions::default();
    let mut markers: FxHashMap<u32, Marker> = FxHashMap::default();
    for comment in parsed.comments() {
        let text = &source[comment.clone()];
        let text = text.strip_prefix('#').unwrap_or(text);
        let row = lines.row(comment.start);
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

    if !parsed.errors().is_empty() {
        for error in parsed.errors() {
            if !settings.selection.is_enabled(meta::SYNTAX_ERROR.code) {
                break;
            }
            let start = lines.location(source, error.range.start);
            if suppressions.suppresses(meta::SYNTAX_ERROR.code, start.row, start.row) {
                continue;
            }
            let mut diagnostic = file_diagnostic(
                &meta::SYNTAX_ERROR,
                path,
                format!("syntax error: {}", error.message),
                "fix the syntax error; nothing else in this file was checked",
                error.range.start + bom..error.range.end + bom,
            );
            diagnostic.start = start;
            diagnostic.end = lines.location(source, error.range.end);
            analysis.file_diagnostics.push(diagnostic);
        }
        return analysis;
    }

    let mut checker = Checker::new(source, &lines, path, settings, &suppressions, &markers);
    checker.check_module(parsed.body());
    analysis.summary = std::mem::take(&mut checker.summary);
    analysis.candidates = std::mem::take(&mut checker.candidates);
    drop(checker);
    analysis.suppressions = Some(suppressions);
    if bom > 0 {
        for candidate in &mut analysis.candidates {
            let range = &mut candidate.diagnostic.range;
            *range = range.start + bom..range.end + bom;
        }
    }
    analysis
}

fn file_diagnostic(
    rule: &'static Rule,
    path: &Path,
    message: String,
    help: &str,
    range: std::ops::Range<usize>,
) -> Diagnostic {
    let start = crate::diagnostic::Location { row: 1, column: 1 };
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

/// User + system CPU time of this process so far (Linux; 0 elsewhere). For `GRAPHLINT_TIMINGS`.
pub(crate) fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit(')').next() else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process in MB (Linux; 0 elsewhere). For `GRAPHLINT_TIMINGS`.
pub(crate) fn peak_rss_mb() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0 };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
