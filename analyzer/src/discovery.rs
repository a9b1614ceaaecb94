//! Finding the source files to check.
//!
//! Directories are walked with the `ignore` crate, so `.gitignore` (and `.ignore`) files are
//! honoured even outside a git checkout. Version-control metadata, virtualenvs, caches and build
//! output are skipped by name, unless a configuration's `exclude` replaces that list. A path named
//! explicitly on the command line is always checked, unless `--force-exclude` applies the
//! exclusions to it too (what a pre-commit hook, which names every file, needs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::paths::io_reason;
pub use crate::source::{Language, SourceFile};

/// Directory names not descended into, unless a configuration's `exclude` replaces this list.
pub const DEFAULT_EXCLUDED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    ".venv",
    "venv",
    ".env",
    ".direnv",
    ".tox",
    ".nox",
    ".eggs",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".pytype",
    ".ipynb_checkpoints",
    "__pypackages__",
    "site-packages",
    "node_modules",
    "target",
];

#[derive(Debug)]
pub struct DiscoveryError(pub String);

/// Decides whether discovery skips a path (`true`), given the path and whether it is a
/// directory. An error stops the walk and is returned as is.
pub type Exclusion = Arc<dyn Fn(&Path, bool) -> Result<bool, DiscoveryError> + Send + Sync>;

/// Collects the files under `paths`, sorted and deduplicated, skipping the default directories.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<SourceFile>, DiscoveryError> {
    discover_with(paths, Arc::new(|path, is_dir| Ok(is_dir && is_default_excluded_dir(path))), false)
}

/// Collects the files under `paths`, sorted and deduplicated, skipping what `exclude` says.
/// With `force_exclude`, paths named in `paths` are subject to it too.
pub fn discover_with(
    paths: &[PathBuf],
    exclude: Exclusion,
    force_exclude: bool,
) -> Result<Vec<SourceFile>, DiscoveryError> {
    let mut files = Vec::new();
    for root in paths {
        let metadata = std::fs::metadata(root)
            .map_err(|err| DiscoveryError(format!("cannot read `{}`: {}", root.display(), io_reason(&err))))?;
        if force_exclude && is_explicit_path_excluded(root, metadata.is_dir(), &exclude)? {
            continue;
        }
        if metadata.is_file() {
            // Named explicitly: checked whatever its extension, as Python unless we know better.
            let language = Language::from_path(root).unwrap_or(Language::Python);
            files.push(SourceFile { path: root.clone(), language });
            continue;
        }
        // The filter cannot return an error: it keeps it and stops descending.
        let failures: Arc<Mutex<Vec<DiscoveryError>>> = Arc::default();
        // A directory named inside a virtualenv is third-party code the user asked for (`probe
        // exec --static-check` names installed packages): ignore files above it, such as the
        // `*` that uv writes into every venv's `.gitignore`, would hide all of it.
        let inside_virtualenv = root.ancestors().any(is_virtualenv);
        let walker = {
            let exclude = exclude.clone();
            let failures = failures.clone();
            ignore::WalkBuilder::new(root)
                .hidden(false)
                .require_git(false)
                .parents(!inside_virtualenv)
                .filter_entry(move |entry| {
                    if entry.depth() == 0 {
                        return true;
                    }
                    let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                    match exclude(entry.path(), is_dir) {
                        Ok(excluded) => !excluded,
                        Err(err) => {
                            failures.lock().unwrap().push(err);
                            false
                        }
                    }
                })
                .build_parallel()
        };
        // On several threads: a large tree's walk (a directory listing and the exclusion test
        // per entry) is a large part of a warm run. The order is restored by the sort below.
        let found: Mutex<Vec<SourceFile>> = Mutex::default();
        walker.run(|| {
            let (found, failures) = (&found, &failures);
            Box::new(move |entry| {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(err) => {
                        failures
                            .lock()
                            .unwrap()
                            .push(DiscoveryError(format!("cannot walk `{}`: {err}", root.display())));
                        return ignore::WalkState::Quit;
                    }
                };
                if entry.file_type().is_some_and(|t| t.is_file()) {
                    if let Some(language) = Language::from_path(entry.path()) {
                        found.lock().unwrap().push(SourceFile { path: entry.into_path(), language });
                    }
                }
                ignore::WalkState::Continue
            })
        });
        // Of several failures (threads find them in no fixed order), the same one every run.
        let failed = std::mem::take(&mut *failures.lock().unwrap()).into_iter().min_by(|a, b| a.0.cmp(&b.0));
        if let Some(err) = failed {
            return Err(err);
        }
        files.extend(found.into_inner().unwrap());
    }
    crate::source::sort_files(&mut files);
    files.dedup();
    Ok(files)
}

