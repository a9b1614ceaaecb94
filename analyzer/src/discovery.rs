//! Finding the source files to check.
//!
//! Directories are walked with the `ignore` crate, so `.gitignore` (and `.ignore`) files are
//! honoured even outside a git checkout. Version-control metadata, virtualenvs, caches and build
//! output are skipped by name. A file named explicitly on the command line is always checked.

use std::path::{Path, PathBuf};

/// The languages graphlint has a frontend for, told apart by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Python,
    Rust,
}

impl SourceKind {
    pub fn from_path(path: &Path) -> Option<SourceKind> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(SourceKind::Python),
            "rs" => Some(SourceKind::Rust),
            _ => None,
        }
    }
}

/// Directory names never descended into.
const SKIPPED_DIRS: &[&str] = &[
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".env", ".direnv", ".tox", ".nox", ".eggs",
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".pytype", ".ipynb_checkpoints",
    "__pypackages__", "site-packages", "node_modules", "target",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceFile {
    pub path: PathBuf,
    pub kind: SourceKind,
}

#[derive(Debug)]
pub struct DiscoveryError(pub String);

/// Collects the files under `paths`, sorted and deduplicated.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<SourceFile>, DiscoveryError> {
    let mut files = Vec::new();
    for root in paths {
        let metadata = std::fs::metadata(root)
            .map_err(|err| DiscoveryError(format!("cannot read `{}`: {}", root.display(), io_reason(&err))))?;
        if metadata.is_file() {
            // Named explicitly: checked whatever its extension, as Python unless we know better.
            let kind = SourceKind::from_path(root).unwrap_or(SourceKind::Python);
            files.push(SourceFile { path: root.clone(), kind });
            continue;
        }
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .require_git(false)
            .filter_entry(|entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                !(is_dir && entry.depth() > 0 && is_skipped_dir(entry.path()))
            })
            .build();
        for entry in walker {
            let entry = entry.map_err(|err| DiscoveryError(format!("cannot walk `{}`: {err}", root.display())))?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            if let Some(kind) = SourceKind::from_path(entry.path()) {
                files.push(SourceFile { path: entry.into_path(), kind });
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn is_skipped_dir(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // A virtualenv of any name is recognised by its marker file.
    SKIPPED_DIRS.contains(&name) || path.join("pyvenv.cfg").is_file()
}

pub(crate) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}
