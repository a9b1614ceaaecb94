//! The Rust frontend (candle, cudarc, tch): lex and parse each file once, run every rule in one
//! traversal, then decide what is hot with a crate-wide pass over the summaries.
//!
//! The parser is ours ([`parser`]), not `syn`'s: `syn` builds a full tree through proc-macro2's
//! allocating token streams, which ran at about 8 MB per CPU-second on candle-transformers, a
//! fifth of the speed the benchmark asks for. Ours follows `syn`'s grammar decisions and keeps only
//! what the rules read. `syn` still reports syntax errors: a file our parser rejects is handed to
//! `syn::parse_file`; its error is the finding, and if it reads the file, [`fallback`] blanks out
//! what our parser cannot read and checks the rest.

mod ast;
mod checker;
mod comments;
mod fallback;
mod lexer;
mod parser;
mod project;
pub mod rules;
pub mod summary;
mod types;

use std::path::Path;

use self::checker::Checker;
pub(crate) use self::comments::{directive_comments, line_comments};
use self::summary::FileSummary;
use crate::cache::{self, Cache};
use crate::frontend::{self, FileContext, Outcome, SourceText};
use crate::settings::Settings;
use crate::source::{Language, LineIndex, SourceFile};

/// What the per-file pass keeps of a file once its syntax tree is gone.
pub type FileAnalysis = frontend::FileAnalysis<FileSummary>;

/// Checks `files` (in parallel, one traversal each) and returns their diagnostics, unsorted.
/// Per-file results come from `cache` where a file is unchanged.
pub fn check(files: &[SourceFile], settings: &Settings, cache: Option<&Cache>) -> Outcome {
    let (analyses, pack) = cache::analyze_files(cache, Language::Rust, rules::RULES, settings, files, |path, bytes| {
        frontend::catch_panic(path, || analyze_file(path, bytes, settings))
    });
    pack.during(|| frontend::outcome(analyses, |analyses| project::classify(analyses, settings)))
}

/// The per-file pass over `path`, from what reading it gave (read once by the caller, which
/// may hash the bytes for the cache).
pub fn analyze_file(path: &Path, bytes: std::io::Result<Vec<u8>>, settings: &Settings) -> FileAnalysis {
    let mut analysis = FileAnalysis::empty(path);
    let text = match SourceText::from_read(path, bytes) {
        Ok(text) => text,
        Err(diagnostic) => {
            analysis.file_diagnostics.push(*diagnostic);
            return analysis;
        }
    };
    let source = text.source();
    let lines = LineIndex::new(source);

    let comments = directive_comments(source, &lines);
    let (suppressions, markers) = frontend::read_directives(comments, path, &mut analysis.warnings);
    let context = FileContext { source, lines: &lines, path, settings, suppressions: &suppressions, markers: &markers };

    // Declared before `parsed`, which may borrow it.
    let readable: String;
    let mut parsed = parser::parse(source);
    if let Err(at) = parsed.file() {
        // `syn`'s spans count from after the shebang line it strips.
        let shebang = lexer::shebang_len(source);
        let tree = match syn::parse_file(source) {
            Ok(tree) => tree,
            Err(error) => {
                let range = error.span().byte_range();
                let range = range.start + shebang..range.end + shebang;
                analysis.file_diagnostics.extend(context.syntax_error(
                    format!("syntax error: {error}"),
                    range,
                    text.bom,
                ));
                // Spans index a per-thread map of every text parsed so far; drop it after each file.
                proc_macro2::extra::invalidate_current_thread_spans();
                return analysis;
            }
        };
        let blanked = fallback::blank_unreadable(source, &tree, shebang, at);
        drop(tree);
        proc_macro2::extra::invalidate_current_thread_spans();
        drop(parsed);
        let Some((blanked_text, skipped)) = blanked else {
            // Valid Rust that not even the fallback follows: say so rather than pass silently.
            analysis.warnings.push(format!(
                "internal error while checking {}: graphlint's Rust parser could not read line {}, which is valid Rust; the file was not checked",
                path.display(),
                lines.row(at)
            ));
            analysis.internal_error = true;
            return analysis;
        };
        let rows: Vec<String> =
            skipped.iter().map(|r| format!("{}-{}", lines.row(r.start), lines.row(r.end.saturating_sub(1)))).collect();
        analysis.warnings.push(format!(
            "{}{}: graphlint's Rust parser does not read some valid Rust here; lines {} were not checked",
            frontend::NOTE_PREFIX,
            path.display(),
            rows.join(", ")
        ));
        readable = blanked_text;
        parsed = parser::parse(&readable);
    }
    let Ok(file) = parsed.file() else { unreachable!("the fallback returns only text our parser reads") };

    let mut checker = Checker::new(context, parsed.tokens());
    checker.check_file(file);
    analysis.summary = std::mem::take(&mut checker.summary);
    analysis.candidates = std::mem::take(&mut checker.candidates);
    drop(checker);
    drop(parsed);
    analysis.suppressions = Some(suppressions);
    analysis.shift_past_bom(text.bom);
    analysis
}
