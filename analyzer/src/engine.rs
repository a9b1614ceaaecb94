//! One run: discover files, hand each language's files to its frontend, merge and sort.

use std::path::PathBuf;

use crate::diagnostic::{Diagnostic, HotFunction};
use crate::discovery::{self, SourceKind};
use crate::settings::Settings;

/// Worker threads get a large stack: deeply nested expressions recurse in the parser, the
/// traversal and the AST's destructor.
const WORKER_STACK_BYTES: usize = 256 * 1024 * 1024;

pub struct RunResult {
    pub diagnostics: Vec<Diagnostic>,
    /// With `Settings::list_hot`: every hot function and loop, with its chain.
    pub hot_functions: Vec<HotFunction>,
    pub files_checked: usize,
    /// Warnings for stderr (malformed directives, internal errors).
    pub warnings: Vec<String>,
    /// A file's analysis failed unexpectedly: exit code 2.
    pub internal_error: bool,
}

#[derive(Debug)]
pub struct RunError(pub String);

pub fn run(paths: &[PathBuf], settings: &Settings) -> Result<RunResult, RunError> {
    let files = discovery::discover(paths).map_err(|e| RunError(e.0))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .build()
        .map_err(|e| RunError(format!("cannot start worker threads: {e}")))?;
    let python: Vec<_> = files.iter().filter(|f| f.kind == SourceKind::Python).cloned().collect();
    let rust: Vec<_> = files.iter().filter(|f| f.kind == SourceKind::Rust).cloned().collect();
    let (mut outcome, rust_outcome) =
        pool.install(|| rayon::join(|| crate::python::check(&python, settings), || crate::rust::check(&rust, settings)));
    outcome.diagnostics.extend(rust_outcome.diagnostics);
    outcome.hot_functions.extend(rust_outcome.hot_functions);
    outcome.warnings.extend(rust_outcome.warnings);
    outcome.internal_error |= rust_outcome.internal_error;
    let mut diagnostics = outcome.diagnostics;
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut hot_functions = outcome.hot_functions;
    hot_functions.sort_by(|a, b| {
        let key = |h: &HotFunction| h.chain.last().map(|l| (l.filename.clone(), l.row));
        key(a).cmp(&key(b))
    });
    Ok(RunResult {
        diagnostics,
        hot_functions,
        files_checked: files.len(),
        warnings: outcome.warnings,
        internal_error: outcome.internal_error,
    })
}
