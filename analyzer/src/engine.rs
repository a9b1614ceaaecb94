//! One run: discover files, find each file's configuration, hand each language's files to its
//! frontend, then keep what each file's configuration reports, and add the unused-suppression
//! findings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::cache::Cache;
use crate::config::{ConfigError, Configuration, FileRules, Resolver};
use crate::diagnostic::{Diagnostic, Heat, HotFunction};
use crate::discovery::{self, DiscoveryError};
use crate::meta;
use crate::paths::{display_path, io_reason};
use crate::settings::{RuleSelection, Settings};
use crate::source::Language;
use crate::source::LineIndex;
use crate::suppression::{selector_span, Suppressions, UnusedReason};

/// Worker threads get a large stack: deeply nested expressions recurse in the parser, the
/// traversal and the AST's destructor.
const WORKER_STACK_BYTES: usize = 256 * 1024 * 1024;

pub struct RunResult {
    pub diagnostics: Vec<Diagnostic>,
    /// With `RunOptions::list_hot`: every hot function and loop, with its chain.
    pub hot_functions: Vec<HotFunction>,
    pub files_checked: usize,
    /// Paths named on the command line that could not be read: each is a GL001 finding, and
    /// the run exits 2 once the other paths are checked.
    pub unreadable_paths: usize,
    /// How many hot-path roots the frontends found (0: nothing is hot, whatever the code holds).
    pub roots: usize,
    /// Whether any file's configuration (or `--all-paths`) reports cold findings too.
    pub all_paths: bool,
    /// Warnings for stderr (malformed directives, internal errors).
    pub warnings: Vec<String>,
    /// A file's analysis failed unexpectedly: exit code 2.
    pub internal_error: bool,
    /// With `RunOptions::fingerprint_files`: each checked file's contents as they were before
    /// the analysis read them, to tell whether a file changed during the run.
    pub fingerprints: FxHashMap<PathBuf, Option<Fingerprint>>,
}

/// What a file held: its length and a hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub len: u64,
    pub hash: u64,
}

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        Fingerprint { len: bytes.len() as u64, hash: hasher.finish() }
    }

    /// The fingerprint of the file at `path` now (`None` if it cannot be read).
    pub fn read(path: &Path) -> Option<Self> {
        std::fs::read(path).ok().map(|bytes| Self::of(&bytes))
    }
}

#[derive(Debug)]
pub enum RunError {
    /// A usage or I/O error, in one sentence.
    Message(String),
    /// A configuration file is invalid: a report pointing into it.
    Config(ConfigError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Message(message) => f.write_str(message),
            RunError::Config(err) => f.write_str(&err.message),
        }
    }
}

/// Run-wide options that no configuration file sets.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// List every hot function with its chain (`--show-hot`).
    pub list_hot: bool,
    /// Apply the exclusions to paths named on the command line too (`--force-exclude`).
    pub force_exclude: bool,
    /// Fingerprint every file before checking it (for `--add-suppressions`).
    pub fingerprint_files: bool,
    /// See [`Settings::keep_suppressed`].
    pub keep_suppressed: bool,
    /// Keep per-file results in this directory (see [`crate::cache`]); `None`: no cache.
    pub cache_dir: Option<PathBuf>,
}

/// Checks `paths` with `settings` for every file, reading no configuration file.
pub fn run(paths: &[PathBuf], settings: &Settings) -> Result<RunResult, RunError> {
    let resolver = Resolver::fixed(Configuration::from_settings(settings));
    check(
        paths,
        &resolver,
        RunOptions { list_hot: settings.list_hot, keep_suppressed: settings.keep_suppressed, ..RunOptions::default() },
    )
}

