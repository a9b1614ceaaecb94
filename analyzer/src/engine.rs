//! One run: discover files, find each file's configuration, hand each language's files to its
//! frontend, then keep what each file's configuration reports, and add the unused-suppression
//! findings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::cache::Cache;
use crate::config::{ConfigError, Configuration, FileRules, Resolver};
use crate::diagnostic::{Diagnostic, Heat, HotFunction};
use crate::discovery::{self, DiscoveryError};
use crate::meta;
use crate::paths::{absolute, display_path, io_reason};
use crate::settings::{RuleSelection, Settings};
use crate::source::{Language, LineIndex, Overlay};
use crate::suppression::{selector_span, Suppressions, UnusedReason};

/// Worker threads get a large stack: deeply nested expressions recurse in the parser, the
/// traversal and the AST's destructor.
const WORKER_STACK_BYTES: usize = 256 * 1024 * 1024;

pub struct RunResult {
    pub diagnostics: Vec<Diagnostic>,
    /// With `RunOptions::list_hot`: every hot function and loop, with its chain.
    pub hot_functions: Vec<HotFunction>,
    /// The files whose findings are reported.
    pub files_checked: usize,
    /// With `RunOptions::project_root`: how many files the project holds, all analysed for hot
    /// paths (the checked ones among them).
    pub project_files: Option<usize>,
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
    /// Unsaved texts that replace files on disk (see [`Overlay`]). A path named in `paths` that
    /// exists only in the overlay is checked as a file; so is one under a named directory.
    pub overlay: Option<Arc<Overlay>>,
    /// Analyse every file of the project under this directory for hot paths, and report the
    /// findings of the files under `paths` only: a file's verdict is then the one a run over the
    /// whole project gives it (a helper is hot through a caller in a file not named). Every path
    /// must lie under it.
    pub project_root: Option<PathBuf>,
    /// Keep per-file results in this directory (see [`crate::cache`]); `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// See [`Settings::exits_after`].
    pub exits_after: bool,
}

/// Checks `paths` with `settings` for every file, reading no configuration file.
pub fn run(paths: &[PathBuf], settings: &Settings) -> Result<RunResult, RunError> {
    let resolver = Resolver::fixed(Configuration::from_settings(settings));
    check(
        paths,
        &resolver,
        RunOptions {
            list_hot: settings.list_hot,
            keep_suppressed: settings.keep_suppressed,
            overlay: settings.overlay.clone(),
            ..RunOptions::default()
        },
    )
}

