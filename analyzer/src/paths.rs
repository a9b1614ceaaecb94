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
        // Discovery from `.` spells every path `./...`: the prefix says nothing.
        Some(cwd) if !path.is_absolute() => cwd.join(without_leading_dots(path)),
        _ => path.to_path_buf(),
    };
    // Most paths have nothing to resolve; walking their components costs thousands of
    // instructions a path, and a run on a large tree makes several such calls per file.
    if is_lexically_clean(&joined) {
        return joined;
    }
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

/// `path` without its leading `./` components (when it is valid UTF-8).
fn without_leading_dots(path: &Path) -> &Path {
    let Some(mut text) = path.to_str() else { return path };
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    Path::new(text)
}

/// Whether `path` is absolute and its components would rebuild it byte for byte: no `.` or `..`,
/// no doubled or trailing separator. Unix spelling only; elsewhere every path takes the long way.
fn is_lexically_clean(path: &Path) -> bool {
    if !cfg!(unix) || !path.is_absolute() {
        return false;
    }
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes == b"/" || bytes[1..].split(|&b| b == b'/').all(|part| !part.is_empty() && part != b"." && part != b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_resolves_dots() {
        assert_eq!(absolute(Path::new("/a/b/../c/./d")), PathBuf::from("/a/c/d"));
        let cwd = current_dir().unwrap();
        assert_eq!(absolute(Path::new("././a/./b")), cwd.join("a/b"));
        assert_eq!(absolute(Path::new(".")), cwd);
    }

    /// The short cut gives what walking the components gives.
    #[test]
    fn clean_paths_are_taken_as_they_are() {
        let by_components = |path: &Path| path.components().collect::<PathBuf>();
        for text in ["/", "/a", "/a/b.py", "/a/.b/c", "/a/b..c", "/a//b", "/a/b/", "/a/./b", "/a/../b", "/.", "//a"] {
            let path = Path::new(text);
            if is_lexically_clean(path) {
                assert_eq!(path, by_components(path), "{text}");
            }
        }
        for text in ["/a//b", "/a/b/", "/a/./b", "/a/../b", "a/b", ""] {
            assert!(!is_lexically_clean(Path::new(text)), "{text}");
        }
    }
}
