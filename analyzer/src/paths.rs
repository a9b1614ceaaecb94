//! Path helpers every layer uses: the working directory, lexical absolute paths, the path as
//! shown to the user, and I/O errors in words. A leaf module: it imports nothing from the crate,
//! as ruff keeps its path helpers in `ruff_linter/src/fs.rs`.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The working directory, read once: paths are made absolute and shown relative to it for
/// every file and finding, and graphlint never changes it.
pub fn current_dir() -> Option<&'static Path> {
    static CWD: OnceLock<Option<PathBuf>> = OnceLock::new();
    CWD.get_or_init(|| std::env::current_dir().ok()).as_deref()
}

/// `path` made absolute against the current directory, with `.` and `..` resolved lexically
/// (symlinks are left alone, so paths keep the spelling the user sees).
pub fn absolute(path: &Path) -> PathBuf {
    let joined = match current_dir() {
        Some(cwd) if !path.is_absolute() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A path as shown to the user: relative to the working directory when it is inside it.
pub fn display_path(path: &Path) -> String {
    let relative = current_dir().and_then(|cwd| path.strip_prefix(cwd).ok());
    let shown = relative.unwrap_or(path);
    let text = shown.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// An I/O error in the words graphlint prints after a path.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_resolves_dots() {
        assert_eq!(absolute(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
    }
}
