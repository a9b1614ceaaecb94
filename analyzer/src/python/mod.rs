//! The Python frontend: parse each file once, run every rule in one traversal, then decide what
//! is hot with a project-wide pass over the per-file summaries.

pub mod adapter;
mod checker;
pub(crate) mod project;
pub mod rules;
pub mod summary;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustc_hash::FxHashMap;

use self::checker::{Checker, Outline};
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
    let started_wall = std::time::Instant::now();
    // What the first pass saw of each file's bodies, for the re-checks (none for a file whose
    // result comes from the cache: its re-check parses the whole text).
    let outlines: Mutex<FxHashMap<PathBuf, Outline>> = Mutex::default();
    let (analyses, shapes, pack) = cache::analyze_files_shaped(
        cache,
        Language::Python,
        rules::RULES,
        settings,
        files,
        |path, bytes| {
            frontend::catch_panic(path, || {
                let (analysis, outline) = analyze(path, bytes, settings, None, settings.reports(path));
                if let Some(outline) = outline {
                    outlines
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(path.to_path_buf(), outline);
                }
                analysis
            })
        },
        &project::incremental::SummaryPositions,
    );
    let outlines = outlines.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let per_file = process_cpu_seconds() - started;
    if timings {
        eprintln!("graphlint:   per-file pass: {:.3} s wall", started_wall.elapsed().as_secs_f64());
    }
    let vals: usize = analyses.iter().map(|a| a.summary.vals.len()).sum();
    let calls: usize = analyses.iter().map(|a| a.summary.calls.len()).sum();
    let store = project::incremental::Store::new(cache, &analyses, &shapes, settings);
    let outcome =
        pack.during(|| frontend::outcome(analyses, |analyses| project::classify(analyses, settings, store, &outlines)));
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
    analyze(path, bytes, settings, None, false).0
}

/// What a re-check of a file is given: the types the project pass proved from other files, and
/// the file's first-pass summary and findings (the functions those types do not concern keep
/// their findings and are not visited again), and where the first pass saw the bodies that the
/// re-check may then leave out of the text it parses.
pub(crate) struct Recheck<'r> {
    pub foreign: &'r types::ForeignTypes,
    pub first: &'r FileSummary,
    pub candidates: &'r [frontend::Candidate],
    pub outline: Option<&'r Outline>,
}

/// [`analyze_file`], or a re-check of the file (see [`Recheck`]).
pub(crate) fn analyze_file_with(
    path: &Path,
    bytes: std::io::Result<Vec<u8>>,
    settings: &Settings,
    recheck: Option<Recheck<'_>>,
) -> FileAnalysis {
    analyze(path, bytes, settings, recheck.as_ref(), false).0
}

/// The per-file pass or a re-check, and with `outline`, the first pass's [`Outline`] of the file.
fn analyze(
    path: &Path,
    bytes: std::io::Result<Vec<u8>>,
    settings: &Settings,
    recheck: Option<&Recheck<'_>>,
    outline: bool,
) -> (FileAnalysis, Option<Outline>) {
    let text = match SourceText::from_read(path, bytes) {
        Ok(text) => text,
        Err(diagnostic) => {
            let mut analysis = FileAnalysis::empty(path);
            analysis.file_diagnostics.push(*diagnostic);
            return (analysis, None);
        }
    };
    // A re-check that met bodies it left out starts again with them kept in the text, and after
    // a few such tries, from the whole text.
    const ELIDED_TRIES: usize = 3;
    let mut kept = Vec::new();
    for _ in 0..ELIDED_TRIES {
        let before = kept.len();
        if let Some(done) = analyze_text(path, &text, settings, recheck, Some(&mut kept), outline) {
            return done;
        }
        if kept.len() == before {
            break;
        }
    }
    analyze_text(path, &text, settings, recheck, None, outline).expect("the whole text is always checked to the end")
}

