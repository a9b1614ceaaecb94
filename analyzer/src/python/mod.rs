//! The Python frontend: parse each file once, run every rule in one traversal, then decide what
//! is hot with a project-wide pass over the per-file summaries.

pub mod adapter;
mod checker;
pub(crate) mod project;
pub mod rules;
pub mod summary;
mod types;

use std::path::Path;

use self::checker::Checker;
use self::summary::FileSummary;
use crate::cache::{self, Cache};
use crate::frontend::{self, FileContext, Outcome, SourceText};
use crate::settings::Settings;
use crate::source::{Language, LineIndex, SourceFile};

/// What the per-file pass keeps of a file once its AST is gone.
pub type FileAnalysis = frontend::FileAnalysis<FileSummary>;

/// Checks `files` and returns their diagnostics (unsorted) plus warnings.
/// Per-file results come from `cache` where a file is unchanged.
pub fn check(files: &[SourceFile], settings: &Settings, cache: Option<&Cache>) -> Outcome {
    let timings = std::env::var_os("GRAPHLINT_TIMINGS").is_some();
    let started = process_cpu_seconds();
    let (analyses, shapes, pack) = cache::analyze_files_shaped(
        cache,
        Language::Python,
        rules::RULES,
        settings,
        files,
        |path, bytes| frontend::catch_panic(path, || analyze_file(path, bytes, settings)),
        &project::incremental::SummaryPositions,
    );
    let per_file = process_cpu_seconds() - started;
    let vals: usize = analyses.iter().map(|a| a.summary.vals.len()).sum();
    let calls: usize = analyses.iter().map(|a| a.summary.calls.len()).sum();
    let store = project::incremental::Store::new(cache, &analyses, &shapes, settings);
    let outcome = pack.during(|| frontend::outcome(analyses, |analyses| project::classify(analyses, settings, store)));
    if timings {
        eprintln!(
            "graphlint: per-file pass {per_file:.3} CPU-s, project pass {:.3} CPU-s ({vals} values, {calls} call sites)",
            process_cpu_seconds() - started - per_file
        );
    }
    outcome
}

/// The per-file pass over `path`, from what reading it gave (read once by the caller, which
/// may hash the bytes for the cache).
pub fn analyze_file(path: &Path, bytes: std::io::Result<Vec<u8>>, settings: &Settings) -> FileAnalysis {
    analyze_file_with(path, bytes, settings, None)
}

/// What a re-check of a file is given: the types the project pass proved from other files, and
/// the file's first-pass summary and findings (the functions those types do not concern keep
/// their findings and are not visited again).
pub(crate) struct Recheck<'r> {
    pub foreign: &'r types::ForeignTypes,
    pub first: &'r FileSummary,
    pub candidates: &'r [frontend::Candidate],
}

/// [`analyze_file`], or a re-check of the file (see [`Recheck`]).
pub(crate) fn analyze_file_with(
    path: &Path,
    bytes: std::io::Result<Vec<u8>>,
    settings: &Settings,
    recheck: Option<Recheck<'_>>,
) -> FileAnalysis {
    let mut analysis = FileAnalysis::empty(path);
    let text = match SourceText::from_read(path, bytes) {
        Ok(text) => text,
        Err(diagnostic) => {
            analysis.file_diagnostics.push(*diagnostic);
            return analysis;
        }
    };
    let source = text.source();
    let is_stub = crate::source::is_python_stub(path);
    let has_directives = memchr::memmem::find(source.as_bytes(), b"graphlint").is_some();
    let parsed = adapter::parse(source, is_stub, has_directives);
    let lines = LineIndex::new(source);

    let comments = parsed.comments().iter().map(|comment| {
        let comment_text = &source[comment.clone()];
        (lines.row(comment.start), comment_text.strip_prefix('#').unwrap_or(comment_text))
    });
    let (suppressions, markers) = frontend::read_directives(comments, path, &mut analysis.warnings);
    let context =
        || FileContext { source, lines: &lines, path, settings, suppressions: &suppressions, markers: &markers };

    if !parsed.errors().is_empty() {
        for error in parsed.errors() {
            let message = format!("syntax error: {}", error.message);
            analysis.file_diagnostics.extend(context().syntax_error(message, error.range.clone(), text.bom));
        }
        return analysis;
    }

    // A loop whose body gives a name a type that an earlier read in it did not see (see
    // `checker/flow.rs`) makes the file visited again with that type at the loop's head; a visit
    // finds more such types only through the ones it was given, and three visits bound the work.
    const MAX_VISITS: usize = 3;
    // The first pass's findings as the traversal reports them: before the shift past a byte-order mark.
    let first_candidates = recheck.as_ref().map(|recheck| {
        let mut candidates = std::borrow::Cow::Borrowed(recheck.candidates);
        if text.bom > 0 {
            for candidate in candidates.to_mut() {
                let range = &mut candidate.diagnostic.range;
                *range = range.start - text.bom..range.end - text.bom;
            }
        }
        candidates
    });
    let skips = recheck
        .as_ref()
        .zip(first_candidates.as_deref())
        .and_then(|(recheck, candidates)| checker::Skips::new(recheck.foreign, recheck.first, candidates));
    let mut carried = Vec::new();
    for visit in 1..=MAX_VISITS {
        let mut checker = Checker::new(context()).with_carried(carried.clone());
        if let Some(recheck) = &recheck {
            checker = checker.with_foreign(recheck.foreign);
        }
        if let Some(skips) = &skips {
            checker = checker.with_skips(skips);
        }
        checker.check_module(parsed.body());
        let more = checker.take_carried();
        if more.is_empty() || visit == MAX_VISITS {
            analysis.summary = std::mem::take(&mut checker.summary);
            analysis.candidates = std::mem::take(&mut checker.candidates);
            break;
        }
        carried.extend(more);
    }
    analysis.suppressions = Some(suppressions);
    analysis.shift_past_bom(text.bom);
    analysis
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