/// Checks `paths`, each file with the configuration `resolver` finds for it.
pub fn check(paths: &[PathBuf], resolver: &Resolver, options: RunOptions) -> Result<RunResult, RunError> {
    // A path that cannot be read is a finding, as ruff reports one; the others are still checked.
    let overlay = options.overlay.as_deref();
    let in_overlay_only = |path: &Path| overlay.is_some_and(|o| o.contains(path)) && std::fs::metadata(path).is_err();
    let (readable, unreadable): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.iter().cloned().partition(|path| std::fs::metadata(path).is_ok() || in_overlay_only(path));
    let unreadable: Vec<Diagnostic> = unreadable
        .iter()
        .map(|path| {
            let reason = std::fs::metadata(path).err().map_or_else(|| "unreadable".into(), |e| io_reason(&e));
            let message = format!("cannot read `{}`: {reason}", display_path(path));
            Diagnostic::file_level(&meta::UNREADABLE_FILE, path, message, None, 0..0)
        })
        .collect();
    let root = options.project_root.as_deref().map(spelled_root);
    let readable = match &root {
        Some((spelled, absolute_root)) => {
            readable.iter().map(|p| spelled_from_root(p, spelled, absolute_root)).collect::<Result<_, _>>()?
        }
        None => readable,
    };
    let (unsaved, on_disk): (Vec<PathBuf>, Vec<PathBuf>) = readable.into_iter().partition(|p| in_overlay_only(p));
    // The files reported, then (with a project root) every file analysed.
    let mut checked = discover(&on_disk, resolver, options.force_exclude)?;
    if let Some(overlay) = overlay {
        checked.extend(unsaved_files(overlay, &unsaved, &on_disk, resolver)?);
        crate::source::sort_files(&mut checked);
        checked.dedup();
    }
    let mut files = checked.clone();
    if let Some((spelled, _)) = &root {
        let project = std::slice::from_ref(spelled);
        files.extend(discover(project, resolver, false)?);
        if let Some(overlay) = overlay {
            files.extend(unsaved_files(overlay, &[], project, resolver)?);
        }
        crate::source::sort_files(&mut files);
        files.dedup();
    }
    let reported: Option<FxHashSet<&Path>> = root.is_some().then(|| checked.iter().map(|f| f.path.as_path()).collect());
    let is_reported = |path: &Path| reported.as_ref().is_none_or(|r| r.contains(path));
    let mut rules: FxHashMap<PathBuf, FileRules> = FxHashMap::default();
    for file in &files {
        rules.insert(file.path.clone(), resolver.rules_for(&file.path).map_err(RunError::Config)?);
    }
    let fingerprints = if options.fingerprint_files {
        // A file with an unsaved text has no fingerprint: what was checked is not on disk.
        let fingerprint =
            |path: &Path| if overlay.is_some_and(|o| o.contains(path)) { None } else { Fingerprint::read(path) };
        checked.iter().map(|f| (f.path.clone(), fingerprint(&f.path))).collect()
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
        overlay: options.overlay.clone(),
        reported: reported.as_ref().map(|reported| Arc::new(reported.iter().map(|p| p.to_path_buf()).collect())),
        exits_after: options.exits_after,
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
    outcome.diagnostics.extend(rust_outcome.diagnostics);
    outcome.hot_functions.extend(rust_outcome.hot_functions);
    // A file analysed only as context has its findings dropped, and its warnings with them;
    // an internal error stays, as it makes the exit code 2.
    let mut warnings: Vec<String> = (outcome.warnings.into_iter().chain(rust_outcome.warnings))
        .filter(|(path, warning)| is_reported(path) || warning.starts_with("internal error"))
        .map(|(_, warning)| warning)
        .collect();
    warnings.extend(cache_warning.into_iter().chain(cache.into_iter().flat_map(Cache::into_messages)));
    outcome.internal_error |= rust_outcome.internal_error;
    outcome.suppressions.extend(rust_outcome.suppressions);
    outcome.roots += rust_outcome.roots;

    let mut diagnostics: Vec<Diagnostic> = outcome
        .diagnostics
        .into_iter()
        .filter(|d| {
            if !is_reported(&d.file) {
                return false;
            }
            let Some(file) = rules.get(&d.file) else { return true };
            file.is_enabled(d.code()) && (d.heat != Heat::Cold || file.configuration.all_paths)
        })
        .collect();
    for (path, suppressions) in outcome.suppressions.iter().filter(|(path, _)| is_reported(path)) {
        if let Some(file) = rules.get(path) {
            diagnostics.extend(unused_suppressions(path, suppressions, file, overlay));
        }
    }
    let unreadable_paths = unreadable.len();
    diagnostics.extend(unreadable);
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut hot_functions = outcome.hot_functions;
    if let Some(reported) = &reported {
        // Chains name files as they are shown.
        let shown: FxHashSet<String> = reported.iter().map(|p| display_path(p)).collect();
        hot_functions.retain(|h| h.chain.last().is_some_and(|l| shown.contains(&l.filename)));
    }
    hot_functions.sort_by(|a, b| {
        let key = |h: &HotFunction| h.chain.last().map(|l| (l.filename.clone(), l.row));
        key(a).cmp(&key(b))
    });
    Ok(RunResult {
        diagnostics,
        hot_functions,
        files_checked: checked.len(),
        project_files: root.is_some().then_some(files.len()),
        unreadable_paths,
        roots: outcome.roots,
        all_paths: settings.all_paths,
        warnings,
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

/// How the files of a project are spelled: from the working directory when the root is inside
/// it (`.` for the working directory itself, as a run there spells them), else absolute. Also
/// the root made absolute.
fn spelled_root(root: &Path) -> (PathBuf, PathBuf) {
    let absolute_root = absolute(root);
    let spelled = match crate::paths::current_dir().and_then(|cwd| absolute_root.strip_prefix(cwd).ok()) {
        Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Some(relative) => relative.to_path_buf(),
        None => absolute_root.clone(),
    };
    (spelled, absolute_root)
}

/// `path` spelled from the project root (so that it is one file with the project's spelling of
/// it), or the error for a path outside the root.
fn spelled_from_root(path: &Path, spelled: &Path, absolute_root: &Path) -> Result<PathBuf, RunError> {
    match absolute(path).strip_prefix(absolute_root) {
        Ok(relative) if relative.as_os_str().is_empty() => Ok(spelled.to_path_buf()),
        Ok(relative) => Ok(spelled.join(relative)),
        Err(_) => Err(RunError::Message(format!(
            "`{}` is outside the project root `{}`: name a `--project-root` that holds every path, or pass \
             `--no-project-context`",
            display_path(path),
            display_path(absolute_root)
        ))),
    }
}

/// The files that exist only in `overlay`: those named (`unsaved`), and those with a known
/// language under a named directory (`dirs`) that the configuration does not exclude. A path on
/// disk is found by discovery, and its unsaved text read in its place.
fn unsaved_files(
    overlay: &Overlay,
    unsaved: &[PathBuf],
    dirs: &[PathBuf],
    resolver: &Resolver,
) -> Result<Vec<discovery::SourceFile>, RunError> {
    let mut files: Vec<discovery::SourceFile> = unsaved
        .iter()
        .map(|path| discovery::SourceFile {
            path: path.clone(),
            language: Language::from_path(path).unwrap_or(Language::Python),
        })
        .collect();
    let dirs: Vec<(PathBuf, &PathBuf)> =
        dirs.iter().filter(|d| d.is_dir()).map(|d| (crate::paths::absolute(d), d)).collect();
    for path in overlay.paths().filter(|p| std::fs::metadata(p).is_err()) {
        let Some(language) = Language::from_path(path) else { continue };
        let Some((absolute_dir, shown_dir)) = dirs.iter().find(|(dir, _)| path.starts_with(dir)) else { continue };
        if resolver.excludes(path, false).map_err(RunError::Config)? {
            continue;
        }
        // Spelled as discovery spells the files under the named directory.
        let relative = path.strip_prefix(absolute_dir).unwrap_or(path);
        files.push(discovery::SourceFile { path: shown_dir.join(relative), language });
    }
    Ok(files)
}

/// GL002 findings for the selectors of `suppressions` that suppressed nothing enabled.
fn unused_suppressions(
    path: &Path,
    suppressions: &Suppressions,
    rules: &FileRules,
    overlay: Option<&Overlay>,
) -> Vec<Diagnostic> {
    let unused = suppressions.unused(&|code| rules.is_enabled(code));
    if unused.is_empty() {
        return Vec::new();
    }
    let text = Overlay::read(overlay, path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
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