/// Whether a path named on the command line is excluded: itself, or one of its directories
/// below the current directory (a path outside it is judged by itself alone).
fn is_explicit_path_excluded(path: &Path, is_dir: bool, exclude: &Exclusion) -> Result<bool, DiscoveryError> {
    if exclude(path, is_dir)? {
        return Ok(true);
    }
    let absolute = crate::paths::absolute(path);
    let Some(cwd) = crate::paths::current_dir() else { return Ok(false) };
    let Ok(relative) = absolute.strip_prefix(cwd) else { return Ok(false) };
    let mut dir = cwd.to_path_buf();
    let components: Vec<_> = relative.components().collect();
    for component in components.iter().take(components.len().saturating_sub(1)) {
        dir.push(component);
        if exclude(&dir, true)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What makes a directory the project root of a partial run (see [`find_project_root`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootMarker {
    /// It holds a configuration file.
    Configuration,
    /// It is a repository's root (`.git` or `.hg`).
    Repository,
    /// Neither was found: the paths' common directory.
    CommonDirectory,
}

/// The project the files under `paths` belong to, as an absolute directory: the outermost
/// directory holding a configuration file (`is_config_dir`) between the paths' common directory
/// and the repository root, else the repository root, else the common directory.
///
/// The outermost configuration, not the nearest: a project's sub-directory may have its own
/// settings (`legacy/graphlint.toml`), and its functions are still called from the rest of the
/// project, which a run from the top analyses. The repository root bounds the search, so a
/// configuration above the checkout (in a home directory) is never the project.
pub fn find_project_root(paths: &[PathBuf], is_config_dir: &dyn Fn(&Path) -> bool) -> (PathBuf, RootMarker) {
    let mut common: Option<PathBuf> = None;
    for path in paths {
        let absolute = crate::paths::absolute(path);
        let dir =
            if absolute.is_dir() { absolute } else { absolute.parent().map_or(absolute.clone(), Path::to_path_buf) };
        common = Some(match common {
            None => dir,
            Some(common) => common.ancestors().find(|a| dir.starts_with(a)).unwrap_or(Path::new("/")).to_path_buf(),
        });
    }
    let common = common.unwrap_or_else(|| crate::paths::absolute(Path::new(".")));
    let mut outermost_config = None;
    for dir in common.ancestors() {
        if is_config_dir(dir) {
            outermost_config = Some(dir.to_path_buf());
        }
        if dir.join(".git").exists() || dir.join(".hg").is_dir() {
            return match outermost_config {
                Some(config) => (config, RootMarker::Configuration),
                None => (dir.to_path_buf(), RootMarker::Repository),
            };
        }
    }
    match outermost_config {
        Some(config) => (config, RootMarker::Configuration),
        None => (common, RootMarker::CommonDirectory),
    }
}

/// Whether `path` is a directory skipped by default: a name in [`DEFAULT_EXCLUDED_DIRS`], or a
/// virtualenv.
pub fn is_default_excluded_dir(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    DEFAULT_EXCLUDED_DIRS.contains(&name) || is_virtualenv(path)
}

/// A virtualenv of any name, recognised by its marker file. Always skipped: its
/// `site-packages` is third-party code.
pub fn is_virtualenv(dir: &Path) -> bool {
    dir.join("pyvenv.cfg").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_named_inside_a_virtualenv_is_walked_despite_its_ignore_file() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path().join(".venv");
        let package = venv.join("lib/python3.12/site-packages/pkg");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(venv.join(".gitignore"), "*\n").unwrap();
        std::fs::write(package.join("m.py"), "x = 1\n").unwrap();
        let found = discover_with(std::slice::from_ref(&package), Arc::new(|_: &Path, _| Ok(false)), false).unwrap();
        assert_eq!(found.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), [package.join("m.py")]);
        // Outside a virtualenv, ignore files above the named directory still apply.
        std::fs::remove_file(venv.join("pyvenv.cfg")).unwrap();
        let found = discover_with(std::slice::from_ref(&package), Arc::new(|_: &Path, _| Ok(false)), false).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn the_project_root_is_the_outermost_configuration_inside_the_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("home");
        let repo = top.join("repo");
        std::fs::create_dir_all(repo.join("a/b/c")).unwrap();
        std::fs::create_dir_all(repo.join("d")).unwrap();
        let file = repo.join("a/b/c/m.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        // Configurations in `top` (above the repository), `repo/a` and `repo/a/b`.
        let configs = [top.clone(), repo.join("a"), repo.join("a/b")];
        let is_config = |dir: &Path| configs.iter().any(|c| c == dir);
        let root = |paths: &[PathBuf]| find_project_root(paths, &is_config);

        // No repository: the outermost configuration, however high.
        assert_eq!(root(std::slice::from_ref(&file)), (top.clone(), RootMarker::Configuration));
        std::fs::create_dir(repo.join(".git")).unwrap();
        assert_eq!(root(std::slice::from_ref(&file)), (repo.join("a"), RootMarker::Configuration));
        // Paths in two sub-trees: their common directory has no configuration above it in the
        // repository, so the repository root is the project.
        assert_eq!(root(&[file.clone(), repo.join("d")]), (repo.clone(), RootMarker::Repository));
        let nothing = |_: &Path| false;
        assert_eq!(find_project_root(std::slice::from_ref(&file), &nothing), (repo.clone(), RootMarker::Repository));
        std::fs::remove_dir(repo.join(".git")).unwrap();
        assert_eq!(
            find_project_root(&[file.clone(), repo.join("a/b/c")], &nothing),
            (repo.join("a/b/c"), RootMarker::CommonDirectory)
        );
    }
}