/// [`analyze`] on the file's text; with `kept` (sorted), a re-check parses the text without the
/// bodies it expects to skip, except those that start at one of `kept`, and gives `None` if it
/// met one of them (which it then adds to `kept`).
fn analyze_text(
    path: &Path,
    text: &SourceText,
    settings: &Settings,
    recheck: Option<&Recheck<'_>>,
    mut kept: Option<&mut Vec<u32>>,
    outline: bool,
) -> Option<(FileAnalysis, Option<Outline>)> {
    let mut analysis = FileAnalysis::empty(path);
    let source = text.source();
    let is_stub = crate::source::is_python_stub(path);
    let has_directives = memchr::memmem::find(source.as_bytes(), b"graphlint").is_some();
    let lines = LineIndex::new(source);
    // The first pass's findings as the traversal reports them: before the shift past a byte-order mark.
    let first_candidates = recheck.map(|recheck| {
        let mut candidates = std::borrow::Cow::Borrowed(recheck.candidates);
        if text.bom > 0 {
            for candidate in candidates.to_mut() {
                let range = &mut candidate.diagnostic.range;
                *range = range.start - text.bom..range.end - text.bom;
            }
        }
        candidates
    });
    let mut skips = recheck
        .zip(first_candidates.as_deref())
        .and_then(|(recheck, candidates)| checker::Skips::new(recheck.foreign, recheck.first, candidates));
    // (Not with comments to read: those in a body left out would be lost.)
    let elided = match (skips.as_mut(), recheck.and_then(|recheck| recheck.outline), kept.as_deref()) {
        (Some(skips), Some(outline), Some(kept)) if !is_stub && !has_directives => {
            skips.elide(outline, source, &lines, kept)
        }
        _ => None,
    };
    let parsed = adapter::parse(elided.as_deref().unwrap_or(source), is_stub, has_directives);

    let comments = parsed.comments().iter().map(|comment| {
        let comment_text = &source[comment.clone()];
        (lines.row(comment.start), comment_text.strip_prefix('#').unwrap_or(comment_text))
    });
    let (suppressions, markers) = frontend::read_directives(comments, path, &mut analysis.warnings);
    let context =
        || FileContext { source, lines: &lines, path, settings, suppressions: &suppressions, markers: &markers };

    if !parsed.errors().is_empty() {
        if elided.is_some() {
            return None;
        }
        for error in parsed.errors() {
            let message = format!("syntax error: {}", error.message);
            analysis.file_diagnostics.extend(context().syntax_error(message, error.range.clone(), text.bom));
        }
        return Some((analysis, None));
    }

    // A loop whose body gives a name a type that an earlier read in it did not see (see
    // `checker/flow.rs`) makes the file visited again with that type at the loop's head; a visit
    // finds more such types only through the ones it was given, and three visits bound the work.
    const MAX_VISITS: usize = 3;
    let mut carried = Vec::new();
    for visit in 1..=MAX_VISITS {
        let mut checker = Checker::new(context()).with_carried(carried.clone());
        if let Some(recheck) = recheck {
            checker = checker.with_foreign(recheck.foreign);
        }
        if let Some(skips) = &skips {
            checker = checker.with_skips(skips);
        }
        checker.check_module(parsed.body());
        // (No visit again of a text that left out a body the traversal reached.)
        if let Some(skips) = skips.as_ref().filter(|skips| skips.elision_failed()) {
            if let Some(kept) = kept.as_deref_mut() {
                kept.extend(skips.reached());
                kept.sort_unstable();
                kept.dedup();
            }
            return None;
        }
        let more = checker.take_carried();
        if more.is_empty() || visit == MAX_VISITS {
            analysis.summary = std::mem::take(&mut checker.summary);
            analysis.candidates = std::mem::take(&mut checker.candidates);
            break;
        }
        carried.extend(more);
    }
    let outline = (outline && recheck.is_none()).then(|| Outline::of(parsed.body(), source)).filter(|o| !o.is_empty());
    analysis.suppressions = Some(suppressions);
    analysis.shift_past_bom(text.bom);
    Some((analysis, outline))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::types::{range_key, ForeignTypes, Ty};

    const BODY: &str = "    y = x.item()\n    y = y + x.item()\n    y = y * x.item()\n    y = y - x.item()\n";

    /// Findings, by code and range.
    type Found = Vec<(&'static str, std::ops::Range<usize>)>;

    /// The first pass over `source`, its outline, and a re-check of it with `foreign` (with the
    /// outlined bodies left out, then from the whole text): their findings.
    fn rechecked(source: &str, foreign: &ForeignTypes) -> (Option<Found>, Found) {
        let path = Path::new("m.py");
        let settings = Settings::default();
        let (first, outline) = analyze(path, Ok(source.as_bytes().to_vec()), &settings, None, true);
        assert!(!first.candidates.is_empty());
        let outline = outline.expect("a body is outlined");
        let recheck =
            Recheck { foreign, first: &first.summary, candidates: &first.candidates, outline: Some(&outline) };
        let Ok(text) = SourceText::from_read(path, Ok(source.as_bytes().to_vec())) else { panic!("UTF-8") };
        let found = |analysis: FileAnalysis| -> Found {
            analysis.candidates.iter().map(|c| (c.diagnostic.code(), c.diagnostic.range.clone())).collect()
        };
        let elided =
            analyze_text(path, &text, &settings, Some(&recheck), Some(&mut Vec::new()), false).map(|(a, _)| found(a));
        let whole = analyze_text(path, &text, &settings, Some(&recheck), None, false).expect("checked").0;
        let again = analyze(path, Ok(source.as_bytes().to_vec()), &settings, Some(&recheck), false).0;
        let whole = found(whole);
        assert_eq!(found(again), whole);
        (elided, whole)
    }

    #[test]
    fn a_recheck_that_leaves_out_the_bodies_it_skips_finds_what_the_whole_text_gives() {
        let source = format!(
            "import torch\n\ndef f(x):\n{BODY}    return y\n\ndef g(x):\n    z = x.sum()\n{BODY}    return z\n"
        );
        // An answer in `g`: `f` is skipped, and its body left out of the parsed text.
        let start = source.find("x.sum()").expect("in the source") as u32;
        let mut foreign = ForeignTypes::default();
        foreign.exprs.insert(range_key(start, start + 7), Ty::TENSOR);
        let (elided, whole) = rechecked(&source, &foreign);
        assert_eq!(elided.as_ref(), Some(&whole));
        assert_eq!(whole.len(), 8);
    }

    #[test]
    fn a_recheck_that_leaves_out_part_of_a_method_keeps_what_the_class_prescan_reads() {
        let source = "import torch\n\nclass M:\n\
             \x20   def setup(self, x):\n\
             \x20       if x is None:\n\
             \x20           raise ValueError('no x was given to setup, none at all')\n\
             \x20       self.lens = torch.zeros(4, device='cuda')\n\
             \x20       for i in range(3):\n\
             \x20           print('step', i, 'of the loop that sets things up, said loudly')\n\
             \x20   def forward(self, x):\n\
             \x20       z = x.sum()\n\
             \x20       if self.lens.sum() > 0:\n\
             \x20           z = z + 1\n\
             \x20       return float(z)\n";
        // An answer in `forward`: `setup` is skipped, and what the class's prescan does not read
        // of it left out; `self.lens` stays a device tensor for `forward`.
        let start = source.find("x.sum()").expect("in the source") as u32;
        let mut foreign = ForeignTypes::default();
        foreign.exprs.insert(range_key(start, start + 7), Ty::TENSOR);
        let (elided, whole) = rechecked(source, &foreign);
        assert_eq!(elided.as_ref(), Some(&whole));
        let compare = source.find("self.lens.sum() > 0").expect("in the source");
        assert!(whole.iter().any(|(_, range)| range.start == compare), "{whole:?}");
    }

    #[test]
    fn a_recheck_that_visits_bodies_it_left_out_tries_again_with_them_kept() {
        let source = format!(
            "import torch\n\ndef f(x):\n{BODY}    return y\n\nA = cfg.size\n\ndef g(x):\n{BODY}    return y\n\n\
             def h(x):\n{BODY}    return y\n"
        );
        // An answer in module-level code between `f` and `g`: `g` and `h` are visited again,
        // `f` is skipped.
        let start = source.find("cfg.size").expect("in the source") as u32;
        let mut foreign = ForeignTypes::default();
        foreign.exprs.insert(range_key(start, start + 8), Ty::TENSOR);
        let (elided, whole) = rechecked(&source, &foreign);
        assert_eq!(elided, None);
        assert_eq!(whole.len(), 12);
        let path = Path::new("m.py");
        let settings = Settings::default();
        let (first, outline) = analyze(path, Ok(source.as_bytes().to_vec()), &settings, None, true);
        let outline = outline.expect("a body is outlined");
        let recheck = Recheck {
            foreign: &foreign,
            first: &first.summary,
            candidates: &first.candidates,
            outline: Some(&outline),
        };
        let Ok(text) = SourceText::from_read(path, Ok(source.as_bytes().to_vec())) else { panic!("UTF-8") };
        // The first try reaches `g` and `h`, which the second keeps: it leaves `f` alone out.
        let mut kept = Vec::new();
        let mut tries = 0;
        let again = loop {
            tries += 1;
            if let Some((analysis, _)) = analyze_text(path, &text, &settings, Some(&recheck), Some(&mut kept), false) {
                break analysis;
            }
            assert!(tries < 3, "kept {kept:?}");
        };
        let body = |name: &str| (source.find(&format!("def {name}(x):\n")).expect("defined") + 14) as u32;
        assert_eq!((tries, kept), (2, vec![body("g"), body("h")]));
        let found: Found = again.candidates.iter().map(|c| (c.diagnostic.code(), c.diagnostic.range.clone())).collect();
        assert_eq!(found, whole);
    }

    #[test]
    fn a_recheck_that_visits_a_body_it_left_out_starts_again_from_the_whole_text() {
        let source = format!("import torch\nA = cfg.size\n\ndef f(x):\n{BODY}    return y\n");
        // An answer in module-level code before `f`: every function after it is visited again,
        // which the outline did not foresee.
        let start = source.find("cfg.size").expect("in the source") as u32;
        let mut foreign = ForeignTypes::default();
        foreign.exprs.insert(range_key(start, start + 8), Ty::TENSOR);
        let (elided, whole) = rechecked(&source, &foreign);
        assert_eq!(elided, None);
        assert_eq!(whole.len(), 4);
    }
}