/// Checks `paths`, each file with the configuration `resolver` finds for it.
pub fn check(paths: &[PathBuf], resolver: &Resolver, options: RunOptions) -> Result<RunResult, RunError> {
    // A path that cannot be read is a finding, as ruff reports one; the others are still checked.
    let (readable, unreadable): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.iter().cloned().partition(|path| std::fs::metadata(path).is_ok());
    let unreadable: Vec<Diagnostic> = unreadable
        .iter()
        .map(|path| {
            let reason = std::fs::metadata(path).err().map_or_else(|| "unreadable".into(), |e| io_reason(&e));
            let message = format!("cannot read `{}`: {reason}", display_path(path));
            Diagnostic::file_level(&meta::UNREADABLE_FILE, path, message, None, 0..0)
        })
        .collect();
    let files = discover(&readable, resolver, options.force_exclude)?;
    let mut rules: FxHashMap<PathBuf, FileRules> = FxHashMap::default();
    for file in &files {
        rules.insert(file.path.clone(), resolver.rules_for(&file.path).map_err(RunError::Config)?);
    }
    let fingerprints = if options.fingerprint_files {
        files.iter().map(|f| (f.path.clone(), Fingerprint::read(&f.path))).collect()
    } else {
        FxHashMap::default()
    };

    // The frontends check what any file's configuration enables; each file is filtered below.
    let mut configurations: Vec<&Arc<Configuration>> = rules.values().map(|r| &r.configuration).collect();
    configurations.sort_by_key(|c| Arc::as_ptr(c));
    configurations.dedup_by_key(|c| Arc::as_ptr(c));
    let settings = Settings {
        selection: RuleSelection::union(configurations.iter().map(|c| &c.selection)),
        all_paths: configurations.iter().any(|c| c.all_paths),
        roots: Default::default(),
        file_roots: rules.iter().map(|(path, r)| (path.clone(), r.configuration.roots.clone())).collect(),
        list_hot: options.list_hot,
        keep_suppressed: options.keep_suppressed,
    };

    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .build()
        .map_err(|e| RunError::Message(format!("cannot start worker threads: {e}")))?;
    let python: Vec<_> = files.iter().filter(|f| f.language == Language::Python).cloned().collect();
    let rust: Vec<_> = files.iter().filter(|f| f.language == Language::Rust).cloned().collect();
    let (cache, cache_warning) = match options.cache_dir.as_deref().map(Cache::open) {
        Some(Ok(cache)) => (Some(cache), None),
        Some(Err(warning)) => (None, Some(warning)),
        None => (None, None),
    };
    let (mut outcome, rust_outcome) = pool.install(|| {
        rayon::join(
            || crate::python::check(&python, &settings, cache.as_ref()),
            || crate::rust::check(&rust, &settings, cache.as_ref()),
        )
    });
    outcome.warnings.extend(cache_warning.into_iter().chain(cache.into_iter().flat_map(Cache::into_messages)));
    outcome.diagnostics.extend(rust_outcome.diagnostics);
    outcome.hot_functions.extend(rust_outcome.hot_functions);
    outcome.warnings.extend(rust_outcome.warnings);
    outcome.internal_error |= rust_outcome.internal_error;
    outcome.suppressions.extend(rust_outcome.suppressions);
    outcome.roots += rust_outcome.roots;

    let mut diagnostics: Vec<Diagnostic> = outcome
        .diagnostics
        .into_iter()
        .filter(|d| {
            let Some(file) = rules.get(&d.file) else { return true };
            file.is_enabled(d.code()) && (d.heat != Heat::Cold || file.configuration.all_paths)
        })
        .collect();
    for (path, suppressions) in &outcome.suppressions {
        if let Some(file) = rules.get(path) {
            diagnostics.extend(unused_suppressions(path, suppressions, file));
        }
    }
    let unreadable_paths = unreadable.len();
    diagnostics.extend(unreadable);
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
        unreadable_paths,
        roots: outcome.roots,
        all_paths: settings.all_paths,
        warnings: outcome.warnings,
        internal_error: outcome.internal_error,
        fingerprints,
    })
}

fn discover(
    paths: &[PathBuf],
    resolver: &Resolver,
    force_exclude: bool,
) -> Result<Vec<discovery::SourceFile>, RunError> {
    // The walk's filter must own what it uses; a configuration error travels back beside it.
    let config_error: Arc<std::sync::Mutex<Option<ConfigError>>> = Arc::default();
    let exclusion: discovery::Exclusion = {
        let resolver = resolver.clone();
        let config_error = config_error.clone();
        Arc::new(move |path: &Path, is_dir: bool| {
            resolver.excludes(path, is_dir).map_err(|err| {
                let message = err.message.clone();
                config_error.lock().unwrap().get_or_insert(err);
                DiscoveryError(message)
            })
        })
    };
    discovery::discover_with(paths, exclusion, force_exclude).map_err(|err| match config_error.lock().unwrap().take() {
        Some(config) => RunError::Config(config),
        None => RunError::Message(err.0),
    })
}

/// GL002 findings for the selectors of `suppressions` that suppressed nothing enabled.
fn unused_suppressions(path: &Path, suppressions: &Suppressions, rules: &FileRules) -> Vec<Diagnostic> {
    let unused = suppressions.unused(&|code| rules.is_enabled(code));
    if unused.is_empty() {
        return Vec::new();
    }
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines = LineIndex::new(&text);
    unused
        .iter()
        .map(|u| {
            let entry = &suppressions.entries()[u.entry];
            let selector = &entry.selectors[u.selector];
            let line = lines.line_range(&text, entry.row);
            let range = selector_span(&text[line.clone()], entry.whole_file, selector)
                .map_or(line.clone(), |r| line.start + r.start..line.start + r.end);
            let scope = if entry.whole_file { "in this file" } else { "on this line" };
            let message = match u.reason {
                UnusedReason::NoFinding => format!("unused suppression: no `{selector}` finding {scope}"),
                UnusedReason::NotEnabled => format!("unused suppression: `{selector}` is not enabled for this file"),
                UnusedReason::UnknownCode => format!("unused suppression: no rule has the code `{selector}`"),
            };
            let help = if entry.selectors.len() == 1 {
                "remove the comment".to_string()
            } else {
                format!("remove `{selector}` from the comment")
            };
            Diagnostic {
                start: lines.location(&text, range.start),
                end: lines.location(&text, range.end),
                ..Diagnostic::file_level(&crate::meta::UNUSED_SUPPRESSION, path, message, Some(help), range)
            }
        })
        .collect()
}
